/**
 * The micro-batch engine: Kafka ▶ Delta, exactly-once, modelled on Spark Structured Streaming's
 * Kafka source and Delta sink. Two loops share per-partition buffers:
 *
 * - **fetch** (kafkajs `eachBatch`, consumer group = the query name, autoCommit off): accepts a
 *   fetched batch only if it starts exactly at the partition's next offset, buffers it, and
 *   waits (heart-beating) while a full micro-batch is already buffered;
 * - **write** (one loop, all state visible): on each trigger takes up to
 *   `maxOffsetsPerTrigger` records, builds one Arrow table per sink target, and commits each
 *   target once, with one `txn` per partition (appId `<query>-<topic>-<partition>`, version =
 *   the next offset to read) and `expectedTxns` = the versions it started from.
 *
 * On every assignment the assigned partitions are paused, their buffers dropped, their offsets
 * read back from the tables (the MIN over the sink's tables; each table only takes records at or
 * above its own offset), then seeked and resumed. A TxnConflictError (another instance moved a
 * partition) drops the batch and re-reads the tables. Consumer-group offsets are committed after
 * the Delta commits only so that lag tools see progress; they are never read back.
 *
 * While Kafka is unreachable the query waits and retries (one `retry` log line per attempt) and
 * resumes by itself; after `--broker-timeout` without an answer it fails with a
 * KafkaUnavailableError (committed batches stay in the tables; a rerun resumes from them).
 *
 * @module
 */
import type { Admin, Consumer, Kafka, KafkaMessage } from "kafkajs";
import { log as cliLog } from "../cli.ts";
import { findCommitInfo, listLog, readCommit } from "../delta/log.ts";
import { commitTxns } from "../delta/table.ts";
import { ConcurrentModificationError, TxnConflictError } from "../delta/errors.ts";
import {
  explainKafkaError,
  isPermanentKafkaError,
  KafkaUnavailableError,
  TopicNotFoundError,
} from "../kafka/client.ts";
import type { KafkaSettings } from "../config.ts";
import { topicTimestampType } from "../kafka/source.ts";
import type { RawChunk } from "../kafka/raw.ts";
import { type Fault, faultFromEnv } from "./fault.ts";
import { packChunk } from "./packed.ts";
import { type SinkWorker, startSinkWorker } from "./worker.ts";
import { type BatchPlan, type BatchResult, writeBatch } from "./writer.ts";
import {
  appIdFor,
  checkDataLoss,
  DataLossError,
  startingOffsets,
  storedOffset,
  watermarks,
} from "./offsets.ts";
import { DEFAULT_BROKER_TIMEOUT_S, type StreamOptions } from "./options.ts";
import type { BatchProgress, PartitionOffsets, QuerySummary } from "./progress.ts";
import type { Sink } from "./sink.ts";
import { Notifier, sleep } from "./signal.ts";

/** Inputs of {@link startQuery}. */
export interface QueryInput {
  /** kafkajs client. */
  kafka: Kafka;
  /** Kafka settings (for error explanations in logs). */
  settings?: KafkaSettings;
  /** Topic to read. */
  topic: string;
  /** Where batches go. */
  sink: Sink;
  /** Engine options. */
  options: StreamOptions;
  /** One line per event (default: lib/cli log to stderr). */
  log?: (tag: string, message: string) => void;
  /** Called after every committed micro-batch. */
  onProgress?: (p: BatchProgress) => void;
}

/** What the write loop is doing (for shutdown messages). */
export type QueryPhase = "starting" | "waiting" | "building" | "writing" | "stopped";

/** A running query. */
export interface StreamQuery {
  /** Resolves with the summary when the query ends; rejects on a fatal error. */
  readonly done: Promise<QuerySummary>;
  /** Asks the query to stop after the current micro-batch (idempotent). */
  stop(): void;
  /** Current phase and micro-batch id. */
  status(): { phase: QueryPhase; batchId: number };
}

