import assert from "node:assert/strict";
import * as arrow from "apache-arrow";
import { createTable, read } from "../../lib/delta/mod.ts";
import {
  constantVector,
  formatJavaDouble,
  formatPartitionValue,
  parsePartitionValue,
  PartitionError,
} from "../../lib/delta/partition_value.ts";
import type { DeltaType } from "../../lib/delta/schema.ts";
import type { AddAction } from "../../lib/delta/actions.ts";
import { readCommit } from "../../lib/delta/log.ts";
import { openStorage } from "../../lib/storage/mod.ts";
import { binaryFromBytes } from "../../lib/arrow/columns.ts";
import { canonRows } from "../support/canon.ts";
import { column, strings } from "../support/delta_fixtures.ts";
import { withTempDir } from "./_core_fixtures.ts";

const bytes = (...b: number[]) => new Uint8Array(b);
const enc = new TextEncoder();

Deno.test("Spark 4.2 / delta-spark 4.4 partition value strings read as exact values", () => {
  // Every string below is what Spark wrote into add.partitionValues (seen in its logs).
  const cases: Array<[DeltaType, string, unknown]> = [
    ["binary", "hello", enc.encode("hello")],
    // bytes 01 FF C3 A9 2F 25: Spark decodes them as UTF-8, the invalid FF becomes U+FFFD.
    ["binary", "\u0001\ufffd\u00e9/%", bytes(0x01, 0xef, 0xbf, 0xbd, 0xc3, 0xa9, 0x2f, 0x25)],
    ["timestamp", "2024-05-01T10:00:00.123456Z", 1714557600123456n],
    ["timestamp", "1969-12-31T23:59:59.000000Z", -1000000n],
    ["timestamp_ntz", "2024-05-01 10:00:00.000005", 1714557600000005n],
    ["timestamp_ntz", "2024-05-01 00:00:00", 1714521600000000n],
    ["timestamp_ntz", "2024-05-01 00:00:00.1", 1714521600100000n],
    ["decimal(10,3)", "-12.500", -12500n],
    ["decimal(10,3)", "0.000", 0n],
    ["decimal(10,8)", "0.00000001", 1n],
    ["decimal(10,8)", "-0.00000100", -100n],
    [
      "decimal(38,0)",
      "12345678901234567890123456789012345678",
      12345678901234567890123456789012345678n,
    ],
    ["double", "1.0E7", 1e7],
    ["double", "1.0E-5", 1e-5],
    ["double", "0.001", 0.001],
    ["double", "-Infinity", -Infinity],
    ["double", "1.0E20", 1e20],
    ["float", "0.1", Math.fround(0.1)],
    ["float", "1234567.0", 1234567],
    ["float", "1.4E-45", Math.fround(1.4e-45)],
    ["float", "3.4028235E38", Math.fround(3.4028235e38)],
    ["float", "Infinity", Infinity],
    ["byte", "-128", -128],
    ["short", "32767", 32767],
    ["boolean", "false", false],
    ["date", "0001-01-01", -719162],
    ["date", "2024-02-29", 19782],
    ["string", "a b/c=d%e é東", "a b/c=d%e é東"],
    ["string", "x:y?#*'\"[]^{\\\t", "x:y?#*'\"[]^{\\\t"],
  ];
  for (const [type, text, value] of cases) {
    assert.deepEqual(parsePartitionValue(text, type), value, `${type} ${JSON.stringify(text)}`);
  }
  assert.ok(Number.isNaN(parsePartitionValue("NaN", "double")));
  assert.ok(Object.is(parsePartitionValue("-0.0", "double"), -0), "-0.0 keeps its sign");
  for (const t of ["binary", "timestamp", "decimal(10,3)", "double", "date"] as DeltaType[]) {
    assert.equal(parsePartitionValue(null, t), null);
    assert.equal(parsePartitionValue("", t), null, "an empty string is null for every type");
  }
});

Deno.test("delta-rs 1.6 partition value strings read as exact values", () => {
  const cases: Array<[DeltaType, string, unknown]> = [
    // delta-rs writes each byte as the text \u00XX; every reader (delta-rs too) gets that text.
    ["binary", "\\u0068\\u0069", enc.encode("\\u0068\\u0069")],
    ["timestamp", "1969-12-31 23:59:59.000000", -1000000n], // no zone: UTC
    ["timestamp", "2024-05-01 10:00:00.123456", 1714557600123456n],
    ["timestamp_ntz", "2024-05-01 00:00:00.100000", 1714521600100000n],
    ["double", "-0", -0],
    ["double", "inf", Infinity],
    ["double", "-inf", -Infinity],
    ["double", "100000000000000000000", 1e20],
    ["float", "340282350000000000000000000000000000000", Math.fround(3.4028235e38)],
    ["float", "0.000000000000000000000000000000000000000000001", Math.fround(1e-45)],
    ["long", "-9223372036854775808", -9223372036854775808n],
    ["decimal(10,3)", "123456.789", 123456789n],
  ];
  for (const [type, text, value] of cases) {
    assert.deepEqual(parsePartitionValue(text, type), value, `${type} ${JSON.stringify(text)}`);
  }
  assert.ok(Object.is(parsePartitionValue("-0", "double"), -0));
});

