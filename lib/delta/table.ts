/**
 * The public face of a Delta table: create, open, append, overwrite, txn-only commits, snapshots
 * (latest, by version, by timestamp), read (via scan.ts), history, and the schema changes
 * supported: adding nullable top-level columns ({@link addColumns}, or `mergeSchema` on a write),
 * and, with `mergeSchema` on a table with the `typeWidening` feature enabled, widening a column's
 * type (widening.ts).
 *
 * Data files are written first (Parquet, snappy by default, split to a target size), then one
 * commit holds their `add` actions (with stats and partitionValues) and any `txn` actions. After a
 * commit at a multiple of `delta.checkpointInterval` (default 10) a checkpoint is written; a
 * checkpoint failure is logged and never fails the commit.
 *
 * @module
 */
import * as arrow from "apache-arrow";
import { openStorage } from "../storage/mod.ts";
import type { Storage } from "../storage/storage.ts";
import {
  type Action,
  type AddAction,
  type CommitInfo,
  type Long,
  type Metadata,
  type Protocol,
  type RemoveAction,
  removeOf,
  type Txn,
} from "./actions.ts";
import { checkpointStateOf, DEFAULT_CHECKPOINT_INTERVAL, writeCheckpoint } from "./checkpoint.ts";
import { commit, makeCommitInfo } from "./commit.ts";
import { constraintViolations, tableConstraints } from "./constraints.ts";
import {
  AppendOnlyError,
  ConcurrentModificationError,
  ConstraintViolationError,
  DeltaError,
  SchemaMismatchError,
  TableExistsError,
  TableNotFoundError,
} from "./errors.ts";
import { inCommitTimestampsEnabled, propertyFeatures, withTightBounds } from "./features.ts";
import { listLog } from "./log.ts";
import { encodeParquet } from "./parquet.ts";
import {
  encodeAddPath,
  partitionDirectory,
  splitByPartition,
  validatePartitionColumns,
} from "./partition.ts";
import {
  assignColumnMapping,
  COLUMN_MAPPING_MAX_ID,
  columnMappingMode,
  maxColumnId,
  physicalLayout,
} from "./column_mapping.ts";
import {
  ROW_TRACKING_PRESERVED_TAG,
  rowIdHighWaterMark,
  rowTrackingSupported,
} from "./row_tracking.ts";
import { scanFiles } from "./scan.ts";
import { newTableLayout, requestedColumnMapping } from "./new_table.ts";
import {
  assignNestedIds,
  checkIcebergCompat,
  checkNumRecords,
  icebergCompatVersions,
  materializesPartitions,
  maxNestedId,
  withPartitionColumns,
} from "./iceberg_compat.ts";
import { canWiden, TYPE_WIDENING_PROPERTY, typeWideningEnabled, widenedField } from "./widening.ts";
import {
  schemaFeatures,
  schemaToString,
  type StructField,
  type StructType,
  toArrowSchema,
  toArrowType,
  toDeltaSchema,
  validateSchema,
} from "./schema.ts";
import {
  advanceSnapshot,
  checkWritable,
  loadSnapshot,
  readTimeline,
  type Snapshot,
  type SnapshotAt,
} from "./snapshot.ts";
import { computeStats, statsOptionsFromConfiguration } from "./stats.ts";
import { arrowBytes, conformTable, sameType } from "./_validate.ts";

/** A table location: a path, a file:// URL, or an opened Storage. */
export type TableLocation = string | Storage;

/** Options for {@link createTable}. */
export interface CreateTableOptions {
  /** Top-level primitive columns to partition by (default none). */
  partitionColumns?: string[];
  /** Table properties, e.g. `{"delta.appendOnly": "true"}` (values are strings). */
  configuration?: Record<string, string>;
  /** Return the existing table instead of failing when one is there. */
  ifNotExists?: boolean;
  /** Optional table name and description (metaData). */
  name?: string;
  description?: string;
}

/** Txn pairs to commit with a write: `{appId: version}` or a list. */
export type TxnInput = Record<string, Long> | Array<{ appId: string; version: Long }>;

