/**
 * LiveOrders and DeadLetterCounts: folded in file by file, their figures equal an independent
 * computation over the same JSON lines (tests/dashboard/live.ts `expected`: JSON.parse and the
 * retail_db CSVs by regex), including orders per minute of Kafka time.
 */
import assert from "node:assert/strict";
import { tableFromArrays } from "apache-arrow";
import { loadProductCatalog } from "../../lib/orders/catalog.ts";
import { flattenOrders, parseOrder } from "../../lib/orders/mod.ts";
import { DeadLetterCounts, LiveOrders } from "../../lib/dashboard/state.ts";
import { dataLinesOf, expected } from "./live.ts";

const MINUTE = 60_000;
const T0 = Date.UTC(2026, 0, 5, 10, 0, 0);

function rowsOf(lines: string[], firstOffset: number, timestampMs: (i: number) => number) {
  return flattenOrders(
    lines.map((l, i) => {
      const r = parseOrder(l);
      if (!r.ok) throw new Error(r.message);
      return {
        order: r.order,
        partition: i % 3,
        offset: firstOffset + i,
        timestampMs: timestampMs(i),
      };
    }),
    T0,
  );
}

Deno.test("live orders: file by file, the figures of an independent computation", async () => {
  const lines = [...await dataLinesOf(1), ...await dataLinesOf(2)];
  const live = new LiveOrders(await loadProductCatalog(), { topProducts: 10 });
  // Three files; order i is stamped in minute floor(i / 500) after T0.
  const at = (i: number) => T0 + Math.floor(i / 500) * MINUTE + (i % 500) * 10;
  const cuts = [0, 700, 1500, lines.length];
  for (let c = 0; c < 3; c++) {
    const part = lines.slice(cuts[c], cuts[c + 1]);
    live.add(rowsOf(part, cuts[c], (i) => at(cuts[c] + i)));
  }
  const v = live.view(T0 + 10 * MINUTE);
  const e = await expected(lines.map((value) => ({ value, valid: true })));
  assert.equal(v.orders, e.orders);
  assert.equal(v.lines, e.lines);
  assert.equal(Math.round(v.revenue * 100), e.cents);
  assert.deepEqual(
    v.byState.map((g) => [g.key, g.orders, Math.round(g.revenue * 100)]),
    e.byState.map(([k, g]) => [k, g.orders, g.cents]),
  );
  assert.deepEqual(
    v.byCity.map((g) => [g.key, g.orders, Math.round(g.revenue * 100)]),
    e.byCity.map(([k, g]) => [k, g.orders, g.cents]),
  );
  assert.deepEqual(
    v.topProducts.map((p) => [p.productId, p.name, p.category, p.department, p.quantity, p.orders]),
    e.products.slice(0, 10).map((p) => [
      p.id,
      p.info.name,
      p.info.category,
      p.info.department,
      p.units,
      p.orders,
    ]),
  );
  assert.deepEqual(
    [v.city.orders, Math.round(v.city.revenue * 100)],
    [e.chicagoOrders, e.chicagoCents],
  );
  // Per minute: the last 60 minutes up to now, 500 orders in each of the first minutes.
  assert.equal(v.perMinute.length, 60);
  assert.equal(v.perMinute.at(-1)!.minute, T0 + 10 * MINUTE);
  const expectedMinutes = new Map<number, number>();
  lines.forEach((_, i) => {
    const m = T0 + Math.floor(i / 500) * MINUTE;
    expectedMinutes.set(m, (expectedMinutes.get(m) ?? 0) + 1);
  });
  for (const m of v.perMinute) assert.equal(m.orders, expectedMinutes.get(m.minute) ?? 0);
  assert.equal(v.newestEventMs, at(lines.length - 1));
  // Per category: the sum over categories is the revenue.
  const catCents = v.byCategory.reduce((n, g) => n + Math.round(g.revenue * 100), 0);
  assert.equal(catCents, e.cents);
  live.reset();
  assert.equal(live.view(T0).orders, 0);
});

Deno.test("dead letters: counted by reason", () => {
  const d = new DeadLetterCounts();
  d.add(tableFromArrays({ reason: ["not_json", "missing_field", "not_json"] }));
  d.add(tableFromArrays({ reason: ["not_json"] }));
  assert.deepEqual(d.view(), {
    total: 4,
    byReason: [{ reason: "not_json", count: 3 }, { reason: "missing_field", count: 1 }],
  });
  assert.throws(() => d.add(tableFromArrays({ x: [1] })), /no column 'reason'/);
});
