/**
 * Arrow test tables for lib/delta tests, built from exact typed arrays (µs timestamps, bigints).
 *
 * @module
 */
import * as arrow from "apache-arrow";
import { parseSchemaString, type StructType, toArrowSchema } from "../../lib/delta/schema.ts";

/** Build a validity bitmap from a list of "is null" flags. */
export function bitmap(nulls: boolean[]): Uint8Array {
  const b = new Uint8Array(Math.ceil(nulls.length / 8));
  nulls.forEach((n, i) => {
    if (!n) b[i >> 3] |= 1 << (i & 7);
  });
  return b;
}

/** A primitive column from values (null = null) and a typed-array constructor. */
export function column<T extends arrow.DataType>(
  type: T,
  values: Array<number | bigint | null>,
  Ctor: { new (n: number): { [i: number]: number | bigint } },
): arrow.Data<T> {
  const data = new Ctor(values.length);
  values.forEach((v, i) => {
    if (v !== null) data[i] = v;
  });
  const nulls = values.map((v) => v === null);
  return arrow.makeData({
    type,
    length: values.length,
    nullCount: nulls.filter(Boolean).length,
    nullBitmap: bitmap(nulls),
    data,
  } as never) as unknown as arrow.Data<T>;
}

/** A Utf8 column. */
export function strings(values: Array<string | null>): arrow.Data<arrow.Utf8> {
  const b = arrow.makeBuilder({ type: new arrow.Utf8(), nullValues: [null] });
  for (const v of values) b.append(v);
  return b.finish().toVector().data[0];
}

/** The schema of {@link allTypesTable}. */
export const ALL_TYPES_SCHEMA: StructType = parseSchemaString(JSON.stringify({
  type: "struct",
  fields: [
    { name: "l", type: "long", nullable: true, metadata: {} },
    { name: "i", type: "integer", nullable: true, metadata: {} },
    { name: "d", type: "double", nullable: true, metadata: {} },
    { name: "f", type: "float", nullable: true, metadata: {} },
    { name: "s", type: "string", nullable: true, metadata: {} },
    { name: "b", type: "boolean", nullable: true, metadata: {} },
    { name: "ts", type: "timestamp", nullable: true, metadata: {} },
    { name: "dt", type: "date", nullable: true, metadata: {} },
    {
      name: "st",
      type: {
        type: "struct",
        fields: [
          { name: "x", type: "integer", nullable: true, metadata: {} },
          { name: "y", type: "string", nullable: true, metadata: {} },
        ],
      },
      nullable: true,
      metadata: {},
    },
    {
      name: "arr",
      type: { type: "array", elementType: "long", containsNull: true },
      nullable: true,
      metadata: {},
    },
  ],
}));

/** Rows of {@link allTypesTable} as plain values (for independent expectations). */
export const ALL_TYPES_ROWS = {
  l: [1n, null, 9007199254740993n, -5n],
  i: [7, null, -3, 2147483647],
  d: [1.5, null, -2.25, 1e300],
  f: [0.5, null, 3.25, -1],
  s: ["b", null, "a", "é😀"],
  b: [true, null, false, true],
  ts: [1714557600123456n, null, -1n, 0n],
  dt: [19844, null, -1, 0],
  st: [{ x: 1, y: "p" }, null, { x: null, y: "q" }, { x: 4, y: null }],
  arr: [[1n, 2n], null, [], [null, 5n]],
};

/** A 4-row table with every supported type and nulls in each column. */
export function allTypesTable(): arrow.Table {
  const r = ALL_TYPES_ROWS;
  const schema = toArrowSchema(ALL_TYPES_SCHEMA);
  const boolData = (() => {
    const b = arrow.makeBuilder({ type: new arrow.Bool(), nullValues: [null] });
    for (const v of r.b) b.append(v);
    return b.finish().toVector().data[0];
  })();
  const st = arrow.makeData({
    type: schema.fields[8].type,
    length: 4,
    nullCount: 1,
    nullBitmap: bitmap(r.st.map((v) => v === null)),
    children: [
      column(new arrow.Int32(), r.st.map((v) => v?.x ?? null), Int32Array),
      strings(r.st.map((v) => v?.y ?? null)),
    ],
  });
  const flat = r.arr.flatMap((a) => a ?? []);
  const offsets = new Int32Array(5);
  r.arr.forEach((a, i) => (offsets[i + 1] = offsets[i] + (a?.length ?? 0)));
  const arr = arrow.makeData({
    type: schema.fields[9].type as arrow.List,
    length: 4,
    nullCount: 1,
    nullBitmap: bitmap(r.arr.map((v) => v === null)),
    valueOffsets: offsets,
    child: column(new arrow.Int64(), flat, BigInt64Array),
  });
  const children = [
    column(new arrow.Int64(), r.l, BigInt64Array),
    column(new arrow.Int32(), r.i, Int32Array),
    column(new arrow.Float64(), r.d, Float64Array),
    column(new arrow.Float32(), r.f, Float32Array),
    strings(r.s),
    boolData,
    column(new arrow.TimestampMicrosecond("UTC"), r.ts, BigInt64Array),
    column(new arrow.DateDay(), r.dt, Int32Array),
    st,
    arr,
  ];
  return new arrow.Table(schema, [
    new arrow.RecordBatch(
      schema,
      arrow.makeData({ type: new arrow.Struct(schema.fields), length: 4, nullCount: 0, children }),
    ),
  ]);
}
