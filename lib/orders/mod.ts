/**
 * Orders: the seed's message shape, parsing + validation with dead-letter reasons, and the
 * flatten (explode line_items) into Arrow rows.
 *
 * @example
 * ```ts
 * import { flattenOrders, parseOrder } from "./lib/orders/mod.ts";
 * const r = parseOrder(record.value);
 * if (r.ok) flattenOrders([{ order: r.order, partition, offset, timestampMs }], Date.now());
 * ```
 * @module
 */

export * from "./schema.ts";
export * from "./validate.ts";
export * from "./flatten.ts";
export * from "./sinks.ts";
