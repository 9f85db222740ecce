/**
 * Arrow column builders for the hot paths (a micro-batch of Kafka records, the flattened order
 * rows, the dead letters): each builds one column's buffers directly and wraps them with
 * `makeData`, with no Arrow builder objects and no per-value allocation on the common path.
 *
 * - Strings: {@link utf8FromStrings} (JS strings, one `TextEncoder` pass), {@link utf8FromBytes}
 *   (UTF-8 bytes copied as they are; invalid UTF-8 replaced with U+FFFD, and the rows where that
 *   happened reported), {@link utf8Repeat} (one value n times). `null` and `undefined` are nulls.
 * - Bytes: {@link binaryFromBytes} (exact bytes, all rows or only the rows given).
 * - Numbers: {@link int32Data}, {@link int64Data} and {@link timestampData} (µs, UTC) over typed
 *   arrays; {@link int64Values} and {@link setInt64} fill an int64 column from safe integers
 *   without a BigInt per value; {@link timestampFromMs} converts epoch milliseconds.
 *
 * - Batches: {@link batchOf} puts columns of one length together under a schema.
 *
 * @module
 */
import {
  Binary,
  type Data,
  Int32,
  Int64,
  makeData,
  RecordBatch,
  type Schema,
  Struct,
  TimestampMicrosecond,
  Utf8,
} from "apache-arrow";

const encoder = new TextEncoder();
const replacing = new TextDecoder();
const TWO32 = 4294967296;
const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;
const MAX_BYTES = 0x7fffffff;

/** Index of the first byte ≥ 0x80 in `b[start, end)`, or `end`; scans 32 bytes per step. */
function firstNonAscii(b: Uint8Array, start: number, end: number): number {
  let i = start;
  if (end - i >= 64) {
    while (((b.byteOffset + i) & 3) !== 0) {
      if (b[i] >= 0x80) return i;
      i++;
    }
    const words = new Uint32Array(b.buffer, b.byteOffset + i, (end - i) >> 2);
    const n = words.length;
    let w = 0;
    for (; w + 8 <= n; w += 8) {
      const or = words[w] | words[w + 1] | words[w + 2] | words[w + 3] | words[w + 4] |
        words[w + 5] | words[w + 6] | words[w + 7];
      if ((or & 0x80808080) !== 0) break;
    }
    i += w << 2; // the block with the non-ASCII byte, or the words left over, go byte by byte
  }
  for (; i < end; i++) if (b[i] >= 0x80) return i;
  return end;
}

/**
 * True when `b[i, end)` is well-formed UTF-8 (Unicode table 3-7: no overlong forms, no
 * surrogates, nothing above U+10FFFF, no truncated sequence).
 */
function wellFormed(b: Uint8Array, i: number, end: number): boolean {
  while (i < end) {
    const c = b[i];
    if (c < 0x80) {
      i++;
    } else if (c < 0xc2) {
      return false; // a continuation byte, or the lead of an overlong 2-byte form
    } else if (c < 0xe0) {
      if (i + 1 >= end || (b[i + 1] & 0xc0) !== 0x80) return false;
      i += 2;
    } else if (c < 0xf0) {
      if (i + 2 >= end) return false;
      const c1 = b[i + 1];
      if ((c1 & 0xc0) !== 0x80 || (b[i + 2] & 0xc0) !== 0x80) return false;
      if ((c === 0xe0 && c1 < 0xa0) || (c === 0xed && c1 > 0x9f)) return false;
      i += 3;
    } else if (c < 0xf5) {
      if (i + 3 >= end) return false;
      const c1 = b[i + 1];
      if ((c1 & 0xc0) !== 0x80 || (b[i + 2] & 0xc0) !== 0x80 || (b[i + 3] & 0xc0) !== 0x80) {
        return false;
      }
      if ((c === 0xf0 && c1 < 0x90) || (c === 0xf4 && c1 > 0x8f)) return false;
      i += 4;
    } else {
      return false;
    }
  }
  return true;
}

/**
 * True when the bytes are valid UTF-8 (an ASCII fast path a word at a time, then a strict
 * check; never throws).
 *
 * @example
 * ```ts
 * import { isValidUtf8 } from "./columns.ts";
 * isValidUtf8(new TextEncoder().encode("Müller")); // true
 * isValidUtf8(new Uint8Array([0x61, 0xff])); // false
 * ```
 */
export function isValidUtf8(b: Uint8Array): boolean {
  const i = firstNonAscii(b, 0, b.length);
  return i === b.length || wellFormed(b, i, b.length);
}

