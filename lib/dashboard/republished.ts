/**
 * What the producer stream has republished: the output topic (processed_orders) read from the
 * beginning with isolation `read_committed` (kafkajs' `readUncommitted: false`), so records of
 * aborted transactions are never counted. Order records (the filter mode's output) are summed
 * to orders and revenue; other records (the aggregate mode's windows) are counted as records.
 *
 * A watcher checks the topic every few seconds: a topic that does not exist yet and a broker
 * that does not answer are reported in one line (and the numbers are marked as of the last
 * answer); the consumer is started once the topic is there and restarted after a crash, and a
 * record is counted once per offset, so a restart that reads again counts nothing twice.
 *
 * @module
 */
import { type Admin, type Consumer, Kafka } from "kafkajs";
import type { KafkaSettings } from "../config.ts";
import { explainKafkaError, kafkaConfig, topicPartitions } from "../kafka/client.ts";

/** What the page shows about the output topic. */
export interface RepublishedView {
  /** The topic. */
  topic: string;
  /** `ok` (reading), `starting`, `missing` (no topic yet) or `unreachable` (Kafka). */
  status: "ok" | "starting" | "missing" | "unreachable";
  /** One line for the page; empty when all is well. */
  message: string;
  /** Records read (committed transactions only). */
  records: number;
  /** Records that are orders. */
  orders: number;
  /** Their revenue in dollars. */
  revenue: number;
  /** Next offset read per partition. */
  offsets: Record<string, number>;
  /** When Kafka last answered (ms), or null. */
  lastAnswerAt: number | null;
}

/** Options of {@link RepublishedReader}. */
export interface RepublishedOptions {
  /** How often the topic is checked (ms, default 2000). */
  checkMs?: number;
  /** Where one-line events go (state changes only). */
  log?: (tag: string, message: string) => void;
}

/**
 * Reads the output topic as described in the module doc.
 *
 * @example
 * ```ts
 * import type { KafkaSettings } from "../config.ts";
 * import { RepublishedReader } from "./republished.ts";
 * // Needs a broker, so the doc test only type-checks it:
 * async function watch(settings: KafkaSettings) {
 *   const reader = new RepublishedReader(settings, "processed_orders");
 *   reader.start();
 *   await new Promise((r) => setTimeout(r, 5000));
 *   console.log(reader.view().records);
 *   await reader.close();
 * }
 * ```
 */
export class RepublishedReader {
  readonly topic: string;
  readonly #kafka: Kafka;
  readonly #servers: string;
  readonly #settings: KafkaSettings;
  readonly #checkMs: number;
  readonly #log: (tag: string, message: string) => void;
  #admin: Admin | undefined;
  #consumer: Consumer | undefined;
  #status: RepublishedView["status"] = "starting";
  #message = "";
  #records = 0;
  #orders = 0;
  #cents = 0;
  #offsets = new Map<number, number>();
  #lastAnswerAt: number | null = null;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #closed = false;
  #checking: Promise<void> | undefined;

