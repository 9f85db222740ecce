/**
 * Reading a table's data files: decode each live file's Parquet, add partition columns from
 * `partitionValues`, fill columns a file lacks with nulls, cast to the table schema's Arrow types
 * and yield one Arrow table per file, columns in table-schema order (or the projection's order).
 *
 * Column mapping: columns and partition values are looked up by their physical names
 * (`delta.columnMapping.physicalName`), so column-mapped tables read correctly. Spark INT96
 * timestamps beyond
 * 1677–2262 are recovered with the file's stats (see {@link repairInt96}).
 *
 * Physical types: a column may be stored in any layout its logical type allows (large, view and
 * dictionary-encoded strings and binaries, large and fixed-size lists, timestamps in s/ms/ns, with
 * or without a zone); each is converted to the table's canonical Arrow type (physical.ts).
 *
 * Deletion vectors on an `add` are applied (the deleted rows are dropped; DV size, CRC-32 and
 * cardinality are checked); a DV that cannot be read fails the scan, naming the deletionVectors
 * feature, so deleted rows are never returned.
 *
 * Refuses (never returns wrong rows): unreadable deletion vectors, paths outside the table root,
 * and file columns whose type cannot become the table's type.
 *
 * @module
 */
import * as arrow from "apache-arrow";
import { batchOf } from "../arrow/columns.ts";
import type { Storage } from "../storage/storage.ts";
import type { AddAction } from "./actions.ts";
import { DeltaError, UnsupportedFeatureError } from "./errors.ts";
import { decodeParquet, parquetSchema } from "./parquet.ts";
import { decodeAddPath, takeRows } from "./partition.ts";
import { constantVector, parsePartitionValue } from "./partition_value.ts";
import { canonicalData, sliceBitmap } from "./physical.ts";
import { type DeletionVectorDescriptor, readDeletionVector } from "./_deletion_vector.ts";
import {
  type DeltaType,
  parseDecimal,
  physicalName,
  type StructType,
  toArrowField,
  toArrowType,
} from "./schema.ts";

/** Options for {@link scanFiles}. */
export interface ScanOptions {
  /** Columns to return (table-schema names), in this order. Default: every column. */
  columns?: string[];
  /** Keep only files whose partition values (log strings, null for null) pass this predicate. */
  partitionFilter?: (values: Record<string, string | null>) => boolean;
  /** Apply deletion vectors (default true); false refuses files that have one. */
  deletionVectors?: boolean;
  /**
   * Row tracking: also return each row's stable row id and row commit version (PROTOCOL.md "Row
   * Tracking": the file's materialized value when there is one, else `baseRowId` + the row's
   * position in the file, and `defaultRowCommitVersion`), as non-null Int64 columns after the
   * others, named after the table's materialized columns. A file without `baseRowId` (or
   * `defaultRowCommitVersion`) for a row that needs it fails the scan.
   */
  rowTracking?: { rowId: string; commitVersion: string };
}

/** Thrown when a data file cannot be read as part of the table; names the file and column. */
export class ScanError extends DeltaError {
  override name = "ScanError";
}

/**
 * Resolve an `add.path` to a path relative to the storage root (decoded once; absolute `file:`
 * URIs and absolute paths inside the root are accepted).
 */
export function resolveDataPath(storage: Storage, addPath: string): string {
  const hasScheme = /^[A-Za-z][A-Za-z0-9+.-]*:/.test(addPath);
  if (!hasScheme) {
    const p = decodeAddPath(addPath);
    if (!p.startsWith("/")) return p;
    return relativeToRoot(storage, p, addPath);
  }
  let abs: string;
  try {
    const u = new URL(addPath);
    if (u.protocol !== "file:") {
      // Same scheme as the root (e.g. abfss://): compare decoded full URLs.
      const root = storage.url.replace(/\/+$/, "") + "/";
      const full = decodeAddPath(addPath);
      if (full.startsWith(root)) return full.slice(root.length);
      throw new ScanError(`data file '${addPath}' is outside the table root '${storage.url}'`);
    }
    abs = decodeURIComponent(u.pathname);
  } catch (e) {
    if (e instanceof ScanError) throw e;
    throw new ScanError(`data file path '${addPath}' is not a valid URI`);
  }
  return relativeToRoot(storage, abs, addPath);
}