/** The validity bitmap of `values` (bit set = not null), or undefined when none is null. */
function validityOf(values: readonly unknown[], nulls: number): Uint8Array | undefined {
  if (nulls === 0) return undefined;
  const n = values.length;
  const bitmap = new Uint8Array((n + 7) >> 3);
  for (let i = 0; i < n; i++) {
    const v = values[i];
    if (v !== null && v !== undefined) bitmap[i >> 3] |= 1 << (i & 7);
  }
  return bitmap;
}

function tooLarge(bytes: number): never {
  throw new RangeError(
    `a column of ${bytes} bytes is over Arrow's 2 GiB limit for Utf8 and Binary; build smaller batches`,
  );
}

/** Offsets and bytes of `values` (nulls are empty), copied as they are. */
function concat(values: readonly (Uint8Array | null | undefined)[], total: number) {
  const n = values.length;
  const offsets = new Int32Array(n + 1);
  const bytes = new Uint8Array(total);
  let pos = 0;
  for (let i = 0; i < n; i++) {
    const v = values[i];
    if (v !== null && v !== undefined) {
      bytes.set(v, pos);
      pos += v.length;
    }
    offsets[i + 1] = pos;
  }
  return { offsets, bytes };
}

/**
 * A Utf8 column from byte strings (`null`/`undefined` = null): valid UTF-8 is copied as is,
 * a value with invalid UTF-8 is decoded with U+FFFD replacement first (as `TextDecoder` shows
 * it), so the column always holds valid UTF-8. With `invalid`, the index of every such row is
 * pushed onto it, in ascending order (the check is the one the column needs anyway: free).
 *
 * @example
 * ```ts
 * import { utf8FromBytes } from "./columns.ts";
 * const invalid: number[] = [];
 * const col = utf8FromBytes(
 *   [new TextEncoder().encode("a"), null, new Uint8Array([0x62, 0xff])],
 *   invalid,
 * );
 * // values "a", null, "b\uFFFD"; invalid is [2]
 * ```
 */
export function utf8FromBytes(
  values: readonly (Uint8Array | null | undefined)[],
  invalid?: number[],
): Data<Utf8> {
  const n = values.length;
  let total = 0;
  let nulls = 0;
  for (let i = 0; i < n; i++) {
    const v = values[i];
    if (v === null || v === undefined) nulls++;
    else total += v.length;
  }
  if (total > MAX_BYTES) tooLarge(total);
  let { offsets, bytes } = concat(values, total);
  // Scan the whole buffer for non-ASCII bytes; only the rows holding one are checked strictly
  // (from that byte to the row's end: what comes before it in the row is ASCII).
  let p = firstNonAscii(bytes, 0, total);
  if (p < total) {
    let fixed: (Uint8Array | null | undefined)[] | undefined;
    let i = 0;
    while (p < total) {
      while (offsets[i + 1] <= p) i++;
      const end = offsets[i + 1];
      if (!wellFormed(bytes, p, end)) {
        invalid?.push(i);
        fixed ??= values.slice();
        fixed[i] = encoder.encode(replacing.decode(values[i]!));
      }
      p = firstNonAscii(bytes, end, total);
    }
    if (fixed) {
      total = 0;
      for (const v of fixed) total += v?.length ?? 0;
      if (total > MAX_BYTES) tooLarge(total);
      ({ offsets, bytes } = concat(fixed, total));
    }
  }
  return makeData({
    type: new Utf8(),
    length: n,
    nullCount: nulls,
    nullBitmap: validityOf(values, nulls),
    valueOffsets: offsets,
    data: bytes,
  });
}

/**
 * A Binary column of exact bytes (`null`/`undefined` = null). With `rows` (ascending row
 * indexes), only those rows hold their value and every other row is null: a column that is
 * mostly null costs two zeroed buffers and no per-row work.
 *
 * @example
 * ```ts
 * import { binaryFromBytes } from "./columns.ts";
 * const values = [new Uint8Array([0x61]), null, new Uint8Array([0x62, 0xff])];
 * binaryFromBytes(values).nullCount; // 1
 * binaryFromBytes(values, [2]).nullCount; // 2: only row 2 is set
 * ```
 */
