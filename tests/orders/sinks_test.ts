import assert from "node:assert/strict";
import { join } from "node:path";
import { Schema } from "apache-arrow";
import { createTable, read, snapshot } from "../../lib/delta/table.ts";
import { tableConstraints } from "../../lib/delta/constraints.ts";
import { ConstraintViolationError, UnsupportedConstraintError } from "../../lib/delta/errors.ts";
import { type BatchPlan, writeBatch } from "../../lib/engine/writer.ts";
import { cleanedSchema, cleanedSchemaFor } from "../../lib/orders/flatten.ts";
import { centsOf } from "../../lib/orders/money.ts";
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

/** The first `n` orders of data/file1.json as record values, one changed by `edit` each. */
async function orderValues(
  n: number,
  edits: Record<number, (o: Record<string, unknown>) => void>,
): Promise<Uint8Array[]> {
  const out: Uint8Array[] = [];
  for await (const l of readLines(await dataFiles())) {
    if (out.length === n) break;
    const o = JSON.parse(new TextDecoder().decode(l.bytes!));
    edits[out.length]?.(o);
    out.push(new TextEncoder().encode(JSON.stringify(o)));
  }
  return out;
}

const chunkOf = (values: (Uint8Array | null)[]): RawChunk => ({
  topic: "t",
  partition: 0,
  timestampType: 0,
  messages: values.map((value, i) => ({
    key: null,
    value,
    offset: String(i),
    timestamp: String(1_700_000_000_000 + i),
  })),
});

const planOf = (end: number, targets: number): BatchPlan => ({
  query: "q",
  topic: "t",
  batchId: 0,
  seq: 1,
  partitions: [{
    partition: 0,
    end: BigInt(end),
    from: new Array(targets).fill(0n),
    stored: new Array(targets).fill(undefined),
  }],
});

