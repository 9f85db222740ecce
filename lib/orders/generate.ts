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
 * @module
 */

import { parseArgs } from "node:util";
import { join } from "node:path";
import { UserError } from "../errors.ts";
import type { LineItem, Order } from "./schema.ts";

/** Default PRNG seed; the smallest seed for which order 1 reproduces the seed's sample exactly. */
export const DEFAULT_SEED = 73493;
/** Number of real orders written to data/ by default (keeps the committed files ~4 MB). */
export const DEFAULT_ORDERS = 6000;
/** Number of files written to data/ by default (file1.json … file6.json). */
export const DEFAULT_FILES = 6;

/** A customer row of customers.csv (only the columns an order carries). */
export interface Customer {
  /** customer_id */
  id: number;
  /** fname */
  fname: string;
  /** lname */
  lname: string;
  /** city */
  city: string;
  /** state */
  state: string;
  /** zipcode as a number (`00725` → 725) */
  pincode: number;
}

/** A product that can be ordered: id and price in dollars. */
export interface Product {
  /** product_id */
  id: number;
  /** price (dollars, at most two decimals) */
  price: number;
}

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

/** Thrown when a retail_db file is missing or malformed; says which file and line. */
export class RetailDbError extends UserError {
  override name = "RetailDbError";
}

/**
 * Parses CSV text (RFC 4180: quoted fields, doubled quotes, commas and newlines in quotes,
 * LF or CRLF) into rows of strings.
 *
 * @example
 * ```ts
 * import { parseCsv } from "./generate.ts";
 * parseCsv('1,"a, ""b""",\n'); // [["1", 'a, "b"', ""]]
 * ```
 */
export function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let i = 0;
  const n = text.length;
  while (i < n) {
    let field: string;
    if (text[i] === '"') {
      let out = "";
      i++;
      for (;;) {
        const q = text.indexOf('"', i);
        if (q < 0) throw new RetailDbError("CSV: unterminated quoted field");
        out += text.slice(i, q);
        if (text[q + 1] === '"') {
          out += '"';
          i = q + 2;
        } else {
          i = q + 1;
          break;
        }
      }
      field = out;
    } else {
      let j = i;
      while (j < n && text[j] !== "," && text[j] !== "\n" && text[j] !== "\r") j++;
      field = text.slice(i, j);
      i = j;
    }
    row.push(field);
    if (i >= n) break;
    const c = text[i];
    if (c === ",") {
      i++;
      if (i >= n) row.push("");
    } else if (c === "\r" || c === "\n") {
      i += c === "\r" && text[i + 1] === "\n" ? 2 : 1;
      rows.push(row);
      row = [];
    } else {
      throw new RetailDbError(`CSV: unexpected character ${JSON.stringify(c)} after a field`);
    }
  }
  if (row.length > 0) rows.push(row);
  return rows;
}

async function readTable(dir: string, name: string, columns: number): Promise<string[][]> {
  const path = join(dir, name);
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (e) {
    throw new RetailDbError(
      `cannot read ${path} (${(e as Error).message}); point --retail-db at the retail_db folder`,
    );
  }
  const rows = parseCsv(text);
  rows.forEach((r, i) => {
    if (r.length !== columns) {
      throw new RetailDbError(`${path}:${i + 1}: expected ${columns} columns, got ${r.length}`);
    }
  });
  return rows;
}

function int(s: string, where: string): number {
  if (!/^\d+$/.test(s)) throw new RetailDbError(`${where}: expected an integer, got "${s}"`);
  return Number(s);
}

/**
 * Loads customers, orders and products from a retail_db folder (CSV, no header); products
 * priced 0.00 are left out of the draw.
 */
export async function loadRetailDb(dir: string): Promise<RetailDb> {
  const [cust, ord, prod] = await Promise.all([
    readTable(dir, "customers.csv", 9),
    readTable(dir, "orders.csv", 4),
    readTable(dir, "products.csv", 6),
  ]);
  const customerList = cust.map((r, i): Customer => ({
    id: int(r[0], `customers.csv:${i + 1}`),
    fname: r[1],
    lname: r[2],
    city: r[6],
    state: r[7],
    pincode: int(r[8], `customers.csv:${i + 1} zipcode`),
  }));
  const customers = new Map(customerList.map((c) => [c.id, c]));
  const orders = ord.map((r, i): [number, number] => {
    const cid = int(r[2], `orders.csv:${i + 1}`);
    if (!customers.has(cid)) {
      throw new RetailDbError(`orders.csv:${i + 1}: unknown customer ${cid}`);
    }
    return [int(r[0], `orders.csv:${i + 1}`), cid];
  });
  const products: Product[] = [];
  prod.forEach((r, i) => {
    if (!/^\d+(\.\d{1,2})?$/.test(r[4])) {
      throw new RetailDbError(`products.csv:${i + 1}: price "${r[4]}" is not dollars and cents`);
    }
    const price = Number(r[4]);
    if (price > 0) products.push({ id: int(r[0], `products.csv:${i + 1}`), price });
  });
  return { customers, customerList, orders, products };
}

/**
 * A small seeded PRNG (a Weyl sequence through a 32-bit avalanche mix) returning floats in
 * [0, 1); the same seed always gives the same sequence.
 */
export function prng(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x9e3779b9) >>> 0;
    let z = state;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
    z ^= z >>> 16;
    return (z >>> 0) / 4294967296;
  };
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
  const picked: number[] = [];
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
    const lines = 1 + Math.floor(rand() * 5);
    const items: LineItem[] = [];
    picked.length = 0;
    for (let l = 0; l < lines; l++) {
      let p: number;
      do p = Math.floor(rand() * products.length); while (picked.includes(p));
      picked.push(p);
      const product = products[p];
      const quantity = 1 + Math.floor(rand() * 5);
      const cents = Math.round(product.price * 100) * quantity;
      items.push({
        order_item_id: nextItemId++,
        order_item_product_id: product.id,
        order_item_quantity: quantity,
        order_item_product_price: product.price,
        order_item_subtotal: cents / 100,
      });
    }
    yield {
      order_id: orderId,
      customer_id: customer.id,
      customer_fname: customer.fname,
      customer_lname: customer.lname,
      city: customer.city,
      state: customer.state,
      pincode: customer.pincode,
      line_items: items,
    };
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
