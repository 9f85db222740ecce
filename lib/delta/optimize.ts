/**
 * OPTIMIZE (compaction): bin-pack small data files of each partition into files of about the
 * target size. One commit removes the small files and adds the new ones, all with
 * `dataChange: false` so streaming readers of the table are not disturbed. Nothing to compact
 * (no partition with two or more small files) → no commit.
 *
 * {@link compactBins} (the rewrite and its commit) is shared with auto-compaction
 * (maintenance.ts), which chooses its own bins and marks its commits `auto: "true"`.
 *
 * @module
 */
import * as arrow from "apache-arrow";
import { batchOf } from "../arrow/columns.ts";
import type { Storage } from "../storage/storage.ts";
import { openStorage } from "../storage/mod.ts";
import { type Action, type AddAction, type RemoveAction, removeOf } from "./actions.ts";
import { commit, makeCommitInfo } from "./commit.ts";
import { CommitRetriesExhaustedError, ConcurrentModificationError } from "./errors.ts";
import { inCommitTimestampsEnabled, withTightBounds } from "./features.ts";
import { encodeParquetFiles, encodeParquetParts, ParquetError, parquetSchema } from "./parquet.ts";
import { encodeAddPath, partitionDirectory } from "./partition.ts";
import { resolveDataPath, scanFiles } from "./scan.ts";
import { checkWritable, loadSnapshot, type Snapshot } from "./snapshot.ts";
import { toArrowSchema } from "./schema.ts";
import {
  columnMappingMode,
  PARQUET_FIELD_ID,
  partitionValueKeys,
  physicalArrowField,
  type PhysicalLayout,
  physicalLayout,
} from "./column_mapping.ts";
import {
  MATERIALIZED_ROW_ID,
  type MaterializedColumns,
  materializedColumns,
  ROW_TRACKING_PRESERVED_TAG,
  rowIdHighWaterMark,
  rowTrackingEnabled,
  rowTrackingSupported,
} from "./row_tracking.ts";
import { StatsCollector, type StatsOptions, statsOptionsFromConfiguration } from "./stats.ts";
import { mergeStats } from "./stats_merge.ts";
import { maybeCheckpoint } from "./table.ts";
import { checkNumRecords, materializesPartitions } from "./iceberg_compat.ts";

/** Default target file size for compaction: 128 MiB of Parquet. */
export const DEFAULT_TARGET_SIZE = 128 * 1024 * 1024;

/** Options for {@link optimize}. */
export interface OptimizeOptions {
  /** Target size of compacted files in bytes (Parquet size of the inputs); default 128 MiB. */
  targetSize?: number;
  /** Only compact partitions whose values (log strings) pass this predicate. */
  partitionFilter?: (values: Record<string, string | null>) => boolean;
  /** Parquet codec of the new files (default snappy). */
  compression?: "snappy" | "zstd";
  /** Commit attempts (default 15). */
  maxAttempts?: number;
}

/** What OPTIMIZE did. */
export interface OptimizeResult {
  /** Version committed, or undefined when there was nothing to compact. */
  version: number | undefined;
  numFilesAdded: number;
  numFilesRemoved: number;
  numBytesAdded: number;
  numBytesRemoved: number;
  /** Partitions that were compacted. */
  numPartitionsOptimized: number;
  /** Rows rewritten. */
  numRows: number;
  /** Why the table was left alone (nothing compacted), when it was: one line. */
  skipped?: string;
}

/**
 * Plan bins (`partitionColumns`: the keys of `partitionValues`, physical names with column
 * mapping): per partition, small files packed greedily (smallest first) up to the target size.
 * A file with a deletion vector is worth a bin of its own (the rewrite drops its deleted rows);
 * files a clustering implementation wrote (`clusteringProvider` set) are left to it.
 */
