/**
 * The producer stream's run loop: read the input topic in micro-batches, keep (filter mode) or
 * aggregate (aggregate mode) the valid orders, dead-letter the bad ones, and commit each batch
 * as one Kafka transaction with its consumed offsets (see lib/kafka/sink.ts). All state is in
 * this one function: positions in the tail, window state in the aggregator.
 *
 * Position: the query's consumer group (the query name) holds the committed offsets; a new
 * query starts from `startingOffsets` and commits that start at once (batch 0), so a restart
 * never re-resolves "latest". The query's changelog topic (lib/insights/changelog.ts), written in
 * the same transactions, holds the offsets too and, in aggregate mode, the window state, which is
 * rebuilt from it on start. Where the two positions differ (an operator reset the group's
 * offsets) filter mode follows the group and aggregate mode the changelog (its state belongs to
 * those offsets); where the group's offsets expired, the changelog's are used.
 *
 * @module
 */
import type { Admin, Kafka, Message } from "kafkajs";
import { Buffer } from "node:buffer";
import {
  ensureTopic,
  isPermanentKafkaError,
  KafkaUnavailableError,
  requireTopic,
} from "../kafka/client.ts";
import { type OffsetSpec, readRange, resolveRange, topicTimestampType } from "../kafka/source.ts";
import { openTail, type Slice } from "../kafka/tail.ts";
import {
  committedOffsets,
  FencedError,
  openTransactionalSink,
  type TopicMessages,
  type TransactionalSink,
} from "../kafka/sink.ts";
import { type ParseFailure, parseOrder } from "../orders/validate.ts";
import { matchesFilter, type OrderFilter } from "./filter.ts";
import { type AggregateOptions, createAggregator, windowKey, windowValue } from "./aggregate.ts";
import {
  ChangelogError,
  type ChangelogMeta,
  metaRecord,
  replayChangelog,
  tombstoneRecord,
  windowRecord,
} from "./changelog.ts";
import { deadLetter } from "./dead_letters.ts";
import { type Classified, inlineClassifier, workerClassifier } from "./classify.ts";

/** What the stream does with valid orders. */
export type StreamMode =
  | { kind: "filter"; filter: OrderFilter }
  | { kind: "aggregate"; aggregate: AggregateOptions; filter?: OrderFilter };

/** Where the test hook kills the process (see {@link parseFault}). */
export type FaultPoint = "before-send" | "after-send" | "before-commit" | "after-commit";

/** A test hook: SIGKILL this process at a point of a given batch. */
export interface Fault {
  /** Where in the batch. */
  point: FaultPoint;
  /** Which batch of this run (1 = the first with data). */
  batch: number;
}

/**
 * Parses the STREAM_FAULT test hook, `<point>:<batch>`, e.g. `after-send:3` kills the process
 * with SIGKILL in the 3rd batch after its records were sent and before the offsets and the
 * commit. Points: before-send, after-send, before-commit, after-commit. For tests only.
 */
export function parseFault(text: string | undefined): Fault | undefined {
  if (!text) return undefined;
  const m = /^(before-send|after-send|before-commit|after-commit):(\d+)$/.exec(text.trim());
  if (!m) {
    throw new RangeError(
      `STREAM_FAULT '${text}' is not <before-send|after-send|before-commit|after-commit>:<batch>`,
    );
  }
  return { point: m[1] as FaultPoint, batch: Number(m[2]) };
}

