/**
 * The producer stream: orders read from a topic in micro-batches, kept (filter mode) or
 * aggregated per event-time window (aggregate mode), and published back to Kafka exactly once.
 * It is the engine's run loop (lib/engine/loop.ts) with this module's transform
 * (lib/insights/transform.ts):
 * - filter mode scales out: copies with one query name share the partitions through the
 *   consumer group (lib/kafka/group_source.ts), and each partition's output, dead letters and
 *   offsets are one transaction of its own transactional id (lib/engine/partition_sink.ts);
 * - aggregate mode reads every partition in one copy (the tail) and commits each batch as one
 *   transaction of the query's id with its window changes (lib/engine/kafka_sink.ts).
 *
 * @module
 */
import type { Kafka } from "kafkajs";
import { checkTopicLoop, kafkaSink } from "../engine/kafka_sink.ts";
import { type QueryParts, startQuery } from "../engine/loop.ts";
import type { StreamOptions } from "../engine/options.ts";
import type { BatchProgress, QuerySummary } from "../engine/progress.ts";
import type { StreamQuery } from "../engine/signals.ts";
import { tailSource } from "../kafka/tail.ts";
import { groupSource } from "../kafka/group_source.ts";
import { partitionedKafkaSink } from "../engine/partition_sink.ts";
import { watermarks } from "../engine/offsets.ts";
import { modeTransform, partialTransform, type StreamMode, windowTransform } from "./transform.ts";
import { ensureTopic, requireTopic, sizeConfigs } from "../kafka/client.ts";
import type { Transform } from "../engine/kafka_sink.ts";

export type { StreamMode };
export { ChangelogError, changelogTopic, TopicLoopError } from "../engine/kafka_sink.ts";

/** What {@link startProducerStream} runs. */
export interface ProducerStreamInput {
  /** The kafkajs client. */
  kafka: Kafka;
  /** Input topic. */
  topic: string;
  /** Output topic. */
  outputTopic: string;
  /** Dead-letter topic. */
  deadLetterTopic: string;
  /** Filter or aggregate. */
  mode: StreamMode;
  /**
   * The engine's options (lib/engine/options.ts): the query name (consumer group, transactional
   * id, changelog prefix), starting offsets, the trigger, available-now, the broker timeout,
   * the transaction timeout, and whether parsing runs in a worker.
   */
  options: StreamOptions;
  /** Wait at most this long for a fuller batch once data arrived, ms (default 500). */
  lingerMs?: number;
  /** Called after every committed batch, with the run's summary so far. */
  onBatch?: (progress: BatchProgress, summary: QuerySummary) => void;
  /** One-line log events (start position, restored state, dropped late records). */
  onLog?: (tag: string, message: string) => void;
  /** The bootstrap servers, for error messages (default "the cluster"). */
  servers?: string;
  /** Explains a Kafka error in one line for the retry log (default: its message). */
  explain?: (error: unknown) => string;
}

/** The producer stream's totals, as its notebook's last JSON line shows them. */
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
  /** Seconds the run took. */
  seconds: number;
  /** Next offsets per partition at the end. */
  positions: Record<string, string>;
}

/**
 * Starts the stream; returns at once with a handle (`done`, `stop()`, `status()`).
 *
 * @example
 * ```ts
 * import type { Kafka } from "kafkajs";
 * import { parseStreamOptions } from "../engine/options.ts";
 * import { startProducerStream } from "./stream.ts";
 * const options = parseStreamOptions({}, { queryName: "processed_orders-filter-chicago",
 *   sink: "kafka" });
 * // Needs a broker, so the doc test only type-checks it:
 * async function run(kafka: Kafka) {
 *   const q = startProducerStream({ kafka, topic: "retail-data-new",
 *     outputTopic: "processed_orders", deadLetterTopic: "processed_orders_dead_letters",
 *     mode: { kind: "filter", filter: { city: "Chicago" } }, options });
 *   Deno.addSignalListener("SIGINT", () => q.stop()); // finish the batch, then stop
 *   return await q.done; // the QuerySummary
 * }
 * ```
 */