Deno.test("cleaned sink: an order with a line item violating a CHECK constraint goes whole to the dead letters", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const c = join(dir, "orders_cleaned");
    await createTable(c, cleanedSchema, {
      configuration: {
        "delta.constraints.qty_range": "quantity > 0 AND quantity < 100",
        "delta.constraints.known_state": "state IS NULL OR state NOT IN ('XX', 'YY')",
      },
    });
    // Order 3 gets a second line item of quantity 150 (its subtotal kept consistent, so it is a
    // valid order), order 5 the state XX; record 7 is not JSON.
    let multi = -1;
    const values: (Uint8Array | null)[] = await orderValues(20, {
      3: (o) => {
        const items = o.line_items as Record<string, number>[];
        items.push({ ...items[0], order_item_id: 999_999, order_item_quantity: 150 });
        const added = items[items.length - 1];
        added.order_item_subtotal = Math.round(added.order_item_product_price * 15000) / 100;
        multi = items.length;
      },
      5: (o) => (o.state = "XX"),
    });
    values[7] = new TextEncoder().encode("not json");
    const sink = await cleanedSink(c, join(dir, "orders_dead_letters"));
    const result = await writeBatch(sink, [chunkOf(values)], planOf(values.length, 2));
    assert.ok(result.ok);
    assert.deepEqual(result.deadLetterReasons, { constraint_violated: 2, not_json: 1 });
    assert.equal(result.deadLetters, 3);

    const dead = canonRows(await read(join(dir, "orders_dead_letters"))) as Record<
      string,
      unknown
    >[];
    const byOffset = new Map(dead.map((r) => [Number(r.offset), r]));
    assert.deepEqual([...byOffset.keys()].sort((a, b) => a - b), [3, 5, 7]);
    assert.equal(byOffset.get(3)!.reason, "constraint_violated");
    assert.equal(
      byOffset.get(3)!.error,
      "CHECK constraint qty_range (quantity > 0 AND quantity < 100) violated by row with values: quantity : 150",
    );
    assert.equal(byOffset.get(3)!.value, new TextDecoder().decode(values[3]!)); // exact bytes
    assert.equal(
      byOffset.get(5)!.error,
      "CHECK constraint known_state (state IS NULL OR state NOT IN ('XX', 'YY')) violated by row with values: state : XX",
    );
    // No partial order: none of order 3's line items is in orders_cleaned; every other valid
    // order is there with all its rows; every record accounted for.
    const cleaned = canonRows(await read(c)) as Record<string, unknown>[];
    const offsets = new Set(cleaned.map((r) => Number(r.kafka_offset)));
    assert.equal(offsets.has(3) || offsets.has(5) || offsets.has(7), false);
    assert.equal(offsets.size + dead.length, values.length);
    const good: OrderRecord[] = [];
    values.forEach((v, i) => {
      const r = parseOrder(v);
      if (r.ok && i !== 3 && i !== 5) {
        good.push({ order: r.order, partition: 0, offset: String(i), timestampMs: 1.7e12 + i });
      }
    });
    assert.ok(multi >= 2);
    assert.equal(cleaned.length, flattenOrders(good, 0).numRows);
    assert.ok(cleaned.every((r) => Number(r.quantity) < 100 && r.state !== "XX"));

    // A replay after a crash between the tables (orders_cleaned done, the dead letters not):
    // the constraint's verdict is reached again for the dead letter.
    const constraints = tableConstraints(
      (await snapshot(c)).configuration,
      (await snapshot(c)).schema,
      c,
    );
    const replay = sink.build([chunkOf(values)], (t) => (t === 0 ? 1000 : 0), () => constraints);
    assert.equal(replay.tables[0].numRows, 0);
    assert.deepEqual(
      [...replay.tables[1].getChild("reason")!.toArray()].sort(),
      ["constraint_violated", "constraint_violated", "not_json"],
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("sinks: a constraint outside the subset is refused at open; a raw row violating one fails the batch whole", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const c = join(dir, "orders_cleaned");
    await createTable(c, cleanedSchema);
    // Spark's ALTER TABLE … ADD CONSTRAINT, as a commit: a function call is outside the subset.
    const snap = await snapshot(c);
    const metaData = {
      ...snap.metadata,
      configuration: { "delta.constraints.short_city": "length(city) < 40" },
    };
    await Deno.writeTextFile(
      join(c, "_delta_log", "00000000000000000001.json"),
      [{ commitInfo: { timestamp: Date.now(), operation: "ADD CONSTRAINT" } }, {
        protocol: { minReaderVersion: 1, minWriterVersion: 3 },
      }, { metaData }].map((a) => JSON.stringify(a)).join("\n") + "\n",
    );
    const err = await cleanedSink(c, join(dir, "d")).then(() => undefined, (e) => e);
    assert.ok(err instanceof UnsupportedConstraintError, String(err));
    assert.equal(err.constraint, "short_city");
    assert.match(err.message, /CHECK constraint short_city \(length\(city\) < 40\) is outside/);

    // The raw sink has no dead letters: a tombstone violating `value IS NOT NULL` fails the
    // batch with the one-line error, and nothing of it is committed (no record lost).
    const r = join(dir, "orders_raw");
    await createTable(r, rawSchema, {
      configuration: { "delta.constraints.has_value": "value IS NOT NULL" },
    });
    const raw = await rawSink(r);
    const values = [...await orderValues(2, {}), null];
    const failed = await writeBatch(raw, [chunkOf(values)], planOf(3, 1)).then(
      () => undefined,
      (e) => e,
    );
    assert.ok(failed instanceof ConstraintViolationError, String(failed));
    assert.match(
      failed.message,
      /^CHECK constraint has_value \(value IS NOT NULL\) violated by row with values: value : null \(row 2 of the data\)/,
    );
    assert.equal((await snapshot(r)).version, 0);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("cleaned sink: money in the table's own type (decimal(12,2) new, double old, a narrower decimal); misfits are out_of_range", async () => {
  const dir = await Deno.makeTempDir();
  try {
    // Record 2 has a fraction of a cent (bad for every table); record 4 a price of 123,456,789.00
    // with a consistent subtotal (good, but too big for decimal(10,2)).
    const values = await orderValues(12, {
      2: (o) => ((o.line_items as Record<string, number>[])[0].order_item_product_price = 1.005),
      4: (o) => {
        const it = (o.line_items as Record<string, number>[])[0];
        it.order_item_product_price = 123456789;
        it.order_item_subtotal = 123456789 * it.order_item_quantity;
      },
    });
    const double = { kind: "double" } as const;
    const cases = [
      { name: "new", create: undefined, type: "decimal(12,2)", misfit: false },
      {
        name: "old",
        create: cleanedSchemaFor({ price: double, subtotal: double }),
        type: "double",
        misfit: false,
      },
      {
        name: "narrow",
        create: cleanedSchemaFor({
          price: { kind: "decimal", precision: 10, scale: 2 },
          subtotal: { kind: "decimal", precision: 18, scale: 4 },
        }),
        type: "decimal(10,2)",
        misfit: true,
      },
    ];
    for (const c of cases) {
      const table = join(dir, `${c.name}_cleaned`);
      const dead = join(dir, `${c.name}_dead`);
      if (c.create) await createTable(table, c.create);
      const sink = await cleanedSink(table, dead);
      const result = await writeBatch(sink, [chunkOf(values)], planOf(values.length, 2));
      assert.ok(result.ok, c.name);
      assert.deepEqual(
        result.deadLetterReasons,
        { out_of_range: c.misfit ? 2 : 1 },
        c.name,
      );
      const snap = await snapshot(table);
      assert.equal(snap.schema.fields.find((f) => f.name === "price")!.type, c.type, c.name);
      const deadRows = canonRows(await read(dead)) as Record<string, unknown>[];
      const byOffset = new Map(deadRows.map((r) => [Number(r.offset), r]));
      assert.match(
        String(byOffset.get(2)!.error),
        /order_item_product_price: 1\.005 has more than two decimals/,
      );
      if (c.misfit) {
        assert.equal(
          byOffset.get(4)!.error,
          "line_items[0].order_item_product_price: 123456789.00 does not fit the table's decimal(10,2)",
        );
      }
      // Every other record's rows, money exact in the table's type: the sum of subtotals in cents
      // equals an independent sum of the records' texts.
      const rows = await read(table);
      const offsets = new Set(
        (canonRows(rows) as Record<string, unknown>[]).map((r) => Number(r.kafka_offset)),
      );
      assert.equal(offsets.size + deadRows.length, values.length, c.name);
      let want = 0n;
      values.forEach((v, i) => {
        if (!offsets.has(i)) return;
        const text = new TextDecoder().decode(v);
        for (const m of text.matchAll(/"order_item_subtotal":(-?\d+)(?:\.(\d+))?/g)) {
          want += BigInt(m[1]) * 100n + BigInt((m[2] ?? "").padEnd(2, "0"));
        }
      });
      const got = Array.from(centsOf(rows.getChild("subtotal")!)).reduce((a, b) => a + b, 0);
      assert.equal(BigInt(got), want, c.name);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