/** Settings of {@link runProducerStream}. */
export interface StreamOptions {
  /** The kafkajs client. */
  kafka: Kafka;
  /** Input topic. */
  topic: string;
  /** Output topic. */
  outputTopic: string;
  /** Dead-letter topic. */
  deadLetterTopic: string;
  /** Query name: consumer group id, transactional id, changelog prefix. */
  queryName: string;
  /** Filter or aggregate. */
  mode: StreamMode;
  /** Where a new query starts (default earliest). */
  startingOffsets?: OffsetSpec;
  /** Max offsets per micro-batch (default 50 000). */
  maxOffsetsPerTrigger?: number;
  /** Process up to the offsets present at start, then stop. */
  availableNow?: boolean;
  /** Wait at most this long for a fuller batch once data arrived, ms (default 500). */
  lingerMs?: number;
  /** Filter mode: parse and validate in a Web Worker, on another core (default false). */
  parseWorker?: boolean;
  /** Minimum time between micro-batch starts, ms (default 0: as soon as data is there). */
  triggerIntervalMs?: number;
  /** Kafka transaction timeout, ms (default 60 000). */
  transactionTimeout?: number;
  /** Stops the stream after the batch in progress. */
  signal?: AbortSignal;
  /** Called after every committed batch. */
  onBatch?: (progress: BatchProgress) => void;
  /** One-line log events (start position, restored state, dropped late records). */
  onLog?: (tag: string, message: string) => void;
  /** Test hook: SIGKILL at a point (STREAM_FAULT). */
  fault?: Fault;
  /** The bootstrap servers, for error messages (default "the cluster"). */
  servers?: string;
  /**
   * How long Kafka may stay unreachable before the run fails with KafkaUnavailableError, ms
   * (default 300 000); until then a transient Kafka failure restarts the query from scratch.
   */
  brokerTimeoutMs?: number;
  /** Explains a Kafka error in one line for the retry log (default: its message). */
  explain?: (error: unknown) => string;
}

/** Counters of one committed batch and the run so far. */
export interface BatchProgress {
  /** Batch number in this run (1-based). */
  batch: number;
  /** Input records in the batch. */
  input: number;
  /** Offsets covered by the batch. */
  offsets: number;
  /** Output records of the batch. */
  output: number;
  /** Dead letters of the batch. */
  deadLetters: number;
  /** Late records accepted (aggregate mode). */
  late: number;
  /** Records beyond the watermark, dropped (aggregate mode). */
  dropped: number;
  /** Offsets still to read (to the known high watermarks, or to the end with available-now). */
  lag: number;
  /** Watermark after the batch (ms) in aggregate mode. */
  watermark: number | null;
  /** Live windows after the batch (aggregate mode). */
  windows: number;
  /** Next offset per partition after the batch (decimal strings). */
  endOffsets: Record<string, string>;
  /** Where the batch's time went, ms: waiting for records, transforming, the transaction. */
  durations: { waitMs: number; processMs: number; commitMs: number };
  /** Run totals. */
  totals: StreamTotals;
}

/** Totals of a run. */
export interface StreamTotals {
  /** Committed batches. */
  batches: number;
  /** Input records. */
  input: number;
  /** Output records. */
  output: number;
  /** Dead letters, by reason code. */
  deadLetters: Record<string, number>;
  /** Late records accepted. */
  late: number;
  /** Records dropped beyond the watermark. */
  dropped: number;
  /** Seconds from the first batch's start to the last commit. */
  seconds: number;
  /** Next offsets per partition at the end. */
  positions: Record<string, string>;
}

/** The query's committed position does not fit the input topic (e.g. it was recreated). */
export class PositionError extends Error {
  override name = "PositionError";
}

/** The stream would read its own output; choose other topics. */
export class TopicLoopError extends Error {
  override name = "TopicLoopError";
}

/** A slice taken from the tail, with what the batch needs from the moment it was taken. */
interface Taken {
  slice: Slice;
  positions: Map<number, bigint>;
  lag: number;
  tWait: number;
  tTaken: number;
  classified?: Promise<Classified>;
}

/** The changelog topic of a query. */
export function changelogTopic(queryName: string): string {
  return `${queryName}-changelog`;
}

