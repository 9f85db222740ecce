import assert from "node:assert/strict";
import { join } from "node:path";
import { createTable, read, snapshot } from "../../lib/delta/table.ts";
import { type DeltaType, toDeltaSchema } from "../../lib/delta/schema.ts";
import {
  Evolution,
  fitValue,
  inferType,
  itemColumn,
  orderColumn,
  orderExtras,
} from "../../lib/orders/evolve.ts";
import { CLEANED_COLUMNS, cleanedSchema, flattenOrders } from "../../lib/orders/flatten.ts";
import { cleanedSink } from "../../lib/orders/sinks.ts";
import { parseOrder } from "../../lib/orders/validate.ts";
import type { Order } from "../../lib/orders/schema.ts";
import { canonRows } from "../support/canon.ts";
import { orderJson } from "../support/evolve.ts";
import { writeValues } from "../support/sink_batch.ts";

const STANDARD = new Set(CLEANED_COLUMNS.map((c) => c.toLowerCase()));

function parsed(text: string): Order {
  const r = parseOrder(text);
  if (!r.ok) throw new Error(r.message);
  return r.order;
}

Deno.test("evolve: types are inferred from JSON values; null, objects and arrays have none", () => {
  assert.equal(inferType("x"), "string");
  assert.equal(inferType(""), "string");
  assert.equal(inferType(0), "long");
  assert.equal(inferType(-42), "long");
  assert.equal(inferType(3.0), "long"); // integral in any notation
  assert.equal(inferType(2 ** 53), "double"); // not a safe integer: not exact as a long
  assert.equal(inferType(0.5), "double");
  assert.equal(inferType(true), "boolean");
  assert.equal(inferType(null), undefined);
  assert.equal(inferType({}), undefined);
  assert.equal(inferType([1]), undefined);
});

Deno.test("evolve: column names: order fields as they are, line-item fields without order_item_, standard names prefixed", () => {
  assert.equal(orderColumn("order_status", STANDARD), "order_status");
  assert.equal(orderColumn("price", STANDARD), "order_price");
  assert.equal(orderColumn("Kafka_Offset", STANDARD), "order_Kafka_Offset");
  assert.equal(itemColumn("discount", STANDARD), "discount");
  assert.equal(itemColumn("order_item_discount", STANDARD), "discount");
  assert.equal(itemColumn("order_item_price", STANDARD), "item_price");
  assert.equal(itemColumn("city", STANDARD), "item_city");
  assert.equal(itemColumn("order_item_", STANDARD), "order_item_");
});

Deno.test("evolve: orderExtras keeps unknown scalar fields by column name, ignores objects, arrays and names Delta refuses", () => {
  const o = parsed(orderJson(1, {
    order_status: "paid",
    order_date: null,
    tags: ["a"],
    meta: { a: 1 },
    "bad name": 1,
    price: 7,
  }, [{ discount: 0.5, order_item_gift: true, notes: [] }, {}]));
  const x = orderExtras(o, STANDARD);
  assert.deepEqual([...x.order.entries()], [
    ["order_status", ["order_status", "paid"]],
    ["order_date", ["order_date", null]],
    ["order_price", ["price", 7]],
  ]);
  assert.equal(x.items.length, 2);
  assert.deepEqual([...x.items[0].entries()], [
    ["discount", ["line_items[0].discount", 0.5]],
    ["gift", ["line_items[0].order_item_gift", true]],
  ]);
  assert.equal(x.items[1].size, 0);
});

Deno.test("evolve: an order with a long beyond 2^53 (parseOrder's exact path) keeps its extra fields", () => {
  const text = '{"order_id":9007199254740993,"customer_id":1,"order_status":"paid",' +
    '"line_items":[{"order_item_id":1,"order_item_product_id":2,"order_item_quantity":1,' +
    '"order_item_product_price":1.5,"order_item_subtotal":1.5,"discount":0.25}]}';
  const o = parsed(text);
  assert.equal(o.order_id, 9007199254740993n);
  const x = orderExtras(o, STANDARD);
  assert.deepEqual([...x.order.entries()], [["order_status", ["order_status", "paid"]]]);
  assert.deepEqual([...x.items[0].entries()], [["discount", ["line_items[0].discount", 0.25]]]);
  // The Order's own fields stay first, in seed order.
  assert.deepEqual(Object.keys(o).slice(0, 8), [
    "order_id",
    "customer_id",
    "customer_fname",
    "customer_lname",
    "city",
    "state",
    "pincode",
    "line_items",
  ]);
});

