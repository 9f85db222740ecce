// End-to-end: the cleaned stream notebook (Kafka ▶ orders_cleaned + orders_dead_letters).
import assert from "node:assert/strict";
import { join } from "node:path";
import { Buffer } from "node:buffer";
import { dataFiles } from "../../lib/orders/lines.ts";
import { malformedOrders } from "../fixtures/malformed_orders.ts";
import { deleteTopics, testKafka } from "../support/kafka.ts";
import {
  baseArgs,
  cleanedKey,
  expectedCleaned,
  freshTopic,
  orderRecords,
  produce,
  ROOT,
  runNotebook,
  tableRows,
  tableVersion,
  tempLakehouse,
  type TestRecord,
} from "../support/stream.ts";
import { deltalakeAvailable, pythonPath } from "../support/python.ts";

async function deltaRsRows(table: string): Promise<number> {
  const out = await new Deno.Command(pythonPath(), {
    args: [
      join(ROOT, "tests", "interop", "deltalake_dump.py"),
      table,
      String(await tableVersion(table)),
    ],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const v = JSON.parse(new TextDecoder().decode(out.stdout)).versions[0];
  assert.equal(v.error, undefined, v.error);
  assert.equal(v.rowsError, undefined, v.rowsError);
  return v.rows.length;
}

Deno.test("cleaned stream: good orders flattened, every bad record dead-lettered with its reason, exactly once", async () => {
  const topic = await freshTopic("stream-cleaned", 6);
  const { dir, cleanup } = await tempLakehouse();
  const cleaned = `${dir}/orders_cleaned`;
  const dead = `${dir}/orders_dead_letters`;
  try {
    const good = await orderRecords(await dataFiles(join(ROOT, "data")));
    const corpus = malformedOrders();
    // Interleave the corpus with the good orders, spread over the partitions.
    const records: TestRecord[] = [];
    const every = Math.floor(good.length / corpus.length);
    good.forEach((r, i) => {
      records.push(r);
      if (i % every === 0 && i / every < corpus.length) {
        const c = corpus[i / every];
        records.push({ key: `corpus-${i / every}`, value: c.bytes });
      }
    });
    await produce(topic, records);
    const args = [
      ...baseArgs(topic),
      "--table",
      cleaned,
      "--dead-letters",
      dead,
      "--available-now",
      "--progress",
      "json",
      "--max-offsets-per-trigger",
      "3000",
      "--query-name",
      "cleaned_test",
    ];
    const first = await runNotebook("cleaned", args);
    assert.equal(first.code, 0, first.stderr);
    assert.equal(first.summary?.records, records.length);

    const goodValues = [
      ...good.map((r) => r.value as string),
      ...corpus.filter((c) => c.expected === "ok").map((c) => new TextDecoder().decode(c.bytes!)),
    ];
    const rows = await tableRows(cleaned);
    assert.deepEqual(rows.map(cleanedKey).sort(), expectedCleaned(goodValues));
    const lineage = new Set(rows.map((r) => `${r.kafka_partition}:${r.kafka_offset}:${r.item_id}`));
    assert.equal(lineage.size, rows.length, "no line item twice");

    const dl = await tableRows(dead);
    const bad = corpus.filter((c) => c.expected !== "ok");
    assert.equal(dl.length, bad.length);
    const byKey = new Map(dl.map((r) => [r.key as string, r]));
    corpus.forEach((c, i) => {
      const r = byKey.get(`corpus-${i}`);
      if (c.expected === "ok") {
        assert.equal(r, undefined, `${c.name} must not be dead-lettered`);
        return;
      }
      assert.ok(r, `${c.name} is in dead letters`);
      assert.equal(r.reason, c.expected, c.name);
      if (c.field) assert.equal(r.field, c.field, c.name);
      assert.ok(String(r.error).length > 0);
      assert.equal(r.topic, topic);
      if (c.bytes === null) {
        assert.equal(r.value, null);
        assert.equal(r.value_base64, null);
      } else if (c.expected === "invalid_utf8") {
        assert.equal(r.value, null);
        assert.equal(r.value_base64, Buffer.from(c.bytes).toString("base64"));
      } else {
        assert.equal(r.value, new TextDecoder().decode(c.bytes));
      }
    });
    // Records in = orders cleaned + dead letters, per batch and in total.
    const orders = new Set(rows.map((r) => `${r.kafka_partition}:${r.kafka_offset}`)).size;
    assert.equal(orders + dl.length, records.length);
    for (const p of first.progress) {
      const sink = p.sink as Record<string, { rows: number }>;
      assert.ok(sink.orders_dead_letters, "the dead-letter table commits every batch");
      assert.equal(sink.orders_dead_letters.rows, p.deadLetters);
    }

    // Again: nothing new, no commit on either table.
    const [vc, vd] = [await tableVersion(cleaned), await tableVersion(dead)];
    const again = await runNotebook("cleaned", args);
    assert.equal(again.code, 0, again.stderr);
    assert.equal(again.summary?.batches, 0);
    assert.deepEqual([await tableVersion(cleaned), await tableVersion(dead)], [vc, vd]);

    // More: only the new rows.
    await produce(topic, [good[0], { key: "late-bad", value: "not json" }]);
    const third = await runNotebook("cleaned", [...args, "--worker"]); // the sink worker path
    assert.equal(third.code, 0, third.stderr);
    assert.equal(third.summary?.records, 2);
    const rows2 = await tableRows(cleaned);
    const firstOrderItems = JSON.parse(good[0].value as string).line_items.length;
    assert.equal(rows2.length, rows.length + firstOrderItems);
    const dl2 = await tableRows(dead);
    assert.equal(dl2.length, dl.length + 1);
    assert.equal(dl2.find((r) => r.key === "late-bad")?.reason, "not_json");

    if (await deltalakeAvailable()) {
      assert.equal(await deltaRsRows(cleaned), rows2.length);
      assert.equal(await deltaRsRows(dead), dl2.length);
    }
  } finally {
    await cleanup();
    await deleteTopics(testKafka(), [topic]);
  }
});
