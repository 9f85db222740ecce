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

// %% Setup: configuration from flags, env and .env; the query from the flags
import { Kafka } from "kafkajs";
import { log } from "../lib/cli.ts";
import { explainKafkaError, kafkaConfig } from "../lib/kafka/client.ts";
import { FencedError, quietTransactionLogs } from "../lib/kafka/sink.ts";
import { stopOnSignals } from "../lib/engine/signals.ts";
import {
  parseProducerStreamFlags,
  PRODUCER_STREAM_HELP,
  PRODUCER_STREAM_OPTIONS,
  progressReporter,
  startProducerStream,
  streamTotals,
  summaryText,
} from "../lib/insights/mod.ts";
import { setupNotebook } from "../lib/notebook/setup.ts";
import { liveStreamView } from "../lib/notebook/stream_view.ts";

const { config, flags } = await setupNotebook({
  usage: `Usage: deno task produce:stream [-- options]
Reads orders from --topic and publishes to --output-topic, exactly-once (Kafka transactions;
read the output with isolation read_committed). Bad records go to the dead-letter topic.

${PRODUCER_STREAM_HELP}`,
  options: PRODUCER_STREAM_OPTIONS,
});
const { mode, options, deadLetterTopic, description } = parseProducerStreamFlags(
  flags,
  config.outputTopic,
);
log("query", description);

// %% Run: one Kafka transaction per micro-batch (output + dead letters + offsets [+ state]);
// Ctrl-C / SIGTERM finish the batch in progress (a second one exits at once)
const query = startProducerStream({
  kafka: new Kafka(quietTransactionLogs(kafkaConfig(config.kafka))),
  topic: config.topic,
  outputTopic: config.outputTopic,
  deadLetterTopic,
  mode,
  options,
  servers: config.kafka.bootstrapServers.join(","),
  explain: (e) => explainKafkaError(e, config.kafka).split("\n")[0],
  onBatch: liveStreamView(
    options.queryName,
    progressReporter({
      format: options.progress,
      aggregate: mode.kind === "aggregate",
      log,
    }),
  ),
  onLog: log,
});
const removeSignals = stopOnSignals(query);
const summary = await query.done.catch((e) => {
  if (!(e instanceof FencedError)) throw e;
  log("fenced", e.message);
  Deno.exit(3);
});
removeSignals();

// %% Summary (the last stdout line is JSON, for scripts)
const totals = streamTotals(summary, config.outputTopic);
log("done", summaryText(totals, config.outputTopic, mode.kind === "aggregate"));
console.log(JSON.stringify({ query: options.queryName, ...totals }));
