/**
 * The ceiling of the stream benchmark: a plain kafkajs consumer (eachBatch, autoCommit off,
 * a fresh group) that reads a topic from the earliest to the latest offsets present at start and
 * discards every record. Prints one JSON line: records, seconds, recordsPerSecond, peakRssBytes.
 *
 * Usage: deno run -A tests/bench/_consume_discard.ts <topic> [bootstrap]
 */
import { Kafka, logLevel } from "kafkajs";
import "../../lib/kafka/client.ts"; // silences kafkajs' harmless TimeoutNegativeWarning

const topic = Deno.args[0];
const brokers = (Deno.args[1] ?? Deno.env.get("KAFKA_BOOTSTRAP_SERVERS") ?? "127.0.0.1:9092").split(
  ",",
);
const t0 = performance.now();
const kafka = new Kafka({ clientId: "bench-ceiling", brokers, logLevel: logLevel.NOTHING });
const admin = kafka.admin();
await admin.connect();
const ends = new Map(
  (await admin.fetchTopicOffsets(topic)).map((o) => [o.partition, BigInt(o.high)]),
);
await admin.disconnect();
const left = new Set([...ends].filter(([, h]) => h > 0n).map(([p]) => p));
const consumer = kafka.consumer({
  groupId: `bench-ceiling-${crypto.randomUUID()}`,
  maxWaitTimeInMs: 500,
  maxBytes: 16 << 20,
});
let records = 0;
let finished!: () => void;
const done = new Promise<void>((r) => (finished = r));
if (left.size === 0) finished();
await consumer.connect();
await consumer.subscribe({ topics: [topic], fromBeginning: true });
await consumer.run({
  autoCommit: false,
  eachBatchAutoResolve: false,
  eachBatch: async ({ batch, resolveOffset }) => {
    records += batch.messages.length;
    resolveOffset(batch.lastOffset());
    if (BigInt(batch.lastOffset()) + 1n >= ends.get(batch.partition)!) {
      left.delete(batch.partition);
      if (left.size === 0) finished();
    }
    await Promise.resolve();
  },
});
await done;
const seconds = (performance.now() - t0) / 1000;
await consumer.disconnect();
const hwm = /VmHWM:\s+(\d+) kB/.exec(Deno.readTextFileSync("/proc/self/status"));
console.log(JSON.stringify({
  records,
  seconds,
  recordsPerSecond: records / seconds,
  peakRssBytes: hwm ? Number(hwm[1]) * 1024 : Deno.memoryUsage().rss,
}));
