// Cleaned stream: orders parsed, validated and exploded to one row per line item ▶ Delta table
// orders_cleaned (silver); every record that is not a valid order ▶ orders_dead_letters, with
// its reason. Exactly-once for both tables: after every micro-batch,
// records in = orders cleaned + dead letters.
// Needs a Kafka broker (deno task kafka:up): without one, the first cell stops and says so.
//
//   deno task consume:stream:cleaned
//   deno task consume:stream:cleaned -- --available-now --progress json
//   deno task consume:stream:cleaned -- --table ./lakehouse/orders_cleaned --dead-letters /tmp/dl
//   deno task consume:stream:cleaned -- --merge-schema   (new order fields become new columns)

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
import { cleanedSink } from "../lib/orders/sinks.ts";
import { setupNotebook } from "../lib/notebook/setup.ts";
import { liveStreamView } from "../lib/notebook/stream_view.ts";

const { config, flags } = await setupNotebook({
  usage: `Usage: deno task consume:stream:cleaned [-- options]
Streams the topic's orders into the Delta table --table (default <lakehouse>/orders_cleaned),
one row per line item with kafka_partition, kafka_offset, kafka_timestamp and ingested_at;
records that are not valid orders go to --dead-letters with a reason code and message.

Options:
  --dead-letters DIR|URL        dead-letter table     [<lakehouse>/orders_dead_letters]
  --merge-schema                orders' new scalar fields become new nullable columns (and
                                columns widen where the table has typeWidening); without it
                                they are ignored. A value that does not fit its column is a
                                dead letter (schema_mismatch)
${STREAM_HELP}`,
  tableName: "orders_cleaned",
  options: {
    ...DELTA_STREAM_OPTIONS,
    "dead-letters": { type: "string" },
    "merge-schema": { type: "boolean" },
  },
});
const deadLetters = flags["dead-letters"] ?? `${config.lakehouse}/orders_dead_letters`;
const mergeSchema = flags["merge-schema"] === true;

// %% The sink: orders_cleaned first, then orders_dead_letters (both created when missing); the
// query is named after orders_cleaned
const { sink, options } = await deltaStreamSetup(
  flags,
  () => cleanedSink(config.table!, deadLetters, { mergeSchema }),
  config.topic,
  "orders_cleaned",
  config.kafka.bootstrapServers,
);
log(
  "tables",
  `${config.table}, dead letters ${deadLetters} (query ${options.queryName})` +
    (mergeSchema ? ", merge schema" : ""),
);

// %% Run the query until the topic is drained (--available-now) or SIGINT/SIGTERM
const query = startDeltaQuery({
  kafka: createKafka(config.kafka),
  settings: config.kafka,
  topic: config.topic,
  sink,
  options,
  onProgress: liveStreamView("orders_cleaned", progressPrinter(options.progress)),
});
const removeSignals = stopOnSignals(query);
const summary = await query.done;
removeSignals();

// %% Summary (JSON with --progress json)
if (options.progress === "json") console.log(formatSummaryJson(summary));
log("done", formatSummaryText(summary));
