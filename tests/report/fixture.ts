/**
 * Test fixtures for the orders report: an orders_cleaned Delta table built from data/*.json
 * (one commit per group of files, as micro-batches would), and the report's figures computed
 * independently from the same JSON lines (no Arrow, no Delta, no lib/report code).
 *
 * @module
 */
import { fileURLToPath } from "node:url";
import { append, createTable } from "../../lib/delta/table.ts";
import {
  cleanedSchema,
  flattenOrders,
  type OrderRecord,
  parseOrder,
} from "../../lib/orders/mod.ts";

/** The repository root. */
export const ROOT = fileURLToPath(new URL("../../", import.meta.url));

/** Lines of data/fileN.json. */
export async function dataLines(n: number): Promise<string[]> {
  const text = await Deno.readTextFile(`${ROOT}data/file${n}.json`);
  return text.split("\n").filter((l) => l.trim() !== "");
}

/**
 * Creates an orders_cleaned table at `location` with one append per entry of `commits` (each a
 * list of data file numbers); returns nothing, the table's versions are 0 (create) and 1…n.
 */
export async function buildCleanedTable(location: string, commits: number[][]): Promise<void> {
  await createTable(location, cleanedSchema, { name: "orders_cleaned" });
  let offset = 0;
  for (const files of commits) {
    const records: OrderRecord[] = [];
    for (const n of files) {
      for (const line of await dataLines(n)) {
        const r = parseOrder(line);
        if (!r.ok) throw new Error(`fixture: data/file${n}.json has an invalid line: ${r.message}`);
        records.push({
          order: r.order,
          partition: 0,
          offset: offset++,
          timestampMs: 1_780_000_000_000,
        });
      }
    }
    await append(location, flattenOrders(records, 1_780_000_000_000));
  }
}

/** The figures a report over these files must show, computed straight from the JSON. */
export interface ExpectedFigures {
  orders: number;
  lines: number;
  customers: number;
  revenueCents: number;
  byState: Map<string, { orders: number; cents: number }>;
  byCity: Map<string, { orders: number; cents: number }>;
  products: Map<number, { quantity: number; cents: number; orders: number }>;
  linesPerOrder: Map<number, number>;
  orderTotalsCents: number[];
  chicagoOrders: number;
  chicagoCents: number;
}

/** Computes {@link ExpectedFigures} over the given data files, each line item once. */
export async function expectedFigures(files: number[]): Promise<ExpectedFigures> {
  const e: ExpectedFigures = {
    orders: 0,
    lines: 0,
    customers: 0,
    revenueCents: 0,
    byState: new Map(),
    byCity: new Map(),
    products: new Map(),
    linesPerOrder: new Map(),
    orderTotalsCents: [],
    chicagoOrders: 0,
    chicagoCents: 0,
  };
  const seenOrders = new Set<number>();
  const customers = new Set<number>();
  for (const n of files) {
    for (const line of await dataLines(n)) {
      const o = JSON.parse(line);
      if (seenOrders.has(o.order_id)) continue;
      seenOrders.add(o.order_id);
      customers.add(o.customer_id);
      let cents = 0;
      const productsInOrder = new Set<number>();
      for (const li of o.line_items) {
        const c = Math.round(li.order_item_subtotal * 100);
        cents += c;
        e.lines++;
        const p = e.products.get(li.order_item_product_id) ?? { quantity: 0, cents: 0, orders: 0 };
        p.quantity += li.order_item_quantity;
        p.cents += c;
        if (!productsInOrder.has(li.order_item_product_id)) p.orders++;
        productsInOrder.add(li.order_item_product_id);
        e.products.set(li.order_item_product_id, p);
      }
      e.orders++;
      e.revenueCents += cents;
      e.orderTotalsCents.push(cents);
      e.linesPerOrder.set(o.line_items.length, (e.linesPerOrder.get(o.line_items.length) ?? 0) + 1);
      for (
        const [map, key] of [[e.byState, o.state], [e.byCity, `${o.city}, ${o.state}`]] as const
      ) {
        const g = map.get(key) ?? { orders: 0, cents: 0 };
        g.orders++;
        g.cents += cents;
        map.set(key, g);
      }
      if (o.city === "Chicago") {
        e.chicagoOrders++;
        e.chicagoCents += cents;
      }
    }
  }
  e.customers = customers.size;
  return e;
}
