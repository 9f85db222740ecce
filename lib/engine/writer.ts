/**
 * Writes one micro-batch to a sink's tables: builds the rows, then commits each table once, in
 * order, with one `txn` per partition (version = the batch's end offset) and `expectedTxns` =
 * the versions the batch started from. A partition a table already holds up to (or past) the
 * batch's end gets no txn in that table; a table with nothing to record gets no commit.
 * Before building, each table's CHECK constraints are read (through its snapshot cache) and
 * handed to the sink's build; a commit refused by a constraint added since is a conflict (the
 * batch is built again against it), any other violation an error.
 *
 * Runs in the engine's thread, or in an offload worker (lib/engine/offload.ts) through
 * {@link serve}.
 *
 * @module
 */
import type { Table } from "apache-arrow";
import { type TableConstraint, tableConstraints } from "../delta/constraints.ts";
import {
  ConcurrentModificationError,
  ConstraintViolationError,
  TxnConflictError,
} from "../delta/errors.ts";
import { maintenanceSettings } from "../delta/maintenance.ts";
import { advanceSnapshot, loadSnapshot } from "../delta/snapshot.ts";
import { append, commitTxns, type SnapshotCache } from "../delta/table.ts";
import type { RawChunk } from "../kafka/raw.ts";
import { type Fault, faultFromEnv, faultStorage, maybeFault } from "./fault.ts";
import { appIdFor } from "./offsets.ts";
import { openTableSink, type TableSink, type TableSinkSpec, type TableTarget } from "./tables.ts";
import { type PackedChunk, unpackChunk } from "./packed.ts";
import type { Reply } from "./offload.ts";

/**
 * One snapshot cache per sink table: each batch reads only the commits since the previous one
 * (its own and other instances'), never a listing of the whole log.
 */
const caches = new WeakMap<TableTarget, SnapshotCache>();
function snapshotCache(target: TableTarget): SnapshotCache {
  let c = caches.get(target);
  if (!c) caches.set(target, c = {});
  return c;
}

/** What a batch covers in one partition. */
export interface PartitionPlan {
  /** Partition number. */
  partition: number;
  /** Exclusive end offset (the txn version to commit). */
  end: bigint;
  /** Per target: first offset the table still needs. */
  from: bigint[];
  /** Per target: the txn version the table is expected to hold (undefined = none). */
  stored: (bigint | undefined)[];
}

/** The micro-batch to write. */
export interface BatchPlan {
  /** Query name (txn appId prefix). */
  query: string;
  /** Topic. */
  topic: string;
  /** Micro-batch id (commitInfo epochId). */
  batchId: number;
  /** 1-based number of this batch in this process (for the STREAM_FAULT hook). */
  seq: number;
  /** One entry per partition in the batch. */
  partitions: PartitionPlan[];
  /**
   * Whether auto-compaction runs after batches: false when the stream's maintenance is off,
   * else the `--auto-compact` flag when given (undefined: each table's property decides).
   * Files that compaction will rewrite are written without Parquet statistics.
   */
  autoCompact?: boolean;
}

/**
 * Parquet statistics for a stream's new files in a table: none while auto-compaction will
 * rewrite them (it writes full statistics), else the default (page) statistics.
 */
function statisticsFor(plan: BatchPlan, cache: SnapshotCache): "none" | undefined {
  const configuration = cache.snapshot?.configuration;
  if (plan.autoCompact === false || configuration === undefined) return undefined;
  const on = maintenanceSettings(configuration, { autoCompact: plan.autoCompact }).autoCompact;
  return on ? "none" : undefined;
}

/** Outcome of {@link writeBatch}. */
export type BatchResult =
  | {
    ok: true;
    /** Rows and version per table committed. */
    sink: Record<string, { rows: number; version: number }>;
    /** Dead letters written, when the sink has them. */
    deadLetters?: number;
    /** Dead letters by reason (the `reason` column of the dead-letter table), for metrics. */
    deadLetterReasons?: Record<string, number>;
    /** Data files added and their bytes, per table committed (metrics). */
    written?: Record<string, { files: number; bytes: number }>;
    /** Time to build the rows, ms. */
    buildMs: number;
    /** Time to write files and commit, ms. */
    writeMs: number;
  }
  | {
    ok: false;
    /** Another writer moved an offset: drop the batch and re-read the tables. */
    conflict: string;
    /** Tables committed before the conflict. */
    sink: Record<string, { rows: number; version: number }>;
  };

/**
 * Builds and commits a batch; returns `ok: false` with the reason on a txn conflict (the
 * caller drops the batch), throws on any other failure.
 */
