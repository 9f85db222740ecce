/**
 * The engine's Delta sink: a table sink's rows (lib/engine/tables.ts) committed to its Delta
 * tables, each batch one commit per table, in order, whose `txn` actions carry the offsets
 * consumed (appId `<query>-<topic>-<partition>`, version = the next offset to read) and whose
 * `expectedTxns` are the versions the batch started from. Positions are read back from the
 * tables: the lowest over them, and each table only takes offsets at or above its own (after a
 * crash between two tables' commits). A commit that finds other versions (another copy of the
 * query took the partition) is a conflict: the batch is dropped and the positions read again.
 *
 * With `worker`, rows are built and written in a Web Worker (two batches may be queued; a batch
 * queued after one that conflicted conflicts too, by `expectedTxns`).
 *
 * After each committed batch, each table's maintenance runs (lib/delta/maintenance.ts: a
 * checkpoint when one is missing, expired log cleanup after a new checkpoint), in this thread,
 * before the batch is reported; it never fails the batch (a failed step is logged and retried
 * later). Auto-compaction, when due, is handed to a worker thread of its own
 * (lib/engine/compactor.ts) and runs in the background while the next batches commit; what it
 * did is reported with the first batch after it ends, and by `settle` before the query stops.
 *
 * @module
 */
import { commitTxns } from "../delta/table.ts";
import { ConcurrentModificationError, TxnConflictError } from "../delta/errors.ts";
import { findCommitInfo, listLog, readCommit } from "../delta/log.ts";
import {
  type MaintenanceOverrides,
  type MaintenanceReport,
  TableMaintenance,
} from "../delta/maintenance.ts";
import type { OffsetSpec } from "../kafka/source.ts";
import type { SourceSlice } from "../kafka/stream_source.ts";
import { type Fault, faultFromEnv, maybeFaultFrom } from "./fault.ts";
import { appIdFor, storedOffset } from "./offsets.ts";
import { packChunk, transferables } from "./packed.ts";
import type { BatchInfo, Committed, Conflicted, Sink } from "./sink.ts";
import { addMaintenance, type MaintenanceProgress } from "./progress.ts";
import type { TableSink } from "./tables.ts";
import { type Offload, startOffload } from "./offload.ts";
import { type Compactor, startCompactor } from "./compactor.ts";
import { type BatchPlan, type BatchResult, type PackedBatch, writeBatch } from "./writer.ts";

/** Settings of {@link deltaSink}. */
export interface DeltaSinkOptions {
  /** The query name (txn appId prefix). */
  query: string;
  /** The topic read. */
  topic: string;
  /** Build and write in a Web Worker. */
  worker: boolean;
  /** One line per event. */
  log: (tag: string, message: string) => void;
  /** The crash-test hook (default: STREAM_FAULT). */
  fault?: Fault;
  /**
   * Table maintenance after each batch: the flags that override the tables' properties
   * (default: none, so each table's properties and the defaults apply), or false for none.
   */
  maintenance?: MaintenanceOverrides | false;
}

/** Per partition: what each table holds. */
interface TableOffsets {
  /** Per table: the first offset it still needs. */
  from: bigint[];
  /** Per table: the txn version it holds, as last read or written. */
  stored: (bigint | undefined)[];
}

/** A batch ready to commit. */
interface DeltaBatch {
  plan: BatchPlan;
  slice: SourceSlice;
}

