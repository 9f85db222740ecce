import assert from "node:assert/strict";
import * as arrow from "apache-arrow";
import { canonicalData, canonicalTable, canonicalType } from "../../lib/delta/physical.ts";
import { decodeParquet, encodeParquet, parquetSchema } from "../../lib/delta/parquet.ts";
import { castData } from "../../lib/delta/scan.ts";
import { parseSchemaString, toArrowType } from "../../lib/delta/schema.ts";
import { canonValue } from "../support/canon.ts";
import { bitmap, column } from "../support/delta_fixtures.ts";

/** Canonical values of every row of a chunk (which must be in its canonical layout). */
function values(d: arrow.Data): unknown[] {
  return Array.from({ length: d.length }, (_, i) => canonValue(d, i));
}

function build<T extends arrow.DataType>(type: T, xs: unknown[]): arrow.Data<T> {
  const b = arrow.makeBuilder({ type, nullValues: [null] });
  for (const x of xs) b.append(x as never);
  return b.finish().toVector().data[0];
}

const enc = new TextEncoder();

/** A Utf8View/BinaryView chunk: 16-byte views, inline up to 12 bytes, else in one data buffer. */
function viewData(type: arrow.Utf8View | arrow.BinaryView, xs: Array<Uint8Array | null>) {
  const views = new Uint8Array(16 * xs.length);
  const dv = new DataView(views.buffer);
  const parts: Uint8Array[] = [];
  let used = 0;
  xs.forEach((x, i) => {
    if (x === null) return;
    dv.setInt32(16 * i, x.length, true);
    if (x.length <= 12) views.set(x, 16 * i + 4);
    else {
      views.set(x.subarray(0, 4), 16 * i + 4);
      dv.setInt32(16 * i + 8, 0, true);
      dv.setInt32(16 * i + 12, used, true);
      parts.push(x);
      used += x.length;
    }
  });
  const buffer = new Uint8Array(used);
  let at = 0;
  for (const p of parts) {
    buffer.set(p, at);
    at += p.length;
  }
  const nulls = xs.map((x) => x === null);
  return arrow.makeData({
    type,
    length: xs.length,
    nullCount: nulls.filter(Boolean).length,
    nullBitmap: bitmap(nulls),
    views,
    variadicBuffers: [buffer],
  } as never) as arrow.Data;
}

Deno.test("large strings and binaries become Utf8 and Binary with the same values, sliced too", () => {
  const s = build(new arrow.LargeUtf8(), ["héllo 東京", null, "", "x"]);
  assert.equal(String(s.type), "LargeUtf8");
  const plain = canonicalData(s);
  assert.equal(String(plain.type), "Utf8");
  assert.deepEqual(values(plain), ["héllo 東京", null, "", "x"]);
  assert.ok(plain.valueOffsets instanceof Int32Array);
  // A slice (offset 1): offsets re-based, validity kept.
  assert.deepEqual(values(canonicalData(s.slice(1, 3))), [null, "", "x"]);
  const b = build(new arrow.LargeBinary(), [new Uint8Array([0, 255]), null, new Uint8Array(0)]);
  const bin = canonicalData(b);
  assert.equal(String(bin.type), "Binary");
  assert.deepEqual(values(bin), ["00ff", null, ""]);
  assert.deepEqual(values(canonicalData(b.slice(2, 1))), [""]);
  // An empty chunk as parquet-wasm returns it for an all-null struct's empty map (no offsets).
  const empty = arrow.makeData({
    type: new arrow.LargeUtf8(),
    length: 0,
    valueOffsets: new BigInt64Array(0),
    data: new Uint8Array(0),
  } as never) as arrow.Data;
  assert.equal(canonicalData(empty).length, 0);
});

Deno.test("string and binary views (inline and in a data buffer) become Utf8 and Binary", () => {
  const long = "a view value longer than twelve bytes";
  const sv = viewData(new arrow.Utf8View(), [
    enc.encode(long),
    null,
    enc.encode("short"),
    enc.encode(""),
  ]);
  assert.equal(arrow.makeVector(sv).get(0), long, "apache-arrow reads the view itself");
  const s = canonicalData(sv);
  assert.equal(String(s.type), "Utf8");
  assert.deepEqual(values(s), [long, null, "short", ""]);
  assert.deepEqual(values(canonicalData(sv.slice(2, 2))), ["short", ""]);
  const bv = viewData(new arrow.BinaryView(), [
    new Uint8Array([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]),
    new Uint8Array([9]),
  ]);
  const b = canonicalData(bv);
  assert.equal(String(b.type), "Binary");
  assert.deepEqual(values(b), ["000102030405060708090a0b0c", "09"]);
});

