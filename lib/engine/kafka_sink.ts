/**
 * The engine's Kafka sink: each micro-batch is one Kafka transaction holding its output
 * records, its dead letters, its state changes and a meta record on the query's changelog, and
 * the consumed offsets (`sendOffsets` to the query's consumer group). The transactional id is
 * the query name, so a new instance fences an older one and settles its open transaction.
 *
 * What a batch becomes is the transform's (lib/insights: filter, or windowed aggregates); the
 * changelog is the sink's: a compacted topic `<query>-changelog` whose meta record says which
 * settings and offsets the state belongs to. On open the state is rebuilt by reading the
 * changelog to its end. Positions: the group's offsets, or the changelog's where they expired;
 * where the two differ a stateful transform follows the changelog (its state belongs to
 * those offsets), a stateless one the group (an operator may have reset it).
 *
 * @module
 */
import type { Admin, Kafka, Message } from "kafkajs";
import { UserError } from "../errors.ts";
import { ensureTopic, requireTopic, sizeConfigs } from "../kafka/client.ts";
import { readRange, resolveRange } from "../kafka/source.ts";
import {
  committedOffsets,
  openTransactionalSink,
  type TopicMessages,
  type TransactionalSink,
} from "../kafka/sink.ts";
import type { SourceSlice } from "../kafka/stream_source.ts";
import { type Fault, faultFromEnv, maybeFault } from "./fault.ts";
import type { EventTimeProgress } from "./progress.ts";
import type { BatchInfo, Committed, Sink } from "./sink.ts";

/** The key of the changelog's meta record. */
export const META_KEY = "__meta__";

/** The changelog's meta record: what the state belongs to and how far it got. */
export interface ChangelogMeta {
  /** Format version (1). */
  version: 1;
  /** The input topic. */
  topic: string;
  /** Next offset to read per partition (decimal strings), committed with this state. */
  offsets: Record<string, string>;
  /** The transform's settings and state facts (mode, dimension, window, max event time). */
  [setting: string]: unknown;
}

/** A changelog that does not fit the query (other settings, or unreadable records). */
export class ChangelogError extends UserError {
  override name = "ChangelogError";
}

/** The stream would read its own output; choose other topics. */
export class TopicLoopError extends UserError {
  override name = "TopicLoopError";
}

/** What a transform made of one slice. */
export interface Transformed {
  /** Records for the output topic. */
  output: Message[];
  /** Records for the dead-letter topic. */
  dead: Message[];
  /** Dead letters by reason code. */
  deadReasons: Record<string, number>;
  /** State changes for the changelog (value null deletes a key). */
  state: { key: string; value: string | null }[];
  /** Windowed transforms: the event-time state after the slice. */
  eventTime?: EventTimeProgress;
}

/** What a Kafka query does with its records (filter, aggregate): the sink's plug. */
export interface Transform {
  /** True when the transform keeps state (windows) in the changelog. */
  readonly stateful: boolean;
  /** Its settings and state facts for the meta record (JSON-able). */
  meta(): Record<string, unknown>;
  /**
   * Takes a restored changelog: its meta (settings to check: throw a ChangelogError when they
   * are not this transform's) and its live state records (last value per key).
   */
  restore(meta: ChangelogMeta, state: { key: string; value: string }[]): void;
  /** Turns a slice into output, dead letters and state changes (called in batch order). */
  apply(slice: SourceSlice): Promise<Transformed>;
  /** Releases resources (a worker). */
  close(): void;
}

/** Settings of {@link kafkaSink}. */
export interface KafkaSinkOptions {
  /** The kafkajs client. */
  kafka: Kafka;
  /** The admin client of this attempt. */
  admin: Admin;
  /** The query name: consumer group, transactional id, changelog prefix. */
  query: string;
  /** Input topic. */
  topic: string;
  /** Output topic (created with the input's partition count when missing). */
  outputTopic: string;
  /** Dead-letter topic (created when missing). */
  deadLetterTopic: string;
  /** Kafka transaction timeout, ms. */
  transactionTimeoutMs: number;
  /** The bootstrap servers, for messages. */
  servers: string;
  /** One line per event. */
  log: (tag: string, message: string) => void;
  /** The crash-test hook (default: STREAM_FAULT). */
  fault?: Fault;
}

/**
 * Refuses a query that would read its own output (the input topic among its outputs).
 *
 * @example
 * ```ts
 * import { checkTopicLoop } from "./kafka_sink.ts";
 * checkTopicLoop({ query: "q", topic: "orders", outputTopic: "out", deadLetterTopic: "dlq" });
 * ```
 */
export function checkTopicLoop(
  o: { query: string; topic: string; outputTopic: string; deadLetterTopic: string },
): void {
  for (const out of [o.outputTopic, o.deadLetterTopic, changelogTopic(o.query)]) {
    if (out === o.topic) {
      throw new TopicLoopError(
        `the input topic '${o.topic}' is also an output of query '${o.query}': the stream ` +
          "would read what it writes; use another --output-topic/--dead-letter-topic",
      );
    }
  }
}