function relativeToRoot(storage: Storage, abs: string, original: string): string {
  let root = storage.url;
  if (root.startsWith("file:")) root = decodeURIComponent(new URL(root).pathname);
  root = root.replace(/\/+$/, "") + "/";
  if (abs.startsWith(root)) return abs.slice(root.length);
  throw new ScanError(`data file '${original}' is outside the table root '${storage.url}'`);
}

/**
 * Read the given live files of a table as Arrow tables, one per file.
 *
 * @example
 * ```ts
 * import * as arrow from "apache-arrow";
 * import { scanFiles } from "./scan.ts";
 * import { createTable } from "./table.ts";
 * const dir = await Deno.makeTempDir();
 * const rows = arrow.tableFromArrays({ id: new BigInt64Array([1n, 2n]), qty: new Int32Array([3, 4]) });
 * const table = await createTable(dir, rows.schema);
 * await table.append(rows);
 * const { files, schema, partitionColumns } = await table.snapshot();
 * const batches = scanFiles(table.storage, files, schema, partitionColumns, { columns: ["id"] });
 * for await (const t of batches) t.numRows; // 2: one Arrow table per data file
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export async function* scanFiles(
  storage: Storage,
  files: AddAction[],
  schema: StructType,
  partitionColumns: string[],
  opts: ScanOptions = {},
): AsyncGenerator<arrow.Table> {
  const wanted = opts.columns ?? schema.fields.map((f) => f.name);
  const fields = wanted.map((c) => {
    const f = schema.fields.find((x) => x.name === c) ??
      schema.fields.find((x) => x.name.toLowerCase() === c.toLowerCase());
    if (!f) throw new ScanError(`column '${c}' is not in the table schema`);
    return f;
  });
  const partSet = new Set(partitionColumns);
  const outSchema = new arrow.Schema(fields.map(toArrowField));
  const dataCols = fields.filter((f) => !partSet.has(f.name)).map(physicalName);
  const tracked = opts.rowTracking;
  const readCols = tracked ? [...dataCols, tracked.rowId, tracked.commitVersion] : dataCols;
  const partFields = schema.fields.filter((f) => partSet.has(f.name));

  for (const add of files) {
    const pv = logicalPartitionValues(add.partitionValues ?? {}, partFields);
    if (opts.partitionFilter && !opts.partitionFilter(pv)) continue;
    const rel = resolveDataPath(storage, add.path);
    let deleted: number[] | undefined;
    if (add.deletionVector !== undefined && add.deletionVector !== null) {
      if (opts.deletionVectors === false) {
        throw new UnsupportedFeatureError("deletionVectors", "read", storage.url);
      }
      try {
        deleted = await readDeletionVector(
          storage,
          add.deletionVector as DeletionVectorDescriptor,
          (abs) => resolveDataPath(storage, abs),
        );
      } catch (e) {
        throw new ScanError(
          `file '${rel}': cannot apply its deletion vector (table feature deletionVectors): ` +
            (e as Error).message,
        );
      }
    }
    const bytes = await storage.get(rel);
    let fileTable: arrow.Table;
    try {
      const fileSchema = parquetSchema(bytes);
      fileTable = decodeParquet(bytes, { columns: fileColumns(fileSchema, readCols) });
      fileTable = repairInt96(fileTable, fileSchema, add.stats, rel);
    } catch (e) {
      if (e instanceof ScanError) throw e;
      throw new ScanError(`cannot read data file '${rel}': ${(e as Error).message}`);
    }
    const ids = tracked ? stableRowIds(fileTable, add, tracked, rel) : undefined;
    if (deleted && deleted.length > 0) {
      const keep = keptRows(fileTable.numRows, deleted, rel);
      fileTable = takeRows(fileTable, keep);
      if (ids) {
        ids.rowIds = BigInt64Array.from(keep, (i) => ids.rowIds[i]);
        ids.versions = BigInt64Array.from(keep, (i) => ids.versions[i]);
      }
    }
    const out = assemble(fileTable, fields, partSet, pv, outSchema, rel);
    yield ids
      ? withInt64Columns(out, [[tracked!.rowId, ids.rowIds], [
        tracked!.commitVersion,
        ids.versions,
      ]])
      : out;
  }
}

/** The positions a deletion vector (sorted positions) keeps in a file of `n` rows. */
function keptRows(n: number, deleted: number[], rel: string): number[] {
  if (deleted[deleted.length - 1] >= n) {
    throw new ScanError(
      `file '${rel}': its deletion vector names row ${deleted.at(-1)} but the file has ${n} rows`,
    );
  }
  const keep: number[] = [];
  let d = 0;
  for (let i = 0; i < n; i++) {
    if (d < deleted.length && deleted[d] === i) d++;
    else keep.push(i);
  }
  return keep;
}

