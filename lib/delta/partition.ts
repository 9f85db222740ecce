/**
 * Partitioning: split an Arrow table by partition columns, name partition directories the way
 * Hive/Spark do, encode `add.path`, and convert partition values to and from their log strings.
 *
 * Two separate steps, each tested: the directory name is `col=<Hive-escaped value>` (null and the
 * empty string → `__HIVE_DEFAULT_PARTITION__`), and `add.path` is that relative path with every
 * segment percent-encoded (RFC 3986; `=` kept). Readers percent-decode `add.path` exactly once.
 *
 * Partition value strings (`add.partitionValues`): numbers as decimal text, booleans
 * `"true"`/`"false"`, dates `YYYY-MM-DD`, timestamps `YYYY-MM-DDTHH:MM:SS.ffffffZ` (UTC, µs),
 * timestamp_ntz `YYYY-MM-DD HH:MM:SS.ffffff`, null → `null`.
 *
 * @module
 */
import * as arrow from "apache-arrow";
import { utf8Repeat } from "../arrow/columns.ts";
import { DeltaError } from "./errors.ts";
import { type DeltaType, parseDecimal, type StructType, toArrowType } from "./schema.ts";
import { decimalText, formatDate } from "./stats.ts";

/** The directory value Hive and Spark use for a null partition value. */
export const HIVE_DEFAULT_PARTITION = "__HIVE_DEFAULT_PARTITION__";

/** Thrown for unusable partition columns or values; the message names the column. */
export class PartitionError extends DeltaError {
  override name = "PartitionError";
}

/** One partition's rows: the partition values (log strings) and the rows without partition columns. */
export interface PartitionGroup {
  /** Partition column → value string (null for null), in partition-column order. */
  values: Record<string, string | null>;
  /** Relative directory, e.g. `date=2024-05-01` (Hive-escaped, not URI-encoded); "" if unpartitioned. */
  directory: string;
  /** The rows of this partition, with the partition columns dropped. */
  table: arrow.Table;
}

function needsHiveEscape(code: number): boolean {
  return code < 0x20 || code === 0x7f || "\"#%'*/:=?\\{[]^".includes(String.fromCharCode(code));
}

/**
 * Escape a partition value for a directory name as Hive does (`%XX` for control characters and
 * `" # % ' * / : = ? \ { [ ] ^` DEL).
 *
 * @example
 * ```ts
 * import { hiveEscape } from "./partition.ts";
 * hiveEscape("2023-11-05 00:00:00"); // "2023-11-05 00%3A00%3A00"
 * ```
 */
export function hiveEscape(value: string): string {
  let out = "";
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    out += needsHiveEscape(c) ? `%${c.toString(16).toUpperCase().padStart(2, "0")}` : value[i];
  }
  return out;
}

/** Undo {@link hiveEscape}. */
export function hiveUnescape(value: string): string {
  return value.replace(/%([0-9A-Fa-f]{2})/g, (_, h) => String.fromCharCode(parseInt(h, 16)));
}

/**
 * The relative directory of a partition: `col=value/…`, values Hive-escaped, null → default.
 *
 * @example
 * ```ts
 * import { partitionDirectory } from "./partition.ts";
 * partitionDirectory(["d", "city"], { d: "2024-05-01", city: null }); // "d=2024-05-01/city=__HIVE_DEFAULT_PARTITION__"
 * ```
 */
export function partitionDirectory(
  partitionColumns: string[],
  values: Record<string, string | null>,
): string {
  return partitionColumns.map((c) => {
    const v = values[c];
    return `${hiveEscape(c)}=${
      v === null || v === undefined || v === "" ? HIVE_DEFAULT_PARTITION : hiveEscape(v)
    }`;
  }).join("/");
}

/**
 * Encode a relative file path for `add.path`: each segment percent-encoded as UTF-8 (`=` kept).
 *
 * @example
 * ```ts
 * import { encodeAddPath } from "./partition.ts";
 * encodeAddPath("ts=2023-11-05 00%3A00%3A00/part-0.parquet"); // "ts=2023-11-05%2000%253A00%253A00/part-0.parquet"
 * ```
 */
export function encodeAddPath(relativePath: string): string {
  return relativePath.split("/").map((s) => encodeURIComponent(s).replace(/%3D/g, "=")).join("/");
}

