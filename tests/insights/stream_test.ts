/**
 * lib/insights/stream.ts in process on the real broker: a second instance of the same query
 * joins the first through the consumer group, neither is fenced (each input partition has its
 * own transactional id), and the output still holds every match once.
 */
import assert from "node:assert/strict";
import { Partitioners } from "kafkajs";
import "../../lib/kafka/client.ts";
import { readRange, resolveRange } from "../../lib/kafka/source.ts";
import {
  type ProducerStreamInput,
  runProducerStream,
  TopicLoopError,
} from "../../lib/insights/stream.ts";
import { parseStreamOptions } from "../../lib/engine/options.ts";
import { createTopic, deleteTopics, testKafka, uniqueName, withAdmin } from "../support/kafka.ts";

const order = (id: number, city: string) =>
  JSON.stringify({
    order_id: id,
    customer_id: id,
    customer_fname: "A",
    customer_lname: "B",
    city,
    state: "IL",
    pincode: 1,
    line_items: [{
      order_item_id: id,
      order_item_product_id: 1,
      order_item_quantity: 1,
      order_item_product_price: 1,
      order_item_subtotal: 1,
    }],
  });

Deno.test("two instances of one query share the partitions: neither fences the other; every match is published once", async () => {
  const kafka = testKafka();
  const input = uniqueName("ps-stream-in");
  const output = uniqueName("ps-stream-out");
  await createTopic(kafka, input, 2);
  const producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner });
  await producer.connect();
  const send = (from: number, to: number) =>
    producer.send({
      topic: input,
      messages: Array.from({ length: to - from }, (_, i) => ({
        key: String(from + i),
        value: order(from + i, (from + i) % 3 === 0 ? "Chicago" : "Austin"),
      })),
    });
  const queryName = uniqueName("ps-stream-query");
  const options = (availableNow: boolean) =>
    parseStreamOptions({
      "max-offsets-per-trigger": "50",
      "available-now": availableNow,
      "session-timeout-ms": "6000",
    }, { queryName, sink: "kafka" });
  const base: ProducerStreamInput = {
    kafka,
    topic: input,
    outputTopic: output,
    deadLetterTopic: `${output}_dead_letters`,
    mode: { kind: "filter", filter: { city: "Chicago" } },
    options: options(false),
    lingerMs: 50,
  };
  const stopA = new AbortController();
  const stopB = new AbortController();
  try {
    await send(0, 300);
    const records = { a: 0, b: 0 };
    const waitFor = async (what: string, ok: () => boolean) => {
      for (let i = 0; i < 600 && !ok(); i++) await new Promise((r) => setTimeout(r, 100));
      assert.ok(ok(), `${what} (A ${records.a}, B ${records.b})`);
    };
    const a = runProducerStream({
      ...base,
      signal: stopA.signal,
      onBatch: (_p, summary) => (records.a = summary.records),
    });
    await waitFor("A reads the first 300", () => records.a >= 300);
    // Instance B: same query name; it joins the group and takes a partition over.
    const b = runProducerStream({
      ...base,
      signal: stopB.signal,
      onBatch: (_p, summary) => (records.b = summary.records),
    });
    await new Promise((r) => setTimeout(r, 3000));
    await send(300, 600);
    await waitFor("A and B together read all 600", () => records.a + records.b >= 600);
    stopA.abort();
    stopB.abort();
    const [ta, tb] = await Promise.all([a, b]);
    // Both ran to their stop (no fencing), and each read a share of the new records.
    assert.ok(tb.input > 0 && ta.input > 300, `A ${ta.input}, B ${tb.input}`);
    assert.equal(ta.input + tb.input, 600);
    const c = await runProducerStream({ ...base, options: options(true) });
    assert.equal(c.input, 0);

    const ranges = await withAdmin(
      kafka,
      (ad) => resolveRange(ad, output, { kind: "earliest" }, { kind: "latest" }),
    );
    const keys: number[] = [];
    for await (const batch of readRange(kafka, output, ranges, { timestampType: 0 })) {
      for (const r of batch) keys.push(Number(new TextDecoder().decode(r.key!)));
    }
    const expected = Array.from({ length: 600 }, (_, i) => i).filter((i) => i % 3 === 0);
    assert.deepEqual(keys.sort((x, y) => x - y), expected);
  } finally {
    await producer.disconnect();
    stopA.abort();
    stopB.abort();
    await deleteTopics(kafka, [
      input,
      output,
      `${output}_dead_letters`,
      `${queryName}-changelog`,
    ]);
  }
});

Deno.test("a stream that would read its own output is refused before it starts", async () => {
  await assert.rejects(
    runProducerStream({
      kafka: testKafka(),
      topic: "orders",
      outputTopic: "orders",
      deadLetterTopic: "orders_dead_letters",
      mode: { kind: "filter", filter: {} },
      options: parseStreamOptions({}, { queryName: "q", sink: "kafka" }),
    }),
    TopicLoopError,
  );
});
