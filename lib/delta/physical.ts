/**
 * Physical layouts: the Arrow types other writers' Parquet files decode to, converted to the one
 * canonical layout per Delta type that the rest of lib/delta works with (the types
 * {@link toArrowType} gives).
 *
 * | Delta type             | canonical Arrow type    | also read                                       |
 * | ---------------------- | ----------------------- | ----------------------------------------------- |
 * | string                 | Utf8                    | LargeUtf8, Utf8View                             |
 * | binary                 | Binary                  | LargeBinary, BinaryView, FixedSizeBinary        |
 * | array                  | List                    | LargeList, FixedSizeList                        |
 * | timestamp(_ntz)        | Timestamp(µs)           | s, ms, ns (ns floored to µs)                    |
 * | date                   | DateDay                 | DateMillisecond (floored to days)               |
 * | decimal(p,s)           | Decimal128              | Decimal32, Decimal64, Decimal256 (if it fits)   |
 * | any                    | (its plain type)        | Dictionary of any of the above                  |
 *
 * Structs and maps are converted field by field, at any depth (`large_list<struct<name:
 * large_string>>` as polars writes line items becomes `List<Struct<name: Utf8>>`). A UTC zone
 * spelled `+00:00`, `Etc/UTC` or `Z` is named `UTC`; other zones are kept (the values are instants
 * either way). Chunks already canonical are returned as they are, without copying.
 *
 * Where they come from: delta-rs writes the Arrow types it is given (polars hands it large and
 * view types, pandas categoricals become dictionaries) and records them in the Parquet footer's
 * `ARROW:schema`, which parquet-wasm (arrow-rs) honours on read. parquet-wasm 0.7.2 itself
 * decodes view columns as Utf8/Binary, so views only reach this module from Arrow data built in
 * JS; apache-arrow 21 represents them (16-byte views plus variadic buffers) and they are
 * converted like the rest.
 *
 * @module
 */
import * as arrow from "apache-arrow";
import { batchOf } from "../arrow/columns.ts";
import { gather } from "./partition.ts";

/** The largest byte or child offset a canonical (Int32-offset) chunk can hold. */
const MAX_INT32 = 2 ** 31 - 1;

function isUtc(tz: string): boolean {
  return tz === "UTC" || tz === "+00:00" || tz === "Etc/UTC" || tz === "Z";
}

/**
 * True when `t`, or a type nested in it, is not in its canonical layout.
 *
 * @example
 * ```ts
 * import * as arrow from "apache-arrow";
 * import { needsCanonical } from "./physical.ts";
 * needsCanonical(new arrow.TimestampNanosecond("UTC")); // true
 * needsCanonical(new arrow.TimestampMicrosecond("UTC")); // false
 * ```
 */
export function needsCanonical(t: arrow.DataType): boolean {
  switch (t.typeId) {
    case arrow.Type.LargeUtf8:
    case arrow.Type.Utf8View:
    case arrow.Type.LargeBinary:
    case arrow.Type.BinaryView:
    case arrow.Type.FixedSizeBinary:
    case arrow.Type.LargeList:
    case arrow.Type.FixedSizeList:
    case arrow.Type.Dictionary:
      return true;
    case arrow.Type.Timestamp: {
      const ts = t as arrow.Timestamp;
      return ts.unit !== arrow.TimeUnit.MICROSECOND ||
        (!!ts.timezone && ts.timezone !== "UTC" && isUtc(ts.timezone));
    }
    case arrow.Type.Date:
      return (t as arrow.Date_).unit !== arrow.DateUnit.DAY;
    case arrow.Type.Decimal:
      return (t as arrow.Decimal).bitWidth !== 128;
  }
  return t.children?.some((c) => needsCanonical(c.type)) ?? false;
}

/**
 * The canonical Arrow type of a physical type (see the module table).
 *
 * @example
 * ```ts
 * import * as arrow from "apache-arrow";
 * import { canonicalType } from "./physical.ts";
 * const t = new arrow.LargeList(new arrow.Field("item", new arrow.LargeUtf8()));
 * String(canonicalType(t)); // "List<Utf8>"
 * ```
 */