Deno.test("evolve: fitValue: exact fits, widenings and clashes", () => {
  assert.equal(fitValue("a", "string"), "fits");
  assert.equal(fitValue(1, "string"), "clash");
  assert.equal(fitValue("1", "long"), "clash");
  assert.equal(fitValue(true, "boolean"), "fits");
  assert.equal(fitValue(true, "long"), "clash");
  assert.equal(fitValue(2.5, "long"), "clash");
  assert.equal(fitValue(2.5, "integer"), "clash");
  assert.equal(fitValue(2 ** 31 - 1, "integer"), "fits");
  assert.equal(fitValue(-(2 ** 31), "integer"), "fits");
  assert.deepEqual(fitValue(2 ** 31, "integer"), { widen: "long" });
  assert.deepEqual(fitValue(200, "byte"), { widen: "long" });
  assert.equal(fitValue(-32768, "short"), "fits");
  assert.equal(fitValue(1.5, "float"), "fits"); // exact in float32
  assert.deepEqual(fitValue(0.1, "float"), { widen: "double" });
  assert.equal(fitValue(0.1, "double"), "fits");
  assert.equal(fitValue(7, "double"), "fits");
  assert.equal(fitValue(7, "decimal(10,2)"), "clash"); // no JSON value fills other types
  assert.equal(fitValue("2024-01-01", "date"), "clash");
});

function evolution(
  extra: [string, string][],
  opts: { mergeSchema: boolean; typeWidening: boolean },
): Evolution {
  const schema = toDeltaSchema(cleanedSchema);
  for (const [name, type] of extra) {
    schema.fields.push({ name, type: type as DeltaType, nullable: true, metadata: {} });
  }
  return new Evolution(schema, CLEANED_COLUMNS, opts);
}

Deno.test("evolve: admit: new columns only with merge-schema; a clash names the field and both types and keeps nothing", () => {
  const on = evolution([], { mergeSchema: true, typeWidening: false });
  assert.equal(on.admit(parsed(orderJson(1, { order_status: "paid" })), 0), undefined);
  const clash = on.admit(parsed(orderJson(2, { order_status: 5, payment_type: "card" })), 1);
  assert.deepEqual(clash, {
    ok: false,
    reason: "schema_mismatch",
    field: "order_status",
    message: "order_status: long 5 does not fit column 'order_status' (string)",
  });
  // The clashing order's payment_type was not kept: a later long payment_type is a new column.
  assert.equal(on.admit(parsed(orderJson(3, { payment_type: 1 })), 2), undefined);
  const item = on.admit(parsed(orderJson(4, {}, [{}, { payment_type: "x" }])), 3);
  assert.equal(item?.field, "line_items[1].payment_type");
  assert.equal(
    item?.message,
    `line_items[1].payment_type: string "x" does not fit column 'payment_type' (long)`,
  );

  // Without the flag new fields are ignored: never a clash, no column.
  const off = evolution([], { mergeSchema: false, typeWidening: false });
  assert.equal(off.admit(parsed(orderJson(1, { order_status: "paid" })), 0), undefined);
  assert.equal(off.admit(parsed(orderJson(2, { order_status: 5 })), 1), undefined);
  off.cut(2);
  assert.equal(off.finish([flat(2)])[0].schema.fields.length, CLEANED_COLUMNS.length);
  // ... but a column the table has is filled, and must fit.
  const existing = evolution([["order_status", "string"]], {
    mergeSchema: false,
    typeWidening: false,
  });
  assert.equal(
    existing.admit(parsed(orderJson(2, { order_status: 5 })), 0)?.reason,
    "schema_mismatch",
  );
});

Deno.test("evolve: admit: widening only with merge-schema on a typeWidening table; a new column of longs and doubles is double", () => {
  const cols: [string, string][] = [["n", "integer"], ["f", "float"], ["l", "long"]];
  const big = parsed(orderJson(1, { n: 3_000_000_000 }));
  const frac = parsed(orderJson(1, { f: 0.1 }));
  const plain = evolution(cols, { mergeSchema: true, typeWidening: false });
  assert.equal(
    plain.admit(big, 0)?.message,
    "n: long 3000000000 needs column 'n' (integer) widened to long, and the table does not allow type widening (delta.enableTypeWidening)",
  );
  assert.equal(plain.admit(frac, 0)?.reason, "schema_mismatch");
  const noFlag = evolution(cols, { mergeSchema: false, typeWidening: true });
  assert.match(noFlag.admit(big, 0)!.message, /only widened with --merge-schema/);
  const wide = evolution(cols, { mergeSchema: true, typeWidening: true });
  assert.equal(wide.admit(big, 0), undefined);
  assert.equal(wide.admit(frac, 1), undefined);
  assert.equal(
    wide.admit(parsed(orderJson(1, { l: 0.5 })), 2)?.message,
    "l: double 0.5 does not fit column 'l' (long)",
  );
  assert.equal(wide.admit(parsed(orderJson(1, { d: 5 })), 2), undefined);
  assert.equal(wide.admit(parsed(orderJson(1, { d: 2.5 })), 3), undefined);
  wide.cut(4);
  const [b] = wide.finish([flat(4)]);
  const types = Object.fromEntries(
    b.schema.fields.slice(CLEANED_COLUMNS.length).map((f) => [f.name, String(f.type)]),
  );
  assert.deepEqual(types, { n: "Int64", f: "Float64", d: "Float64" });
  assert.deepEqual(
    [0, 1, 2, 3].map((
      r,
    ) => [b.getChild("n")!.get(r), b.getChild("f")!.get(r), b.getChild("d")!.get(r)]),
    [[3_000_000_000n, null, null], [null, 0.1, null], [null, null, 5], [null, null, 2.5]],
  );
});

