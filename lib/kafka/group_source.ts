/**
 * A stream source whose partitions the consumer group assigns (group id = the query name), so
 * copies of one query share a topic's partitions and take over a dead copy's. kafkajs's
 * `eachBatch` fetches; a fetched batch is accepted only if it starts exactly at the partition's
 * next offset, then buffered; fetching waits (heart-beating) while a full micro-batch is
 * buffered. Nothing is read from the group's committed offsets: every assigned partition waits
 * for its position from the sink (see lib/kafka/stream_source.ts); the group's offsets are
 * committed after each batch only so that lag tools see progress.
 *
 * @module
 */
import type { Admin, Consumer, Kafka, KafkaMessage } from "kafkajs";
import { classifyKafkaError } from "./errors.ts";
import { fairShareDetail, type PartitionBacklog } from "./fair.ts";
import {
  DataLossError,
  type KafkaHealth,
  type PartitionSlice,
  type SliceLimits,
  type SourceSlice,
  type StreamSource,
} from "./stream_source.ts";
import { Notifier } from "./_notifier.ts";
import { installAbortedFilter } from "./_aborted.ts";

// kafkajs skips aborted transactions wrongly when they interleave (see _aborted.ts).
installAbortedFilter();

/** Settings of {@link groupSource}. */
export interface GroupSourceOptions {
  /** The consumer group: the query name. */
  groupId: string;
  /** The topic. */
  topic: string;
  /** The topic's timestamp type. */
  timestampType: number;
  /** Available-now: each partition ends here (exclusive). */
  ends?: Map<number, bigint>;
  /** Records buffered before fetching waits (the trigger's limit). */
  maxBuffered: number;
  /** Consumer-group session timeout, ms. */
  sessionTimeoutMs: number;
  /** How often topic metadata is read again (new partitions), ms. */
  metadataMaxAgeMs: number;
  /** Fail when offsets cannot be read (retention, deleted topic); false logs and skips. */
  failOnDataLoss: boolean;
  /** Commit the group's offsets after each batch (lag tools). */
  commitGroupOffsets: boolean;
  /** Where Kafka's answers and failures are reported (the query's outage tracker). */
  health: KafkaHealth;
  /** The admin client (topic checks while waiting). */
  admin: Admin;
  /** One line per event. */
  log: (tag: string, message: string) => void;
  /** One line for a Kafka error. */
  explain: (error: unknown) => string;
}

/** Read-only state of a group source, beyond {@link StreamSource} (for metrics). */
export interface GroupSourceStatus {
  /** The high watermark last seen per assigned partition (partitions fetched so far). */
  latestOffsets(): Map<number, bigint>;
  /** Since when (ms since the epoch) no partition has been assigned; undefined while some are. */
  idleSince(): number | undefined;
}

interface PartitionState {
  partition: number;
  /** Position set from the sink and seeked. */
  ready: boolean;
  /** A seek was sent; batches at other positions are stale. */
  awaitingSeek: boolean;
  /** Repeated seeks to the same offset (to accept a real gap in the log). */
  seekTries: number;
  /** Next offset expected from Kafka (exclusive end of what is buffered). */
  next: bigint;
  /** First offset of the next slice (exclusive end of what was handed out). */
  handed: bigint;
  /** Accepted records not yet handed out. */
  buffer: KafkaMessage[];
  /** Latest high watermark seen. */
  highWatermark?: bigint;
}

/** The batch kafkajs hands eachBatch (the fields read). */
interface FetchedBatch {
  topic: string;
  partition: number;
  highWatermark: string;
  messages: KafkaMessage[];
  fetchedOffset: string;
  lastOffset(): string;
}

/**
 * A source over the partitions the group assigns to this copy of the query.
 *
 * @example
 * ```ts
 * import type { Admin, Kafka } from "kafkajs";
 * import { trackOutage } from "../engine/outage.ts";
 * import { groupSource } from "./group_source.ts";
 * const query = "orders_raw";
 * const health = trackOutage({ query, timeoutMs: 300_000, committedTo: "the tables" });
 * // Needs a broker, so the doc test only type-checks it:
 * async function join(kafka: Kafka, admin: Admin) {
 *   const source = groupSource(kafka, {
 *     groupId: query, topic: "retail-data-new", timestampType: 0, maxBuffered: 20_000,
 *     sessionTimeoutMs: 30_000, metadataMaxAgeMs: 10_000, failOnDataLoss: true,
 *     commitGroupOffsets: true, health, admin, log: console.error, explain: String,
 *   });
 *   await source.start(); // joins the group
 *   return source.unpositioned(); // the assigned partitions, waiting for their positions
 * }
 * ```
 */