/** Int64 values of a file column (null where null), or undefined when the file lacks it. */
function int64Values(table: arrow.Table, name: string): (bigint | null)[] | undefined {
  const i = table.schema.fields.findIndex((f) => f.name === name);
  if (i < 0) return undefined;
  const col = table.getChildAt(i)!;
  const out: (bigint | null)[] = new Array(table.numRows);
  for (let r = 0; r < table.numRows; r++) {
    const v = col.get(r);
    out[r] = v === null || v === undefined ? null : BigInt(v);
  }
  return out;
}

/** The stable row id and row commit version of every row of a file (before deletion vectors). */
function stableRowIds(
  fileTable: arrow.Table,
  add: AddAction,
  names: { rowId: string; commitVersion: string },
  rel: string,
): { rowIds: BigInt64Array; versions: BigInt64Array } {
  const n = fileTable.numRows;
  const matIds = int64Values(fileTable, names.rowId);
  const matVersions = int64Values(fileTable, names.commitVersion);
  const base = add.baseRowId === undefined || add.baseRowId === null
    ? undefined
    : BigInt(add.baseRowId);
  const version = add.defaultRowCommitVersion === undefined || add.defaultRowCommitVersion === null
    ? undefined
    : BigInt(add.defaultRowCommitVersion);
  const rowIds = new BigInt64Array(n);
  const versions = new BigInt64Array(n);
  for (let i = 0; i < n; i++) {
    const id = matIds?.[i] ?? (base === undefined ? undefined : base + BigInt(i));
    const v = matVersions?.[i] ?? version;
    if (id === undefined || v === undefined) {
      throw new ScanError(
        `file '${rel}': row ${i} has no row id or row commit version (its add has no ` +
          `baseRowId/defaultRowCommitVersion and the file no materialized value; feature rowTracking)`,
      );
    }
    rowIds[i] = id;
    versions[i] = v;
  }
  return { rowIds, versions };
}

/** A table with non-null Int64 columns appended (values for all its rows, in order). */
function withInt64Columns(table: arrow.Table, cols: [string, BigInt64Array][]): arrow.Table {
  const fields = [
    ...table.schema.fields,
    ...cols.map(([name]) => new arrow.Field(name, new arrow.Int64(), true)),
  ];
  const schema = new arrow.Schema(fields);
  let at = 0;
  const batches = table.batches.map((b) => {
    const extra = cols.map(([, values]) =>
      arrow.makeData({
        type: new arrow.Int64(),
        length: b.numRows,
        nullCount: 0,
        data: values.subarray(at, at + b.numRows),
      })
    );
    at += b.numRows;
    return batchOf(schema, b.numRows, [...b.data.children, ...extra]);
  });
  return new arrow.Table(schema, batches);
}

/** The file columns to read: the wanted names as the file spells them (Spark matches case-insensitively). */
function fileColumns(fileSchema: arrow.Schema, dataCols: string[]): string[] {
  const names = fileSchema.fields.map((f) => f.name);
  const exact = new Set(names);
  const out: string[] = [];
  for (const c of dataCols) {
    if (exact.has(c)) out.push(c);
    else {
      const alt = names.find((n) => n.toLowerCase() === c.toLowerCase());
      if (alt !== undefined) out.push(alt);
    }
  }
  return out;
}

const TWO_POW_64 = 1n << 64n;

/**
 * Undo the int64-nanosecond wrap of Spark INT96 timestamps beyond 1677–2262.
 *
 * arrow-rs (inside parquet-wasm, and delta-rs too) converts INT96 to int64 nanoseconds with
 * wrapping arithmetic, so 9999-12-31 comes back as a date in 1816. Spark's INT96 values are whole
 * microseconds, so the true value is `wrapped + k·2^64` ns for one integer k; the file's
 * `add.stats` min/max (ms) pick k. Files whose stats stay inside 1677–2262 are left alone; otherwise
 * each value must have exactly one k that puts it inside the stats range, else the file is refused
 * (never returned wrong). Without stats nothing can be checked (the result then equals delta-rs's).
 */