/** Decode an `add.path` (or `remove.path`) once, as readers must. */
export function decodeAddPath(path: string): string {
  try {
    return decodeURIComponent(path);
  } catch {
    throw new PartitionError(`add.path '${path}' is not a valid percent-encoded URI path`);
  }
}

// ---------------------------------------------------------------------------------------------
// Formatting values

function pad(n: number, w: number): string {
  return String(n).padStart(w, "0");
}

/** Format µs since epoch as `YYYY-MM-DDTHH:MM:SS.ffffffZ` (UTC). */
export function formatTimestampMicros(micros: bigint): string {
  let secs = micros / 1_000_000n;
  let frac = micros % 1_000_000n;
  if (frac < 0n) {
    frac += 1_000_000n;
    secs -= 1n;
  }
  const iso = new Date(Number(secs) * 1000).toISOString(); // YYYY-MM-DDTHH:MM:SS.000Z
  return `${iso.slice(0, -5)}.${pad(Number(frac), 6)}Z`;
}

function isPartitionable(t: DeltaType): boolean {
  return typeof t === "string" && t !== "binary";
}

/** Check that every partition column exists and has a primitive, partitionable type. */
export function validatePartitionColumns(schema: StructType, partitionColumns: string[]): void {
  for (const c of partitionColumns) {
    const f = schema.fields.find((x) => x.name === c);
    if (!f) throw new PartitionError(`partition column '${c}' is not in the table schema`);
    if (!isPartitionable(f.type)) {
      throw new PartitionError(
        `partition column '${c}' has type ${JSON.stringify(f.type)}; partition columns must be ` +
          `primitive (not struct, array, map or binary)`,
      );
    }
  }
  if (partitionColumns.length > 0 && partitionColumns.length === schema.fields.length) {
    throw new PartitionError("at least one column must not be a partition column");
  }
}

function isValid(data: arrow.Data, i: number): boolean {
  if (!data.nullBitmap || data.nullCount === 0) return data.typeId !== arrow.Type.Null;
  const pos = data.offset + i;
  return ((data.nullBitmap[pos >> 3] >> (pos & 7)) & 1) === 1;
}

const utf8Decoder = new TextDecoder();

/**
 * The partition value string of row `i` of an Arrow column chunk for Delta type `type`
 * (null for null; an empty string is also null, as in Spark).
 */
export function formatPartitionValue(data: arrow.Data, i: number, type: DeltaType): string | null {
  if (!isValid(data, i)) return null;
  const v = data.values;
  switch (type) {
    case "byte":
    case "short":
    case "integer":
      return String((v as Int32Array)[i]);
    case "long":
      return String((v as BigInt64Array)[i]);
    case "float":
    case "double":
      return String((v as Float64Array)[i]);
    case "boolean": {
      const pos = data.offset + i;
      return ((v as Uint8Array)[pos >> 3] >> (pos & 7)) & 1 ? "true" : "false";
    }
    case "string": {
      const o = data.valueOffsets as Int32Array;
      const s = utf8Decoder.decode((v as Uint8Array).subarray(o[i], o[i + 1]));
      return s === "" ? null : s;
    }
    case "date":
      return formatDate((v as Int32Array)[i]);
    case "timestamp":
      return formatTimestampMicros((v as BigInt64Array)[i]);
    case "timestamp_ntz":
      return formatTimestampMicros((v as BigInt64Array)[i]).slice(0, -1).replace("T", " ");
  }
  const dec = typeof type === "string" ? parseDecimal(type) : undefined;
  if (dec) {
    const w = v as Uint32Array;
    const b = 4 * i;
    const u = (BigInt(w[b + 3]) << 96n) | (BigInt(w[b + 2]) << 64n) | (BigInt(w[b + 1]) << 32n) |
      BigInt(w[b]);
    return decimalText(BigInt.asIntN(128, u), dec.scale);
  }
  throw new PartitionError(`type ${JSON.stringify(type)} cannot be a partition column`);
}

// ---------------------------------------------------------------------------------------------
// Parsing values

const TS_RE =
  /^(-?\d{4,})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?)?\s*(Z|UTC|[+-]\d{2}:?\d{2})?$/;