/** The changelog topic of a query. */
export function changelogTopic(queryName: string): string {
  return `${queryName}-changelog`;
}

/** Creates a query's changelog topic when missing (compacted, one partition). */
export async function ensureChangelog(admin: Admin, topic: string): Promise<void> {
  if ((await admin.listTopics()).includes(topic)) return;
  try {
    await admin.createTopics({
      topics: [{
        topic,
        numPartitions: 1,
        // Compacted, with small segments so compaction keeps up (only closed segments are
        // compacted) and a restart reads little more than the live state.
        configEntries: [
          { name: "cleanup.policy", value: "compact" },
          { name: "segment.bytes", value: String(16 << 20) },
          { name: "segment.ms", value: String(3_600_000) },
        ],
      }],
      waitForLeaders: true,
    });
  } catch (e) {
    if (!/TOPIC_ALREADY_EXISTS|already exists/i.test(String((e as Error).message))) throw e;
  }
}

const decoder = new TextDecoder();
const text = (b: Uint8Array | null) => (b === null ? null : decoder.decode(b));

/**
 * Reads a changelog to its end: the last meta (key {@link META_KEY}), the last meta of each
 * partition task (keys `__meta__/<partition>`, written by the per-partition sink), and the live
 * state (last value per other key).
 */
export async function readChangelog(
  kafka: Kafka,
  admin: Admin,
  topic: string,
): Promise<{
  meta?: ChangelogMeta;
  partitionMetas: Map<number, ChangelogMeta>;
  state: { key: string; value: string }[];
  records: number;
}> {
  const ranges = await resolveRange(admin, topic, { kind: "earliest" }, { kind: "latest" });
  const live = new Map<string, string>();
  let meta: ChangelogMeta | undefined;
  const partitionMetas = new Map<number, ChangelogMeta>();
  let records = 0;
  for await (const batch of readRange(kafka, topic, ranges, { timestampType: 0 })) {
    for (const r of batch) {
      records++;
      const key = text(r.key);
      if (key === null) continue;
      const value = text(r.value);
      const task = key.startsWith(`${META_KEY}/`) ? Number(key.slice(META_KEY.length + 1)) : NaN;
      if (key === META_KEY || Number.isInteger(task)) {
        if (value === null) continue;
        let parsed: ChangelogMeta;
        try {
          parsed = JSON.parse(value) as ChangelogMeta;
        } catch {
          throw new ChangelogError(`changelog ${topic} has a meta record that is not JSON`);
        }
        if (key === META_KEY) meta = parsed;
        else partitionMetas.set(task, parsed);
      } else if (value === null) live.delete(key);
      else live.set(key, value);
    }
  }
  return {
    meta,
    partitionMetas,
    state: [...live].map(([key, value]) => ({ key, value })),
    records,
  };
}

/** A prepared transaction. */
interface KafkaBatch {
  topics: TopicMessages[];
  offsets: Map<number, bigint>;
  out: Transformed;
  transformMs: number;
}

/**
 * The Kafka transactional sink of a transform.
 *
 * @example
 * ```ts
 * import type { Admin, Kafka } from "kafkajs";
 * import { filterTransform } from "../insights/transform.ts";
 * import { kafkaSink } from "./kafka_sink.ts";
 * const query = "processed_orders-filter-chicago";
 * // Needs a broker, so the doc test only type-checks it:
 * function sinkOf(kafka: Kafka, admin: Admin) {
 *   return kafkaSink(filterTransform({ city: "Chicago" }, { query }), {
 *     kafka, admin, query, topic: "retail-data-new", outputTopic: "processed_orders",
 *     deadLetterTopic: "processed_orders_dead_letters", transactionTimeoutMs: 60_000,
 *     servers: "localhost:9092", log: (tag, message) => console.error(tag, message),
 *   }); // open() fences older instances and restores the changelog; the loop does the rest
 * }
 * ```
 */
