/**
 * The micro-batch run loop of every stream, modelled on Spark Structured Streaming: one loop
 * where all state is visible. Each turn waits for the trigger, takes a slice from the source
 * (the limit divided fairly across partitions), has the sink prepare it, and commits it with its
 * offsets while the next slice is taken (at most `sink.depth` commits in flight).
 *
 * Positions come from the sink: a partition the source was just given (at start, after a
 * rebalance, after a conflict) resumes from what the output holds, else from the
 * starting-offsets spec; the log's bounds are checked first (data loss). A batch whose commit
 * conflicts (another instance moved its partitions) is dropped and every position read again.
 *
 * Outages: a transient Kafka failure (the one classifier of lib/kafka/errors.ts) restarts the
 * query from the output's state, with the one backoff, for up to `--broker-timeout`; anything
 * else ends the query with its error.
 *
 * @module
 */
import type { Admin, Kafka } from "kafkajs";
import { log as cliLog } from "../cli.ts";
import { sleep } from "../backoff.ts";
import { classifyKafkaError } from "../kafka/errors.ts";
import { TopicNotFoundError } from "../kafka/client.ts";
import { topicTimestampType } from "../kafka/source.ts";
import type { SourceSlice, StreamSource } from "../kafka/stream_source.ts";
import { checkDataLoss, startingOffsets, watermarks } from "./offsets.ts";
import { DEFAULT_HEALTH_TIMEOUT_MS, type StreamOptions } from "./options.ts";
import { memoryTrimmer } from "./memory.ts";
import { StreamMetrics } from "./metrics.ts";
import { type MetricsServer, serveMetrics } from "./metrics_server.ts";
import { type Outage, trackOutage } from "./outage.ts";
import {
  addMaintenance,
  type BatchProgress,
  type PartitionOffsets,
  type QuerySummary,
} from "./progress.ts";
import type { QueryPhase, StreamQuery } from "./signals.ts";
import type { BatchInfo, Committed, Conflicted, Sink } from "./sink.ts";

/** What {@link QueryParts.open} gets to build a source and a sink. */
export interface OpenContext {
  /** The topic's timestamp type (0 CreateTime, 1 LogAppendTime). */
  timestampType: number;
  /** Available-now: where each partition ends (captured once, at the first start). */
  ends?: Map<number, bigint>;
  /** The query's outage tracker: sources report Kafka's answers and failures to it. */
  outage: Outage;
  /** The admin client of this attempt. */
  admin: Admin;
}

