import assert from "node:assert/strict";
import { join } from "node:path";
import { Schema } from "apache-arrow";
import { createTable, read, snapshot } from "../../lib/delta/table.ts";
import { deadLetterSchema } from "../../lib/orders/dead_letters.ts";
import { rawSchema } from "../../lib/orders/raw.ts";
import { cleanedSink, rawSink } from "../../lib/orders/sinks.ts";
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

Deno.test("sinks: tables created before the new columns gain them once, on open; the sinks then write them", async () => {
  const dir = await Deno.makeTempDir();
  const enc = new TextEncoder();
  try {
    const raw = join(dir, "orders_raw");
    const dead = join(dir, "orders_dead_letters");
    const without = (s: Schema, names: string[]) =>
      new Schema(s.fields.filter((f) => !names.includes(f.name)));
    await createTable(raw, without(rawSchema, ["key_bytes", "value_bytes"]));
    await createTable(dead, without(deadLetterSchema, ["key_base64"]));
    const sink = await rawSink(raw);
    const schemaOf = async (t: string) => (await snapshot(t)).schema.fields.map((f) => f.name);
    assert.deepEqual(await schemaOf(raw), rawSchema.fields.map((f) => f.name));
    assert.equal((await snapshot(raw)).version, 1);
    await rawSink(raw); // opened again (as the engine's worker does): nothing to add
    assert.equal((await snapshot(raw)).version, 1);
    const badKey = new Uint8Array([0x80]);
    const chunk: RawChunk = {
      topic: "t",
      partition: 0,
      timestampType: 0,
      messages: [{ key: badKey, value: enc.encode("not json"), offset: "0", timestamp: "0" }],
    };
    await sink.targets[0].table.append(sink.build([chunk], () => 0).tables[0]);
    const rawRow = (await read(raw)).get(0)!;
    assert.deepEqual([...rawRow.key_bytes], [0x80]);
    assert.equal(rawRow.value_bytes, null);

    const c = await cleanedSink(join(dir, "orders_cleaned"), dead);
    assert.deepEqual(await schemaOf(dead), deadLetterSchema.fields.map((f) => f.name));
    const out = c.build([chunk], () => 0);
    await c.targets[1].table.append(out.tables[1]);
    const deadRow = (await read(dead)).get(0)!;
    assert.equal(deadRow.key, null);
    assert.equal(deadRow.key_base64, "gA==");
    assert.equal(deadRow.reason, "not_json");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
