/**
 * Running the live order feed: the topic it writes to, the pacing, the Kafka send and Ctrl-C.
 *
 * - Pacing: by elapsed time since the start, never by counting sleeps. At every tick (50 ms)
 *   everything due so far (`floor(rate × elapsed)`) is sent, in sends of at most `batchSize`
 *   records and `batchBytes` bytes, so the rate has no drift; when a send was slow the next
 *   ones catch up. With a duration the feed sends exactly `round(rate × duration)` records.
 * - Sending: one send in flight (an idempotent producer, acks=all, as the batch mode), each
 *   record stamped with the current time (Kafka CreateTime); a too_large record goes alone.
 * - Stopping: the duration, or an AbortSignal (the first Ctrl-C): the send in flight finishes,
 *   the summary is returned.
 *
 * @module
 */
import type { Admin, Message } from "kafkajs";
import { Buffer } from "node:buffer";
import { topicPartitions } from "../kafka/client.ts";
import { FEED_REASONS, type FeedRecord } from "./feed.ts";
import { DEFAULT_MAX_BYTES, type ReasonCode } from "./validate.ts";

/**
 * `max.message.bytes` of a topic the feed creates, and its `segment.bytes` when the broker's
 * default segments are smaller (a batch never spans segments): room for a too_large record.
 */
export const FEED_TOPIC_MAX_MESSAGE_BYTES = 2 * 1024 * 1024;

/** Bytes a too_large record needs from both limits: 1 MiB + 1, plus headers (1 KiB is ample). */
export const TOO_LARGE_NEEDS: number = DEFAULT_MAX_BYTES + 1 + 1024;

/** The two topic limits a record must fit (undefined: the broker would not say). */
export interface TopicLimits {
  /** `max.message.bytes`: the largest record batch the topic takes. */
  maxMessageBytes?: number;
  /** `segment.bytes`: a batch larger than a log segment is refused too. */
  segmentBytes?: number;
}

/** What {@link prepareFeedTopic} found or made. */
export interface FeedTopic extends TopicLimits {
  /** Partition count. */
  partitions: number;
  /** Whether the feed created the topic. */
  created: boolean;
}

async function readLimits(
  admin: Admin,
  type: number,
  name: string,
  names: string[],
): Promise<(number | undefined)[]> {
  try {
    const res = await admin.describeConfigs({
      resources: [{ type, name, configNames: names }],
      includeSynonyms: false,
    });
    const entries = res.resources[0]?.configEntries ?? [];
    return names.map((n) => {
      const v = entries.find((e) => e.configName === n)?.configValue;
      return v !== undefined && /^\d+$/.test(v) ? Number(v) : undefined;
    });
  } catch {
    // No DescribeConfigs right: unknown (too_large is then left out).
    return names.map(() => undefined);
  }
}

/**
 * Makes sure the feed's topic exists and reads its limits. A missing topic is created with
 * `partitions` partitions, `max.message.bytes` = {@link FEED_TOPIC_MAX_MESSAGE_BYTES} and, when
 * the broker's `log.segment.bytes` is below that (the local broker's is 1 MiB), `segment.bytes`
 * of the same size, so a too_large record fits. An existing topic is left as it is.
 */
export async function prepareFeedTopic(
  admin: Admin,
  topic: string,
  partitions: number,
): Promise<FeedTopic> {
  let created = false;
  if ((await topicPartitions(admin, topic)) === undefined) {
    const configEntries = [{
      name: "max.message.bytes",
      value: String(FEED_TOPIC_MAX_MESSAGE_BYTES),
    }];
    try {
      const { brokers } = await admin.describeCluster();
      const [segment] = await readLimits(admin, 4, String(brokers[0]?.nodeId ?? 0), [
        "log.segment.bytes",
      ]);
      if (segment !== undefined && segment < FEED_TOPIC_MAX_MESSAGE_BYTES) {
        configEntries.push({ name: "segment.bytes", value: String(FEED_TOPIC_MAX_MESSAGE_BYTES) });
      }
    } catch {
      // The broker's defaults are unknown: create with max.message.bytes only.
    }
    try {
      created = await admin.createTopics({
        topics: [{ topic, numPartitions: partitions, configEntries }],
        waitForLeaders: true,
      });
    } catch (e) {
      // Another client may have created it at the same moment.
      if (!/TOPIC_ALREADY_EXISTS|already exists/i.test(String((e as Error).message))) throw e;
    }
  }
  const n = (await topicPartitions(admin, topic)) ?? partitions;
  const [maxMessageBytes, segmentBytes] = await readLimits(admin, 2, topic, [
    "max.message.bytes",
    "segment.bytes",
  ]);
  return { partitions: n, created, maxMessageBytes, segmentBytes };
}

