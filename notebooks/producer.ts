// Producer: sends retail orders (JSON lines) to Kafka, key = customer_id.
// Port of the seed's Python producer: same topic, same key, same message shape.
// Needs a Kafka broker (deno task kafka:up): without one, the first cell stops and says so.
//
//   deno task produce                      # data/file1.json … file6.json
//   deno task produce -- my-orders.json    # given files, or - for stdin
//   deno task produce -- --partitions 6 --topic retail-data-new

// %% Setup: configuration from flags, env and .env
import { log } from "../lib/cli.ts";
import { createKafka, ensureTopic } from "../lib/kafka/client.ts";
import { publishOrders } from "../lib/orders/publish.ts";
import { dataFiles, readLines } from "../lib/orders/lines.ts";
import {
  parseProducerOptions,
  PRODUCER_HELP,
  PRODUCER_OPTIONS,
} from "../lib/orders/producer_options.ts";
import {
  producerDoneText,
  producerJson,
  progressLogger,
  skippedText,
} from "../lib/orders/producer_progress.ts";
import { setupNotebook } from "../lib/notebook/setup.ts";

const { config, flags, positionals } = await setupNotebook({
  usage: `Usage: deno task produce [-- [options] [FILE ...]]
Sends each order line of FILEs (default data/file*.json; - reads stdin) to the topic,
key = customer_id. Invalid lines are reported as file:line and skipped.

${PRODUCER_HELP}`,
  options: PRODUCER_OPTIONS,
  allowPositionals: true,
});
const options = parseProducerOptions(flags);

// %% Connect and make sure the topic exists (created with --partitions when missing)
const kafka = createKafka(config.kafka);
const admin = kafka.admin();
await admin.connect();
const partitions = await ensureTopic(admin, config.topic, options.partitions);
await admin.disconnect();
log("topic", `${config.topic}: ${partitions} partitions`);

// %% Send every order: idempotent producer, acks=all, one batch in flight (keeps key order)
const files = positionals.length > 0 ? positionals : await dataFiles();
const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
await producer.connect();
const summary = await publishOrders(producer, config.topic, readLines(files), {
  batchSize: options.batchSize,
  // A request carries one record batch per partition; keep each well under the broker's 1 MiB.
  batchBytes: 768 * 1024 * partitions,
  onSkip: (s) => console.error(skippedText(s)),
  onProgress: progressLogger({ quiet: options.quiet, log }),
});
await producer.disconnect();

// %% Summary (the last stdout line is JSON, for scripts)
log("done", producerDoneText(summary, config.topic, files.length));
console.log(producerJson(summary));
