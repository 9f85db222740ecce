import assert from "node:assert/strict";
import {
  createAggregator,
  windowKey,
  type WindowTotals,
  windowValue,
} from "../../lib/insights/aggregate.ts";
import type { Order } from "../../lib/orders/schema.ts";

const T0 = Date.UTC(2026, 10, 24, 10, 0, 0);
const MIN = 60_000;

function order(city: string | null, lines: [product: number, subtotal: number][]): Order {
  return {
    order_id: 1,
    customer_id: 1,
    customer_fname: null,
    customer_lname: null,
    city,
    state: city === null ? null : "IL",
    pincode: null,
    line_items: lines.map(([p, s], i) => ({
      order_item_id: i,
      order_item_product_id: p,
      order_item_quantity: 1,
      order_item_product_price: s,
      order_item_subtotal: s,
    })),
  };
}

const brief = (ts: WindowTotals[]) =>
  ts.map((t) =>
    `${t.group}@${(t.windowStart - T0) / MIN}m:${t.orders}/${t.lines}/${t.revenueCents}`
  );

Deno.test("update mode: per window and city, counts and revenue in cents; changed windows emitted after each batch", () => {
  const agg = createAggregator({ dimension: "city", windowMs: MIN, watermarkMs: 10 * MIN });
  assert.equal(agg.add(order("Chicago", [[1, 0.1], [2, 0.2]]), T0 + 1000), "on_time");
  assert.equal(agg.add(order("Chicago", [[3, 10]]), T0 + 59_999), "on_time");
  assert.equal(agg.add(order("Austin", [[1, 5]]), T0 + MIN), "on_time");
  assert.equal(agg.add(order(null, [[1, 1]]), T0 + 2000), "on_time");
  const b1 = agg.finishBatch();
  assert.deepEqual(brief(b1.emit), ["Chicago@0m:2/3/1030", "null@0m:1/1/100", "Austin@1m:1/1/500"]);
  assert.deepEqual(brief(b1.changed).sort(), brief(b1.emit).sort());
  assert.deepEqual(b1.evicted, []);
  assert.equal(b1.maxEventTime, T0 + MIN);
  assert.equal(b1.watermark, T0 + MIN - 10 * MIN);
  // Nothing new: nothing to emit.
  assert.deepEqual(agg.finishBatch().emit, []);
  // One more Chicago order in window 0: only that window is emitted, with running totals.
  agg.add(order("Chicago", [[1, 1]]), T0 + 30_000);
  assert.deepEqual(brief(agg.finishBatch().emit), ["Chicago@0m:3/4/1130"]);
});

Deno.test("watermark: late inside updates its window; beyond is dropped; closed windows are evicted", () => {
  const agg = createAggregator({ dimension: "city", windowMs: MIN, watermarkMs: MIN });
  agg.add(order("Chicago", [[1, 10]]), T0);
  agg.add(order("Chicago", [[1, 20]]), T0 + 130_000);
  const b1 = agg.finishBatch();
  // max event time T0+130s → watermark T0+70s: window 0 ([T0, T0+60s)) is closed and evicted.
  assert.equal(b1.watermark, T0 + 70_000);
  assert.deepEqual(brief(b1.evicted), ["Chicago@0m:1/1/1000"]);
  assert.deepEqual(brief(b1.emit), ["Chicago@0m:1/1/1000", "Chicago@2m:1/1/2000"]);
  assert.equal(agg.windows.size, 1);

  assert.equal(agg.add(order("Chicago", [[1, 1]]), T0 + 50_000), "dropped");
  assert.equal(agg.add(order("Chicago", [[1, 2]]), T0 + 65_000), "late");
  assert.equal(agg.add(order("Chicago", [[1, 4]]), T0 + 200_000), "on_time");
  // Within a batch the watermark does not move: the new max applies from the next batch.
  assert.equal(agg.add(order("Chicago", [[1, 8]]), T0 + 119_000), "late");
  const b2 = agg.finishBatch();
  assert.deepEqual(brief(b2.emit), ["Chicago@1m:2/2/1000", "Chicago@3m:1/1/400"]);
  assert.equal(b2.watermark, T0 + 140_000);
  // Window 1 ends at T0+120s, before the new watermark: evicted right after being emitted.
  assert.deepEqual(brief(b2.evicted), ["Chicago@1m:2/2/1000"]);
  assert.deepEqual(brief(b2.changed), ["Chicago@3m:1/1/400"]);
  assert.deepEqual(brief([...agg.windows.values()]).sort(), [
    "Chicago@2m:1/1/2000",
    "Chicago@3m:1/1/400",
  ]);
});