export function startProducerStream(o: ProducerStreamInput): StreamQuery<QuerySummary> {
  if (o.mode.kind === "aggregate" && o.mode.repartition) return startRepartitioned(o, o.mode);
  const log = o.onLog ?? (() => {});
  const query = o.options.queryName;
  return startQuery({
    kafka: o.kafka,
    topic: o.topic,
    options: o.options,
    lingerMs: o.lingerMs,
    log,
    explain: o.explain,
    onProgress: o.onBatch,
    validate: () => checkTopicLoop({ ...o, query }),
    open: async ({ timestampType, ends, outage, admin }) => {
      const sinkOptions = {
        kafka: o.kafka,
        admin,
        query,
        topic: o.topic,
        outputTopic: o.outputTopic,
        deadLetterTopic: o.deadLetterTopic,
        transactionTimeoutMs: o.options.transactionTimeoutMs,
        servers: o.servers ?? "the cluster",
        log,
      };
      if (o.mode.kind === "filter") {
        // Copies of the query share the partitions; each partition commits through its own
        // transactional id (lib/engine/partition_sink.ts).
        return {
          source: groupSource(o.kafka, {
            groupId: membersGroup(query),
            topic: o.topic,
            timestampType,
            ends,
            maxBuffered: o.options.maxOffsetsPerTrigger,
            sessionTimeoutMs: o.options.sessionTimeoutMs,
            metadataMaxAgeMs: o.options.metadataMaxAgeMs,
            failOnDataLoss: o.options.failOnDataLoss,
            // The partitions' transactions commit the group's offsets.
            commitGroupOffsets: false,
            health: outage,
            admin,
            log,
            explain: o.explain ?? String,
          }),
          sink: partitionedKafkaSink(
            shared(modeTransform(o.mode, { query, worker: o.options.worker, log })),
            sinkOptions,
          ),
        };
      }
      const marks = await watermarks(admin, o.topic);
      return {
        source: tailSource(o.kafka, o.topic, {
          partitions: [...marks.keys()],
          timestampType,
          ends,
          highWatermarks: new Map([...marks].map(([p, m]) => [p, m.high])),
          health: outage,
        }),
        sink: kafkaSink(
          modeTransform(o.mode, { query, worker: o.options.worker, log }),
          sinkOptions,
        ),
      };
    },
  });
}

/**
 * Runs the stream until `signal` aborts it, or (available-now) until the offsets present at
 * start are processed; resolves with the run's totals.
 *
 * @example
 * ```ts
 * import { runProducerStream, type ProducerStreamInput } from "./stream.ts";
 * // Needs a broker, so the doc test only type-checks it:
 * async function runFor(input: ProducerStreamInput, ms: number) {
 *   const totals = await runProducerStream({ ...input, signal: AbortSignal.timeout(ms) });
 *   return totals; // { batches, input, output, deadLetters, late, dropped, seconds, positions }
 * }
 * ```
 */
export async function runProducerStream(
  o: ProducerStreamInput & { signal?: AbortSignal },
): Promise<StreamTotals> {
  const q = startProducerStream(o);
  const stop = () => q.stop();
  o.signal?.addEventListener("abort", stop, { once: true });
  try {
    return streamTotals(await q.done, o.outputTopic);
  } finally {
    o.signal?.removeEventListener("abort", stop);
  }
}

/**
 * The producer stream's totals from the engine's summary.
 *
 * @example
 * ```ts
 * import type { QuerySummary } from "../engine/progress.ts";
 * import { streamTotals } from "./stream.ts";
 * const summary: QuerySummary = { name: "q", batches: 2, records: 6000,
 *   rows: { processed_orders: 145, processed_orders_dead_letters: 3 }, deadLetters: 3,
 *   deadLetterReasons: { not_json: 3 }, droppedBatches: 0, seconds: 1.5,
 *   recordsPerSecond: 4000, peakRssBytes: 0, ended: "finished", positions: { "0": "6000" } };
 * console.log(JSON.stringify(streamTotals(summary, "processed_orders")));
 * // {"batches":2,"input":6000,"output":145,"deadLetters":{"not_json":3},"late":0,"dropped":0,
 * //  "seconds":1.5,"positions":{"0":"6000"}}
 * ```
 */