export async function writeBatch(
  sink: TableSink,
  chunks: readonly RawChunk[],
  plan: BatchPlan,
  fault?: Fault,
): Promise<BatchResult> {
  const t0 = performance.now();
  const byPartition = new Map(plan.partitions.map((p) => [p.partition, p]));
  const from = plan.partitions.map((p) => p.from.map(Number));
  const index = new Map(plan.partitions.map((p, i) => [p.partition, i]));
  const constraints = await currentConstraints(sink.targets);
  // The tables as of the batch (read by currentConstraints): a sink that evolves a schema
  // builds its rows against them.
  const snaps = sink.targets.map((t) => snapshotCache(t).snapshot!);
  const out = sink.build(
    chunks,
    (t, p) => from[index.get(p)!][t],
    (t) => constraints[t],
    (t) => snaps[t],
  );
  const t1 = performance.now();
  maybeFault(fault, "before-parquet", plan.seq);
  const done: Record<string, { rows: number; version: number }> = {};
  const written: Record<string, { files: number; bytes: number }> = {};
  const reasons: Record<string, number> = {};
  const targets = sink.targets;
  try {
    for (let t = 0; t < targets.length; t++) {
      const txns: Record<string, bigint> = {};
      const expected: Record<string, bigint | undefined> = {};
      for (const p of byPartition.values()) {
        const end = p.end;
        if (end <= p.from[t]) continue;
        const appId = appIdFor(plan.query, plan.topic, p.partition);
        txns[appId] = end;
        expected[appId] = p.stored[t];
      }
      if (Object.keys(txns).length === 0) continue;
      const storage = faultStorage(targets[t].table.storage, fault, () => plan.seq);
      const data = out.tables[t];
      const cache = snapshotCache(targets[t]);
      const opts = {
        txns,
        expectedTxns: expected,
        operation: "STREAMING UPDATE",
        snapshotCache: cache,
        mergeSchema: targets[t].mergeSchema ?? false,
        parquetStatistics: statisticsFor(plan, cache),
        operationParameters: {
          outputMode: "Append",
          queryId: plan.query,
          epochId: String(plan.batchId),
        },
      };
      const res = data.numRows > 0
        ? await append(storage, data, opts)
        : await commitTxns(storage, txns, opts);
      done[targets[t].name] = { rows: data.numRows, version: res.version };
      written[targets[t].name] = {
        files: res.files.length,
        bytes: res.files.reduce((n, f) => n + f.size, 0),
      };
      if (out.deadLetters !== undefined) countReasons(data, reasons);
      if (t < targets.length - 1) maybeFault(fault, "between-tables", plan.seq);
    }
  } catch (e) {
    if (e instanceof TxnConflictError || e instanceof ConcurrentModificationError) {
      return { ok: false, conflict: e.message.split(";")[0], sink: done };
    }
    if (e instanceof ConstraintViolationError && await constraintsChanged(targets, constraints)) {
      // A constraint was added after the rows were built: build them again against it.
      return {
        ok: false,
        conflict: `the constraints of a table changed (${e.constraint})`,
        sink: done,
      };
    }
    throw e;
  }
  maybeFault(fault, "after-commit", plan.seq);
  return {
    ok: true,
    sink: done,
    ...(out.deadLetters !== undefined ? { deadLetters: out.deadLetters } : {}),
    ...(out.deadLetters !== undefined ? { deadLetterReasons: reasons } : {}),
    written,
    buildMs: t1 - t0,
    writeMs: performance.now() - t1,
  };
}

/**
 * Each target's CHECK constraints and invariants at its latest version, read through the
 * target's snapshot cache (only the commits since the previous batch; the write reuses it).
 */
async function currentConstraints(
  targets: readonly TableTarget[],
): Promise<(readonly TableConstraint[])[]> {
  return await Promise.all(targets.map(async (target) => {
    const cache = snapshotCache(target);
    const storage = target.table.storage;
    const snap = cache.snapshot
      ? await advanceSnapshot(cache.snapshot, storage)
      : await loadSnapshot(storage);
    cache.snapshot = snap;
    return tableConstraints(snap.configuration, snap.schema, storage.url);
  }));
}

/** Whether any target's constraints differ from `before` (as the caches now hold them). */
async function constraintsChanged(
  targets: readonly TableTarget[],
  before: (readonly TableConstraint[])[],
): Promise<boolean> {
  const key = (cs: readonly TableConstraint[]) =>
    JSON.stringify(cs.map((c) => [c.kind, c.name, c.expression]));
  const now = await currentConstraints(targets);
  return now.some((cs, i) => key(cs) !== key(before[i]));
}

/** Adds up a dead-letter table's `reason` column (a table without one adds nothing). */
function countReasons(data: Table, into: Record<string, number>): void {
  const column = data.schema.fields.some((f) => f.name === "reason")
    ? data.getChild("reason")
    : null;
  if (!column) return;
  for (const reason of column) {
    const r = String(reason);
    into[r] = (into[r] ?? 0) + 1;
  }
}

/** A batch sent to the offload worker: its plan and its records packed for transfer. */
export interface PackedBatch {
  /** What to write. */
  plan: BatchPlan;
  /** One packed chunk per partition. */
  chunks: PackedChunk[];
}

/**
 * The offload worker's side (lib/engine/offload.ts): opens the table sink of `spec`, then
 * builds and commits each batch it is sent.
 *
 * @example
 * ```ts
 * import { rawSink } from "../orders/sinks.ts";
 * import { packChunk } from "./packed.ts";
 * import { type BatchPlan, serve } from "./writer.ts";
 * const dir = await Deno.makeTempDir();
 * const write = await serve((await rawSink(`${dir}/orders_raw`)).spec); // as the worker does
 * const value = new TextEncoder().encode('{"order_id":1}');
 * const chunk = packChunk({ topic: "t", partition: 0, timestampType: 0,
 *   messages: [{ key: null, value, offset: "0", timestamp: Date.now() }] });
 * const plan: BatchPlan = { query: "q", topic: "t", batchId: 0, seq: 1,
 *   partitions: [{ partition: 0, end: 1n, from: [0n], stored: [undefined] }] };
 * const reply = await write({ plan, chunks: [chunk] });
 * console.log(reply.value.sink); // { orders_raw: { rows: 1, version: 1 } }
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export async function serve(
  spec: TableSinkSpec,
): Promise<(batch: PackedBatch) => Promise<Reply<BatchResult>>> {
  const sink = await openTableSink(spec);
  const fault = faultFromEnv();
  return async (b) => ({ value: await writeBatch(sink, b.chunks.map(unpackChunk), b.plan, fault) });
}