export function binaryFromBytes(
  values: readonly (Uint8Array | null | undefined)[],
  rows?: readonly number[],
): Data<Binary> {
  const n = values.length;
  const offsets = new Int32Array(n + 1);
  const bitmap = new Uint8Array((n + 7) >> 3);
  let total = 0;
  let set = 0;
  const each = (fn: (i: number, v: Uint8Array) => void) => {
    if (rows) {
      for (const i of rows) {
        const v = values[i];
        if (v !== null && v !== undefined) fn(i, v);
      }
    } else {
      for (let i = 0; i < n; i++) {
        const v = values[i];
        if (v !== null && v !== undefined) fn(i, v);
      }
    }
  };
  each((_i, v) => {
    total += v.length;
    set++;
  });
  if (total > MAX_BYTES) tooLarge(total);
  const bytes = new Uint8Array(total);
  let pos = 0;
  let next = 0; // first row whose end offset is not written yet
  each((i, v) => {
    offsets.fill(pos, next + 1, i + 1); // rows before i are null: empty
    bytes.set(v, pos);
    pos += v.length;
    offsets[i + 1] = pos;
    bitmap[i >> 3] |= 1 << (i & 7);
    next = i + 1;
  });
  offsets.fill(pos, next + 1);
  return makeData({
    type: new Binary(),
    length: n,
    nullCount: n - set,
    nullBitmap: bitmap,
    valueOffsets: offsets,
    data: bytes,
  });
}

/**
 * A Utf8 column from strings (`null`/`undefined` = null) with one `TextEncoder` pass over the
 * joined values; an all-ASCII column (the common case) needs no per-value encoding at all.
 *
 * @example
 * ```ts
 * import { utf8FromStrings } from "./columns.ts";
 * const col = utf8FromStrings(["Chicago", null, "Zürich"]);
 * col.length; // 3
 * ```
 */
export function utf8FromStrings(values: readonly (string | null | undefined)[]): Data<Utf8> {
  const n = values.length;
  const offsets = new Int32Array(n + 1);
  let nulls = 0;
  for (let i = 0; i < n; i++) if (values[i] === null || values[i] === undefined) nulls++;
  const joined = values.join(""); // null and undefined join as ""
  let bytes = encoder.encode(joined);
  if (bytes.length === joined.length) {
    // All ASCII: byte offsets are character offsets.
    let pos = 0;
    for (let i = 0; i < n; i++) {
      const v = values[i];
      if (v !== null && v !== undefined) pos += v.length;
      offsets[i + 1] = pos;
    }
  } else {
    let pos = 0;
    for (let i = 0; i < n; i++) {
      const v = values[i];
      if (v !== null && v !== undefined && v.length > 0) {
        let r = encoder.encodeInto(v, bytes.subarray(pos));
        if (r.read < v.length) {
          // Lone surrogates at the ends of neighbouring values paired up in the joined text
          // (4 bytes) but take 3 + 3 bytes (U+FFFD each) apart: make room and redo this value.
          const more = new Uint8Array(Math.max(bytes.length * 2, pos + v.length * 3));
          more.set(bytes.subarray(0, pos));
          bytes = more;
          r = encoder.encodeInto(v, bytes.subarray(pos));
        }
        pos += r.written;
      }
      offsets[i + 1] = pos;
    }
    if (pos > MAX_BYTES) tooLarge(pos);
    bytes = bytes.subarray(0, pos);
  }
  return makeData({
    type: new Utf8(),
    length: n,
    nullCount: nulls,
    nullBitmap: validityOf(values, nulls),
    valueOffsets: offsets,
    data: bytes,
  });
}

/**
 * A Utf8 column holding the same value `length` times (`null`: all null).
 *
 * @example
 * ```ts
 * import { utf8Repeat } from "./columns.ts";
 * utf8Repeat("retail-data-new", 3).length; // 3
 * ```
 */
export function utf8Repeat(value: string | null, length: number): Data<Utf8> {
  const offsets = new Int32Array(length + 1);
  if (value === null) {
    return makeData({
      type: new Utf8(),
      length,
      nullCount: length,
      nullBitmap: new Uint8Array((length + 7) >> 3),
      valueOffsets: offsets,
      data: new Uint8Array(0),
    });
  }
  const one = encoder.encode(value);
  const width = one.length;
  if (width * length > MAX_BYTES) tooLarge(width * length);
  const bytes = new Uint8Array(width * length);
  if (bytes.length > 0) {
    bytes.set(one);
    for (let filled = width; filled < bytes.length;) {
      const count = Math.min(filled, bytes.length - filled);
      bytes.copyWithin(filled, 0, count);
      filled += count;
    }
  }
  for (let i = 1; i <= length; i++) offsets[i] = i * width;
  return makeData({ type: new Utf8(), length, valueOffsets: offsets, data: bytes });
}

/** An int64 column being filled: a BigInt64Array and an Int32Array over the same memory. */
export interface Int64Values {
  /** The values. */
  readonly big: BigInt64Array;
  /** The same memory as 32-bit halves (low word first on little-endian machines). */
  readonly halves: Int32Array;
}

