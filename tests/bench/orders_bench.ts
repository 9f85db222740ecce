/**
 * Benchmarks of the orders hot path on 100k generated orders (~300k line items):
 * JSON.parse alone (the floor), parseOrder (parse + validate), flattenOrders (Arrow build),
 * both together, and the cleaned stream's OrderDecoder (bytes to the same rows in one pass). Divide 100k orders (or the printed line count) by the time per run for
 * rows/s. Run: `deno bench -A tests/bench/orders_bench.ts`.
 */
import { flattenOrders, OrderDecoder, type OrderRecord, parseOrder } from "../../lib/orders/mod.ts";
import { generateOrders, loadRetailDb } from "../../lib/orders/generate.ts";

const ORDERS = 100_000;
const retailDb = Deno.env.get("RETAIL_DB") ?? "../shared/data/retail_db";
const db = await loadRetailDb(retailDb);
const encoder = new TextEncoder();
const values: Uint8Array[] = [];
for (const order of generateOrders(db, ORDERS)) values.push(encoder.encode(JSON.stringify(order)));
const decoder = new TextDecoder();
const records: OrderRecord[] = values.map((v, i) => {
  const r = parseOrder(v);
  if (!r.ok) throw new Error(`generated order ${i} is invalid: ${r.message}`);
  return {
    order: r.order,
    partition: i % 3,
    offset: String(i),
    timestampMs: 1_700_000_000_000 + i,
  };
});
const lines = records.reduce((n, r) => n + r.order.line_items.length, 0);
console.log(`orders_bench: ${ORDERS} orders, ${lines} line items`);

Deno.bench({
  name: `decode + JSON.parse only, ${ORDERS} orders (floor)`,
  group: "parse",
  n: 10,
  fn() {
    for (const v of values) JSON.parse(decoder.decode(v));
  },
});

Deno.bench({
  name: `parseOrder (decode + parse + validate), ${ORDERS} orders`,
  group: "parse",
  baseline: true,
  n: 10,
  fn() {
    for (const v of values) if (!parseOrder(v).ok) throw new Error("invalid");
  },
});

Deno.bench({
  name: `flattenOrders, ${ORDERS} orders -> ${lines} rows`,
  group: "flatten",
  n: 10,
  fn() {
    flattenOrders(records, Date.now());
  },
});

Deno.bench({
  name: `parseOrder + flattenOrders, ${ORDERS} orders -> ${lines} rows`,
  group: "flatten",
  n: 10,
  fn() {
    const batch: OrderRecord[] = new Array(values.length);
    for (let i = 0; i < values.length; i++) {
      const r = parseOrder(values[i]);
      if (!r.ok) throw new Error(r.message);
      batch[i] = {
        order: r.order,
        partition: 0,
        offset: String(i),
        timestampMs: 1_700_000_000_000,
      };
    }
    flattenOrders(batch, Date.now());
  },
});

Deno.bench({
  name: `OrderDecoder (bytes to rows, one pass), ${ORDERS} orders -> ${lines} rows`,
  group: "flatten",
  n: 10,
  fn() {
    const decoder = new OrderDecoder(Date.now());
    for (let i = 0; i < values.length; i++) {
      const failure = decoder.decode(values[i], 0, String(i), 1_700_000_000_000);
      if (failure !== undefined) throw new Error(failure.message);
    }
    decoder.take();
  },
});