/** Options shared by {@link append}, {@link overwrite} and {@link commitTxns}. */
export interface WriteOptions {
  /** (appId, version) pairs committed in the same version (exactly-once bookkeeping). */
  txns?: TxnInput;
  /**
   * For each appId, the txn version the writer last read (undefined = none). At commit time (after
   * any retry re-read) a different table version fails the write with TxnConflictError.
   */
  expectedTxns?: Record<string, Long | undefined>;
  /** Target data file size in bytes, measured on the in-memory Arrow data (default 128 MiB). */
  targetFileSize?: number;
  /** Parquet codec (default snappy). */
  compression?: "snappy" | "zstd";
  /** Rows per Parquet row group (parquet.ts default when unset). */
  rowGroupSize?: number;
  /**
   * Parquet column statistics of the new files (parquet.ts `statistics`; default `"page"`).
   * The log's `add.stats` are written either way.
   */
  parquetStatistics?: "page" | "chunk" | "none";
  /** commitInfo.operation (default `WRITE`; streams use `STREAMING UPDATE`). */
  operation?: string;
  /** Extra commitInfo.operationParameters (values become strings). */
  operationParameters?: Record<string, unknown>;
  /** Commit attempts before giving up (default 15). */
  maxAttempts?: number;
  /** Write a checkpoint when the version is due (default true). */
  checkpoint?: boolean;
  /**
   * Schema evolution, the minimal safe form: when the data has top-level columns the table lacks,
   * and every one of them is nullable, the table schema gains them (appended at the end, in the
   * data's order) in the same commit as the data; older files read them as null. A new column
   * that is not nullable, or that needs a table feature (e.g. `timestamp_ntz`), is refused with
   * SchemaMismatchError. A column whose data has a wider type than the table's (int where the
   * table has short, double where it has float, …) widens the column in the same commit when the
   * table has the `typeWidening` feature enabled (widening.ts), and is refused otherwise. Off by
   * default: an unknown column is an error.
   */
  mergeSchema?: boolean;
  /**
   * A writer's cache of the table's snapshot across writes: when it holds one, the write reads
   * only the commits after it ({@link advanceSnapshot}, no log listing) instead of loading the
   * table; the write leaves the snapshot it started from in it. A stream keeps one per table.
   */
  snapshotCache?: SnapshotCache;
}

/** Holder of the last snapshot a writer read (see {@link WriteOptions.snapshotCache}). */
export interface SnapshotCache {
  snapshot?: Snapshot;
}

/** What a write committed. */
export interface WriteResult {
  /** Version the commit landed at. */
  version: number;
  /** Data files added. */
  files: AddAction[];
  /** Rows written. */
  numRows: number;
  /** Commit attempts used. */
  attempts: number;
}

/** Options for {@link read}. */
export interface ReadOptions extends SnapshotAt {
  /** Columns to return, in the order given (default: all, in table order). */
  columns?: string[];
  /** Keep only files whose partition values pass (values are the log strings, null for null). */
  partitionFilter?: (values: Record<string, string | null>) => boolean;
}

/** One commit as history shows it (newest first). */
export interface HistoryEntry {
  version: number;
  /** Commit time, ms since epoch (see snapshot.ts for how it is chosen). */
  timestamp: number;
  operation: string | undefined;
  operationParameters: Record<string, string>;
  /** Rows added (operationMetrics.numOutputRows), when recorded. */
  numOutputRows: number | undefined;
  operationMetrics: Record<string, string>;
  readVersion: number | undefined;
  isBlindAppend: boolean | undefined;
  engineInfo: string | undefined;
}

/** An opened Delta table: its location, storage and bound operations. */
export interface DeltaTable {
  /** The table location as given (path or URL). */
  readonly location: string;
  /** Storage rooted at the table. */
  readonly storage: Storage;
  /** Snapshot at the latest version, a version, or a timestamp. */
  snapshot(at?: SnapshotAt): Promise<Snapshot>;
  /** Append rows (see {@link append}). */
  append(data: arrow.Table, opts?: WriteOptions): Promise<WriteResult>;
  /** Replace all rows (see {@link overwrite}). */
  overwrite(data: arrow.Table, opts?: WriteOptions): Promise<WriteResult>;
  /** Commit txn actions only (see {@link commitTxns}). */
  commitTxns(txns: TxnInput, opts?: WriteOptions): Promise<WriteResult>;
  /** Read rows into one Arrow table (see {@link read}). */
  read(opts?: ReadOptions): Promise<arrow.Table>;
  /** Read rows as a stream of Arrow tables, one per data file. */
  readBatches(opts?: ReadOptions): AsyncGenerator<arrow.Table>;
  /** Commit history, newest first. */
  history(opts?: { limit?: number }): Promise<HistoryEntry[]>;
}

