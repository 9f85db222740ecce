/**
 * The transactional sink of a consume-transform-produce stream (Kafka's exactly-once design):
 * one transactional producer per query (a stable `transactionalId`), and per micro-batch one
 * transaction holding the batch's output records and the consumed offsets (`sendOffsets` to
 * the query's consumer group). Readers with isolation read_committed see a batch's output
 * exactly when its offsets are committed, never twice, never partly.
 *
 * Opening the sink initialises the transactional id: the broker bumps the producer epoch, which
 * fences any older instance with the same id (a zombie's next transaction fails with
 * {@link FencedError}) and aborts, or completes, whatever transaction it left open. Only then
 * are the committed offsets read, so they are stable.
 *
 * @module
 */
import {
  type Admin,
  type Kafka,
  type KafkaConfig,
  type Message,
  Partitioners,
  type Producer,
} from "kafkajs";
import { backoffDelay, sleep } from "../backoff.ts";
import { FencedError, isFencedKafkaError } from "./errors.ts";

// Importable from here as before; it lives in errors.ts with the classifier.
export { FencedError };

/** Records for one topic, in kafkajs message form. */
export interface TopicMessages {
  /** Topic name. */
  topic: string;
  /** The records. */
  messages: Message[];
}

/** The consumed position committed with a batch. */
export interface CommitOffsets {
  /** The consumer group (the query name) whose offsets are the stream's position. */
  groupId: string;
  /** The input topic. */
  topic: string;
  /** Next offset to read per partition. */
  partitions: { partition: number; offset: bigint }[];
}

/** Hooks called inside a transaction (fault injection in tests, timing in benchmarks). */
export interface CommitHooks {
  /** After the records were sent, before the offsets. */
  afterSend?: () => void | Promise<void>;
  /** After the offsets were sent, before the commit. */
  beforeCommit?: () => void | Promise<void>;
}

/** Options of {@link openTransactionalSink}. */
export interface SinkOptions {
  /** Stable per query (and instance): the fencing identity. */
  transactionalId: string;
  /** Broker-side transaction timeout, ms (default 60 000); batches must commit well within. */
  transactionTimeout?: number;
  /** Max value bytes per produce request inside a transaction (default 512 KiB). */
  requestBytes?: number;
  /** First retry delay, ms (default 20): a transaction started right after a commit meets
   * CONCURRENT_TRANSACTIONS until the commit markers are written, which takes a few ms. */
  retryMs?: number;
}

/** A transactional producer that commits micro-batches. */
export interface TransactionalSink {
  /** The transactional id. */
  readonly transactionalId: string;
  /** Sends the records and the offsets in one transaction and commits it. */
  commit(records: TopicMessages[], offsets: CommitOffsets, hooks?: CommitHooks): Promise<void>;
  /** Disconnects the producer. */
  close(): Promise<void>;
}

const EXPECTED_RETRY =
  /another concurrent operation on the same transaction|CONCURRENT_TRANSACTIONS/;

/** Types and messages of an error and its cause chain, as one string. */
function errorText(error: unknown): string {
  const parts: string[] = [];
  let e: unknown = error;
  for (let i = 0; e && i < 6; i++) {
    const err = e as { type?: string; message?: string };
    parts.push(`${err.type ?? ""} ${err.message ?? ""}`);
    e = (e as { originalError?: unknown; cause?: unknown }).originalError ??
      (e as { cause?: unknown }).cause;
  }
  return parts.join(" | ");
}

function size(m: Message): number {
  const v = m.value as { length?: number } | null | undefined;
  const k = m.key as { length?: number } | null | undefined;
  return (v?.length ?? 0) + (k?.length ?? 0) + 64;
}

/**
 * Connects a transactional producer and initialises its id (fencing older instances).
 *
 * @example
 * ```ts
 * import type { Kafka } from "kafkajs";
 * import { openTransactionalSink } from "./sink.ts";
 * const query = "processed_orders-filter-chicago";
 * // Needs a broker, so the doc test only type-checks it:
 * async function publish(kafka: Kafka) {
 *   const sink = await openTransactionalSink(kafka, { transactionalId: query });
 *   const messages = [{ key: "11599", value: '{"order_id":1,…}' }];
 *   await sink.commit([{ topic: "processed_orders", messages }],
 *     { groupId: query, topic: "retail-data-new", partitions: [{ partition: 0, offset: 1200n }] });
 *   await sink.close();
 * }
 * ```
 */