async function ensureChangelog(admin: Admin, topic: string): Promise<void> {
  const existing = await admin.listTopics();
  if (existing.includes(topic)) return;
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

function kill(fault: Fault | undefined, point: FaultPoint, batch: number): void {
  if (fault && fault.point === point && fault.batch === batch) {
    console.error(`STREAM_FAULT ${point}:${batch}: killing this process (test hook)`);
    Deno.kill(Deno.pid, "SIGKILL");
  }
}

const text = (b: Uint8Array | null) => (b === null ? "null" : new TextDecoder().decode(b));

/**
 * Runs the stream until the signal aborts it, or (available-now) until the offsets present at
 * start are processed; resolves with the run's totals.
 *
 * @example
 * ```ts
 * const totals = await runProducerStream({ kafka, topic: "retail-data-new",
 *   outputTopic: "processed_orders", deadLetterTopic: "processed_orders_dead_letters",
 *   queryName: "processed_orders-filter-chicago", mode: { kind: "filter", filter: { city: "Chicago" } },
 *   availableNow: true });
 * ```
 */
export async function runProducerStream(o: StreamOptions): Promise<StreamTotals> {
  const log = o.onLog ?? (() => {});
  const timeoutMs = o.brokerTimeoutMs ?? DEFAULT_BROKER_TIMEOUT_MS;
  const explain = o.explain ??
    ((e: unknown) => String((e as Error)?.message ?? e).split("\n")[0]);
  // Totals of the earlier attempts (each attempt reports its own from zero).
  const before: StreamTotals = emptyTotals();
  let downSince: number | undefined;
  const answered = () => {
    downSince = undefined;
  };
  for (let attempt = 1;; attempt++) {
    const base = structuredClone(before);
    const attemptTotals: { totals?: StreamTotals } = {};
    try {
      const totals = await runQuery({
        ...o,
        onBatch: o.onBatch && ((p) => {
          answered();
          o.onBatch!({ ...p, batch: base.batches + p.batch, totals: addTotals(base, p.totals) });
        }),
        onLog: (tag, message) => {
          if (tag === "start") answered();
          log(tag, message);
        },
      }, attemptTotals);
      return addTotals(base, totals);
    } catch (e) {
      if (!isTransientKafkaError(e)) throw e;
      // The batches this attempt committed stay committed: count them.
      if (attemptTotals.totals) Object.assign(before, addTotals(base, attemptTotals.totals));
      if (o.signal?.aborted) return before; // stopping anyway; a rerun resumes
      downSince ??= Date.now();
      const down = Date.now() - downSince;
      if (down >= timeoutMs) {
        const s = Math.round(timeoutMs / 1000);
        throw new KafkaUnavailableError(
          `${o.queryName}: Kafka has been unreachable for ${s} s (--broker-timeout ${s}); last ` +
            `error: ${explain(e)}. Every committed batch is in ${o.outputTopic} (exactly once); ` +
            "start the broker and run again to resume",
        );
      }
      const delay = Math.max(
        1,
        Math.min(10_000, 500 * 2 ** Math.min(attempt - 1, 5), timeoutMs - down),
      );
      log(
        "retry",
        `${o.queryName}: Kafka unreachable (${explain(e)}); restarting the query in ${delay} ms`,
      );
      await sleep(delay, o.signal);
      if (o.signal?.aborted) return before;
    }
  }
}

/** Default of {@link StreamOptions.brokerTimeoutMs}: 300 s, as the consumer streams. */
export const DEFAULT_BROKER_TIMEOUT_MS = 300_000;

/**
 * True for a failure a restart of the query may heal: a Kafka client error (connection refused
 * or reset, request timeout, leader not available, retries exhausted) that is not permanent
 * (credentials, certificates, ACLs), not a fencing by a newer instance, not a data or config error.
 */
export function isTransientKafkaError(error: unknown): boolean {
  if (isPermanentKafkaError(error) || error instanceof FencedError) return false;
  if (
    error instanceof PositionError || error instanceof TopicLoopError ||
    error instanceof ChangelogError || error instanceof RangeError || error instanceof TypeError
  ) return false;
  let e: unknown = error;
  for (let i = 0; e && i < 6; i++) {
    const err = e as { name?: string; message?: string };
    if (/^KafkaJS/.test(err.name ?? "")) return true;
    if (
      /ECONNREFUSED|ECONNRESET|EPIPE|Connection (?:refused|reset|closed)/i.test(err.message ?? "")
    ) {
      return true;
    }
    e = (e as { originalError?: unknown }).originalError ?? (e as { cause?: unknown }).cause;
  }
  return false;
}

function emptyTotals(): StreamTotals {
  return {
    batches: 0,
    input: 0,
    output: 0,
    deadLetters: {},
    late: 0,
    dropped: 0,
    seconds: 0,
    positions: {},
  };
}

function addTotals(a: StreamTotals, b: StreamTotals): StreamTotals {
  const deadLetters = { ...a.deadLetters };
  for (const [k, n] of Object.entries(b.deadLetters)) deadLetters[k] = (deadLetters[k] ?? 0) + n;
  return {
    batches: a.batches + b.batches,
    input: a.input + b.input,
    output: a.output + b.output,
    deadLetters,
    late: a.late + b.late,
    dropped: a.dropped + b.dropped,
    seconds: a.seconds + b.seconds,
    positions: { ...a.positions, ...b.positions },
  };
}

/** One run of the query from scratch (start position and state from Kafka). */
async function runQuery(
  o: StreamOptions,
  attempt: { totals?: StreamTotals },
): Promise<StreamTotals> {
  const log = o.onLog ?? (() => {});
  const maxOffsets = o.maxOffsetsPerTrigger ?? 50_000;
  const servers = o.servers ?? "the cluster";
  const changelogName = changelogTopic(o.queryName);
  for (const out of [o.outputTopic, o.deadLetterTopic, changelogName]) {
    if (out === o.topic) {
      throw new TopicLoopError(
        `the input topic '${o.topic}' is also an output of query '${o.queryName}': ` +
          "the stream would read what it writes; use another --output-topic/--dead-letter-topic",
      );
    }
  }
  const admin = o.kafka.admin();
  let sink: TransactionalSink | undefined;
  let closeClassifier = () => {};
  let tail: Awaited<ReturnType<typeof openTail>> | undefined;
  try {
    await admin.connect();
    // Topics: the input must exist; output, dead letters and changelog are created if missing.
    const partitions = await requireTopic(admin, o.topic, servers);
    await ensureTopic(admin, o.outputTopic, partitions);
    await ensureTopic(admin, o.deadLetterTopic, 1);
    const timestampType = await topicTimestampType(admin, o.topic);

    // Fence older instances and settle their open transaction, then read the committed position.
    sink = await openTransactionalSink(o.kafka, {
      transactionalId: o.queryName,
      transactionTimeout: o.transactionTimeout,
    });
    const committed = await committedOffsets(admin, o.queryName, o.topic);

    // Rebuild from the changelog: the offsets of the last batch and (aggregate) the window state.
    const agg = o.mode.kind === "aggregate" ? createAggregator(o.mode.aggregate) : undefined;
    const changelog = changelogTopic(o.queryName);
    await ensureChangelog(admin, changelog);
    const ranges = await resolveRange(admin, changelog, { kind: "earliest" }, { kind: "latest" });
    const recs: { key: string | null; value: string | null }[] = [];
    for await (const batch of readRange(o.kafka, changelog, ranges, { timestampType: 0 })) {
      for (const r of batch) {
        recs.push({
          key: r.key === null ? null : text(r.key),
          value: r.value === null ? null : text(r.value),
        });
      }
    }
    const restored = replayChangelog(recs);
    const meta = restored.meta;
    const settings = agg
      ? `--aggregate ${agg.options.dimension} with a ${agg.options.windowMs} ms window`
      : "filter mode";
    if (meta) {
      const was = meta.mode === "aggregate"
        ? `--aggregate ${meta.dimension} with a ${meta.windowMs} ms window`
        : "filter mode";
      if (meta.topic !== o.topic || was !== settings) {
        throw new ChangelogError(
          `query '${o.queryName}' ran on topic '${meta.topic}' in ${was}; it cannot continue on ` +
            `'${o.topic}' in ${settings}: use the same settings or another --query-name`,
        );
      }
      if (agg) {
        for (const w of restored.windows) agg.restore(w);
        agg.restoreMaxEventTime(meta.maxEventTime);
      }
      for (const [p, off] of Object.entries(meta.offsets)) {
        const c = committed.get(Number(p));
        if (c === BigInt(off)) continue;
        if (c === undefined) {
          log("restore", `p${p}: no group offset (expired?); using the changelog's ${off}`);
          committed.set(Number(p), BigInt(off));
        } else if (agg) {
          log("warn", `group offset p${p}=${c} differs from the changelog's ${off}; using ${off}`);
          committed.set(Number(p), BigInt(off));
        } else {
          log("warn", `group offset p${p}=${c} differs from the changelog's ${off}; using ${c}`);
        }
      }
      if (agg) {
        log(
          "restore",
          `${restored.windows.length} windows from ${changelog} (${recs.length} records), ` +
            `max event time ${
              meta.maxEventTime === null ? "none" : new Date(meta.maxEventTime).toISOString()
            }`,
        );
      }
    } else if (agg && committed.size > 0) {
      throw new ChangelogError(
        `query '${o.queryName}' has committed offsets but its changelog ${changelog} is empty: ` +
          "its window state is lost; start over with another --query-name",
      );
    }

    // Start position per partition: committed offsets, else the starting-offsets spec (which
    // only applies to a new query, as Spark's startingOffsets).
    // Partitions added to the topic after the query started are read from their beginning.
    const spec: OffsetSpec = committed.size > 0
      ? { kind: "earliest" }
      : o.startingOffsets ?? { kind: "earliest" };
    const present = await resolveRange(admin, o.topic, { kind: "earliest" }, { kind: "latest" });
    const specStarts = await resolveRange(admin, o.topic, spec, { kind: "latest" });
    const starts = new Map<number, bigint>();
    const highs = new Map<number, bigint>();
    const fresh: number[] = [];
    for (const r of present) {
      highs.set(r.partition, r.end);
      const c = committed.get(r.partition);
      if (c === undefined) {
        starts.set(r.partition, specStarts.find((x) => x.partition === r.partition)!.start);
        fresh.push(r.partition);
      } else if (c > r.end) {
        throw new PositionError(
          `query '${o.queryName}' is at offset ${c} of ${o.topic} p${r.partition}, past its end ` +
            `(${r.end}): was the topic recreated? Start over with another --query-name`,
        );
      } else if (c < r.start) {
        log(
          "warn",
          `p${r.partition}: offsets ${c}..${r.start - 1n} are gone (retention); data lost`,
        );
        starts.set(r.partition, r.start);
      } else starts.set(r.partition, c);
    }
    log(
      "start",
      [...starts].map(([p, s]) => `p${p}@${s}${fresh.includes(p) ? " (new)" : ""}`).join(" ") +
        (o.availableNow ? `, available-now to ${[...highs.values()].join(",")}` : ""),
    );

    const metaOf = (positions: Map<number, bigint>): ChangelogMeta => ({
      version: 1,
      mode: agg ? "aggregate" : "filter",
      dimension: agg ? agg.options.dimension : null,
      windowMs: agg ? agg.options.windowMs : null,
      maxEventTime: agg ? agg.maxEventTime() : null,
      topic: o.topic,
      offsets: Object.fromEntries([...positions].map(([p, off]) => [String(p), off.toString()])),
    });
    const commitOffsets = (positions: Map<number, bigint>) => ({
      groupId: o.queryName,
      topic: o.topic,
      partitions: [...positions].map(([partition, offset]) => ({ partition, offset })),
    });

    // Batch 0: a new query records where it starts, so a restart does not resolve it again.
    if (fresh.length > 0) {
      await sink.commit(
        [{ topic: changelog, messages: [toMessage(metaRecord(metaOf(starts)))] }],
        commitOffsets(starts),
      );
    }

    tail = await openTail(o.kafka, o.topic, starts, {
      ends: o.availableNow ? highs : undefined,
      highWatermarks: highs,
      timestampType,
    });

    const totals: StreamTotals = emptyTotals();
    attempt.totals = totals;
    let started: number | undefined;
    const dim = agg?.options.dimension;
    const filter = o.mode.filter;

    // The transaction of batch k commits while batch k+1 is read and transformed; batch k+1's
    // transaction starts only after batch k's committed (so offsets and outputs stay in order).
    let inFlight: Promise<void> | undefined;
    let commitFailure: unknown;
    // A failed commit also ends the wait for the next slice (the broker may be gone).
    const failed = new AbortController();
    const nextSignal = o.signal ? AbortSignal.any([o.signal, failed.signal]) : failed.signal;
    const settle = async () => {
      if (inFlight) await inFlight;
      inFlight = undefined;
      if (commitFailure) throw commitFailure;
    };
    const classifier = agg
      ? undefined
      : o.parseWorker
      ? workerClassifier(filter ?? {})
      : inlineClassifier(filter ?? {});
    closeClassifier = () => classifier?.close();
    let batchNo = 0;
    let lastStart: number | undefined;
    const interval = o.triggerIntervalMs ?? 0;
    // Takes the next slice with its end positions, and (filter mode) starts classifying it.
    const takeNext = async (): Promise<Taken | undefined> => {
      if (interval > 0 && lastStart !== undefined) {
        const due = lastStart + interval - performance.now();
        if (due > 0) await sleep(due, nextSignal);
      }
      const tWait = performance.now();
      const slice = await tail!.next({
        maxOffsets,
        lingerMs: o.lingerMs ?? 500,
        signal: nextSignal,
      });
      if (!slice) return undefined;
      const tTaken = performance.now();
      lastStart = tTaken;
      const classified = classifier?.classify(slice.records);
      classified?.catch(() => {}); // awaited by the batch; not unhandled meanwhile
      return { slice, positions: tail!.positions(), lag: tail!.lag(), tWait, tTaken, classified };
    };
    // With the parse worker, batch k+1 is taken and sent to the worker before batch k is
    // finished, so the worker parses while the main thread builds and commits batch k.
    const lookahead = classifier !== undefined && o.parseWorker === true;
    let next = await takeNext();
    while (next) {
      if (commitFailure) throw commitFailure;
      const { slice, positions, lag: lagAfter, tWait, tTaken: tProcess, classified } = next;
      let following: Promise<Taken | undefined> | undefined;
      if (lookahead) {
        following = takeNext();
        following.catch(() => {}); // awaited below; do not report it as unhandled meanwhile
      }
      started ??= tWait;
      const batch = ++batchNo;
      const output: Message[] = [];
      const dead: Message[] = [];
      const deadReasons: Record<string, number> = {};
      let late = 0, dropped = 0;
      const records = slice.records;
      if (classifier) {
        // Filter mode: parse + validate + filter the whole batch (inline or in the worker).
        const { codes, failures } = await classified!;
        for (let i = 0; i < records.length; i++) {
          const code = codes[i];
          if (code === 1) {
            const r = records[i];
            output.push({ key: r.key as Buffer | null, value: r.value as Buffer });
          } else if (code === 2) {
            const f = failures.get(i)!;
            dead.push(deadLetter(records[i], f, o.queryName) as unknown as Message);
            deadReasons[f.reason] = (deadReasons[f.reason] ?? 0) + 1;
          }
        }
      }
      if (agg) {
        // Aggregate mode: parse + validate, (optional filter), add to the windows.
        for (let i = 0; i < records.length; i++) {
          // Let the previous batch's commit make progress while this one is transformed.
          if ((i & 8191) === 8191 && inFlight) await new Promise((r) => setTimeout(r, 0));
          const r = records[i];
          const parsed = parseOrder(r.value);
          if (!parsed.ok) {
            dead.push(deadLetter(r, parsed, o.queryName) as unknown as Message);
            deadReasons[parsed.reason] = (deadReasons[parsed.reason] ?? 0) + 1;
            continue;
          }
          if (filter && !matchesFilter(parsed.order, filter)) continue;
          const how = agg.add(parsed.order, r.timestamp);
          if (how === "invalid_time") {
            const f: ParseFailure = {
              ok: false,
              reason: "out_of_range",
              field: "timestamp",
              message: `timestamp: record timestamp ${r.timestamp} is not a date`,
            };
            dead.push(deadLetter(r, f, o.queryName) as unknown as Message);
            deadReasons[f.reason] = (deadReasons[f.reason] ?? 0) + 1;
          } else if (how === "late") late++;
          else if (how === "dropped") {
            dropped++;
            if (dropped <= 5) {
              log(
                "late",
                `dropped p${r.partition}@${r.offset} (order ${parsed.order.order_id}): event time ` +
                  `${new Date(r.timestamp).toISOString()} is beyond the watermark ` +
                  `${new Date(agg.watermark()!).toISOString()}`,
              );
            }
          }
        }
      }
      if (dropped > 5) log("late", `… ${dropped - 5} more records dropped in batch ${batch}`);
      const topics: TopicMessages[] = [];
      const cl: Message[] = [];
      let watermark: number | null = null;
      if (agg) {
        const outcome = agg.finishBatch();
        watermark = outcome.watermark;
        for (const t of outcome.emit) {
          output.push({
            key: windowKey(dim!, t.group, t.windowStart),
            value: windowValue(dim!, t, agg.options.windowMs),
          });
        }
        for (const t of outcome.changed) cl.push(toMessage(windowRecord(dim!, t)));
        for (const t of outcome.evicted) cl.push(toMessage(tombstoneRecord(dim!, t)));
      }
      cl.push(toMessage(metaRecord(metaOf(positions))));
      topics.push({ topic: changelog, messages: cl });
      if (output.length > 0) topics.unshift({ topic: o.outputTopic, messages: output });
      if (dead.length > 0) topics.push({ topic: o.deadLetterTopic, messages: dead });

      const tReady = performance.now();
      await settle();
      const tCommit = performance.now();
      kill(o.fault, "before-send", batch);
      inFlight = sink.commit(topics, commitOffsets(positions), {
        afterSend: () => kill(o.fault, "after-send", batch),
        beforeCommit: () => kill(o.fault, "before-commit", batch),
      }).then(() => {
        kill(o.fault, "after-commit", batch);
        const tEnd = performance.now();
        totals.batches = batch;
        totals.input += records.length;
        totals.output += output.length;
        totals.late += late;
        totals.dropped += dropped;
        for (const [reason, n] of Object.entries(deadReasons)) {
          totals.deadLetters[reason] = (totals.deadLetters[reason] ?? 0) + n;
        }
        totals.seconds = (tEnd - started!) / 1000;
        o.onBatch?.({
          batch,
          input: records.length,
          offsets: slice.offsets,
          output: output.length,
          deadLetters: dead.length,
          late,
          dropped,
          lag: lagAfter,
          watermark,
          windows: agg ? agg.windows.size : 0,
          endOffsets: Object.fromEntries(
            [...positions].map(([p, off]) => [String(p), off.toString()]),
          ),
          durations: {
            waitMs: tProcess - tWait,
            processMs: tReady - tProcess,
            commitMs: tEnd - tCommit,
          },
          totals,
        });
      }, (e) => {
        commitFailure = e;
        failed.abort();
      });
      next = following ? await following : await takeNext();
    }
    await settle();
    totals.positions = Object.fromEntries(
      [...tail.positions()].map(([p, off]) => [String(p), off.toString()]),
    );
    return totals;
  } finally {
    closeClassifier();
    await tail?.close().catch(() => {});
    await sink?.close().catch(() => {});
    await admin.disconnect().catch(() => {});
  }
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal?.removeEventListener("abort", done);
      resolve();
    }
    signal?.addEventListener("abort", done, { once: true });
  });
}

function toMessage(r: { key: string; value: string | null }): Message {
  return { key: r.key, value: r.value };
}