Deno.test("other spellings the protocol allows: ISO offsets, fewer digits, exponents, any case", () => {
  const cases: Array<[DeltaType, string, unknown]> = [
    ["timestamp", "2024-05-01T12:00:00+02:00", 1714557600000000n],
    ["timestamp", "2024-05-01T05:30:00-0430", 1714557600000000n],
    ["timestamp", "2024-05-01 10:00:00.123456789", 1714557600123456n], // floored to µs
    ["timestamp", "1969-12-31 23:59:59.9999999", -1n],
    ["timestamp", "2024-05-01 10:00", 1714557600000000n],
    ["timestamp_ntz", "2024-05-01T10:00:00Z", 1714557600000000n],
    ["decimal(10,2)", "3", 300n],
    ["decimal(10,2)", "+.5", 50n],
    ["decimal(10,2)", "1.25E1", 1250n],
    ["decimal(10,2)", "1.500", 150n], // trailing zeros beyond the scale are exact
    ["boolean", "TRUE", true],
    ["integer", "+7", 7],
    ["date", "+10000-01-01", 2932897],
  ];
  for (const [type, text, value] of cases) {
    assert.deepEqual(parsePartitionValue(text, type), value, `${type} ${JSON.stringify(text)}`);
  }
});

Deno.test("strings that are not values of their type are refused, never guessed", () => {
  const bad: Array<[DeltaType, string]> = [
    ["integer", "0x10"],
    ["integer", "1e3"],
    ["integer", "2147483648"],
    ["byte", "128"],
    ["short", "-32769"],
    ["long", "9223372036854775808"],
    ["double", "1,5"],
    ["double", "0x1p3"],
    ["float", "one"],
    ["decimal(10,2)", "12.345"], // would need rounding
    ["decimal(5,1)", "123456.1"], // more than 5 digits
    ["decimal(10,2)", "."],
    ["date", "2024-02-30"],
    ["date", "2023-02-29"],
    ["date", "2024-13-01"],
    ["date", "2024-05-01T00:00:00"],
    ["timestamp", "2024-05-01 24:00:00"],
    ["timestamp", "2024-05-01 10:60:00"],
    ["timestamp", "2024-05-01 10:00:00+25:00"],
    ["timestamp", "yesterday"],
    ["timestamp_ntz", "2024-05-01 10:00:00+02:00"], // no zone to convert from
    ["boolean", "yes"],
  ];
  for (const [type, text] of bad) {
    assert.throws(
      () => parsePartitionValue(text, type),
      (e: Error) => e instanceof PartitionError && e.message.includes(`'${text}'`),
      `${type} ${JSON.stringify(text)} must be refused`,
    );
  }
});

Deno.test("doubles and floats are written as Java's toString writes them (as Spark does)", () => {
  const doubles: Array<[number, string]> = [
    [1.5, "1.5"],
    [-0, "-0.0"],
    [0, "0.0"],
    [100, "100.0"],
    [1e20, "1.0E20"],
    [-1e20, "-1.0E20"],
    [1e-5, "1.0E-5"],
    [0.001, "0.001"],
    [1e7, "1.0E7"],
    [9999999.5, "9999999.5"],
    [1.2345e-7, "1.2345E-7"],
    [5e-324, "4.9E-324"],
    [Number.MAX_VALUE, "1.7976931348623157E308"],
    [NaN, "NaN"],
    [Infinity, "Infinity"],
    [-Infinity, "-Infinity"],
  ];
  for (const [x, text] of doubles) assert.equal(formatJavaDouble(x), text, String(x));
  const floats: Array<[number, string]> = [
    [0.1, "0.1"],
    [1234567, "1234567.0"],
    [1e-45, "1.4E-45"],
    [3.4028235e38, "3.4028235E38"],
    [1e20, "1.0E20"],
    [1e7, "1.0E7"],
    [16777217, "1.6777216E7"],
  ];
  for (const [x, text] of floats) {
    assert.equal(formatJavaDouble(Math.fround(x), true), text, String(x));
  }
});

