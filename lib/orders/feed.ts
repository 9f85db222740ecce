/**
 * The live order feed's records (`deno task produce -- --rate N`, the seed's "simulated API"):
 * an endless, seeded sequence of realistic orders, a chosen share of them malformed on purpose.
 *
 * Valid orders:
 * - a real customer (data/retail_db/customers.csv) and 1–5 lines of distinct real products
 *   (products.csv, the 1,338 with a price above 0) at their real price, quantity 1–5, subtotal =
 *   price × quantity in whole cents: the rule of the data/ files (`drawLineItems`);
 * - key = `String(customer_id)`, the seed's message shape (no extra fields);
 * - new, increasing ids from a time-based start ({@link feedIds}).
 *
 * Malformed records (share `badRate`): each is a generated order with one defect, so that
 * `parseOrder` rejects it with exactly the intended reason (and field path). The reasons rotate
 * through every code that input can cause ({@link FEED_REASONS}: all of REASON_CODES but
 * `internal_error`, the validator's own failure, and the table's `constraint_violated` and
 * `schema_mismatch`). The twelve ordinary ones take turns;
 * `too_large` (an order padded past the validator's 1 MiB limit) comes once every
 * {@link TOO_LARGE_EVERY} bad records, first as the 13th, so a short run shows every code and a
 * long one does not fill the log with megabyte records. The variant of a defect (which field,
 * which item, which kind of breakage) is drawn from the seed.
 *
 * Determinism: the orders come from one PRNG stream and the defects from a second one, both
 * from `seed`. The same seed gives the same customers, products, quantities, bad positions and
 * defects; the bad rate only decides which orders are spoiled, never which orders there are.
 * Ids (and the Kafka timestamps the sender adds) come from the clock.
 *
 * @module
 */
import type { Order } from "./schema.ts";
import { DEFAULT_MAX_BYTES, REASON_CODES, type ReasonCode } from "./validate.ts";
import {
  type Customer,
  DIMENSIONS_DIR,
  drawLineItems,
  loadCustomers,
  loadProducts,
  orderOf,
  prng,
  type Product,
} from "./retail_db.ts";

/** Customers and products orders are drawn from. */
export interface FeedCatalog {
  /** Customers, drawn uniformly. */
  customers: readonly Customer[];
  /** Products priced above zero (at least 5), drawn uniformly. */
  products: readonly Product[];
}

/**
 * Loads the feed's catalog from the committed retail_db copies (data/retail_db/): all 12,435
 * customers and the 1,338 products priced above zero.
 */
export async function loadFeedCatalog(dir: string = DIMENSIONS_DIR): Promise<FeedCatalog> {
  const [customers, products] = await Promise.all([loadCustomers(dir), loadProducts(dir)]);
  return {
    customers,
    products: products.filter((p) => p.price > 0).map((p) => ({ id: p.id, price: p.price })),
  };
}

/** Highest `--rate` (orders/s): the id rule of {@link feedIds} relies on it. */
export const MAX_FEED_RATE = 100_000;

/**
 * The first order and item ids of a feed started at `startMs` (ms since the epoch):
 * `order_id = startMs × 100 + n` and `order_item_id = startMs × 500 + m`, n and m counting from
 * 0. A feed sends at most {@link MAX_FEED_RATE} orders/s = 100 per ms (each with at most 5
 * items), so its ids never run ahead of `now × 100` (items: `now × 500`): a feed started later
 * always starts above every id an earlier one used (as long as the wall clock is not set back),
 * and far above the data/ files' ids (≤ 68,883 real, then counting up). The ids stay safe
 * integers (below 2^53) until the year 2255 for orders, 2541 for items.
 *
 * @example
 * ```ts
 * import { feedIds } from "./feed.ts";
 * feedIds(1_765_000_000_000);
 * // { firstOrderId: 176_500_000_000_000, firstItemId: 882_500_000_000_000 }
 * ```
 */
export function feedIds(startMs: number): { firstOrderId: number; firstItemId: number } {
  const ms = Math.floor(startMs);
  return { firstOrderId: ms * 100, firstItemId: ms * 500 };
}