export function streamTotals(s: QuerySummary, outputTopic: string): StreamTotals {
  return {
    batches: s.batches,
    input: s.records,
    output: s.rows[outputTopic] ?? 0,
    deadLetters: s.deadLetterReasons ?? {},
    late: s.late ?? 0,
    dropped: s.dropped ?? 0,
    seconds: s.seconds,
    positions: s.positions,
  };
}

/** One transform for every partition (a stateless one). */
function shared(t: Transform): () => Transform {
  return () => t;
}

/**
 * The consumer group whose members share a query's partitions: not the query's own group, which
 * holds the offsets the transactions commit (with no members, as before copies could share the
 * work; its offsets, where lag tools read them, never wait for a rebalance of the members).
 */
export function membersGroup(query: string): string {
  return `${query}-members`;
}

/** The internal topic of a repartitioned aggregation: partial sums keyed by (group, window). */
export function repartitionTopic(query: string): string {
  return `${query}-repartition`;
}

/** The second stage's query name (its consumer group, transactional ids, changelog prefix). */
export function windowsQueryName(query: string): string {
  return `${query}-windows`;
}

/**
 * Aggregate mode with `--repartition`, as Kafka Streams repartitions: two queries in this
 * process. The first (the query's name, over the input's partitions) publishes each batch's
 * partial sums per (group, window) to `<query>-repartition`, keyed by (group, window), in the
 * transaction of its input offsets; the second (`<query>-windows`, over the repartition
 * topic's partitions) owns the windows of its partitions: watermark, output modes and
 * changelog as one copy has them. Both share their partitions with the other copies of the
 * query through their consumer groups, one transactional id per partition. Available-now runs
 * the first stage to its end, then the second over everything the first published.
 */
function startRepartitioned(
  o: ProducerStreamInput,
  mode: Extract<StreamMode, { kind: "aggregate" }>,
): StreamQuery<QuerySummary> {
  const log = o.onLog ?? (() => {});
  const query = o.options.queryName;
  const internal = repartitionTopic(query);
  const windows = windowsQueryName(query);
  const servers = o.servers ?? "the cluster";
  let first: StreamQuery<QuerySummary> | undefined;
  let second: StreamQuery<QuerySummary> | undefined;
  let stopped = false;
  const source = (
    ctx: Parameters<QueryParts["open"]>[0],
    groupId: string,
    topic: string,
    options: StreamOptions,
  ) =>
    groupSource(o.kafka, {
      groupId,
      topic,
      timestampType: ctx.timestampType,
      ends: ctx.ends,
      maxBuffered: options.maxOffsetsPerTrigger,
      sessionTimeoutMs: options.sessionTimeoutMs,
      metadataMaxAgeMs: options.metadataMaxAgeMs,
      failOnDataLoss: options.failOnDataLoss,
      commitGroupOffsets: false,
      health: ctx.outage,
      admin: ctx.admin,
      log,
      explain: o.explain ?? String,
    });
  const common = {
    kafka: o.kafka,
    lingerMs: o.lingerMs,
    log,
    explain: o.explain,
    onProgress: o.onBatch,
  };
  const startFirst = (partitions: number) =>
    startQuery({
      ...common,
      topic: o.topic,
      options: o.options,
      validate: () =>
        checkTopicLoop({
          query,
          topic: o.topic,
          outputTopic: internal,
          deadLetterTopic: o.deadLetterTopic,
        }),
      open: (ctx) =>
        Promise.resolve({
          source: source(ctx, membersGroup(query), o.topic, o.options),
          sink: partitionedKafkaSink(
            shared(partialTransform(mode.aggregate, mode.filter, { query, log, partitions })),
            {
              kafka: o.kafka,
              admin: ctx.admin,
              query,
              topic: o.topic,
              outputTopic: internal,
              deadLetterTopic: o.deadLetterTopic,
              transactionTimeoutMs: o.options.transactionTimeoutMs,
              servers,
              log,
            },
          ),
        }),
    });
  // The second stage reads the internal topic from its start; its metrics on the next port.
  const secondOptions: StreamOptions = {
    ...o.options,
    queryName: windows,
    startingOffsets: { kind: "earliest" },
    ...(o.options.metricsPort ? { metricsPort: o.options.metricsPort + 1 } : {}),
  };
  const startSecond = () =>
    startQuery({
      ...common,
      topic: internal,
      options: secondOptions,
      validate: () =>
        checkTopicLoop({
          query: windows,
          topic: internal,
          outputTopic: o.outputTopic,
          deadLetterTopic: o.deadLetterTopic,
        }),
      open: (ctx) =>
        Promise.resolve({
          source: source(ctx, membersGroup(windows), internal, secondOptions),
          sink: partitionedKafkaSink(
            () => windowTransform(mode.aggregate, { query: windows, log }),
            {
              kafka: o.kafka,
              admin: ctx.admin,
              query: windows,
              topic: internal,
              outputTopic: o.outputTopic,
              deadLetterTopic: o.deadLetterTopic,
              transactionTimeoutMs: o.options.transactionTimeoutMs,
              servers,
              log,
            },
          ),
        }),
    });
  const run = async (): Promise<QuerySummary> => {
    const partitions = await prepareRepartitionTopic(o.kafka, o.topic, internal, servers);
    log("repartition", `${query}: partial sums through ${internal} (${partitions} partitions)`);
    first = startFirst(partitions);
    if (o.options.availableNow) {
      const s1 = await first.done;
      if (stopped) return combineStages(s1, undefined, o);
      second = startSecond();
      return combineStages(s1, await second.done, o);
    }
    second = startSecond();
    // One stage failing stops the other; the failure is the query's.
    const stages = [first, second];
    const settled = await Promise.allSettled(
      stages.map((q) =>
        q.done.catch((e) => {
          for (const other of stages) other.stop();
          throw e;
        })
      ),
    );
    for (const r of settled) if (r.status === "rejected") throw r.reason;
    const [s1, s2] = settled.map((r) => (r as PromiseFulfilledResult<QuerySummary>).value);
    return combineStages(s1, s2, o);
  };
  return {
    done: run(),
    stop() {
      stopped = true;
      first?.stop();
      second?.stop();
    },
    status() {
      return first?.status() ?? { phase: "starting", batchId: 0 };
    },
  };
}