interface PartitionState {
  partition: number;
  /** Offsets read from the tables and seeked. */
  ready: boolean;
  /** A seek was sent; batches at other positions are stale. */
  awaitingSeek: boolean;
  /** Repeated seeks to the same offset (to accept a real gap in the log). */
  seekTries: number;
  /** Next offset expected from Kafka (exclusive end of what is buffered). */
  next: bigint;
  /** First offset of the next micro-batch (exclusive end of what was taken). */
  batchStart: bigint;
  /** Accepted records not yet in a micro-batch. */
  buffer: KafkaMessage[];
  /** Per target: first offset the table still needs. */
  from: bigint[];
  /** Per target: the txn version the table holds, as last read or written. */
  stored: (bigint | undefined)[];
  /** Latest high watermark seen. */
  highWatermark?: bigint;
}

interface Slice {
  state: PartitionState;
  chunk: RawChunk;
  start: bigint;
  end: bigint;
  from: bigint[];
  stored: (bigint | undefined)[];
}

/** The process's peak RSS so far (Linux VmHWM), or 0 where unknown. */
function highWaterRss(): number {
  try {
    const m = /VmHWM:\s+(\d+) kB/.exec(Deno.readTextFileSync("/proc/self/status"));
    return m ? Number(m[1]) * 1024 : 0;
  } catch {
    return 0;
  }
}

/**
 * Starts a streaming query; returns at once with a handle (`done`, `stop()`).
 *
 * @example
 * ```ts
 * const q = startQuery({ kafka, topic: "retail-data-new", sink: await rawSink(table), options });
 * const summary = await q.done;
 * ```
 */
