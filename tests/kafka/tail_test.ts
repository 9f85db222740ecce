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

/**
 * Sends `count(p)` records to each partition p, record i with timestamp `time(p, i)`, in sends
 * of `per` records a partition (so in many record batches: a small fetch gets a few of them).
 */
async function fill(
  kafka: ReturnType<typeof testKafka>,
  topic: string,
  partitions: number,
  count: (p: number) => number,
  time: (p: number, i: number) => number,
  per = 100,
): Promise<void> {
  const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
  await producer.connect();
  try {
    const most = Math.max(...Array.from({ length: partitions }, (_, p) => count(p)));
    for (let from = 0; from < most; from += per) {
      const messages = [];
      for (let p = 0; p < partitions; p++) {
        for (let i = from; i < Math.min(from + per, count(p)); i++) {
          messages.push({
            partition: p,
            key: `k${i}`,
            value: `p${p}-${i}`,
            timestamp: String(time(p, i)),
          });
        }
      }
      await producer.send({ topic, acks: -1, messages });
    }
  } finally {
    await producer.disconnect();
  }
}

interface Cut {
  /** Per partition, offsets before the slice still left to read. */
  leftBefore: Map<number, number>;
  /** Per partition, offsets the slice took. */
  taken: Map<number, number>;
  /** After the slice, per partition, the largest record timestamp handed out so far. */
  frontier: Map<number, number>;
}

/** Reads the whole backlog of `topic` (available-now) in slices of `maxOffsets`. */
async function cutBacklog(
  kafka: ReturnType<typeof testKafka>,
  topic: string,
  maxOffsets: number,
  options: { maxBytesPerPartition?: number; maxBufferedBytes?: number; lingerMs?: number } = {},
): Promise<{ cuts: Cut[]; highs: Map<number, bigint>; values: string[] }> {
  const highs = await withAdmin(
    kafka,
    async (admin) =>
      new Map((await admin.fetchTopicOffsets(topic)).map((o) => [o.partition, BigInt(o.high)])),
  );
  const starts = new Map([...highs.keys()].map((p) => [p, 0n]));
  const tail = await openTail(kafka, topic, starts, {
    ends: highs,
    highWatermarks: highs,
    maxBytesPerPartition: options.maxBytesPerPartition,
    maxBufferedBytes: options.maxBufferedBytes,
  });
  const cuts: Cut[] = [];
  const values: string[] = [];
  const frontier = new Map<number, number>();
  try {
    // A long linger: a slice is cut when its fair shares are fetched, not when time runs out.
    const lingerMs = options.lingerMs ?? 5000;
    for (let s; (s = await tail.next({ maxOffsets, lingerMs }));) {
      assert.ok(s.offsets > 0 && s.offsets <= maxOffsets, String(s.offsets));
      const leftBefore = new Map<number, number>();
      for (const [p, end] of highs) {
        const pos = s.ranges.find((r) => r.partition === p)?.start ?? tail.positions().get(p)!;
        leftBefore.set(p, Number(end - pos));
      }
      const taken = new Map<number, number>();
      for (const r of s.ranges) taken.set(r.partition, Number(r.end - r.start));
      assert.equal([...taken.values()].reduce((a, b) => a + b, 0), s.offsets);
      for (const r of s.records) {
        frontier.set(r.partition, Math.max(frontier.get(r.partition) ?? -Infinity, r.timestamp));
        values.push(new TextDecoder().decode(r.value!));
      }
      cuts.push({ leftBefore, taken, frontier: new Map(frontier) });
    }
    assert.deepEqual(
      [...tail.positions()].sort((a, b) => a[0] - b[0]),
      [...highs].sort((a, b) => a[0] - b[0]),
    );
  } finally {
    await tail.close();
  }
  return { cuts, highs, values };
}

/** Largest minus smallest frontier among the partitions that still had records left. */
function frontierSpread(cut: Cut): number {
  const live = [...cut.leftBefore].filter(([, left]) => left > 0).map(([p]) => p);
  const times = live.map((p) => cut.frontier.get(p) ?? -Infinity);
  return Math.max(...times) - Math.min(...times);
}

