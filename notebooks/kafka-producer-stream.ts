// Producer stream: reads orders from Kafka, keeps the Chicago ones (or aggregates per window)
// and publishes them back to Kafka — exactly-once, through Kafka transactions.
// Port of the seed's producer-stream notebook (filter city = 'Chicago' ▶ processed_orders),
// which was at-least-once; here every micro-batch is one transaction with its offsets.
// Needs a Kafka broker (deno task kafka:up): without one, the first cell stops and says so.
//
//   deno task produce:stream                                  # filter city = 'Chicago', runs until Ctrl-C
//   deno task produce:stream -- --available-now               # process what is there, then stop
//   deno task produce:stream -- --state IL --min-total 200
//   deno task produce:stream -- --aggregate city --window '1 minute' --watermark '10 minutes'

// %% Setup: configuration from flags, env and .env
import { COMMON_HELP, describeConfig, loadConfig } from "../lib/config.ts";
import { requireBroker } from "../lib/notebook/preflight.ts";
import { exitOnFailure, log } from "../lib/cli.ts";
import { Kafka } from "kafkajs";
import { explainKafkaError, kafkaConfig } from "../lib/kafka/client.ts";
import { parseOffsetSpec, parseTimestampSpec } from "../lib/kafka/source.ts";
import { FencedError, quietTransactionLogs } from "../lib/kafka/sink.ts";
import {
  describeFilter,
  type Dimension,
  DIMENSIONS,
  filterFromFlags,
  filterSlug,
  formatDuration,
  type OutputMode,
  parseDuration,
  parseFault,
  type ProgressFormat,
  progressReporter,
  runProducerStream,
  type StreamMode,
  summaryText,
} from "../lib/insights/mod.ts";
import { ConfigError } from "../lib/config.ts";
import { inJupyter } from "../lib/runtime.ts";
import { liveStreamView, pointFromInsights } from "../lib/notebook/stream_view.ts";

const failure = exitOnFailure();

const USAGE = `Usage: deno task produce:stream [-- options]
Reads orders from --topic and publishes to --output-topic, exactly-once (Kafka transactions;
read the output with isolation read_committed). Bad records go to the dead-letter topic.

Filter mode (default): republishes the original key and order JSON of matching orders.
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
  (--city/--state/--min-total, when given, filter the orders before aggregating)
Stream:
  --query-name NAME            consumer group + transactional id (default from mode and filter)
  --dead-letter-topic T        default processed_orders_dead_letters
  --starting-offsets SPEC      where a NEW query starts: earliest | latest | {"0":N,...} [earliest]
  --starting-timestamp T       a NEW query starts at the first record at/after T (ISO or epoch ms)
  --max-offsets-per-trigger N  offsets per micro-batch (default 50000)
  --trigger-interval DUR       minimum time between micro-batches (default 0: when data is there)
  --available-now              process up to the offsets present at start, then exit
  --transaction-timeout DUR    Kafka transaction timeout (default '60 seconds')
  --broker-timeout SECONDS     when Kafka becomes unreachable, wait, log and restart the query
                               (state and position from Kafka, exactly once) for up to this
                               long, then exit 2 (default 300); with --available-now a restart
                               re-captures the end offsets present at that moment
  --parse-inline               filter mode: parse + validate orders on the main thread instead
                               of a Web Worker (which uses a second core while the main thread
                               fetches and commits); the default in Jupyter
  --progress text|json|none    text: a line on stderr at most every second (default);
                               json: one JSON object per batch on stdout; none: no progress
  --quiet                      same as --progress none
Test hook: STREAM_FAULT=<before-send|after-send|before-commit|after-commit>:<batch> SIGKILLs
the process at that point of that batch (for crash tests only).
${COMMON_HELP}`;

