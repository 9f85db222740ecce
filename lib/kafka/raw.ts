/**
 * A Kafka record as the stream sources hand it over (kafkajs's message fields we read) and the
 * records of one partition in a micro-batch. What a record becomes in a table is the domain's:
 * the bronze table `orders_raw` is lib/orders/raw.ts.
 *
 * @example
 * ```ts
 * import type { RawChunk } from "./raw.ts";
 * const value = new TextEncoder().encode('{"order_id":1}');
 * const chunk: RawChunk = {
 *   topic: "retail-data-new",
 *   partition: 0,
 *   timestampType: 0,
 *   messages: [{ key: null, value, offset: "0", timestamp: "1700000000000" }],
 * };
 * ```
 *
 * @module
 */

/** A Kafka message as kafkajs hands it over (Buffers are Uint8Arrays), the fields we read. */
export interface RawMessage {
  /** Key bytes, or null. */
  key: Uint8Array | null;
  /** Value bytes, or null (tombstone). */
  value: Uint8Array | null;
  /** Offset as decimal text. */
  offset: string;
  /** Timestamp in ms since the epoch: decimal text (kafkajs) or a number. */
  timestamp: string | number;
}

/** The records of one partition, in offset order. */
export interface RawChunk {
  /** Topic name. */
  topic: string;
  /** Partition number. */
  partition: number;
  /** 0 = CreateTime, 1 = LogAppendTime. */
  timestampType: number;
  /** The messages, in offset order. */
  messages: readonly RawMessage[];
}
