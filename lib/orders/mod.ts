/**
 * Orders: the seed's message shape, parsing + validation with dead-letter reasons, and the
 * flatten (explode line_items) into Arrow rows.
 *
 * @example
 * ```ts
 * import { flattenOrders, parseOrder } from "./mod.ts";
 * const text = '{"order_id":1,"customer_id":11599,"line_items":[{"order_item_id":1,' +
 *   '"order_item_product_id":957,"order_item_quantity":1,"order_item_product_price":299.98,' +
 *   '"order_item_subtotal":299.98}]}';
 * const r = parseOrder(text); // a Kafka record's value
 * if (r.ok) {
 *   const record = { order: r.order, partition: 0, offset: "42", timestampMs: Date.now() };
 *   flattenOrders([record], Date.now()); // an Arrow table, one row per line item
 * }
 * ```
 * @module
 */

export * from "./schema.ts";
export * from "./validate.ts";
export * from "./flatten.ts";
export * from "./decode.ts";
export * from "./sinks.ts";
export * from "./money.ts";