/**
 * Parse a timestamp partition value to µs since epoch. Accepts `YYYY-MM-DDTHH:MM:SS[.f]Z`, Spark's
 * `YYYY-MM-DD HH:MM:SS[.f]` (taken as UTC) and explicit offsets.
 */
export function parseTimestampMicros(s: string): bigint {
  const m = TS_RE.exec(s.trim());
  if (!m) {
    throw new PartitionError(
      `'${s}' is not a timestamp (expected YYYY-MM-DD HH:MM:SS[.ffffff][Z])`,
    );
  }
  const [, y, mo, d, h = "0", mi = "0", se = "0", frac = "", zone] = m;
  const base = Date.UTC(0, Number(mo) - 1, Number(d), Number(h), Number(mi), Number(se));
  const yearFix = new Date(base);
  yearFix.setUTCFullYear(Number(y));
  let micros = BigInt(yearFix.getTime()) * 1000n + BigInt((frac + "000000").slice(0, 6));
  if (zone && zone !== "Z" && zone !== "UTC") {
    const sign = zone[0] === "-" ? -1n : 1n;
    const digits = zone.slice(1).replace(":", "");
    const offMin = BigInt(Number(digits.slice(0, 2)) * 60 + Number(digits.slice(2, 4)));
    micros -= sign * offMin * 60_000_000n;
  }
  return micros;
}

/** Parse `YYYY-MM-DD` to days since epoch. */
export function parseDateDays(s: string): number {
  const m = /^(-?\d{4,})-(\d{2})-(\d{2})/.exec(s.trim());
  if (!m) throw new PartitionError(`'${s}' is not a date (expected YYYY-MM-DD)`);
  const dt = new Date(Date.UTC(2000, Number(m[2]) - 1, Number(m[3])));
  dt.setUTCFullYear(Number(m[1]));
  return Math.floor(dt.getTime() / 86_400_000);
}

/** A typed partition value: number, bigint (long, timestamp µs, decimal unscaled), boolean or string. */
export type PartitionValue = number | bigint | boolean | string | null;

/**
 * Parse a partition value string back to a typed value for `type` (null and "" → null).
 * long → bigint; date → days; timestamp(_ntz) → µs bigint; decimal → unscaled bigint.
 *
 * @example
 * ```ts
 * import { parsePartitionValue } from "./partition.ts";
 * parsePartitionValue("2024-05-01T10:00:00.000001Z", "timestamp"); // 1714557600000001n
 * ```
 */
export function parsePartitionValue(s: string | null | undefined, type: DeltaType): PartitionValue {
  if (s === null || s === undefined || s === "") return null;
  const bad = (): never => {
    throw new PartitionError(`partition value '${s}' is not a valid ${JSON.stringify(type)}`);
  };
  switch (type) {
    case "byte":
    case "short":
    case "integer": {
      const n = Number(s);
      return Number.isInteger(n) ? n : bad();
    }
    case "long":
      return /^[+-]?\d+$/.test(s.trim()) ? BigInt(s.trim()) : bad();
    case "float":
    case "double": {
      const n = Number(s);
      return Number.isNaN(n) && s !== "NaN" ? bad() : n;
    }
    case "boolean": {
      const l = s.toLowerCase();
      return l === "true" ? true : l === "false" ? false : bad();
    }
    case "string":
      return s;
    case "date":
      return parseDateDays(s);
    case "timestamp":
    case "timestamp_ntz":
      return parseTimestampMicros(s);
  }
  const dec = typeof type === "string" ? parseDecimal(type) : undefined;
  if (dec) {
    const m = /^([+-]?)(\d*)(?:\.(\d*))?$/.exec(s.trim());
    if (!m) return bad();
    const frac = (m[3] ?? "").padEnd(dec.scale, "0").slice(0, dec.scale);
    const u = BigInt((m[2] || "0") + frac);
    return m[1] === "-" ? -u : u;
  }
  return bad();
}

/** An Arrow vector of `length` copies of one partition value (typed per the Delta type). */
export function constantVector(
  type: DeltaType,
  value: PartitionValue,
  length: number,
): arrow.Vector {
  const at = toArrowType(type);
  if (value === null) {
    const bitmap = new Uint8Array(Math.ceil(length / 8));
    return arrow.makeVector(makeConst(at, type, null, length, bitmap));
  }
  return arrow.makeVector(makeConst(at, type, value, length, undefined));
}

