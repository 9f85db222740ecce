/**
 * notebooks/kafka-consumer-batch.ts on the real broker: offset and timestamp ranges, the table
 * view with counts per partition, no consumer-group offsets, clear one-line failures.
 */
import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { createTopic, deleteTopics, testKafka, uniqueName } from "../support/kafka.ts";
import { jsonLines, runNotebook } from "../support/notebooks.ts";

interface Row {
  key: string | null;
  value: string | null;
  partition: number;
  offset: number;
  timestamp: string;
}

/** 3 partitions × 10 records, with explicit timestamps 1000 ms apart per partition. */
async function seed(topic: string, base: number): Promise<void> {
  const kafka = testKafka();
  await createTopic(kafka, topic, 3);
  const producer = kafka.producer();
  await producer.connect();
  for (let p = 0; p < 3; p++) {
    await producer.send({
      topic,
      messages: Array.from({ length: 10 }, (_, i) => ({
        partition: p,
        key: `k${p}-${i}`,
        value: Buffer.from(`v${p}-${i}`),
        timestamp: String(base + i * 1000),
      })),
    });
  }
  await producer.disconnect();
}

Deno.test("batch consumer: offset ranges, timestamp ranges, and nothing committed to a group", async () => {
  const topic = uniqueName("batch");
  const base = Date.UTC(2026, 0, 1);
  try {
    await seed(topic, base);
    const all = await runNotebook("kafka-consumer-batch", ["--topic", topic, "--json"]);
    assert.equal(all.code, 0, all.stderr);
    const rows = jsonLines<Row>(all.stdout);
    assert.equal(rows.length, 30);
    assert.deepEqual(
      rows.filter((r) => r.partition === 1).map((r) => [r.offset, r.key, r.value]),
      Array.from({ length: 10 }, (_, i) => [i, `k1-${i}`, `v1-${i}`]),
    );
    assert.equal(rows[0].timestamp.slice(0, 10), "2026-01-01");

    // Per-partition JSON start (p0 from 7, others from the beginning), global end offset 9.
    const part = await runNotebook("kafka-consumer-batch", [
      "--topic",
      topic,
      "--json",
      "--from",
      '{"0":7}',
      "--to",
      "9",
    ]);
    assert.equal(part.code, 0, part.stderr);
    const got = jsonLines<Row>(part.stdout).map((r) => `${r.partition}:${r.offset}`).sort();
    const want = [
      "0:7",
      "0:8",
      ...[1, 2].flatMap((p) => Array.from({ length: 9 }, (_, i) => `${p}:${i}`)),
    ]
      .sort();
    assert.deepEqual(got, want);

    // Timestamps: [base+3s, base+6s) holds offsets 3, 4, 5 of every partition.
    const byTime = await runNotebook("kafka-consumer-batch", [
      "--topic",
      topic,
      "--json",
      "--from-timestamp",
      new Date(base + 3000).toISOString(),
      "--to-timestamp",
      String(base + 6000),
    ]);
    assert.equal(byTime.code, 0, byTime.stderr);
    assert.deepEqual(
      jsonLines<Row>(byTime.stdout).map((r) => `${r.partition}:${r.offset}`).sort(),
      [0, 1, 2].flatMap((p) => [3, 4, 5].map((o) => `${p}:${o}`)).sort(),
    );

    // No consumer group keeps offsets for this topic.
    const admin = testKafka().admin();
    await admin.connect();
    try {
      const { groups } = await admin.listGroups();
      for (const g of groups.filter((g) => g.groupId.startsWith("range-reader-"))) {
        const offsets = await admin.fetchOffsets({ groupId: g.groupId, topics: [topic] });
        for (const t of offsets) {
          for (const p of t.partitions) {
            assert.equal(p.offset, "-1", `group ${g.groupId} committed`);
          }
        }
      }
    } finally {
      await admin.disconnect();
    }
  } finally {
    await deleteTopics(testKafka(), [topic]);
  }
});

Deno.test("batch consumer table view: first N rows, the Spark columns, counts per partition", async () => {
  const topic = uniqueName("batch-table");
  try {
    await seed(topic, Date.UTC(2026, 0, 1));
    const res = await runNotebook("kafka-consumer-batch", ["--topic", topic, "--limit", "4"]);
    assert.equal(res.code, 0, res.stderr);
    const lines = res.stdout.split("\n");
    assert.match(
      lines[1],
      /\| key +\| value +\| topic +\| partition \| offset \| timestamp +\| timestampType \|/,
    );
    const dataRows = lines.filter((l) => /^\| k\d-\d/.test(l));
    assert.equal(dataRows.length, 4);
    assert.match(res.stdout, /only showing the first 4 of 30 rows/);
    const counts = lines.filter((l) => /^\| +\d \| +\d+ \|$/.test(l)).map((l) =>
      l.replace(/\s/g, "")
    );
    assert.deepEqual(counts, ["|0|10|", "|1|10|", "|2|10|"]);
  } finally {
    await deleteTopics(testKafka(), [topic]);
  }
});

Deno.test("batch consumer: a missing topic and an unreachable broker fail in one line with exit 2", async () => {
  const missing = await runNotebook("kafka-consumer-batch", ["--topic", uniqueName("missing")]);
  assert.equal(missing.code, 2);
  const lastErr = missing.stderr.trim().split("\n").at(-1)!;
  assert.match(
    lastErr,
    /^error: topic 'test-missing-[0-9a-f]+' does not exist on .*deno task produce/,
  );
  assert.ok(!/\n\s+at /.test(missing.stderr), "no stack trace");

  const down = await runNotebook("kafka-consumer-batch", ["--bootstrap-servers", "127.0.0.1:1"]);
  assert.equal(down.code, 2);
  assert.match(down.stderr, /error: cannot reach Kafka at 127\.0\.0\.1:1/);
  assert.ok(!/\n\s+at /.test(down.stderr), "no stack trace");

  const bad = await runNotebook("kafka-consumer-batch", ["--from", "soonish"]);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /error: offset 'soonish' is not earliest, latest/);
});
