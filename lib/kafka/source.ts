/**
 * Reading a bounded range of a topic: resolve start/end offsets per partition (earliest, latest,
 * an offset, per-partition JSON, or a timestamp), then read exactly those records once, with no
 * consumer-group offsets committed (a throw-away group id, autoCommit off).
 *
 * @module
 */
import type { Admin, Consumer, Kafka } from "kafkajs";
import { UserError } from "../errors.ts";
import { installAbortedFilter } from "./_aborted.ts";

// kafkajs skips aborted transactions wrongly when they interleave (see _aborted.ts).
installAbortedFilter();

/** One Kafka record with its coordinates, as the seed's Spark Kafka source shows it. */
export interface KafkaRecord {
  /** Topic name. */
  topic: string;
  /** Partition number. */
  partition: number;
  /** Offset (decimal text; int64). */
  offset: string;
  /** Key bytes, or null. */
  key: Uint8Array | null;
  /** Value bytes, or null (tombstone). */
  value: Uint8Array | null;
  /** Timestamp in ms since the epoch. */
  timestamp: number;
  /** 0 = CreateTime, 1 = LogAppendTime (from the topic's message.timestamp.type). */
  timestampType: number;
}

/** Where a range starts or ends. */
export type OffsetSpec =
  | { kind: "earliest" }
  | { kind: "latest" }
  | { kind: "offset"; offset: bigint }
  | { kind: "partitions"; offsets: Record<string, bigint> }
  | { kind: "timestamp"; ms: number };

/** The records [start, end) of one partition. */
export interface PartitionRange {
  /** Partition number. */
  partition: number;
  /** First offset to read. */
  start: bigint;
  /** One past the last offset to read. */
  end: bigint;
}

/** A bad offset or timestamp spec; the message says the accepted forms. */
export class OffsetSpecError extends UserError {
  override name = "OffsetSpecError";
}

/**
 * Parses an offset spec: `earliest`, `latest`, a non-negative offset applied to every partition,
 * or per-partition JSON like `{"0":5,"1":-2}` (-2 = earliest, -1 = latest, as Spark).
 */
export function parseOffsetSpec(text: string): OffsetSpec {
  const t = text.trim();
  if (t === "earliest") return { kind: "earliest" };
  if (t === "latest") return { kind: "latest" };
  if (/^\d+$/.test(t)) return { kind: "offset", offset: BigInt(t) };
  if (t.startsWith("{")) {
    let obj: unknown;
    try {
      obj = JSON.parse(t);
    } catch {
      throw new OffsetSpecError(`offsets '${t}' are not valid JSON`);
    }
    // Spark's form {"topic":{"0":5}} is accepted too.
    const values = Object.values(obj as object);
    if (values.length === 1 && typeof values[0] === "object" && values[0] !== null) {
      obj = values[0];
    }
    const offsets: Record<string, bigint> = {};
    for (const [p, o] of Object.entries(obj as Record<string, unknown>)) {
      if (!/^\d+$/.test(p) || !Number.isInteger(o) || (o as number) < -2) {
        throw new OffsetSpecError(`bad partition offset ${p}: ${JSON.stringify(o)}`);
      }
      offsets[p] = BigInt(o as number);
    }
    return { kind: "partitions", offsets };
  }
  throw new OffsetSpecError(
    `offset '${t}' is not earliest, latest, a number or per-partition JSON like {"0":5}`,
  );
}

/** Parses a timestamp flag: ms since the epoch or an ISO date/time (UTC unless it says). */
export function parseTimestampSpec(text: string): OffsetSpec {
  const t = text.trim();
  if (/^\d+$/.test(t)) return { kind: "timestamp", ms: Number(t) };
  const ms = Date.parse(/[zZ]|[+-]\d\d:?\d\d$/.test(t) || !t.includes("T") ? t : `${t}Z`);
  if (Number.isNaN(ms)) {
    throw new OffsetSpecError(`timestamp '${t}' is neither epoch ms nor an ISO date/time`);
  }
  return { kind: "timestamp", ms };
}

