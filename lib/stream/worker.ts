/**
 * The sink worker: builds and commits micro-batches in a second thread, so that parsing,
 * flattening and Parquet encoding (CPU-bound) overlap with kafkajs fetching in the main thread.
 * Batches are handled strictly in the order sent; up to two may be queued, which stays
 * exactly-once because every commit is guarded by `expectedTxns` (a batch queued after one that
 * conflicted finds offsets it did not expect and is dropped too). Opt-in (`--worker`): on the
 * 2-core dev box it measured no faster than the in-process writer (1M orders: 54k vs 56k
 * orders/s) because building and encoding a batch, not fetching, is the bottleneck, and it costs
 * ~130 MB more RSS (a second isolate and parquet-wasm instance).
 *
 * @module
 */
import { type PackedChunk, transferables } from "./packed.ts";
import type { SinkSpec } from "./sink.ts";
import type { BatchPlan, BatchResult } from "./writer.ts";

/** Messages to the worker. */
export type WorkerRequest =
  | { type: "init"; spec: SinkSpec }
  | { type: "batch"; plan: BatchPlan; chunks: PackedChunk[] };

/** Messages from the worker. */
export type WorkerResponse =
  | { type: "ready"; seq: 0 }
  | { type: "result"; seq: number; result: BatchResult }
  | { type: "error"; seq: number; name: string; message: string };

/** A failure inside the sink worker, with the original error's name and message. */
export class SinkWorkerError extends Error {
  override name = "SinkWorkerError";
}

/** A started sink worker. */
export interface SinkWorker {
  /** Sends a batch; resolves with its result once committed (or dropped on conflict). */
  write(plan: BatchPlan, chunks: PackedChunk[]): Promise<BatchResult>;
  /** Stops the worker thread. */
  close(): void;
}

/**
 * Starts a worker that opens the sink described by `spec`.
 *
 * @example
 * ```ts
 * const w = await startSinkWorker({ kind: "raw", table: "./lakehouse/orders_raw" });
 * const result = await w.write(plan, chunks.map(packChunk));
 * ```
 */
export function startSinkWorker(spec: SinkSpec): Promise<SinkWorker> {
  const worker = new Worker(new URL("./_sink_worker.ts", import.meta.url).href, { type: "module" });
  const pending = new Map<
    number,
    { resolve: (r: BatchResult) => void; reject: (e: Error) => void }
  >();
  let ready!: { resolve: () => void; reject: (e: Error) => void };
  const started = new Promise<void>((resolve, reject) => (ready = { resolve, reject }));
  const failAll = (e: Error) => {
    ready.reject(e);
    for (const p of pending.values()) p.reject(e);
    pending.clear();
  };
  worker.onmessage = (e: MessageEvent<WorkerResponse>) => {
    const m = e.data;
    if (m.type === "ready") return ready.resolve();
    if (m.seq === 0 && m.type === "error") return ready.reject(named(m.name, m.message));
    const p = pending.get(m.seq);
    if (!p) return;
    pending.delete(m.seq);
    if (m.type === "result") p.resolve(m.result);
    else p.reject(named(m.name, m.message));
  };
  worker.onerror = (e) => {
    e.preventDefault();
    failAll(new SinkWorkerError(`the sink worker failed: ${e.message}`));
  };
  worker.postMessage({ type: "init", spec } satisfies WorkerRequest);
  return started.then(() => ({
    write(plan, chunks) {
      return new Promise<BatchResult>((resolve, reject) => {
        pending.set(plan.seq, { resolve, reject });
        worker.postMessage(
          { type: "batch", plan, chunks } satisfies WorkerRequest,
          chunks.flatMap(transferables),
        );
      });
    },
    close() {
      worker.terminate();
      failAll(new SinkWorkerError("the sink worker was stopped"));
    },
  }));
}

/** An Error carrying the worker-side name (so typed errors keep their name across threads). */
function named(name: string, message: string): Error {
  const e = new SinkWorkerError(message);
  e.name = name;
  return e;
}