export function canonicalType(t: arrow.DataType): arrow.DataType {
  if (!needsCanonical(t)) return t;
  switch (t.typeId) {
    case arrow.Type.LargeUtf8:
    case arrow.Type.Utf8View:
      return new arrow.Utf8();
    case arrow.Type.LargeBinary:
    case arrow.Type.BinaryView:
    case arrow.Type.FixedSizeBinary:
      return new arrow.Binary();
    case arrow.Type.Dictionary:
      return canonicalType((t as arrow.Dictionary).dictionary);
    case arrow.Type.Timestamp: {
      const tz = (t as arrow.Timestamp).timezone;
      return new arrow.TimestampMicrosecond(tz ? (isUtc(tz) ? "UTC" : tz) : undefined);
    }
    case arrow.Type.Date:
      return new arrow.DateDay();
    case arrow.Type.Decimal: {
      const d = t as arrow.Decimal;
      return new arrow.Decimal(d.scale, d.precision, 128);
    }
    case arrow.Type.List:
    case arrow.Type.LargeList:
    case arrow.Type.FixedSizeList: {
      const c = t.children[0];
      return new arrow.List(c.clone({ type: canonicalType(c.type) }));
    }
    case arrow.Type.Struct:
      return new arrow.Struct(t.children.map((c) => c.clone({ type: canonicalType(c.type) })));
    case arrow.Type.Map: {
      const m = t as arrow.Map_;
      const e = m.children[0];
      return new arrow.Map_(
        e.clone({ type: canonicalType(e.type) }) as arrow.Field<arrow.Struct>,
        m.keysSorted,
      );
    }
  }
  return t;
}

/**
 * Convert one column chunk to its canonical layout (values copied only where the layout
 * differs; a chunk already canonical is returned unchanged).
 *
 * @example
 * ```ts
 * import * as arrow from "apache-arrow";
 * import { canonicalData } from "./physical.ts";
 * const large = arrow.vectorFromArray(["a", null, "bc"], new arrow.LargeUtf8()).data[0];
 * const plain = arrow.makeVector(canonicalData(large));
 * String(plain.type); // "Utf8"
 * plain.toArray(); // ["a", null, "bc"]
 * ```
 */
export function canonicalData(data: arrow.Data): arrow.Data {
  const t = data.type;
  if (!needsCanonical(t)) return data;
  const type = canonicalType(t);
  switch (t.typeId) {
    case arrow.Type.Dictionary:
      return undictionary(data);
    case arrow.Type.LargeUtf8:
    case arrow.Type.LargeBinary:
      return narrowBytes(data, type);
    case arrow.Type.Utf8View:
    case arrow.Type.BinaryView:
      return fromViews(data, type);
    case arrow.Type.FixedSizeBinary:
      return fromFixedBytes(data, type);
    case arrow.Type.Timestamp:
      return toMicros(data, type);
    case arrow.Type.Date:
      return toDays(data, type);
    case arrow.Type.Decimal:
      return toDecimal128(data, type);
    case arrow.Type.LargeList:
      return narrowList(data, type);
    case arrow.Type.FixedSizeList:
      return fromFixedList(data, type);
  }
  // List, Struct, Map: same buffers, canonical children.
  return data.clone(
    type,
    data.offset,
    data.length,
    data.nullCount,
    data.buffers,
    data.children.map(canonicalData),
  );
}

/**
 * Every column of a table in its canonical layout (the table itself when nothing changes).
 *
 * @example
 * ```ts
 * import * as arrow from "apache-arrow";
 * import { canonicalTable } from "./physical.ts";
 * const t = new arrow.Table({ s: arrow.vectorFromArray(["x", "y"]) }); // a dictionary column
 * String(canonicalTable(t).schema.fields[0].type); // "Utf8"
 * ```
 */
export function canonicalTable(table: arrow.Table): arrow.Table {
  if (!table.schema.fields.some((f) => needsCanonical(f.type))) return table;
  const fields = table.schema.fields.map((f) => f.clone({ type: canonicalType(f.type) }));
  const schema = new arrow.Schema(fields, table.schema.metadata);
  const batches = table.batches.map((b) =>
    batchOf(schema, b.numRows, b.data.children.map(canonicalData))
  );
  return new arrow.Table(schema, batches);
}

/**
 * The validity bits of a chunk re-based to offset 0 (undefined when it has no nulls).
 *
 * @example
 * ```ts
 * import * as arrow from "apache-arrow";
 * import { sliceBitmap } from "./physical.ts";
 * const d = arrow.vectorFromArray([1, null, 3], new arrow.Int32()).data[0].slice(1, 2);
 * sliceBitmap(d); // Uint8Array [0b10]: row 0 (the null) invalid, row 1 valid
 * ```
 */
export function sliceBitmap(data: arrow.Data): Uint8Array | undefined {
  if (!data.nullBitmap || data.nullCount === 0) return undefined;
  if (data.offset === 0) return data.nullBitmap;
  const out = new Uint8Array(Math.ceil(data.length / 8));
  for (let i = 0; i < data.length; i++) {
    const p = data.offset + i;
    if ((data.nullBitmap[p >> 3] >> (p & 7)) & 1) out[i >> 3] |= 1 << (i & 7);
  }
  return out;
}

function isValidAt(bitmap: Uint8Array | undefined, i: number): boolean {
  return !bitmap || ((bitmap[i >> 3] >> (i & 7)) & 1) === 1;
}