interface Watermarks {
  low: bigint;
  high: bigint;
}

async function watermarks(admin: Admin, topic: string): Promise<Map<number, Watermarks>> {
  const offsets = await admin.fetchTopicOffsets(topic);
  return new Map(
    offsets.map((o) => [o.partition, { low: BigInt(o.low), high: BigInt(o.high) }]),
  );
}

async function resolveSpec(
  admin: Admin,
  topic: string,
  spec: OffsetSpec,
  marks: Map<number, Watermarks>,
): Promise<Map<number, bigint>> {
  const out = new Map<number, bigint>();
  if (spec.kind === "timestamp") {
    const byTime = await admin.fetchTopicOffsetsByTimestamp(topic, spec.ms);
    for (const { partition, offset } of byTime) {
      const o = BigInt(offset);
      // -1: no record at or after the timestamp, so the range starts/ends at the high watermark.
      out.set(partition, o < 0n ? marks.get(partition)!.high : o);
    }
    return out;
  }
  for (const [p, m] of marks) {
    let o: bigint;
    if (spec.kind === "earliest") o = m.low;
    else if (spec.kind === "latest") o = m.high;
    else if (spec.kind === "offset") o = spec.offset;
    else {
      const given = spec.offsets[String(p)];
      o = given === undefined || given === -2n ? m.low : given === -1n ? m.high : given;
    }
    out.set(p, o < m.low ? m.low : o > m.high ? m.high : o);
  }
  return out;
}

/**
 * Resolves [start, end) per partition for a topic from two specs, clamped to what the
 * partitions hold now.
 *
 * @example
 * ```ts
 * import type { Admin } from "kafkajs";
 * import { parseOffsetSpec, resolveRange } from "./source.ts";
 * const from = parseOffsetSpec('{"0":5}'); // { kind: "partitions", offsets: { "0": 5n } }
 * // Needs a broker, so the doc test only type-checks it:
 * async function ranges(admin: Admin) {
 *   return await resolveRange(admin, "retail-data-new", from, { kind: "latest" });
 *   // e.g. [{ partition: 0, start: 5n, end: 7200n }, { partition: 1, start: 0n, end: 7100n }]
 * }
 * ```
 */
export async function resolveRange(
  admin: Admin,
  topic: string,
  from: OffsetSpec,
  to: OffsetSpec,
): Promise<PartitionRange[]> {
  const marks = await watermarks(admin, topic);
  const starts = await resolveSpec(admin, topic, from, marks);
  const ends = await resolveSpec(admin, topic, to, marks);
  return [...marks.keys()].sort((a, b) => a - b).map((partition) => {
    const start = starts.get(partition)!;
    const end = ends.get(partition)!;
    return { partition, start, end: end < start ? start : end };
  });
}

/** The topic's timestamp type as Kafka's record attribute: 0 CreateTime, 1 LogAppendTime. */
export async function topicTimestampType(admin: Admin, topic: string): Promise<number> {
  try {
    const res = await admin.describeConfigs({
      resources: [{ type: 2, name: topic, configNames: ["message.timestamp.type"] }],
      includeSynonyms: false,
    });
    const entry = res.resources[0]?.configEntries.find((e) =>
      e.configName === "message.timestamp.type"
    );
    return entry?.configValue === "LogAppendTime" ? 1 : 0;
  } catch {
    return 0;
  }
}

/** Options of {@link readRange}. */
export interface ReadRangeOptions {
  /** Read records of aborted/open transactions too (default false: read_committed). */
  readUncommitted?: boolean;
  /** Max bytes fetched per partition per request (default 1 MiB). */
  maxBytesPerPartition?: number;
  /** Timestamp type to report (default: looked up from the topic config). */
  timestampType?: number;
}

