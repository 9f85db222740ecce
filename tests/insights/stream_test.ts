/**
 * lib/insights/stream.ts in process on the real broker: a second instance of the same query
 * fences the first (which stops with FencedError) and the output still holds every match once.
 */
import assert from "node:assert/strict";
import { Partitioners } from "kafkajs";
import "../../lib/kafka/client.ts";
import { FencedError } from "../../lib/kafka/sink.ts";
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

Deno.test("two instances of one query: the newer fences the older; every match is published once", async () => {
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
    parseStreamOptions({ "max-offsets-per-trigger": "50", "available-now": availableNow }, {
      queryName,
      sink: "kafka",
    });
  const base: ProducerStreamInput = {
    kafka,
    topic: input,
    outputTopic: output,
    deadLetterTopic: `${output}_dead_letters`,
    mode: { kind: "filter", filter: { city: "Chicago" } },
    options: options(false),
    lingerMs: 50,
  };
  try {
    await send(0, 300);
    let seen = 0;
    let firstBatches!: () => void;
    const ready = new Promise<void>((r) => (firstBatches = r));
    const a = runProducerStream({
      ...base,
      onBatch: (_p, summary) => {
        seen = summary.records;
        if (seen >= 300) firstBatches();
      },
    });
    const aOutcome = a.then(() => "finished", (e) => e);
    await ready;
    // Instance B: same query name; it fences A, then processes what is there.
    const b = await runProducerStream({ ...base, options: options(true) });
    assert.equal(b.input, 0); // A had committed everything before B started
    await send(300, 600);
    // A's next transaction fails: it was fenced.
    const outcome = await aOutcome;
    assert.ok(outcome instanceof FencedError, String(outcome));
    const c = await runProducerStream({ ...base, options: options(true) });
    assert.equal(c.input, 300);

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
