/**
 * Producer stream throughput, filter mode (city = 'Chicago'), compared in the same run with the
 * plain consume ceiling of the same topic. Prints figures (a script, not Deno.bench):
 *
 *   deno run -A tests/bench/producer_stream_bench.ts [--orders 50000] [--rounds 2] [--dir DIR]
 *
 * Steps: generate N orders (lib/orders/generate.ts, or reuse --dir), publish them to a fresh
 * 3-partition topic, then alternate for each round:
 * - ceiling: a plain kafkajs consumer (eachBatch, counting only) reading the whole topic;
 * - tail: our reader alone (lib/kafka/tail.ts, slices of 50k, nothing done with them);
 * - stream: runProducerStream in filter mode, available-now (parse + validate every order,
 *   filter, one Kafka transaction per 50k-offset batch with the output and the offsets).
 * orders/s = orders / wall seconds from the start of each step (connect, group join, for the
 * stream also topic checks, transactional init and offset lookup) to its last record (for the
 * stream: its last commit). The ratio is stream / ceiling. Topics are deleted at the end.
 */
import { parseArgs } from "node:util";
import { join } from "node:path";
import { Kafka, Partitioners } from "kafkajs";
import { kafkaConfig } from "../../lib/kafka/client.ts";
import { quietTransactionLogs } from "../../lib/kafka/sink.ts";
import { publishOrders } from "../../lib/orders/publish.ts";
import { openTail } from "../../lib/kafka/tail.ts";
import { readLines } from "../../lib/orders/lines.ts";
import { runProducerStream } from "../../lib/insights/stream.ts";
import { parseStreamOptions } from "../../lib/engine/options.ts";
import {
  bootstrapServers,
  createTopic,
  deleteTopics,
  uniqueName,
  withAdmin,
} from "../support/kafka.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    orders: { type: "string", default: "50000" },
    rounds: { type: "string", default: "2" },
    dir: { type: "string" },
  },
});
const N = Number(values.orders);
const rounds = Number(values.rounds);
const kafka = new Kafka(quietTransactionLogs(kafkaConfig({
  bootstrapServers: bootstrapServers(),
  securityProtocol: "PLAINTEXT",
  clientId: "bench",
})));
const fmt = (n: number) => Math.round(n).toLocaleString("en-US");

// Data: generated orders as JSON lines.
let dir = values.dir;
let made = false;
if (!dir) {
  dir = await Deno.makeTempDir({ prefix: "ps-bench-" });
  made = true;
  const gen = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "lib/orders/generate.ts", "--orders", String(N), "--out", dir],
    stdout: "null",
    stderr: "inherit",
  }).output();
  if (!gen.success) throw new Error("data generation failed");
}
const files = [...Deno.readDirSync(dir)].filter((e) => e.name.endsWith(".json")).map((e) =>
  join(dir!, e.name)
).sort();

const topic = uniqueName("bench-ps-in");
const output = uniqueName("bench-ps-out");
await createTopic(kafka, topic, 3);
const producer = kafka.producer({
  idempotent: true,
  maxInFlightRequests: 1,
  createPartitioner: Partitioners.DefaultPartitioner,
});
await producer.connect();
const pub = await publishOrders(producer, topic, readLines(files));
await producer.disconnect();
console.log(
  `published ${fmt(pub.sent)} orders (${(pub.bytes / 1e6).toFixed(0)} MB) to ${topic}: ${
    fmt(pub.ordersPerSecond)
  } orders/s`,
);
const highs = await withAdmin(
  kafka,
  async (admin) =>
    new Map((await admin.fetchTopicOffsets(topic)).map((o) => [o.partition, BigInt(o.high)])),
);
const total = [...highs.values()].reduce((a, b) => a + Number(b), 0);

