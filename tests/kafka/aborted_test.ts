// read_committed where transactions interleave on one partition (lib/kafka/_aborted.ts): the
// filter unit by unit, and on the broker two transactions aborted in the other order than they
// began (kafkajs 2.2.4 alone hands the first one's records out as committed).
import assert from "node:assert/strict";
import type { Kafka } from "kafkajs";
import {
  type AbortedTransaction,
  dropAborted,
  type FetchedRecord,
} from "../../lib/kafka/_aborted.ts";
import { readRange, resolveRange } from "../../lib/kafka/source.ts";
import { createTopic, deleteTopics, testKafka, uniqueName, withAdmin } from "../support/kafka.ts";

const rec = (
  offset: number,
  producerId: string,
  o: { control?: "abort" | "commit"; tx?: boolean } = {},
): FetchedRecord => ({
  offset: String(offset),
  key: o.control ? Uint8Array.of(0, 0, 0, o.control === "abort" ? 0 : 1) : null,
  isControlRecord: !!o.control,
  batchContext: { producerId, inTransaction: o.tx ?? true },
});
const offsets = (rs: FetchedRecord[]) => rs.map((r) => Number(r.offset));

Deno.test("aborted filter: interleaved transactions, any list order, a fetch that starts inside them", () => {
  const records = [
    rec(0, "7"), // 7 aborted
    rec(1, "8"), // 8 aborted
    rec(2, "9"), // 9 committed
    rec(3, "8", { control: "abort" }),
    rec(4, "7"),
    rec(5, "9", { control: "commit" }),
    rec(6, "7", { control: "abort" }),
    rec(7, "5", { tx: false }), // not transactional
    rec(8, "7"), // 7's next transaction, committed
    rec(9, "7", { control: "commit" }),
  ];
  const list: AbortedTransaction[] = [
    { producerId: "8", firstOffset: "1" },
    { producerId: "7", firstOffset: "0" },
  ];
  assert.deepEqual(offsets(dropAborted(records, list)), [2, 3, 5, 6, 7, 8, 9]);
  // The same list sorted gives the same answer; no list keeps everything.
  assert.deepEqual(offsets(dropAborted(records, [...list].reverse())), [2, 3, 5, 6, 7, 8, 9]);
  assert.equal(dropAborted(records, []).length, records.length);
  // A fetch from offset 4: both transactions began before it (two entries to take at once).
  assert.deepEqual(offsets(dropAborted(records.slice(4), list)), [5, 6, 7, 8, 9]);
});

async function read(kafka: Kafka, topic: string): Promise<string[]> {
  const ranges = await withAdmin(
    kafka,
    (admin) => resolveRange(admin, topic, { kind: "earliest" }, { kind: "latest" }),
  );
  const out: string[] = [];
  for await (const batch of readRange(kafka, topic, ranges, { timestampType: 0 })) {
    for (const r of batch) out.push(new TextDecoder().decode(r.value!));
  }
  return out;
}

Deno.test({
  name:
    "aborted filter on the broker: two open transactions aborted by fencing, the later one first; a committed one after",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const kafka = testKafka();
    const topic = uniqueName("aborted");
    await createTopic(kafka, topic, 1);
    const producer = (id: string) =>
      kafka.producer({ transactionalId: id, idempotent: true, maxInFlightRequests: 1 });
    const opened: { disconnect(): Promise<void> }[] = [];
    try {
      const one = producer(`${topic}-one`), two = producer(`${topic}-two`);
      opened.push(one, two);
      await one.connect();
      await two.connect();
      const t1 = await one.transaction();
      await t1.send({ topic, messages: [{ value: "one-aborted-a" }] });
      const t2 = await two.transaction();
      await t2.send({ topic, messages: [{ value: "two-aborted" }] });
      await t1.send({ topic, messages: [{ value: "one-aborted-b" }] });
      // New instances fence them: "two" is aborted first, then "one" (which began first).
      for (const id of [`${topic}-two`, `${topic}-one`]) {
        const fence = producer(id);
        opened.push(fence);
        await fence.connect();
        await (await fence.transaction()).abort();
      }
      const three = producer(`${topic}-three`);
      opened.push(three);
      await three.connect();
      const t3 = await three.transaction();
      await t3.send({ topic, messages: [{ value: "three-committed" }] });
      await t3.commit();
      // A commit returns before its markers are written: until then read_committed stops short.
      let seen: string[] = [];
      for (let i = 0; i < 50 && !seen.includes("three-committed"); i++) {
        if (i > 0) await new Promise((r) => setTimeout(r, 200));
        seen = await read(kafka, topic);
      }
      assert.deepEqual(seen, ["three-committed"]);
    } finally {
      for (const p of opened) await p.disconnect().catch(() => {});
      await deleteTopics(kafka, [topic]);
    }
  },
});
