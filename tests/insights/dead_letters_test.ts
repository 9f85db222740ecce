import assert from "node:assert/strict";
import { deadLetter, MAX_DEAD_LETTER_BYTES } from "../../lib/insights/dead_letters.ts";
import { type ParseFailure, parseOrder } from "../../lib/orders/validate.ts";
import type { RawMessage } from "../../lib/kafka/raw.ts";

const from = { topic: "retail-data-new", partition: 2 };
const record = (value: Uint8Array | null): RawMessage => ({
  offset: "41",
  key: new TextEncoder().encode("11599"),
  value,
  timestamp: "1700000000000",
});

Deno.test("deadLetter keeps key and value bytes and puts the reason and origin in headers", () => {
  const value = new TextEncoder().encode('{"order_id":1,"customer_id":2,"line_items":[]}');
  const failure = parseOrder(value) as ParseFailure;
  const d = deadLetter(from, record(value), failure, "q");
  assert.equal(d.key!.toString(), "11599");
  assert.deepEqual(new Uint8Array(d.value!), value);
  assert.deepEqual(d.headers, {
    "dlq.reason": "no_line_items",
    "dlq.message": failure.message,
    "dlq.field": "line_items",
    "dlq.topic": "retail-data-new",
    "dlq.partition": "2",
    "dlq.offset": "41",
    "dlq.timestamp": "1700000000000",
    "dlq.query": "q",
  });
  const tomb = deadLetter(from, record(null), parseOrder(null) as ParseFailure, "q");
  assert.equal(tomb.value, null);
  assert.equal(tomb.headers["dlq.reason"], "null_value");
  assert.equal("dlq.field" in tomb.headers, false);
});

Deno.test("deadLetter cuts an oversized value and records the original size", () => {
  const big = new Uint8Array(2 * 1024 * 1024).fill(0x7b);
  const d = deadLetter(from, record(big), parseOrder(big) as ParseFailure, "q");
  assert.equal(d.headers["dlq.reason"], "too_large");
  assert.equal(d.value!.byteLength, MAX_DEAD_LETTER_BYTES);
  assert.equal(d.headers["dlq.truncated"], String(big.byteLength));
});
