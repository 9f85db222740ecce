/**
 * Kafka records as the seed's Spark Kafka source shows them: CAST(key AS STRING),
 * CAST(value AS STRING), topic, partition, offset, timestamp, timestampType.
 *
 * @module
 */
import type { KafkaRecord } from "./source.ts";

const decoder = new TextDecoder();

/** Bytes as a string the way Spark's CAST(binary AS STRING) does (invalid UTF-8 → U+FFFD). */
export function bytesToString(b: Uint8Array | null): string | null {
  return b === null ? null : decoder.decode(b);
}

/** A record as a display row (strings, numbers, an ISO timestamp). */
export function recordRow(r: KafkaRecord): Record<string, unknown> {
  return {
    key: bytesToString(r.key),
    value: bytesToString(r.value),
    topic: r.topic,
    partition: r.partition,
    offset: r.offset,
    timestamp: new Date(r.timestamp).toISOString(),
    timestampType: r.timestampType,
  };
}

/**
 * A record as one JSON object (offset as a number when it is a safe integer, else a string).
 *
 * @example
 * ```ts
 * import type { KafkaRecord } from "./source.ts";
 * import { recordJson } from "./record.ts";
 * const bytes = (s: string) => new TextEncoder().encode(s);
 * const record: KafkaRecord = { topic: "retail-data-new", partition: 0, offset: "42",
 *   key: bytes("11599"), value: bytes('{"order_id":1}'), timestamp: 0, timestampType: 0 };
 * console.log(recordJson(record));
 * // {"key":"11599","value":"{\"order_id\":1}","topic":"retail-data-new","partition":0,
 * //  "offset":42,"timestamp":"1970-01-01T00:00:00.000Z","timestampType":0}
 * ```
 */
export function recordJson(r: KafkaRecord): string {
  const off = Number(r.offset);
  return JSON.stringify({
    ...recordRow(r),
    offset: Number.isSafeInteger(off) ? off : r.offset,
  });
}
