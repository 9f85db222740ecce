/**
 * Partitioning: split an Arrow table by partition columns, name partition directories the way
 * Hive/Spark do, and encode `add.path`.
 *
 * Two separate steps, each tested: the directory name is `col=<Hive-escaped value>` (null and the
 * empty string → `__HIVE_DEFAULT_PARTITION__`), and `add.path` is that relative path with every
 * segment percent-encoded (RFC 3986; `=` kept). Readers percent-decode `add.path` exactly once.
 *
 * Partition values themselves (the log strings of each type) are partition_value.ts.
 *
 * @module
 */
import * as arrow from "apache-arrow";
import { batchOf } from "../arrow/columns.ts";
import { formatPartitionValue, PartitionError } from "./partition_value.ts";
import type { DeltaType, StructType } from "./schema.ts";

/** The directory value Hive and Spark use for a null partition value. */
export const HIVE_DEFAULT_PARTITION = "__HIVE_DEFAULT_PARTITION__";

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

function isPartitionable(t: DeltaType): boolean {
  return typeof t === "string";
}

/** Check that every partition column exists and has a primitive, partitionable type. */
export function validatePartitionColumns(schema: StructType, partitionColumns: string[]): void {
  for (const c of partitionColumns) {
    const f = schema.fields.find((x) => x.name === c);
    if (!f) throw new PartitionError(`partition column '${c}' is not in the table schema`);
    if (!isPartitionable(f.type)) {
      throw new PartitionError(
        `partition column '${c}' has type ${JSON.stringify(f.type)}; partition columns must be ` +
          `primitive (not struct, array or map)`,
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
    const readers = cols.map((d, k) => rawReader(d, types[k], partitionColumns[k]));
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
    const vals = idx.map((i, k) => {
      try {
        return formatPartitionValue(batch.data.children[i], r, types[k]);
      } catch (e) {
        throw new PartitionError(
          `partition column '${partitionColumns[k]}': ${(e as Error).message}`,
        );
      }
    });
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
function rawReader(data: arrow.Data, type: DeltaType, column: string): (r: number) => unknown {
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
      return (r) => {
        try {
          return formatPartitionValue(data, r, type);
        } catch (e) {
          throw new PartitionError(`partition column '${column}': ${(e as Error).message}`);
        }
      };
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
      out.push(batchOf(table.schema, local.length, children));
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
