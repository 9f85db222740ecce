/**
 * The filter mode's predicate: which orders are republished unchanged. Built from flags
 * (`--city`, `--state`, `--min-total`); every given condition must hold (AND).
 *
 * - city and state compare exactly (case-sensitive, as Spark's `city = 'Chicago'`); an order
 *   whose city/state is null never matches a city/state condition.
 * - the order total is the sum of its line subtotals, in whole cents (each subtotal rounded to
 *   the cent), compared with `>=`.
 *
 * @module
 */
import { UserError } from "../errors.ts";
import type { Order } from "../orders/schema.ts";

/** The conditions of a filter; absent ones are not checked. */
export interface OrderFilter {
  /** Keep orders of this city. */
  city?: string;
  /** Keep orders of this state code. */
  state?: string;
  /** Keep orders whose total (sum of line subtotals) is at least this many dollars. */
  minTotal?: number;
}

/** A filter flag that is not usable; the message says what is expected. */
export class FilterError extends UserError {
  override name = "FilterError";
}

/** An order's total in whole cents: the sum of its line subtotals, each rounded to the cent. */
export function orderTotalCents(order: Order): number {
  let cents = 0;
  for (const it of order.line_items) cents += Math.round(it.order_item_subtotal * 100);
  return cents;
}

/**
 * Builds a filter from flag values; `--city ''` means "no city condition".
 *
 * @example
 * ```ts
 * import { filterFromFlags } from "./filter.ts";
 * console.log(filterFromFlags({ city: "Chicago", "min-total": "100" }));
 * // { city: "Chicago", minTotal: 100 }
 * ```
 */
export function filterFromFlags(flags: {
  city?: string;
  state?: string;
  "min-total"?: string;
}): OrderFilter {
  const f: OrderFilter = {};
  if (flags.city !== undefined && flags.city !== "") f.city = flags.city;
  if (flags.state !== undefined && flags.state !== "") f.state = flags.state;
  if (flags["min-total"] !== undefined && flags["min-total"] !== "") {
    const n = Number(flags["min-total"]);
    if (!Number.isFinite(n) || n < 0) {
      throw new FilterError(`--min-total '${flags["min-total"]}' is not a non-negative amount`);
    }
    f.minTotal = n;
  }
  return f;
}

/**
 * True when the order meets every condition of the filter.
 *
 * @example
 * ```ts
 * import type { Order } from "../orders/schema.ts";
 * import { matchesFilter } from "./filter.ts";
 * const order: Order = { order_id: 2, customer_id: 256, customer_fname: null,
 *   customer_lname: null, city: "Chicago", state: "IL", pincode: 60625,
 *   line_items: [{ order_item_id: 2, order_item_product_id: 415, order_item_quantity: 1,
 *     order_item_product_price: 129.99, order_item_subtotal: 129.99 }] };
 * console.log(matchesFilter(order, { city: "Chicago", minTotal: 100 })); // true
 * console.log(matchesFilter(order, { city: "Chicago", minTotal: 200 })); // false
 * ```
 */
export function matchesFilter(order: Order, filter: OrderFilter): boolean {
  if (filter.city !== undefined && order.city !== filter.city) return false;
  if (filter.state !== undefined && order.state !== filter.state) return false;
  if (filter.minTotal !== undefined && orderTotalCents(order) < Math.round(filter.minTotal * 100)) {
    return false;
  }
  return true;
}

/** The filter as text for logs and query names, e.g. `city=Chicago AND total>=100`. */
export function describeFilter(filter: OrderFilter): string {
  const parts: string[] = [];
  if (filter.city !== undefined) parts.push(`city = '${filter.city}'`);
  if (filter.state !== undefined) parts.push(`state = '${filter.state}'`);
  if (filter.minTotal !== undefined) parts.push(`total >= ${filter.minTotal}`);
  return parts.length === 0 ? "(every valid order)" : parts.join(" AND ");
}

/** A short, name-safe slug of the filter for the default query name, e.g. `chicago-min100`. */
export function filterSlug(filter: OrderFilter): string {
  const parts: string[] = [];
  if (filter.city !== undefined) parts.push(filter.city);
  if (filter.state !== undefined) parts.push(filter.state);
  if (filter.minTotal !== undefined) parts.push(`min${filter.minTotal}`);
  const slug = parts.join("-").toLowerCase().replace(/[^a-z0-9._-]+/g, "_");
  return slug === "" ? "all" : slug;
}
