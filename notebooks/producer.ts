// Producer: sends retail orders (JSON lines) to Kafka, key = customer_id.
// Port of the seed's Python producer: same topic, same key, same message shape. With --rate it
// is the seed's "simulated API" instead: a live feed of generated orders (real customers and
// products from data/retail_db/), paced to N orders/s, some malformed on purpose (--bad-rate).
// Needs a Kafka broker (deno task kafka:up): without one, the first cell stops and says so.
//
//   deno task produce                      # data/file1.json … file6.json
//   deno task produce -- my-orders.json    # given files, or - for stdin
//   deno task produce -- --partitions 6 --topic retail-data-new
//   deno task produce -- --rate 2000 --bad-rate 0.01            # live feed until Ctrl-C
//   deno task produce -- --rate 200 --duration 30s --seed 7     # 6,000 orders, same ones each time

// %% Setup: configuration from flags, env and .env
import { log } from "../lib/cli.ts";
import { createKafka, ensureTopic } from "../lib/kafka/client.ts";
import { publishOrders } from "../lib/orders/publish.ts";
import { dataFiles, readLines } from "../lib/orders/lines.ts";
import { feedIds, loadFeedCatalog, OrderFeed } from "../lib/orders/feed.ts";
import {
  feedReasons,
  prepareFeedTopic,
  runLiveFeed,
  stopFeedOnSignals,
} from "../lib/orders/feed_run.ts";
import {
  parseProducerOptions,
  PRODUCER_HELP,
  PRODUCER_OPTIONS,
} from "../lib/orders/producer_options.ts";
import {
  liveDoneText,
  liveJson,
  liveProgressLogger,
  liveStartText,
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
With --rate N: sends generated orders at N orders/s instead (the live feed), until --duration
or Ctrl-C.

${PRODUCER_HELP}`,
  options: PRODUCER_OPTIONS,
  allowPositionals: true,
});
const options = parseProducerOptions(flags, positionals);
const live = options.live;

// %% Connect and make sure the topic exists (created with --partitions when missing)
const kafka = createKafka(config.kafka);
const admin = kafka.admin();
await admin.connect();
// The live feed creates its topic with room for a too_large record (2 MiB records, segments).
const feedTopic = live
  ? await prepareFeedTopic(admin, config.topic, options.partitions)
  : undefined;
const partitions = feedTopic?.partitions ??
  await ensureTopic(admin, config.topic, options.partitions);
await admin.disconnect();
log("topic", `${config.topic}: ${partitions} partitions`);
// Idempotent producer, acks=all, one batch in flight (keeps key order).
const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
await producer.connect();
// A request carries one record batch per partition; keep each well under the broker's 1 MiB.
const batchBytes = 768 * 1024 * partitions;

// %% Batch mode (no --rate): send every order of the files
if (!live) {
  const files = positionals.length > 0 ? positionals : await dataFiles();
  const summary = await publishOrders(producer, config.topic, readLines(files), {
    batchSize: options.batchSize,
    batchBytes,
    onSkip: (s) => console.error(skippedText(s)),
    onProgress: progressLogger({ quiet: options.quiet, log }),
  });
  await producer.disconnect();
  // The last stdout line is JSON, for scripts.
  log("done", producerDoneText(summary, config.topic, files.length));
  console.log(producerJson(summary));
}

// %% Live mode (--rate N): generated orders, paced, until --duration or Ctrl-C
if (live) {
  const catalog = await loadFeedCatalog();
  const startMs = Date.now();
  const ids = feedIds(startMs);
  // Every reason code, but too_large only when the topic can hold one.
  const { reasons, note } = feedReasons(config.topic, feedTopic!);
  if (note !== undefined && live.badRate > 0) log("feed", note);
  const feed = new OrderFeed(catalog, { seed: live.seed, badRate: live.badRate, reasons, ...ids });
  log("feed", liveStartText(live, ids.firstOrderId));
  const controller = new AbortController();
  const removeSignals = stopFeedOnSignals(controller, log);
  const summary = await runLiveFeed(
    feed,
    async (messages) => void await producer.send({ topic: config.topic, acks: -1, messages }),
    {
      rate: live.rate,
      durationMs: live.durationMs,
      batchSize: options.batchSize,
      batchBytes,
      signal: controller.signal,
      onProgress: liveProgressLogger({ quiet: options.quiet, log }),
    },
  );
  removeSignals();
  await producer.disconnect();
  // The last stdout line is JSON, for scripts.
  log("done", liveDoneText(summary, config.topic));
  console.log(liveJson(summary));
}