/**
 * Whether a topic with these limits takes a too_large record ({@link TOO_LARGE_NEEDS} bytes
 * under both).
 *
 * @example
 * ```ts
 * import { tooLargeFits } from "./feed_run.ts";
 * tooLargeFits({ maxMessageBytes: 1_048_588, segmentBytes: 1 << 30 }); // false: Kafka's default
 * tooLargeFits({ maxMessageBytes: 2 << 20, segmentBytes: 2 << 20 }); // true
 * ```
 */
export function tooLargeFits(limits: TopicLimits): boolean {
  return (limits.maxMessageBytes ?? 0) >= TOO_LARGE_NEEDS &&
    (limits.segmentBytes ?? 0) >= TOO_LARGE_NEEDS;
}

/**
 * The reasons a feed into a topic with these limits generates: every one of FEED_REASONS, or
 * all but too_large when the topic cannot take such a record, with a line that says which limit
 * is too small.
 *
 * @example
 * ```ts
 * import { feedReasons } from "./feed_run.ts";
 * feedReasons("orders", { maxMessageBytes: 1_048_588, segmentBytes: 1 << 30 }).note;
 * // "too_large records left out: orders takes records up to 1,048,588 bytes (max.message.bytes); …"
 * ```
 */
export function feedReasons(
  topic: string,
  limits: TopicLimits,
): { reasons: ReasonCode[]; note?: string } {
  if (tooLargeFits(limits)) return { reasons: [...FEED_REASONS] };
  const small = ([["max.message.bytes", limits.maxMessageBytes], [
    "segment.bytes",
    limits.segmentBytes,
  ]] as const).filter(([, v]) => (v ?? 0) < TOO_LARGE_NEEDS);
  const what = small.map(([name, v]) =>
    v === undefined
      ? `${name} unknown (DescribeConfigs refused)`
      : `${name} ${v.toLocaleString("en-US")} bytes`
  ).join(", ");
  return {
    reasons: FEED_REASONS.filter((r) => r !== "too_large"),
    note: `too_large records left out: ${topic} cannot take a record of ` +
      `${TOO_LARGE_NEEDS.toLocaleString("en-US")} bytes (${what}); raise ` +
      `${small.map(([n]) => n).join(" and ")} to send them too`,
  };
}

/** The time source of {@link runLiveFeed} (tests pass a virtual one). */
export interface FeedClock {
  /** Monotonic milliseconds. */
  now(): number;
  /** Wall-clock ms since the epoch (the records' timestamps). */
  wall(): number;
  /** Resolves after `ms`, or at once when `signal` aborts. */
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
}

/** The real clock: performance.now, Date.now and setTimeout. */
export const realClock: FeedClock = {
  now: () => performance.now(),
  wall: () => Date.now(),
  sleep: (ms, signal) =>
    new Promise<void>((resolve) => {
      if (signal?.aborted) return resolve();
      const done = () => {
        clearTimeout(timer);
        signal?.removeEventListener("abort", done);
        resolve();
      };
      const timer = setTimeout(done, Math.max(0, ms));
      signal?.addEventListener("abort", done, { once: true });
    }),
};

/** Running totals, given to `onProgress` after each send. */
export interface FeedProgress {
  /** Records sent (valid and malformed). */
  sent: number;
  /** Malformed records among them. */
  bad: number;
  /** Milliseconds since the start. */
  elapsedMs: number;
  /** Records due by now (sent + this many are behind schedule). */
  due: number;
}

/** Options of {@link runLiveFeed}. */
export interface LiveFeedOptions {
  /** Records per second (valid and malformed together). */
  rate: number;
  /** Stop after this many ms (exactly round(rate × duration) records); default: never. */
  durationMs?: number;
  /** Most records per send (default 2000). */
  batchSize?: number;
  /** Most value bytes per send (default 768 KiB); a larger record goes alone. */
  batchBytes?: number;
  /** Milliseconds between sends (default 50). */
  tickMs?: number;
  /** Stops the feed after the send in flight. */
  signal?: AbortSignal;
  /** Called after each send. */
  onProgress?: (p: FeedProgress) => void;
  /** Time source (default {@link realClock}). */
  clock?: FeedClock;
}

/** What a live feed run sent. */
export interface LiveFeedSummary {
  /** Records sent and acknowledged. */
  sent: number;
  /** Malformed records among them. */
  bad: number;
  /** Malformed records by intended reason. */
  byReason: Partial<Record<ReasonCode, number>>;
  /** Bytes of values sent. */
  bytes: number;
  /** Sends (produce requests). */
  sends: number;
  /** Seconds from the start to the last acknowledgement. */
  seconds: number;
  /** sent / seconds. */
  ordersPerSecond: number;
  /** Why it ended. */
  stoppedBy: "duration" | "signal";
}

