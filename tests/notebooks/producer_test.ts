/**
 * End to end on the real broker: notebooks/producer.ts sends data/, notebooks/kafka-consumer-batch.ts
 * reads it back. Every order arrives once, keyed by customer id, on the partition the Java client
 * would pick, in file order per customer; malformed lines are reported and skipped.
 */
import assert from "node:assert/strict";
import { dataFiles } from "../../lib/orders/lines.ts";
import { deleteTopics, testKafka, uniqueName } from "../support/kafka.ts";
import { javaPartitions } from "../support/java_partitioner.ts";
import { jsonLines, runNotebook } from "../support/notebooks.ts";

interface Row {
  key: string | null;
  value: string | null;
  topic: string;
  partition: number;
  offset: number;
  timestamp: string;
  timestampType: number;
}

async function inputLines(): Promise<string[]> {
  const lines: string[] = [];
  for (const f of await dataFiles()) {
    for (const l of (await Deno.readTextFile(f)).split("\n")) if (l.trim() !== "") lines.push(l);
  }
  return lines;
}

Deno.test("producer sends data/ once each, key = customer_id, Java partitions, file order per customer", async () => {
  const topic = uniqueName("producer");
  try {
    const sent = await runNotebook("producer", ["--topic", topic, "--quiet"]);
    assert.equal(sent.code, 0, sent.stderr);
    const input = await inputLines();
    assert.equal(input.length, 6000);
    assert.deepEqual(JSON.parse(sent.stdout.trim().split("\n").at(-1)!), {
      sent: input.length,
      skipped: 0,
      read: input.length,
    });
    assert.match(sent.stderr, new RegExp(`${topic}: 3 partitions`));

    const read = await runNotebook("kafka-consumer-batch", ["--topic", topic, "--json"]);
    assert.equal(read.code, 0, read.stderr);
    const rows = jsonLines<Row>(read.stdout);
    assert.equal(rows.length, input.length);

    // Exactly once: the multiset of values equals the input lines.
    assert.deepEqual(rows.map((r) => r.value).sort(), [...input].sort());
    // Key = customer_id as a string; Kafka metadata as the seed shows it.
    for (const r of rows) {
      assert.equal(r.key, String(JSON.parse(r.value!).customer_id));
      assert.equal(r.topic, topic);
      assert.equal(r.timestampType, 0);
      assert.ok(!Number.isNaN(Date.parse(r.timestamp)));
    }
    // One customer, one partition, and that partition is the Java client's choice.
    const partitionOf = new Map<string, number>();
    for (const r of rows) {
      const seen = partitionOf.get(r.key!);
      assert.ok(seen === undefined || seen === r.partition, `customer ${r.key} on 2 partitions`);
      partitionOf.set(r.key!, r.partition);
    }
    const keys = [...partitionOf.keys()];
    const java = await javaPartitions(keys, [3]);
    const wrong = keys.filter((k) => java.get(k)!.partitions["3"] !== partitionOf.get(k));
    assert.deepEqual(wrong, [], "partitions differ from the Java client's");
    assert.equal(new Set(partitionOf.values()).size, 3);

    // In file order per customer: offsets grow with the line's position in the input.
    const position = new Map(input.map((l, i) => [l, i]));
    const lastByKey = new Map<string, { pos: number; offset: number }>();
    for (const r of [...rows].sort((a, b) => a.partition - b.partition || a.offset - b.offset)) {
      const pos = position.get(r.value!)!;
      const prev = lastByKey.get(r.key!);
      if (prev) {
        assert.ok(pos > prev.pos, `customer ${r.key}: order at line ${pos} before ${prev.pos}`);
      }
      lastByKey.set(r.key!, { pos, offset: r.offset });
    }
    const multi = [...new Set(rows.map((r) => r.key))].filter((k) =>
      rows.filter((r) => r.key === k).length > 1
    );
    assert.ok(multi.length > 100, "the data set should have customers with several orders");
  } finally {
    await deleteTopics(testKafka(), [topic]);
  }
});

Deno.test("a file with malformed lines: good ones sent, each bad one reported as file:line with its reason", async () => {
  const topic = uniqueName("producer-bad");
  const dir = await Deno.makeTempDir();
  try {
    const good = (await inputLines()).slice(0, 5);
    const lines = [
      good[0],
      "{not json",
      good[1],
      '{"order_id": 9, "customer_id": "12", "line_items": []}',
      "",
      good[2],
      "[1,2,3]",
      good[3],
      '{"order_id":10,"customer_id":5,"line_items":[{"order_item_id":1,"order_item_product_id":2,"order_item_quantity":0,"order_item_product_price":1.5,"order_item_subtotal":0}]}',
      good[4],
    ];
    const file = `${dir}/orders.json`;
    await Deno.writeTextFile(file, lines.join("\n") + "\n");
    const res = await runNotebook("producer", ["--topic", topic, "--quiet", file]);
    assert.equal(res.code, 0, res.stderr);
    assert.deepEqual(JSON.parse(res.stdout.trim().split("\n").at(-1)!), {
      sent: 5,
      skipped: 4,
      read: 9,
    });
    const reported = res.stderr.split("\n").filter((l) => l.startsWith(`${file}:`));
    assert.deepEqual(reported.map((l) => l.split(": skipped")[0]), [
      `${file}:2`,
      `${file}:4`,
      `${file}:7`,
      `${file}:9`,
    ]);
    assert.match(reported[0], /\(not_json\)/);
    assert.match(reported[1], /\(wrong_type\).*customer_id/);
    assert.match(reported[2], /\(not_object\)/);
    assert.match(reported[3], /\(non_positive_quantity\)/);

    const read = await runNotebook("kafka-consumer-batch", ["--topic", topic, "--json"]);
    assert.equal(read.code, 0, read.stderr);
    assert.deepEqual(jsonLines<Row>(read.stdout).map((r) => r.value).sort(), [...good].sort());
  } finally {
    await deleteTopics(testKafka(), [topic]);
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("producer reads stdin with -", async () => {
  const topic = uniqueName("producer-stdin");
  try {
    const good = (await inputLines()).slice(0, 3);
    const res = await runNotebook("producer", ["--topic", topic, "--quiet", "-"], {
      stdin: good.join("\n"),
    });
    assert.equal(res.code, 0, res.stderr);
    assert.equal(JSON.parse(res.stdout.trim().split("\n").at(-1)!).sent, 3);
  } finally {
    await deleteTopics(testKafka(), [topic]);
  }
});
