/**
 * The report's figures as plain text lines: the key figures (the plain-text twin of kpiHtml,
 * for terminals and the notebook's text output) and the Chicago share line.
 *
 * @module
 */
import { fmtInt } from "../display.ts";
import type { OrderFigures } from "./figures.ts";

/**
 * The key figures in one line; duplicate rows are mentioned only when there are some.
 *
 * @example
 * ```ts
 * import { orderFigures } from "./figures.ts";
 * import { kpiText } from "./text.ts";
 * const f = orderFigures([{ orderId: 1, customerId: 7, city: "Chicago", state: "IL", itemId: 1,
 *   productId: 957, quantity: 2, subtotal: 59.98 }]);
 * kpiText(f); // "1 orders, revenue $59.98, 1 line items, 1 customers"
 * ```
 */
export function kpiText(f: OrderFigures): string {
  return `${fmtInt(f.orders)} orders, revenue $${f.revenue.toFixed(2)}, ` +
    `${fmtInt(f.lines)} line items, ${fmtInt(f.customers)} customers` +
    (f.duplicateRows > 0 ? `, ${fmtInt(f.duplicateRows)} duplicate rows ignored` : "");
}

/**
 * The Chicago orders (those the producer stream republishes) and their share of orders and
 * revenue.
 *
 * @example
 * ```ts
 * import { orderFigures } from "./figures.ts";
 * import { chicagoText } from "./text.ts";
 * const f = orderFigures([
 *   { orderId: 1, customerId: 7, city: "Chicago", state: "IL", itemId: 1, productId: 957,
 *     quantity: 2, subtotal: 59.98 },
 *   { orderId: 2, customerId: 8, city: "Hickory", state: "NC", itemId: 2, productId: 365,
 *     quantity: 1, subtotal: 59.99 },
 * ]);
 * chicagoText(f); // "1 of 2 orders (50.00%), $59.98 of revenue (50.00%)"
 * ```
 */
export function chicagoText(f: OrderFigures): string {
  return `${fmtInt(f.chicago.orders)} of ${fmtInt(f.orders)} orders ` +
    `(${(f.chicago.orderShare * 100).toFixed(2)}%), $${f.chicago.revenue.toFixed(2)} ` +
    `of revenue (${(f.chicago.revenueShare * 100).toFixed(2)}%)`;
}
