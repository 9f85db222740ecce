import assert from "node:assert/strict";
import { join } from "node:path";
import { cleanedSink } from "../../lib/orders/sinks.ts";
import type { RawChunk } from "../../lib/kafka/raw.ts";
import { dataFiles, readLines } from "../../lib/orders/lines.ts";
import { flattenOrders, type OrderRecord, parseOrder } from "../../lib/orders/mod.ts";
import { malformedOrders } from "../fixtures/malformed_orders.ts";
import { canonRows } from "../support/canon.ts";

Deno.test("cleaned sink build: a batch larger than one flatten chunk equals one flattening of its good records; every bad one is a dead letter", async () => {
  const values: (Uint8Array | null)[] = [];
  for await (const l of readLines(await dataFiles())) values.push(l.bytes);
  const corpus = malformedOrders();
  // Mix the corpus in every 500 records; two partitions, offsets from 100.
  const mixed: (Uint8Array | null)[] = [];
  values.forEach((v, i) => {
    mixed.push(v);
    if (i % 500 === 0) mixed.push(corpus[(i / 500) % corpus.length].bytes);
  });
  const chunks: RawChunk[] = [0, 1].map((partition) => ({
    topic: "t",
    partition,
    timestampType: 0,
    messages: mixed.filter((_, i) => i % 2 === partition).map((value, i) => ({
      key: null,
      value,
      offset: String(100 + i),
      timestamp: String(1_700_000_000_000 + i),
    })),
  }));
  const dir = await Deno.makeTempDir();
  try {
    const sink = await cleanedSink(join(dir, "c"), join(dir, "d"));
    const out = sink.build(chunks, () => 0);
    // Independent expectation: every good record flattened in one go, in partition order.
    const good: OrderRecord[] = [];
    let bad = 0;
    for (const c of chunks) {
      for (const m of c.messages) {
        const r = parseOrder(m.value);
        if (r.ok) {
          good.push({
            order: r.order,
            partition: c.partition,
            offset: m.offset,
            timestampMs: Number(m.timestamp),
          });
        } else bad++;
      }
    }
    assert.ok(good.length > 6000 && bad > 0, `${good.length} good, ${bad} bad`);
    const [cleaned, dead] = out.tables;
    assert.ok(cleaned.batches.length > 1, "flattened in chunks");
    const drop = (rows: unknown[]) =>
      rows.map((r) => ({ ...(r as Record<string, unknown>), ingested_at: 0 }));
    assert.deepEqual(
      drop(canonRows(cleaned)),
      drop(canonRows(flattenOrders(good, 0))),
    );
    assert.equal(dead.numRows, bad);
    assert.equal(out.deadLetters, bad);
    // Records in = orders cleaned + dead letters.
    const orders = new Set(
      canonRows(cleaned).map((r) => {
        const x = r as Record<string, unknown>;
        return `${x.kafka_partition}:${x.kafka_offset}`;
      }),
    ).size;
    assert.equal(orders + dead.numRows, mixed.length);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