export function kafkaSink(transform: Transform, o: KafkaSinkOptions): Sink<KafkaBatch> {
  const fault = o.fault ?? faultFromEnv();
  const changelog = changelogTopic(o.query);
  const positions = new Map<number, bigint>();
  let committed = new Map<number, bigint>();
  let txn: TransactionalSink | undefined;
  const metaMessage = (offsets: Map<number, bigint>): Message => ({
    key: META_KEY,
    value: JSON.stringify({
      version: 1,
      ...transform.meta(),
      topic: o.topic,
      offsets: Object.fromEntries([...offsets].map(([p, off]) => [String(p), off.toString()])),
    }),
  });
  const groupOffsets = (offsets: Map<number, bigint>) => ({
    groupId: o.query,
    topic: o.topic,
    partitions: [...offsets].map(([partition, offset]) => ({ partition, offset })),
  });

  return {
    committedTo: `${o.outputTopic} (exactly once)`,
    depth: 1,
    transactional: true,
    async open() {
      checkTopicLoop(o);
      // Topics: the input must exist; output, dead letters and changelog are made if missing.
      const partitions = await requireTopic(o.admin, o.topic, o.servers);
      // Topics made here hold every record their input holds (a valid order at the size limit).
      const sizes = await sizeConfigs(o.admin, o.topic);
      await ensureTopic(o.admin, o.outputTopic, partitions, sizes);
      await ensureTopic(o.admin, o.deadLetterTopic, 1, sizes);
      // Fence older instances and settle their open transaction, then read the position.
      txn = await openTransactionalSink(o.kafka, {
        transactionalId: o.query,
        transactionTimeout: o.transactionTimeoutMs,
      });
      committed = await committedOffsets(o.admin, o.query, o.topic);
      await ensureChangelog(o.admin, changelog);
      const { meta, state, records } = await readChangelog(o.kafka, o.admin, changelog);
      if (!meta) {
        if (transform.stateful && committed.size > 0) {
          throw new ChangelogError(
            `query '${o.query}' has committed offsets but its changelog ${changelog} is empty: ` +
              "its window state is lost; start over with another --query-name",
          );
        }
        return;
      }
      if (meta.topic !== o.topic) {
        throw new ChangelogError(
          `query '${o.query}' ran on topic '${meta.topic}'; it cannot continue on '${o.topic}': ` +
            "use the same topic or another --query-name",
        );
      }
      transform.restore(meta, state);
      for (const [p, off] of Object.entries(meta.offsets)) {
        const c = committed.get(Number(p));
        if (c === BigInt(off)) continue;
        if (c === undefined) {
          o.log("restore", `p${p}: no group offset (expired?); using the changelog's ${off}`);
          committed.set(Number(p), BigInt(off));
        } else if (transform.stateful) {
          o.log(
            "warn",
            `group offset p${p}=${c} differs from the changelog's ${off}; using ${off}`,
          );
          committed.set(Number(p), BigInt(off));
        } else {
          o.log("warn", `group offset p${p}=${c} differs from the changelog's ${off}; using ${c}`);
        }
      }
      if (transform.stateful) {
        const max = meta.maxEventTime as number | null | undefined;
        o.log(
          "restore",
          `${state.length} windows from ${changelog} (${records} records), max event time ${
            max === null || max === undefined ? "none" : new Date(max).toISOString()
          }`,
        );
      }
    },
    stored(partitions) {
      return Promise.resolve(new Map(partitions.map((p) => [p, committed.get(p)])));
    },
    async begin(resume, fresh) {
      for (const [p, off] of resume) positions.set(p, off);
      o.log(
        "start",
        [...resume].map(([p, s]) => `p${p}@${s}${fresh.includes(p) ? " (new)" : ""}`).join(" "),
      );
      // Batch 0: a new query records where it starts, so a restart does not resolve it again.
      if (fresh.length > 0) {
        await txn!.commit(
          [{ topic: changelog, messages: [metaMessage(positions)] }],
          groupOffsets(positions),
        );
      }
      return true;
    },
    async prepare(slice: SourceSlice) {
      const t0 = performance.now();
      const out = await transform.apply(slice);
      for (const p of slice.partitions) positions.set(p.partition, p.end);
      const offsets = new Map(positions);
      const topics: TopicMessages[] = [];
      if (out.output.length > 0) topics.push({ topic: o.outputTopic, messages: out.output });
      topics.push({
        topic: changelog,
        messages: [...out.state.map((s) => ({ key: s.key, value: s.value })), metaMessage(offsets)],
      });
      if (out.dead.length > 0) topics.push({ topic: o.deadLetterTopic, messages: out.dead });
      return { topics, offsets, out, transformMs: performance.now() - t0 };
    },
    async commit(b: KafkaBatch, batch: BatchInfo): Promise<Committed> {
      const t0 = performance.now();
      maybeFault(fault, "before-send", batch.seq);
      await txn!.commit(b.topics, groupOffsets(b.offsets), {
        afterSend: () => maybeFault(fault, "after-send", batch.seq),
        beforeCommit: () => maybeFault(fault, "before-commit", batch.seq),
      });
      maybeFault(fault, "after-commit", batch.seq);
      return {
        ok: true,
        sink: {
          [o.outputTopic]: { rows: b.out.output.length },
          [o.deadLetterTopic]: { rows: b.out.dead.length },
        },
        deadLetters: b.out.dead.length,
        deadLetterReasons: b.out.deadReasons,
        output: { topic: o.outputTopic, records: b.out.output.length },
        ...(b.out.eventTime ? { eventTime: b.out.eventTime } : {}),
        durationMs: { transform: b.transformMs, commit: performance.now() - t0 },
      };
    },
    async close() {
      transform.close();
      const t = txn;
      txn = undefined;
      await t?.close();
    },
  };
}