  constructor(settings: KafkaSettings, topic: string, opts: RepublishedOptions = {}) {
    this.topic = topic;
    this.#settings = settings;
    this.#servers = settings.bootstrapServers.join(",");
    // Quick answers: a status line is better than a long retry; the watcher tries again.
    this.#kafka = new Kafka({
      ...kafkaConfig(settings, "nothing"),
      connectionTimeout: 3000,
      requestTimeout: 10_000,
      retry: { retries: 1, initialRetryTime: 300, maxRetryTime: 1000 },
    });
    this.#checkMs = opts.checkMs ?? 2000;
    this.#log = opts.log ?? (() => {});
  }

  /** Starts watching and reading. */
  start(): void {
    const tick = () => {
      if (this.#closed) return;
      this.#checking = this.#check().finally(() => {
        if (!this.#closed) this.#timer = setTimeout(tick, this.#checkMs);
      });
    };
    tick();
  }

  /** The figures and status now. */
  view(): RepublishedView {
    return {
      topic: this.topic,
      status: this.#status,
      message: this.#message,
      records: this.#records,
      orders: this.#orders,
      revenue: this.#cents / 100,
      offsets: Object.fromEntries([...this.#offsets].sort((a, b) => a[0] - b[0])),
      lastAnswerAt: this.#lastAnswerAt,
    };
  }

  /** Stops the watcher and the consumer. */
  async close(): Promise<void> {
    this.#closed = true;
    clearTimeout(this.#timer);
    await this.#checking?.catch(() => {});
    await this.#stopConsumer();
    await this.#admin?.disconnect().catch(() => {});
    this.#admin = undefined;
  }

  #set(status: RepublishedView["status"], message: string): void {
    if (status !== this.#status || message !== this.#message) {
      this.#log("kafka", `${this.topic}: ${message || status}`);
    }
    this.#status = status;
    this.#message = message;
  }

  async #check(): Promise<void> {
    try {
      if (!this.#admin) {
        const admin = this.#kafka.admin();
        await admin.connect();
        this.#admin = admin;
      }
      const partitions = await topicPartitions(this.#admin, this.topic);
      this.#lastAnswerAt = Date.now();
      if (partitions === undefined) {
        await this.#stopConsumer();
        this.#reset();
        this.#set(
          "missing",
          `topic ${this.topic} does not exist yet: start the producer stream ` +
            "(deno task produce:stream)",
        );
        return;
      }
      if (!this.#consumer) await this.#startConsumer();
      if (this.#status !== "ok" && this.#consumer) this.#set("ok", "");
    } catch (e) {
      if (this.#closed) return;
      await this.#admin?.disconnect().catch(() => {});
      this.#admin = undefined;
      const since = this.#lastAnswerAt === null
        ? ""
        : `; figures as of ${new Date(this.#lastAnswerAt).toISOString().slice(11, 19)} UTC`;
      this.#set(
        "unreachable",
        `Kafka at ${this.#servers} is unreachable: ${
          explainKafkaError(e, this.#settings).split("\n")[0]
        }${since}`,
      );
    }
  }

  #reset(): void {
    this.#records = this.#orders = this.#cents = 0;
    this.#offsets.clear();
  }

  async #startConsumer(): Promise<void> {
    const consumer = this.#kafka.consumer({
      groupId: `orders-dashboard-${crypto.randomUUID()}`,
      readUncommitted: false,
      retry: { retries: 5, initialRetryTime: 300, maxRetryTime: 5000 },
    });
    consumer.on(consumer.events.CRASH, (e) => {
      const restart = (e.payload as { restart?: boolean }).restart;
      if (!restart && this.#consumer === consumer) {
        this.#consumer = undefined;
        consumer.disconnect().catch(() => {});
      }
    });
    this.#consumer = consumer;
    try {
      await consumer.connect();
      await consumer.subscribe({ topic: this.topic, fromBeginning: true });
      await consumer.run({
        autoCommit: false,
        eachBatch: async ({ batch }) => {
          this.#lastAnswerAt = Date.now();
          this.#take(batch.partition, batch.messages);
          await Promise.resolve();
        },
      });
    } catch (e) {
      if (this.#consumer === consumer) this.#consumer = undefined;
      await consumer.disconnect().catch(() => {});
      throw e;
    }
  }

  #take(partition: number, messages: { offset: string; value: Uint8Array | null }[]): void {
    const dec = new TextDecoder();
    let next = this.#offsets.get(partition) ?? 0;
    for (const m of messages) {
      const offset = Number(m.offset);
      if (offset < next) continue; // read again after a restart
      next = offset + 1;
      this.#records++;
      if (!m.value) continue;
      let v: unknown;
      try {
        v = JSON.parse(dec.decode(m.value));
      } catch {
        continue;
      }
      const items = (v as { line_items?: unknown })?.line_items;
      if (!Array.isArray(items)) continue;
      this.#orders++;
      for (const it of items) {
        const s = (it as { order_item_subtotal?: unknown })?.order_item_subtotal;
        if (typeof s === "number") this.#cents += Math.round(s * 100);
      }
    }
    this.#offsets.set(partition, next);
  }

  async #stopConsumer(): Promise<void> {
    const c = this.#consumer;
    this.#consumer = undefined;
    await c?.disconnect().catch(() => {});
  }
}