/** Creates the repartition topic like the input (partitions, size limits); its partitions. */
async function prepareRepartitionTopic(
  kafka: Kafka,
  input: string,
  internal: string,
  servers: string,
): Promise<number> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const partitions = await requireTopic(admin, input, servers);
    await ensureTopic(admin, internal, partitions, await sizeConfigs(admin, input));
    const meta = await admin.fetchTopicMetadata({ topics: [internal] });
    return meta.topics[0].partitions.length;
  } finally {
    await admin.disconnect();
  }
}

/** The query's summary from its two stages: input and dead letters of the first, output of
 * the second, late and dropped records of the second. */
function combineStages(
  s1: QuerySummary,
  s2: QuerySummary | undefined,
  o: ProducerStreamInput,
): QuerySummary {
  const reasons: Record<string, number> = { ...(s1.deadLetterReasons ?? {}) };
  for (const [k, n] of Object.entries(s2?.deadLetterReasons ?? {})) {
    reasons[k] = (reasons[k] ?? 0) + n;
  }
  const dead = (s: QuerySummary | undefined) => s?.rows[o.deadLetterTopic] ?? 0;
  return {
    ...s1,
    rows: {
      [o.outputTopic]: s2?.rows[o.outputTopic] ?? 0,
      [o.deadLetterTopic]: dead(s1) + dead(s2),
    },
    deadLetters: s1.deadLetters + (s2?.deadLetters ?? 0),
    deadLetterReasons: reasons,
    late: s2?.late ?? 0,
    dropped: s2?.dropped ?? 0,
    droppedBatches: s1.droppedBatches + (s2?.droppedBatches ?? 0),
    seconds: Math.max(s1.seconds, s2?.seconds ?? 0),
    peakRssBytes: Math.max(s1.peakRssBytes, s2?.peakRssBytes ?? 0),
  };
}
