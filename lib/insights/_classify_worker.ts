/**
 * Worker side of lib/insights/classify.ts: parses and validates a packed batch of record values
 * and applies the filter, off the main thread (which meanwhile fetches and commits).
 *
 * @module
 */
/// <reference lib="deno.worker" />
import { parseOrder } from "../orders/validate.ts";
import { matchesFilter, type OrderFilter } from "./filter.ts";
import type { ClassifyReply, ClassifyRequest } from "./classify.ts";

self.onmessage = (e: MessageEvent<ClassifyRequest>) => {
  const { id, bytes, ends, nulls, filter } = e.data;
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
    } else if (matchesFilter(parsed.order, filter as OrderFilter)) codes[i] = 1;
  }
  const reply: ClassifyReply = { id, codes, failures };
  self.postMessage(reply, [codes.buffer]);
};