/**
 * The Delta sink of a table sink.
 *
 * @example
 * ```ts
 * import { rawSink } from "../orders/sinks.ts";
 * import { deltaSink } from "./delta_sink.ts";
 * const dir = await Deno.makeTempDir();
 * const sink = deltaSink(await rawSink(`${dir}/orders_raw`), {
 *   query: "orders_raw", topic: "retail-data-new", worker: false, log: console.error,
 * });
 * await sink.open();
 * console.log(await sink.stored([0])); // Map(1) { 0 => undefined }: a new table holds no offsets
 * await sink.close();
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export function deltaSink(tables: TableSink, o: DeltaSinkOptions): Sink<DeltaBatch> {
  const targets = tables.targets;
  const fault = o.fault ?? faultFromEnv();
  const offsets = new Map<number, TableOffsets>();
  let read = new Map<number, (bigint | undefined)[]>();
  let worker: Offload<PackedBatch, BatchResult> | undefined;
  let seq = 0; // the batch maintenance runs after (crash-test hook)
  let compactor: Compactor | undefined;
  const keepers = o.maintenance === false
    ? []
    : targets.map((t) =>
      new TableMaintenance(t.table.storage, {
        name: t.name,
        overrides: o.maintenance || {},
        log: o.log,
        hook: (point) => maybeFaultFrom(fault, point, seq),
        compactor: (settings) => {
          compactor ??= startCompactor(tables.spec);
          return compactor.compact({ table: t.name, settings, seq });
        },
      })
    );
  /** Every table's maintenance, one after the other; undefined when none did anything. */
  const maintain = async (batch: number): Promise<MaintenanceProgress | undefined> => {
    seq = batch;
    let sum: MaintenanceReport | undefined;
    for (const k of keepers) {
      const r = await k.run();
      if (Object.values(r).every((n) => n === 0)) continue;
      sum = addMaintenance(sum, r);
    }
    return sum;
  };

  return {
    committedTo: "the tables",
    depth: o.worker ? 2 : 1,
    async open() {
      if (o.worker) {
        worker = await startOffload(new URL("./writer.ts", import.meta.url).href, tables.spec);
      }
    },
    async stored(partitions) {
      const snaps = await Promise.all(targets.map((t) => t.table.snapshot()));
      read = new Map(
        partitions.map((p) => [p, snaps.map((snap) => storedOffset(snap, o.query, o.topic, p))]),
      );
      return new Map(partitions.map((p) => {
        const stored = read.get(p)!;
        if (stored.some((v) => v === undefined)) return [p, undefined];
        return [p, stored.reduce((a, b) => (b! < a! ? b : a))];
      }));
    },
    async begin(resume, fresh, spec: OffsetSpec) {
      for (const [p, start] of resume) {
        const stored = read.get(p) ?? targets.map(() => undefined);
        offsets.set(p, { from: stored.map((v) => v ?? start), stored });
      }
      // First start with latest/JSON/timestamp: record the resolved start in the tables so that
      // a restart before any record arrives does not move it (Spark keeps it in its checkpoint).
      const seeds = spec.kind === "earliest"
        ? []
        : fresh.filter((p) => offsets.get(p)!.stored.every((v) => v === undefined));
      if (seeds.length === 0) return true;
      const txns = Object.fromEntries(
        seeds.map((p) => [appIdFor(o.query, o.topic, p), resume.get(p)!]),
      );
      const expected = Object.fromEntries(Object.keys(txns).map((k) => [k, undefined]));
      try {
        for (const t of targets) {
          await commitTxns(t.table.storage, txns, {
            expectedTxns: expected,
            operation: "STREAMING UPDATE",
            operationParameters: {
              outputMode: "Append",
              queryId: o.query,
              startingOffsets: "seed",
            },
          });
        }
      } catch (e) {
        if (e instanceof TxnConflictError || e instanceof ConcurrentModificationError) {
          o.log("conflict", `${o.query}: another instance seeded offsets first; re-reading`);
          return false;
        }
        throw e;
      }
      for (const p of seeds) {
        offsets.get(p)!.stored = targets.map(() => resume.get(p)!);
      }
      o.log(
        "seed",
        `${o.query}: starting offsets stored ${
          JSON.stringify(Object.fromEntries(seeds.map((p) => [p, Number(resume.get(p)!)])))
        }`,
      );
      return true;
    },
    prepare(slice, batch) {
      // Each table's offsets advance as if the batch commits; if it does not, the engine resets
      // the source and every position is read again from the tables.
      const plan: BatchPlan = {
        query: o.query,
        topic: o.topic,
        batchId: batch.id,
        seq: batch.seq,
        autoCompact: o.maintenance === false ? false : o.maintenance?.autoCompact,
        partitions: slice.partitions.map((x) => {
          const t = offsets.get(x.partition)!;
          const entry = {
            partition: x.partition,
            end: x.end,
            from: [...t.from],
            stored: [...t.stored],
          };
          for (let i = 0; i < targets.length; i++) {
            if (x.end > t.from[i]) {
              t.from[i] = x.end;
              t.stored[i] = x.end;
            }
          }
          return entry;
        }),
      };
      return Promise.resolve({ plan, slice });
    },
    async commit({ plan, slice }, batch: BatchInfo): Promise<Committed | Conflicted> {
      const chunks = slice.partitions;
      let result: BatchResult;
      if (worker) {
        const packed = chunks.map(packChunk);
        result = await worker.call({ plan, chunks: packed }, packed.flatMap(transferables));
      } else result = await writeBatch(tables, chunks, plan, fault);
      if (!result.ok) return { ok: false, conflict: result.conflict, sink: result.sink };
      const m0 = performance.now();
      const maintenance = await maintain(batch.seq);
      const maintenanceMs = performance.now() - m0;
      return {
        ok: true,
        sink: result.sink,
        ...(result.deadLetters !== undefined ? { deadLetters: result.deadLetters } : {}),
        ...(result.deadLetterReasons ? { deadLetterReasons: result.deadLetterReasons } : {}),
        ...(result.written ? { written: result.written } : {}),
        ...(maintenance ? { maintenance } : {}),
        durationMs: {
          build: result.buildMs,
          write: result.writeMs,
          ...(keepers.length ? { maintenance: maintenanceMs } : {}),
        },
      };
    },
    async firstBatchId() {
      // Batch ids continue the query's numbering in the first table's recent commits.
      try {
        const storage = targets[0].table.storage;
        const listing = await listLog(storage);
        const commits = listing.commits;
        for (let i = commits.length - 1; i >= 0 && i >= commits.length - 20; i--) {
          const info = findCommitInfo(await readCommit(storage, commits[i].version));
          const p = info?.operationParameters as Record<string, string> | undefined;
          if (p?.queryId === o.query && p.epochId !== undefined) return Number(p.epochId) + 1;
        }
      } catch {
        // Batch ids are informational; start at 0.
      }
      return 0;
    },
    async settle(opts) {
      let sum: MaintenanceReport | undefined;
      for (const k of keepers) {
        const r = await k.settle(opts);
        if (Object.values(r).some((n) => n !== 0)) sum = addMaintenance(sum, r);
      }
      return sum;
    },
    close() {
      worker?.close();
      worker = undefined;
      compactor?.close();
      compactor = undefined;
      return Promise.resolve();
    },
  };
}
