/**
 * The retail_db tables (the Cloudera QuickStart sample schema, CSV without a header) and what
 * both order generators derive from them: the data/ files (`generate.ts`) and the live feed
 * (`feed.ts`).
 *
 * - Reading: an RFC 4180 CSV parser, and typed loaders of customers, products, categories and
 *   departments that name the file and line of a bad row.
 * - Deriving: the seeded PRNG and the line-item rule (1–5 distinct products, quantity 1–5,
 *   the product's price, subtotal = price × quantity in whole cents, item ids counting up).
 *
 * The dimension tables the live feed needs are committed in `data/retail_db/` (copies of
 * `../shared/data/retail_db`, see data/retail_db/README.md); `orders.csv` is only read by
 * `generate.ts`, from the shared folder.
 *
 * @module
 */
import { join } from "node:path";
import { UserError } from "../errors.ts";
import { projectPath } from "../runtime.ts";
import type { LineItem, Order } from "./schema.ts";

/** The committed copies of the retail_db dimension tables: data/retail_db/. */
export const DIMENSIONS_DIR: string = projectPath("data/retail_db");

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

/** A products.csv row: a {@link Product} with its category and name. */
export interface CatalogProduct extends Product {
  /** category_id (categories.csv) */
  categoryId: number;
  /** product_name */
  name: string;
}

/** A categories.csv row. */
export interface Category {
  /** category_id */
  id: number;
  /** category_department_id (departments.csv; department 8 is missing from retail_db) */
  departmentId: number;
  /** category_name */
  name: string;
}

/** A departments.csv row. */
export interface Department {
  /** department_id */
  id: number;
  /** department_name */
  name: string;
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
 * import { parseCsv } from "./retail_db.ts";
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

/**
 * Reads `dir/name` as CSV rows of exactly `columns` fields; a missing file or a row of another
 * width is a {@link RetailDbError} naming the path (and line).
 */
export async function readCsvTable(
  dir: string,
  name: string,
  columns: number,
): Promise<string[][]> {
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

/** A non-negative integer field, or a RetailDbError saying where. */
export function intField(s: string, where: string): number {
  if (!/^\d+$/.test(s)) throw new RetailDbError(`${where}: expected an integer, got "${s}"`);
  return Number(s);
}

/** customers.csv of `dir`, in file order (the masked email, password and street are dropped). */
export async function loadCustomers(dir: string = DIMENSIONS_DIR): Promise<Customer[]> {
  const rows = await readCsvTable(dir, "customers.csv", 9);
  return rows.map((r, i): Customer => ({
    id: intField(r[0], `customers.csv:${i + 1}`),
    fname: r[1],
    lname: r[2],
    city: r[6],
    state: r[7],
    pincode: intField(r[8], `customers.csv:${i + 1} zipcode`),
  }));
}

/**
 * products.csv of `dir`, in file order, every row (7 of the 1,345 real products are priced
 * 0.00: placeholders, which the generators leave out of the draw).
 */
export async function loadProducts(dir: string = DIMENSIONS_DIR): Promise<CatalogProduct[]> {
  const rows = await readCsvTable(dir, "products.csv", 6);
  return rows.map((r, i): CatalogProduct => {
    if (!/^\d+(\.\d{1,2})?$/.test(r[4])) {
      throw new RetailDbError(`products.csv:${i + 1}: price "${r[4]}" is not dollars and cents`);
    }
    return {
      id: intField(r[0], `products.csv:${i + 1}`),
      categoryId: intField(r[1], `products.csv:${i + 1} category`),
      name: r[2],
      price: Number(r[4]),
    };
  });
}

/** categories.csv of `dir`, in file order. */
export async function loadCategories(dir: string = DIMENSIONS_DIR): Promise<Category[]> {
  const rows = await readCsvTable(dir, "categories.csv", 3);
  return rows.map((r, i): Category => ({
    id: intField(r[0], `categories.csv:${i + 1}`),
    departmentId: intField(r[1], `categories.csv:${i + 1} department`),
    name: r[2],
  }));
}

/** departments.csv of `dir`, in file order. */
export async function loadDepartments(dir: string = DIMENSIONS_DIR): Promise<Department[]> {
  const rows = await readCsvTable(dir, "departments.csv", 2);
  return rows.map((r, i): Department => ({
    id: intField(r[0], `departments.csv:${i + 1}`),
    name: r[1],
  }));
}

/**
 * A small seeded PRNG (a Weyl sequence through a 32-bit avalanche mix) returning floats in
 * [0, 1); the same seed always gives the same sequence.
 *
 * @example
 * ```ts
 * import { prng } from "./retail_db.ts";
 * const a = prng(7), b = prng(7);
 * a() === b(); // true
 * ```
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
 * Draws one order's lines: 1–5 lines of distinct products (uniform over `products`, which
 * must hold at least 5), quantity 1–5, `order_item_product_price` = the product's price,
 * `order_item_subtotal` = price × quantity computed in whole cents, ids from `firstItemId` up.
 * The draws from `rand` are always in this order: line count, then per line product and
 * quantity (the data/ files depend on it).
 *
 * @example
 * ```ts
 * import { drawLineItems, prng } from "./retail_db.ts";
 * const products = [1, 2, 3, 4, 5].map((id) => ({ id, price: 19.99 }));
 * const items = drawLineItems(prng(1), products, 100);
 * items[0].order_item_id; // 100
 * ```
 */
export function drawLineItems(
  rand: () => number,
  products: readonly Product[],
  firstItemId: number,
): LineItem[] {
  const lines = 1 + Math.floor(rand() * 5);
  const items: LineItem[] = [];
  const picked: number[] = [];
  for (let l = 0; l < lines; l++) {
    let p: number;
    do p = Math.floor(rand() * products.length); while (picked.includes(p));
    picked.push(p);
    const product = products[p];
    const quantity = 1 + Math.floor(rand() * 5);
    const cents = Math.round(product.price * 100) * quantity;
    items.push({
      order_item_id: firstItemId + l,
      order_item_product_id: product.id,
      order_item_quantity: quantity,
      order_item_product_price: product.price,
      order_item_subtotal: cents / 100,
    });
  }
  return items;
}

/**
 * The order message of a customer's order, in the seed's field order.
 *
 * @example
 * ```ts
 * import { orderOf } from "./retail_db.ts";
 * const mary = { id: 11599, fname: "Mary", lname: "Malone", city: "Hickory", state: "NC",
 *   pincode: 28601 };
 * orderOf(1, mary, []).customer_id; // 11599
 * ```
 */
export function orderOf(orderId: number, customer: Customer, items: LineItem[]): Order {
  return {
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