const loaded = loadConfig({
  options: {
    city: { type: "string" },
    state: { type: "string" },
    "min-total": { type: "string" },
    aggregate: { type: "string" },
    window: { type: "string", default: "1 minute" },
    watermark: { type: "string", default: "10 minutes" },
    "output-mode": { type: "string", default: "update" },
    "query-name": { type: "string" },
    "dead-letter-topic": { type: "string" },
    "starting-offsets": { type: "string", default: "earliest" },
    "starting-timestamp": { type: "string" },
    "trigger-interval": { type: "string", default: "0" },
    progress: { type: "string", default: "text" },
    "max-offsets-per-trigger": { type: "string", default: "50000" },
    "available-now": { type: "boolean", default: inJupyter() }, // a Jupyter cell must end
    "transaction-timeout": { type: "string", default: "60 seconds" },
    "broker-timeout": { type: "string", default: "300" },
    "parse-inline": { type: "boolean", default: inJupyter() },
    quiet: { type: "boolean", default: false },
  },
});
const { config, flags } = loaded;
failure.kafka = config.kafka;
if (loaded.help) {
  console.log(USAGE);
  Deno.exit(0);
}
const aggregate = flags.aggregate as Dimension | undefined;
if (aggregate !== undefined && !DIMENSIONS.includes(aggregate)) {
  throw new ConfigError(`--aggregate must be one of ${DIMENSIONS.join(", ")}`);
}
const outputMode = flags["output-mode"] as OutputMode;
if (outputMode !== "update" && outputMode !== "append") {
  throw new ConfigError("--output-mode must be update or append");
}
const maxOffsets = Number(flags["max-offsets-per-trigger"]);
if (!Number.isInteger(maxOffsets) || maxOffsets < 1) {
  throw new ConfigError("--max-offsets-per-trigger must be a positive integer");
}
// Filter mode defaults to the seed's city = 'Chicago'; in aggregate mode a filter is optional.
const asConfigError = <T>(read: () => T): T => {
  try {
    return read();
  } catch (e) {
    throw new ConfigError((e as Error).message);
  }
};
const filter = asConfigError(() =>
  filterFromFlags({
    city: flags.city ?? (aggregate ? undefined : "Chicago"),
    state: flags.state,
    "min-total": flags["min-total"],
  })
);
const windowMs = asConfigError(() => parseDuration(flags.window));
const watermarkMs = asConfigError(() => parseDuration(flags.watermark));
const transactionTimeout = asConfigError(() => parseDuration(flags["transaction-timeout"]));
const triggerIntervalMs = asConfigError(() => parseDuration(flags["trigger-interval"]));
const brokerTimeout = Number(flags["broker-timeout"]);
if (!Number.isInteger(brokerTimeout) || brokerTimeout < 1) {
  throw new ConfigError("--broker-timeout must be a positive whole number of seconds");
}
const progressFormat = flags.quiet ? "none" : flags.progress;
if (!["text", "json", "none"].includes(progressFormat)) {
  throw new ConfigError("--progress must be text, json or none");
}
const startingOffsets = flags["starting-timestamp"]
  ? parseTimestampSpec(flags["starting-timestamp"])
  : parseOffsetSpec(flags["starting-offsets"]);
const mode: StreamMode = aggregate
  ? {
    kind: "aggregate",
    aggregate: { dimension: aggregate, windowMs, watermarkMs, outputMode },
    filter,
  }
  : { kind: "filter", filter };
const filtered = Object.keys(filter).length > 0;
const queryName = flags["query-name"] ??
  (aggregate
    ? `${config.outputTopic}-agg-${aggregate}-${formatDuration(windowMs)}` +
      (filtered ? `-${filterSlug(filter)}` : "")
    : `${config.outputTopic}-filter-${filterSlug(filter)}`);
const deadLetterTopic = flags["dead-letter-topic"] ?? `${config.outputTopic}_dead_letters`;
log("config", describeConfig(config).replaceAll("\n", "\n                   "));
await requireBroker(config.kafka);
log(
  "query",
  `${queryName}: ${
    aggregate
      ? `aggregate per ${aggregate}, ${formatDuration(windowMs)} windows, watermark ` +
        `${formatDuration(watermarkMs)}, ${outputMode} mode${
          filtered ? `, where ${describeFilter(filter)}` : ""
        }`
      : `filter ${describeFilter(filter)}`
  }; dead letters to ${deadLetterTopic}`,
);

// %% Graceful shutdown: Ctrl-C / SIGTERM finish the batch in progress (a second one exits now)
const stop = new AbortController();
for (const sig of ["SIGINT", "SIGTERM"] as const) {
  Deno.addSignalListener(sig, () => {
    if (stop.signal.aborted) Deno.exit(130);
    log("stop", `${sig}: finishing the batch in progress`);
    stop.abort();
  });
}

// %% Run: one Kafka transaction per micro-batch (output + dead letters + offsets [+ state])
const kafka = new Kafka(quietTransactionLogs(kafkaConfig(config.kafka)));
const progress = progressReporter({
  format: progressFormat as ProgressFormat,
  query: queryName,
  aggregate: aggregate !== undefined,
  log,
});
let totals;
try {
  totals = await runProducerStream({
    kafka,
    topic: config.topic,
    outputTopic: config.outputTopic,
    deadLetterTopic,
    queryName,
    mode,
    startingOffsets,
    triggerIntervalMs,
    parseWorker: !flags["parse-inline"],
    maxOffsetsPerTrigger: maxOffsets,
    availableNow: flags["available-now"],
    transactionTimeout,
    servers: config.kafka.bootstrapServers.join(","),
    brokerTimeoutMs: brokerTimeout * 1000,
    explain: (e) => explainKafkaError(e, config.kafka).split("\n")[0],
    signal: stop.signal,
    onBatch: liveStreamView(queryName, pointFromInsights, progress),
    onLog: log,
    fault: parseFault(Deno.env.get("STREAM_FAULT")),
  });
} catch (e) {
  if (e instanceof FencedError) {
    log("fenced", e.message);
    Deno.exit(3);
  }
  throw e;
}

// %% Summary (the last stdout line is JSON, for scripts)
log("done", summaryText(totals, config.outputTopic, aggregate !== undefined));
console.log(JSON.stringify({ query: queryName, ...totals }));