function makeConst(
  at: arrow.DataType,
  type: DeltaType,
  value: PartitionValue,
  length: number,
  nullBitmap: Uint8Array | undefined,
): arrow.Data {
  const nullCount = nullBitmap ? length : 0;
  const base = { type: at, length, nullCount, nullBitmap } as Record<string, unknown>;
  switch (type) {
    case "byte":
      return arrow.makeData(
        { ...base, data: new Int8Array(length).fill(Number(value ?? 0)) } as never,
      );
    case "short":
      return arrow.makeData(
        { ...base, data: new Int16Array(length).fill(Number(value ?? 0)) } as never,
      );
    case "integer":
    case "date":
      return arrow.makeData(
        { ...base, data: new Int32Array(length).fill(Number(value ?? 0)) } as never,
      );
    case "long":
    case "timestamp":
    case "timestamp_ntz":
      return arrow.makeData(
        { ...base, data: new BigInt64Array(length).fill(BigInt(value ?? 0)) } as never,
      );
    case "float":
      return arrow.makeData(
        { ...base, data: new Float32Array(length).fill(Number(value ?? 0)) } as never,
      );
    case "double":
      return arrow.makeData(
        { ...base, data: new Float64Array(length).fill(Number(value ?? 0)) } as never,
      );
    case "boolean":
      return arrow.makeData({
        ...base,
        data: new Uint8Array(Math.ceil(length / 8)).fill(value === true ? 255 : 0),
      } as never);
    case "string":
      return utf8Repeat(value === null ? null : String(value), length);
  }
  if (typeof type === "string" && parseDecimal(type)) {
    const words = new Uint32Array(4 * length);
    if (value !== null) {
      const u = BigInt.asUintN(128, BigInt(value));
      const w = [0, 1, 2, 3].map((k) => Number((u >> BigInt(32 * k)) & 0xffffffffn));
      for (let i = 0; i < length; i++) words.set(w, 4 * i);
    }
    return arrow.makeData({ ...base, data: words } as never);
  }
  throw new PartitionError(`type ${JSON.stringify(type)} cannot be a partition column`);
}

// ---------------------------------------------------------------------------------------------
// Splitting a table

/**
 * Split a table by partition columns: one group per distinct combination of values, rows in their
 * original order, partition columns removed. With no partition columns, one group with the table.
 *
 * @example
 * ```ts
 * import * as arrow from "apache-arrow";
 * import { splitByPartition } from "./partition.ts";
 * import { toDeltaSchema } from "./schema.ts";
 * const table = new arrow.Table({
 *   order_id: arrow.vectorFromArray([1n, 2n], new arrow.Int64()),
 *   order_date: arrow.vectorFromArray(["2024-05-01", "2024-05-02"], new arrow.Utf8()),
 * });
 * for (const g of splitByPartition(table, toDeltaSchema(table.schema), ["order_date"])) {
 *   // g.directory = "order_date=2024-05-01", g.values = { order_date: "2024-05-01" }, g.table.numRows = 1
 * }
 * ```
 */
