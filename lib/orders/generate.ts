/**
 * Sample data: builds orders in the seed's exact shape from the real retail_db tables
 * (orders.csv joined with customers.csv) with line items derived deterministically from a
 * seeded PRNG, and writes them as JSON lines.
 *
 * CLI (`deno task data:generate`):
 * - no flags: rewrites data/file1.json … data/file6.json ({@link DEFAULT_ORDERS} real orders);
 * - `--orders N --out DIR [--files K] [--seed S] [--retail-db PATH]`: writes N orders split
 *   into K files (default 1); beyond the 68,883 real orders, new order ids continue after the
 *   largest real id with customers drawn from the real customers. Output is streamed.
 * Any run is a prefix of a longer run with the same seed (order k is always the same order).
 * The CSV reading and the line-item rule are retail_db.ts's, shared with the live feed.
 * @module
 */

import { parseArgs } from "node:util";
import { join } from "node:path";
import type { Order } from "./schema.ts";
import {
  type Customer,
  drawLineItems,
  intField,
  loadCustomers,
  loadProducts,
  orderOf,
  prng,
  type Product,
  readCsvTable,
  RetailDbError,
} from "./retail_db.ts";

// The CSV reading, the PRNG and the line-item rule live in retail_db.ts (shared with the live
// feed); they stay importable from here.
export { type Customer, parseCsv, prng, type Product, RetailDbError } from "./retail_db.ts";

/** Default PRNG seed; the smallest seed for which order 1 reproduces the seed's sample exactly. */
export const DEFAULT_SEED = 73493;
/** Number of real orders written to data/ by default (keeps the committed files ~4 MB). */
export const DEFAULT_ORDERS = 6000;
/** Number of files written to data/ by default (file1.json … file6.json). */
export const DEFAULT_FILES = 6;

/** The retail_db tables the generator needs. */
export interface RetailDb {
  /** Customers by id. */
  customers: Map<number, Customer>;
  /** Customers in file order (for drawing customers of synthetic orders). */
  customerList: Customer[];
  /** Real orders in file order: [order_id, customer_id]. */
  orders: [number, number][];
  /** Products with a price above zero, in file order. */
  products: Product[];
}

/**
 * Loads customers, orders and products from a retail_db folder (CSV, no header); products
 * priced 0.00 are left out of the draw.
 */
export async function loadRetailDb(dir: string): Promise<RetailDb> {
  const [customerList, ord, catalog] = await Promise.all([
    loadCustomers(dir),
    readCsvTable(dir, "orders.csv", 4),
    loadProducts(dir),
  ]);
  const customers = new Map(customerList.map((c) => [c.id, c]));
  const orders = ord.map((r, i): [number, number] => {
    const cid = intField(r[2], `orders.csv:${i + 1}`);
    if (!customers.has(cid)) {
      throw new RetailDbError(`orders.csv:${i + 1}: unknown customer ${cid}`);
    }
    return [intField(r[0], `orders.csv:${i + 1}`), cid];
  });
  const products: Product[] = catalog.filter((p) => p.price > 0).map((p) => ({
    id: p.id,
    price: p.price,
  }));
  return { customers, customerList, orders, products };
}

/**
 * Yields `count` orders in the seed's shape: the real orders first (in orders.csv order), then
 * synthetic ones (ids after the largest real id, customers drawn from the real customers).
 * Each order has 1–5 lines of distinct products, quantity 1–5, subtotal = price × quantity in
 * cents; order_item_id counts up from 1 across the whole sequence.
 *
 * @example
 * ```ts
 * import { generateOrders, type RetailDb } from "./generate.ts";
 * const mary = { id: 11599, fname: "Mary", lname: "Malone", city: "Hickory", state: "NC",
 *   pincode: 28601 };
 * const db: RetailDb = { // usually: await loadRetailDb("../shared/data/retail_db")
 *   customers: new Map([[mary.id, mary]]),
 *   customerList: [mary],
 *   orders: [[1, mary.id]],
 *   products: [191, 365, 502, 957, 1014].map((id) => ({ id, price: 49.99 })),
 * };
 * const orders = [...generateOrders(db, 3)]; // order 1 (the real one), then orders 2 and 3
 * ```
 */
