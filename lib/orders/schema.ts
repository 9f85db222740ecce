/**
 * The order message as the seed's producer sends it (one JSON object per Kafka record,
 * key = customer_id as a string), typed for TypeScript.
 *
 * Longs (Spark `long`, Arrow Int64) are kept exact:
 * - the common case, a safe integer (|v| ≤ 2^53 − 1), is a plain JS `number`;
 * - a value beyond 2^53 but inside int64 (−2^63 … 2^63 − 1) is a `bigint` holding the exact
 *   digits of the JSON text (the validator re-reads such records with the JSON source-text
 *   reviver, so nothing is rounded). These are rare and only cost time when they occur.
 *
 * Doubles (prices, subtotals) are JS numbers. Customer names, city, state and pincode may be
 * `null` (an absent field is read as null); ids and line items never are.
 *
 * @example
 * ```ts
 * import type { Order } from "./schema.ts";
 * const order: Order = {
 *   order_id: 1, customer_id: 11599, customer_fname: "Mary", customer_lname: "Malone",
 *   city: "Hickory", state: "NC", pincode: 28601,
 *   line_items: [{ order_item_id: 1, order_item_product_id: 957, order_item_quantity: 1,
 *     order_item_product_price: 299.98, order_item_subtotal: 299.98 }],
 * };
 * ```
 * @module
 */

/** A 64-bit signed integer: a `number` when it is a safe integer, else an exact `bigint`. */
export type Long = number | bigint;

/** One order line, exactly the seed's `line_items[]` element. */
export interface LineItem {
  /** Line id, increasing across the whole data set. */
  order_item_id: Long;
  /** The product (products.csv product_id). */
  order_item_product_id: Long;
  /** Units ordered, always ≥ 1 in a valid order. */
  order_item_quantity: Long;
  /** Unit price in dollars, ≥ 0. */
  order_item_product_price: number;
  /** price × quantity, within one cent. */
  order_item_subtotal: number;
}

/** One order message, exactly the seed's shape (field order included). */
export interface Order {
  /** Order id (orders.csv order_id). */
  order_id: Long;
  /** Customer id (customers.csv customer_id); also the Kafka key. */
  customer_id: Long;
  /** Customer first name, or null when unknown. */
  customer_fname: string | null;
  /** Customer last name, or null when unknown. */
  customer_lname: string | null;
  /** Customer city, or null when unknown. */
  city: string | null;
  /** Customer state code, or null when unknown. */
  state: string | null;
  /** Zip code as a number (zip `00725` is `725`), or null when unknown. */
  pincode: Long | null;
  /** The order's lines; never empty in a valid order. */
  line_items: LineItem[];
}

/** Names of the order-level fields, in the seed's order. */
export const ORDER_FIELDS = [
  "order_id",
  "customer_id",
  "customer_fname",
  "customer_lname",
  "city",
  "state",
  "pincode",
  "line_items",
] as const;

/** Names of the line-item fields, in the seed's order. */
export const LINE_ITEM_FIELDS = [
  "order_item_id",
  "order_item_product_id",
  "order_item_quantity",
  "order_item_product_price",
  "order_item_subtotal",
] as const;

/** Smallest int64 value, −2^63. */
export const INT64_MIN: bigint = -(2n ** 63n);
/** Largest int64 value, 2^63 − 1. */
export const INT64_MAX: bigint = 2n ** 63n - 1n;

/**
 * Serialises an order to one JSON line in the seed's field order; bigints are written as
 * exact integer literals.
 *
 * @example
 * ```ts
 * import { type Order, orderToJson } from "./schema.ts";
 * const order: Order = {
 *   order_id: 2n ** 60n, customer_id: 11599, customer_fname: null, customer_lname: null,
 *   city: null, state: null, pincode: null,
 *   line_items: [{ order_item_id: 1, order_item_product_id: 957, order_item_quantity: 1,
 *     order_item_product_price: 299.98, order_item_subtotal: 299.98 }],
 * };
 * orderToJson(order); // '{"order_id":1152921504606846976,"customer_id":11599,...'
 * ```
 */
export function orderToJson(order: Order): string {
  const text = JSON.stringify(
    order,
    (_k, v) => typeof v === "bigint" ? `\u0000big:${v}\u0000` : v,
  );
  return text.includes("\\u0000big:") ? text.replace(/"\\u0000big:(-?\d+)\\u0000"/g, "$1") : text;
}