Deno.test("every type's value survives format → parse exactly", () => {
  const check = (d: arrow.Data, type: DeltaType, expected: unknown[]) => {
    for (let i = 0; i < d.length; i++) {
      const text = formatPartitionValue(d, i, type);
      const back = parsePartitionValue(text, type);
      if (typeof expected[i] === "number" && Number.isNaN(expected[i])) {
        assert.ok(Number.isNaN(back), `${type} row ${i}`);
      } else {
        assert.ok(
          Object.is(back, expected[i]) || assert.deepEqual(back, expected[i]) === undefined,
          `${type} row ${i}: ${text}`,
        );
      }
    }
  };
  const f64 = [1.5, -0, 1e20, 1e-5, 0.1 + 0.2, -123456789.125, 5e-324, NaN, -Infinity, null];
  check(column(new arrow.Float64(), f64, Float64Array), "double", f64);
  const f32 = [0.1, 1234567, 1e-45, 3.4028235e38, -0, 16777217, null].map((x) =>
    x === null ? null : Math.fround(x)
  );
  check(column(new arrow.Float32(), f32, Float32Array), "float", f32);
  const i64 = [-(1n << 63n), (1n << 63n) - 1n, 9007199254740993n, null];
  check(column(new arrow.Int64(), i64, BigInt64Array), "long", i64);
  const i8 = [-128, 127, 0, null];
  check(column(new arrow.Int8(), i8, Int8Array), "byte", i8);
  const ts = [1714557600123456n, -1n, -62135596800000000n, 253402300799999999n, 0n, null];
  check(column(new arrow.TimestampMicrosecond("UTC"), ts, BigInt64Array), "timestamp", ts);
  check(column(new arrow.TimestampMicrosecond(), ts, BigInt64Array), "timestamp_ntz", ts);
  const days = [-719162, 2932896, -1, 0, 19782, null];
  check(column(new arrow.DateDay(), days, Int32Array), "date", days);
  const decWords = (xs: Array<bigint | null>) => {
    const w = new Uint32Array(4 * xs.length);
    xs.forEach((x, i) => {
      const u = BigInt.asUintN(128, x ?? 0n);
      for (let k = 0; k < 4; k++) w[4 * i + k] = Number((u >> BigInt(32 * k)) & 0xffffffffn);
    });
    return arrow.makeData({
      type: new arrow.Decimal(4, 38, 128),
      length: xs.length,
      nullCount: 0,
      data: w,
    } as never) as arrow.Data;
  };
  const decs = [-(10n ** 38n - 1n), 10n ** 38n - 1n, -1n, 0n, 123456789n];
  check(decWords(decs), "decimal(38,4)", decs);
  const bins = [enc.encode("hello"), enc.encode("é東😀/%="), bytes(1, 0x7f), null];
  check(binaryFromBytes(bins), "binary", bins);
  check(strings(["a b/c=d%e", "é", null]), "string", ["a b/c=d%e", "é", null]);
});

Deno.test("writer: Spark's strings for each type; empty → null; non-UTF-8 bytes are refused", () => {
  const f = (d: arrow.Data, type: DeltaType) =>
    Array.from({ length: d.length }, (_, i) => formatPartitionValue(d, i, type));
  assert.deepEqual(
    f(
      column(new arrow.TimestampMicrosecond("UTC"), [1714557600123456n, -1000000n], BigInt64Array),
      "timestamp",
    ),
    ["2024-05-01T10:00:00.123456Z", "1969-12-31T23:59:59.000000Z"],
  );
  assert.deepEqual(
    f(
      column(
        new arrow.TimestampMicrosecond(),
        [1714557600000005n, 1714521600000000n],
        BigInt64Array,
      ),
      "timestamp_ntz",
    ),
    ["2024-05-01 10:00:00.000005", "2024-05-01 00:00:00"],
  );
  assert.deepEqual(f(column(new arrow.DateDay(), [-719162], Int32Array), "date"), ["0001-01-01"]);
  assert.deepEqual(f(binaryFromBytes([enc.encode("hello"), bytes(), null]), "binary"), [
    "hello",
    null,
    null,
  ]);
  assert.deepEqual(f(strings(["", "x"]), "string"), [null, "x"]);
  assert.throws(
    () => formatPartitionValue(binaryFromBytes([bytes(0x01, 0xff)]), 0, "binary"),
    (e: Error) => e instanceof PartitionError && /0x01ff is not valid UTF-8/.test(e.message),
  );
  const b = constantVector("binary", enc.encode("hé"), 3);
  assert.deepEqual(canonRows(new arrow.Table({ b })), [{ b: "68c3a9" }, { b: "68c3a9" }, {
    b: "68c3a9",
  }]);
});