/** One record of the feed: the Kafka key and value, and what the validator must say. */
export interface FeedRecord {
  /** Kafka key: the customer id as text (also for malformed records). */
  key: string;
  /** Kafka value: the order JSON (UTF-8), a malformed variant of it, or null (a tombstone). */
  value: Uint8Array | null;
  /** The order id this record took (malformed records take one too). */
  orderId: number;
  /** "ok" for a valid order, else the reason parseOrder must give. */
  intended: ReasonCode | "ok";
  /** The field path parseOrder must name, for field-level defects. */
  field?: string;
}

/** Options of {@link OrderFeed}. */
export interface OrderFeedOptions {
  /** PRNG seed (an unsigned 32-bit integer; others are reduced to one). */
  seed: number;
  /** Share of malformed records, 0..1 (default 0). */
  badRate?: number;
  /** Id of the first order ({@link feedIds}). */
  firstOrderId: number;
  /** Id of the first line item ({@link feedIds}). */
  firstItemId: number;
  /** Reasons to generate (default {@link FEED_REASONS}), e.g. without too_large. */
  reasons?: readonly ReasonCode[];
  /** The validator's size limit a too_large record must exceed (default 1 MiB). */
  maxBytes?: number;
}

/** Malformed records between two too_large ones (each is maxBytes + 1 bytes). */
export const TOO_LARGE_EVERY = 500;

const encoder = new TextEncoder();
const RAW = "\u0000raw\u0000";
const RAW_JSON = JSON.stringify(RAW);

/** JSON text of `value` where the field holding {@link RAW} is written as `raw` (any text). */
function jsonWithRaw(value: unknown, raw: string): string {
  return JSON.stringify(value).replace(RAW_JSON, raw);
}

function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** The order's JSON with `bytes` inserted right after the opening quote of `field`'s value. */
function insertBytes(order: Order, field: string, bytes: number[]): Uint8Array {
  const text = JSON.stringify(order);
  const at = text.indexOf(`"${field}":"`) + field.length + 4;
  return concat(
    encoder.encode(text.slice(0, at)),
    Uint8Array.from(bytes),
    encoder.encode(text.slice(at)),
  );
}

/** A defect: mutates/serialises the order, returns the bytes (null = tombstone) and field. */
type Defect = (
  order: Order,
  rand: () => number,
  maxBytes: number,
) => { value: Uint8Array | null; field?: string };

type Item = Record<string, unknown>;

/** A line-item defect on a drawn item: `fn` mutates the item, returns the field name. */
function onItem(fn: (item: Item) => string): Defect {
  return (order, rand) => {
    const i = Math.floor(rand() * order.line_items.length);
    const name = fn(order.line_items[i] as unknown as Item);
    return { value: encoder.encode(JSON.stringify(order)), field: `line_items[${i}].${name}` };
  };
}

/** A top-level defect: `fn` mutates the order (as a plain object), returns the field name. */
function onOrder(fn: (order: Item) => string): Defect {
  return (order) => {
    const field = fn(order as unknown as Item);
    return { value: encoder.encode(JSON.stringify(order)), field };
  };
}

const text = (s: string) => ({ value: encoder.encode(s) });

/**
 * Every input reason's variants: each yields exactly that reason from parseOrder. Not here:
 * `internal_error`, the validator's own failure, which no input produces.
 */