export function splitByPartition(
  table: arrow.Table,
  schema: StructType,
  partitionColumns: string[],
): PartitionGroup[] {
  if (partitionColumns.length === 0) return [{ values: {}, directory: "", table }];
  validatePartitionColumns(schema, partitionColumns);
  const types = partitionColumns.map((c) => schema.fields.find((f) => f.name === c)!.type);
  const idx = partitionColumns.map((c) => {
    const i = table.schema.fields.findIndex((f) => f.name === c);
    if (i < 0) throw new PartitionError(`partition column '${c}' is missing from the rows`);
    return i;
  });
  const dataCols = table.schema.fields.map((f) => f.name).filter((n) =>
    !partitionColumns.includes(n)
  );

  // Pass 1: a small integer id per distinct raw value of each partition column, per row.
  const n = table.numRows;
  const reps: Array<[number, number]> = []; // representative (batch, row) per composite key
  const keyIndex = new Map<number | string, number>();
  const rowGroup = new Int32Array(n);
  const colIds = idx.map(() => new Map<unknown, number>());
  let base = 0;
  table.batches.forEach((batch, bi) => {
    const cols = idx.map((i) => batch.data.children[i]);
    const readers = cols.map((d, k) => rawReader(d, types[k]));
    for (let r = 0; r < batch.numRows; r++) {
      let key: number | string = 0;
      for (let k = 0; k < cols.length; k++) {
        const raw = readers[k](r);
        const ids = colIds[k];
        let id = ids.get(raw);
        if (id === undefined) {
          id = ids.size;
          ids.set(raw, id);
        }
        key = k === 0 ? id : `${key},${id}`;
      }
      let g = keyIndex.get(key);
      if (g === undefined) {
        g = reps.length;
        keyIndex.set(key, g);
        reps.push([bi, r]);
      }
      rowGroup[base + r] = g;
    }
    base += batch.numRows;
  });

  // Pass 2: format each group's values once; merge groups whose strings coincide ("" and null).
  const groups = new Map<string, { values: Record<string, string | null>; ids: number[] }>();
  reps.forEach(([bi, r], g) => {
    const batch = table.batches[bi];
    const vals = idx.map((i, k) => formatPartitionValue(batch.data.children[i], r, types[k]));
    const key = JSON.stringify(vals);
    let entry = groups.get(key);
    if (!entry) {
      const values: Record<string, string | null> = {};
      partitionColumns.forEach((c, k) => (values[c] = vals[k]));
      entry = { values, ids: [] };
      groups.set(key, entry);
    }
    entry.ids.push(g);
  });
  const data = table.select(dataCols);
  if (groups.size === 1) {
    const only = [...groups.values()][0];
    return [{
      values: only.values,
      directory: partitionDirectory(partitionColumns, only.values),
      table: data,
    }];
  }
  const target = new Int32Array(reps.length);
  const entries = [...groups.values()];
  entries.forEach((e, gi) => e.ids.forEach((id) => (target[id] = gi)));
  const rows: number[][] = entries.map(() => []);
  for (let i = 0; i < n; i++) rows[target[rowGroup[i]]].push(i);
  return entries.map((e, gi) => ({
    values: e.values,
    directory: partitionDirectory(partitionColumns, e.values),
    table: takeRows(data, rows[gi]),
  }));
}

const rawDecoder = new TextDecoder();

/** A function giving a cheap, exact key for row r of a partition column (null → null). */
function rawReader(data: arrow.Data, type: DeltaType): (r: number) => unknown {
  const v = data.values;
  const valid = (r: number) => isValid(data, r);
  switch (type) {
    case "byte":
    case "short":
    case "integer":
    case "date":
    case "long":
    case "timestamp":
    case "timestamp_ntz":
    case "float":
    case "double":
      return (r) => (valid(r) ? v[r] : null);
    case "boolean":
      return (r) => {
        if (!valid(r)) return null;
        const p = data.offset + r;
        return ((v[p >> 3] >> (p & 7)) & 1) === 1;
      };
    case "string": {
      const o = data.valueOffsets as Int32Array;
      const bytes = v as Uint8Array;
      let prevS = -1;
      let prevE = -1;
      let prev = "";
      return (r) => {
        if (!valid(r)) return null;
        const s = o[r];
        const e = o[r + 1];
        if (prevS >= 0 && e - s === prevE - prevS) {
          let same = true;
          for (let q = 0; q < e - s; q++) {
            if (bytes[s + q] !== bytes[prevS + q]) {
              same = false;
              break;
            }
          }
          if (same) return prev;
        }
        prevS = s;
        prevE = e;
        prev = rawDecoder.decode(bytes.subarray(s, e));
        return prev;
      };
    }
    default:
      return (r) => formatPartitionValue(data, r, type);
  }
}