/**
 * Reads exactly the given ranges of a topic, yielding records in batches (per partition, in
 * offset order), and ends by itself. Commits no consumer-group offsets.
 *
 * @example
 * ```ts
 * import type { Kafka } from "kafkajs";
 * import { readRange, resolveRange } from "./source.ts";
 * // Needs a broker, so the doc test only type-checks it:
 * async function readAll(kafka: Kafka, topic: string) {
 *   const admin = kafka.admin();
 *   await admin.connect();
 *   const ranges = await resolveRange(admin, topic, { kind: "earliest" }, { kind: "latest" });
 *   await admin.disconnect();
 *   for await (const batch of readRange(kafka, topic, ranges)) console.log(batch.length);
 * }
 * ```
 */
export async function* readRange(
  kafka: Kafka,
  topic: string,
  ranges: PartitionRange[],
  options: ReadRangeOptions = {},
): AsyncGenerator<KafkaRecord[]> {
  const pending = new Map(
    ranges.filter((r) => r.end > r.start).map((r) => [r.partition, r]),
  );
  if (pending.size === 0) return;
  let timestampType = options.timestampType;
  if (timestampType === undefined) {
    const admin = kafka.admin();
    await admin.connect();
    try {
      timestampType = await topicTimestampType(admin, topic);
    } finally {
      await admin.disconnect();
    }
  }
  const consumer: Consumer = kafka.consumer({
    groupId: `range-reader-${crypto.randomUUID()}`,
    readUncommitted: options.readUncommitted ?? false,
    maxBytesPerPartition: options.maxBytesPerPartition ?? 1 << 20,
    maxWaitTimeInMs: 250,
    allowAutoTopicCreation: false,
  });
  const queue = new Channel<KafkaRecord[]>();
  const done = (partition: number) => {
    pending.delete(partition);
    if (pending.size === 0) queue.close();
  };
  // Batches that hold only control records or aborted messages never reach eachBatch; the
  // instrumentation event still says how far the partition got.
  consumer.on(consumer.events.END_BATCH_PROCESS, ({ payload }) => {
    const r = pending.get(payload.partition);
    if (r && BigInt(payload.lastOffset) >= r.end - 1n) done(payload.partition);
  });
  consumer.on(consumer.events.CRASH, ({ payload }) => queue.fail(payload.error));
  await consumer.connect();
  try {
    await consumer.subscribe({ topics: [topic], fromBeginning: true });
    await consumer.run({
      autoCommit: false,
      eachBatchAutoResolve: false,
      eachBatch: async ({ batch, pause, resolveOffset }) => {
        const r = pending.get(batch.partition);
        if (!r) {
          pause();
          return;
        }
        const out: KafkaRecord[] = [];
        for (const m of batch.messages) {
          const off = BigInt(m.offset);
          if (off < r.start) continue;
          if (off >= r.end) break;
          out.push({
            topic,
            partition: batch.partition,
            offset: m.offset,
            key: m.key ?? null,
            value: m.value ?? null,
            timestamp: Number(m.timestamp),
            timestampType: timestampType!,
          });
        }
        if (out.length > 0) await queue.push(out);
        // Moves the fetch position on (nothing is committed: autoCommit is off).
        resolveOffset(batch.lastOffset());
      },
    });
    for (const r of pending.values()) {
      consumer.seek({ topic, partition: r.partition, offset: r.start.toString() });
    }
    yield* queue;
  } finally {
    await consumer.disconnect();
  }
}

/** A one-consumer async queue with backpressure: push waits until the reader took the item. */
class Channel<T> implements AsyncIterable<T> {
  #items: { value: T; taken: () => void }[] = [];
  #wake?: () => void;
  #closed = false;
  #error?: unknown;

  push(value: T): Promise<void> {
    return new Promise((taken) => {
      this.#items.push({ value, taken });
      this.#wake?.();
    });
  }
  close(): void {
    this.#closed = true;
    this.#wake?.();
  }
  fail(error: unknown): void {
    this.#error = error;
    this.close();
  }
  async *[Symbol.asyncIterator](): AsyncIterator<T> {
    while (true) {
      const item = this.#items.shift();
      if (item) {
        item.taken();
        yield item.value;
        continue;
      }
      if (this.#error) throw this.#error;
      if (this.#closed) return;
      await new Promise<void>((wake) => (this.#wake = wake));
      this.#wake = undefined;
    }
  }
}
