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
import { resolve } from "node:path";
import { log as cliLog } from "../cli.ts";
import type { KafkaSettings } from "../config.ts";
import { explainKafkaError } from "../kafka/errors.ts";
import { groupSource } from "../kafka/group_source.ts";
import { deltaSink } from "./delta_sink.ts";
import { startQuery } from "./loop.ts";
import { parseStreamOptions, type StreamOptions } from "./options.ts";
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
import { resolve } from "node:path";
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
          maintenance: options.maintenance,
        }),
      }),
  });
}

/**
 * The default query name of a Delta stream, tied to its first table as Spark ties a query to
 * its checkpoint: `<name>-<8 hex of the table's location>`, so two streams on two tables never
 * share a consumer group (kafkajs's assignor would starve one of them). A table that already
 * holds offsets under the old default (`<name>` alone) for this topic keeps it.
 *
 * @example
 * ```ts
 * import { rawSink } from "../orders/sinks.ts";
 * import { defaultQueryName } from "./query.ts";
 * const dir = await Deno.makeTempDir();
 * const sink = await rawSink(`${dir}/orders_raw`);
 * console.log(await defaultQueryName(sink, "retail-data-new", "orders_raw")); // orders_raw-1a2b3c4d
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export async function defaultQueryName(
  sink: TableSink,
  topic: string,
  name: string,
): Promise<string> {
  const table = sink.targets[0].table;
  const snap = await table.snapshot();
  const legacy = `${name}-${topic}-`;
  if ([...snap.txns.keys()].some((appId) => appId.startsWith(legacy))) return name;
  // The same table from any working directory: a local path is made absolute first.
  const url = table.storage.url.replace(/\/+$/, "");
  const where = /^[a-z][a-z0-9+.-]*:\/\//i.test(url) ? url : resolve(url);
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(where));
  const hex = [...new Uint8Array(digest).slice(0, 4)].map((b) => b.toString(16).padStart(2, "0"))
    .join("");
  return `${name}-${hex}`;
}

/**
 * A Delta stream's options and table sink from its flags: the flags are checked first, then
 * the sink is opened (its tables created when missing), then the query is named: `--query-name`
 * when given, else the default name of its tables ({@link defaultQueryName}). `servers` (the
 * resolved bootstrap servers) decide the worker default on a 2-core machine.
 *
 * @example
 * ```ts
 * import { rawSink } from "../orders/sinks.ts";
 * import { deltaStreamSetup } from "./query.ts";
 * const dir = await Deno.makeTempDir();
 * const { options } = await deltaStreamSetup(
 *   { "query-name": "mine" }, () => rawSink(`${dir}/orders_raw`), "retail-data-new", "orders_raw");
 * console.log(options.queryName); // "mine"
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export async function deltaStreamSetup<S extends TableSink>(
  flags: Record<string, unknown>,
  openSink: () => Promise<S>,
  topic: string,
  name: string,
  servers?: readonly string[],
): Promise<{ options: StreamOptions; sink: S }> {
  const checked = parseStreamOptions(flags, { queryName: name, servers });
  const sink = await openSink();
  if (flags["query-name"] !== undefined) return { options: checked, sink };
  return { options: { ...checked, queryName: await defaultQueryName(sink, topic, name) }, sink };
}
