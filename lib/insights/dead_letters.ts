/**
 * Dead letters of the producer stream: a record that is not a valid order is published, as it
 * came (same key, same value bytes), to the dead-letter topic, with the reason in headers (the
 * Kafka Connect convention), inside the same transaction as the batch's output. So every bad
 * record lands there exactly once and the stream never stops on data.
 *
 * Headers: `dlq.reason` (a reason code of lib/orders/validate.ts), `dlq.message`, `dlq.field`
 * (when known), `dlq.topic`, `dlq.partition`, `dlq.offset`, `dlq.timestamp`, `dlq.query`.
 * A value larger than {@link MAX_DEAD_LETTER_BYTES} (possible only when the input topic allows
 * records above the broker's default 1 MB) is cut to that size, and `dlq.truncated` gives the
 * original size, so the dead letter always fits the dead-letter topic.
 *
 * @module
 */
import { Buffer } from "node:buffer";
import type { RawMessage } from "../kafka/raw.ts";
import type { ParseFailure } from "../orders/validate.ts";

/** Largest value kept in a dead letter: 900 KiB, under the default message.max.bytes. */
export const MAX_DEAD_LETTER_BYTES = 900 * 1024;

/** A message for the dead-letter topic (kafkajs message shape). */
export interface DeadLetterMessage {
  /** The original key. */
  key: Buffer | null;
  /** The original value bytes (null for a tombstone). */
  value: Buffer | null;
  /** Why and where from. */
  headers: Record<string, string>;
}

/**
 * The dead-letter message of a rejected record.
 *
 * @example
 * ```ts
 * import { parseOrder } from "../orders/validate.ts";
 * import { deadLetter } from "./dead_letters.ts";
 * const value = new TextEncoder().encode("not json");
 * const record = { key: null, value, offset: "7", timestamp: "1700000000000" };
 * const r = parseOrder(record.value);
 * if (!r.ok) {
 *   const d = deadLetter({ topic: "retail-data-new", partition: 0 }, record, r, "q");
 *   console.log(d.headers["dlq.reason"], d.headers["dlq.offset"]); // not_json 7
 * }
 * ```
 */
export function deadLetter(
  from: { topic: string; partition: number },
  record: RawMessage,
  failure: ParseFailure,
  query: string,
): DeadLetterMessage {
  const headers: Record<string, string> = {
    "dlq.reason": failure.reason,
    "dlq.message": failure.message,
    "dlq.topic": from.topic,
    "dlq.partition": String(from.partition),
    "dlq.offset": record.offset,
    "dlq.timestamp": String(record.timestamp),
    "dlq.query": query,
  };
  if (failure.field !== undefined) headers["dlq.field"] = failure.field;
  let value = record.value;
  if (value !== null && value.byteLength > MAX_DEAD_LETTER_BYTES) {
    headers["dlq.truncated"] = String(value.byteLength);
    value = value.subarray(0, MAX_DEAD_LETTER_BYTES);
  }
  return { key: toBuffer(record.key), value: toBuffer(value), headers };
}

function toBuffer(b: Uint8Array | null): Buffer | null {
  return b === null ? null : Buffer.from(b.buffer, b.byteOffset, b.byteLength);
}