/**
 * Zeroed room for `length` int64 values, to fill with {@link setInt64}.
 *
 * @example
 * ```ts
 * import { int64Data, int64Values, setInt64 } from "./columns.ts";
 * const v = int64Values(2);
 * setInt64(v, 0, 42);
 * setInt64(v, 1, 9007199254740993n);
 * int64Data(v).length; // 2
 * ```
 */
export function int64Values(length: number): Int64Values {
  const big = new BigInt64Array(length);
  return { big, halves: new Int32Array(big.buffer) };
}

/**
 * Stores an integer at row `i`: a safe-integer number goes in as two 32-bit halves (no BigInt
 * allocated), any other through `BigInt` (which throws a RangeError for a fraction or NaN).
 *
 * @example
 * ```ts
 * import { int64Values, setInt64 } from "./columns.ts";
 * const v = int64Values(1);
 * setInt64(v, 0, -5);
 * v.big[0]; // -5n
 * ```
 */
export function setInt64(values: Int64Values, i: number, v: number | bigint): void {
  if (typeof v === "number" && LITTLE_ENDIAN && Number.isSafeInteger(v)) {
    const hi = Math.floor(v / TWO32);
    values.halves[2 * i] = (v - hi * TWO32) | 0;
    values.halves[2 * i + 1] = hi;
  } else {
    values.big[i] = BigInt(v);
  }
}

/**
 * An Int32 column; numbers are converted (truncated to int32) unless already an Int32Array.
 * With `nullBitmap` (bit set = not null) the column is nullable.
 *
 * @example
 * ```ts
 * import { int32Data } from "./columns.ts";
 * int32Data([0, 1, 2]).length; // 3
 * ```
 */
export function int32Data(
  values: Int32Array | ArrayLike<number>,
  nullBitmap?: Uint8Array,
  nullCount?: number,
): Data<Int32> {
  const data = values instanceof Int32Array ? values : Int32Array.from(values);
  return makeData({ type: new Int32(), length: data.length, data, nullBitmap, nullCount });
}

/**
 * An Int64 column over the values (not copied). With `nullBitmap` (bit set = not null) the
 * column is nullable; give `nullCount` when known, else Arrow counts the bitmap.
 *
 * @example
 * ```ts
 * import { int64Data } from "./columns.ts";
 * int64Data(new BigInt64Array([1n, 2n])).length; // 2
 * ```
 */
export function int64Data(
  values: BigInt64Array | Int64Values,
  nullBitmap?: Uint8Array,
  nullCount?: number,
): Data<Int64> {
  const data = values instanceof BigInt64Array ? values : values.big;
  return makeData({ type: new Int64(), length: data.length, data, nullBitmap, nullCount });
}

/**
 * A `Timestamp(MICROSECOND, UTC)` column over microseconds since the epoch (not copied).
 *
 * @example
 * ```ts
 * import { timestampData } from "./columns.ts";
 * timestampData(new BigInt64Array([1_700_000_000_000_000n])).length; // 1
 * ```
 */
export function timestampData(values: BigInt64Array | Int64Values): Data<TimestampMicrosecond> {
  const data = values instanceof BigInt64Array ? values : values.big;
  return makeData({ type: new TimestampMicrosecond("UTC"), length: data.length, data });
}

/**
 * A `Timestamp(MICROSECOND, UTC)` column from epoch milliseconds (fractions kept to the µs,
 * rounded).
 *
 * @example
 * ```ts
 * import { timestampFromMs } from "./columns.ts";
 * timestampFromMs([1_700_000_000_123]).values[0]; // 1_700_000_000_123_000n
 * ```
 */
export function timestampFromMs(ms: ArrayLike<number>): Data<TimestampMicrosecond> {
  const n = ms.length;
  const us = int64Values(n);
  for (let i = 0; i < n; i++) setInt64(us, i, Math.round(ms[i] * 1000));
  return timestampData(us);
}

/**
 * A record batch of `schema` over its columns' data (one per field, in order, each `length`
 * rows long); nothing is copied.
 *
 * @example
 * ```ts
 * import { Field, Int64, Schema } from "apache-arrow";
 * import { batchOf, int64Data } from "./columns.ts";
 * const schema = new Schema([new Field("id", new Int64())]);
 * batchOf(schema, 2, [int64Data(new BigInt64Array([1n, 2n]))]).numRows; // 2
 * ```
 */
export function batchOf(schema: Schema, length: number, children: Data[]): RecordBatch {
  return new RecordBatch(
    schema,
    makeData({ type: new Struct(schema.fields), length, nullCount: 0, children }),
  );
}
