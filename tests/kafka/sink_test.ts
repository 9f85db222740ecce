/**
 * lib/kafka/sink.ts on the real broker: a batch's records and offsets commit together; a newer
 * instance with the same transactional id fences the older one, whose open batch is aborted.
 */
import assert from "node:assert/strict";
import "../../lib/kafka/client.ts";
import {
  committedOffsets,
  FencedError,
  openTransactionalSink,
  type TransactionalSink,
} from "../../lib/kafka/sink.ts";
import { readRange, resolveRange } from "../../lib/kafka/source.ts";
import { createTopic, deleteTopics, testKafka, uniqueName, withAdmin } from "../support/kafka.ts";
import type { Kafka } from "kafkajs";

async function committedValues(kafka: Kafka, topic: string): Promise<string[]> {
  const ranges = await withAdmin(
    kafka,
    (a) => resolveRange(a, topic, { kind: "earliest" }, { kind: "latest" }),
  );
  const out: string[] = [];
  for await (const b of readRange(kafka, topic, ranges, { timestampType: 0 })) {
    for (const r of b) out.push(new TextDecoder().decode(r.value!));
  }
  return out;
}

Deno.test("sink: records + offsets commit atomically; a newer instance fences the zombie and aborts its batch", async () => {
  const kafka = testKafka();
  const input = uniqueName("ps-sink-in");
  const output = uniqueName("ps-sink-out");
  const group = uniqueName("ps-sink-query");
  await createTopic(kafka, input, 1);
  await createTopic(kafka, output, 1);
  let b: TransactionalSink | undefined;
  const a = await openTransactionalSink(kafka, { transactionalId: group });
  try {
    const offsets = (n: bigint) => ({
      groupId: group,
      topic: input,
      partitions: [{ partition: 0, offset: n }],
    });
    await a.commit([{ topic: output, messages: [{ value: "a1" }, { value: "a2" }] }], offsets(2n));
    // The zombie's batch is sent, then a new instance starts before it commits.
    await assert.rejects(
      a.commit([{ topic: output, messages: [{ value: "zombie" }] }], offsets(3n), {
        afterSend: async () => {
          b = await openTransactionalSink(kafka, { transactionalId: group });
        },
      }),
      FencedError,
    );
    await b!.commit([{ topic: output, messages: [{ value: "b1" }] }], offsets(3n));
    assert.deepEqual(await committedValues(kafka, output), ["a1", "a2", "b1"]);
    // The offsets show once the commit markers are written (commit() returns before that):
    // poll a little rather than race them.
    let pos = new Map<number, bigint>();
    for (let i = 0; i < 50 && pos.get(0) !== 3n; i++) {
      if (i > 0) await new Promise((r) => setTimeout(r, 100));
      pos = await withAdmin(kafka, (admin) => committedOffsets(admin, group, input));
    }
    assert.deepEqual([...pos], [[0, 3n]]);
    // The fenced instance stays fenced.
    await assert.rejects(a.commit([], offsets(9n)), FencedError);
  } finally {
    await a.close();
    await b?.close();
    await deleteTopics(kafka, [input, output]);
  }
});
