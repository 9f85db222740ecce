/**
 * Publishing order lines to Kafka, as the seed's Python producer does: key = customer_id as a
 * string, value = the order JSON, sent in batches by an idempotent producer with acks=all. Lines
 * that are not valid orders are reported with file:line and the reason, counted, and skipped.
 *
 * @module
 */
import type { Producer } from "kafkajs";
import { Buffer } from "node:buffer";
import type { SourceLine } from "./lines.ts";
import { parseOrder } from "./validate.ts";

/** A line that was not sent, and why. */
export interface SkippedLine {
  /** File path. */
  file: string;
  /** 1-based line number. */
  line: number;
  /** Reason code from the order validator. */
  reason: string;
  /** Human-readable explanation naming the field. */
  message: string;
}

/** Counters of a publish run. */
export interface PublishSummary {
  /** Lines read (non-blank). */
  read: number;
  /** Orders sent and acknowledged. */
  sent: number;
  /** Lines skipped as invalid. */
  skipped: number;
  /** Wall time in seconds. */
  seconds: number;
  /** Orders sent per second. */
  ordersPerSecond: number;
  /** Bytes of values sent. */
  bytes: number;
}

/** Options of {@link publishOrders}. */
export interface PublishOptions {
  /** Messages per send request (default 2000). */
  batchSize?: number;
  /** Max value bytes per send request (default 768 KiB). */
  batchBytes?: number;
  /** Called for every skipped line. */
  onSkip?: (s: SkippedLine) => void;
  /** Called after each acknowledged batch with running totals. */
  onProgress?: (sent: number, skipped: number, elapsedMs: number) => void;
}

/**
 * Validates and sends order lines; resolves when every sent order is acknowledged.
 * One send is in flight at a time, so orders of one key keep their file order.
 *
 * @example
 * ```ts
 * import type { Kafka } from "kafkajs";
 * import { readLines } from "./lines.ts";
 * import { publishOrders } from "./publish.ts";
 * // Needs a broker, so the doc test only type-checks it:
 * async function produce(kafka: Kafka, files: string[]) {
 *   const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
 *   await producer.connect();
 *   const summary = await publishOrders(producer, "retail-data-new", readLines(files));
 *   await producer.disconnect();
 *   return summary; // { read, sent, skipped, seconds, ordersPerSecond, bytes }
 * }
 * ```
 */
export async function publishOrders(
  producer: Producer,
  topic: string,
  lines: AsyncIterable<SourceLine>,
  options: PublishOptions = {},
): Promise<PublishSummary> {
  const batchSize = options.batchSize ?? 2000;
  const batchBytes = options.batchBytes ?? 768 * 1024;
  const started = performance.now();
  let read = 0, sent = 0, skipped = 0, bytes = 0;
  let batch: { key: string; value: Buffer }[] = [];
  let pendingBytes = 0;
  const flush = async () => {
    if (batch.length === 0) return;
    await producer.send({ topic, acks: -1, messages: batch });
    sent += batch.length;
    batch = [];
    pendingBytes = 0;
    options.onProgress?.(sent, skipped, performance.now() - started);
  };
  for await (const l of lines) {
    read++;
    const parsed = parseOrder(l.bytes);
    if (!parsed.ok) {
      skipped++;
      options.onSkip?.({
        file: l.file,
        line: l.line,
        reason: parsed.reason,
        message: parsed.message,
      });
      continue;
    }
    const value = Buffer.from(l.bytes.buffer, l.bytes.byteOffset, l.bytes.byteLength);
    batch.push({ key: String(parsed.order.customer_id), value });
    pendingBytes += value.byteLength;
    bytes += value.byteLength;
    if (batch.length >= batchSize || pendingBytes >= batchBytes) await flush();
  }
  await flush();
  const seconds = (performance.now() - started) / 1000;
  return {
    read,
    sent,
    skipped,
    seconds,
    bytes,
    ordersPerSecond: seconds > 0 ? sent / seconds : sent,
  };
}