/**
 * Sends the feed's records with `send`, paced to `rate` per second (see the module doc), until
 * the duration is over or `signal` aborts; resolves with the totals. A failing send rejects.
 *
 * @example
 * ```ts
 * import { feedIds, OrderFeed } from "./feed.ts";
 * import { runLiveFeed } from "./feed_run.ts";
 * const customers = [{ id: 1, fname: "Ann", lname: "Lee", city: "Austin", state: "TX",
 *   pincode: 78701 }];
 * const products = [1, 2, 3, 4, 5].map((id) => ({ id, price: 9.99 }));
 * const feed = new OrderFeed({ customers, products }, { seed: 1, ...feedIds(Date.now()) });
 * const sent: number[] = [];
 * const summary = await runLiveFeed(feed, async (m) => void sent.push(m.length), {
 *   rate: 100,
 *   durationMs: 200,
 * });
 * summary.sent; // 20
 * ```
 */
export async function runLiveFeed(
  feed: { next(): FeedRecord },
  send: (messages: Message[]) => Promise<void>,
  options: LiveFeedOptions,
): Promise<LiveFeedSummary> {
  const clock = options.clock ?? realClock;
  const rate = options.rate;
  if (!(rate > 0)) throw new RangeError("rate must be above 0");
  const tick = options.tickMs ?? 50;
  const batchSize = options.batchSize ?? 2000;
  const batchBytes = options.batchBytes ?? 768 * 1024;
  const signal = options.signal;
  const total = options.durationMs === undefined
    ? Infinity
    : Math.round((rate * options.durationMs) / 1000);
  const start = clock.now();
  const dueAt = (ms: number) => Math.min(total, Math.floor((rate * ms) / 1000 + 1e-9));
  let sent = 0, bad = 0, bytes = 0, sends = 0;
  const byReason: Partial<Record<ReasonCode, number>> = {};
  let held: FeedRecord | undefined; // generated but not in the last send (bytes limit)
  while (!signal?.aborted && sent < total) {
    let due = dueAt(clock.now() - start);
    while (sent < due && !signal?.aborted) {
      const chunk: FeedRecord[] = [];
      let chunkBytes = 0;
      while (sent + chunk.length < due && chunk.length < batchSize) {
        const r = held ?? feed.next();
        held = undefined;
        const size = r.value?.byteLength ?? 0;
        const alone = size > batchBytes / 2;
        if (chunk.length > 0 && (alone || chunkBytes + size > batchBytes)) {
          held = r;
          break;
        }
        chunk.push(r);
        chunkBytes += size;
        if (alone) break;
      }
      const timestamp = String(clock.wall());
      await send(chunk.map((r): Message => ({
        key: r.key,
        value: r.value === null
          ? null
          : Buffer.from(r.value.buffer, r.value.byteOffset, r.value.byteLength),
        timestamp,
      })));
      sends++;
      sent += chunk.length;
      bytes += chunkBytes;
      for (const r of chunk) {
        if (r.intended !== "ok") {
          bad++;
          byReason[r.intended] = (byReason[r.intended] ?? 0) + 1;
        }
      }
      const elapsedMs = clock.now() - start;
      due = dueAt(elapsedMs);
      options.onProgress?.({ sent, bad, elapsedMs, due });
    }
    if (sent >= total || signal?.aborted) break;
    // Sleep to the next tick, or to the next record's due time when the rate is low.
    const now = clock.now() - start;
    const nextTick = (Math.floor(now / tick) + 1) * tick;
    const nextDue = Math.ceil(((sent + 1) * 1000) / rate);
    await clock.sleep(Math.max(nextTick, nextDue) - now, signal);
  }
  const seconds = (clock.now() - start) / 1000;
  return {
    sent,
    bad,
    byReason,
    bytes,
    sends,
    seconds,
    ordersPerSecond: seconds > 0 ? sent / seconds : sent,
    stoppedBy: sent >= total ? "duration" : "signal",
  };
}

/**
 * Stops the feed on SIGINT/SIGTERM: the first signal aborts `controller` (the send in flight
 * finishes, the summary is printed), a second one exits at once with code 130. Returns a
 * function removing the listeners.
 *
 * @example
 * ```ts
 * import { stopFeedOnSignals } from "./feed_run.ts";
 * const controller = new AbortController();
 * const remove = stopFeedOnSignals(controller, (tag, m) => console.error(tag, m));
 * remove();
 * ```
 */
export function stopFeedOnSignals(
  controller: AbortController,
  log: (tag: string, message: string) => void,
): () => void {
  let signals = 0;
  const handler = () => {
    if (++signals === 1) {
      log("signal", "stopping after the send in flight (signal again to stop at once)");
      controller.abort();
    } else {
      log("signal", "stopping at once: the send in flight may or may not have been stored");
      Deno.exit(130);
    }
  };
  const sigs: Deno.Signal[] = Deno.build.os === "windows" ? ["SIGINT"] : ["SIGINT", "SIGTERM"];
  for (const s of sigs) Deno.addSignalListener(s, handler);
  return () => {
    for (const s of sigs) Deno.removeSignalListener(s, handler);
  };
}
