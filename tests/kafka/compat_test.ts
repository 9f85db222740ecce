/**
 * kafkajs 2.2.4 against the local Apache Kafka 4.3.1 broker (KIP-896 removed old request
 * versions in 4.0): every API kafkajs implements must have a version both sides speak, and the
 * admin, idempotent producer, consumer group and transaction paths the pipeline uses must work.
 *
 * Needs the broker: `deno task kafka:up` (or KAFKA_BOOTSTRAP_SERVERS).
 */

import assert from "node:assert/strict";
import type { Consumer, EachBatchPayload, Kafka } from "kafkajs";
import kafkajsRequests from "kafkajs/src/protocol/requests/index.js";
import kafkajsApiKeys from "kafkajs/src/protocol/requests/apiKeys.js";
import {
  brokerApiVersions,
  createTopic,
  deleteTopics,
  testKafka,
  uniqueName,
  withAdmin,
} from "../support/kafka.ts";

interface Received {
  partition: number;
  offset: string;
  key: string;
  value: string;
}

/** Consume `topic` from the beginning with eachBatch until `done(received)` says so. */
async function consumeUntil(
  consumer: Consumer,
  topic: string,
  done: (received: Received[]) => boolean,
): Promise<Received[]> {
  const received: Received[] = [];
  await consumer.connect();
  await consumer.subscribe({ topics: [topic], fromBeginning: true });
  let guard: ReturnType<typeof setTimeout> | undefined;
  try {
    await new Promise<void>((resolve, reject) => {
      // A hang guard, not a timing assertion: fail instead of blocking the suite forever.
      guard = setTimeout(
        () => reject(new Error(`gave up after 60 s with ${received.length} records`)),
        60_000,
      );
      consumer.run({
        eachBatch: async ({ batch, heartbeat }: EachBatchPayload) => {
          for (const m of batch.messages) {
            received.push({
              partition: batch.partition,
              offset: m.offset,
              key: m.key?.toString() ?? "",
              value: m.value?.toString() ?? "",
            });
          }
          await heartbeat();
          if (done(received)) resolve();
        },
      }).catch(reject);
    });
  } finally {
    clearTimeout(guard);
  }
  return received;
}

Deno.test("every API kafkajs implements has a request version the 4.x broker accepts", async () => {
  const broker = new Map((await brokerApiVersions()).map((v) => [v.apiKey, v]));
  const requests = kafkajsRequests.requests as Record<string, { versions: string[] }>;
  const apiKeys = kafkajsApiKeys as Record<string, number>;
  const unusable: string[] = [];
  let checked = 0;
  for (const [name, def] of Object.entries(requests)) {
    if (def.versions.length === 0) continue; // not implemented by kafkajs
    const range = broker.get(apiKeys[name]);
    if (!range) continue; // broker lacks the API (none of the pipeline's)
    checked++;
    // kafkajs sends min(its highest version, broker's highest) and never checks the broker's min.
    const sent = Math.min(Math.max(...def.versions.map(Number)), range.maxVersion);
    if (sent < range.minVersion) {
      unusable.push(`${name} v${sent} < broker min v${range.minVersion}`);
    }
  }
  assert.deepEqual(unusable, []);
  assert.ok(checked >= 25, `only ${checked} APIs compared`);
  for (const api of ["Produce", "Fetch", "ListOffsets", "Metadata", "OffsetCommit", "EndTxn"]) {
    assert.ok(broker.has(apiKeys[api]), `broker does not offer ${api}`);
  }
});

Deno.test("admin: create, describe, offsets, offsets by timestamp, delete", async () => {
  const kafka = testKafka();
  const topic = uniqueName("compat-admin");
  await withAdmin(kafka, async (admin) => {
    const before = Date.now() - 1000;
    assert.equal(
      await admin.createTopics({ topics: [{ topic, numPartitions: 3 }], waitForLeaders: true }),
      true,
    );
    assert.equal(await admin.createTopics({ topics: [{ topic }], waitForLeaders: true }), false);

    const meta = await admin.fetchTopicMetadata({ topics: [topic] });
    assert.equal(meta.topics.length, 1);
    const parts = meta.topics[0].partitions.sort((a, b) => a.partitionId - b.partitionId);
    assert.deepEqual(parts.map((p) => p.partitionId), [0, 1, 2]);
    assert.ok(parts.every((p) => p.leader >= 0 && p.isr.length === 1), JSON.stringify(parts));

    const producer = kafka.producer({ idempotent: true });
    await producer.connect();
    await producer.send({
      topic,
      acks: -1,
      messages: Array.from({ length: 12 }, (_, i) => ({ key: `k${i}`, value: `v${i}` })),
    });
    await producer.disconnect();

    const offsets = await admin.fetchTopicOffsets(topic);
    assert.equal(offsets.length, 3);
    assert.equal(offsets.reduce((n, o) => n + Number(o.high) - Number(o.low), 0), 12);

    const fromStart = await admin.fetchTopicOffsetsByTimestamp(topic, before);
    assert.deepEqual(fromStart.map((o) => o.offset).sort(), ["0", "0", "0"]);
    // A timestamp after every record: kafkajs answers with the high watermark.
    const future = await admin.fetchTopicOffsetsByTimestamp(topic, Date.now() + 3_600_000);
    assert.equal(future.reduce((n, o) => n + Number(o.offset), 0), 12);

    await admin.deleteTopics({ topics: [topic] });
    assert.ok(!(await admin.listTopics()).includes(topic));
  });
});

