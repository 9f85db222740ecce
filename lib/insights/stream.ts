/**
 * The producer stream: orders read from a topic in micro-batches, kept (filter mode) or
 * aggregated per event-time window (aggregate mode), and published back to Kafka exactly once.
 * It is the engine's run loop (lib/engine/loop.ts) with the tail as source (every partition,
 * one reader) and the Kafka transactional sink (lib/engine/kafka_sink.ts) carrying this
 * module's transform (lib/insights/transform.ts): each batch is one transaction with its
 * output, dead letters, changelog records and consumed offsets.
 *
 * @module
 */
import type { Kafka } from "kafkajs";
import { checkTopicLoop, kafkaSink } from "../engine/kafka_sink.ts";
import { startQuery } from "../engine/loop.ts";
import type { StreamOptions } from "../engine/options.ts";
import type { BatchProgress, QuerySummary } from "../engine/progress.ts";
import type { StreamQuery } from "../engine/signals.ts";
import { tailSource } from "../kafka/tail.ts";
import { watermarks } from "../engine/offsets.ts";
import { modeTransform, type StreamMode } from "./transform.ts";

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
          {
            kafka: o.kafka,
            admin,
            query,
            topic: o.topic,
            outputTopic: o.outputTopic,
            deadLetterTopic: o.deadLetterTopic,
            transactionTimeoutMs: o.options.transactionTimeoutMs,
            servers: o.servers ?? "the cluster",
            log,
          },
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