/** A fresh offset-0 chunk of `type` with the source's validity. */
function rebuilt(data: arrow.Data, type: arrow.DataType, props: Record<string, unknown>) {
  return arrow.makeData({
    type,
    offset: 0,
    length: data.length,
    nullCount: data.nullCount,
    nullBitmap: sliceBitmap(data),
    ...props,
  } as never) as arrow.Data;
}

function tooLarge(what: string): never {
  throw new RangeError(
    `${what} hold more than 2 GiB in one chunk, which Int32 offsets cannot address; ` +
      `write smaller row groups`,
  );
}

/** LargeUtf8/LargeBinary (BigInt64 offsets) → Utf8/Binary (Int32 offsets, re-based to 0). */
function narrowBytes(data: arrow.Data, type: arrow.DataType): arrow.Data {
  const o = data.valueOffsets as unknown as BigInt64Array;
  const n = data.length;
  const offsets = new Int32Array(n + 1);
  if (n === 0) return rebuilt(data, type, { valueOffsets: offsets, data: new Uint8Array(0) });
  const base = o[0];
  const end = o[n];
  if (end - base > BigInt(MAX_INT32)) tooLarge(`values of ${data.type}`);
  for (let i = 0; i <= n; i++) offsets[i] = Number(o[i] - base);
  const values = (data.values as Uint8Array).subarray(Number(base), Number(end));
  return rebuilt(data, type, { valueOffsets: offsets, data: values });
}

/** Utf8View/BinaryView (16-byte views, inline ≤ 12 bytes, else buffer + offset) → Utf8/Binary. */
function fromViews(data: arrow.Data, type: arrow.DataType): arrow.Data {
  const views = data.values as Uint8Array;
  const dv = new DataView(views.buffer, views.byteOffset, views.byteLength);
  const bitmap = sliceBitmap(data);
  const n = data.length;
  const offsets = new Int32Array(n + 1);
  let total = 0;
  for (let i = 0; i < n; i++) {
    if (isValidAt(bitmap, i)) total += Math.max(0, dv.getInt32(16 * i, true));
    if (total > MAX_INT32) tooLarge(`values of ${data.type}`);
    offsets[i + 1] = total;
  }
  const out = new Uint8Array(total);
  for (let i = 0; i < n; i++) {
    const len = offsets[i + 1] - offsets[i];
    if (len === 0) continue;
    const at = 16 * i;
    if (len <= 12) {
      out.set(views.subarray(at + 4, at + 4 + len), offsets[i]);
    } else {
      const buffer = data.variadicBuffers[dv.getInt32(at + 8, true)];
      const from = dv.getInt32(at + 12, true);
      if (!buffer || from + len > buffer.length) {
        throw new RangeError(`${data.type} row ${i} points outside its data buffers`);
      }
      out.set(buffer.subarray(from, from + len), offsets[i]);
    }
  }
  return rebuilt(data, type, { valueOffsets: offsets, data: out });
}

/** FixedSizeBinary(w) → Binary. */
function fromFixedBytes(data: arrow.Data, type: arrow.DataType): arrow.Data {
  const w = (data.type as arrow.FixedSizeBinary).byteWidth;
  const n = data.length;
  if (w * n > MAX_INT32) tooLarge(`values of ${data.type}`);
  const offsets = new Int32Array(n + 1);
  for (let i = 0; i <= n; i++) offsets[i] = i * w;
  const values = (data.values as Uint8Array).subarray(0, w * n);
  return rebuilt(data, type, { valueOffsets: offsets, data: values });
}

function floorDiv(v: bigint, d: bigint): bigint {
  const q = v / d;
  return v % d !== 0n && v < 0n ? q - 1n : q;
}

/** Timestamp(s|ms|ns) → Timestamp(µs); a UTC alias becomes "UTC". */
function toMicros(data: arrow.Data, type: arrow.DataType): arrow.Data {
  const unit = (data.type as arrow.Timestamp).unit;
  const src = data.values as BigInt64Array;
  let out = src;
  if (unit !== arrow.TimeUnit.MICROSECOND) {
    out = new BigInt64Array(src.length);
    for (let i = 0; i < src.length; i++) {
      const v = src[i];
      out[i] = unit === arrow.TimeUnit.NANOSECOND
        ? floorDiv(v, 1000n)
        : unit === arrow.TimeUnit.MILLISECOND
        ? v * 1000n
        : v * 1_000_000n;
    }
  }
  return data.clone(type, data.offset, data.length, data.nullCount, [
    undefined,
    out,
    data.nullBitmap,
    undefined,
  ] as never);
}