Deno.test("tail: a backlog is cut fairly: every partition in every slice, equal shares, event time moves together", async () => {
  const kafka = testKafka();
  const topic = uniqueName("ps-tail-fair");
  const N = 600;
  const base = Date.now() - 3_600_000;
  await createTopic(kafka, topic, 6);
  try {
    // Every partition: N records one second apart, the same event-time range.
    await fill(kafka, topic, 6, () => N, (_p, i) => base + i * 1000);
    const { cuts, values } = await cutBacklog(kafka, topic, 60);
    assert.equal(values.length, 6 * N);
    assert.equal(new Set(values).size, 6 * N, "each record exactly once");
    assert.equal(cuts.length, (6 * N) / 60, "full slices of 60");
    cuts.forEach((cut, i) => {
      const live = [...cut.leftBefore].filter(([, left]) => left > 0).map(([p]) => p);
      assert.deepEqual(
        [...cut.taken.keys()].sort(),
        live.sort(),
        `slice ${i}: every partition with records left must be in the slice`,
      );
      const counts = [...cut.taken.values()];
      assert.ok(
        Math.max(...counts) - Math.min(...counts) <= 1,
        `slice ${i}: offsets per partition ${counts}`,
      );
      // 10 records a partition per slice, one second apart: the partitions stay within 10 s.
      assert.ok(
        frontierSpread(cut) <= 10_000,
        `slice ${i}: event-time spread ${frontierSpread(cut)}`,
      );
    });
  } finally {
    await deleteTopics(kafka, [topic]);
  }
});

Deno.test("tail: a skewed backlog (partition 0 holds 10× more) is cut in proportion to what is left", async () => {
  const kafka = testKafka();
  const topic = uniqueName("ps-tail-skew");
  const counts = [3000, 300, 300, 300, 300, 300];
  const base = Date.now() - 3_600_000;
  await createTopic(kafka, topic, 6);
  try {
    // The same 300 s of event time everywhere: partition 0 has ten records a second.
    await fill(kafka, topic, 6, (p) => counts[p], (p, i) => base + (i * 300_000) / counts[p]);
    // Small fetches (8 KiB a partition): partition 0's share often waits for its next fetch.
    const { cuts, values } = await cutBacklog(kafka, topic, 60, { maxBytesPerPartition: 8192 });
    assert.equal(values.length, 4500);
    assert.equal(new Set(values).size, 4500, "each record exactly once");
    cuts.forEach((cut, i) => {
      const totalLeft = [...cut.leftBefore.values()].reduce((a, b) => a + b, 0);
      const budget = Math.min(60, totalLeft);
      for (const [p, left] of cut.leftBefore) {
        if (left === 0) continue;
        const got = cut.taken.get(p) ?? 0;
        const exact = (budget * left) / totalLeft;
        assert.ok(
          got >= 1 && Math.abs(got - exact) < 2,
          `slice ${i}: partition ${p} took ${got}, its share is ${exact.toFixed(1)}`,
        );
      }
      assert.ok(
        frontierSpread(cut) <= 10_000,
        `slice ${i}: event-time spread ${frontierSpread(cut)}`,
      );
    });
    // All partitions finish together, in the last slice.
    const last = cuts.at(-1)!;
    assert.deepEqual([...last.taken.keys()].sort(), [0, 1, 2, 3, 4, 5]);
    assert.equal(cuts.length, 4500 / 60);
  } finally {
    await deleteTopics(kafka, [topic]);
  }
});

Deno.test("tail: a full buffer with a partition behind is cut by what is there, never deadlocks", async () => {
  const kafka = testKafka();
  const topic = uniqueName("ps-tail-full");
  const counts = [3000, 300, 300, 300, 300, 300];
  await createTopic(kafka, topic, 6);
  try {
    await fill(kafka, topic, 6, (p) => counts[p], (_p, i) => 1_700_000_000_000 + i);
    // Room for ~40 records while every fetch brings a batch of 100: the buffer is always full
    // of whatever was fetched first, and the other partitions' shares wait behind it. No
    // linger to fall back on: only a cut of the fair shares that are buffered frees room for
    // the fetcher to go on.
    const run = cutBacklog(kafka, topic, 60, {
      maxBytesPerPartition: 1024,
      maxBufferedBytes: 3000,
      lingerMs: 600_000,
    });
    let guard: ReturnType<typeof setTimeout> | undefined;
    const stuck = new Promise<never>((_, reject) => {
      guard = setTimeout(() => reject(new Error("the tail deadlocked: no end in 60 s")), 60_000);
    });
    const { cuts, values } = await Promise.race([run, stuck]).finally(() => clearTimeout(guard));
    assert.equal(values.length, 4500);
    assert.equal(new Set(values).size, 4500, "each record exactly once");
    // Memory pressure makes slices smaller, never unfair: no partition gives more than its
    // share of the slice (rounded up; 1 when the others' shares are not fetched).
    cuts.forEach((cut, i) => {
      const totalLeft = [...cut.leftBefore.values()].reduce((a, b) => a + b, 0);
      const budget = Math.min(60, totalLeft);
      for (const [p, n] of cut.taken) {
        const quota = (budget * cut.leftBefore.get(p)!) / totalLeft;
        assert.ok(n > 0 && n <= Math.max(1, Math.ceil(quota)), `slice ${i}: p${p} took ${n}`);
      }
    });
    assert.ok(cuts.length > 4500 / 60, "the full buffer must have cut smaller slices");
  } finally {
    await deleteTopics(kafka, [topic]);
  }
});