export function repairInt96(
  table: arrow.Table,
  fileSchema: arrow.Schema,
  stats: string | null | undefined,
  rel: string,
): arrow.Table {
  const int96 = fileSchema.fields.filter((f) =>
    arrow.DataType.isTimestamp(f.type) && f.type.unit === arrow.TimeUnit.NANOSECOND &&
    !f.type.timezone
  ).map((f) => f.name);
  if (int96.length === 0 || !stats) return table;
  let parsed: { minValues?: Record<string, unknown>; maxValues?: Record<string, unknown> };
  try {
    parsed = JSON.parse(stats);
  } catch {
    return table;
  }
  const ranges = new Map<string, [bigint, bigint]>();
  for (const c of int96) {
    const lo = Date.parse(String(parsed.minValues?.[c] ?? ""));
    const hi = Date.parse(String(parsed.maxValues?.[c] ?? ""));
    if (Number.isFinite(lo) && Number.isFinite(hi)) {
      ranges.set(c, [BigInt(lo) * 1000n, (BigInt(hi) + 1n) * 1000n - 1n]);
    }
  }
  if (ranges.size === 0) return table;
  const idx = table.schema.fields.map((f) => ranges.get(f.name));
  if (idx.every((r) => r === undefined)) return table;
  let changed = false;
  const batches = table.batches.map((b) => {
    const children = b.data.children.map((d, k) => {
      const range = idx[k];
      const out = range ? repairChunk(d, range, table.schema.fields[k].name, rel) : d;
      if (out !== d) changed = true;
      return out;
    });
    return batchOf(table.schema, b.numRows, children);
  });
  return changed ? new arrow.Table(table.schema, batches) : table;
}

/** µs bounds of what int64 nanoseconds can hold (1677-09-21 … 2262-04-11). */
const NS_WINDOW_LO_US = -(1n << 63n) / 1000n;
const NS_WINDOW_HI_US = ((1n << 63n) - 1n) / 1000n;
/** One wrap period (2^64 ns) in whole µs. */
const WRAP_US = TWO_POW_64 / 1000n;

function repairChunk(
  d: arrow.Data,
  [lo, hi]: [bigint, bigint],
  column: string,
  rel: string,
): arrow.Data {
  // Values within the int64-ns window never wrapped.
  if (lo >= NS_WINDOW_LO_US && hi <= NS_WINDOW_HI_US) return d;
  if (hi - lo >= WRAP_US) {
    throw new ScanError(
      `file '${rel}', column '${column}': INT96 timestamps span more than 584 years and reach ` +
        `outside 1677–2262, so their int64-nanosecond wrap cannot be undone; refusing to return ` +
        `possibly wrong values (rewrite the file with TIMESTAMP(MICROS))`,
    );
  }
  const src = d.values as BigInt64Array;
  let out: BigInt64Array | undefined;
  for (let i = 0; i < d.length; i++) {
    if (d.nullBitmap && d.nullCount > 0) {
      const p = d.offset + i;
      if (((d.nullBitmap[p >> 3] >> (p & 7)) & 1) === 0) continue;
    }
    const v = src[i];
    const fixes: bigint[] = [];
    for (let k = -32n; k <= 32n; k++) {
      // Spark's INT96 values are whole µs, so the wrapped ns remainder is known: 2^64 mod 1000 = 616.
      const r = (((-k * 616n) % 1000n) + 1000n) % 1000n;
      const us = k === 0n ? v : (v * 1000n + r + k * TWO_POW_64) / 1000n;
      if (us >= lo && us <= hi) fixes.push(us);
    }
    if (fixes.length !== 1) {
      throw new ScanError(
        `file '${rel}', column '${column}': INT96 timestamp ${v} µs does not fit the file's stats ` +
          `range and cannot be recovered; refusing to return a wrong value`,
      );
    }
    if (fixes[0] !== v) {
      out ??= src.slice();
      out[i] = fixes[0];
    }
  }
  if (!out) return d;
  return d.clone(
    d.type,
    d.offset,
    d.length,
    d.nullCount,
    [d.valueOffsets, out, d.nullBitmap, d.typeIds] as never,
  );
}