function storageOf(location: TableLocation): Storage {
  return typeof location === "string" ? openStorage(location) : location;
}

function handle(storage: Storage): DeltaTable {
  return {
    location: storage.url,
    storage,
    snapshot: (at) => loadSnapshot(storage, at),
    append: (data, opts) => append(storage, data, opts),
    overwrite: (data, opts) => overwrite(storage, data, opts),
    commitTxns: (txns, opts) => commitTxns(storage, txns, opts),
    read: (opts) => read(storage, opts),
    readBatches: (opts) => readBatches(storage, opts),
    history: (opts) => history(storage, opts),
  };
}

/**
 * Create a Delta table from an Arrow schema (version 0: protocol, metaData, commitInfo).
 *
 * @example
 * ```ts
 * import * as arrow from "apache-arrow";
 * import { createTable } from "./table.ts";
 * const schema = new arrow.Schema([
 *   new arrow.Field("order_id", new arrow.Int64(), false),
 *   new arrow.Field("state", new arrow.Utf8()),
 * ]);
 * const dir = await Deno.makeTempDir();
 * const t = await createTable(`${dir}/orders`, schema, { partitionColumns: ["state"] });
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export async function createTable(
  location: TableLocation,
  schema: arrow.Schema,
  opts: CreateTableOptions = {},
): Promise<DeltaTable> {
  const storage = storageOf(location);
  const asked: Record<string, string> = {};
  for (const [k, v] of Object.entries(opts.configuration ?? {})) asked[k] = String(v);
  // Column mapping, row tracking, icebergCompat: ids, physical names, properties (new_table.ts).
  const columnMapping = requestedColumnMapping(asked) !== "none";
  const layout = newTableLayout(toDeltaSchema(schema, { columnMapping }), asked, storage.url);
  const { schema: deltaSchema, configuration } = layout;
  const partitionColumns = opts.partitionColumns ?? [];
  validatePartitionColumns(deltaSchema, partitionColumns);
  const existing = await listLog(storage);
  if (existing.commits.length > 0 || existing.checkpoints.length > 0) {
    if (opts.ifNotExists) return openTable(storage);
    throw new TableExistsError(
      `a Delta table already exists at '${storage.url}'; open it, or pass ifNotExists: true`,
    );
  }
  const features = [...schemaFeatures(deltaSchema), ...propertyFeatures(configuration)];
  // CHECK constraints given as properties must be in the subset we enforce, and need writer
  // version 3 (or the checkConstraints feature), as Spark's ADD CONSTRAINT sets.
  const checks = tableConstraints(configuration, deltaSchema, storage.url).some((c) =>
    c.kind === "check"
  );
  // Writer version 7 lists the features writer version 2 implied, as Spark does: Spark refuses a
  // table whose NOT NULL columns (invariants) or delta.appendOnly lack them in writerFeatures.
  features.push(...layout.readerWriter);
  const protocol: Protocol = features.length + layout.writerOnly.length === 0
    ? { minReaderVersion: 1, minWriterVersion: checks ? 3 : 2 }
    : {
      minReaderVersion: features.length ? 3 : 1,
      minWriterVersion: 7,
      ...(features.length ? { readerFeatures: features } : {}),
      writerFeatures: [
        "appendOnly",
        "invariants",
        ...(checks ? ["checkConstraints"] : []),
        ...features,
        ...layout.writerOnly,
      ],
    };
  const now = Date.now();
  const metaData: Metadata = {
    id: crypto.randomUUID(),
    ...(opts.name !== undefined ? { name: opts.name } : {}),
    ...(opts.description !== undefined ? { description: opts.description } : {}),
    format: { provider: "parquet", options: {} },
    schemaString: schemaToString(deltaSchema),
    partitionColumns,
    configuration,
    createdTime: now,
  };
  const info = makeCommitInfo("CREATE TABLE", {
    isManaged: "false",
    description: opts.description ?? "",
    partitionBy: JSON.stringify(partitionColumns),
    properties: JSON.stringify(configuration),
  }, { timestamp: now, isolationLevel: "Serializable", isBlindAppend: true });
  try {
    await commit(storage, -1, [{ protocol }, { metaData }], info);
  } catch (e) {
    if (e instanceof TableExistsError && opts.ifNotExists) return openTable(storage);
    throw e;
  }
  return handle(storage);
}

/** Open an existing table (checks that it exists and is readable). */
export async function openTable(location: TableLocation): Promise<DeltaTable> {
  const storage = storageOf(location);
  await loadSnapshot(storage);
  return handle(storage);
}

