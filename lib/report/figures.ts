/**
 * The numbers of the orders report, computed from rows of the cleaned (silver) table: revenue
 * and orders by state and city, top products, order-size distribution and the Chicago share
 * (the orders the producer stream republishes); with a product catalog (lib/orders/catalog.ts),
 * products are named and revenue is also summed per category and department. Money is summed in whole cents, so totals are
 * exact to the cent. A line item read twice (same order_id and item_id, e.g. the same file
 * produced twice) is counted once and reported as a duplicate row.
 *
 * @module
 */
import type { Table } from "apache-arrow";
import type { ProductCatalog } from "../orders/catalog.ts";
import { centsOf } from "../orders/money.ts";

/** The columns {@link orderFigures} reads. */
export const FIGURE_COLUMNS = [
  "order_id",
  "customer_id",
  "city",
  "state",
  "item_id",
  "product_id",
  "quantity",
  "subtotal",
] as const;

/** One cleaned row as the figures need it. */
export interface LineRow {
  /** Order id. */
  orderId: number;
  /** Customer id. */
  customerId: number;
  /** City (may be null in the table). */
  city: string | null;
  /** State code (may be null). */
  state: string | null;
  /** Line item id, unique across the data set. */
  itemId: number;
  /** Product id. */
  productId: number;
  /** Units. */
  quantity: number;
  /** price × quantity. */
  subtotal: number;
}

/** Orders and revenue of one group (a state, a city). */
export interface GroupFigure {
  /** Group name: state code, or "City, ST". */
  key: string;
  /** Distinct orders. */
  orders: number;
  /** Revenue in currency units, exact to the cent. */
  revenue: number;
}

/** One product's sales. */
export interface ProductFigure {
  /** Product id. */
  productId: number;
  /** Product name ("product N" without a catalog or when the id is not in it). */
  name: string;
  /** Category name (or "unknown category …"). */
  category: string;
  /** Department name (or "unknown department …"). */
  department: string;
  /** Units sold. */
  quantity: number;
  /** Revenue. */
  revenue: number;
  /** Orders containing it. */
  orders: number;
}

/** Every figure of the report. */
export interface OrderFigures {
  /** Rows read from the table. */
  rows: number;
  /** Distinct line items (order_id, item_id). */
  lines: number;
  /** rows − lines: line items read more than once. */
  duplicateRows: number;
  /** Distinct orders. */
  orders: number;
  /** Distinct customers. */
  customers: number;
  /** Total revenue, exact to the cent. */
  revenue: number;
  /** Revenue / orders. */
  averageOrder: number;
  /** Per state, by revenue (then name). */
  byState: GroupFigure[];
  /** Per "City, ST", by revenue (then name). */
  byCity: GroupFigure[];
  /** Per category, by revenue (then name); empty without a catalog. `orders`: orders with a line of it. */
  byCategory: GroupFigure[];
  /** Per department, by revenue (then name); empty without a catalog. */
  byDepartment: GroupFigure[];
  /** Products by revenue (then id), the first `topProducts` of them. */
  topProducts: ProductFigure[];
  /** Order totals in bins of `orderSizeBin` (lower edge, count), ascending. */
  orderTotals: { from: number; to: number; count: number }[];
  /** Width of an order-total bin. */
  orderSizeBin: number;
  /** Orders by number of line items: `{"1": n, "2": n, …}`. */
  linesPerOrder: Record<string, number>;
  /** The orders of city = 'Chicago' (the producer stream's filter) and their shares. */
  chicago: { orders: number; revenue: number; orderShare: number; revenueShare: number };
}

/** Options for {@link orderFigures}. */
export interface FigureOptions {
  /** How many products to keep (default 10). */
  topProducts?: number;
  /** Order-total bin width (default 100). */
  orderSizeBin?: number;
  /** The city the producer stream keeps (default "Chicago"). */
  city?: string;
  /** Names products and gives the per-category and per-department figures. */
  catalog?: ProductCatalog;
}