const DEFECTS: Partial<Record<ReasonCode, Defect[]>> = {
  null_value: [() => ({ value: null })],
  invalid_utf8: [
    // A Latin-1 é, a lead byte without its continuation, a cut-off 3-byte sequence.
    (o) => ({ value: insertBytes(o, "customer_lname", [0xe9]) }),
    (o) => ({ value: insertBytes(o, "customer_fname", [0xc3, 0x28]) }),
    (o) => ({ value: insertBytes(o, "city", [0xe2, 0x82]) }),
  ],
  too_large: [(o, _rand, maxBytes) => {
    // Valid JSON of exactly maxBytes + 1 bytes: the order with a padded note.
    const head = JSON.stringify(o).slice(0, -1) + ',"note":"';
    const pad = Math.max(0, maxBytes + 1 - head.length - 2);
    return text(head + "x".repeat(pad) + '"}');
  }],
  not_json: [
    (o, rand) => {
      const s = JSON.stringify(o);
      return text(s.slice(0, Math.floor(s.length * (0.2 + 0.6 * rand())))); // cut off
    },
    (o) => text(JSON.stringify(o).slice(0, -1) + ",}"), // trailing comma
    (o) => text(JSON.stringify(o).replaceAll('"', "'")), // Python's repr quotes
  ],
  not_object: [
    (o) => text(`[${JSON.stringify(o)}]`), // a batch of one
    (o) => text(JSON.stringify(JSON.stringify(o))), // encoded twice: a JSON string
  ],
  missing_field: [
    onOrder((o) => (delete o.order_id, "order_id")),
    onOrder((o) => (delete o.customer_id, "customer_id")),
    onItem((it) => (delete it.order_item_quantity, "order_item_quantity")),
    onItem((it) => (delete it.order_item_product_price, "order_item_product_price")),
  ],
  null_field: [
    onOrder((o) => (o.order_id = null, "order_id")),
    onItem((it) => (it.order_item_product_id = null, "order_item_product_id")),
    onItem((it) => (it.order_item_subtotal = null, "order_item_subtotal")),
    (o, rand) => {
      const i = Math.floor(rand() * o.line_items.length);
      (o.line_items as unknown[])[i] = null;
      return { value: encoder.encode(JSON.stringify(o)), field: `line_items[${i}]` };
    },
  ],
  wrong_type: [
    onOrder((o) => (o.customer_id = String(o.customer_id), "customer_id")),
    onOrder((o) => (o.pincode = String(o.pincode).padStart(5, "0"), "pincode")),
    onOrder((o) => (o.order_id = (o.order_id as number) + 0.5, "order_id")),
    onItem((
      it,
    ) => (it.order_item_quantity = String(it.order_item_quantity), "order_item_quantity")),
    onItem((it) => (
      it.order_item_product_price = `$${it.order_item_product_price}`, "order_item_product_price"
    )),
  ],
  out_of_range: [
    (o) => ({
      value: encoder.encode(jsonWithRaw({ ...o, order_id: RAW }, "18446744073709551616")),
      field: "order_id",
    }),
    (o) => ({
      value: encoder.encode(jsonWithRaw({ ...o, customer_id: RAW }, "-9223372036854775809")),
      field: "customer_id",
    }),
    (o, rand) => {
      const i = Math.floor(rand() * o.line_items.length);
      (o.line_items[i] as unknown as Item).order_item_product_price = RAW;
      return {
        value: encoder.encode(jsonWithRaw(o, "1e400")),
        field: `line_items[${i}].order_item_product_price`,
      };
    },
    // A fraction of a cent (a unit price from a per-gram rate): money is exact, never rounded.
    onItem((it) => {
      it.order_item_product_price = (it.order_item_product_price as number) + 0.005;
      return "order_item_product_price";
    }),
  ],
  no_line_items: [
    onOrder((o) => (o.line_items = [], "line_items")),
    onOrder((o) => (o.line_items = null, "line_items")),
    onOrder((o) => (delete o.line_items, "line_items")),
  ],
  non_positive_quantity: [
    onItem((it) => (it.order_item_quantity = 0, it.order_item_subtotal = 0, "order_item_quantity")),
    onItem((it) => {
      // A return booked as an order: quantity and subtotal negated.
      it.order_item_quantity = -(it.order_item_quantity as number);
      it.order_item_subtotal = -(it.order_item_subtotal as number);
      return "order_item_quantity";
    }),
  ],
  negative_price: [
    onItem((it) => {
      it.order_item_product_price = -(it.order_item_product_price as number);
      it.order_item_subtotal = -(it.order_item_subtotal as number);
      return "order_item_product_price";
    }),
  ],
  subtotal_mismatch: [
    onItem((it) => {
      // One unit too many (prices are at least a few dollars: far beyond a cent).
      const cents = Math.round((it.order_item_product_price as number) * 100);
      it.order_item_subtotal = (cents * ((it.order_item_quantity as number) + 1)) / 100;
      return "order_item_subtotal";
    }),
    onItem((it) => {
      // Shipping added to the line.
      it.order_item_subtotal = Math.round((it.order_item_subtotal as number) * 100 + 499) / 100;
      return "order_item_subtotal";
    }),
  ],
};