function toTxns(input: TxnInput | undefined, now: number): Txn[] {
  if (!input) return [];
  const list = Array.isArray(input)
    ? input
    : Object.entries(input).map(([appId, version]) => ({ appId, version }));
  const seen = new Set<string>();
  return list.map(({ appId, version }) => {
    if (seen.has(appId)) {
      throw new DeltaError(`txn appId '${appId}' given twice; one version per appId per commit`);
    }
    seen.add(appId);
    const b = BigInt(version);
    if (b < -(2n ** 63n) || b >= 2n ** 63n) {
      throw new DeltaError(
        `txn version ${version} for '${appId}' does not fit a signed 64-bit long`,
      );
    }
    return { appId, version, lastUpdated: now };
  });
}

function stringParams(o: Record<string, unknown> | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(o ?? {})) {
    out[k] = typeof v === "string" ? v : typeof v === "bigint" ? v.toString() : JSON.stringify(v);
  }
  return out;
}

/** Write the data files of `data` (already conformed) and return their add actions. */
async function writeFiles(
  storage: Storage,
  snap: Snapshot,
  schema: StructType,
  data: arrow.Table,
  opts: WriteOptions,
): Promise<AddAction[]> {
  if (data.numRows === 0) return [];
  const codec = opts.compression ?? "snappy";
  const target = opts.targetFileSize ?? 128 * 1024 * 1024;
  const statsOpts = {
    ...statsOptionsFromConfiguration(snap.configuration),
    partitionColumns: snap.partitionColumns,
  };
  // Column mapping: files hold physical names and field ids; stats and partition values are
  // keyed by physical names (column_mapping.ts).
  const layout = physicalLayout(
    columnMappingMode(snap.protocol, snap.configuration, storage.url),
    schema,
    snap.partitionColumns,
  );
  const iceberg = materializesPartitions(snap.protocol, snap.configuration);
  const adds: AddAction[] = [];
  for (const group of splitByPartition(data, schema, snap.partitionColumns)) {
    const t = group.table;
    const bytesPerRow = Math.max(1, arrowBytes(t) / Math.max(1, t.numRows));
    const rowsPerFile = Math.max(1, Math.floor(target / bytesPerRow));
    const values = layout ? layout.partitionValues(group.values) : group.values;
    const directory = layout && snap.partitionColumns.length
      ? partitionDirectory(layout.partitionColumns, values)
      : group.directory;
    for (let start = 0; start < t.numRows; start += rowsPerFile) {
      let rows = t.slice(start, Math.min(t.numRows, start + rowsPerFile));
      // Iceberg compatibility: the files hold the partition columns too, after the data columns.
      if (iceberg) rows = withPartitionColumns(rows, schema, snap.partitionColumns, group.values);
      const chunk = layout ? layout.toPhysical(rows) : rows;
      const bytes = encodeParquet(chunk, {
        compression: codec,
        rowGroupSize: opts.rowGroupSize,
        statistics: opts.parquetStatistics,
      });
      const name = `part-00000-${crypto.randomUUID()}-c000.${codec}.parquet`;
      const rel = directory ? `${directory}/${name}` : name;
      await storage.put(rel, bytes);
      const stats = layout
        ? computeStats(chunk, layout.schema, layout.statsOptions(statsOpts))
        : computeStats(chunk, schema, statsOpts);
      adds.push({
        path: encodeAddPath(rel),
        partitionValues: values,
        size: bytes.length,
        modificationTime: Date.now(),
        dataChange: true,
        stats: withTightBounds(stats, snap.protocol),
      });
    }
  }
  return adds;
}