/** Rows of `table` at the given ascending row indices, as a new table (contiguous runs are sliced). */
export function takeRows(table: arrow.Table, rows: number[]): arrow.Table {
  // Turn indices into contiguous runs and slice; gather runs per run into batches.
  const runs: [number, number][] = [];
  for (let i = 0; i < rows.length;) {
    let j = i;
    while (j + 1 < rows.length && rows[j + 1] === rows[j] + 1) j++;
    runs.push([rows[i], rows[j] + 1]);
    i = j + 1;
  }
  if (runs.length <= 64 || rows.length / runs.length >= 256) {
    const batches: arrow.RecordBatch[] = [];
    for (const [s, e] of runs) batches.push(...table.slice(s, e).batches);
    return new arrow.Table(table.schema, batches);
  }
  // Many short runs: gather value by value into fresh buffers, batch by batch.
  const out: arrow.RecordBatch[] = [];
  let start = 0;
  let k = 0;
  for (const batch of table.batches) {
    const end = start + batch.numRows;
    const local: number[] = [];
    while (k < rows.length && rows[k] < end) local.push(rows[k++] - start);
    if (local.length > 0) {
      const children = batch.data.children.map((d) => gather(d, local));
      out.push(
        new arrow.RecordBatch(
          table.schema,
          arrow.makeData({
            type: new arrow.Struct(table.schema.fields),
            length: local.length,
            nullCount: 0,
            children,
          }),
        ),
      );
    }
    start = end;
  }
  return new arrow.Table(table.schema, out);
}

function gatherBitmap(data: arrow.Data, rows: number[]): { bitmap?: Uint8Array; nulls: number } {
  if (!data.nullBitmap || data.nullCount === 0) return { nulls: 0 };
  const out = new Uint8Array(Math.ceil(rows.length / 8));
  let nulls = 0;
  for (let k = 0; k < rows.length; k++) {
    if (isValid(data, rows[k])) out[k >> 3] |= 1 << (k & 7);
    else nulls++;
  }
  return { bitmap: out, nulls };
}

/** Copy the rows of one column chunk (any supported type, nested too). */
export function gather(data: arrow.Data, rows: number[]): arrow.Data {
  const t = data.type;
  const { bitmap, nulls } = gatherBitmap(data, rows);
  const n = rows.length;
  const base = { type: t, length: n, nullCount: nulls, nullBitmap: bitmap } as Record<
    string,
    unknown
  >;
  if (t.typeId === arrow.Type.Null) return arrow.makeData({ type: t, length: n } as never);
  if (arrow.DataType.isStruct(t)) {
    return arrow.makeData(
      { ...base, children: data.children.map((c) => gather(c, rows)) } as never,
    );
  }
  if (arrow.DataType.isBool(t)) {
    const out = new Uint8Array(Math.ceil(n / 8));
    const v = data.values as Uint8Array;
    for (let k = 0; k < n; k++) {
      const pos = data.offset + rows[k];
      if ((v[pos >> 3] >> (pos & 7)) & 1) out[k >> 3] |= 1 << (k & 7);
    }
    return arrow.makeData({ ...base, data: out } as never);
  }
  if (arrow.DataType.isUtf8(t) || arrow.DataType.isBinary(t)) {
    const o = data.valueOffsets as Int32Array;
    const v = data.values as Uint8Array;
    const offsets = new Int32Array(n + 1);
    let total = 0;
    for (let k = 0; k < n; k++) {
      total += o[rows[k] + 1] - o[rows[k]];
      offsets[k + 1] = total;
    }
    const out = new Uint8Array(total);
    for (let k = 0; k < n; k++) out.set(v.subarray(o[rows[k]], o[rows[k] + 1]), offsets[k]);
    return arrow.makeData({ ...base, data: out, valueOffsets: offsets } as never);
  }
  if (arrow.DataType.isList(t) || arrow.DataType.isMap(t)) {
    const o = data.valueOffsets as Int32Array;
    const offsets = new Int32Array(n + 1);
    const childRows: number[] = [];
    for (let k = 0; k < n; k++) {
      for (let c = o[rows[k]]; c < o[rows[k] + 1]; c++) childRows.push(c);
      offsets[k + 1] = childRows.length;
    }
    const child = gather(data.children[0], childRows);
    return arrow.makeData({ ...base, valueOffsets: offsets, child } as never);
  }
  // Fixed width: values[] with stride.
  const v = data.values as Int32Array;
  const stride = data.stride;
  const Ctor = v.constructor as { new (n: number): Int32Array };
  const out = new Ctor(n * stride);
  for (let k = 0; k < n; k++) {
    const s = rows[k] * stride;
    for (let q = 0; q < stride; q++) out[k * stride + q] = v[s + q];
  }
  return arrow.makeData({ ...base, data: out } as never);
}