export function* generateOrders(
  db: RetailDb,
  count: number,
  seed: number = DEFAULT_SEED,
): Generator<Order> {
  const rand = prng(seed);
  const products = db.products;
  const customers = db.customerList;
  let nextItemId = 1;
  let nextOrderId = db.orders.reduce((m, o) => Math.max(m, o[0]), 0) + 1;
  for (let k = 0; k < count; k++) {
    let orderId: number;
    let customer: Customer;
    if (k < db.orders.length) {
      orderId = db.orders[k][0];
      customer = db.customers.get(db.orders[k][1])!;
    } else {
      orderId = nextOrderId++;
      customer = customers[Math.floor(rand() * customers.length)];
    }
    const items = drawLineItems(rand, products, nextItemId);
    nextItemId += items.length;
    yield orderOf(orderId, customer, items);
  }
}

/** What a generation run wrote. */
export interface GenerateSummary {
  /** Files written, in order. */
  files: string[];
  /** Orders written. */
  orders: number;
  /** Line items written. */
  lines: number;
  /** Orders whose city is Chicago. */
  chicagoOrders: number;
  /** Bytes written. */
  bytes: number;
}

/**
 * Streams `orders` orders as JSON lines into `files` files named file1.json … in `outDir`,
 * split evenly in order; memory stays flat however many orders are written.
 */
export async function writeOrderFiles(
  db: RetailDb,
  outDir: string,
  orders: number,
  files: number,
  seed: number = DEFAULT_SEED,
): Promise<GenerateSummary> {
  await Deno.mkdir(outDir, { recursive: true });
  const encoder = new TextEncoder();
  const gen = generateOrders(db, orders, seed);
  const summary: GenerateSummary = { files: [], orders: 0, lines: 0, chicagoOrders: 0, bytes: 0 };
  for (let f = 0; f < files; f++) {
    const inFile = Math.floor(orders / files) + (f < orders % files ? 1 : 0);
    const path = join(outDir, `file${f + 1}.json`);
    const file = await Deno.open(path, { write: true, create: true, truncate: true });
    try {
      let chunk: string[] = [];
      let chunkChars = 0;
      for (let k = 0; k < inFile; k++) {
        const order = gen.next().value as Order;
        const line = JSON.stringify(order) + "\n";
        chunk.push(line);
        chunkChars += line.length;
        summary.orders++;
        summary.lines += order.line_items.length;
        if (order.city === "Chicago") summary.chicagoOrders++;
        if (chunkChars >= 1 << 20 || k === inFile - 1) {
          const bytes = encoder.encode(chunk.join(""));
          for (let w = 0; w < bytes.length;) w += await file.write(bytes.subarray(w));
          summary.bytes += bytes.length;
          chunk = [];
          chunkChars = 0;
        }
      }
    } finally {
      file.close();
    }
    summary.files.push(path);
  }
  return summary;
}

async function main(args: string[]): Promise<void> {
  const { values } = parseArgs({
    args,
    options: {
      orders: { type: "string" },
      out: { type: "string" },
      files: { type: "string" },
      seed: { type: "string" },
      "retail-db": { type: "string", default: "../shared/data/retail_db" },
    },
  });
  const custom = values.orders !== undefined || values.out !== undefined;
  const orders = Number(values.orders ?? DEFAULT_ORDERS);
  const files = Number(values.files ?? (custom ? 1 : DEFAULT_FILES));
  const seed = Number(values.seed ?? DEFAULT_SEED);
  const out = values.out ?? "data";
  for (const [name, v, min] of [["orders", orders, 0], ["files", files, 1], ["seed", seed, 0]]) {
    if (!Number.isSafeInteger(v) || (v as number) < (min as number)) {
      throw new RangeError(`--${name} must be an integer ≥ ${min}, got ${v}`);
    }
  }
  const db = await loadRetailDb(values["retail-db"]!);
  const t0 = performance.now();
  const s = await writeOrderFiles(db, out, orders, files, seed);
  const secs = (performance.now() - t0) / 1000;
  console.log(
    `wrote ${s.orders} orders, ${s.lines} line items, ${s.chicagoOrders} Chicago orders, ` +
      `${s.bytes} bytes in ${s.files.length} file(s) under ${out} (seed ${seed}, ${
        secs.toFixed(1)
      } s)`,
  );
}

if (import.meta.main) {
  try {
    await main(Deno.args);
  } catch (e) {
    console.error(`${(e as Error).name}: ${(e as Error).message}`);
    Deno.exit(1);
  }
}