function checkpointInterval(config: Record<string, string>): number {
  const n = Number(config["delta.checkpointInterval"]);
  return Number.isInteger(n) && n > 0 ? n : DEFAULT_CHECKPOINT_INTERVAL;
}

/** Write a checkpoint if `version` is due; failures are logged, never thrown. */
export async function maybeCheckpoint(
  storage: Storage,
  version: number,
  config: Record<string, string>,
  cache?: SnapshotCache,
) {
  if (version === 0 || version % checkpointInterval(config) !== 0) return;
  try {
    // With a writer's cache: the state at `version` from the commits after the cached snapshot
    // (no listing), unless other writers already went past it.
    let s = cache?.snapshot ? await advanceSnapshot(cache.snapshot, storage) : undefined;
    if (s && cache) cache.snapshot = s;
    if (s?.version !== version) s = await loadSnapshot(storage, { version });
    await writeCheckpoint(storage, checkpointStateOf(s));
  } catch (e) {
    console.warn(
      `delta: checkpoint of version ${version} at '${storage.url}' failed (commit is fine): ${
        (e as Error).message
      }`,
    );
  }
}

async function write(
  storage: Storage,
  data: arrow.Table | undefined,
  mode: "Append" | "Overwrite",
  opts: WriteOptions,
): Promise<WriteResult> {
  const cache = opts.snapshotCache;
  const snap = cache?.snapshot
    ? await advanceSnapshot(cache.snapshot, storage)
    : await loadSnapshot(storage);
  if (cache) cache.snapshot = snap;
  checkWritable(snap.protocol, snap.schema, storage.url, snap.configuration);
  if (mode === "Overwrite" && snap.configuration["delta.appendOnly"] === "true") {
    throw new AppendOnlyError(
      `table '${storage.url}' is append-only (delta.appendOnly=true): overwrite is refused; append instead`,
    );
  }
  const now = Date.now();
  const txns = toTxns(opts.txns, now);
  const evolved = data && opts.mergeSchema
    ? mergeColumns(snap, data.schema, storage.url)
    : undefined;
  const schema = evolved?.schema ?? snap.schema;
  const conformed = data ? conformTable(data, schema) : undefined;
  if (conformed) {
    // CHECK constraints and column invariants: one violating row refuses the whole write.
    const constraints = tableConstraints(snap.configuration, schema, storage.url);
    const first = constraintViolations(constraints, conformed, 1)[0];
    if (first) throw new ConstraintViolationError(first.constraint.name, first.row, first.message);
  }
  const adds = conformed ? await writeFiles(storage, snap, schema, conformed, opts) : [];
  checkNumRecords(adds, snap.protocol, snap.configuration, storage.url);
  const removes: RemoveAction[] = mode === "Overwrite"
    ? snap.files.map((f) => removeOf(f, now, true))
    : [];
  const numRows = conformed?.numRows ?? 0;
  const actions: Action[] = [
    ...(evolved
      ? [{ metaData: evolvedMetadata(snap, evolved.schema, evolved.configuration) }]
      : []),
    ...txns.map((txn) => ({ txn })),
    ...removes.map((remove) => ({ remove })),
    ...adds.map((add) => ({ add })),
  ];
  const rowTracking = rowTrackingSupported(snap.protocol, snap.configuration);
  const info: CommitInfo = makeCommitInfo(opts.operation ?? "WRITE", {
    mode,
    partitionBy: JSON.stringify(snap.partitionColumns),
    ...stringParams(opts.operationParameters),
  }, {
    // Row tracking: an append copies no row, so every stable row id is "preserved".
    ...(rowTracking && adds.length ? { tags: { [ROW_TRACKING_PRESERVED_TAG]: "true" } } : {}),
    // Taken after the data files are written, so the commit time is close to the commit file's
    // mtime (which Spark uses for history and timestampAsOf) even when the write takes long.
    timestamp: Date.now(),
    isolationLevel: "Serializable",
    isBlindAppend: mode === "Append",
    operationMetrics: {
      numFiles: String(adds.length),
      numOutputRows: String(numRows),
      numOutputBytes: String(adds.reduce((s, a) => s + a.size, 0)),
      ...(mode === "Overwrite" ? { numRemovedFiles: String(removes.length) } : {}),
    },
  });
  const result = await commit(storage, snap.version, actions, info, {
    maxAttempts: opts.maxAttempts,
    expectedTxns: opts.expectedTxns,
    currentTxns: snap.txns,
    readsWholeTable: mode === "Overwrite",
    inCommitTimestamps: inCommitTimestampsEnabled(snap.configuration),
    rowIdHighWaterMark: rowTracking && adds.length ? rowIdHighWaterMark(snap) : undefined,
  });
  if (opts.checkpoint !== false) {
    await maybeCheckpoint(storage, result.version, snap.configuration, cache);
  }
  // The adds as committed (with row ids on row-tracking tables).
  const files = rowTracking
    ? result.actions.filter((a) => "add" in a).map((a) => (a as { add: AddAction }).add)
    : adds;
  return { version: result.version, files, numRows, attempts: result.attempts };
}

