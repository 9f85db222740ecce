/**
 * The live dashboard's figures, kept up to date as rows of orders_cleaned arrive: orders and
 * revenue per minute of Kafka time, by state and city, per product (named from the catalog), per
 * category and department, and the share of one city (the orders the producer stream
 * republishes). Each call to {@link LiveOrders.add} folds in the rows of one data file; nothing
 * is read twice, so the cost per update is the new rows only.
 *
 * An order is one Kafka record (its lines share `kafka_partition` and `kafka_offset`, and the
 * streams write each record exactly once): an order produced twice is two orders here, as it is
 * two records on the topic. Money is summed in whole cents.
 *
 * @module
 */
import type { Table } from "apache-arrow";
import type { ProductCatalog } from "../orders/catalog.ts";
import { centsOf } from "../orders/money.ts";

/** The columns of orders_cleaned the dashboard reads. */
export const LIVE_COLUMNS = [
  "order_id",
  "city",
  "state",
  "product_id",
  "quantity",
  "subtotal",
  "kafka_partition",
  "kafka_offset",
  "kafka_timestamp",
] as const;

/** Orders and revenue of one group or minute. */
export interface Tally {
  /** Orders (Kafka records). */
  orders: number;
  /** Revenue in cents. */
  cents: number;
}

/** A named {@link Tally}, in dollars. */
export interface GroupRow {
  /** State code, "City, ST", category or department name. */
  key: string;
  /** Orders. */
  orders: number;
  /** Revenue in dollars (exact to the cent). */
  revenue: number;
}

/** One minute of the time series. */
export interface MinuteRow {
  /** Start of the minute (ms since the epoch, Kafka time). */
  minute: number;
  /** Orders whose Kafka timestamp falls in it. */
  orders: number;
  /** Their revenue in dollars. */
  revenue: number;
}

/** One product's sales, named. */
export interface ProductRow {
  /** product_id */
  productId: number;
  /** Name from the catalog. */
  name: string;
  /** Category name. */
  category: string;
  /** Department name. */
  department: string;
  /** Units sold. */
  quantity: number;
  /** Orders with the product. */
  orders: number;
  /** Revenue in dollars. */
  revenue: number;
}

/** Everything the page shows about the orders, at one moment. */
export interface OrderView {
  /** Orders (Kafka records) read. */
  orders: number;
  /** Line items (rows) read. */
  lines: number;
  /** Units sold. */
  units: number;
  /** Revenue in dollars. */
  revenue: number;
  /** The newest Kafka timestamp read (ms), or null before the first row. */
  newestEventMs: number | null;
  /** Orders and revenue per minute over the last `windowMinutes` (oldest first, gaps as 0). */
  perMinute: MinuteRow[];
  /** By state, by revenue. */
  byState: GroupRow[];
  /** By "City, ST", by revenue. */
  byCity: GroupRow[];
  /** By category, by revenue (orders: orders with a line of it). */
  byCategory: GroupRow[];
  /** By department, by revenue. */
  byDepartment: GroupRow[];
  /** The top products by revenue. */
  topProducts: ProductRow[];
  /** The city's orders and revenue and their shares of the whole. */
  city: {
    name: string;
    orders: number;
    revenue: number;
    orderShare: number;
    revenueShare: number;
  };
  /** Next offset read per Kafka partition of the input (the table's rows only). */
  offsets: Record<string, number>;
}

/** Options of {@link LiveOrders}. */
export interface LiveOrdersOptions {
  /** The city whose share is shown (default "Chicago", the producer stream's filter). */
  city?: string;
  /** Minutes of the time series (default 60). */
  windowMinutes?: number;
  /** Products to list (default 10). */
  topProducts?: number;
}

const MINUTE = 60_000;

function bump(m: Map<string, Tally>, key: string, cents: number): void {
  const t = m.get(key);
  if (t) {
    t.orders++;
    t.cents += cents;
  } else m.set(key, { orders: 1, cents });
}

