import assert from "node:assert/strict";
import { tableFromArrays } from "apache-arrow";
import type { StructType } from "../../lib/delta/schema.ts";
import { orderFigures } from "../../lib/report/figures.ts";
import {
  groupTable,
  historyTable,
  linesPerOrderTable,
  productTable,
  sampleTable,
} from "../../lib/report/tables.ts";

const figures = orderFigures([
  {
    orderId: 1,
    customerId: 7,
    city: "Chicago",
    state: "IL",
    itemId: 1,
    productId: 957,
    quantity: 2,
    subtotal: 59.98,
  },
  {
    orderId: 1,
    customerId: 7,
    city: "Chicago",
    state: "IL",
    itemId: 2,
    productId: 365,
    quantity: 1,
    subtotal: 59.99,
  },
  {
    orderId: 2,
    customerId: 8,
    city: "Hickory",
    state: "NC",
    itemId: 3,
    productId: 957,
    quantity: 1,
    subtotal: 29.99,
  },
]);

/** Every row has exactly the columns' names as keys. */
function assertShape([columns, rows]: ReturnType<typeof historyTable>): void {
  for (const row of rows) assert.deepEqual(Object.keys(row), columns.map((c) => c.name));
}

Deno.test("report tables: history rows, newest first as given, rows added null when unknown", () => {
  const entry = {
    operationParameters: {},
    operationMetrics: {},
    readVersion: undefined,
    isBlindAppend: true,
    engineInfo: undefined,
  };
  const t = historyTable([
    { ...entry, version: 2, timestamp: 2000, operation: "STREAMING UPDATE", numOutputRows: 10 },
    { ...entry, version: 0, timestamp: 0, operation: undefined, numOutputRows: undefined },
  ]);
  assert.deepEqual(t[1], [
    { version: 2, timestamp: new Date(2000), operation: "STREAMING UPDATE", "rows added": 10 },
    { version: 0, timestamp: new Date(0), operation: "", "rows added": null },
  ]);
  assertShape(t);
});

Deno.test("report tables: a sample shows the read columns with their Delta types, schema order", () => {
  const schema: StructType = {
    type: "struct",
    fields: [
      { name: "order_id", type: "long", nullable: true, metadata: {} },
      { name: "raw", type: "string", nullable: true, metadata: {} },
      {
        name: "tags",
        type: { type: "array", elementType: "string", containsNull: true },
        nullable: true,
        metadata: {},
      },
      { name: "city", type: "string", nullable: true, metadata: {} },
    ],
  };
  const data = tableFromArrays({
    city: ["Chicago", "Hickory", "Caguas"],
    order_id: new Float64Array([1, 2, 3]),
  });
  const [columns, rows] = sampleTable(schema, data, 2);
  assert.deepEqual(columns, [{ name: "order_id", type: "long" }, { name: "city", type: "string" }]);
  assert.deepEqual(rows, [{ city: "Chicago", order_id: 1 }, { city: "Hickory", order_id: 2 }]);
  assert.deepEqual(
    sampleTable({ ...schema, fields: [schema.fields[2]] }, tableFromArrays({ tags: ["a"] }))[0],
    [
      { name: "tags", type: "array" },
    ],
  );
});

Deno.test("report tables: states and cities, the first n by revenue, named by their key", () => {
  const states = groupTable(figures.byState, "state");
  assert.deepEqual(states[1], [
    { state: "IL", orders: 1, revenue: 119.97 },
    { state: "NC", orders: 1, revenue: 29.99 },
  ]);
  assertShape(states);
  assert.equal(groupTable(figures.byCity, "city", 1)[1].length, 1);
  assert.equal(groupTable(figures.byCity, "city")[0][0].name, "city");
});

Deno.test("report tables: top products and line items per order", () => {
  const products = productTable(figures);
  assert.deepEqual(products[1].map((p) => [p.product, p.quantity, p.orders, p.revenue]), [
    [957, 3, 2, 89.97],
    [365, 1, 1, 59.99],
  ]);
  assert.deepEqual(linesPerOrderTable(figures)[1], [
    { "line items": "1", orders: 1 },
    { "line items": "2", orders: 1 },
  ]);
  assertShape(linesPerOrderTable(figures));
});