export function planBins(
  files: AddAction[],
  partitionColumns: string[],
  targetSize: number,
): AddAction[][] {
  const byPartition = new Map<string, AddAction[]>();
  for (const f of files) {
    if (f.size >= targetSize || f.clusteringProvider) continue;
    const key = JSON.stringify(partitionColumns.map((c) => f.partitionValues?.[c] ?? null));
    const list = byPartition.get(key) ?? [];
    list.push(f);
    byPartition.set(key, list);
  }
  const bins: AddAction[][] = [];
  for (const list of byPartition.values()) {
    if (list.length < 2 && !list.some(hasDv)) continue;
    list.sort((a, b) => a.size - b.size);
    let bin: AddAction[] = [];
    let size = 0;
    for (const f of list) {
      if (bin.length > 0 && size + f.size > targetSize) {
        bins.push(bin);
        bin = [];
        size = 0;
      }
      bin.push(f);
      size += f.size;
    }
    bins.push(bin);
  }
  // A lone file is rewritten only to drop the rows its deletion vector deletes.
  return bins.filter((b) => b.length >= 2 || b.some(hasDv));
}

function hasDv(f: AddAction): boolean {
  return f.deletionVector !== undefined && f.deletionVector !== null;
}

/**
 * Compact small files of a table (OPTIMIZE).
 *
 * @example
 * ```ts
 * import * as arrow from "apache-arrow";
 * import { optimize } from "./optimize.ts";
 * import { createTable } from "./table.ts";
 * const dir = await Deno.makeTempDir();
 * const rows = arrow.tableFromArrays({ id: new BigInt64Array([1n, 2n]) });
 * const t = await createTable(dir, rows.schema);
 * await t.append(rows);
 * await t.append(rows); // two small files
 * const r = await optimize(dir, { targetSize: 64 * 1024 * 1024 });
 * // r.numFilesRemoved === 2, r.numFilesAdded === 1
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export async function optimize(
  location: string | Storage,
  opts: OptimizeOptions = {},
): Promise<OptimizeResult> {
  const storage = typeof location === "string" ? openStorage(location) : location;
  const targetSize = opts.targetSize ?? DEFAULT_TARGET_SIZE;
  if (!(targetSize > 0)) throw new RangeError(`targetSize must be positive, got ${targetSize}`);
  const snap = await loadSnapshot(storage);
  checkWritable(snap.protocol, snap.schema, storage.url, snap.configuration);
  const skipped = compactionSkipReason(snap);
  if (skipped) return { ...emptyResult(), skipped };
  // partitionValues are keyed by physical names with column mapping; the filter sees table names.
  const keys = partitionValueKeys(snap, storage.url);
  const logical = (f: AddAction) =>
    Object.fromEntries(
      snap.partitionColumns.map((c, i) => [c, f.partitionValues?.[keys[i]] ?? null]),
    );
  const candidates = opts.partitionFilter
    ? snap.files.filter((f) => opts.partitionFilter!(logical(f)))
    : snap.files;
  const bins = planBins(candidates, keys, targetSize);
  return compactBins(storage, snap, bins, {
    targetSize,
    compression: opts.compression,
    maxAttempts: opts.maxAttempts,
  });
}

/** Options for {@link compactBins}. */
export interface CompactBinsOptions {
  /** The target size recorded in commitInfo (bytes). */
  targetSize: number;
  /** Parquet codec of the new files (default snappy). */
  compression?: "snappy" | "zstd";
  /** Commit attempts (default 15). */
  maxAttempts?: number;
  /** Auto compaction (commitInfo `operationParameters.auto = "true"`, as Spark's). */
  auto?: boolean;
  /** Called when the new files are written and the commit is not yet attempted (crash tests). */
  beforeCommit?: () => void;
  /** Called once the commit landed, before the checkpoint (crash tests). */
  afterCommit?: () => void;
}

/**
 * Rewrite each bin of small files of `snap` into one file and commit, in one version on top of
 * `snap.version`, the removes of the inputs and the adds of the outputs, all `dataChange: false`
 * (stats recomputed from the rows). Concurrent appends do not conflict (the commit retries
 * above them); a concurrent removal of one of the inputs fails the compaction with
 * ConcurrentModificationError, and the files it wrote are deleted again (best effort; they are
 * never referenced, so VACUUM would take them anyway). No bins → no commit.
 */
