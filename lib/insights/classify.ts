/**
 * Filter mode's per-record decision — drop, keep, or dead-letter with a reason — for a whole
 * micro-batch, either inline or in a Web Worker. Parsing and validating every order is most of
 * the stream's CPU; in a worker it runs on another core while the main thread fetches the next
 * records and commits the previous transaction. Results come back in record order, so the
 * output is the same either way.
 *
 * @module
 */
import type { KafkaRecord } from "../kafka/source.ts";
import { type ParseFailure, parseOrder } from "../orders/validate.ts";
import { matchesFilter, type OrderFilter } from "./filter.ts";

/** Per record: 0 = not kept, 1 = kept, 2 = invalid (see failures). */
export interface Classified {
  /** One code per record. */
  codes: Uint8Array;
  /** The invalid records' reasons, by record index. */
  failures: Map<number, ParseFailure>;
}

/** A batch sent to the worker (internal). */
export interface ClassifyRequest {
  /** Request id. */
  id: number;
  /** All values, back to back. */
  bytes: Uint8Array;
  /** End offset of each value in `bytes`. */
  ends: Int32Array;
  /** 1 where the value is null (a tombstone). */
  nulls: Uint8Array;
  /** The filter. */
  filter: OrderFilter;
}

/** The worker's answer (internal). */
export interface ClassifyReply {
  /** Request id. */
  id: number;
  /** One code per record. */
  codes: Uint8Array;
  /** Invalid records. */
  failures: { index: number; reason: ParseFailure["reason"]; message: string; field?: string }[];
}

/** Classifies a batch's records. */
export interface Classifier {
  /** Codes for the records, in order. */
  classify(records: KafkaRecord[]): Promise<Classified>;
  /** Stops the worker (if any). */
  close(): void;
}

/**
 * Classifies on the calling thread.
 *
 * @example
 * ```ts
 * const { codes } = await inlineClassifier({ city: "Chicago" }).classify(records);
 * ```
 */
export function inlineClassifier(filter: OrderFilter): Classifier {
  return {
    classify(records) {
      const codes = new Uint8Array(records.length);
      const failures = new Map<number, ParseFailure>();
      for (let i = 0; i < records.length; i++) {
        const parsed = parseOrder(records[i].value);
        if (!parsed.ok) {
          codes[i] = 2;
          failures.set(i, parsed);
        } else if (matchesFilter(parsed.order, filter)) codes[i] = 1;
      }
      return Promise.resolve({ codes, failures });
    },
    close() {},
  };
}

/**
 * Classifies in a Web Worker: values are copied into one buffer, transferred, and classified
 * there.
 *
 * @example
 * ```ts
 * const c = workerClassifier({ city: "Chicago" });
 * const { codes, failures } = await c.classify(records);
 * c.close();
 * ```
 */
export function workerClassifier(filter: OrderFilter): Classifier {
  const worker = new Worker(new URL("./_classify_worker.ts", import.meta.url).href, {
    type: "module",
  });
  const pending = new Map<
    number,
    { resolve: (c: Classified) => void; reject: (e: unknown) => void }
  >();
  let nextId = 0;
  let broken: unknown;
  worker.onmessage = (e: MessageEvent<ClassifyReply>) => {
    const p = pending.get(e.data.id);
    pending.delete(e.data.id);
    const failures = new Map<number, ParseFailure>();
    for (const f of e.data.failures) {
      failures.set(f.index, { ok: false, reason: f.reason, message: f.message, field: f.field });
    }
    p?.resolve({ codes: e.data.codes, failures });
  };
  worker.onerror = (e) => {
    e.preventDefault();
    broken = new Error(`the classify worker failed: ${e.message}`);
    for (const p of pending.values()) p.reject(broken);
    pending.clear();
  };
  return {
    classify(records) {
      if (broken) return Promise.reject(broken);
      let total = 0;
      for (const r of records) total += r.value?.byteLength ?? 0;
      const bytes = new Uint8Array(total);
      const ends = new Int32Array(records.length);
      const nulls = new Uint8Array(records.length);
      let at = 0;
      for (let i = 0; i < records.length; i++) {
        const v = records[i].value;
        if (v === null) nulls[i] = 1;
        else {
          bytes.set(v, at);
          at += v.byteLength;
        }
        ends[i] = at;
      }
      const id = nextId++;
      const request: ClassifyRequest = { id, bytes, ends, nulls, filter };
      return new Promise((resolve, reject) => {
        pending.set(id, { resolve, reject });
        worker.postMessage(request, [bytes.buffer, ends.buffer, nulls.buffer]);
      });
    },
    close() {
      worker.terminate();
    },
  };
}