Deno.test("evolve: a field at both levels is one column: the line item's own value wins on its row", () => {
  const ev = evolution([], { mergeSchema: true, typeWidening: false });
  const o = parsed(
    orderJson(1, { discount: 1 }, [{}, { discount: 2 }, { order_item_discount: 3 }]),
  );
  assert.equal(ev.admit(o, 1), undefined); // rows 1..3 of a 4-row batch
  ev.cut(4);
  const [b] = ev.finish([flat(4)]);
  const d = b.getChild("discount")!;
  assert.deepEqual([0, 1, 2, 3].map((r) => d.get(r)), [null, 1n, 2n, 3n]);
});

/** A record batch of `n` cleaned rows (their values do not matter here). */
function flat(n: number) {
  const records = Array.from({ length: n }, (_, i) => ({
    order: parsed(orderJson(i + 1)),
    partition: 0,
    offset: String(i),
    timestampMs: 0,
  }));
  // flattenOrders is the reference; one row per order here.
  return cleanedTable(records).batches[0];
}

const cleanedTable = (records: Parameters<typeof flattenOrders>[0]) => flattenOrders(records, 0);

// --- The sink end to end on local tables (the engine's writeBatch, real Delta commits). ---

async function logActions(table: string, version: number): Promise<Record<string, unknown>[]> {
  const text = await Deno.readTextFile(
    join(table, "_delta_log", `${String(version).padStart(20, "0")}.json`),
  );
  return text.trim().split("\n").map((l) => JSON.parse(l));
}