export async function compactBins(
  storage: Storage,
  snap: Snapshot,
  bins: AddAction[][],
  opts: CompactBinsOptions,
): Promise<OptimizeResult> {
  const result = emptyResult();
  if (bins.length === 0) return result;
  const skipped = compactionSkipReason(snap);
  if (skipped) return { ...result, skipped };

  const codec = opts.compression ?? "snappy";
  // Iceberg compatibility: new files hold the partition columns too, after the data columns.
  const dataColumns = [
    ...snap.schema.fields.map((f) => f.name).filter((n) => !snap.partitionColumns.includes(n)),
    ...(materializesPartitions(snap.protocol, snap.configuration) ? snap.partitionColumns : []),
  ];
  const statsOpts = {
    ...statsOptionsFromConfiguration(snap.configuration),
    partitionColumns: snap.partitionColumns,
  };
  const layout = physicalLayout(
    columnMappingMode(snap.protocol, snap.configuration, storage.url),
    snap.schema,
    snap.partitionColumns,
  );
  // Row tracking: new files get fresh row ids at commit; with it enabled, the rows' stable ids
  // and commit versions are materialised in them (compactionSkipReason checked the names).
  const rowTracking = rowTrackingSupported(snap.protocol, snap.configuration);
  const materialize = rowTrackingEnabled(snap.protocol, snap.configuration)
    ? materializedColumns(snap.configuration)
    : undefined;
  const now = Date.now();
  const adds: AddAction[] = [];
  const removes: RemoveAction[] = [];
  const partitions = new Set<string>();
  const written: string[] = [];
  let committing = false;
  try {
    for (const bin of bins) {
      const { bytes, stats, rows } = await rewriteBin(storage, snap, bin, dataColumns, {
        compression: codec,
        statsOpts,
        layout,
        materialize,
      });
      // partitionValues as the inputs have them (physical names with column mapping).
      const values = bin[0].partitionValues ?? {};
      const dir = snap.partitionColumns.length
        ? partitionDirectory(layout?.partitionColumns ?? snap.partitionColumns, values)
        : "";
      const name = `part-00000-${crypto.randomUUID()}-c000.${codec}.parquet`;
      const rel = dir ? `${dir}/${name}` : name;
      written.push(rel);
      await storage.put(rel, bytes);
      adds.push({
        path: encodeAddPath(rel),
        partitionValues: values,
        size: bytes.length,
        modificationTime: now,
        dataChange: false,
        stats: withTightBounds(stats, snap.protocol),
      });
      // A file with a deletion vector is removed with its descriptor (the logical file).
      for (const f of bin) removes.push(removeOf(f, now, false));
      partitions.add(dir);
      result.numRows += rows;
      result.numBytesAdded += bytes.length;
      result.numBytesRemoved += bin.reduce((s, f) => s + f.size, 0);
    }
    result.numFilesAdded = adds.length;
    result.numFilesRemoved = removes.length;
    result.numPartitionsOptimized = partitions.size;

    checkNumRecords(adds, snap.protocol, snap.configuration, storage.url);
    const actions: Action[] = [
      ...removes.map((remove) => ({ remove })),
      ...adds.map((add) => ({ add })),
    ];
    const info = makeCommitInfo("OPTIMIZE", {
      predicate: "[]",
      zOrderBy: "[]",
      auto: String(opts.auto ?? false),
      targetSize: String(opts.targetSize),
    }, {
      timestamp: Date.now(),
      isolationLevel: "SnapshotIsolation",
      isBlindAppend: false,
      // Row tracking: copied rows keep their stable ids only when they are materialised.
      ...(rowTracking ? { tags: { [ROW_TRACKING_PRESERVED_TAG]: String(!!materialize) } } : {}),
      operationMetrics: {
        numAddedFiles: String(result.numFilesAdded),
        numRemovedFiles: String(result.numFilesRemoved),
        numAddedBytes: String(result.numBytesAdded),
        numRemovedBytes: String(result.numBytesRemoved),
        numBatches: String(bins.length),
        numPartitionsOptimized: String(result.numPartitionsOptimized),
      },
    });
    opts.beforeCommit?.();
    committing = true;
    const committed = await commit(storage, snap.version, actions, info, {
      maxAttempts: opts.maxAttempts,
      inCommitTimestamps: inCommitTimestampsEnabled(snap.configuration),
      rowIdHighWaterMark: rowTracking ? rowIdHighWaterMark(snap) : undefined,
    });
    result.version = committed.version;
  } catch (e) {
    // Surely not committed (failed before the commit, or the commit lost for good): the new
    // files are referenced by nothing; remove them (best effort). After an ambiguous failure of
    // the commit itself (a storage error) they stay: VACUUM takes them if they are orphans.
    const definite = !committing || e instanceof ConcurrentModificationError ||
      e instanceof CommitRetriesExhaustedError;
    if (definite) { for (const rel of written) await storage.delete(rel).catch(() => {}); }
    throw e;
  }
  opts.afterCommit?.();
  await maybeCheckpoint(storage, result.version, snap.configuration);
  return result;
}

