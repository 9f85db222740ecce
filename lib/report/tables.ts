/**
 * The report's tables as the notebook shows them (`showRows(...table)`): the table's history,
 * a sample of the rows read, the top states and cities, the top products and the line items
 * per order. Each function returns the columns (with their types) and the rows.
 *
 * @module
 */
import type { Table } from "apache-arrow";
import type { Column } from "../display.ts";
import type { HistoryEntry } from "../delta/table.ts";
import type { StructType } from "../delta/schema.ts";
import type { GroupFigure, OrderFigures } from "./figures.ts";

/** Columns and rows, in the order showRows takes them. */
export type RowsTable = [columns: Column[], rows: Record<string, unknown>[]];

/**
 * The commits of a table (newest first, as `history` returns them): version, time, operation
 * and rows added.
 *
 * @example
 * ```ts
 * import { historyTable } from "./tables.ts";
 * const [columns, rows] = historyTable([{ version: 1, timestamp: 0, operation: "STREAMING UPDATE",
 *   operationParameters: {}, numOutputRows: 42, operationMetrics: {}, readVersion: 0,
 *   isBlindAppend: true, engineInfo: undefined }]);
 * columns.map((c) => c.name); // ["version", "timestamp", "operation", "rows added"]
 * rows[0]["rows added"]; // 42
 * ```
 */
export function historyTable(commits: readonly HistoryEntry[]): RowsTable {
  return [
    [
      { name: "version", type: "long" },
      { name: "timestamp", type: "timestamp" },
      { name: "operation", type: "string" },
      { name: "rows added", type: "long" },
    ],
    commits.map((c) => ({
      version: c.version,
      timestamp: new Date(c.timestamp),
      operation: c.operation ?? "",
      "rows added": c.numOutputRows ?? null,
    })),
  ];
}

/**
 * The first `n` rows read, with the Delta types of their columns from the table's schema (in
 * the schema's order).
 *
 * @example
 * ```ts
 * import { tableFromArrays } from "apache-arrow";
 * import { sampleTable } from "./tables.ts";
 * const schema = { type: "struct" as const, fields: [
 *   { name: "order_id", type: "long" as const, nullable: true, metadata: {} },
 *   { name: "city", type: "string" as const, nullable: true, metadata: {} },
 * ] };
 * const data = tableFromArrays({ city: ["Chicago", "Hickory"] });
 * const [columns, rows] = sampleTable(schema, data, 1);
 * [columns, rows]; // [[{ name: "city", type: "string" }], [{ city: "Chicago" }]]
 * ```
 */
export function sampleTable(schema: StructType, data: Table, n = 5): RowsTable {
  const read = new Set(data.schema.fields.map((f) => f.name));
  const columns = schema.fields
    .filter((f) => read.has(f.name))
    .map((f) => ({ name: f.name, type: typeof f.type === "string" ? f.type : f.type.type }));
  return [columns, data.slice(0, n).toArray().map((r) => r.toJSON())];
}

/**
 * The first `n` groups (states or cities, by revenue) as rows named by `key`.
 *
 * @example
 * ```ts
 * import { groupTable } from "./tables.ts";
 * const [, rows] = groupTable([{ key: "IL", orders: 2, revenue: 119.97 }], "state");
 * rows; // [{ state: "IL", orders: 2, revenue: 119.97 }]
 * ```
 */
export function groupTable(groups: readonly GroupFigure[], key: string, n = 10): RowsTable {
  return [
    [
      { name: key, type: "string" },
      { name: "orders", type: "long" },
      { name: "revenue", type: "double" },
    ],
    groups.slice(0, n).map((g) => ({ [key]: g.key, orders: g.orders, revenue: g.revenue })),
  ];
}

/**
 * The top products: product id, name, category, department, units, orders and revenue.
 *
 * @example
 * ```ts
 * import { orderFigures } from "./figures.ts";
 * import { productTable } from "./tables.ts";
 * const f = orderFigures([{ orderId: 1, customerId: 7, city: "Chicago", state: "IL", itemId: 1,
 *   productId: 957, quantity: 2, subtotal: 59.98 }]);
 * productTable(f)[1][0];
 * // { product: 957, name: "product 957", category: "unknown category",
 * //   department: "unknown department", quantity: 2, orders: 1, revenue: 59.98 }
 * ```
 */
export function productTable(f: OrderFigures): RowsTable {
  return [
    [
      { name: "product", type: "long" },
      { name: "name", type: "string" },
      { name: "category", type: "string" },
      { name: "department", type: "string" },
      { name: "quantity", type: "long" },
      { name: "orders", type: "long" },
      { name: "revenue", type: "double" },
    ],
    f.topProducts.map((p) => ({
      product: p.productId,
      name: p.name,
      category: p.category,
      department: p.department,
      quantity: p.quantity,
      orders: p.orders,
      revenue: p.revenue,
    })),
  ];
}

/**
 * How many orders have 1, 2, 3, … line items.
 *
 * @example
 * ```ts
 * import { orderFigures } from "./figures.ts";
 * import { linesPerOrderTable } from "./tables.ts";
 * const f = orderFigures([{ orderId: 1, customerId: 7, city: "Chicago", state: "IL", itemId: 1,
 *   productId: 957, quantity: 2, subtotal: 59.98 }]);
 * linesPerOrderTable(f)[1]; // [{ "line items": "1", orders: 1 }]
 * ```
 */
export function linesPerOrderTable(f: OrderFigures): RowsTable {
  return [
    [{ name: "line items", type: "int" }, { name: "orders", type: "long" }],
    Object.entries(f.linesPerOrder).map(([n, orders]) => ({ "line items": n, orders })),
  ];
}