/** The table schema plus the columns of `incoming` it lacks, or undefined when it lacks none. */
function mergeColumns(
  snap: Snapshot,
  incoming: arrow.Schema,
  table: string,
):
  | { schema: StructType; added: StructField[]; configuration?: Record<string, string> }
  | undefined {
  const have = new Map(snap.schema.fields.map((f) => [f.name, f]));
  const mapped = columnMappingMode(snap.protocol, snap.configuration, table) !== "none";
  const widening = typeWideningEnabled(snap.protocol, snap.configuration);
  const widened = new Map<string, StructField>();
  let added: StructField[] = [];
  for (const f of incoming.fields) {
    const old = have.get(f.name);
    if (old) {
      const expected = toArrowType(old.type);
      if (!sameType(f.type, expected)) {
        // Type widening (widening.ts): a wider type for the column, where the table allows it.
        const to = toDeltaSchema(new arrow.Schema([f]), { columnMapping: true }).fields[0].type;
        if (widening && canWiden(old.type, to)) {
          widened.set(f.name, widenedField(old, to));
          continue;
        }
        throw new SchemaMismatchError(
          f.name,
          `column '${f.name}' has Arrow type ${f.type} but the table needs ${expected}; ` +
            (canWiden(old.type, to)
              ? `widening '${old.type}' to '${to}' needs the table feature 'typeWidening' ` +
                `with ${TYPE_WIDENING_PROPERTY}=true`
              : `only new nullable columns can be added, existing ones keep their type`),
        );
      }
      continue;
    }
    if (!f.nullable) {
      throw new SchemaMismatchError(
        f.name,
        `column '${f.name}' is not in the schema of '${table}' and is not nullable: only ` +
          `nullable columns can be added (the rows already written read them as null)`,
      );
    }
    added.push(...toDeltaSchema(new arrow.Schema([f]), { columnMapping: mapped }).fields);
  }
  if (added.length === 0 && widened.size === 0) return undefined;
  let configuration: Record<string, string> | undefined;
  if (mapped) {
    // New columns (nested fields too) get the next ids and fresh physical names.
    const maxId = Math.max(maxColumnId(snap.schema, snap.configuration), maxNestedId(snap.schema));
    let assigned = assignColumnMapping(added, maxId);
    // icebergCompatV2: array elements and map keys and values get ids too.
    if (icebergCompatVersions(snap.protocol, snap.configuration).includes(2)) {
      assigned = assignNestedIds(assigned.fields, assigned.maxId);
    }
    added = assigned.fields;
    configuration = { ...snap.configuration, [COLUMN_MAPPING_MAX_ID]: String(assigned.maxId) };
  }
  const kept = snap.schema.fields.map((f) => widened.get(f.name) ?? f);
  const schema: StructType = { type: "struct", fields: [...kept, ...added] };
  // Names Delta accepts (any name with column mapping), unique ignoring case.
  validateSchema(schema, { columnMapping: mapped });
  const p = snap.protocol;
  for (const feature of schemaFeatures(schema)) {
    if (!p.readerFeatures?.includes(feature) || !p.writerFeatures?.includes(feature)) {
      throw new SchemaMismatchError(
        (added[0] ?? [...widened.values()][0]).name,
        `cannot add the columns ${added.map((f) => `'${f.name}'`).join(", ")} to '${table}': ` +
          `they need the table feature '${feature}', which the table's protocol does not list`,
      );
    }
  }
  checkIcebergCompat(p, schema, configuration ?? snap.configuration, table);
  return { schema, added, configuration };
}

