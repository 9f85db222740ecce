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
  /** Per category / department name (orders with a line of it, cents), from data/retail_db. */
  byCategory: Map<string, { orders: number; cents: number }>;
  byDepartment: Map<string, { orders: number; cents: number }>;
}

/** A product's name, category and department, read from the CSVs with a regex of our own. */
export interface ExpectedProduct {
  name: string;
  category: string;
  department: string;
}

/**
 * data/retail_db/ products joined to categories and departments, parsed here without
 * lib/orders (first fields by a regex, a quoted name unquoted by hand).
 */
export async function expectedCatalog(): Promise<Map<number, ExpectedProduct>> {
  const lines = async (f: string) =>
    (await Deno.readTextFile(`${ROOT}data/retail_db/${f}`)).split("\n").filter((l) => l !== "");
  const deps = new Map(
    (await lines("departments.csv")).map((l) => [Number(l.split(",")[0]), l.split(",")[1]]),
  );
  const cats = new Map(
    (await lines("categories.csv")).map((l) => {
      const [id, dep, name] = l.split(",");
      return [Number(id), {
        name,
        department: deps.get(Number(dep)) ?? `unknown department ${dep}`,
      }];
    }),
  );
  const out = new Map<number, ExpectedProduct>();
  for (const l of await lines("products.csv")) {
    const m = /^(\d+),(\d+),("(?:[^"]|"")*"|[^,]*),/.exec(l);
    if (!m) throw new Error(`fixture: products.csv line not understood: ${l}`);
    const name = m[3].startsWith('"') ? m[3].slice(1, -1).replaceAll('""', '"') : m[3];
    const cat = cats.get(Number(m[2]));
    out.set(Number(m[1]), {
      name: name.trim(), // shown without retail_db's trailing spaces
      category: cat?.name ?? `unknown category ${m[2]}`,
      department: cat?.department ?? "unknown department",
    });
  }
  return out;
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
    byCategory: new Map(),
    byDepartment: new Map(),
  };
  const catalog = await expectedCatalog();
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
      const levelsInOrder = new Set<string>();
      for (const li of o.line_items) {
        const c = Math.round(li.order_item_subtotal * 100);
        const info = catalog.get(li.order_item_product_id)!;
        for (
          const [map, key] of [
            [e.byCategory, info.category],
            [e.byDepartment, info.department],
          ] as const
        ) {
          const g = map.get(key) ?? { orders: 0, cents: 0 };
          g.cents += c;
          if (!levelsInOrder.has(`${map === e.byCategory}:${key}`)) g.orders++;
          levelsInOrder.add(`${map === e.byCategory}:${key}`);
          map.set(key, g);
        }
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
