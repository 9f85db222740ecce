import assert from "node:assert/strict";
import {
  describeFilter,
  FilterError,
  filterFromFlags,
  filterSlug,
  matchesFilter,
  orderTotalCents,
} from "../../lib/insights/filter.ts";
import type { Order } from "../../lib/orders/schema.ts";

const order = (city: string | null, state: string | null, subtotals: number[]): Order => ({
  order_id: 1,
  customer_id: 2,
  customer_fname: "A",
  customer_lname: "B",
  city,
  state,
  pincode: null,
  line_items: subtotals.map((s, i) => ({
    order_item_id: i,
    order_item_product_id: i,
    order_item_quantity: 1,
    order_item_product_price: s,
    order_item_subtotal: s,
  })),
});

Deno.test("filterFromFlags: given conditions only; '' means none; bad amounts are refused", () => {
  assert.deepEqual(filterFromFlags({ city: "Chicago" }), { city: "Chicago" });
  assert.deepEqual(filterFromFlags({ city: "", state: "IL", "min-total": "99.5" }), {
    state: "IL",
    minTotal: 99.5,
  });
  assert.deepEqual(filterFromFlags({}), {});
  assert.throws(() => filterFromFlags({ "min-total": "lots" }), FilterError);
  assert.throws(() => filterFromFlags({ "min-total": "-1" }), FilterError);
});

Deno.test("matchesFilter: every condition must hold; null city never matches a city", () => {
  const chicago = order("Chicago", "IL", [100, 0.1, 0.2]);
  assert.equal(matchesFilter(chicago, { city: "Chicago" }), true);
  assert.equal(matchesFilter(chicago, { city: "chicago" }), false); // exact, as Spark's =
  assert.equal(matchesFilter(chicago, { city: "Chicago", state: "IL" }), true);
  assert.equal(matchesFilter(chicago, { city: "Chicago", state: "NY" }), false);
  assert.equal(matchesFilter(order(null, "IL", [1]), { city: "Chicago" }), false);
  assert.equal(matchesFilter(chicago, {}), true);
  // 100 + 0.1 + 0.2 in cents is exactly 10030, so >= 100.30 holds (no float drift).
  assert.equal(orderTotalCents(chicago), 10030);
  assert.equal(matchesFilter(chicago, { minTotal: 100.3 }), true);
  assert.equal(matchesFilter(chicago, { minTotal: 100.31 }), false);
});

Deno.test("describeFilter and filterSlug name the filter for logs and query names", () => {
  assert.equal(describeFilter({ city: "Chicago" }), "city = 'Chicago'");
  assert.equal(
    describeFilter({ city: "New York", minTotal: 50 }),
    "city = 'New York' AND total >= 50",
  );
  assert.equal(describeFilter({}), "(every valid order)");
  assert.equal(filterSlug({ city: "Chicago" }), "chicago");
  assert.equal(filterSlug({ city: "New York", state: "NY", minTotal: 50 }), "new_york-ny-min50");
  assert.equal(filterSlug({}), "all");
});
