// Batch consumer: reads a topic once, from the earliest to the latest offsets present at start
// (or a given offset/timestamp range), shows the records and ends by itself.
// Port of the seed's batch notebook (spark.read.format("kafka") … .show()).
// Needs a Kafka broker (deno task kafka:up): without one, the first cell stops and says so.
//
//   deno task consume:batch
//   deno task consume:batch -- --from '{"0":10}' --to latest --limit 5
//   deno task consume:batch -- --from-timestamp 2026-11-24T10:00:00Z --json > records.jsonl

// %% Setup: configuration from flags, env and .env
import { log } from "../lib/cli.ts";
import { showRows } from "../lib/display.ts";
import { createKafka, requireTopic } from "../lib/kafka/client.ts";
import { readRange, resolveRange, topicTimestampType } from "../lib/kafka/source.ts";
import { recordJson, recordRow } from "../lib/kafka/record.ts";
import { BATCH_HELP, BATCH_OPTIONS, parseBatchOptions } from "../lib/kafka/batch_options.ts";
import {
  batchDoneText,
  batchTally,
  COUNT_COLUMNS,
  rangeText,
  RECORD_COLUMNS,
  shownText,
} from "../lib/kafka/batch_view.ts";
import { setupNotebook } from "../lib/notebook/setup.ts";

const { config, flags } = await setupNotebook({
  usage: `Usage: deno task consume:batch [-- options]
Reads the topic from --from to --to (default: earliest to the latest offsets at start), shows
key, value, topic, partition, offset, timestamp, timestampType and the count per partition.
Commits no consumer-group offsets.

${BATCH_HELP}`,
  options: BATCH_OPTIONS,
  quietFlag: "json",
});
const options = parseBatchOptions(flags);

// %% Resolve the range per partition, as offsets present right now
const kafka = createKafka(config.kafka);
const admin = kafka.admin();
await admin.connect();
await requireTopic(admin, config.topic, config.kafka.bootstrapServers.join(","));
const ranges = await resolveRange(admin, config.topic, options.from, options.to);
const timestampType = await topicTimestampType(admin, config.topic);
await admin.disconnect();
log("range", rangeText(ranges));

// %% Read it once (with --json, every record as one JSON line on stdout)
const tally = batchTally(ranges, options.json ? 0 : options.limit);
const encoder = new TextEncoder();
const readOptions = { timestampType, readUncommitted: options.readUncommitted };
for await (const records of readRange(kafka, config.topic, ranges, readOptions)) {
  for (const r of records) {
    tally.add(r);
    if (options.json) await Deno.stdout.write(encoder.encode(recordJson(r) + "\n"));
  }
}

// %% Show the records and the count per partition
if (!options.json) {
  await showRows(RECORD_COLUMNS, tally.shown.map(recordRow), options.truncate);
  console.log(shownText(options.limit, tally.read));
  await showRows(COUNT_COLUMNS, tally.countRows());
}
log("done", batchDoneText(config.topic, tally.read, tally.offsets));
