/**
 * Partition values of every type between delta-rs and us, both ways: a delta-rs table partitioned
 * by binary, timestamp, timestamp_ntz, decimal, date, double, boolean, int, long and a string with
 * spaces, '/', '=', '%', ':' and non-ASCII characters read by our reader with exact values; and a
 * table our writer partitions by every type read by delta-rs. Needs `.cache/venv`
 * (`deno task py:setup`); ignored without it.
 */
import assert from "node:assert/strict";
import * as arrow from "apache-arrow";
import { binaryFromBytes } from "../../lib/arrow/columns.ts";
import { createTable } from "../../lib/delta/table.ts";
import { readCommit } from "../../lib/delta/log.ts";
import type { AddAction } from "../../lib/delta/actions.ts";
import { openStorage } from "../../lib/storage/mod.ts";
import { canonRows, stableJson } from "../support/canon.ts";
import { column, strings } from "../support/delta_fixtures.ts";
import { deltalakeAvailable } from "../support/python.ts";
import { byId, deltaRsRows, ourRows, withTempDir, writeWithDeltaRs } from "./_deltalake.ts";

const available = await deltalakeAvailable().catch(() => false);
const enc = new TextEncoder();
const hex = (b: Uint8Array) => Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");

Deno.test({
  name: "a delta-rs table partitioned by every type reads with exact values",
  ignore: !available,
  fn: () =>
    withTempDir(async (dir) => {
      const w = await writeWithDeltaRs("partitions", dir);
      // The strings delta-rs wrote (so the test shows which forms it covers).
      const pv = new Map(w.adds!.map((a) => [a.partitionValues.n, a.partitionValues]));
      assert.deepEqual(pv.get("-2147483648"), {
        b: "\\u0068\\u0065\\u006C\\u006C\\u006F", // b"hello", each byte as the text \u00XX
        ts: "2024-05-01 10:00:00.123456", // no zone: UTC
        ntz: "2024-05-01 10:00:00.000005",
        d: "12.500",
        dt: "2024-05-01",
        s: "a b/c=d%e é東 x:y",
        f: "1.5",
        inf: "inf",
        flag: "true",
        n: "-2147483648",
        big: "9007199254740993",
      });
      assert.equal(pv.get("0")!.s, "", "delta-rs writes '' (null by the protocol) for ''");
      assert.equal(pv.get("7")!.f, "-0");
      // add.path: the Hive-escaped directory, URI-encoded once more.
      const path7 = w.adds!.find((a) => a.partitionValues.n === "7")!.path;
      assert.match(path7, /\/s=q%253F%2523%252A%2527%2522%255B%255D%255E%257B%255C%2509\//);

      const { snapshot, rows } = await ourRows(w.path);
      assert.deepEqual(snapshot.partitionColumns, [
        "b",
        "ts",
        "ntz",
        "d",
        "dt",
        "s",
        "f",
        "inf",
        "flag",
        "n",
        "big",
      ]);
      const got = byId(rows);
      assert.deepEqual(got.get("1"), {
        id: "1",
        b: hex(enc.encode("\\u0068\\u0065\\u006C\\u006C\\u006F")),
        ts: "1714557600123456",
        ntz: "1714557600000005",
        d: "12.500",
        dt: "2024-05-01",
        s: "a b/c=d%e é東 x:y",
        f: 1.5,
        inf: "inf",
        flag: true,
        n: "-2147483648",
        big: "9007199254740993",
      });
      assert.deepEqual(got.get("2"), {
        id: "2",
        b: hex(enc.encode("\\u0001\\u00C3\\u00A9\\u002F\\u0025")),
        ts: "-1000000",
        ntz: "1714521600000000",
        d: "0.000",
        dt: "0001-01-01",
        s: null, // '' is null (PROTOCOL.md: an empty string for any type is null)
        f: "nan",
        inf: "-inf",
        flag: false,
        n: "0",
        big: "-9223372036854775808",
      });
      assert.deepEqual(got.get("3"), {
        id: "3",
        b: null,
        ts: null,
        ntz: null,
        d: null,
        dt: null,
        s: null,
        f: null,
        inf: null,
        flag: null,
        n: null,
        big: null,
      });
      assert.deepEqual(got.get("4"), {
        id: "4",
        b: null, // empty bytes: '' in the log, null
        ts: "1714557600000000",
        ntz: "1714521600100000",
        d: "123456.789",
        dt: "2024-02-29",
        s: "q?#*'\"[]^{\\\t",
        f: -0, // the sign is kept (strict deepEqual tells -0 from 0)
        inf: 1e20,
        flag: true,
        n: "7",
        big: "0",
      });
      // delta-rs reads the same values, except that it returns '' (not null) for the '' it wrote.
      const theirs = byId(await deltaRsRows(w.path));
      assert.deepEqual(theirs.get("1"), got.get("1"));
      assert.deepEqual(theirs.get("2"), { ...got.get("2"), s: "" });
      assert.deepEqual(theirs.get("3"), got.get("3"));
      assert.deepEqual(theirs.get("4"), { ...got.get("4"), b: "" });
    }),
});

const SCHEMA = new arrow.Schema(
  [
    ["id", new arrow.Int64()],
    ["b", new arrow.Binary()],
    ["ts", new arrow.TimestampMicrosecond("UTC")],
    ["ntz", new arrow.TimestampMicrosecond()],
    ["dec", new arrow.Decimal(3, 10, 128)],
    ["dt", new arrow.DateDay()],
    ["dbl", new arrow.Float64()],
    ["flt", new arrow.Float32()],
    ["flag", new arrow.Bool()],
    ["by", new arrow.Int8()],
    ["sh", new arrow.Int16()],
    ["n", new arrow.Int32()],
    ["big", new arrow.Int64()],
    ["s", new arrow.Utf8()],
  ].map(([name, type]) => new arrow.Field(name as string, type as arrow.DataType, true)),
);

function decimals(xs: Array<bigint | null>): arrow.Data {
  const w = new Uint32Array(4 * xs.length);
  xs.forEach((x, i) => {
    const u = BigInt.asUintN(128, x ?? 0n);
    for (let k = 0; k < 4; k++) w[4 * i + k] = Number((u >> BigInt(32 * k)) & 0xffffffffn);
  });
  const b = arrow.makeBuilder({ type: new arrow.Bool(), nullValues: [null] });
  xs.forEach((x) => b.append(x !== null));
  const valid = b.finish().toVector().data[0].values as Uint8Array;
  return arrow.makeData({
    type: new arrow.Decimal(3, 10, 128),
    length: xs.length,
    nullCount: xs.filter((x) => x === null).length,
    nullBitmap: valid,
    data: w,
  } as never) as arrow.Data;
}

function bools(xs: Array<boolean | null>): arrow.Data {
  const b = arrow.makeBuilder({ type: new arrow.Bool(), nullValues: [null] });
  for (const x of xs) b.append(x);
  return b.finish().toVector().data[0];
}

Deno.test({
  name: "delta-rs reads the partition values our writer writes for every type",
  ignore: !available,
  fn: () =>
    withTempDir(async (dir) => {
      const rows = new arrow.Table(SCHEMA, [
        new arrow.RecordBatch(
          SCHEMA,
          arrow.makeData({
            type: new arrow.Struct(SCHEMA.fields),
            length: 3,
            nullCount: 0,
            children: [
              column(new arrow.Int64(), [1n, 2n, 3n], BigInt64Array),
              binaryFromBytes([enc.encode("hello"), enc.encode("é/%= 東"), null]),
              column(
                new arrow.TimestampMicrosecond("UTC"),
                [1714557600123456n, -1n, null],
                BigInt64Array,
              ),
              column(
                new arrow.TimestampMicrosecond(),
                [1714557600000005n, 0n, null],
                BigInt64Array,
              ),
              decimals([-12500n, 1n, null]),
              column(new arrow.DateDay(), [19844, -719162, null], Int32Array),
              column(new arrow.Float64(), [-0, 1e20, null], Float64Array),
              column(new arrow.Float32(), [Math.fround(0.1), Infinity, null], Float32Array),
              bools([true, false, null]),
              column(new arrow.Int8(), [-128, 127, null], Int8Array),
              column(new arrow.Int16(), [-32768, 32767, null], Int16Array),
              column(new arrow.Int32(), [-2147483648, 7, null], Int32Array),
              column(new arrow.Int64(), [-(1n << 63n), 9007199254740993n, null], BigInt64Array),
              strings(["a b/c=d%e é東 x:y", "q?#*'\"[]^{\\\t", null]),
            ],
          }),
        ),
      ]);
      const parts = SCHEMA.fields.map((f) => f.name).filter((n) => n !== "id");
      const t = await createTable(dir, SCHEMA, { partitionColumns: parts });
      await t.append(rows);
      const adds = (await readCommit(openStorage(dir), 1)).flatMap((a) =>
        "add" in a ? [(a as { add: AddAction }).add] : []
      );
      const first = adds.find((a) => a.partitionValues.b === "hello")!.partitionValues;
      assert.deepEqual(first, {
        b: "hello",
        ts: "2024-05-01T10:00:00.123456Z",
        ntz: "2024-05-01 10:00:00.000005",
        dec: "-12.500",
        dt: "2024-05-01",
        dbl: "-0.0",
        flt: "0.1",
        flag: "true",
        by: "-128",
        sh: "-32768",
        n: "-2147483648",
        big: "-9223372036854775808",
        s: "a b/c=d%e é東 x:y",
      });
      const second = adds.find((a) => a.partitionValues.b === "é/%= 東")!.partitionValues;
      assert.equal(second.dbl, "1.0E20");
      assert.equal(second.flt, "Infinity");
      assert.equal(second.ntz, "1970-01-01 00:00:00");
      assert.equal(second.dt, "0001-01-01");
      const expected = canonRows(rows);
      const { rows: ours } = await ourRows(dir);
      assert.deepEqual(
        ours.map(stableJson),
        expected.map(stableJson),
        "we read back what we wrote",
      );
      const theirs = await deltaRsRows(dir);
      assert.deepEqual(theirs.map(stableJson), expected.map(stableJson), "delta-rs reads the same");
    }),
});
