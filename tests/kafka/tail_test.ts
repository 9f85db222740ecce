/**
 * lib/kafka/tail.ts on the real broker: slices respect maxOffsets, cover contiguous offset
 * ranges (transaction markers and aborted records included), stop at the ends, and hand out
 * each committed record exactly once.
 */
import assert from "node:assert/strict";
import { Partitioners } from "kafkajs";
import "../../lib/kafka/client.ts";
import { openTail } from "../../lib/kafka/tail.ts";
import { createTopic, deleteTopics, testKafka, uniqueName, withAdmin } from "../support/kafka.ts";

Deno.test("tail: slices of at most maxOffsets, contiguous ranges over markers, exactly the committed records", async () => {
  const kafka = testKafka();
  const topic = uniqueName("ps-tail");
  await createTopic(kafka, topic, 2);
  try {
    const plain = kafka.producer({
      idempotent: true,
      createPartitioner: Partitioners.DefaultPartitioner,
    });
    const tx = kafka.producer({
      transactionalId: uniqueName("ps-tail-tx"),
      idempotent: true,
      maxInFlightRequests: 1,
      createPartitioner: Partitioners.DefaultPartitioner,
    });
    await plain.connect();
    await tx.connect();
    const sent: string[] = [];
    for (let round = 0; round < 5; round++) {
      const msgs = Array.from(
        { length: 100 },
        (_, i) => ({ key: `k${i % 10}`, value: `r${round}-${i}` }),
      );
      await plain.send({ topic, messages: msgs });
      sent.push(...msgs.map((m) => m.value));
      const t = await tx.transaction();
      await t.send({ topic, messages: [{ key: "k1", value: `tx${round}` }] });
      if (round % 2 === 0) {
        await t.commit();
        sent.push(`tx${round}`);
      } else await t.abort();
    }
    await plain.disconnect();
    await tx.disconnect();
    const highs = await withAdmin(
      kafka,
      async (admin) =>
        new Map((await admin.fetchTopicOffsets(topic)).map((o) => [o.partition, BigInt(o.high)])),
    );
    const tail = await openTail(kafka, topic, new Map([[0, 0n], [1, 0n]]), { ends: highs });
    const got: string[] = [];
    const next = new Map([[0, 0n], [1, 0n]]);
    let slices = 0;
    for (let s; (s = await tail.next({ maxOffsets: 37, lingerMs: 50 }));) {
      slices++;
      assert.ok(s.offsets <= 37 && s.offsets > 0, String(s.offsets));
      let covered = 0;
      for (const r of s.ranges) {
        assert.equal(r.start, next.get(r.partition), "ranges must be contiguous");
        next.set(r.partition, r.end);
        covered += Number(r.end - r.start);
      }
      assert.equal(covered, s.offsets);
      for (const rec of s.records) {
        const range = s.ranges.find((r) => r.partition === rec.partition)!;
        assert.ok(BigInt(rec.offset) >= range.start && BigInt(rec.offset) < range.end);
        got.push(new TextDecoder().decode(rec.value!));
      }
    }
    await tail.close();
    const byPartition = (m: Map<number, bigint>) => [...m].sort((x, y) => x[0] - y[0]);
    assert.deepEqual(
      byPartition(next),
      byPartition(highs),
      "the tail must end exactly at the high watermarks",
    );
    assert.deepEqual([...got].sort(), [...sent].sort());
    const total = [...highs.values()].reduce((a, b) => a + Number(b), 0);
    assert.ok(total > sent.length, "markers and aborted records take offsets too");
    assert.ok(slices >= Math.ceil(total / 37));
  } finally {
    await deleteTopics(kafka, [topic]);
  }
});

Deno.test("tail: starts at the given offsets and follows new records until aborted", async () => {
  const kafka = testKafka();
  const topic = uniqueName("ps-tail-follow");
  await createTopic(kafka, topic, 1);
  try {
    const p = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner });
    await p.connect();
    await p.send({ topic, messages: Array.from({ length: 10 }, (_, i) => ({ value: `a${i}` })) });
    const tail = await openTail(kafka, topic, new Map([[0, 7n]]));
    const first = await tail.next({ maxOffsets: 100, lingerMs: 100 });
    assert.deepEqual(first!.records.map((r) => r.offset), ["7", "8", "9"]);
    await p.send({ topic, messages: [{ value: "b0" }, { value: "b1" }] });
    const second = await tail.next({ maxOffsets: 100, lingerMs: 100 });
    assert.deepEqual(second!.records.map((r) => new TextDecoder().decode(r.value!)), ["b0", "b1"]);
    assert.deepEqual([...tail.positions()], [[0, 12n]]);
    const stop = new AbortController();
    setTimeout(() => stop.abort(), 300);
    assert.equal(
      await tail.next({ maxOffsets: 100, lingerMs: 100, signal: stop.signal }),
      undefined,
    );
    await tail.close();
    await p.disconnect();
  } finally {
    await deleteTopics(kafka, [topic]);
  }
});