Deno.test("a table partitioned by binary, double, float, timestamp_ntz and decimal round-trips", () =>
  withTempDir(async (dir) => {
    const schema = new arrow.Schema([
      new arrow.Field("id", new arrow.Int64(), true),
      new arrow.Field("b", new arrow.Binary(), true),
      new arrow.Field("d", new arrow.Float64(), true),
      new arrow.Field("f", new arrow.Float32(), true),
      new arrow.Field("ntz", new arrow.TimestampMicrosecond(), true),
      new arrow.Field("dec", new arrow.Decimal(3, 10, 128), true),
    ]);
    const dec = (xs: bigint[]) => {
      const w = new Uint32Array(4 * xs.length);
      xs.forEach((x, i) => {
        const u = BigInt.asUintN(128, x);
        for (let k = 0; k < 4; k++) w[4 * i + k] = Number((u >> BigInt(32 * k)) & 0xffffffffn);
      });
      return arrow.makeData(
        { type: new arrow.Decimal(3, 10, 128), length: xs.length, nullCount: 0, data: w } as never,
      ) as arrow.Data;
    };
    const rows = new arrow.Table(schema, [
      new arrow.RecordBatch(
        schema,
        arrow.makeData({
          type: new arrow.Struct(schema.fields),
          length: 3,
          nullCount: 0,
          children: [
            column(new arrow.Int64(), [1n, 2n, 3n], BigInt64Array),
            binaryFromBytes([enc.encode("a b/é"), bytes(0, 1), null]),
            column(new arrow.Float64(), [-0, 1e20, NaN], Float64Array),
            column(new arrow.Float32(), [Math.fround(0.1), 1e-45, null], Float32Array),
            column(new arrow.TimestampMicrosecond(), [1714557600000005n, 0n, null], BigInt64Array),
            dec([-12500n, 1n, 0n]),
          ],
        }),
      ),
    ]);
    const t = await createTable(dir, schema, { partitionColumns: ["b", "d", "f", "ntz", "dec"] });
    await t.append(rows);
    const adds = (await readCommit(openStorage(dir), 1)).flatMap((a) =>
      "add" in a ? [(a as { add: AddAction }).add] : []
    );
    const byId = new Map<string, unknown>();
    for (const a of adds) byId.set(String(a.partitionValues.b), a.partitionValues);
    assert.deepEqual(byId.get("a b/é"), {
      b: "a b/é",
      d: "-0.0",
      f: "0.1",
      ntz: "2024-05-01 10:00:00.000005",
      dec: "-12.500",
    });
    assert.deepEqual(byId.get("\u0000\u0001"), {
      b: "\u0000\u0001",
      d: "1.0E20",
      f: "1.4E-45",
      ntz: "1970-01-01 00:00:00",
      dec: "0.001",
    });
    assert.deepEqual(byId.get("null"), { b: null, d: "NaN", f: null, ntz: null, dec: "0.000" });
    const dirs = adds.map((a) => decodeURIComponent(a.path).split("/").slice(0, 5).join("/"))
      .sort();
    assert.deepEqual(
      dirs,
      [
        "b=__HIVE_DEFAULT_PARTITION__/d=NaN/f=__HIVE_DEFAULT_PARTITION__/ntz=__HIVE_DEFAULT_PARTITION__/dec=0.000",
        "b=%00%01/d=1.0E20/f=1.4E-45/ntz=1970-01-01 00%3A00%3A00/dec=0.001",
        "b=a b%2Fé/d=-0.0/f=0.1/ntz=2024-05-01 10%3A00%3A00.000005/dec=-12.500",
      ].sort(),
    );
    const back = canonRows(await read(dir));
    assert.deepEqual(back, canonRows(rows));
    const negZero = (await read(dir)).getChild("d")!.toArray() as Float64Array;
    assert.ok([...negZero].some((x) => Object.is(x, -0)), "-0.0 read back with its sign");
    // Bytes that are not UTF-8 cannot be a partition value: refused, nothing committed.
    const badRows = new arrow.Table(schema, [
      new arrow.RecordBatch(
        schema,
        arrow.makeData({
          type: new arrow.Struct(schema.fields),
          length: 1,
          nullCount: 0,
          children: [
            column(new arrow.Int64(), [4n], BigInt64Array),
            binaryFromBytes([bytes(0xc3)]),
            column(new arrow.Float64(), [1], Float64Array),
            column(new arrow.Float32(), [1], Float32Array),
            column(new arrow.TimestampMicrosecond(), [0n], BigInt64Array),
            dec([0n]),
          ],
        }),
      ),
    ]);
    await assert.rejects(
      () => t.append(badRows),
      (e: Error) => e instanceof PartitionError && /partition column 'b'/.test(e.message),
    );
    assert.equal((await t.snapshot()).version, 1);
  }));