function assemble(
  fileTable: arrow.Table,
  fields: StructType["fields"],
  partSet: Set<string>,
  pv: Record<string, string | null>,
  outSchema: arrow.Schema,
  rel: string,
): arrow.Table {
  const n = fileTable.numRows;
  const byName = new Map<string, number>();
  fileTable.schema.fields.forEach((f, i) => byName.set(f.name, i));
  const byLower = new Map<string, number>();
  fileTable.schema.fields.forEach((f, i) => byLower.set(f.name.toLowerCase(), i));

  const batches = fileTable.batches.length ? fileTable.batches : [];
  const outBatches: arrow.RecordBatch[] = [];
  const makeBatch = (len: number, source: arrow.RecordBatch | undefined) => {
    const children = fields.map((f) => {
      const target = toArrowType(f.type);
      if (partSet.has(f.name)) {
        const raw = pv[f.name] ?? null;
        let value;
        try {
          value = parsePartitionValue(raw, f.type);
        } catch (e) {
          throw new ScanError(`file '${rel}': ${(e as Error).message}`);
        }
        return constantVector(f.type, value, len).data[0];
      }
      const phys = physicalName(f);
      const idx = byName.get(phys) ?? byLower.get(phys.toLowerCase());
      if (idx === undefined || !source) return nullData(target, len);
      try {
        return castData(source.data.children[idx], f.type, target);
      } catch (e) {
        throw new ScanError(`file '${rel}', column '${f.name}': ${(e as Error).message}`);
      }
    });
    outBatches.push(batchOf(outSchema, len, children));
  };
  if (batches.length === 0) makeBatch(n, undefined);
  for (const b of batches) makeBatch(b.numRows, b);
  return new arrow.Table(outSchema, outBatches);
}

/** Partition values keyed by logical column names (column-mapping tables key them by physical name). */
function logicalPartitionValues(
  raw: Record<string, string | null>,
  partFields: StructType["fields"],
): Record<string, string | null> {
  const out: Record<string, string | null> = {};
  for (const f of partFields) {
    const phys = physicalName(f);
    out[f.name] = phys in raw
      ? raw[phys]
      : f.name in raw
      ? raw[f.name]
      : findCaseInsensitive(raw, f.name);
  }
  return out;
}

function findCaseInsensitive(pv: Record<string, string | null>, name: string): string | null {
  const l = name.toLowerCase();
  for (const [k, v] of Object.entries(pv)) if (k.toLowerCase() === l) return v;
  return null;
}

/** An all-null column chunk of any Arrow type. */
export function nullData(type: arrow.DataType, length: number): arrow.Data {
  const nullBitmap = new Uint8Array(Math.ceil(length / 8));
  const base = { type, length, nullCount: length, nullBitmap } as Record<string, unknown>;
  if (arrow.DataType.isStruct(type)) {
    return arrow.makeData(
      { ...base, children: type.children.map((c) => nullData(c.type, length)) } as never,
    );
  }
  if (arrow.DataType.isList(type) || arrow.DataType.isMap(type)) {
    return arrow.makeData({
      ...base,
      valueOffsets: new Int32Array(length + 1),
      child: nullData(type.children[0].type, 0),
    } as never);
  }
  if (arrow.DataType.isUtf8(type) || arrow.DataType.isBinary(type)) {
    return arrow.makeData(
      { ...base, valueOffsets: new Int32Array(length + 1), data: new Uint8Array(0) } as never,
    );
  }
  if (arrow.DataType.isBool(type)) {
    return arrow.makeData({ ...base, data: new Uint8Array(Math.ceil(length / 8)) } as never);
  }
  const probe = arrow.makeData({ type, length: 0 } as never) as arrow.Data;
  const Ctor = (probe.values as Int32Array).constructor as { new (n: number): Int32Array };
  return arrow.makeData({ ...base, data: new Ctor(length * probe.stride) } as never);
}

function sameShape(a: arrow.DataType, b: arrow.DataType): boolean {
  if (a.typeId !== b.typeId) return false;
  if (arrow.DataType.isInt(a)) {
    return a.bitWidth === (b as arrow.Int).bitWidth && a.isSigned === (b as arrow.Int).isSigned;
  }
  if (arrow.DataType.isFloat(a)) return a.precision === (b as arrow.Float).precision;
  if (arrow.DataType.isDate(a)) return a.unit === (b as arrow.Date_).unit;
  if (arrow.DataType.isTimestamp(a)) return a.unit === (b as arrow.Timestamp).unit; // zone is a label
  if (arrow.DataType.isDecimal(a)) {
    return a.scale === (b as arrow.Decimal).scale && a.bitWidth === (b as arrow.Decimal).bitWidth;
  }
  return arrow.DataType.isUtf8(a) || arrow.DataType.isBinary(a) || arrow.DataType.isBool(a);
}

/**
 * Cast one file column chunk to the table's Arrow type: bring it to its canonical layout
 * (physical.ts: large, view, dictionary, other timestamp units), then relabel, widen, reorder
 * struct fields.
 */