/**
 * The table's metaData with a new schema (same id, name, description, partitioning, properties;
 * the properties replaced when given: column mapping's maxColumnId).
 */
function evolvedMetadata(
  snap: Snapshot,
  schema: StructType,
  configuration?: Record<string, string>,
): Metadata {
  return {
    ...snap.metadata,
    schemaString: schemaToString(schema),
    ...(configuration ? { configuration } : {}),
  };
}

/** What {@link addColumns} committed. */
export interface AddColumnsResult {
  /** Version of the commit that added the columns. */
  version: number;
  /** Names of the columns added, in schema order. */
  added: string[];
}

/**
 * Adds the top-level columns of `schema` that the table lacks, at the end of its schema, in one
 * commit holding only a `metaData` action (Spark's `ALTER TABLE … ADD COLUMNS`); the rows already
 * written read them as null. Every column to add must be nullable; columns the table has must
 * have the same type. Returns undefined, and commits nothing, when the table has them all. A
 * concurrent schema change is re-read and checked again, so writers that open the same table at
 * once add the columns exactly once.
 *
 * @example
 * ```ts
 * import * as arrow from "apache-arrow";
 * import { addColumns, createTable } from "./table.ts";
 * const dir = await Deno.makeTempDir();
 * const v1 = new arrow.Schema([new arrow.Field("id", new arrow.Int64(), false)]);
 * await createTable(dir, v1);
 * const v2 = new arrow.Schema([...v1.fields, new arrow.Field("note", new arrow.Utf8(), true)]);
 * await addColumns(dir, v2); // { version: 1, added: ["note"] }
 * await addColumns(dir, v2); // undefined: nothing to add
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export async function addColumns(
  location: TableLocation,
  schema: arrow.Schema,
  opts: { maxAttempts?: number } = {},
): Promise<AddColumnsResult | undefined> {
  const storage = storageOf(location);
  for (let attempt = 1;; attempt++) {
    const snap = await loadSnapshot(storage);
    checkWritable(snap.protocol, snap.schema, storage.url, snap.configuration);
    const evolved = mergeColumns(snap, schema, storage.url);
    if (!evolved) return undefined;
    const info = makeCommitInfo("ADD COLUMNS", {
      columns: JSON.stringify(evolved.added.map((column) => ({ column }))),
    }, { isolationLevel: "Serializable", isBlindAppend: true });
    try {
      const r = await commit(
        storage,
        snap.version,
        [{
          metaData: evolvedMetadata(snap, evolved.schema, evolved.configuration),
        }],
        info,
        {
          maxAttempts: opts.maxAttempts,
          inCommitTimestamps: inCommitTimestampsEnabled(snap.configuration),
        },
      );
      await maybeCheckpoint(storage, r.version, snap.configuration);
      return { version: r.version, added: evolved.added.map((f) => f.name) };
    } catch (e) {
      // Another writer changed the schema first (maybe adding these very columns): check again.
      if (e instanceof ConcurrentModificationError && attempt < 5) continue;
      throw e;
    }
  }
}

/**
 * Append rows in one commit (optionally with txn actions and an exactly-once check).
 *
 * @example
 * ```ts
 * import * as arrow from "apache-arrow";
 * import { append, createTable } from "./table.ts";
 * const dir = await Deno.makeTempDir();
 * const batch = arrow.tableFromArrays({ id: new BigInt64Array([1n, 2n]) });
 * await createTable(dir, batch.schema);
 * await append(dir, batch, { txns: { "query-1": 7n }, expectedTxns: { "query-1": undefined } });
 * await append(dir, batch, { txns: { "query-1": 8n }, expectedTxns: { "query-1": 7n } });
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export function append(
  location: TableLocation,
  data: arrow.Table,
  opts: WriteOptions = {},
): Promise<WriteResult> {
  return write(storageOf(location), data, "Append", opts);
}

/** Replace the table's rows: remove every live file and add the new ones in one commit. */
export function overwrite(
  location: TableLocation,
  data: arrow.Table,
  opts: WriteOptions = {},
): Promise<WriteResult> {
  return write(storageOf(location), data, "Overwrite", opts);
}