Deno.test("cleaned sink with merge-schema: new fields become columns in the commit of their rows, older rows null, clashes are dead letters", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const c = join(dir, "orders_cleaned");
    const d = join(dir, "orders_dead_letters");
    const sink = await cleanedSink(c, d, { mergeSchema: true });
    await writeValues(sink, [orderJson(1), orderJson(2)], 0); // version 1: no extras
    const r = await writeValues(sink, [
      orderJson(3, { order_status: "COMPLETE", payment_type: "card" }, [{ discount: 0.5 }, {}]),
      orderJson(4), // the scanner's path: null in every extras column
      orderJson(5, { order_status: 7 }), // clash: a long where the batch made a string column
      orderJson(6, { order_status: "PENDING" }, [{ discount: 2 }]),
      orderJson(7, {}, [{ discount: "ten" }]), // clash in a line item
    ], 2);
    assert.deepEqual(r.ok && r.deadLetterReasons, { schema_mismatch: 2 });
    assert.deepEqual(r.ok && r.sink, {
      orders_cleaned: { rows: 4, version: 2 },
      orders_dead_letters: { rows: 2, version: 2 }, // version 1: the first batch's txn only
    });
    // The metaData action is in the same commit as the rows.
    const actions = await logActions(c, 2);
    assert.equal(actions.filter((a) => "metaData" in a).length, 1);
    assert.equal(actions.filter((a) => "add" in a).length, 1);
    const snap = await snapshot(c);
    assert.deepEqual(
      snap.schema.fields.slice(CLEANED_COLUMNS.length).map((f) => [f.name, f.type, f.nullable]),
      [["order_status", "string", true], ["payment_type", "string", true], [
        "discount",
        "double",
        true,
      ]],
    );
    const rows = canonRows(await read(c)) as Record<string, unknown>[];
    const got = rows.map((
      x,
    ) => [x.order_id, x.item_id, x.order_status, x.payment_type, x.discount]);
    assert.deepEqual(got, [
      ["1", "11", null, null, null],
      ["2", "21", null, null, null],
      ["3", "31", "COMPLETE", "card", 0.5],
      ["3", "32", "COMPLETE", "card", null],
      ["4", "41", null, null, null],
      ["6", "61", "PENDING", null, 2],
    ]);
    // Version 1 (before the change) reads without the columns; the dead letters name the field.
    assert.equal((await read(c, { version: 1 })).schema.fields.length, CLEANED_COLUMNS.length);
    const dead = canonRows(await read(d)) as Record<string, unknown>[];
    dead.sort((a, b) => Number(a.offset) - Number(b.offset));
    assert.deepEqual(dead.map((x) => [x.offset, x.reason, x.field, x.error]), [
      [
        "4",
        "schema_mismatch",
        "order_status",
        "order_status: long 7 does not fit column 'order_status' (string)",
      ],
      [
        "6",
        "schema_mismatch",
        "line_items[0].discount",
        `line_items[0].discount: string "ten" does not fit column 'discount' (double)`,
      ],
    ]);

    // Without the flag: new fields ignored, the columns the table has are filled.
    const plain = await cleanedSink(c, d);
    const r2 = await writeValues(plain, [
      orderJson(8, { order_status: "CLOSED", order_date: "2024-01-01" }),
      orderJson(9, { order_status: 9 }),
    ], 7);
    assert.deepEqual(r2.ok && r2.deadLetterReasons, { schema_mismatch: 1 });
    assert.equal((await snapshot(c)).schema.fields.length, CLEANED_COLUMNS.length + 3);
    const last = (canonRows(await read(c)) as Record<string, unknown>[]).filter((x) =>
      x.order_id === "8"
    );
    assert.deepEqual(last.map((x) => [x.order_status, "order_date" in x]), [["CLOSED", false]]);
    // Every record accounted for: 9 records, 6 orders in the table and 3 dead letters.
    const orders = new Set(
      (canonRows(await read(c)) as Record<string, unknown>[]).map((x) => x.kafka_offset),
    );
    const letters = (canonRows(await read(d)) as unknown[]).length;
    assert.equal(orders.size + letters, 9);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("cleaned sink with merge-schema on a typeWidening table: int and float columns widen in the commit of their rows, older files read exactly", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const c = join(dir, "orders_cleaned");
    const d = join(dir, "orders_dead_letters");
    const { Field, Float32, Int32, Schema } = await import("apache-arrow");
    const schema = new Schema([
      ...cleanedSchema.fields,
      new Field("points", new Int32(), true),
      new Field("rating", new Float32(), true),
    ]);
    await createTable(c, schema, { configuration: { "delta.enableTypeWidening": "true" } });
    const sink = await cleanedSink(c, d, { mergeSchema: true });
    await writeValues(sink, [orderJson(1, { points: 5, rating: 1.5 })], 0);
    const before = await snapshot(c);
    assert.deepEqual(before.protocol.readerFeatures, ["typeWidening"]);
    const r = await writeValues(sink, [
      orderJson(2, { points: 3_000_000_000, rating: 0.1 }),
      orderJson(3, { points: 0.5 }), // a fraction in an integral column: never widened
    ], 1);
    assert.deepEqual(r.ok && r.deadLetterReasons, { schema_mismatch: 1 });
    const snap = await snapshot(c);
    const fields = Object.fromEntries(snap.schema.fields.map((f) => [f.name, f]));
    assert.equal(fields.points.type, "long");
    assert.equal(fields.rating.type, "double");
    assert.deepEqual(fields.points.metadata["delta.typeChanges"], [
      { fromType: "integer", toType: "long" },
    ]);
    assert.deepEqual(fields.rating.metadata["delta.typeChanges"], [
      { fromType: "float", toType: "double" },
    ]);
    assert.equal((await logActions(c, snap.version)).filter((a) => "metaData" in a).length, 1);
    const rows = canonRows(await read(c)) as Record<string, unknown>[];
    assert.deepEqual(rows.map((x) => [x.order_id, x.points, x.rating]), [
      ["1", "5", 1.5],
      ["2", "3000000000", 0.1],
    ]);
    // Version 1 still reads with its own (narrow) types.
    const v1 = await read(c, { version: 1 });
    assert.equal(String(v1.schema.fields.find((f) => f.name === "points")!.type), "Int32");

    // The same on a table without typeWidening: schema_mismatch, nothing widened.
    const c2 = join(dir, "narrow");
    await createTable(c2, schema);
    const sink2 = await cleanedSink(c2, join(dir, "narrow_dl"), { mergeSchema: true });
    const r2 = await writeValues(sink2, [orderJson(2, { points: 3_000_000_000 })], 0);
    assert.deepEqual(r2.ok && r2.deadLetterReasons, { schema_mismatch: 1 });
    assert.equal(
      (await snapshot(c2)).schema.fields.find((f) => f.name === "points")!.type,
      "integer",
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