export function castData(
  data: arrow.Data,
  deltaType: DeltaType,
  target: arrow.DataType,
): arrow.Data {
  data = canonicalData(data);
  const src = data.type;
  if (typeof deltaType !== "string") {
    if (deltaType.type === "struct") {
      if (!arrow.DataType.isStruct(src)) throw new Error(`expected a struct, the file has ${src}`);
      const children = deltaType.fields.map((f, i) => {
        const childTarget = (target as arrow.Struct).children[i].type;
        const phys = physicalName(f);
        const j = src.children.findIndex((c) => c.name === phys) >= 0
          ? src.children.findIndex((c) => c.name === phys)
          : src.children.findIndex((c) => c.name.toLowerCase() === phys.toLowerCase());
        return j < 0
          ? nullData(childTarget, data.length)
          : castData(data.children[j], f.type, childTarget);
      });
      return data.clone(target, data.offset, data.length, data.nullCount, data.buffers, children);
    }
    if (deltaType.type === "array") {
      if (!arrow.DataType.isList(src)) throw new Error(`expected a list, the file has ${src}`);
      const child = castData(
        data.children[0],
        deltaType.elementType,
        (target as arrow.List).children[0].type,
      );
      return data.clone(target, data.offset, data.length, data.nullCount, data.buffers, [child]);
    }
    // map: entries struct (key, value)
    if (!arrow.DataType.isMap(src)) throw new Error(`expected a map, the file has ${src}`);
    const entries = data.children[0];
    const tEntries = (target as arrow.Map_).children[0].type as arrow.Struct;
    const k = castData(entries.children[0], deltaType.keyType, tEntries.children[0].type);
    const v = castData(entries.children[1], deltaType.valueType, tEntries.children[1].type);
    const e2 = entries.clone(
      tEntries,
      entries.offset,
      entries.length,
      entries.nullCount,
      entries.buffers,
      [k, v],
    );
    return data.clone(target, data.offset, data.length, data.nullCount, data.buffers, [e2]);
  }
  if (sameShape(src, target)) {
    return data.clone(
      target,
      data.offset,
      data.length,
      data.nullCount,
      data.buffers,
      data.children,
    );
  }
  if (src.typeId === arrow.Type.Null) return nullData(target, data.length);
  // Widening casts (type widening / schema evolution).
  const widen = (Ctor: { new (n: number): ArrayLike<number> & { [i: number]: number } }) => {
    const v = data.values as Int32Array;
    const out = new Ctor(data.length);
    for (let i = 0; i < data.length; i++) out[i] = v[i];
    return arrow.makeData({
      type: target,
      offset: 0,
      length: data.length,
      nullCount: data.nullCount,
      nullBitmap: sliceBitmap(data),
      data: out,
    } as never) as arrow.Data;
  };
  if (
    arrow.DataType.isInt(src) && src.isSigned && src.bitWidth < 64 && arrow.DataType.isInt(target)
  ) {
    if (target.bitWidth === 64) {
      const v = data.values as Int32Array;
      const out = new BigInt64Array(data.length);
      for (let i = 0; i < data.length; i++) out[i] = BigInt(v[i]);
      return arrow.makeData({
        type: target,
        length: data.length,
        nullCount: data.nullCount,
        nullBitmap: sliceBitmap(data),
        data: out,
      } as never);
    }
    if (target.bitWidth > src.bitWidth) {
      return widen(target.bitWidth === 32 ? Int32Array : Int16Array);
    }
  }
  if (arrow.DataType.isInt(src) && src.bitWidth < 64 && arrow.DataType.isFloat(target)) {
    return widen(target.precision === arrow.Precision.DOUBLE ? Float64Array : Float32Array);
  }
  if (
    arrow.DataType.isFloat(src) && src.precision === arrow.Precision.SINGLE &&
    arrow.DataType.isFloat(target)
  ) {
    return widen(Float64Array);
  }
  if (
    arrow.DataType.isDecimal(src) && arrow.DataType.isDecimal(target) && parseDecimal(deltaType)
  ) {
    if (src.scale === target.scale && src.bitWidth === 128) {
      return data.clone(
        target,
        data.offset,
        data.length,
        data.nullCount,
        data.buffers,
        data.children,
      );
    }
  }
  throw new Error(`the file's type ${src} cannot be read as the table's type '${deltaType}'`);
}