/**
 * One bin's rows as one new file, with its stats. Files this project wrote (the table's own
 * column types, under their physical names and field ids with column mapping, no deletion
 * vector, stats on every file) go straight from Parquet to Parquet inside parquet-wasm, and the
 * new file's stats are merged from theirs; anything else, and every bin of a table with row
 * tracking enabled (whose rows' ids are materialised), is read as the table's rows, file by
 * file, and its stats computed.
 */
async function rewriteBin(
  storage: Storage,
  snap: Snapshot,
  bin: AddAction[],
  dataColumns: string[],
  opts: {
    compression: "snappy" | "zstd";
    statsOpts: StatsOptions;
    layout: PhysicalLayout | undefined;
    materialize: MaterializedColumns | undefined;
  },
): Promise<{ bytes: Uint8Array; stats: string; rows: number }> {
  const layout = opts.layout;
  const statsSchema = layout?.schema ?? snap.schema;
  const merged = !opts.materialize && direct(bin)
    ? mergeStats(bin.map((f) => f.stats), statsSchema)
    : undefined;
  if (merged !== undefined) {
    const dataFields = dataColumns.map((c) => snap.schema.fields.find((f) => f.name === c)!);
    const expected = layout
      ? schemaSignature(new arrow.Schema(dataFields.map(physicalArrowField)), true)
      : schemaSignature(toArrowSchema({ type: "struct", fields: dataFields }));
    const files = async function* (): AsyncGenerator<Uint8Array> {
      for (const f of bin) {
        const bytes = await storage.get(resolveDataPath(storage, f.path));
        if (schemaSignature(parquetSchema(bytes), !!layout) !== expected) throw new NotDirect();
        yield bytes;
      }
    };
    try {
      const bytes = await encodeParquetFiles(files(), {
        compression: opts.compression,
        rowGroupSize: COMPACTED_ROW_GROUP,
        rowGroupBytes: COMPACTED_ROW_GROUP_BYTES,
      });
      return { bytes, stats: merged, rows: Number(JSON.parse(merged).numRecords) };
    } catch (e) {
      // A file of another writer's making (other types, other field metadata): the rows' way.
      if (!(e instanceof NotDirect || e instanceof ParquetError)) throw e;
    }
  }
  const stats = new StatsCollector(
    statsSchema,
    layout ? layout.statsOptions(opts.statsOpts) : opts.statsOpts,
  );
  let rows = 0;
  const materialize = opts.materialize;
  const parts = async function* (): AsyncGenerator<arrow.Table> {
    for await (
      const t of scanFiles(storage, bin, snap.schema, snap.partitionColumns, {
        columns: dataColumns,
        rowTracking: materialize,
      })
    ) {
      // Table columns by physical name (column mapping); the materialized row id and commit
      // version columns (row tracking) follow under their own names, without field ids.
      const out = layout ? withPhysicalColumns(t, layout, dataColumns.length) : t;
      stats.add(out);
      rows += out.numRows;
      yield out;
    }
  };
  const bytes = await encodeParquetParts(parts(), {
    compression: opts.compression,
    rowGroupSize: COMPACTED_ROW_GROUP,
    rowGroupBytes: COMPACTED_ROW_GROUP_BYTES,
  });
  return { bytes, stats: stats.json(), rows };
}

