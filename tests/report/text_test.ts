import assert from "node:assert/strict";
import { orderFigures } from "../../lib/report/figures.ts";
import { chicagoText, kpiText } from "../../lib/report/text.ts";

const line = (orderId: number, itemId: number, city: string, subtotal: number) => ({
  orderId,
  customerId: orderId,
  city,
  state: "IL",
  itemId,
  productId: 1,
  quantity: 1,
  subtotal,
});

Deno.test("report text: the key figures, duplicates mentioned only when there are some", () => {
  const rows = [line(1, 1, "Chicago", 1000), line(2, 2, "Joliet", 234.5)];
  assert.equal(
    kpiText(orderFigures(rows)),
    "2 orders, revenue $1234.50, 2 line items, 2 customers",
  );
  assert.equal(
    kpiText(orderFigures([...rows, rows[0]])),
    "2 orders, revenue $1234.50, 2 line items, 2 customers, 1 duplicate rows ignored",
  );
});

Deno.test("report text: the Chicago share of orders and of revenue", () => {
  const f = orderFigures([
    line(1, 1, "Chicago", 25),
    line(2, 2, "Joliet", 25),
    line(3, 3, "Joliet", 50),
  ]);
  assert.equal(chicagoText(f), "1 of 3 orders (33.33%), $25.00 of revenue (25.00%)");
});
