// Producer: sends retail orders (JSON lines) to Kafka, key = customer_id.
// Port of the seed's Python producer: same topic, same key, same message shape.
// Needs a Kafka broker (deno task kafka:up): without one, the first cell stops and says so.
//
//   deno task produce                      # data/file1.json … file6.json
//   deno task produce -- my-orders.json    # given files, or - for stdin
//   deno task produce -- --partitions 6 --topic retail-data-new

// %% Setup: configuration from flags, env and .env
import { COMMON_HELP, describeConfig, loadConfig } from "../lib/config.ts";
import { requireBroker } from "../lib/notebook/preflight.ts";
import { exitOnFailure, fmtInt, log } from "../lib/cli.ts";
import { createKafka, ensureTopic } from "../lib/kafka/client.ts";
import { publishOrders } from "../lib/orders/publish.ts";
import { dataFiles, readLines } from "../lib/orders/lines.ts";

const failure = exitOnFailure();

const USAGE = `Usage: deno task produce [-- [options] [FILE ...]]
Sends each order line of FILEs (default data/file*.json; - reads stdin) to the topic,
key = customer_id. Invalid lines are reported as file:line and skipped.

Options:
  --partitions N   partitions when the topic must be created (default 3)
  --batch-size N   messages per send (default 2000)
  --quiet          no progress lines
${COMMON_HELP}`;

const loaded = loadConfig({
  allowPositionals: true,
  options: {
    partitions: { type: "string", default: "3" },
    "batch-size": { type: "string", default: "2000" },
    quiet: { type: "boolean", default: false },
  },
});
const { config, flags, positionals } = loaded;
failure.kafka = config.kafka;
if (loaded.help) {
  console.log(USAGE);
  Deno.exit(0);
}
const partitions = Number(flags.partitions);
const batchSize = Number(flags["batch-size"]);
if (!Number.isInteger(partitions) || partitions < 1) throw new Error("--partitions must be ≥ 1");
if (!Number.isInteger(batchSize) || batchSize < 1) throw new Error("--batch-size must be ≥ 1");
log("config", describeConfig(config).replaceAll("\n", "\n                   "));
await requireBroker(config.kafka);

// %% Connect and make sure the topic exists (created with --partitions when missing)
const kafka = createKafka(config.kafka);
const admin = kafka.admin();
await admin.connect();
const n = await ensureTopic(admin, config.topic, partitions);
await admin.disconnect();
log("topic", `${config.topic}: ${n} partitions`);

// %% Send every order: idempotent producer, acks=all, one batch in flight (keeps key order)
const files = positionals.length > 0 ? positionals : await dataFiles();
const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
await producer.connect();
let lastProgress = 0;
const summary = await publishOrders(producer, config.topic, readLines(files), {
  batchSize,
  // A request carries one record batch per partition; keep each well under the broker's 1 MiB.
  batchBytes: 768 * 1024 * n,
  onSkip: (s) => console.error(`${s.file}:${s.line}: skipped (${s.reason}): ${s.message}`),
  onProgress: (sent, skipped, ms) => {
    if (flags.quiet || ms - lastProgress < 2000) return;
    lastProgress = ms;
    log(
      "progress",
      `${fmtInt(sent)} sent, ${fmtInt(skipped)} skipped, ${(ms / 1000).toFixed(1)} s`,
    );
  },
});
await producer.disconnect();

// %% Summary (the last stdout line is JSON, for scripts)
log(
  "done",
  `${fmtInt(summary.sent)} orders sent to ${config.topic}, ${fmtInt(summary.skipped)} skipped, ` +
    `${fmtInt(Math.round(summary.ordersPerSecond))} orders/s (${summary.seconds.toFixed(2)} s, ` +
    `${files.length} file${files.length === 1 ? "" : "s"})`,
);
console.log(JSON.stringify({ sent: summary.sent, skipped: summary.skipped, read: summary.read }));
