/**
 * Worker offload for every stream: a batch's CPU-bound work (building and writing Parquet, or
 * parsing and validating orders) runs in a Web Worker, on a second core, while the main thread
 * fetches and commits. The worker imports a module that exports `serve(init)`, which returns the
 * handler of one request; requests are handled strictly in the order sent. Typed user errors
 * cross back as user errors (their message says what to do); anything else as an
 * {@link OffloadError} carrying the worker-side name.
 *
 * @module
 */
import { UserError } from "../errors.ts";

/** A failure inside the offload worker, with the original error's name and message. */
export class OffloadError extends Error {
  override name = "OffloadError";
}

/** A request's reply and the buffers to transfer (not copy) with it. */
export interface Reply<R> {
  /** The reply. */
  value: R;
  /** Buffers moved to the other thread. */
  transfer?: Transferable[];
}

/** What a served module exports: `serve(init)` gives the handler of one request. */
export type Serve<I, Q, R> = (init: I) => Promise<(request: Q) => Promise<Reply<R>> | Reply<R>>;

/** Messages to the worker. */
export type OffloadRequest =
  | { type: "init"; module: string; init: unknown }
  | { type: "call"; id: number; request: unknown };

/** Messages from the worker. */
export type OffloadResponse =
  | { type: "ready"; id: 0 }
  | { type: "result"; id: number; value: unknown }
  | { type: "error"; id: number; name: string; message: string; user: boolean };

/** A running offload worker. */
export interface Offload<Q, R> {
  /** Sends a request (its `transfer` buffers move); resolves with the reply. */
  call(request: Q, transfer?: Transferable[]): Promise<R>;
  /** Stops the worker; pending calls reject. */
  close(): void;
}

/**
 * Starts a worker serving `module` (a URL) with `init`; resolves once `serve(init)` is done.
 *
 * @example
 * ```ts
 * import type { ClassifyReply, ClassifyRequest } from "../insights/classify.ts";
 * import type { OrderFilter } from "../insights/filter.ts";
 * import { startOffload } from "./offload.ts";
 * const w = await startOffload<OrderFilter, ClassifyRequest, ClassifyReply>(
 *   new URL("../insights/classify.ts", import.meta.url).href, { city: "Chicago" });
 * const bytes = new TextEncoder().encode("not json");
 * const request = { bytes, ends: Int32Array.of(bytes.length), nulls: Uint8Array.of(0) };
 * const reply = await w.call(request, [bytes.buffer]); // bytes moves to the worker
 * console.log(reply.codes); // Uint8Array(1) [ 2 ]: a dead letter
 * w.close();
 * ```
 */
export function startOffload<I, Q, R>(module: string, init: I): Promise<Offload<Q, R>> {
  const worker = new Worker(new URL("./_offload_worker.ts", import.meta.url).href, {
    type: "module",
  });
  const pending = new Map<number, { resolve: (r: R) => void; reject: (e: Error) => void }>();
  let nextId = 1;
  let broken: Error | undefined;
  let ready!: { resolve: () => void; reject: (e: Error) => void };
  const started = new Promise<void>((resolve, reject) => (ready = { resolve, reject }));
  const failAll = (e: Error) => {
    broken ??= e;
    ready.reject(e);
    for (const p of pending.values()) p.reject(e);
    pending.clear();
  };
  worker.onmessage = (e: MessageEvent<OffloadResponse>) => {
    const m = e.data;
    if (m.type === "ready") return ready.resolve();
    const err = m.type === "error" ? named(m.name, m.message, m.user) : undefined;
    if (m.id === 0 && err) return ready.reject(err);
    const p = pending.get(m.id);
    if (!p) return;
    pending.delete(m.id);
    if (err) p.reject(err);
    else p.resolve((m as { value: R }).value);
  };
  worker.onerror = (e) => {
    e.preventDefault();
    failAll(new OffloadError(`the worker failed: ${e.message}`));
  };
  worker.postMessage({ type: "init", module, init } satisfies OffloadRequest);
  return started.then(() => ({
    call(request, transfer = []) {
      if (broken) return Promise.reject(broken);
      const id = nextId++;
      return new Promise<R>((resolve, reject) => {
        pending.set(id, { resolve, reject });
        worker.postMessage({ type: "call", id, request } satisfies OffloadRequest, transfer);
      });
    },
    close() {
      worker.terminate();
      failAll(new OffloadError("the worker was stopped"));
    },
  }));
}

/** An Error carrying the worker-side name; a user error stays one. */
function named(name: string, message: string, user: boolean): Error {
  const e = user ? new UserError(message) : new OffloadError(message);
  e.name = name;
  return e;
}