function num(v: unknown): number {
  return typeof v === "bigint" ? Number(v) : (v as number);
}

/**
 * Rows of an Arrow table of the cleaned table (at least {@link FIGURE_COLUMNS}).
 *
 * @example
 * ```ts
 * import { flattenOrders } from "../orders/flatten.ts";
 * import type { Order } from "../orders/schema.ts";
 * import { lineRows } from "./figures.ts";
 * const order: Order = {
 *   order_id: 1, customer_id: 7, customer_fname: "Mary", customer_lname: "Malone",
 *   city: "Chicago", state: "IL", pincode: 60601,
 *   line_items: [{ order_item_id: 1, order_item_product_id: 957, order_item_quantity: 2,
 *     order_item_product_price: 29.99, order_item_subtotal: 59.98 }],
 * };
 * // The cleaned rows, as read(table, { columns: [...FIGURE_COLUMNS] }) returns them:
 * const record = { order, partition: 0, offset: 0, timestampMs: Date.now() };
 * const cleaned = flattenOrders([record], Date.now());
 * lineRows(cleaned);
 * // [{ orderId: 1, customerId: 7, city: "Chicago", state: "IL", itemId: 1, productId: 957,
 * //    quantity: 2, subtotal: 59.98 }]
 * ```
 */
export function lineRows(table: Table): LineRow[] {
  const vector = (name: string) => {
    const c = table.getChild(name);
    if (!c) throw new Error(`the table has no column '${name}': is it orders_cleaned?`);
    return c;
  };
  const col = (name: string) => vector(name).toArray() as ArrayLike<unknown>;
  const orderId = col("order_id");
  const customerId = col("customer_id");
  const city = col("city");
  const state = col("state");
  const itemId = col("item_id");
  const productId = col("product_id");
  const quantity = col("quantity");
  // Money exactly, whether the table stores it as decimal (new tables) or double (older ones).
  const subtotal = centsOf(vector("subtotal"));
  const rows: LineRow[] = new Array(table.numRows);
  for (let i = 0; i < table.numRows; i++) {
    rows[i] = {
      orderId: num(orderId[i]),
      customerId: num(customerId[i]),
      city: (city[i] as string | null) ?? null,
      state: (state[i] as string | null) ?? null,
      itemId: num(itemId[i]),
      productId: num(productId[i]),
      quantity: num(quantity[i]),
      subtotal: subtotal[i] / 100,
    };
  }
  return rows;
}

const cents = (v: number) => Math.round(v * 100);

function byRevenue(a: { revenue: number; key: string }, b: { revenue: number; key: string }) {
  return b.revenue - a.revenue || (a.key < b.key ? -1 : a.key > b.key ? 1 : 0);
}

/**
 * Computes every figure of the report from cleaned rows.
 *
 * @example
 * ```ts
 * import { orderFigures } from "./figures.ts";
 * const f = orderFigures([
 *   { orderId: 1, customerId: 7, city: "Chicago", state: "IL", itemId: 1, productId: 957,
 *     quantity: 2, subtotal: 59.98 },
 *   { orderId: 2, customerId: 8, city: "Hickory", state: "NC", itemId: 2, productId: 365,
 *     quantity: 1, subtotal: 59.99 },
 * ]);
 * [f.orders, f.revenue, f.chicago.orderShare]; // [2, 119.97, 0.5]
 * ```
 */
