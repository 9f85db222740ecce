/**
 * lib/kafka/group_source.ts on the real broker, driven as the engine drives it: partitions
 * assigned by the group wait in unpositioned() until position(), then next() hands out slices
 * whose per-partition counts follow lib/kafka/fair.ts (in proportion to what each partition has
 * LEFT to read), every record exactly once, contiguous [start, end) ranges, and a reset()
 * hands every partition back for a new position with no gap and no duplicate.
 */
import assert from "node:assert/strict";
import type { Admin, Kafka } from "kafkajs";
import "../../lib/kafka/client.ts";
import { groupSource } from "../../lib/kafka/group_source.ts";
import type { SourceSlice, StreamSource } from "../../lib/kafka/stream_source.ts";
import { createTopic, deleteTopics, testKafka, uniqueName, withAdmin } from "../support/kafka.ts";

const PARTITIONS = 6;
/** Partition 0 holds 10× the records of the others. */
const COUNTS = [1000, 100, 100, 100, 100, 100];
const TOTAL = COUNTS.reduce((a, b) => a + b, 0);
/** Every partition spans the same 300 s of event time (partition 0: ten records a second). */
const BASE = Date.now() - 3_600_000;
const timeOf = (p: number, i: number) => BASE + Math.floor((i * 300_000) / COUNTS[p]);
const decoder = new TextDecoder();

/**
 * Sends COUNTS[p] records to each partition p, record i valued `p{p}-{i}` with timestamp
 * timeOf(p, i), in sends of 100 records a partition (so in many record batches).
 */
async function fill(kafka: Kafka, topic: string): Promise<void> {
  const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
  await producer.connect();
  try {
    const per = 100;
    for (let from = 0; from < Math.max(...COUNTS); from += per) {
      const messages = [];
      for (let p = 0; p < PARTITIONS; p++) {
        for (let i = from; i < Math.min(from + per, COUNTS[p]); i++) {
          messages.push({
            partition: p,
            key: `k${i}`,
            value: `p${p}-${i}`,
            timestamp: String(timeOf(p, i)),
          });
        }
      }
      await producer.send({ topic, acks: -1, messages });
    }
  } finally {
    await producer.disconnect();
  }
}

/** The topic's high watermarks (the available-now ends). */
async function highWatermarks(kafka: Kafka, topic: string): Promise<Map<number, bigint>> {
  return await withAdmin(
    kafka,
    async (admin) =>
      new Map((await admin.fetchTopicOffsets(topic)).map((o) => [o.partition, BigInt(o.high)])),
  );
}

/** A group source as the Delta streams open it, on an available-now run to `ends`. */
function openSource(
  kafka: Kafka,
  admin: Admin,
  topic: string,
  ends: Map<number, bigint>,
  maxBuffered: number,
): StreamSource {
  return groupSource(kafka, {
    groupId: uniqueName("ps-group-source"),
    topic,
    timestampType: 0,
    ends,
    maxBuffered,
    sessionTimeoutMs: 6000,
    metadataMaxAgeMs: 10000,
    failOnDataLoss: true,
    commitGroupOffsets: false,
    health: { answered() {}, failed() {}, check() {} },
    admin,
    log: () => {},
    explain: String,
  });
}

/**
 * Waits until the group assigned the source every partition (all waiting for a position). The
 * 60 s guard only turns a hang into a failure; it asserts nothing about timing.
 */