Deno.test("append mode: each window once, final, when the watermark passes its end", () => {
  const agg = createAggregator({
    dimension: "state",
    windowMs: MIN,
    watermarkMs: 0,
    outputMode: "append",
  });
  agg.add(order("Chicago", [[1, 1]]), T0);
  agg.add(order("Chicago", [[1, 2]]), T0 + 10_000);
  assert.deepEqual(agg.finishBatch().emit, []); // window 0 still open (watermark T0+10s)
  agg.add(order("Chicago", [[1, 4]]), T0 + MIN);
  assert.deepEqual(brief(agg.finishBatch().emit), ["IL@0m:2/2/300"]);
  assert.deepEqual(agg.finishBatch().emit, []);
});

Deno.test("product mode: an order counts once per distinct product; lines and revenue per product", () => {
  const agg = createAggregator({ dimension: "product", windowMs: MIN, watermarkMs: MIN });
  agg.add(order("Chicago", [[957, 299.98], [957, 299.98], [12, 1.5]]), T0);
  agg.add(order("Austin", [[12, 3]]), T0 + 1);
  assert.deepEqual(brief(agg.finishBatch().emit).sort(), ["12@0m:2/2/450", "957@0m:1/2/59996"]);
});

Deno.test("keys and values: JSON keyed by group and window; revenue in dollars", () => {
  const t: WindowTotals = {
    group: "Chicago",
    windowStart: T0,
    orders: 2,
    lines: 3,
    revenueCents: 81240,
  };
  assert.equal(
    windowKey("city", "Chicago", T0),
    '{"city":"Chicago","window_start":"2026-11-24T10:00:00.000Z"}',
  );
  assert.equal(
    windowKey("product", 957, T0),
    '{"product_id":957,"window_start":"2026-11-24T10:00:00.000Z"}',
  );
  assert.deepEqual(JSON.parse(windowValue("city", t, MIN)), {
    window_start: "2026-11-24T10:00:00.000Z",
    window_end: "2026-11-24T10:01:00.000Z",
    city: "Chicago",
    orders: 2,
    lines: 3,
    revenue: 812.4,
  });
});

Deno.test("restore: a rebuilt aggregator continues as the original would", () => {
  const a = createAggregator({ dimension: "city", windowMs: MIN, watermarkMs: MIN });
  a.add(order("Chicago", [[1, 1]]), T0 + 1000);
  a.finishBatch();
  const b = createAggregator({ dimension: "city", windowMs: MIN, watermarkMs: MIN });
  for (const w of a.windows.values()) b.restore(w);
  b.restoreMaxEventTime(a.maxEventTime());
  for (const x of [a, b]) x.add(order("Chicago", [[1, 2]]), T0 + 2000);
  const [ea, eb] = [a.finishBatch().emit, b.finishBatch().emit];
  assert.deepEqual(brief(eb), brief(ea));
  assert.deepEqual(brief(eb), ["Chicago@0m:2/2/300"]);
});

Deno.test("an event time that is not a date is refused, not aggregated", () => {
  const agg = createAggregator({ dimension: "city", windowMs: MIN, watermarkMs: MIN });
  assert.equal(agg.add(order("Chicago", [[1, 1]]), 9e15), "invalid_time");
  assert.equal(agg.add(order("Chicago", [[1, 1]]), Number.NaN), "invalid_time");
  assert.equal(agg.add(order("Chicago", [[1, 1]]), -1), "on_time"); // 1969 is a date
  assert.deepEqual(brief(agg.finishBatch().emit), ["Chicago@" + (-MIN - T0) / MIN + "m:1/1/100"]);
});