Deno.test("large lists of structs of large strings (line items as polars writes them) become List", () => {
  const item = new arrow.Struct([
    new arrow.Field("product_id", new arrow.Int64()),
    new arrow.Field("product_name", new arrow.LargeUtf8()),
    new arrow.Field("quantity", new arrow.Int32()),
  ]);
  const type = new arrow.LargeList(new arrow.Field("item", item));
  const d = build(type, [
    [{ product_id: 7n, product_name: "Chair", quantity: 2 }, {
      product_id: 8n,
      product_name: null,
      quantity: 1,
    }],
    null,
    [],
    [{ product_id: 9n, product_name: "Lamp é", quantity: 3 }],
  ]);
  assert.equal(
    String(canonicalType(type)),
    "List<Struct<{product_id:Int64, product_name:Utf8, quantity:Int32}>>",
  );
  const out = canonicalData(d);
  assert.equal(String(out.type), String(canonicalType(type)));
  assert.deepEqual(values(out), [
    [{ product_id: "7", product_name: "Chair", quantity: "2" }, {
      product_id: "8",
      product_name: null,
      quantity: "1",
    }],
    null,
    [],
    [{ product_id: "9", product_name: "Lamp é", quantity: "3" }],
  ]);
  assert.deepEqual(values(canonicalData(d.slice(3, 1))), [[{
    product_id: "9",
    product_name: "Lamp é",
    quantity: "3",
  }]]);
  // The table's type: array<struct<…>> read through castData.
  const deltaType = parseSchemaString(JSON.stringify({
    type: "struct",
    fields: [{
      name: "line_items",
      type: {
        type: "array",
        elementType: {
          type: "struct",
          fields: [
            { name: "product_id", type: "long", nullable: true, metadata: {} },
            { name: "product_name", type: "string", nullable: true, metadata: {} },
            { name: "quantity", type: "integer", nullable: true, metadata: {} },
          ],
        },
        containsNull: true,
      },
      nullable: true,
      metadata: {},
    }],
  })).fields[0].type;
  const cast = castData(d, deltaType, toArrowType(deltaType));
  assert.deepEqual(values(cast), values(out));
});

Deno.test("fixed-size lists and binaries become List and Binary", () => {
  const fsl = build(new arrow.FixedSizeList(2, new arrow.Field("e", new arrow.Int32())), [
    [1, 2],
    null,
    [null, -3],
  ]);
  const l = canonicalData(fsl);
  assert.equal(String(l.type), "List<Int32>");
  assert.deepEqual(values(l), [["1", "2"], null, [null, "-3"]]);
  assert.deepEqual(values(canonicalData(fsl.slice(2, 1))), [[null, "-3"]]);
  const fsb = build(new arrow.FixedSizeBinary(3), [new Uint8Array([0, 1, 2]), null]);
  const b = canonicalData(fsb);
  assert.equal(String(b.type), "Binary");
  assert.deepEqual(values(b), ["000102", null]);
});

Deno.test("dictionaries of any value type become their values, nulls from keys and values", () => {
  const dict = build(new arrow.LargeUtf8(), ["Chicago", null, "Zürich"]);
  const keys = column(new arrow.Int8(), [0, 2, null, 1, 0], Int8Array);
  const d = arrow.makeData({
    type: new arrow.Dictionary(new arrow.LargeUtf8(), new arrow.Int8()),
    length: 5,
    nullCount: keys.nullCount,
    nullBitmap: keys.nullBitmap,
    data: keys.values,
    dictionary: arrow.makeVector(dict),
  } as never) as arrow.Data;
  const out = canonicalData(d);
  assert.equal(String(out.type), "Utf8");
  assert.deepEqual(values(out), ["Chicago", "Zürich", null, null, "Chicago"]);
  // apache-arrow's own inference (string[] → Dictionary<Utf8, Int32>).
  const inferred = arrow.vectorFromArray(["a", "b", "a"]).data[0];
  assert.equal(inferred.type.typeId, arrow.Type.Dictionary);
  assert.deepEqual(values(canonicalData(inferred)), ["a", "b", "a"]);
});

Deno.test("timestamps in s, ms and ns become µs (ns floored), zones kept, UTC aliases named UTC", () => {
  const cases: Array<[arrow.Timestamp, bigint[], string[], string]> = [
    [new arrow.TimestampSecond("UTC"), [1714557600n, -1n], ["1714557600000000", "-1000000"], "UTC"],
    [new arrow.TimestampMillisecond("+00:00"), [1714557600123n, -1n], [
      "1714557600123000",
      "-1000",
    ], "UTC"],
    [new arrow.TimestampNanosecond("Etc/UTC"), [1714557600123456789n, -1n], [
      "1714557600123456",
      "-1",
    ], "UTC"],
    [new arrow.TimestampNanosecond(), [1_999n, -1_001n], ["1", "-2"], ""],
    [
      new arrow.TimestampMillisecond("America/New_York"),
      [5n, -5n],
      ["5000", "-5000"],
      "America/New_York",
    ],
    [new arrow.TimestampMicrosecond("Z"), [7n, -7n], ["7", "-7"], "UTC"],
  ];
  for (const [type, raw, expected, zone] of cases) {
    const d = column(type, [...raw, null], BigInt64Array);
    const out = canonicalData(d);
    const t = out.type as arrow.Timestamp;
    assert.equal(t.unit, arrow.TimeUnit.MICROSECOND, String(type));
    assert.equal(t.timezone ?? "", zone, String(type));
    assert.deepEqual(values(out), [...expected, null], String(type));
  }
  // Already canonical: the same chunk, not a copy.
  const us = column(new arrow.TimestampMicrosecond("UTC"), [1n], BigInt64Array);
  assert.equal(canonicalData(us), us);
  // A tz-less file column read as the table's `timestamp` (a label), and as `timestamp_ntz`.
  const ns = column(new arrow.TimestampNanosecond(), [1_000n], BigInt64Array);
  assert.equal(
    String(castData(ns, "timestamp", toArrowType("timestamp")).type),
    "Timestamp<MICROSECOND, UTC>",
  );
  assert.equal(
    String(castData(ns, "timestamp_ntz", toArrowType("timestamp_ntz")).type),
    "Timestamp<MICROSECOND>",
  );
});

