// Raw stream: every Kafka record of the orders topic ▶ Delta table orders_raw (bronze),
// exactly-once. Port of the seed's streaming notebook (readStream.format("kafka") with
// CAST(key AS STRING), CAST(value AS STRING) … writeStream.format("delta")).
// Needs a Kafka broker (deno task kafka:up): without one, the first cell stops and says so.
//
//   deno task consume:stream                         # runs until Ctrl-C, a micro-batch per second
//   deno task consume:stream -- --available-now      # what the topic holds now, then stop
//   deno task consume:stream -- --progress json --max-offsets-per-trigger 10000

// %% Setup: configuration from flags, env and .env
import { log } from "../lib/cli.ts";
import { createKafka } from "../lib/kafka/client.ts";
import {
  DELTA_STREAM_OPTIONS,
  deltaStreamSetup,
  formatSummaryJson,
  formatSummaryText,
  progressPrinter,
  startDeltaQuery,
  stopOnSignals,
  STREAM_HELP,
} from "../lib/engine/mod.ts";
import { rawSink } from "../lib/orders/sinks.ts";
import { setupNotebook } from "../lib/notebook/setup.ts";
import { liveStreamView } from "../lib/notebook/stream_view.ts";

const { config, flags } = await setupNotebook({
  usage: `Usage: deno task consume:stream [-- options]
Streams the topic's records into the Delta table --table (default <lakehouse>/orders_raw):
key, value (as strings), topic, partition, offset, timestamp, timestampType. Each micro-batch
is one Delta commit carrying the consumed offsets, so a restart resumes exactly where it stopped.

${STREAM_HELP}`,
  tableName: "orders_raw",
  options: DELTA_STREAM_OPTIONS,
});

// %% The sink: Delta table orders_raw (created when missing); the query is named after it
const { sink, options } = await deltaStreamSetup(
  flags,
  () => rawSink(config.table!),
  config.topic,
  "orders_raw",
  config.kafka.bootstrapServers,
);
log("table", `${config.table} (query ${options.queryName})`);

// %% Run the query until the topic is drained (--available-now) or SIGINT/SIGTERM
const query = startDeltaQuery({
  kafka: createKafka(config.kafka),
  settings: config.kafka,
  topic: config.topic,
  sink,
  options,
  onProgress: liveStreamView("orders_raw", progressPrinter(options.progress)),
});
const removeSignals = stopOnSignals(query);
const summary = await query.done;
removeSignals();

// %% Summary (JSON with --progress json)
if (options.progress === "json") console.log(formatSummaryJson(summary));
log("done", formatSummaryText(summary));