export function orderFigures(rows: readonly LineRow[], opts: FigureOptions = {}): OrderFigures {
  const city = opts.city ?? "Chicago";
  const bin = opts.orderSizeBin ?? 100;
  const seen = new Set<string>();
  const orders = new Map<number, { cents: number; lines: number; state: string; city: string }>();
  const customers = new Set<number>();
  const products = new Map<number, { quantity: number; cents: number; orders: Set<number> }>();
  let totalCents = 0;
  for (const r of rows) {
    const k = `${r.orderId}:${r.itemId}`;
    if (seen.has(k)) continue;
    seen.add(k);
    const c = cents(r.subtotal);
    totalCents += c;
    customers.add(r.customerId);
    const o = orders.get(r.orderId) ??
      {
        cents: 0,
        lines: 0,
        state: r.state ?? "(none)",
        city: `${r.city ?? "(none)"}, ${r.state ?? "?"}`,
      };
    o.cents += c;
    o.lines++;
    orders.set(r.orderId, o);
    const p = products.get(r.productId) ?? { quantity: 0, cents: 0, orders: new Set<number>() };
    p.quantity += r.quantity;
    p.cents += c;
    p.orders.add(r.orderId);
    products.set(r.productId, p);
  }
  const group = (keyOf: (o: { state: string; city: string }) => string): GroupFigure[] => {
    const m = new Map<string, { orders: number; cents: number }>();
    for (const o of orders.values()) {
      const g = m.get(keyOf(o)) ?? { orders: 0, cents: 0 };
      g.orders++;
      g.cents += o.cents;
      m.set(keyOf(o), g);
    }
    return [...m].map(([key, g]) => ({ key, orders: g.orders, revenue: g.cents / 100 })).sort(
      byRevenue,
    );
  };
  const chicagoOrders = [...orders.values()].filter((o) => o.city.startsWith(`${city}, `));
  const chicagoCents = chicagoOrders.reduce((a, o) => a + o.cents, 0);
  const totals = [...orders.values()].map((o) => o.cents / 100);
  const maxTotal = totals.reduce((a, b) => Math.max(a, b), 0);
  const nBins = Math.floor(maxTotal / bin) + 1;
  const orderTotals = Array.from({ length: totals.length ? nBins : 0 }, (_, i) => ({
    from: i * bin,
    to: (i + 1) * bin,
    count: 0,
  }));
  for (const t of totals) orderTotals[Math.floor(t / bin)].count++;
  const linesPerOrder: Record<string, number> = {};
  for (const o of orders.values()) linesPerOrder[o.lines] = (linesPerOrder[o.lines] ?? 0) + 1;
  const info = (id: number) =>
    opts.catalog?.info(id) ??
      { name: `product ${id}`, category: "unknown category", department: "unknown department" };
  const byLevel = (level: "category" | "department"): GroupFigure[] => {
    if (!opts.catalog) return [];
    const m = new Map<string, { orders: Set<number>; cents: number }>();
    for (const [id, p] of products) {
      const key = info(id)[level];
      const g = m.get(key) ?? { orders: new Set<number>(), cents: 0 };
      for (const o of p.orders) g.orders.add(o);
      g.cents += p.cents;
      m.set(key, g);
    }
    return [...m].map(([key, g]) => ({ key, orders: g.orders.size, revenue: g.cents / 100 }))
      .sort(byRevenue);
  };
  const topProducts = [...products]
    .map(([productId, p]) => ({
      productId,
      name: info(productId).name,
      category: info(productId).category,
      department: info(productId).department,
      quantity: p.quantity,
      revenue: p.cents / 100,
      orders: p.orders.size,
      key: String(productId).padStart(12, "0"),
    }))
    .sort(byRevenue)
    .slice(0, opts.topProducts ?? 10)
    .map(({ key: _key, ...p }) => p);
  return {
    rows: rows.length,
    lines: seen.size,
    duplicateRows: rows.length - seen.size,
    orders: orders.size,
    customers: customers.size,
    revenue: totalCents / 100,
    averageOrder: orders.size ? Math.round(totalCents / orders.size) / 100 : 0,
    byState: group((o) => o.state),
    byCity: group((o) => o.city),
    byCategory: byLevel("category"),
    byDepartment: byLevel("department"),
    topProducts,
    orderTotals,
    orderSizeBin: bin,
    linesPerOrder,
    chicago: {
      orders: chicagoOrders.length,
      revenue: chicagoCents / 100,
      orderShare: orders.size ? chicagoOrders.length / orders.size : 0,
      revenueShare: totalCents ? chicagoCents / totalCents : 0,
    },
  };
}
