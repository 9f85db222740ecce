/**
 * Filter mode's per-record decision — drop, keep, or dead-letter with a reason — for a whole
 * micro-batch, either inline or in a Web Worker. Parsing and validating every order is most of
 * the stream's CPU; in a worker it runs on another core while the main thread fetches the next
 * records and commits the previous transaction. Results come back in record order, so the
 * output is the same either way.
 *
 * @module
 */
import { type Reply, startOffload } from "../engine/offload.ts";
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
  /** All values, back to back. */
  bytes: Uint8Array;
  /** End offset of each value in `bytes`. */
  ends: Int32Array;
  /** 1 where the value is null (a tombstone). */
  nulls: Uint8Array;
}

/** The worker's answer (internal). */
export interface ClassifyReply {
  /** One code per record. */
  codes: Uint8Array;
  /** Invalid records. */
  failures: { index: number; reason: ParseFailure["reason"]; message: string; field?: string }[];
}

/** Classifies a batch's records. */
export interface Classifier {
  /** Codes for the records, in order. */
  classify(records: readonly { value: Uint8Array | null }[]): Promise<Classified>;
  /** Stops the worker (if any). */
  close(): void;
}

/**
 * Classifies on the calling thread.
 *
 * @example
 * ```ts
 * import { inlineClassifier } from "./classify.ts";
 * const item = { order_item_id: 1, order_item_product_id: 957, order_item_quantity: 1,
 *   order_item_product_price: 5, order_item_subtotal: 5 };
 * const order = { order_id: 1, customer_id: 256, city: "Chicago", line_items: [item] };
 * const value = (v: unknown) => new TextEncoder().encode(JSON.stringify(v));
 * const records = [{ value: value(order) }, { value: value({ ...order, city: "Hickory" }) },
 *   { value: new TextEncoder().encode("not json") }, { value: null }];
 * const { codes } = await inlineClassifier({ city: "Chicago" }).classify(records);
 * console.log(codes); // Uint8Array(4) [ 1, 0, 2, 2 ]: kept, not kept, invalid, invalid
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
 * Classifies in a Web Worker (the engine's offload, lib/engine/offload.ts): values are copied
 * into one buffer, transferred, and classified there by {@link serve}.
 *
 * @example
 * ```ts
 * import { workerClassifier } from "./classify.ts";
 * const c = workerClassifier({ city: "Chicago" });
 * const records = [{ value: new TextEncoder().encode("not json") }, { value: null }];
 * const { codes, failures } = await c.classify(records);
 * console.log(codes, failures.get(1)?.reason); // Uint8Array(2) [ 2, 2 ] null_value
 * c.close();
 * ```
 */
export function workerClassifier(filter: OrderFilter): Classifier {
  const started = startOffload<OrderFilter, ClassifyRequest, ClassifyReply>(
    import.meta.url,
    filter,
  );
  started.catch(() => {}); // reported by the first classify()
  return {
    async classify(records) {
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
      const worker = await started;
      const reply = await worker.call({ bytes, ends, nulls }, [
        bytes.buffer,
        ends.buffer,
        nulls.buffer,
      ]);
      const failures = new Map<number, ParseFailure>();
      for (const f of reply.failures) {
        failures.set(f.index, { ok: false, reason: f.reason, message: f.message, field: f.field });
      }
      return { codes: reply.codes, failures };
    },
    close() {
      started.then((w) => w.close(), () => {});
    },
  };
}

/**
 * The worker's side of {@link workerClassifier}: parses and validates a packed batch of record
 * values and applies the filter, off the main thread (which meanwhile fetches and commits).
 *
 * @example
 * ```ts
 * import { serve } from "./classify.ts";
 * const handle = await serve({ city: "Chicago" });
 * const value = new TextEncoder().encode("not json");
 * const request = { bytes: value, ends: Int32Array.of(value.length), nulls: Uint8Array.of(0) };
 * const { value: reply } = handle(request);
 * console.log(reply.codes[0], reply.failures[0].reason); // 2 not_json: a dead letter
 * ```
 */
export function serve(
  filter: OrderFilter,
): Promise<(request: ClassifyRequest) => Reply<ClassifyReply>> {
  return Promise.resolve(({ bytes, ends, nulls }) => {
    const n = ends.length;
    const codes = new Uint8Array(n);
    const failures: ClassifyReply["failures"] = [];
    let start = 0;
    for (let i = 0; i < n; i++) {
      const end = ends[i];
      const parsed = parseOrder(nulls[i] === 1 ? null : bytes.subarray(start, end));
      start = end;
      if (!parsed.ok) {
        codes[i] = 2;
        failures.push({
          index: i,
          reason: parsed.reason,
          message: parsed.message,
          field: parsed.field,
        });
      } else if (matchesFilter(parsed.order, filter)) codes[i] = 1;
    }
    return { value: { codes, failures }, transfer: [codes.buffer] };
  });
}
