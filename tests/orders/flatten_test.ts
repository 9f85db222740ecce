import assert from "node:assert/strict";
import { tableFromIPC, tableToIPC, Type, type Vector } from "apache-arrow";
import {
  CLEANED_COLUMNS,
  cleanedSchema,
  DEFAULT_MONEY,
  DOUBLE_MONEY,
  flattenOrders,
  type Order,
  type OrderRecord,
  parseOrder,
} from "../../lib/orders/mod.ts";
import { malformedOrders } from "../fixtures/malformed_orders.ts";

function order(text: string): Order {
  const r = parseOrder(text);
  if (!r.ok) throw new Error(r.message);
  return r.order;
}

/** The good orders of the corpus (mixed shapes: nulls, unicode, int64 edges, free items). */
function corpusRecords(): OrderRecord[] {
  return malformedOrders().filter((c) => c.expected === "ok").map((c, i) => ({
    order: order(new TextDecoder().decode(c.bytes!)),
    partition: i % 3,
    offset: i === 0 ? 9007199254740993n : String(1000 + i),
    timestampMs: 1_700_000_000_000 + i,
  }));
}

const INGESTED_MS = 1_764_000_000_123;

/** Dollars to cents by their shortest decimal text (no float arithmetic): 299.98 → 29998n. */
function textCents(v: number): bigint {
  const [whole, frac = ""] = String(v).split(".");
  assert.ok(frac.length <= 2 && !whole.includes("e"), `${v} is whole cents`);
  const sign = whole.startsWith("-") ? -1n : 1n;
  return sign * (BigInt(whole.replace("-", "")) * 100n + BigInt(frac.padEnd(2, "0")));
}

/** A Decimal128 value's unscaled integer from its four little-endian words. */
function unscaled(col: Vector, i: number): bigint {
  const w = col.data[0].values as Uint32Array;
  let u = 0n;
  for (let k = 3; k >= 0; k--) u = (u << 32n) | BigInt(w[4 * i + k]);
  return BigInt.asIntN(128, u);
}

/** An independent expansion: one plain row per line item, values as Arrow JS returns them. */
function expand(records: OrderRecord[]): Record<string, unknown>[] {
  const rows: Record<string, unknown>[] = [];
  for (const r of records) {
    for (const it of r.order.line_items) {
      rows.push({
        order_id: BigInt(r.order.order_id),
        customer_id: BigInt(r.order.customer_id),
        customer_fname: r.order.customer_fname,
        customer_lname: r.order.customer_lname,
        city: r.order.city,
        state: r.order.state,
        pincode: r.order.pincode === null ? null : BigInt(r.order.pincode),
        item_id: BigInt(it.order_item_id),
        product_id: BigInt(it.order_item_product_id),
        quantity: BigInt(it.order_item_quantity),
        price: textCents(it.order_item_product_price),
        subtotal: textCents(it.order_item_subtotal),
        kafka_partition: r.partition,
        kafka_offset: BigInt(r.offset),
        kafka_timestamp: BigInt(r.timestampMs) * 1000n,
        ingested_at: BigInt(INGESTED_MS) * 1000n,
      });
    }
  }
  return rows;
}

Deno.test("flattenOrders: values equal an independent expansion, row per line item", () => {
  const records = corpusRecords();
  const table = flattenOrders(records, INGESTED_MS);
  const expected = expand(records);
  assert.equal(table.numRows, records.reduce((n, r) => n + r.order.line_items.length, 0));
  assert.equal(table.numRows, expected.length);
  assert.ok(expected.length > records.length);
  for (let i = 0; i < expected.length; i++) {
    for (const name of CLEANED_COLUMNS) {
      const col = table.getChild(name)!;
      let got = col.get(i);
      // Timestamps read back as epoch ms numbers; compare the stored µs instead.
      if (name === "kafka_timestamp" || name === "ingested_at") {
        got = (col.data[0].values as BigInt64Array)[i];
      }
      // Money is decimal(12,2): compare the unscaled cents.
      if (name === "price" || name === "subtotal") got = unscaled(col, i);
      assert.deepEqual(got, expected[i][name], `row ${i} column ${name}`);
    }
  }
  // A few values spelled out.
  assert.equal(table.getChild("customer_lname")!.get(0), "Malone");
  assert.equal(table.getChild("kafka_offset")!.get(0), 9007199254740993n);
  assert.equal(table.getChild("order_id")!.get(1), 2n); // second case: 3 lines, Chicago
  assert.equal(table.getChild("city")!.get(3), "Chicago");
  const edge = expected.findIndex((r) => r.order_id === 9223372036854775807n);
  assert.ok(edge >= 0);
  assert.equal(table.getChild("customer_id")!.get(edge), -9223372036854775808n);
  const names = table.getChild("customer_lname")!.toArray();
  assert.ok(names.includes("Müller-Łukasz 李"));
  assert.ok(names.includes("Mal\uFFFDone"));
});