Deno.test("Date64 becomes days (floored); Decimal64 and Decimal256 become Decimal128", () => {
  const d64 = column(new arrow.DateMillisecond(), [1714557600000n, -1n, null], BigInt64Array);
  const days = canonicalData(d64);
  assert.equal(String(days.type), "Date32<DAY>");
  assert.deepEqual(values(days), ["2024-05-01", "1969-12-31", null]);

  const dec64 = new arrow.Decimal(2, 12, 64);
  const w64 = new Uint32Array(new BigInt64Array([123456789012n, -5n]).buffer);
  const d = arrow.makeData(
    { type: dec64, length: 2, nullCount: 0, data: w64 } as never,
  ) as arrow.Data;
  const out = canonicalData(d);
  assert.equal((out.type as arrow.Decimal).bitWidth, 128);
  assert.deepEqual(values(out), ["1234567890.12", "-0.05"]);

  const dec256 = new arrow.Decimal(2, 12, 256);
  const w256 = new Uint32Array(16);
  w256.set([1, 0, 0, 0, 0, 0, 0, 0], 0); // 0.01
  w256.fill(0xffffffff, 8, 16); // -1 → -0.01
  const d2 = arrow.makeData(
    { type: dec256, length: 2, nullCount: 0, data: w256 } as never,
  ) as arrow.Data;
  assert.deepEqual(values(canonicalData(d2)), ["0.01", "-0.01"]);
  w256[4] = 1; // 2^128 + 1: beyond 128 bits
  assert.throws(() => canonicalData(d2), /does not fit a 128-bit decimal/);
});

Deno.test("maps and structs convert at every depth; canonicalTable keeps an already canonical table", () => {
  const mapType = new arrow.Map_(
    new arrow.Field(
      "entries",
      new arrow.Struct<{ key: arrow.LargeUtf8; value: arrow.LargeList<arrow.LargeUtf8> }>([
        new arrow.Field("key", new arrow.LargeUtf8(), false),
        new arrow.Field(
          "value",
          new arrow.LargeList(new arrow.Field("item", new arrow.LargeUtf8())),
        ),
      ] as arrow.Field[]),
      false,
    ),
  );
  const m = build(mapType, [new Map([["k", ["a", null]], ["é", null]]), null]);
  const t = new arrow.Table({ m: arrow.makeVector(m) });
  const out = canonicalTable(t);
  assert.equal(String(out.schema.fields[0].type), "Map<{key:Utf8, value:List<Utf8>}>");
  assert.deepEqual(values(out.batches[0].data.children[0]), [
    [["k", ["a", null]], ["é", null]],
    null,
  ]);
  const plain = new arrow.Table({ s: arrow.vectorFromArray(["x"], new arrow.Utf8()) });
  assert.equal(canonicalTable(plain), plain);
});

Deno.test("Parquet files with large, dictionary and nanosecond columns decode to canonical types", () => {
  // parquet-wasm records the Arrow types in the footer (ARROW:schema), as delta-rs and polars do.
  const t = new arrow.Table({
    s: arrow.makeVector(build(new arrow.LargeUtf8(), ["héllo", null])),
    l: arrow.makeVector(
      build(new arrow.LargeList(new arrow.Field("item", new arrow.LargeUtf8())), [["a"], null]),
    ),
    d: arrow.vectorFromArray(["x", "x"]),
    ns: arrow.makeVector(
      column(new arrow.TimestampNanosecond("UTC"), [-1n, 1_500n], BigInt64Array),
    ),
  });
  const bytes = encodeParquet(t);
  assert.deepEqual(parquetSchema(bytes).fields.map((f) => String(f.type)), [
    "LargeUtf8",
    "LargeList<LargeUtf8>",
    "Dictionary<Int32, Utf8>",
    "Timestamp<NANOSECOND, UTC>",
  ]);
  const back = decodeParquet(bytes);
  assert.deepEqual(back.schema.fields.map((f) => String(f.type)), [
    "Utf8",
    "List<Utf8>",
    "Utf8",
    "Timestamp<MICROSECOND, UTC>",
  ]);
  assert.deepEqual(
    back.schema.fields.map((_, k) => values(back.batches[0].data.children[k])),
    [["héllo", null], [["a"], null], ["x", "x"], ["-1", "1"]],
  );
});