/**
 * The reasons the feed can generate, in REASON_CODES order: every code a record's content can
 * be rejected for (all but `internal_error`, which says the validator itself failed, and
 * `constraint_violated` and `schema_mismatch`, which depend on the table, not on the record).
 */
export const FEED_REASONS: readonly ReasonCode[] = REASON_CODES.filter((r) => r in DEFECTS);

/**
 * The feed: {@link OrderFeed.next} returns the next record, endlessly. See the module doc for
 * what the records are.
 *
 * @example
 * ```ts
 * import { feedIds, loadFeedCatalog, OrderFeed } from "./feed.ts";
 * import { parseOrder } from "./validate.ts";
 * const catalog = await loadFeedCatalog(); // data/retail_db/
 * const feed = new OrderFeed(catalog, { seed: 7, badRate: 0.1, ...feedIds(Date.now()) });
 * const r = feed.next();
 * const parsed = parseOrder(r.value);
 * // r.intended === "ok" ? parsed.ok : !parsed.ok && parsed.reason === r.intended
 * ```
 */
export class OrderFeed {
  readonly #catalog: FeedCatalog;
  readonly #orders: () => number;
  readonly #defects: () => number;
  readonly #badRate: number;
  readonly #maxBytes: number;
  readonly #ordinary: ReasonCode[];
  readonly #tooLarge: boolean;
  #nextOrderId: number;
  #nextItemId: number;
  #bad = 0;
  #ordinaryBad = 0;

  constructor(catalog: FeedCatalog, options: OrderFeedOptions) {
    if (catalog.customers.length === 0) throw new RangeError("the feed needs customers");
    if (catalog.products.length < 5) throw new RangeError("the feed needs at least 5 products");
    const badRate = options.badRate ?? 0;
    if (!(badRate >= 0 && badRate <= 1)) throw new RangeError("badRate must be in 0..1");
    const reasons = options.reasons ?? FEED_REASONS;
    const unknown = reasons.filter((r) => !FEED_REASONS.includes(r));
    if (unknown.length > 0) throw new RangeError(`the feed cannot generate ${unknown.join(", ")}`);
    if (badRate > 0 && reasons.length === 0) {
      throw new RangeError("a bad rate above 0 needs at least one reason");
    }
    this.#catalog = catalog;
    this.#orders = prng(options.seed);
    // A second stream (another seed from the same one) so defects never shift the orders.
    this.#defects = prng(Math.imul((options.seed >>> 0) ^ 0x5bd1e995, 0x27d4eb2d));
    this.#badRate = badRate;
    this.#maxBytes = options.maxBytes ?? DEFAULT_MAX_BYTES;
    this.#ordinary = FEED_REASONS.filter((r) => r !== "too_large" && reasons.includes(r));
    this.#tooLarge = reasons.includes("too_large");
    this.#nextOrderId = options.firstOrderId;
    this.#nextItemId = options.firstItemId;
  }

  /** The reason of the next malformed record: the rotation described in the module doc. */
  #nextReason(): ReasonCode {
    const j = this.#bad++;
    const n = this.#ordinary.length;
    if (this.#tooLarge && (n === 0 || j % TOO_LARGE_EVERY === n)) return "too_large";
    return this.#ordinary[this.#ordinaryBad++ % n];
  }

  /** The next record. */
  next(): FeedRecord {
    const { customers, products } = this.#catalog;
    const rand = this.#orders;
    const customer = customers[Math.floor(rand() * customers.length)];
    const items = drawLineItems(rand, products, this.#nextItemId);
    this.#nextItemId += items.length;
    const order = orderOf(this.#nextOrderId++, customer, items);
    const key = String(customer.id);
    const orderId = order.order_id as number;
    const d = this.#defects;
    if (!(d() < this.#badRate)) {
      return { key, value: encoder.encode(JSON.stringify(order)), orderId, intended: "ok" };
    }
    const reason = this.#nextReason();
    const variants = DEFECTS[reason]!;
    const defect = variants[Math.floor(d() * variants.length)];
    const { value, field } = defect(order, d, this.#maxBytes);
    return field === undefined
      ? { key, value, orderId, intended: reason }
      : { key, value, orderId, intended: reason, field };
  }
}
