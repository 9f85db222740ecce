// Batch consumer: reads a topic once, from the earliest to the latest offsets present at start
// (or a given offset/timestamp range), shows the records and ends by itself.
// Port of the seed's batch notebook (spark.read.format("kafka") … .show()).
// Needs a Kafka broker (deno task kafka:up): without one, the first cell stops and says so.
//
//   deno task consume:batch
//   deno task consume:batch -- --from '{"0":10}' --to latest --limit 5
//   deno task consume:batch -- --from-timestamp 2026-11-24T10:00:00Z --json > records.jsonl

// %% Setup: configuration from flags, env and .env
import { COMMON_HELP, describeConfig, loadConfig } from "../lib/config.ts";
import { requireBroker } from "../lib/notebook/preflight.ts";
import { exitOnFailure, fmtInt, log } from "../lib/cli.ts";
import { createKafka, requireTopic } from "../lib/kafka/client.ts";
import {
  type KafkaRecord,
  type OffsetSpec,
  parseOffsetSpec,
  parseTimestampSpec,
  readRange,
  resolveRange,
  topicTimestampType,
} from "../lib/kafka/source.ts";
import { type Column, showRows } from "../lib/display.ts";
import { recordJson, recordRow } from "../lib/kafka/record.ts";

const failure = exitOnFailure();

const USAGE = `Usage: deno task consume:batch [-- options]
Reads the topic from --from to --to (default: earliest to the latest offsets at start), shows
key, value, topic, partition, offset, timestamp, timestampType and the count per partition.
Commits no consumer-group offsets.

Options:
  --from SPEC              earliest | N | {"0":N,...} (-2 earliest, -1 latest)   [earliest]
  --to SPEC                latest | N | {"0":N,...}, exclusive                    [latest]
  --from-timestamp T       start at the first record at/after T (ISO or epoch ms)
  --to-timestamp T         stop before the first record at/after T
  --limit N                rows to show (default 20)
  --truncate N             cell width in the table (default 40; 0 = no limit)
  --json                   write every record as one JSON line to stdout instead
  --read-uncommitted       include records of open or aborted transactions
${COMMON_HELP}`;

const loaded = loadConfig({
  options: {
    from: { type: "string", default: "earliest" },
    to: { type: "string", default: "latest" },
    "from-timestamp": { type: "string" },
    "to-timestamp": { type: "string" },
    limit: { type: "string", default: "20" },
    truncate: { type: "string", default: "40" },
    json: { type: "boolean", default: false },
    "read-uncommitted": { type: "boolean", default: false },
  },
});
const { config, flags } = loaded;
failure.kafka = config.kafka;
if (loaded.help) {
  console.log(USAGE);
  Deno.exit(0);
}
const limit = Number(flags.limit);
const truncate = Number(flags.truncate) || Infinity;
const from: OffsetSpec = flags["from-timestamp"]
  ? parseTimestampSpec(flags["from-timestamp"])
  : parseOffsetSpec(flags.from);
const to: OffsetSpec = flags["to-timestamp"]
  ? parseTimestampSpec(flags["to-timestamp"])
  : parseOffsetSpec(flags.to);
if (!flags.json) log("config", describeConfig(config).replaceAll("\n", "\n                   "));
await requireBroker(config.kafka);

// %% Resolve the range per partition, as offsets present right now
const kafka = createKafka(config.kafka);
const admin = kafka.admin();
await admin.connect();
await requireTopic(admin, config.topic, config.kafka.bootstrapServers.join(","));
const ranges = await resolveRange(admin, config.topic, from, to);
const timestampType = await topicTimestampType(admin, config.topic);
await admin.disconnect();
const total = ranges.reduce((n, r) => n + Number(r.end - r.start), 0);
log("range", ranges.map((r) => `p${r.partition} [${r.start}, ${r.end})`).join("  "));

// %% Read it once
const shown: KafkaRecord[] = [];
const perPartition = new Map<number, number>(ranges.map((r) => [r.partition, 0]));
const encoder = new TextEncoder();
for await (
  const batch of readRange(kafka, config.topic, ranges, {
    timestampType,
    readUncommitted: flags["read-uncommitted"],
  })
) {
  for (const r of batch) {
    perPartition.set(r.partition, perPartition.get(r.partition)! + 1);
    if (flags.json) await Deno.stdout.write(encoder.encode(recordJson(r) + "\n"));
    else if (shown.length < limit) shown.push(r);
  }
}

// %% Show the records and the count per partition
const read = [...perPartition.values()].reduce((a, b) => a + b, 0);
if (!flags.json) {
  const columns: Column[] = [
    { name: "key", type: "string" },
    { name: "value", type: "string" },
    { name: "topic", type: "string" },
    { name: "partition", type: "int" },
    { name: "offset", type: "long" },
    { name: "timestamp", type: "timestamp" },
    { name: "timestampType", type: "int" },
  ];
  await showRows(columns, shown.map(recordRow), truncate);
  console.log(`only showing the first ${Math.min(limit, read)} of ${fmtInt(read)} rows`);
  await showRows(
    [{ name: "partition", type: "int" }, { name: "count", type: "long" }],
    [...perPartition].map(([partition, count]) => ({ partition, count })),
  );
}
log(
  "done",
  `${fmtInt(read)} records read from ${config.topic}` +
    (read === total
      ? ""
      : ` (${fmtInt(total)} offsets in range: the rest are transaction markers or aborted)`),
);