/**
 * Row groups of compacted files: at most 128Ki rows and about 16 MiB of Arrow data. The writer
 * holds a row group until it is full, so this bounds its memory (wasm memory for 3M order lines:
 * 176 MiB at arrow-rs's default 1Mi rows, 37 MiB at 128Ki; for 1M raw records of ~600 bytes:
 * 235 MiB at 128Ki rows, 41 MiB at 8Ki), for a file about 1% larger.
 */
const COMPACTED_ROW_GROUP = 128 * 1024;
const COMPACTED_ROW_GROUP_BYTES = 16 * 1024 * 1024;

/** A file of the bin is not one the direct rewrite can copy. */
class NotDirect extends Error {}

/** Whether a bin may be rewritten without reading its rows: no deletion vector to apply. */
function direct(bin: AddAction[]): boolean {
  return bin.every((f) => f.deletionVector === undefined || f.deletionVector === null);
}

/**
 * Names and types of a schema's fields, nested ones included (not nullability: files keep what
 * their writer declared, and the rows were checked against the table when they were appended),
 * and with `fieldIds` (column mapping) the Parquet field id of each.
 */
function schemaSignature(schema: arrow.Schema, fieldIds = false): string {
  const field = (f: arrow.Field): string =>
    `${JSON.stringify(f.name)}${
      fieldIds ? `#${f.metadata.get(PARQUET_FIELD_ID) ?? ""}` : ""
    }:${f.type}${f.type.children?.length ? `<${f.type.children.map(field).join(",")}>` : ""}`;
  return schema.fields.map(field).join(",");
}

/** A scanned part (table columns first, then any materialized ones) with the data file's columns. */
function withPhysicalColumns(
  t: arrow.Table,
  layout: PhysicalLayout,
  tableColumns: number,
): arrow.Table {
  if (t.schema.fields.length === tableColumns) return layout.toPhysical(t);
  const head = layout.toPhysical(t.selectAt(range(tableColumns)));
  const tailFields = t.schema.fields.slice(tableColumns);
  const fields = [...head.schema.fields, ...tailFields];
  const schema = new arrow.Schema(fields);
  const batches = head.batches.map((b, i) =>
    batchOf(schema, b.numRows, [
      ...b.data.children,
      ...t.batches[i].data.children.slice(tableColumns),
    ])
  );
  return new arrow.Table(schema, batches);
}

function range(n: number): number[] {
  return Array.from({ length: n }, (_, i) => i);
}

function emptyResult(): OptimizeResult {
  return {
    version: undefined,
    numFilesAdded: 0,
    numFilesRemoved: 0,
    numBytesAdded: 0,
    numBytesRemoved: 0,
    numPartitionsOptimized: 0,
    numRows: 0,
  };
}

/**
 * Why compaction must leave a table alone, or undefined: row tracking enabled without the
 * materialized column names in its configuration (rewritten rows could not keep their row ids).
 */
export function compactionSkipReason(snap: Snapshot): string | undefined {
  if (
    rowTrackingEnabled(snap.protocol, snap.configuration) &&
    !materializedColumns(snap.configuration)
  ) {
    return `compaction of '${snap.storage.url}' skipped: it has row tracking enabled but no ` +
      `materialized row id/commit version column names (${MATERIALIZED_ROW_ID}), so rewritten ` +
      `rows could not keep their row ids; run OPTIMIZE with Spark`;
  }
  return undefined;
}