async function awaitAssignment(source: StreamSource): Promise<void> {
  const all = Array.from({ length: PARTITIONS }, (_, p) => p);
  const guard = Date.now() + 60_000;
  while (source.unpositioned().length < PARTITIONS) {
    source.check();
    if (Date.now() > guard) {
      throw new Error(`no assignment in 60 s: unpositioned [${source.unpositioned()}]`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  assert.deepEqual(source.unpositioned(), all);
}

/** One slice as seen by the test. */
interface Cut {
  /** Per partition, offsets left to read before the slice (end minus position). */
  leftBefore: Map<number, number>;
  /** Per partition, offsets the slice took (0 when absent). */
  taken: Map<number, number>;
  /** After the slice, per partition, the largest record timestamp handed out so far. */
  frontier: Map<number, number>;
}

/**
 * Reads slices the way the engine does and checks each one on the spot: the limit, partition
 * order, ranges that start where the partition's previous slice ended, records exactly the
 * offsets of their range in order (the topic has no transaction markers) and valued as sent.
 */
class Reader {
  /** Per partition, the next offset expected (the end of the last slice). */
  readonly pos = new Map<number, bigint>();
  /** Per partition, the values handed out, in order. */
  readonly values = new Map<number, string[]>();
  readonly cuts: Cut[] = [];
  readonly #frontier = new Map<number, number>();

  constructor(readonly ends: Map<number, bigint>, readonly maxOffsets: number) {
    for (const p of [...ends.keys()].sort((a, b) => a - b)) {
      this.pos.set(p, 0n);
      this.values.set(p, []);
    }
  }

  /**
   * Reads up to `maxSlices` slices (or until the source is finished). Resolves the number read.
   * A 120 s abort only turns a hang into a failure (finished() is then false).
   */
  async read(source: StreamSource, maxSlices = Infinity): Promise<number> {
    const stop = AbortSignal.timeout(120_000);
    let n = 0;
    while (n < maxSlices && !source.finished()) {
      const slice = await source.next({ maxOffsets: this.maxOffsets, lingerMs: 0, signal: stop });
      if (!slice) break;
      this.#check(slice);
      n++;
    }
    return n;
  }

  #check(slice: SourceSlice): void {
    const i = this.cuts.length;
    const parts = [...this.pos.keys()];
    const leftBefore = new Map(parts.map((p) => [p, Number(this.ends.get(p)! - this.pos.get(p)!)]));
    const taken = new Map(parts.map((p) => [p, 0]));
    const order = slice.partitions.map((s) => s.partition);
    assert.deepEqual(order, [...order].sort((a, b) => a - b), `slice ${i}: partition order`);
    assert.equal(new Set(order).size, order.length, `slice ${i}: a partition twice`);
    for (const s of slice.partitions) {
      const p = s.partition;
      assert.equal(s.start, this.pos.get(p), `slice ${i}: p${p} must start where it ended`);
      assert.ok(
        s.end > s.start && s.end <= this.ends.get(p)!,
        `slice ${i}: p${p} ${s.start}..${s.end}`,
      );
      assert.deepEqual(
        s.messages.map((m) => BigInt(m.offset)),
        Array.from({ length: Number(s.end - s.start) }, (_, k) => s.start + BigInt(k)),
        `slice ${i}: p${p} records must be exactly the offsets ${s.start}..${s.end - 1n}`,
      );
      for (const m of s.messages) {
        assert.equal(decoder.decode(m.value!), `p${p}-${m.offset}`);
        assert.equal(Number(m.timestamp), timeOf(p, Number(m.offset)));
        this.values.get(p)!.push(decoder.decode(m.value!));
        this.#frontier.set(p, Math.max(this.#frontier.get(p) ?? -Infinity, Number(m.timestamp)));
      }
      taken.set(p, Number(s.end - s.start));
      this.pos.set(p, s.end);
    }
    const total = [...taken.values()].reduce((a, b) => a + b, 0);
    assert.ok(total > 0 && total <= this.maxOffsets, `slice ${i}: ${total} offsets`);
    assert.deepEqual(
      [...slice.latest].sort((a, b) => a[0] - b[0]),
      [...this.ends].sort((a, b) => a[0] - b[0]),
      `slice ${i}: latest must be the available-now ends`,
    );
    this.cuts.push({ leftBefore, taken, frontier: new Map(this.#frontier) });
  }

  /** Every record of every partition exactly once, in offset order; positions at the ends. */
  assertComplete(source: StreamSource): void {
    assert.equal(source.finished(), true, "the source must finish");
    for (const [p, end] of this.ends) {
      assert.equal(this.pos.get(p), end, `p${p} must end at its high watermark`);
      assert.deepEqual(
        this.values.get(p),
        Array.from({ length: COUNTS[p] }, (_, k) => `p${p}-${k}`),
        `p${p}: every record exactly once, in offset order`,
      );
    }
    assert.deepEqual(
      [...source.positions()].sort((a, b) => a[0] - b[0]),
      [...this.ends].sort((a, b) => a[0] - b[0]),
    );
  }
}

/** The proportional share of `limit` of partition p before the cut. */
const quota = (cut: Cut, p: number, limit: number) => {
  const totalLeft = [...cut.leftBefore.values()].reduce((a, b) => a + b, 0);
  return (Math.min(limit, totalLeft) * cut.leftBefore.get(p)!) / totalLeft;
};

/** `p:taken/left` per partition, for failure messages. */
const show = (cut: Cut) =>
  [...cut.leftBefore.keys()].map((p) => `p${p}:${cut.taken.get(p)}/${cut.leftBefore.get(p)}`).join(
    " ",
  );

/** Largest minus smallest event-time frontier among the partitions with records left. */
function frontierSpread(cut: Cut): number {
  const live = [...cut.leftBefore].filter(([, left]) => left > 0).map(([p]) => p);
  const times = live.map((p) => cut.frontier.get(p) ?? -Infinity);
  return Math.max(...times) - Math.min(...times);
}

/** A fresh skewed topic, a connected admin, and cleanup of all of them. */
async function withSkewedTopic(
  area: string,
  fn: (kafka: Kafka, admin: Admin, topic: string, ends: Map<number, bigint>) => Promise<void>,
): Promise<void> {
  const kafka = testKafka();
  const topic = uniqueName(area);
  await createTopic(kafka, topic, PARTITIONS);
  const admin = kafka.admin();
  try {
    await admin.connect();
    await fill(kafka, topic);
    const ends = await highWatermarks(kafka, topic);
    assert.deepEqual(
      [...ends].sort((a, b) => a[0] - b[0]),
      COUNTS.map((c, p) => [p, BigInt(c)]),
    );
    await fn(kafka, admin, topic, ends);
  } finally {
    await admin.disconnect().catch(() => {});
    await deleteTopics(kafka, [topic]);
  }
}

Deno.test("group source: a skewed backlog (partition 0 holds 10×) is cut in proportion to what is left", async () => {
  await withSkewedTopic("ps-group-skew", async (kafka, admin, topic, ends) => {
    const source = openSource(kafka, admin, topic, ends, 60);
    try {
      await source.start();
      await awaitAssignment(source);
      await source.position(new Map([...ends.keys()].map((p) => [p, 0n])));
      assert.deepEqual(source.unpositioned(), []);
      const reader = new Reader(ends, 60);
      await reader.read(source);
      reader.assertComplete(source);
      // Before any partition is exhausted, every partition takes its proportional share of the
      // 60 (partition 0 about 10/15 of it, the others about 1/15 each): all move together.
      const beforeExhausted = reader.cuts.filter((c) =>
        [...c.leftBefore.values()].every((l) => l > 0)
      );
      beforeExhausted.forEach((cut, i) => {
        for (const p of cut.leftBefore.keys()) {
          const got = cut.taken.get(p)!;
          const exact = quota(cut, p, 60);
          assert.ok(
            Math.abs(got - exact) <= 2,
            `slice ${i}: p${p} took ${got}, its share is ${exact.toFixed(1)} (${show(cut)})`,
          );
        }
        // 300 s of event time on every partition: the frontiers stay within 10 s of each other.
        assert.ok(frontierSpread(cut) <= 10_000, `slice ${i}: spread ${frontierSpread(cut)}`);
      });
      assert.ok(
        beforeExhausted.length >= TOTAL / 60 - 1,
        `only ${beforeExhausted.length} of ${reader.cuts.length} slices before a partition ran out`,
      );
      // All partitions finish together, in the last slice, after full slices of 60.
      assert.deepEqual(
        [...reader.cuts.at(-1)!.taken].filter(([, n]) => n > 0).map(([p]) => p),
        [0, 1, 2, 3, 4, 5],
      );
      assert.equal(reader.cuts.length, TOTAL / 60);
    } finally {
      await source.close();
    }
  });
});

Deno.test("group source: with a small buffer, a partition's unfetched share is waited for, never given to the others", async () => {
  await withSkewedTopic("ps-group-small", async (kafka, admin, topic, ends) => {
    // Room for 10 records while a fetch brings 100 or more a partition: the buffer is full of
    // whatever was fetched first while the other partitions' shares are not fetched yet (with
    // the current kafkajs loop, partitionsConsumedConcurrently 1, they queue behind it). A cut
    // must then take only the buffered partitions' shares; the old cut (divided by what is
    // buffered) handed the first partition all 60.
    const source = openSource(kafka, admin, topic, ends, 10);
    try {
      await source.start();
      await awaitAssignment(source);
      await source.position(new Map([...ends.keys()].map((p) => [p, 0n])));
      const reader = new Reader(ends, 60);
      await reader.read(source);
      reader.assertComplete(source);
      // While others still have records left, no partition takes more than its proportional
      // share of the limit (rounded up; 1 when the others' shares are not fetched).
      reader.cuts.forEach((cut, i) => {
        const live = [...cut.leftBefore].filter(([, l]) => l > 0);
        if (live.length < 2) return;
        for (const [p, n] of cut.taken) {
          if (n === 0) continue;
          const q = quota(cut, p, 60);
          assert.ok(
            n <= Math.max(1, Math.ceil(q)),
            `slice ${i}: p${p} took ${n}, its share is ${q.toFixed(1)}`,
          );
        }
      });
    } finally {
      await source.close();
    }
  });
});

Deno.test("group source: reset() hands every partition back; repositioned, reading goes on with no gap or duplicate", async () => {
  await withSkewedTopic("ps-group-reset", async (kafka, admin, topic, ends) => {
    const source = openSource(kafka, admin, topic, ends, 60);
    try {
      await source.start();
      await awaitAssignment(source);
      await source.position(new Map([...ends.keys()].map((p) => [p, 0n])));
      const reader = new Reader(ends, 60);
      assert.equal(await reader.read(source, 5), 5);
      const handed = new Map(reader.pos);
      assert.deepEqual(
        [...source.positions()].sort((a, b) => a[0] - b[0]),
        [...handed].sort((a, b) => a[0] - b[0]),
        "positions() is what was handed out",
      );
      assert.ok([...handed.values()].some((n) => n > 0n));
      assert.ok([...handed].some(([p, n]) => n < ends.get(p)!), "not everything is read yet");

      source.reset();
      assert.deepEqual(source.unpositioned(), [0, 1, 2, 3, 4, 5]);
      assert.equal(source.finished(), false);
      assert.equal(
        await source.next({ maxOffsets: 60, lingerMs: 0 }),
        undefined,
        "no slice while partitions wait for their position",
      );

      await source.position(handed);
      assert.deepEqual(source.unpositioned(), []);
      const before = reader.cuts.length;
      await reader.read(source);
      // The Reader checked each range starts where the last one ended; the first slices after
      // the reset start exactly at the handed-out positions.
      const after = reader.cuts.slice(before);
      assert.ok(after.length > 0);
      reader.assertComplete(source);
    } finally {
      await source.close();
    }
  });
});
