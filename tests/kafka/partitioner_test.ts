/**
 * kafkajs's default partitioner (murmur2, "Java compatible") must put a keyed record in the same
 * partition as the Java client, so our producer and a Spark/Java producer agree on where a
 * customer's orders go. The Java side is the real kafka-clients 4.3.1 jar
 * (tests/support/JavaPartitioner.java); the end-to-end test needs the broker.
 */

import assert from "node:assert/strict";
import { type Consumer, Partitioners } from "kafkajs";
import kafkajsMurmur2 from "kafkajs/src/producer/partitioners/default/murmur2.js";
import { javaPartitions } from "../support/java_partitioner.ts";
import { createTopic, deleteTopics, testKafka, uniqueName } from "../support/kafka.ts";

const COUNTS = [1, 2, 3, 6, 7, 12, 50];

/** Customer ids of every length mod 4 (murmur2's tail cases), unicode, empty and long keys. */
const KEYS = [
  "11599",
  "256",
  "0",
  "1",
  "7",
  "42",
  "99",
  "100",
  "1000",
  "4321",
  "5000",
  "8827",
  "9999",
  "12435",
  "12436",
  "10000",
  "20000",
  "123456",
  "1234567",
  "12345678",
  "-1",
  "customer-11599",
  "order:68883",
  "",
  " ",
  "Zürich",
  "São Paulo",
  "東京",
  "Kraków",
  "naïve café",
  "😀",
  "🛒 cart",
  "Ω≈ç√",
  "\u0000",
  "tab\tkey",
  "line\nbreak",
  "x".repeat(101),
  "0123456789".repeat(20),
];

/** The partition kafkajs's default partitioner picks for `key` among `n` led partitions. */
function kafkajsPartition(key: string, n: number): number {
  const partitioner = Partitioners.DefaultPartitioner();
  const partitionMetadata = Array.from({ length: n }, (_, i) => ({
    partitionId: i,
    leader: 1,
    partitionErrorCode: 0,
    replicas: [1],
    isr: [1],
  }));
  return partitioner({ topic: "t", partitionMetadata, message: { key, value: "v" } });
}

Deno.test("kafkajs default partitioner = Java client for customer ids, unicode, empty keys", async () => {
  const java = await javaPartitions(KEYS, COUNTS);
  const mismatches: string[] = [];
  let compared = 0;
  for (const key of KEYS) {
    const j = java.get(key)!;
    const hash = (kafkajsMurmur2 as (k: string) => number)(key);
    if (hash !== j.murmur2) {
      mismatches.push(`${JSON.stringify(key)} murmur2 ${hash} != ${j.murmur2}`);
    }
    for (const n of COUNTS) {
      compared++;
      const js = kafkajsPartition(key, n);
      if (js !== j.partitions[n]) {
        mismatches.push(`${JSON.stringify(key)} n=${n}: kafkajs ${js}, java ${j.partitions[n]}`);
      }
    }
  }
  assert.deepEqual(mismatches, []);
  assert.equal(compared, KEYS.length * COUNTS.length);
  // The comparison is not vacuous: with 7 partitions the keys spread over several partitions.
  assert.ok(new Set(KEYS.map((k) => java.get(k)!.partitions[7])).size >= 5);
});

Deno.test("records produced by kafkajs land in the partition the Java client computes", async () => {
  const kafka = testKafka();
  const topic = uniqueName("partitioner");
  await createTopic(kafka, topic, 6);
  let consumer: Consumer | undefined;
  try {
    const java = await javaPartitions(KEYS, [6]);
    const producer = kafka.producer({ idempotent: true });
    await producer.connect();
    await producer.send({
      topic,
      acks: -1,
      messages: KEYS.map((key, i) => ({ key, value: String(i) })),
    });
    await producer.disconnect();

    consumer = kafka.consumer({ groupId: uniqueName("partitioner"), maxWaitTimeInMs: 500 });
    await consumer.connect();
    await consumer.subscribe({ topics: [topic], fromBeginning: true });
    const landed = new Map<number, number>(); // value index -> partition
    let guard: ReturnType<typeof setTimeout> | undefined;
    try {
      await new Promise<void>((resolve, reject) => {
        guard = setTimeout(
          () => reject(new Error(`only ${landed.size} records came back`)),
          60_000,
        );
        consumer!.run({
          eachMessage: async ({ partition, message }) => {
            landed.set(Number(message.value!.toString()), partition);
            if (landed.size === KEYS.length) resolve();
            await Promise.resolve();
          },
        }).catch(reject);
      });
    } finally {
      clearTimeout(guard);
    }
    const wrong = KEYS.flatMap((key, i) =>
      landed.get(i) === java.get(key)!.partitions[6]
        ? []
        : [`${JSON.stringify(key)}: in ${landed.get(i)}, java says ${java.get(key)!.partitions[6]}`]
    );
    assert.deepEqual(wrong, []);
    assert.ok(new Set(landed.values()).size >= 4, "keys should spread over the 6 partitions");
  } finally {
    await consumer?.disconnect();
    await deleteTopics(kafka, [topic]);
  }
});