/** Commit txn actions only, no data (offset seeding, dead-letter bookkeeping). */
export function commitTxns(
  location: TableLocation,
  txns: TxnInput,
  opts: WriteOptions = {},
): Promise<WriteResult> {
  return write(storageOf(location), undefined, "Append", { ...opts, txns });
}

/** Snapshot of a table at the latest version, a version, or a timestamp. */
export function snapshot(location: TableLocation, at: SnapshotAt = {}): Promise<Snapshot> {
  return loadSnapshot(storageOf(location), at);
}

/** Read rows as Arrow tables, one per data file, with projection and partition pruning. */
export async function* readBatches(
  location: TableLocation,
  opts: ReadOptions = {},
): AsyncGenerator<arrow.Table> {
  const storage = storageOf(location);
  const snap = await loadSnapshot(storage, opts);
  yield* scanFiles(storage, snap.files, snap.schema, snap.partitionColumns, {
    columns: opts.columns,
    partitionFilter: opts.partitionFilter,
  });
}

/**
 * Read rows into one Arrow table (all columns in table order, or the projected ones).
 *
 * @example
 * ```ts
 * import * as arrow from "apache-arrow";
 * import { createTable, read } from "./table.ts";
 * const dir = await Deno.makeTempDir();
 * const rows = arrow.tableFromArrays({ order_id: new BigInt64Array([1n, 2n]), qty: new Int32Array([1, 5]) });
 * await (await createTable(dir, rows.schema)).append(rows); // version 1
 * const t = await read(dir, { version: 1, columns: ["order_id"] });
 * t.numRows; // 2
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export async function read(location: TableLocation, opts: ReadOptions = {}): Promise<arrow.Table> {
  const storage = storageOf(location);
  const snap = await loadSnapshot(storage, opts);
  const parts: arrow.Table[] = [];
  for await (
    const t of scanFiles(storage, snap.files, snap.schema, snap.partitionColumns, {
      columns: opts.columns,
      partitionFilter: opts.partitionFilter,
    })
  ) parts.push(t);
  if (parts.length === 0) {
    const schema = toArrowSchema(snap.schema);
    const fields = opts.columns
      ? opts.columns.map((c) => schema.fields.find((f) => f.name === c)).filter((f) =>
        f !== undefined
      )
      : schema.fields;
    return new arrow.Table(new arrow.Schema(fields));
  }
  const schema = parts[0].schema;
  return new arrow.Table(schema, parts.flatMap((p) => p.batches));
}

/** Commit history, newest first: version, time, operation, parameters, rows added, readVersion. */
export async function history(
  location: TableLocation,
  opts: { limit?: number } = {},
): Promise<HistoryEntry[]> {
  const storage = storageOf(location);
  const timeline = await readTimeline(storage);
  if (timeline.length === 0) {
    throw new TableNotFoundError(`no Delta table at '${storage.url}' (no _delta_log/*.json)`);
  }
  const entries = timeline.reverse().map((e) => {
    const ci = e.commitInfo ?? {};
    const metrics = (ci.operationMetrics ?? {}) as Record<string, string>;
    const rows = metrics.numOutputRows;
    return {
      version: e.version,
      timestamp: e.timestamp,
      operation: ci.operation,
      operationParameters: (ci.operationParameters ?? {}) as Record<string, string>,
      numOutputRows: rows === undefined ? undefined : Number(rows),
      operationMetrics: metrics,
      readVersion: ci.readVersion,
      isBlindAppend: ci.isBlindAppend,
      engineInfo: ci.engineInfo,
    };
  });
  return opts.limit !== undefined ? entries.slice(0, opts.limit) : entries;
}