Deno.test("flattenOrders: schema, column types and nullability; strings are not dictionaries", () => {
  const table = flattenOrders(corpusRecords(), INGESTED_MS);
  assert.deepEqual(table.schema.fields.map((f) => f.name), [...CLEANED_COLUMNS]);
  const types = Object.fromEntries(table.schema.fields.map((f) => [f.name, String(f.type)]));
  assert.deepEqual(types, {
    order_id: "Int64",
    customer_id: "Int64",
    customer_fname: "Utf8",
    customer_lname: "Utf8",
    city: "Utf8",
    state: "Utf8",
    pincode: "Int64",
    item_id: "Int64",
    product_id: "Int64",
    quantity: "Int64",
    price: "Decimal[12e+2]",
    subtotal: "Decimal[12e+2]",
    kafka_partition: "Int32",
    kafka_offset: "Int64",
    kafka_timestamp: "Timestamp<MICROSECOND, UTC>",
    ingested_at: "Timestamp<MICROSECOND, UTC>",
  });
  const nullable = table.schema.fields.filter((f) => f.nullable).map((f) => f.name);
  assert.deepEqual(nullable, ["customer_fname", "customer_lname", "city", "state", "pincode"]);
  assert.equal(table.schema, cleanedSchema);
  for (const name of ["customer_fname", "customer_lname", "city", "state"]) {
    const col = table.getChild(name)!;
    assert.equal(col.type.typeId, Type.Utf8, name);
    assert.notEqual(col.type.typeId, Type.Dictionary, name);
    assert.equal(col.data[0].dictionary, undefined, name);
  }
  // The corpus has orders with null city, state, fname, lname and pincode.
  for (const name of ["customer_fname", "customer_lname", "city", "state", "pincode"]) {
    assert.ok(table.getChild(name)!.nullCount > 0, name);
  }
  for (const f of table.schema.fields.filter((f) => !f.nullable)) {
    assert.equal(table.getChild(f.name)!.nullCount, 0, f.name);
  }
});

Deno.test("flattenOrders: nulls are exact per row; all-valid columns carry no bitmap", () => {
  const good = order(new TextDecoder().decode(malformedOrders()[1].bytes!)); // 3 lines, Chicago
  const nulls = { ...good, city: null, pincode: null, line_items: good.line_items.slice(0, 2) };
  const recs: OrderRecord[] = [good, nulls, good].map((o, i) => ({
    order: o,
    partition: 7,
    offset: BigInt(i),
    timestampMs: 1,
  }));
  const t = flattenOrders(recs, 2);
  assert.equal(t.numRows, 8);
  assert.deepEqual(t.getChild("city")!.toArray(), [
    "Chicago",
    "Chicago",
    "Chicago",
    null,
    null,
    "Chicago",
    "Chicago",
    "Chicago",
  ]);
  assert.deepEqual(
    [...t.getChild("pincode")!].map((v) => v === null ? null : Number(v)),
    [60625, 60625, 60625, null, null, 60625, 60625, 60625],
  );
  assert.equal(t.getChild("state")!.data[0].nullBitmap?.length ?? 0, 0);
  assert.equal(t.getChild("kafka_partition")!.get(5), 7);
  assert.equal(t.getChild("kafka_timestamp")!.get(0), 1); // epoch ms as Arrow JS returns it
  assert.equal((t.getChild("ingested_at")!.data[0].values as BigInt64Array)[0], 2000n);
});

Deno.test("flattenOrders: an empty batch is an empty table with the cleaned schema", () => {
  const t = flattenOrders([], INGESTED_MS);
  assert.equal(t.numRows, 0);
  assert.deepEqual(t.schema.fields.map((f) => f.name), [...CLEANED_COLUMNS]);
});

Deno.test("flattenOrders: negative and large safe integers round-trip through the int32 halves", () => {
  const base = order(new TextDecoder().decode(malformedOrders()[0].bytes!));
  const values = [
    0,
    1,
    -1,
    2 ** 31,
    -(2 ** 31) - 1,
    2 ** 32,
    -(2 ** 32),
    2 ** 53 - 1,
    -(2 ** 53 - 1),
  ];
  const recs: OrderRecord[] = values.map((v, i) => ({
    order: { ...base, order_id: v, customer_id: -v },
    partition: 0,
    offset: String(v < 0 ? -v : v),
    timestampMs: i,
  }));
  const t = flattenOrders(recs, 0);
  assert.deepEqual([...t.getChild("order_id")!], values.map(BigInt));
  assert.deepEqual([...t.getChild("customer_id")!], values.map((v) => BigInt(-v)));
  assert.deepEqual([...t.getChild("kafka_offset")!], values.map((v) => BigInt(Math.abs(v))));
});

Deno.test("flattenOrders: the table survives an Arrow IPC round trip (the Parquet writer's input)", () => {
  const table = flattenOrders(corpusRecords(), INGESTED_MS);
  const back = tableFromIPC(tableToIPC(table, "stream"));
  assert.equal(back.numRows, table.numRows);
  assert.deepEqual(
    back.schema.fields.map((f) => [f.name, String(f.type), f.nullable]),
    table.schema.fields.map((f) => [f.name, String(f.type), f.nullable]),
  );
  for (const name of CLEANED_COLUMNS) {
    assert.deepEqual([...back.getChild(name)!], [...table.getChild(name)!], name);
  }
});

Deno.test("flattenOrders: money in a table's own types (double, decimal(18,4), decimal(12,2))", () => {
  const records = corpusRecords();
  const expected = expand(records);
  const dbl = flattenOrders(records, INGESTED_MS, { price: DOUBLE_MONEY, subtotal: DOUBLE_MONEY });
  assert.equal(String(dbl.schema.fields[10].type), "Float64");
  const wide = flattenOrders(records, INGESTED_MS, {
    price: { kind: "decimal", precision: 18, scale: 4 },
    subtotal: DEFAULT_MONEY,
  });
  assert.equal(String(wide.schema.fields[10].type), "Decimal[18e+4]");
  for (let i = 0; i < expected.length; i++) {
    // A double table gets the very double the record's text reads as.
    const price = records.flatMap((r) => r.order.line_items)[i].order_item_product_price;
    assert.ok(Object.is(dbl.getChild("price")!.get(i), price), `row ${i}`);
    assert.equal(unscaled(wide.getChild("price")!, i), (expected[i].price as bigint) * 100n);
    assert.equal(unscaled(wide.getChild("subtotal")!, i), expected[i].subtotal);
  }
});
