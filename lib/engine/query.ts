/**
 * The engine's queries, each a source and a sink wired into the one run loop
 * (lib/engine/loop.ts):
 * - {@link startDeltaQuery}: the group-assigned source (copies of a query share the
 *   partitions) into the Delta sink (offsets in txn actions);
 * - {@link startKafkaQuery}: the tail (one reader of every partition) into the Kafka
 *   transactional sink (offsets, changelog and window state in each transaction).
 *
 * @module
 */
import type { Kafka } from "kafkajs";
import { log as cliLog } from "../cli.ts";
import type { KafkaSettings } from "../config.ts";
import { explainKafkaError } from "../kafka/errors.ts";
import { groupSource } from "../kafka/group_source.ts";
import { deltaSink } from "./delta_sink.ts";
import { startQuery } from "./loop.ts";
import type { StreamOptions } from "./options.ts";
import type { BatchProgress, QuerySummary } from "./progress.ts";
import type { StreamQuery } from "./signals.ts";
import type { TableSink } from "./tables.ts";

/** Inputs of {@link startDeltaQuery}. */
export interface DeltaQueryInput {
  /** kafkajs client. */
  kafka: Kafka;
  /** Kafka settings (for error explanations in logs). */
  settings?: KafkaSettings;
  /** Topic to read. */
  topic: string;
  /** The tables a batch becomes (lib/orders/sinks.ts). */
  sink: TableSink;
  /** Engine options. */
  options: StreamOptions;
  /** One line per event (default: lib/cli log to stderr). */
  log?: (tag: string, message: string) => void;
  /** Called after every committed micro-batch. */
  onProgress?: (p: BatchProgress, summary: QuerySummary) => void;
}

/** One line for a Kafka error: explained for these brokers when known. */
function explainer(settings?: KafkaSettings): (e: unknown) => string {
  return (e) =>
    settings
      ? explainKafkaError(e, settings).split("\n")[0]
      : String((e as Error)?.message ?? e).split("\n")[0];
}

/**
 * Starts a Kafka ▶ Delta query; returns at once with a handle (`done`, `stop()`, `status()`).
 *
 * @example
 * ```ts
 * import type { Kafka } from "kafkajs";
 * import { rawSink } from "../orders/sinks.ts";
 * import { parseStreamOptions } from "./options.ts";
 * import { startDeltaQuery } from "./query.ts";
 * const options = parseStreamOptions({ "available-now": true }, "orders_raw");
 * // Needs a broker, so the doc test only type-checks it:
 * async function run(kafka: Kafka) {
 *   const sink = await rawSink("./lakehouse/orders_raw");
 *   const q = startDeltaQuery({ kafka, topic: "retail-data-new", sink, options });
 *   const summary = await q.done; // { name, batches, records, rows, … }
 *   return summary;
 * }
 * ```
 */
export function startDeltaQuery(input: DeltaQueryInput): StreamQuery<QuerySummary> {
  const { kafka, topic, options } = input;
  const log = input.log ?? cliLog;
  const explain = explainer(input.settings);
  return startQuery({
    kafka,
    topic,
    options,
    log,
    explain,
    onProgress: input.onProgress,
    open: ({ timestampType, ends, outage, admin }) =>
      Promise.resolve({
        source: groupSource(kafka, {
          groupId: options.queryName,
          topic,
          timestampType,
          ends,
          maxBuffered: options.maxOffsetsPerTrigger,
          sessionTimeoutMs: options.sessionTimeoutMs,
          metadataMaxAgeMs: options.metadataMaxAgeMs,
          failOnDataLoss: options.failOnDataLoss,
          commitGroupOffsets: options.commitGroupOffsets,
          health: outage,
          admin,
          log,
          explain,
        }),
        sink: deltaSink(input.sink, {
          query: options.queryName,
          topic,
          worker: options.worker,
          log,
        }),
      }),
  });
}