Deno.test("idempotent producer + consumer group with eachBatch, describeGroups, fetchOffsets", async () => {
  const kafka = testKafka();
  const topic = uniqueName("compat-group");
  const groupId = uniqueName("compat-group");
  await createTopic(kafka, topic, 3);
  try {
    const sent = Array.from({ length: 30 }, (_, i) => ({
      key: String(1000 + (i % 7)), // 7 customers, several orders each
      value: JSON.stringify({ order_id: i, customer_id: 1000 + (i % 7) }),
    }));
    const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
    await producer.connect();
    const meta = await producer.send({ topic, acks: -1, messages: sent });
    await producer.disconnect();
    assert.ok(meta.every((m) => m.errorCode === 0), JSON.stringify(meta));

    const consumer = kafka.consumer({ groupId, maxWaitTimeInMs: 500 });
    let received: Received[];
    try {
      received = await consumeUntil(consumer, topic, (r) => r.length >= sent.length);
      const described = await withAdmin(kafka, (admin) => admin.describeGroups([groupId]));
      assert.equal(described.groups[0].state, "Stable");
      assert.equal(described.groups[0].protocolType, "consumer");
      assert.equal(described.groups[0].members.length, 1);
    } finally {
      await consumer.disconnect();
    }

    assert.equal(received.length, sent.length);
    assert.deepEqual(
      received.map((r) => `${r.key}=${r.value}`).sort(),
      sent.map((s) => `${s.key}=${s.value}`).sort(),
    );
    // Same key, same partition; and per key the orders arrive in the order they were sent.
    const partitionOf = new Map<string, number>();
    for (const r of received) {
      assert.equal(partitionOf.get(r.key) ?? r.partition, r.partition, `key ${r.key} split`);
      partitionOf.set(r.key, r.partition);
    }
    for (const key of partitionOf.keys()) {
      const ids = received.filter((r) => r.key === key).map((r) => JSON.parse(r.value).order_id);
      assert.deepEqual(ids, [...ids].sort((a, b) => a - b));
    }

    const committed = await withAdmin(kafka, async (admin) => {
      assert.equal((await admin.describeGroups([groupId])).groups[0].state, "Empty");
      return await admin.fetchOffsets({ groupId, topics: [topic] });
    });
    assert.equal(committed[0].partitions.reduce((n, p) => n + Number(p.offset), 0), 30);
  } finally {
    await deleteTopics(kafka, [topic]);
  }
});

async function readAll(kafka: Kafka, topic: string, readUncommitted: boolean, last: string) {
  const consumer = kafka.consumer({
    groupId: uniqueName("compat-reader"),
    readUncommitted,
    maxWaitTimeInMs: 500,
  });
  try {
    return await consumeUntil(consumer, topic, (r) => r.some((m) => m.value === last));
  } finally {
    await consumer.disconnect();
  }
}

Deno.test("transactions: commit with sendOffsets, abort, read_committed hides aborted", async () => {
  const kafka = testKafka();
  const input = uniqueName("compat-tx-in");
  const output = uniqueName("compat-tx-out");
  const groupId = uniqueName("compat-tx-group");
  await createTopic(kafka, input, 1);
  await createTopic(kafka, output, 1);
  const producer = kafka.producer({
    transactionalId: uniqueName("compat-tx"),
    idempotent: true,
    maxInFlightRequests: 1,
  });
  try {
    await producer.connect();
    const msgs = (prefix: string, n: number) =>
      Array.from({ length: n }, (_, i) => ({ key: `c${i % 2}`, value: `${prefix}${i + 1}` }));

    const tx1 = await producer.transaction();
    await tx1.send({ topic: output, messages: msgs("committed-a", 5) });
    await tx1.sendOffsets({
      consumerGroupId: groupId,
      topics: [{ topic: input, partitions: [{ partition: 0, offset: "5" }] }],
    });
    await tx1.commit();

    const tx2 = await producer.transaction();
    await tx2.send({ topic: output, messages: msgs("aborted", 3) });
    await tx2.sendOffsets({
      consumerGroupId: groupId,
      topics: [{ topic: input, partitions: [{ partition: 0, offset: "8" }] }],
    });
    await tx2.abort();

    const tx3 = await producer.transaction();
    await tx3.send({ topic: output, messages: msgs("committed-b", 2) });
    await tx3.commit();
    await producer.disconnect();

    const committed = await readAll(kafka, output, false, "committed-b2");
    assert.deepEqual(committed.map((r) => r.value), [
      ...msgs("committed-a", 5).map((m) => m.value),
      ...msgs("committed-b", 2).map((m) => m.value),
    ]);
    const everything = await readAll(kafka, output, true, "committed-b2");
    assert.equal(everything.length, 10);
    assert.equal(everything.filter((r) => r.value.startsWith("aborted")).length, 3);

    await withAdmin(kafka, async (admin) => {
      // 10 records + one commit/abort marker per transaction.
      const [o] = await admin.fetchTopicOffsets(output);
      assert.equal(o.high, "13");
      // The aborted transaction's offsets (8) must not have replaced the committed ones (5).
      const [offsets] = await admin.fetchOffsets({ groupId, topics: [input] });
      assert.deepEqual(offsets.partitions.map((p) => p.offset), ["5"]);
    });
  } finally {
    await producer.disconnect();
    await deleteTopics(kafka, [input, output]);
  }
});