export async function openTransactionalSink(
  kafka: Kafka,
  options: SinkOptions,
): Promise<TransactionalSink> {
  const requestBytes = options.requestBytes ?? 512 * 1024;
  const producer: Producer = kafka.producer({
    transactionalId: options.transactionalId,
    idempotent: true,
    maxInFlightRequests: 1,
    transactionTimeout: options.transactionTimeout ?? 60_000,
    createPartitioner: Partitioners.DefaultPartitioner,
    retry: { initialRetryTime: options.retryMs ?? 20, maxRetryTime: 5_000, retries: 20 },
  });
  await producer.connect();
  try {
    // InitProducerId: bumps the epoch (fencing zombies) and settles their open transaction.
    const init = await producer.transaction();
    await init.abort();
  } catch (e) {
    await producer.disconnect();
    throw e;
  }
  let fenced: FencedError | undefined;
  return {
    transactionalId: options.transactionalId,
    async commit(records, offsets, hooks = {}) {
      if (fenced) throw fenced;
      const tx = await producer.transaction();
      try {
        for (const { topic, messages } of records) {
          let part: Message[] = [];
          let bytes = 0;
          for (const m of messages) {
            const n = size(m);
            // Flush before a record that would overflow the request (a record batch per
            // partition must stay under the broker's message.max.bytes).
            if (part.length > 0 && bytes + n > requestBytes) {
              await tx.send({ topic, messages: part, acks: -1 });
              part = [];
              bytes = 0;
            }
            part.push(m);
            bytes += n;
          }
          if (part.length > 0) await tx.send({ topic, messages: part, acks: -1 });
        }
        await hooks.afterSend?.();
        const topics = [{
          topic: offsets.topic,
          partitions: offsets.partitions.map((p) => ({
            partition: p.partition,
            offset: p.offset.toString(),
          })),
        }];
        // kafkajs does not retry AddOffsetsToTxn; when it opens the transaction (a batch with no
        // records) right after a commit, the coordinator answers CONCURRENT_TRANSACTIONS until
        // the previous commit's markers are written: retry that answer, briefly.
        for (let attempt = 0;; attempt++) {
          try {
            await tx.sendOffsets({ consumerGroupId: offsets.groupId, topics });
            break;
          } catch (e) {
            if (attempt >= 30 || !EXPECTED_RETRY.test(errorText(e))) throw e;
            await sleep(backoffDelay({ baseMs: 10, maxMs: 500, jitter: "none" }, attempt + 1));
          }
        }
        await hooks.beforeCommit?.();
        await tx.commit();
      } catch (e) {
        if (isFencedKafkaError(e)) {
          fenced = new FencedError(
            `transactional id '${options.transactionalId}' was taken over by a newer instance; ` +
              "this one stops (its open transaction is aborted by the broker)",
          );
          throw fenced;
        }
        if (tx.isActive()) await tx.abort().catch(() => {});
        throw e;
      }
    },
    async close() {
      await producer.disconnect();
    },
  };
}

/**
 * The offsets a consumer group committed for a topic (partitions without a commit are absent).
 *
 * @example
 * ```ts
 * import type { Admin } from "kafkajs";
 * import { committedOffsets } from "./sink.ts";
 * // Needs a broker, so the doc test only type-checks it:
 * async function start(admin: Admin) {
 *   const query = "processed_orders-filter-chicago";
 *   return await committedOffsets(admin, query, "retail-data-new"); // e.g. Map { 0 => 1200n }
 * }
 * ```
 */
export async function committedOffsets(
  admin: Admin,
  groupId: string,
  topic: string,
): Promise<Map<number, bigint>> {
  const res = await admin.fetchOffsets({ groupId, topics: [topic] });
  const out = new Map<number, bigint>();
  for (const t of res) {
    for (const p of t.partitions) {
      const o = BigInt(p.offset);
      if (o >= 0n) out.set(p.partition, o);
    }
  }
  return out;
}

/**
 * A kafkajs configuration whose logger leaves out the CONCURRENT_TRANSACTIONS answers that
 * every transaction started right after a commit gets (kafkajs logs them as errors, then
 * retries and succeeds); everything else is logged as before.
 *
 * @example
 * ```ts
 * import { Kafka } from "kafkajs";
 * import { kafkaConfig } from "./client.ts";
 * import { quietTransactionLogs } from "./sink.ts";
 * const settings = {
 *   bootstrapServers: ["localhost:9092"],
 *   securityProtocol: "PLAINTEXT" as const,
 *   clientId: "retail-orders",
 * };
 * const kafka = new Kafka(quietTransactionLogs(kafkaConfig(settings))); // connects on first use
 * ```
 */
export function quietTransactionLogs(config: KafkaConfig): KafkaConfig {
  const base = config.logCreator;
  if (!base) return config;
  return {
    ...config,
    logCreator: (level) => {
      const inner = base(level);
      return (entry) => {
        const { message, error } = entry.log as { message?: unknown; error?: unknown };
        if (EXPECTED_RETRY.test(`${message} ${error}`)) return;
        inner(entry);
      };
    },
  };
}