/** What a query runs: how to open its source and sink (again after an outage). */
export interface QueryParts {
  /** kafkajs client (admin calls: offsets, topic checks). */
  kafka: Kafka;
  /** The topic read. */
  topic: string;
  /** The engine's options. */
  options: StreamOptions;
  /** Checks the settings before anything is read (throws what is wrong). */
  validate?(): void;
  /** Builds a fresh source and sink; called at start and after each transient failure. */
  open(context: OpenContext): Promise<{ source: StreamSource; sink: Sink }>;
  /** After the first record arrives, wait at most this long for a fuller batch, ms. */
  lingerMs?: number;
  /** One line per event (default: lib/cli log to stderr). */
  log?: (tag: string, message: string) => void;
  /** Called after every committed micro-batch. */
  onProgress?: (p: BatchProgress, summary: QuerySummary) => void;
  /** One line for a Kafka error (retry logs, the final outage error). */
  explain?: (error: unknown) => string;
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

/** Offsets per partition in progress form (numbers keyed by partition). */
function offsetsOf(entries: Iterable<readonly [number, bigint]>): PartitionOffsets {
  const out: PartitionOffsets = {};
  for (const [p, off] of entries) out[String(p)] = Number(off);
  return out;
}

/**
 * Starts a streaming query; returns at once with a handle (`done`, `stop()`, `status()`).
 *
 * @example
 * ```ts
 * import type { Kafka } from "kafkajs";
 * import { tailSource } from "../kafka/tail.ts";
 * import { rawSink } from "../orders/sinks.ts";
 * import { deltaSink } from "./delta_sink.ts";
 * import { startQuery } from "./loop.ts";
 * import { parseStreamOptions } from "./options.ts";
 * const options = parseStreamOptions({ "available-now": true }, "orders_raw");
 * const query = options.queryName;
 * // Needs a broker, so the doc test only type-checks it:
 * async function run(kafka: Kafka, topic: string) {
 *   const tables = await rawSink("./lakehouse/orders_raw");
 *   const q = startQuery({
 *     kafka, topic, options,
 *     open: ({ timestampType, ends }) => Promise.resolve({
 *       source: tailSource(kafka, topic, { partitions: [0, 1, 2], timestampType, ends }),
 *       sink: deltaSink(tables, { query, topic, worker: false, log: console.error }),
 *     }),
 *   });
 *   return await q.done; // the QuerySummary
 * }
 * ```
 */
export function startQuery(parts: QueryParts): StreamQuery<QuerySummary> {
  const { kafka, topic, options: opts } = parts;
  const log = parts.log ?? cliLog;
  const name = opts.queryName;
  const lingerMs = parts.lingerMs ?? (opts.triggerIntervalMs > 0 ? 0 : 500);
  const stopper = new AbortController();
  let phase: QueryPhase = "starting";
  let batchId = 0;
  let seq = 0;
  let peakRss = 0;
  let firstAttempt = true;
  let ends: Map<number, bigint> | undefined;
  let current: Sink | undefined;
  const summary: QuerySummary = {
    name,
    batches: 0,
    records: 0,
    rows: {},
    deadLetters: 0,
    droppedBatches: 0,
    seconds: 0,
    recordsPerSecond: 0,
    peakRssBytes: 0,
    ended: "stopped",
    positions: {},
  };
  const sampleRss = () => {
    const rss = Math.max(Deno.memoryUsage().rss, highWaterRss());
    if (rss > peakRss) peakRss = rss;
  };
  const stopping = () => stopper.signal.aborted;
  // Native memory freed by batches and compactions goes back to the system twice a minute.
  const trimMemory = memoryTrimmer();
  // What /metrics and /healthz show (served with --metrics-port): fed one call per event.
  const metrics = new StreamMetrics({
    query: name,
    topic,
    sessionTimeoutMs: opts.sessionTimeoutMs,
    healthTimeoutMs: opts.healthTimeoutMs ?? DEFAULT_HEALTH_TIMEOUT_MS,
  });

  /** One run from the output's state; resolves when finished or stopped. */
  async function attempt(outage: Outage): Promise<void> {
    const admin = kafka.admin();
    let source: StreamSource | undefined;
    let sink: Sink | undefined;
    const inflight: Promise<void>[] = [];
    // A failed commit also ends the wait for the next slice (the broker may be gone).
    const failed = new AbortController();
    const signal = AbortSignal.any([stopper.signal, failed.signal]);
    let failure: { error: unknown } | undefined;
    const settle = async () => {
      while (inflight.length > 0) await inflight.shift();
    };
    try {
      await admin.connect();
      if (!(await admin.listTopics()).includes(topic)) {
        throw new TopicNotFoundError(
          `topic '${topic}' does not exist; create it (deno task produce creates retail-data-new)`,
        );
      }
      const timestampType = await topicTimestampType(admin, topic);
      if (opts.availableNow && !ends) {
        ends = new Map([...(await watermarks(admin, topic))].map(([p, m]) => [p, m.high]));
        log("available", `${name}: processing ${topic} up to ${JSON.stringify(offsetsOf(ends))}`);
      }
      ({ source, sink } = await parts.open({ timestampType, ends, outage, admin }));
      current = sink;
      metrics.opened(source, sink);
      await sink.open();
      if (firstAttempt) batchId = (await sink.firstBatchId?.()) ?? 0;
      firstAttempt = false;
      await source.start();
      outage.answered();
      let epoch = 0;
      let lastStart = -Infinity;
      let waitLogged = false;
      while (!stopping()) {
        if (failure) throw failure.error;
        source.check();
        outage.check();
        if (source.unpositioned().length > 0) {
          // Positions are read from the output: let every queued batch land first.
          phase = "writing";
          await settle();
          await position(admin, source, sink);
          epoch++;
          continue;
        }
        if (opts.availableNow && source.finished()) {
          await settle();
          if (source.finished() && source.unpositioned().length === 0) {
            // Available-now means the whole topic: partitions another copy of the query holds
            // are waited for (they may also come to this copy when that one dies).
            const behind = await othersBehind(admin, source, sink);
            if (behind.length === 0) {
              summary.ended = "finished";
              break;
            }
            if (!waitLogged) {
              log(
                "wait",
                `${name}: partitions [${behind.join(",")}] of ${topic} are not at their end yet ` +
                  "(another copy of the query holds them); waiting for them",
              );
              waitLogged = true;
            }
            await sleep(1000, signal);
          }
          continue;
        }
        if (!opts.availableNow && opts.triggerIntervalMs > 0) {
          const due = lastStart + opts.triggerIntervalMs - Date.now();
          if (due > 0) await sleep(due, signal);
          if (stopping()) break;
          if (failure) continue;
        }
        phase = "waiting";
        const slice = await source.next({
          maxOffsets: opts.maxOffsetsPerTrigger,
          lingerMs,
          signal,
        });
        if (!slice || slice.partitions.length === 0) continue;
        lastStart = Date.now();
        const info: BatchInfo = { id: batchId++, seq: ++seq };
        const started = new Date().toISOString();
        const t0 = performance.now();
        phase = "building";
        const prepared = await sink.prepare(slice, info);
        phase = "writing";
        while (inflight.length >= sink.depth) await inflight.shift();
        const batchEpoch = epoch;
        const src = source;
        const c0 = performance.now();
        const committing = sink.commit(prepared, info).then((result) =>
          finish(src, slice, info, result, { started, t0, c0 }, () => {
            if (batchEpoch !== epoch) return;
            epoch++;
            src.reset();
          })
        );
        committing.catch((error) => {
          metrics.commitFailed();
          failure ??= { error };
          failed.abort();
        });
        inflight.push(committing);
        phase = "waiting";
      }
      if (inflight.length > 0) phase = "writing";
      await settle();
      // Background maintenance (a compaction) finishes before the query reports its end.
      const late = await sink.settle?.({ final: summary.ended === "finished" });
      if (late) {
        metrics.maintenance(late);
        summary.maintenance = addMaintenance(summary.maintenance, late);
      }
      summary.positions = Object.fromEntries(
        [...source.positions()].map(([p, o]) => [String(p), o.toString()]),
      );
    } finally {
      // A failed batch's siblings must not outlive the attempt unobserved.
      await Promise.allSettled(inflight);
      await source?.close().catch(() => {});
      await sink?.close().catch(() => {});
      await admin.disconnect().catch(() => {});
    }
  }

  /** Available-now: the partitions this copy does not hold whose output is short of the end. */
  async function othersBehind(admin: Admin, source: StreamSource, sink: Sink): Promise<number[]> {
    const mine = source.positions();
    const others = [...(ends ?? new Map<number, bigint>()).keys()].filter((p) => !mine.has(p));
    if (others.length === 0) return [];
    const stored = await (sink.observe ?? sink.stored).call(sink, others);
    const marks = await watermarks(admin, topic);
    return others.filter((p) => {
      const end = ends!.get(p)!;
      return end > (stored.get(p) ?? marks.get(p)?.low ?? 0n);
    }).sort((a, b) => a - b);
  }

  /** Reads the positions of the source's waiting partitions from the sink and hands them over. */
  async function position(admin: Admin, source: StreamSource, sink: Sink): Promise<void> {
    const pending = source.unpositioned();
    const stored = await sink.stored(pending);
    const marks = await watermarks(admin, topic);
    const fresh = pending.filter((p) => stored.get(p) === undefined);
    const starts = fresh.length > 0
      ? await startingOffsets(admin, topic, opts.startingOffsets)
      : new Map<number, bigint>();
    const resume = new Map<number, bigint>();
    for (const p of pending) {
      const from = stored.get(p) ?? starts.get(p) ?? marks.get(p)?.low ?? 0n;
      resume.set(
        p,
        checkDataLoss(
          topic,
          p,
          from,
          marks.get(p),
          opts.failOnDataLoss,
          (m) => log("data-loss", m),
        ),
      );
    }
    if (source.unpositioned().join() !== pending.join()) return; // reassigned meanwhile
    if (!(await sink.begin(resume, fresh, opts.startingOffsets))) return source.reset();
    await source.position(resume);
    metrics.positioned(resume, marks);
    log("resume", `${name}: ${topic} from ${JSON.stringify(offsetsOf(resume))}`);
  }

  async function finish(
    source: StreamSource,
    slice: SourceSlice,
    info: BatchInfo,
    result: Committed | Conflicted,
    time: { started: string; t0: number; c0: number },
    reset: () => void,
  ): Promise<void> {
    metrics.batch(slice, result, time);
    for (const [t, r] of Object.entries(result.sink)) {
      summary.rows[t] = (summary.rows[t] ?? 0) + r.rows;
    }
    if (!result.ok) {
      // Partitions of the batch that did commit stand (a sink committing each on its own).
      const kept = new Set(result.committed?.partitions ?? []);
      for (const p of slice.partitions) {
        if (kept.has(p.partition)) summary.records += p.messages.length;
      }
      if (result.committed) {
        summary.deadLetters += result.committed.deadLetters;
        for (const [r, n] of Object.entries(result.committed.deadLetterReasons)) {
          summary.deadLetterReasons ??= {};
          summary.deadLetterReasons[r] = (summary.deadLetterReasons[r] ?? 0) + n;
        }
      }
      summary.droppedBatches++;
      const stood = kept.size > 0 ? `; partition(s) ${[...kept].join(",")} committed` : "";
      log(
        "conflict",
        `${name}: batch ${info.id} dropped (${result.conflict}${stood}); re-reading the offsets`,
      );
      reset();
      return;
    }
    const records = slice.partitions.reduce((n, p) => n + p.messages.length, 0);
    summary.batches++;
    summary.records += records;
    summary.deadLetters += result.deadLetters ?? 0;
    if (result.deadLetterReasons) {
      summary.deadLetterReasons ??= {};
      for (const [r, n] of Object.entries(result.deadLetterReasons)) {
        summary.deadLetterReasons[r] = (summary.deadLetterReasons[r] ?? 0) + n;
      }
    }
    if (result.eventTime) {
      summary.late = (summary.late ?? 0) + result.eventTime.late;
      summary.dropped = (summary.dropped ?? 0) + result.eventTime.dropped;
    }
    if (result.maintenance) {
      summary.maintenance = addMaintenance(summary.maintenance, result.maintenance);
    }
    const ends = new Map(slice.partitions.map((p) => [p.partition, p.end]));
    sampleRss();
    trimMemory();
    const total = performance.now() - time.t0;
    const lag = new Map<number, bigint>();
    const positions = source.positions();
    for (const [p, latest] of slice.latest) {
      const at = ends.get(p) ?? positions.get(p) ?? latest;
      lag.set(p, latest > at ? latest - at : 0n);
    }
    parts.onProgress?.({
      name,
      batchId: info.id,
      timestamp: time.started,
      numInputRows: records,
      processedRowsPerSecond: total > 0 ? (records * 1000) / total : 0,
      durationMs: { ...roundAll(result.durationMs), total: Math.round(total) },
      topic,
      startOffset: offsetsOf(slice.partitions.map((p) => [p.partition, p.start])),
      endOffset: offsetsOf(ends),
      latestOffset: offsetsOf(slice.latest),
      lag: offsetsOf(lag),
      sink: result.sink,
      ...(result.deadLetters !== undefined ? { deadLetters: result.deadLetters } : {}),
      ...(result.eventTime ? { eventTime: result.eventTime } : {}),
      ...(result.maintenance ? { maintenance: result.maintenance } : {}),
    }, summary);
    // Reported first: the group's offsets are only for lag tools (positions are the sink's).
    await source.committed?.(ends);
  }

  async function run(): Promise<QuerySummary> {
    const began = performance.now();
    const rssTimer = setInterval(sampleRss, 250);
    const outage = metrics.watchOutage(trackOutage({
      query: name,
      timeoutMs: opts.brokerTimeoutMs,
      committedTo: () => current?.committedTo ?? "the output",
      explain: parts.explain,
    }));
    let server: MetricsServer | undefined;
    try {
      server = serveMetrics(opts.metricsPort ?? 0, metrics);
      parts.validate?.();
      for (let retry = 1;; retry++) {
        try {
          await attempt(outage);
          if (stopping() && summary.ended !== "finished") {
            log("stop", `${name}: stopped after batch ${batchId - 1}`);
          }
          return summary;
        } catch (e) {
          if (stopping() || classifyKafkaError(e) !== "transient") throw e;
          outage.failed(e);
          outage.check();
          const delay = outage.delay(retry);
          log(
            "retry",
            `${name}: Kafka unreachable (${
              outage.explain(e)
            }); restarting the query in ${delay} ms`,
          );
          phase = "waiting";
          await sleep(delay, stopper.signal);
          if (stopping()) return summary;
        }
      }
    } finally {
      phase = "stopped";
      clearInterval(rssTimer);
      await server?.close();
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
      stopper.abort();
    },
    status: () => ({ phase, batchId }),
  };
}

function roundAll(ms: Record<string, number>): Record<string, number> {
  return Object.fromEntries(Object.entries(ms).map(([k, v]) => [k, Math.round(v)]));
}