export function groupSource(
  kafka: Kafka,
  o: GroupSourceOptions,
): StreamSource & GroupSourceStatus {
  const { topic, health, log } = o;
  const states = new Map<number, PartitionState>();
  const wake = new Notifier();
  const drained = new Notifier();
  let buffered = 0;
  let joined = false;
  let generation = 0;
  let crashed: unknown;
  let rejoining: { generation: number; error: unknown; at: number } | undefined;
  let closed = false;
  let consumer: Consumer | undefined;
  let idleSince: number | undefined;
  let idleWarned = false;

  /** Once a session timeout without a partition: say so (the group may be shared by mistake). */
  const checkIdle = () => {
    if (idleSince === undefined || idleWarned) return;
    const s = Math.round((Date.now() - idleSince) / 1000);
    if (Date.now() - idleSince < o.sessionTimeoutMs) return;
    idleWarned = true;
    log(
      "idle",
      `${o.groupId}: no partition of ${topic} assigned for ${s} s: other members of the group ` +
        `hold them all (copies of this query, or another stream with the same --query-name)`,
    );
  };

  const fresh = (partition: number): PartitionState => ({
    partition,
    ready: false,
    awaitingSeek: false,
    seekTries: 0,
    next: 0n,
    handed: 0n,
    buffer: [],
  });

  /** Forgets every buffer and position: the sink is asked again before the next slice. */
  const resetAll = (partitions: number[]) => {
    generation++;
    states.clear();
    buffered = 0;
    for (const p of partitions) states.set(p, fresh(p));
    if (consumer && partitions.length > 0) consumer.pause([{ topic, partitions }]);
    wake.notify();
    drained.notify();
  };

  const onGroupJoin = (assignment: Record<string, number[]>) => {
    const parts = [...(assignment[topic] ?? [])].sort((a, b) => a - b);
    const had = [...states.keys()];
    const dropped = [...states.values()].reduce((n, s) => n + s.buffer.length, 0);
    resetAll(parts);
    joined = true;
    idleSince = parts.length === 0 ? (idleSince ?? Date.now()) : undefined;
    idleWarned = false;
    log(
      "assign",
      `${o.groupId}: partitions [${parts.join(",")}] of ${topic}` +
        (had.length ? ` (had [${had.join(",")}]; ${dropped} buffered records dropped)` : ""),
    );
  };

  const onEmptyBatch = (partition: number, firstOffset: string | null, lastOffset: string) => {
    // A fetch that held only transaction markers or aborted records: kafkajs moved on by itself.
    const s = states.get(partition);
    if (!s || !s.ready) return;
    const last = BigInt(lastOffset);
    const first = firstOffset === null ? last : BigInt(firstOffset);
    if (first === s.next || (!s.awaitingSeek && first > s.next)) {
      if (last + 1n > s.next) {
        s.next = last + 1n;
        wake.notify();
      }
    }
  };

  const eachBatch = async ({ batch, resolveOffset, heartbeat, isRunning, isStale }: {
    batch: FetchedBatch;
    resolveOffset(offset: string): void;
    heartbeat(): Promise<void>;
    isRunning(): boolean;
    isStale(): boolean;
  }) => {
    health.answered();
    if (rejoining && rejoining.generation === generation && Date.now() - rejoining.at < 10_000) {
      throw rejoining.error;
    }
    const s = states.get(batch.partition);
    if (!s || !s.ready || batch.topic !== topic || closed) return;
    if (batch.highWatermark !== undefined) s.highWatermark = BigInt(batch.highWatermark);
    const fetched = BigInt(batch.fetchedOffset);
    if (fetched !== s.next) {
      if (isStale()) return; // our seek is not applied yet
      if (fetched > s.next && s.seekTries >= 2) {
        // Kafka keeps moving us past s.next: those offsets are gone (retention, compaction or
        // markers only). That may be data loss.
        const msg = `${topic}/${s.partition}: offsets ${s.next}..${fetched - 1n} cannot be read ` +
          `(deleted by retention, or only transaction markers)`;
        if (o.failOnDataLoss) {
          crashed = new DataLossError(`${msg}; rerun with --fail-on-data-loss false to skip them`);
          wake.notify();
          return;
        }
        log("data-loss", `${msg}; skipping them (--fail-on-data-loss false)`);
      } else {
        s.awaitingSeek = true;
        s.seekTries++;
        consumer!.seek({ topic, partition: s.partition, offset: String(s.next) });
        return;
      }
    }
    s.awaitingSeek = false;
    s.seekTries = 0;
    const msgs = batch.messages;
    for (let i = 0; i < msgs.length; i++) s.buffer.push(msgs[i]);
    buffered += msgs.length;
    const last = batch.lastOffset();
    s.next = BigInt(last) + 1n;
    resolveOffset(last);
    wake.notify();
    // Backpressure: a full micro-batch is buffered; wait for the engine, heart-beating (kafkajs
    // throttles the requests) so the group neither evicts us nor waits for us to rejoin.
    while (
      buffered >= o.maxBuffered && isRunning() && !isStale() && !closed &&
      states.get(s.partition) === s
    ) {
      await drained.wait(250);
      try {
        await heartbeat();
      } catch (e) {
        // kafkajs still hands us the other batches of this fetch; fail them fast so the rejoin
        // is not delayed by one backpressure wait per batch.
        rejoining = { generation, error: e, at: Date.now() };
        throw e;
      }
    }
  };

  const assigned = () => [...states.values()];
  const endOf = (p: number) => o.ends?.get(p) ?? 0n;
  const fetchedAll = () => assigned().every((s) => s.ready && s.next >= endOf(s.partition));
  const allDone = () =>
    joined &&
    assigned().every((s) => s.ready && s.buffer.length === 0 && s.next >= endOf(s.partition));
  const latest = (s: PartitionState) => o.ends ? endOf(s.partition) : s.highWatermark ?? s.next;

  let topicCheckedAt = Date.now();
  let topicGoneLogged = false;
  /** Every 5 s of waiting: is the topic still there? (A deleted topic is data loss.) */
  async function checkTopic(): Promise<void> {
    if (Date.now() - topicCheckedAt < 5000) return;
    topicCheckedAt = Date.now();
    let topics: string[];
    try {
      topics = await o.admin.listTopics();
      health.answered();
    } catch (e) {
      if (classifyKafkaError(e) !== "transient") throw e;
      health.failed(e);
      health.check();
      log("retry", `${o.groupId}: cannot list topics (${o.explain(e)}); will retry`);
      return;
    }
    if (topics.includes(topic)) return;
    const msg = `${o.groupId}: topic '${topic}' was deleted while the query was running`;
    if (o.failOnDataLoss) {
      throw new DataLossError(`${msg}; recreate it and use a new --query-name or table`);
    }
    if (!topicGoneLogged) log("data-loss", `${msg}; waiting for it (--fail-on-data-loss false)`);
    topicGoneLogged = true;
  }

  /** Per ready partition: what is buffered and what is left to read (for the fair cut). */
  const backlog = () =>
    new Map<PartitionState, PartitionBacklog>(
      assigned().filter((s) => s.ready).map((s) => {
        const left = latest(s) - s.handed;
        return [s, { buffered: s.buffer.length, left: left > 0n ? left : 0n }];
      }),
    );

  /**
   * Whether a slice is due: every partition's fair share of the limit is buffered, or
   * everything is (available-now: fetched to the ends; live: caught up or lingered), or the
   * buffer is full (taking the buffered shares frees room for the partitions behind).
   */
  const due = (max: number, lingered: boolean) => {
    if (buffered === 0) return false;
    if (buffered >= o.maxBuffered || fairShareDetail(max, backlog()).filled) return true;
    if (o.ends) return fetchedAll();
    const caughtUp = assigned().every((s) =>
      s.highWatermark === undefined || s.next >= s.highWatermark
    );
    return lingered || caughtUp;
  };

  /** Cuts up to `max` offsets' records, the limit divided by what each partition has left. */
  function take(max: number): SourceSlice {
    const shares = fairShareDetail(max, backlog()).take;
    const partitions: PartitionSlice[] = [];
    let taken = 0;
    for (const s of assigned()) {
      const n = Math.min(shares.get(s) ?? 0, s.buffer.length);
      if (n === 0) continue;
      const all = n === s.buffer.length;
      const messages = all ? s.buffer : s.buffer.slice(0, n);
      const end = all ? s.next : BigInt(s.buffer[n].offset);
      s.buffer = all ? [] : s.buffer.slice(n);
      partitions.push({
        topic,
        partition: s.partition,
        timestampType: o.timestampType,
        messages,
        start: s.handed,
        end,
      });
      s.handed = end;
      taken += n;
    }
    buffered -= taken;
    drained.notify();
    return {
      partitions,
      latest: new Map(assigned().map((s) => [s.partition, latest(s)])),
    };
  }

  return {
    topic,
    timestampType: o.timestampType,
    async start() {
      const c = kafka.consumer({
        groupId: o.groupId,
        sessionTimeout: o.sessionTimeoutMs,
        heartbeatInterval: Math.max(100, Math.floor(o.sessionTimeoutMs / 10)),
        rebalanceTimeout: Math.max(o.sessionTimeoutMs, 30_000),
        maxWaitTimeInMs: 500,
        maxBytesPerPartition: 1 << 20,
        maxBytes: 16 << 20,
        metadataMaxAge: o.metadataMaxAgeMs,
        allowAutoTopicCreation: false,
        readUncommitted: false,
        retry: {
          restartOnFailure: (e: Error) => {
            if (closed || classifyKafkaError(e) !== "transient") return Promise.resolve(false);
            health.failed(e);
            log("retry", `${o.groupId}: consumer failed (${o.explain(e)}); restarting it`);
            return Promise.resolve(true);
          },
        },
      });
      consumer = c;
      c.on(c.events.GROUP_JOIN, ({ payload }) => {
        health.answered();
        onGroupJoin(payload.memberAssignment);
      });
      c.on(c.events.HEARTBEAT, () => health.answered());
      c.on(c.events.END_BATCH_PROCESS, ({ payload }) => {
        if (payload.topic !== topic) return;
        const s = states.get(payload.partition);
        if (s && payload.highWatermark !== undefined) {
          s.highWatermark = BigInt(payload.highWatermark);
        }
        if (payload.batchSize === 0) {
          onEmptyBatch(payload.partition, payload.firstOffset ?? null, payload.lastOffset);
        }
      });
      c.on(c.events.CRASH, ({ payload }) => {
        if (!payload.restart && !closed) {
          crashed = payload.error;
          wake.notify();
        }
      });
      await c.connect();
      await c.subscribe({ topics: [topic], fromBeginning: true });
      await c.run({
        autoCommit: false,
        eachBatchAutoResolve: false,
        // Every partition's batch of a fetch is accepted before any waits on backpressure, so
        // the fair cut sees them all (one at a time, the first would fill the buffer alone).
        partitionsConsumedConcurrently: 256,
        eachBatch: eachBatch as never,
      });
    },
    unpositioned: () =>
      assigned().filter((s) => !s.ready).map((s) => s.partition).sort((a, b) => a - b),
    position(starts) {
      const parts: number[] = [];
      for (const [p, start] of starts) {
        const s = states.get(p);
        if (!s || s.ready) continue;
        s.next = start;
        s.handed = start;
        s.ready = true;
        s.awaitingSeek = true;
        s.seekTries = 0;
        consumer!.seek({ topic, partition: p, offset: String(start) });
        parts.push(p);
      }
      if (parts.length > 0) consumer!.resume([{ topic, partitions: parts }]);
      return Promise.resolve();
    },
    async next({ maxOffsets, lingerMs, signal }: SliceLimits) {
      const gen = generation;
      let firstSeen: number | undefined;
      while (!closed && !signal?.aborted) {
        if (crashed) throw crashed;
        if (gen !== generation || assigned().some((s) => !s.ready)) return undefined;
        if (o.ends && allDone()) return undefined;
        if (buffered > 0) firstSeen ??= Date.now();
        const lingered = firstSeen !== undefined && Date.now() - firstSeen >= lingerMs;
        if (due(maxOffsets, lingered)) return take(maxOffsets);
        await wake.wait(firstSeen !== undefined ? Math.max(1, lingerMs) : 1000);
        health.check();
        checkIdle();
        await checkTopic();
      }
      return undefined;
    },
    finished: () => o.ends !== undefined && allDone(),
    reset() {
      resetAll(assigned().map((s) => s.partition));
    },
    positions: () => new Map(assigned().map((s) => [s.partition, s.handed])),
    latestOffsets: () =>
      new Map(
        assigned().filter((s) => s.highWatermark !== undefined).map((s) => [
          s.partition,
          s.highWatermark!,
        ]),
      ),
    idleSince: () => idleSince,
    async committed(ends) {
      if (!o.commitGroupOffsets || !consumer) return;
      try {
        await consumer.commitOffsets(
          [...ends].map(([partition, end]) => ({ topic, partition, offset: String(end) })),
        );
      } catch {
        // Only lag tools read these; a rebalance may have made them stale. Nothing to do.
      }
    },
    check() {
      if (crashed) throw crashed;
    },
    async close() {
      closed = true;
      wake.notify();
      drained.notify();
      try {
        await consumer?.disconnect();
      } catch { /* leaving the group is best effort */ }
    },
  };
}