async function ceiling(): Promise<number> {
  const t0 = performance.now();
  const consumer = kafka.consumer({
    groupId: uniqueName("bench-ceiling"),
    maxBytesPerPartition: 2 << 20,
    maxWaitTimeInMs: 200,
  });
  await consumer.connect();
  await consumer.subscribe({ topics: [topic], fromBeginning: true });
  let n = 0;
  let last = 0;
  await new Promise<void>((resolve) => {
    consumer.run({
      autoCommit: false,
      eachBatch: ({ batch }) => {
        n += batch.messages.length;
        if (n >= total) {
          last = performance.now();
          resolve();
        }
        return Promise.resolve();
      },
    });
  });
  await consumer.disconnect();
  return n / ((last - t0) / 1000);
}

async function tailOnly(): Promise<number> {
  const t0 = performance.now();
  const tail = await openTail(kafka, topic, new Map([...highs.keys()].map((p) => [p, 0n])), {
    ends: highs,
  });
  let n = 0;
  for (let s; (s = await tail.next({ maxOffsets: 50_000, lingerMs: 500 }));) n += s.records.length;
  const secs = (performance.now() - t0) / 1000;
  await tail.close();
  return n / secs;
}

async function stream(
  round: number,
  parseWorker: boolean,
): Promise<{ rate: number; out: number; wall: number }> {
  const t0 = performance.now();
  const totals = await runProducerStream({
    kafka,
    topic,
    outputTopic: output,
    deadLetterTopic: `${output}_dead_letters`,
    mode: { kind: "filter", filter: { city: "Chicago" } },
    options: parseStreamOptions({
      "query-name": `${output}-round${round}-${parseWorker ? "worker" : "inline"}`,
      "available-now": true,
      "max-offsets-per-trigger": "50000",
      ...(parseWorker ? { worker: true } : { "no-worker": true }),
    }, { queryName: output, sink: "kafka" }),
  });
  const wall = (performance.now() - t0) / 1000;
  if (totals.input !== total) throw new Error(`stream read ${totals.input} of ${total}`);
  return { rate: totals.input / wall, out: totals.output, wall };
}

const results: {
  round: number;
  ceiling: number;
  tail: number;
  stream: number;
  inline: number;
  ratio: number;
}[] = [];
try {
  for (let r = 1; r <= rounds; r++) {
    const c = await ceiling();
    const t = await tailOnly();
    const s = await stream(r, true);
    const si = await stream(r, false);
    results.push({
      round: r,
      ceiling: c,
      tail: t,
      stream: s.rate,
      inline: si.rate,
      ratio: s.rate / c,
    });
    console.log(
      `round ${r}: ceiling ${fmt(c)} orders/s | tail ${fmt(t)} orders/s | stream ${
        fmt(s.rate)
      } orders/s with the parse worker, ${fmt(si.rate)} inline ` +
        `(${fmt(s.out)} Chicago orders out, ${s.wall.toFixed(2)} s) | ratio ${
          (s.rate / c).toFixed(2)
        }`,
    );
  }
} finally {
  const all = await withAdmin(kafka, (admin) => admin.listTopics());
  await deleteTopics(kafka, all.filter((t) => t === topic || t.startsWith(output)));
  if (made) await Deno.remove(dir, { recursive: true });
}
const best = (k: "ceiling" | "tail" | "stream" | "inline") => Math.max(...results.map((x) => x[k]));
console.log(JSON.stringify({
  orders: total,
  ceilingOrdersPerSec: Math.round(best("ceiling")),
  tailOrdersPerSec: Math.round(best("tail")),
  streamOrdersPerSec: Math.round(best("stream")),
  inlineOrdersPerSec: Math.round(best("inline")),
  ratio: Number((best("stream") / best("ceiling")).toFixed(3)),
  // Rounds run under the same load; the median of their ratios is the steadier figure.
  medianRoundRatio: Number(
    results.map((x) => x.ratio).sort((a, b) => a - b)[Math.floor(results.length / 2)].toFixed(3),
  ),
  rounds: results.map((x) => ({
    ...x,
    ceiling: Math.round(x.ceiling),
    tail: Math.round(x.tail),
    stream: Math.round(x.stream),
    inline: Math.round(x.inline),
    ratio: Number(x.ratio.toFixed(3)),
  })),
}));