/** DateMillisecond → DateDay (floored, so 1969-12-31T12:00 is 1969-12-31). */
function toDays(data: arrow.Data, type: arrow.DataType): arrow.Data {
  const src = data.values as unknown as BigInt64Array;
  const out = new Int32Array(data.length);
  for (let i = 0; i < data.length; i++) out[i] = Number(floorDiv(BigInt(src[i]), 86_400_000n));
  return rebuilt(data, type, { data: out });
}

/** Decimal32/64/256 → Decimal128 (sign-extended; a 256-bit value beyond 128 bits is refused). */
function toDecimal128(data: arrow.Data, type: arrow.DataType): arrow.Data {
  const words = (data.type as arrow.Decimal).bitWidth / 32;
  const src = data.values as Uint32Array;
  const bitmap = sliceBitmap(data);
  const out = new Uint32Array(4 * data.length);
  for (let i = 0; i < data.length; i++) {
    let v = 0n;
    for (let k = words - 1; k >= 0; k--) v = (v << 32n) | BigInt(src[i * words + k]);
    v = BigInt.asIntN(32 * words, v);
    if (BigInt.asIntN(128, v) !== v) {
      if (!isValidAt(bitmap, i)) continue;
      throw new RangeError(`${data.type} row ${i} does not fit a 128-bit decimal`);
    }
    const u = BigInt.asUintN(128, v);
    for (let k = 0; k < 4; k++) out[4 * i + k] = Number((u >> BigInt(32 * k)) & 0xffffffffn);
  }
  return rebuilt(data, type, { data: out });
}

/** LargeList (BigInt64 offsets) → List (Int32 offsets), child converted too. */
function narrowList(data: arrow.Data, type: arrow.DataType): arrow.Data {
  const o = data.valueOffsets as unknown as BigInt64Array;
  const n = data.length;
  const offsets = new Int32Array(n + 1); // an empty chunk may come without offsets
  if (n > 0 && o[n] > BigInt(MAX_INT32)) tooLarge(`children of ${data.type}`);
  for (let i = 0; i <= n && n > 0; i++) offsets[i] = Number(o[i]);
  return rebuilt(data, type, {
    valueOffsets: offsets,
    child: canonicalData(data.children[0]),
  });
}

/** FixedSizeList(k) → List, child converted too. */
function fromFixedList(data: arrow.Data, type: arrow.DataType): arrow.Data {
  const k = (data.type as arrow.FixedSizeList).listSize;
  const n = data.length;
  if (k * n > MAX_INT32) tooLarge(`children of ${data.type}`);
  const offsets = new Int32Array(n + 1);
  for (let i = 0; i <= n; i++) offsets[i] = i * k;
  // Slicing a FixedSizeList slices its child, so the child starts at this chunk's first row.
  return rebuilt(data, type, {
    valueOffsets: offsets,
    child: canonicalData(data.children[0].slice(0, k * n)),
  });
}

/** A dictionary-encoded chunk materialised as plain (canonical) values. */
function undictionary(data: arrow.Data): arrow.Data {
  const dictVec = data.dictionary;
  if (!dictVec) throw new Error("dictionary column without a dictionary");
  if (dictVec.data.length > 1) {
    throw new Error("dictionary columns with several dictionary chunks are not supported");
  }
  const dictType = canonicalType((data.type as arrow.Dictionary).dictionary);
  if (dictVec.data.length === 0 || dictVec.data[0].length === 0) {
    return nullChunk(dictType, data.length);
  }
  const dict = canonicalData(dictVec.data[0]);
  const keys = data.values as ArrayLike<number | bigint>;
  const bitmap = sliceBitmap(data);
  const rows: number[] = new Array(data.length);
  for (let i = 0; i < data.length; i++) {
    const k = isValidAt(bitmap, i) ? Number(keys[i]) : 0;
    if (k < 0 || k >= dict.length) {
      throw new RangeError(`dictionary key ${k} at row ${i} is outside its ${dict.length} values`);
    }
    rows[i] = k;
  }
  const values = gather(dict, rows);
  if (!bitmap) return values;
  let combined = bitmap;
  let nulls = data.nullCount;
  if (values.nullBitmap && values.nullCount > 0) {
    combined = bitmap.map((b, k) => b & values.nullBitmap![k]);
    nulls = 0;
    for (let i = 0; i < data.length; i++) nulls += isValidAt(combined, i) ? 0 : 1;
  }
  return values.clone(values.type, 0, data.length, nulls, [
    values.valueOffsets,
    values.values,
    combined,
    values.typeIds,
  ] as never);
}

/** An all-null chunk of a canonical type (a dictionary with no values can only hold nulls). */
function nullChunk(type: arrow.DataType, length: number): arrow.Data {
  const b = arrow.makeBuilder({ type, nullValues: [null] });
  for (let i = 0; i < length; i++) b.append(null);
  return b.finish().toVector().data[0] ?? arrow.makeData({ type, length: 0 } as never);
}