export function startQuery(input: QueryInput): StreamQuery {
  const { kafka, topic, sink, options: opts } = input;
  const log = input.log ?? cliLog;
  const name = opts.queryName;
  const targets = sink.targets;
  const fault: Fault | undefined = faultFromEnv();
  const states = new Map<number, PartitionState>();
  const wake = new Notifier();
  const drained = new Notifier();
  let buffered = 0;
  let joined = false;
  let generation = 0;
  let crashed: unknown;
  let rejoining: { generation: number; error: unknown; at: number } | undefined;
  let stopping = false;
  let phase: QueryPhase = "starting";
  let batchId = 0;
  let batchesInProcess = 0;
  let consumer: Consumer | undefined;
  let worker: SinkWorker | undefined;
  let admin: Admin | undefined;
  let timestampType = 0;
  let availableTargets: Map<number, bigint> | undefined;
  let peakRss = 0;
  const highWater = opts.maxOffsetsPerTrigger;
  const summary: QuerySummary = {
    name,
    batches: 0,
    records: 0,
    rows: Object.fromEntries(targets.map((t) => [t.name, 0])),
    deadLetters: 0,
    droppedBatches: 0,
    seconds: 0,
    recordsPerSecond: 0,
    peakRssBytes: 0,
    ended: "stopped",
  };
  const explain = (e: unknown) =>
    input.settings ? explainKafkaError(e, input.settings) : String((e as Error)?.message ?? e);

  // Broker outages: since when Kafka has not answered, and the last error it gave.
  const brokerTimeoutMs = opts.brokerTimeoutMs ?? DEFAULT_BROKER_TIMEOUT_S * 1000;
  let brokerDownSince: number | undefined;
  let brokerError: unknown;
  const brokerFailed = (e: unknown) => {
    brokerDownSince ??= Date.now();
    brokerError = e;
  };
  const brokerAnswered = () => {
    brokerDownSince = undefined;
  };
  /** Throws once Kafka has been unreachable for longer than --broker-timeout. */
  const checkBrokerTimeout = () => {
    if (brokerDownSince === undefined || Date.now() - brokerDownSince < brokerTimeoutMs) return;
    const s = Math.round(brokerTimeoutMs / 1000);
    throw new KafkaUnavailableError(
      `${name}: Kafka has been unreachable for ${s} s (--broker-timeout ${s}); last error: ` +
        `${explain(brokerError).split("\n")[0]}. Every committed batch is in the tables; ` +
        `start the broker and run again to resume where it stopped`,
    );
  };

  const fresh = (partition: number): PartitionState => ({
    partition,
    ready: false,
    awaitingSeek: false,
    seekTries: 0,
    next: 0n,
    batchStart: 0n,
    buffer: [],
    from: targets.map(() => 0n),
    stored: targets.map(() => undefined),
  });

  /** Forgets every buffer and position: the tables are read again before the next batch. */
  const resetAll = (partitions: number[]) => {
    generation++;
    states.clear();
    buffered = 0;
    for (const p of partitions) states.set(p, fresh(p));
    if (consumer && partitions.length > 0) consumer.pause([{ topic, partitions }]);
    wake.notify();
    drained.notify();
  };

  const sampleRss = () => {
    const rss = Math.max(Deno.memoryUsage().rss, highWaterRss());
    if (rss > peakRss) peakRss = rss;
  };

  /** Retries a Kafka call with backoff until it succeeds or --broker-timeout has passed. */
  async function withRetry<T>(label: string, fn: () => Promise<T>): Promise<T> {
    for (let attempt = 1;; attempt++) {
      try {
        const r = await fn();
        brokerAnswered();
        return r;
      } catch (e) {
        // Rejected credentials or an untrusted certificate do not heal by waiting.
        if (stopping || isPermanentKafkaError(e)) throw e;
        brokerFailed(e);
        checkBrokerTimeout();
        const left = brokerDownSince! + brokerTimeoutMs - Date.now();
        const delay = Math.max(1, Math.min(30_000, 500 * 2 ** (attempt - 1), left));
        log("retry", `${label} failed (${explain(e)}); retry ${attempt} in ${delay} ms`);
        await sleep(delay);
      }
    }
  }

  // ---- fetch side -------------------------------------------------------------------------

  const onGroupJoin = (assignment: Record<string, number[]>) => {
    const parts = [...(assignment[topic] ?? [])].sort((a, b) => a - b);
    const had = [...states.keys()];
    const dropped = [...states.values()].reduce((n, s) => n + s.buffer.length, 0);
    resetAll(parts);
    joined = true;
    log(
      "assign",
      `${name}: partitions [${parts.join(",")}] of ${topic}` +
        (had.length ? ` (had [${had.join(",")}]; ${dropped} buffered records dropped)` : ""),
    );
  };

  const onEmptyBatch = (
    partition: number,
    firstOffset: string | null,
    lastOffset: string,
  ) => {
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

  const eachBatch = async (
    { batch, resolveOffset, heartbeat, isRunning, isStale }: {
      batch: {
        topic: string;
        partition: number;
        highWatermark: string;
        messages: KafkaMessage[];
        fetchedOffset: string;
        lastOffset(): string;
      };
      resolveOffset(offset: string): void;
      heartbeat(): Promise<void>;
      isRunning(): boolean;
      isStale(): boolean;
    },
  ) => {
    brokerAnswered();
    if (rejoining && rejoining.generation === generation && Date.now() - rejoining.at < 10_000) {
      throw rejoining.error;
    }
    const s = states.get(batch.partition);
    if (!s || !s.ready || batch.topic !== topic || stopping) return;
    if (batch.highWatermark !== undefined) s.highWatermark = BigInt(batch.highWatermark);
    const fetched = BigInt(batch.fetchedOffset);
    if (fetched !== s.next) {
      if (isStale()) return; // our seek is not applied yet
      if (fetched > s.next && s.seekTries >= 2) {
        // Kafka keeps moving us past s.next: those offsets are gone (retention, compaction or
        // markers only). That may be data loss.
        const msg = `${topic}/${s.partition}: offsets ${s.next}..${fetched - 1n} cannot be read ` +
          `(deleted by retention, or only transaction markers)`;
        if (opts.failOnDataLoss) {
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
    // Backpressure: a full micro-batch is buffered; wait for the writer, heart-beating (kafkajs
    // throttles the requests) so the group neither evicts us nor waits for us to rejoin.
    while (
      buffered >= highWater && isRunning() && !isStale() && !stopping &&
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

  // ---- write side -------------------------------------------------------------------------

  async function initPending(): Promise<void> {
    const pending = [...states.values()].filter((s) => !s.ready);
    if (pending.length === 0) return;
    const gen = generation;
    const snaps = await Promise.all(targets.map((t) => t.table.snapshot()));
    const marks = await withRetry("reading offsets", () => watermarks(admin!, topic));
    let specStarts: Map<number, bigint> | undefined;
    const plan: {
      s: PartitionState;
      stored: (bigint | undefined)[];
      from: bigint[];
      resume: bigint;
    }[] = [];
    for (const s of pending) {
      const stored = snaps.map((snap) => storedOffset(snap, name, topic, s.partition));
      if (stored.some((v) => v === undefined) && !specStarts) {
        specStarts = await withRetry(
          "resolving starting offsets",
          () => startingOffsets(admin!, topic, opts.startingOffsets),
        );
      }
      const fallback = specStarts?.get(s.partition) ?? marks.get(s.partition)?.low ?? 0n;
      const from = stored.map((v) => v ?? fallback);
      let resume = from.reduce((a, b) => (b < a ? b : a));
      resume = checkDataLoss(
        topic,
        s.partition,
        resume,
        marks.get(s.partition),
        opts.failOnDataLoss,
        (m) => log("data-loss", m),
      );
      plan.push({ s, stored, from, resume });
    }
    if (gen !== generation) return;
    // First start with latest/JSON/timestamp: record the resolved start in the tables so that a
    // restart before any record arrives does not move it (Spark keeps it in its checkpoint).
    const seeds = opts.startingOffsets.kind === "earliest"
      ? []
      : plan.filter((x) => x.stored.every((v) => v === undefined));
    if (seeds.length > 0) {
      const txns = Object.fromEntries(
        seeds.map((x) => [appIdFor(name, topic, x.s.partition), x.resume]),
      );
      const expected = Object.fromEntries(Object.keys(txns).map((k) => [k, undefined]));
      try {
        for (const t of targets) {
          await commitTxns(t.table.storage, txns, {
            expectedTxns: expected,
            operation: "STREAMING UPDATE",
            operationParameters: { outputMode: "Append", queryId: name, startingOffsets: "seed" },
          });
        }
      } catch (e) {
        if (e instanceof TxnConflictError || e instanceof ConcurrentModificationError) {
          log("conflict", `${name}: another instance seeded offsets first; re-reading`);
          return;
        }
        throw e;
      }
      for (const x of seeds) x.stored = x.stored.map(() => x.resume);
      log("seed", `${name}: starting offsets stored ${JSON.stringify(offsetsOf(seeds))}`);
    }
    if (gen !== generation) return;
    for (const { s, stored, from, resume } of plan) {
      s.stored = stored;
      s.from = from;
      s.next = resume;
      s.batchStart = resume;
      s.ready = true;
      s.awaitingSeek = true;
      s.seekTries = 0;
      consumer!.seek({ topic, partition: s.partition, offset: String(resume) });
    }
    consumer!.resume([{ topic, partitions: plan.map((x) => x.s.partition) }]);
    log("resume", `${name}: ${topic} from ${JSON.stringify(offsetsOf(plan))}`);
  }

  function offsetsOf(xs: { s: PartitionState; resume: bigint }[]): Record<string, number> {
    return Object.fromEntries(xs.map((x) => [String(x.s.partition), Number(x.resume)]));
  }

  const assigned = () => [...states.values()];
  const targetOf = (p: number) => availableTargets?.get(p) ?? 0n;
  const fetchedAll = () => assigned().every((s) => s.ready && s.next >= targetOf(s.partition));
  const allDone = () =>
    joined &&
    assigned().every((s) => s.ready && s.buffer.length === 0 && s.next >= targetOf(s.partition));

  let topicCheckedAt = Date.now();
  let topicGoneLogged = false;
  /** Every 5 s of waiting: is the topic still there? (A deleted topic is data loss.) */
  async function checkTopic(): Promise<void> {
    if (!admin || Date.now() - topicCheckedAt < 5000) return;
    topicCheckedAt = Date.now();
    let topics: string[];
    try {
      topics = await admin.listTopics();
      brokerAnswered();
    } catch (e) {
      brokerFailed(e);
      checkBrokerTimeout();
      log("retry", `${name}: cannot list topics (${explain(e)}); will retry`);
      return;
    }
    if (topics.includes(topic)) return;
    const msg = `${name}: topic '${topic}' was deleted while the query was running`;
    if (opts.failOnDataLoss) {
      throw new DataLossError(`${msg}; recreate it and use a new --query-name or table`);
    }
    if (!topicGoneLogged) log("data-loss", `${msg}; waiting for it (--fail-on-data-loss false)`);
    topicGoneLogged = true;
  }

  async function waitForTrigger(lastStart: number): Promise<boolean> {
    if (!opts.availableNow && opts.triggerIntervalMs > 0) {
      const due = lastStart + opts.triggerIntervalMs;
      while (!stopping && Date.now() < due) await wake.wait(Math.max(1, due - Date.now()));
    }
    while (!stopping) {
      if (assigned().some((s) => !s.ready)) return false;
      if (opts.availableNow) {
        if (buffered >= opts.maxOffsetsPerTrigger || (buffered > 0 && fetchedAll())) return true;
        if (allDone()) return false;
      } else if (buffered > 0) return true;
      phase = "waiting";
      await wake.wait(1000);
      if (crashed) throw crashed;
      checkBrokerTimeout();
      await checkTopic();
    }
    return false;
  }

  /**
   * Takes up to maxOffsetsPerTrigger buffered records (split across partitions by what they
   * hold) and advances each partition's expected table offsets as if the batch commits; if it
   * does not, every state is reset and read again from the tables.
   */
  function take(): Slice[] {
    const total = Math.min(buffered, opts.maxOffsetsPerTrigger);
    const withData = assigned().filter((s) => s.ready && s.buffer.length > 0);
    const slices: Slice[] = [];
    let left = total;
    const all = buffered;
    for (const s of withData) {
      if (left <= 0) break;
      const n = Math.min(left, s.buffer.length, Math.ceil((s.buffer.length * total) / all));
      const msgs = n === s.buffer.length ? s.buffer : s.buffer.slice(0, n);
      const end = n === s.buffer.length ? s.next : BigInt(s.buffer[n].offset);
      s.buffer = n === s.buffer.length ? [] : s.buffer.slice(n);
      slices.push({
        state: s,
        chunk: { topic, partition: s.partition, timestampType, messages: msgs },
        start: s.batchStart,
        end,
        from: [...s.from],
        stored: [...s.stored],
      });
      s.batchStart = end;
      for (let t = 0; t < targets.length; t++) {
        if (end > s.from[t]) {
          s.from[t] = end;
          s.stored[t] = end;
        }
      }
      left -= n;
    }
    buffered -= total - left;
    drained.notify();
    return slices;
  }

  /** Sends a batch to the writer (worker or in-process); resolves when it is committed or dropped. */
  function submit(slices: Slice[]): Promise<void> {
    const seq = ++batchesInProcess;
    const id = batchId++;
    const started = new Date().toISOString();
    const t0 = performance.now();
    const gen = generation;
    const plan: BatchPlan = {
      query: name,
      topic,
      batchId: id,
      seq,
      partitions: slices.map((x) => ({
        partition: x.chunk.partition,
        end: String(x.end),
        from: x.from.map(String),
        stored: x.stored.map((v) => (v === undefined ? undefined : String(v))),
      })),
    };
    const chunks = slices.map((x) => x.chunk);
    const pending = worker
      ? worker.write(plan, chunks.map(packChunk))
      : writeBatch(sink, chunks, plan, fault);
    return pending.then((result) => finishBatch(slices, result, { id, started, t0, gen }));
  }

  async function finishBatch(
    slices: Slice[],
    result: BatchResult,
    info: { id: number; started: string; t0: number; gen: number },
  ): Promise<void> {
    for (const [t, r] of Object.entries(result.sink)) summary.rows[t] += r.rows;
    if (!result.ok) {
      summary.droppedBatches++;
      log(
        "conflict",
        `${name}: batch ${info.id} dropped (${result.conflict}); re-reading offsets from the tables`,
      );
      if (info.gen === generation) resetAll(assigned().map((s) => s.partition));
      return;
    }
    const records = slices.reduce((a, x) => a + x.chunk.messages.length, 0);
    summary.batches++;
    summary.records += records;
    summary.deadLetters += result.deadLetters ?? 0;
    if (opts.commitGroupOffsets && consumer && info.gen === generation) {
      try {
        await consumer.commitOffsets(
          slices.map((x) => ({ topic, partition: x.chunk.partition, offset: String(x.end) })),
        );
      } catch {
        // Only lag tools read these; a rebalance may have made them stale. Nothing to do.
      }
    }
    sampleRss();
    const endOffset: PartitionOffsets = {};
    const startOffset: PartitionOffsets = {};
    for (const x of slices) {
      startOffset[x.chunk.partition] = Number(x.start);
      endOffset[x.chunk.partition] = Number(x.end);
    }
    const latestOffset: PartitionOffsets = {};
    const lag: PartitionOffsets = {};
    for (const x of slices) {
      const hw = x.state.highWatermark;
      if (hw === undefined) continue;
      latestOffset[x.chunk.partition] = Number(hw);
      lag[x.chunk.partition] = Math.max(0, Number(hw - x.end));
    }
    const total = performance.now() - info.t0;
    input.onProgress?.({
      name,
      batchId: info.id,
      timestamp: info.started,
      numInputRows: records,
      processedRowsPerSecond: total > 0 ? (records * 1000) / total : 0,
      durationMs: {
        build: Math.round(result.buildMs),
        write: Math.round(result.writeMs),
        total: Math.round(total),
      },
      topic,
      startOffset,
      endOffset,
      latestOffset,
      lag,
      sink: result.sink,
      ...(result.deadLetters !== undefined ? { deadLetters: result.deadLetters } : {}),
    });
  }

  async function resumeBatchId(): Promise<number> {
    try {
      const storage = targets[0].table.storage;
      const listing = await listLog(storage);
      for (let i = listing.commits.length - 1; i >= 0 && i >= listing.commits.length - 20; i--) {
        const info = findCommitInfo(await readCommit(storage, listing.commits[i].version));
        const p = info?.operationParameters as Record<string, string> | undefined;
        if (p?.queryId === name && p.epochId !== undefined) return Number(p.epochId) + 1;
      }
    } catch {
      // Batch ids are informational; start at 0.
    }
    return 0;
  }

  async function run(): Promise<QuerySummary> {
    const began = performance.now();
    const rssTimer = setInterval(sampleRss, 250);
    try {
      batchId = await resumeBatchId();
      if (opts.sinkWorker) worker = await startSinkWorker(sink.spec);
      admin = kafka.admin();
      await withRetry("connecting to Kafka", () => admin!.connect());
      const topics = await withRetry("listing topics", () => admin!.listTopics());
      if (!topics.includes(topic)) {
        throw new TopicNotFoundError(
          `topic '${topic}' does not exist; create it (deno task produce creates retail-data-new)`,
        );
      }
      timestampType = await topicTimestampType(admin, topic);
      if (opts.availableNow) {
        const marks = await withRetry("reading offsets", () => watermarks(admin!, topic));
        availableTargets = new Map([...marks].map(([p, m]) => [p, m.high]));
        log(
          "available",
          `${name}: processing ${topic} up to ${
            JSON.stringify(
              Object.fromEntries([...availableTargets].map(([p, o]) => [p, Number(o)])),
            )
          }`,
        );
      }
      const c = kafka.consumer({
        groupId: name,
        sessionTimeout: opts.sessionTimeoutMs,
        heartbeatInterval: Math.max(100, Math.floor(opts.sessionTimeoutMs / 10)),
        rebalanceTimeout: Math.max(opts.sessionTimeoutMs, 30_000),
        maxWaitTimeInMs: 500,
        maxBytesPerPartition: 1 << 20,
        maxBytes: 16 << 20,
        metadataMaxAge: opts.metadataMaxAgeMs,
        allowAutoTopicCreation: false,
        readUncommitted: false,
        retry: {
          restartOnFailure: (e: Error) => {
            if (stopping || isPermanentKafkaError(e)) return Promise.resolve(false);
            brokerFailed(e);
            log("retry", `${name}: consumer failed (${explain(e)}); restarting it`);
            return Promise.resolve(true);
          },
        },
      });
      consumer = c;
      c.on(c.events.GROUP_JOIN, ({ payload }) => {
        brokerAnswered();
        onGroupJoin(payload.memberAssignment);
      });
      c.on(c.events.HEARTBEAT, brokerAnswered);
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
        if (!payload.restart && !stopping) {
          crashed = payload.error;
          wake.notify();
        }
      });
      await withRetry("joining the consumer group", () => c.connect());
      await c.subscribe({ topics: [topic], fromBeginning: true });
      await c.run({
        autoCommit: false,
        eachBatchAutoResolve: false,
        partitionsConsumedConcurrently: 1,
        eachBatch: eachBatch as never,
      });
      let lastStart = -Infinity;
      const inflight: Promise<void>[] = [];
      const depth = worker ? 2 : 1;
      const settle = async () => {
        while (inflight.length > 0) await inflight.shift();
      };
      while (!stopping) {
        if (crashed) throw crashed;
        if (!joined) {
          phase = "waiting";
          await wake.wait(500);
          checkBrokerTimeout();
          await checkTopic();
          continue;
        }
        if (assigned().some((s) => !s.ready)) {
          // Offsets are read from the tables: let every queued batch land first.
          phase = "writing";
          await settle();
          await initPending();
        }
        if (opts.availableNow && allDone()) {
          await settle();
          if (allDone()) {
            summary.ended = "finished";
            break;
          }
          continue;
        }
        if (!(await waitForTrigger(lastStart))) continue;
        const slices = take();
        if (slices.length === 0) continue;
        lastStart = Date.now();
        phase = "writing";
        inflight.push(submit(slices));
        if (inflight.length >= depth) await inflight.shift();
        phase = "waiting";
      }
      if (inflight.length > 0) phase = "writing";
      await settle();
      if (stopping && summary.ended !== "finished") {
        const left = assigned().reduce((n, s) => n + s.buffer.length, 0);
        log(
          "stop",
          `${name}: stopped after batch ${batchId - 1}` +
            (left > 0 ? `; ${left} buffered records not written (read again on restart)` : ""),
        );
      }
      return summary;
    } finally {
      stopping = true;
      phase = "stopped";
      clearInterval(rssTimer);
      wake.notify();
      drained.notify();
      worker?.close();
      try {
        await consumer?.disconnect();
      } catch { /* leaving the group is best effort */ }
      try {
        await admin?.disconnect();
      } catch { /* best effort */ }
      sampleRss();
      summary.seconds = (performance.now() - began) / 1000;
      summary.recordsPerSecond = summary.seconds > 0 ? summary.records / summary.seconds : 0;
      summary.peakRssBytes = peakRss;
    }
  }

  const done = run();
  return {
    done,
    stop() {
      if (stopping) return;
      stopping = true;
      wake.notify();
      drained.notify();
    },
    status: () => ({ phase, batchId }),
  };
}

/**
 * Stops the query on SIGINT/SIGTERM: the first signal finishes the current micro-batch (or
 * stops between batches) and says which; a second one abandons it at once (nothing half-done
 * counts: an uncommitted batch is read again on restart). Returns a function removing the
 * listeners.
 */
export function stopOnSignals(
  query: StreamQuery,
  log: (tag: string, message: string) => void = cliLog,
): () => void {
  let signals = 0;
  const handler = () => {
    signals++;
    const { phase, batchId } = query.status();
    if (signals === 1) {
      log(
        "signal",
        phase === "building" || phase === "writing"
          ? `finishing batch ${batchId} before stopping (signal again to abandon it)`
          : `stopping between batches (after batch ${batchId - 1})`,
      );
      query.stop();
    } else {
      log(
        "signal",
        phase === "writing"
          ? `abandoning batch ${batchId} mid-write: whatever it did not commit is read again on restart`
          : `abandoning batch ${batchId}: nothing of it was committed`,
      );
      Deno.exit(130);
    }
  };
  const sigs: Deno.Signal[] = Deno.build.os === "windows" ? ["SIGINT"] : ["SIGINT", "SIGTERM"];
  for (const s of sigs) Deno.addSignalListener(s, handler);
  return () => {
    for (const s of sigs) Deno.removeSignalListener(s, handler);
  };
}
