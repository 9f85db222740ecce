/**
 * The producer stream's flags: its mode (filter, or windowed aggregates), its topics and the
 * engine's stream flags (lib/engine/options.ts, with the Kafka-transaction defaults), parsed
 * and checked here so the notebook only wires them together.
 *
 * @module
 */
import type { ParseArgsConfig } from "node:util";
import { ConfigError } from "../config.ts";
import { formatDuration, parseDuration } from "../engine/duration.ts";
import {
  KAFKA_STREAM_OPTIONS,
  parseStreamOptions,
  streamHelp,
  type StreamOptions,
} from "../engine/options.ts";
import { type Dimension, DIMENSIONS, type OutputMode } from "./aggregate.ts";
import { describeFilter, filterFromFlags, filterSlug, type OrderFilter } from "./filter.ts";
import type { StreamMode } from "./stream.ts";

/** parseArgs options of the producer stream (merge with COMMON_OPTIONS through loadConfig). */
export const PRODUCER_STREAM_OPTIONS = {
  ...KAFKA_STREAM_OPTIONS,
  city: { type: "string" },
  state: { type: "string" },
  "min-total": { type: "string" },
  aggregate: { type: "string" },
  window: { type: "string" },
  watermark: { type: "string" },
  "output-mode": { type: "string" },
  repartition: { type: "boolean" },
  "dead-letter-topic": { type: "string" },
} as const satisfies ParseArgsConfig["options"];

/** Help text of the producer stream's own flags (the engine's follow it). */
export const PRODUCER_STREAM_HELP =
  `Filter mode (default): republishes the original key and order JSON of matching orders.
  --city NAME                  keep orders of this city (default Chicago; '' = any)
  --state CODE                 keep orders of this state
  --min-total AMOUNT           keep orders whose total is at least AMOUNT
Aggregate mode: per tumbling event-time window (event time = Kafka record timestamp) and group,
the order count, line count and revenue, keyed by group and window.
  --aggregate city|state|product
  --window DURATION            window size (default '1 minute')
  --watermark DURATION         allowed lateness behind the largest event time (default '10 minutes')
  --output-mode update|append  update (default): after each batch, the changed windows' totals;
                               append: each window once, final, when the watermark passes its end
  --repartition                scale out: copies with one --query-name share the work; partial
                               sums go through the internal topic <query>-repartition to the
                               copy that owns their window (its metrics on --metrics-port + 1)
  (--city/--state/--min-total, when given, filter the orders before aggregating)
Filter mode scales out as it is: copies with one --query-name share the input's partitions.
Topics:
  --dead-letter-topic T        default <output topic>_dead_letters
${streamHelp({ queryName: "from mode and filter", sink: "kafka" })}
  When Kafka becomes unreachable the query restarts from Kafka's state (transactional id,
  changelog, group offsets: exactly once); with --available-now a restart re-captures the end
  offsets present at that moment.
Test hook: STREAM_FAULT=<before-send|after-send|before-commit|after-commit>:<batch> SIGKILLs
the process at that point of that batch (for crash tests only).`;

/** What the producer stream's flags say. */
export interface ProducerStreamFlags {
  /** Filter or aggregate, with their settings. */
  mode: StreamMode;
  /** The engine's options (query name, trigger, broker timeout, …). */
  options: StreamOptions;
  /** Where bad records go. */
  deadLetterTopic: string;
  /** One line for the log: what the query does. */
  description: string;
}

function asConfigError<T>(read: () => T): T {
  try {
    return read();
  } catch (e) {
    if (e instanceof ConfigError) throw e;
    throw new ConfigError((e as Error).message);
  }
}

/**
 * Parses the producer stream's flags (as loadConfig returns them) for an output topic.
 *
 * @example
 * ```ts
 * import { parseProducerStreamFlags } from "./options.ts";
 * const p = parseProducerStreamFlags({ aggregate: "city" }, "processed_orders");
 * console.log(p.options.queryName); // "processed_orders-agg-city-1m"
 * ```
 */
export function parseProducerStreamFlags(
  flags: Record<string, unknown>,
  outputTopic: string,
): ProducerStreamFlags {
  const s = (k: string) => flags[k] as string | undefined;
  const aggregate = s("aggregate") as Dimension | undefined;
  if (aggregate !== undefined && !DIMENSIONS.includes(aggregate)) {
    throw new ConfigError(`--aggregate must be one of ${DIMENSIONS.join(", ")}`);
  }
  const outputMode = (s("output-mode") ?? "update") as OutputMode;
  if (outputMode !== "update" && outputMode !== "append") {
    throw new ConfigError("--output-mode must be update or append");
  }
  // Filter mode defaults to the seed's city = 'Chicago'; in aggregate mode a filter is optional.
  const filter: OrderFilter = asConfigError(() =>
    filterFromFlags({
      city: s("city") ?? (aggregate ? undefined : "Chicago"),
      state: s("state"),
      "min-total": s("min-total"),
    })
  );
  const windowMs = parseDuration(s("window") ?? "1 minute");
  const watermarkMs = parseDuration(s("watermark") ?? "10 minutes");
  const filtered = Object.keys(filter).length > 0;
  const queryName = aggregate
    ? `${outputTopic}-agg-${aggregate}-${formatDuration(windowMs)}` +
      (filtered ? `-${filterSlug(filter)}` : "")
    : `${outputTopic}-filter-${filterSlug(filter)}`;
  // A repartitioned query keeps its windows per partition: never the single copy's name.
  const defaultName = aggregate && flags.repartition ? `${queryName}-rp` : queryName;
  const options = parseStreamOptions(flags, { queryName: defaultName, sink: "kafka" });
  const mode: StreamMode = aggregate
    ? {
      kind: "aggregate",
      aggregate: { dimension: aggregate, windowMs, watermarkMs, outputMode },
      filter,
      ...(flags.repartition ? { repartition: true } : {}),
    }
    : { kind: "filter", filter };
  if (flags.repartition && !aggregate) {
    throw new ConfigError("--repartition goes with --aggregate (filter mode scales out as it is)");
  }
  const deadLetterTopic = s("dead-letter-topic") ?? `${outputTopic}_dead_letters`;
  const description = aggregate
    ? `aggregate per ${aggregate}, ${formatDuration(windowMs)} windows, watermark ` +
      `${formatDuration(watermarkMs)}, ${outputMode} mode` +
      (flags.repartition ? ", repartitioned" : "") +
      (filtered ? `, where ${describeFilter(filter)}` : "")
    : `filter ${describeFilter(filter)}`;
  return {
    mode,
    options,
    deadLetterTopic,
    description: `${options.queryName}: ${description}; dead letters to ${deadLetterTopic}`,
  };
}