function rows(m: Map<string, Tally>): GroupRow[] {
  return [...m].map(([key, t]) => ({ key, orders: t.orders, revenue: t.cents / 100 }))
    .sort((a, b) => b.revenue - a.revenue || (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
}

const num = (v: unknown) => (typeof v === "bigint" ? Number(v) : (v as number));

/**
 * The running figures of the orders read so far.
 *
 * @example
 * ```ts
 * import { flattenOrders } from "../orders/flatten.ts";
 * import { productCatalog } from "../orders/catalog.ts";
 * import { LiveOrders } from "./state.ts";
 * const catalog = productCatalog([{ id: 957, categoryId: 43, name: "Bike" }],
 *   [{ id: 43, departmentId: 7, name: "Camping & Hiking" }], [{ id: 7, name: "Fan Shop" }]);
 * const live = new LiveOrders(catalog);
 * const order = { order_id: 1, customer_id: 7, customer_fname: "Mary", customer_lname: "Malone",
 *   city: "Chicago", state: "IL", pincode: 60601, line_items: [{ order_item_id: 1,
 *   order_item_product_id: 957, order_item_quantity: 1, order_item_product_price: 299.98,
 *   order_item_subtotal: 299.98 }] };
 * live.add(flattenOrders([{ order, partition: 0, offset: 0, timestampMs: Date.now() }], Date.now()));
 * const v = live.view(Date.now());
 * [v.orders, v.revenue, v.topProducts[0].name, v.city.orderShare]; // [1, 299.98, "Bike", 1]
 * ```
 */
export class LiveOrders {
  readonly #catalog: ProductCatalog;
  readonly #city: string;
  readonly #window: number;
  readonly #top: number;
  #orders = 0;
  #lines = 0;
  #units = 0;
  #cents = 0;
  #newest: number | null = null;
  #minutes = new Map<number, Tally>();
  #byState = new Map<string, Tally>();
  #byCity = new Map<string, Tally>();
  #byCategory = new Map<string, Tally>();
  #byDepartment = new Map<string, Tally>();
  #products = new Map<number, { quantity: number; cents: number; orders: number }>();
  #cityTally: Tally = { orders: 0, cents: 0 };
  #offsets = new Map<number, number>();

  constructor(catalog: ProductCatalog, opts: LiveOrdersOptions = {}) {
    this.#catalog = catalog;
    this.#city = opts.city ?? "Chicago";
    this.#window = opts.windowMinutes ?? 60;
    this.#top = opts.topProducts ?? 10;
  }

  /** Forgets everything (the table was replaced or rewritten: it is read again). */
  reset(): void {
    this.#orders =
      this.#lines =
      this.#units =
      this.#cents =
        0;
    this.#newest = null;
    for (
      const m of [this.#minutes, this.#byState, this.#byCity, this.#byCategory, this.#byDepartment]
    ) m.clear();
    this.#products.clear();
    this.#cityTally = { orders: 0, cents: 0 };
    this.#offsets.clear();
  }

  /** Folds in the rows of one data file of orders_cleaned (at least {@link LIVE_COLUMNS}). */
  add(table: Table): void {
    const n = table.numRows;
    if (n === 0) return;
    const missing = (name: string): never => {
      throw new Error(`the table has no column '${name}': is it orders_cleaned?`);
    };
    const col = (name: string) =>
      (table.getChild(name) ?? missing(name)).toArray() as ArrayLike<unknown>;
    const city = col("city");
    const state = col("state");
    const product = col("product_id");
    const quantity = col("quantity");
    // Money exactly, decimal (new tables) or double (older ones).
    const subtotal = centsOf(table.getChild("subtotal") ?? missing("subtotal"));
    const partition = col("kafka_partition");
    const offset = col("kafka_offset");
    const ts = col("kafka_timestamp"); // µs
    // The file's orders: its rows grouped by Kafka record.
    const orders = new Map<string, {
      cents: number;
      city: string | null;
      state: string | null;
      ms: number;
      products: Map<number, { quantity: number; cents: number }>;
    }>();
    for (let i = 0; i < n; i++) {
      const p = num(partition[i]);
      const off = num(offset[i]);
      const key = `${p}:${off}`;
      let o = orders.get(key);
      if (!o) {
        o = {
          cents: 0,
          city: (city[i] as string | null) ?? null,
          state: (state[i] as string | null) ?? null,
          ms: Math.floor(num(ts[i]) / 1000),
          products: new Map(),
        };
        orders.set(key, o);
        if ((this.#offsets.get(p) ?? 0) <= off) this.#offsets.set(p, off + 1);
      }
      const c = subtotal[i];
      const q = num(quantity[i]);
      o.cents += c;
      const id = num(product[i]);
      const line = o.products.get(id);
      if (line) {
        line.quantity += q;
        line.cents += c;
      } else o.products.set(id, { quantity: q, cents: c });
      this.#lines++;
      this.#units += q;
    }
    for (const o of orders.values()) {
      this.#orders++;
      this.#cents += o.cents;
      if (this.#newest === null || o.ms > this.#newest) this.#newest = o.ms;
      const minute = Math.floor(o.ms / MINUTE) * MINUTE;
      const t = this.#minutes.get(minute);
      if (t) {
        t.orders++;
        t.cents += o.cents;
      } else this.#minutes.set(minute, { orders: 1, cents: o.cents });
      bump(this.#byState, o.state ?? "(none)", o.cents);
      bump(this.#byCity, `${o.city ?? "(none)"}, ${o.state ?? "?"}`, o.cents);
      if (o.city === this.#city) {
        this.#cityTally.orders++;
        this.#cityTally.cents += o.cents;
      }
      const cats = new Map<string, number>();
      const deps = new Map<string, number>();
      for (const [id, line] of o.products) {
        const pr = this.#products.get(id);
        if (pr) {
          pr.quantity += line.quantity;
          pr.cents += line.cents;
          pr.orders++;
        } else this.#products.set(id, { quantity: line.quantity, cents: line.cents, orders: 1 });
        const info = this.#catalog.info(id);
        cats.set(info.category, (cats.get(info.category) ?? 0) + line.cents);
        deps.set(info.department, (deps.get(info.department) ?? 0) + line.cents);
      }
      for (const [k, c] of cats) bump(this.#byCategory, k, c);
      for (const [k, c] of deps) bump(this.#byDepartment, k, c);
    }
    this.#prune();
  }

  /** Keeps the minutes of the window (and a little more) only. */
  #prune(): void {
    if (this.#newest === null) return;
    const oldest = this.#newest - (this.#window + 5) * MINUTE;
    for (const m of this.#minutes.keys()) if (m < oldest) this.#minutes.delete(m);
  }

  /** The figures now (`nowMs` ends the time series' window). */
  view(nowMs: number): OrderView {
    const last = Math.floor(nowMs / MINUTE) * MINUTE;
    const perMinute: MinuteRow[] = [];
    for (let i = this.#window - 1; i >= 0; i--) {
      const minute = last - i * MINUTE;
      const t = this.#minutes.get(minute);
      perMinute.push({ minute, orders: t?.orders ?? 0, revenue: (t?.cents ?? 0) / 100 });
    }
    const topProducts = [...this.#products]
      .sort((a, b) => b[1].cents - a[1].cents || a[0] - b[0])
      .slice(0, this.#top)
      .map(([id, p]) => {
        const info = this.#catalog.info(id);
        return {
          productId: id,
          name: info.name,
          category: info.category,
          department: info.department,
          quantity: p.quantity,
          orders: p.orders,
          revenue: p.cents / 100,
        };
      });
    return {
      orders: this.#orders,
      lines: this.#lines,
      units: this.#units,
      revenue: this.#cents / 100,
      newestEventMs: this.#newest,
      perMinute,
      byState: rows(this.#byState),
      byCity: rows(this.#byCity),
      byCategory: rows(this.#byCategory),
      byDepartment: rows(this.#byDepartment),
      topProducts,
      city: {
        name: this.#city,
        orders: this.#cityTally.orders,
        revenue: this.#cityTally.cents / 100,
        orderShare: this.#orders ? this.#cityTally.orders / this.#orders : 0,
        revenueShare: this.#cents ? this.#cityTally.cents / this.#cents : 0,
      },
      offsets: Object.fromEntries([...this.#offsets].sort((a, b) => a[0] - b[0])),
    };
  }
}

/** Dead letters read so far, by reason code. */
export interface DeadLetterView {
  /** Dead letters in all. */
  total: number;
  /** Per reason code, most first. */
  byReason: { reason: string; count: number }[];
}

/**
 * Counts the rows of orders_dead_letters by reason, file by file.
 *
 * @example
 * ```ts
 * import { tableFromArrays } from "apache-arrow";
 * import { DeadLetterCounts } from "./state.ts";
 * const counts = new DeadLetterCounts();
 * counts.add(tableFromArrays({ reason: ["invalid_json", "missing_field", "invalid_json"] }));
 * counts.view(); // { total: 3, byReason: [{ reason: "invalid_json", count: 2 }, …] }
 * ```
 */
export class DeadLetterCounts {
  #counts = new Map<string, number>();

  /** Folds in the rows of one data file (a `reason` column). */
  add(table: Table): void {
    const reason = table.getChild("reason");
    if (!reason) throw new Error("the table has no column 'reason': is it orders_dead_letters?");
    const values = reason.toArray() as ArrayLike<string | null>;
    for (let i = 0; i < table.numRows; i++) {
      const r = values[i] ?? "(none)";
      this.#counts.set(r, (this.#counts.get(r) ?? 0) + 1);
    }
  }

  /** Forgets everything. */
  reset(): void {
    this.#counts.clear();
  }

  /** The counts now. */
  view(): DeadLetterView {
    const byReason = [...this.#counts].map(([reason, count]) => ({ reason, count }))
      .sort((a, b) => b.count - a.count || (a.reason < b.reason ? -1 : 1));
    return { total: byReason.reduce((n, r) => n + r.count, 0), byReason };
  }
}
