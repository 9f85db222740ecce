import assert from "node:assert/strict";
import {
  FEED_REASONS,
  feedIds,
  type FeedRecord,
  loadFeedCatalog,
  MAX_FEED_RATE,
  OrderFeed,
  TOO_LARGE_EVERY,
} from "../../lib/orders/feed.ts";
import { loadCustomers, loadProducts } from "../../lib/orders/retail_db.ts";
import type { Order } from "../../lib/orders/schema.ts";
import {
  DEFAULT_MAX_BYTES,
  parseOrder,
  REASON_CODES,
  type ReasonCode,
} from "../../lib/orders/validate.ts";

const catalog = await loadFeedCatalog();
const customers = new Map((await loadCustomers()).map((c) => [c.id, c]));
const prices = new Map((await loadProducts()).map((p) => [p.id, p.price]));
const START = 1_765_000_000_000; // 2025-12-06
const ids = feedIds(START);

function take(feed: OrderFeed, n: number): FeedRecord[] {
  return Array.from({ length: n }, () => feed.next());
}

const decoder = new TextDecoder();

Deno.test("feed catalog: every real customer, the 1,338 products priced above zero", () => {
  assert.equal(catalog.customers.length, 12435);
  assert.equal(catalog.products.length, 1338);
  assert.ok(catalog.products.every((p) => p.price > 0 && prices.get(p.id) === p.price));
});

Deno.test("feed ids: start × 100 for orders, × 500 for items; safe integers; above data/", () => {
  assert.deepEqual(ids, { firstOrderId: 176_500_000_000_000, firstItemId: 882_500_000_000_000 });
  // A later start begins above everything an earlier feed at the highest rate could have sent.
  const later = feedIds(START + 1000);
  assert.ok(later.firstOrderId >= ids.firstOrderId + MAX_FEED_RATE);
  assert.ok(later.firstItemId >= ids.firstItemId + MAX_FEED_RATE * 5);
  // data/ holds ids 1…6,000; generated sets continue after 68,883 by one per order.
  assert.ok(ids.firstOrderId > 10 ** 12);
  // Still safe integers in the year 2200.
  const y2200 = feedIds(Date.UTC(2200, 0, 1));
  assert.ok(Number.isSafeInteger(y2200.firstItemId + 10 ** 9));
});

Deno.test("feed: valid orders are real customers and products, 1–5 lines, ids increasing", () => {
  const feed = new OrderFeed(catalog, { seed: 11, ...ids });
  const records = take(feed, 5000);
  let nextOrder = ids.firstOrderId;
  let nextItem = ids.firstItemId;
  const sizes = new Map<number, number>();
  for (const r of records) {
    assert.equal(r.intended, "ok");
    const parsed = parseOrder(r.value);
    if (!parsed.ok) assert.fail(`${parsed.reason}: ${parsed.message}`);
    const o = parsed.order;
    // The seed's exact message shape: the same keys in the same order, nothing else.
    assert.deepEqual(Object.keys(JSON.parse(decoder.decode(r.value!))), [
      "order_id",
      "customer_id",
      "customer_fname",
      "customer_lname",
      "city",
      "state",
      "pincode",
      "line_items",
    ]);
    assert.equal(o.order_id, nextOrder++);
    assert.equal(r.orderId, o.order_id);
    assert.equal(r.key, String(o.customer_id));
    const c = customers.get(o.customer_id as number)!;
    assert.deepEqual([o.customer_fname, o.customer_lname, o.city, o.state, o.pincode], [
      c.fname,
      c.lname,
      c.city,
      c.state,
      c.pincode,
    ]);
    const n = o.line_items.length;
    assert.ok(n >= 1 && n <= 5);
    sizes.set(n, (sizes.get(n) ?? 0) + 1);
    assert.equal(new Set(o.line_items.map((l) => l.order_item_product_id)).size, n);
    for (const l of o.line_items) {
      assert.equal(l.order_item_id, nextItem++);
      const q = l.order_item_quantity as number;
      assert.ok(q >= 1 && q <= 5);
      assert.equal(l.order_item_product_price, prices.get(l.order_item_product_id as number));
      assert.ok(l.order_item_product_price > 0);
      assert.equal(l.order_item_subtotal, Math.round(l.order_item_product_price * q * 100) / 100);
    }
  }
  // Every line count occurs, each about a fifth of the orders.
  assert.deepEqual([...sizes.keys()].sort(), [1, 2, 3, 4, 5]);
  for (const [n, count] of sizes) assert.ok(count > 850 && count < 1150, `${n} lines: ${count}`);
  // Customers are drawn across the whole table.
  assert.ok(new Set(records.map((r) => r.key)).size > 3000);
});

Deno.test("feed: the same seed gives the same records, another seed others", () => {
  const a = take(new OrderFeed(catalog, { seed: 7, badRate: 0.3, ...ids }), 2000);
  const b = take(new OrderFeed(catalog, { seed: 7, badRate: 0.3, ...ids }), 2000);
  const c = take(new OrderFeed(catalog, { seed: 8, badRate: 0.3, ...ids }), 2000);
  assert.deepEqual(a, b);
  assert.notDeepEqual(a.map((r) => r.key), c.map((r) => r.key));
  assert.notDeepEqual(a.map((r) => r.intended), c.map((r) => r.intended));
  // The bad rate spoils orders but never changes which orders there are.
  const clean = take(new OrderFeed(catalog, { seed: 7, ...ids }), 2000);
  assert.deepEqual(clean.map((r) => r.key), a.map((r) => r.key));
  assert.deepEqual(clean.map((r) => r.orderId), a.map((r) => r.orderId));
  const good = a.filter((r) => r.intended === "ok");
  assert.ok(good.length > 1200);
  for (const r of good) assert.deepEqual(r.value, clean[r.orderId - ids.firstOrderId].value);
  // Only the ids move with the start time.
  const later = take(new OrderFeed(catalog, { seed: 7, ...feedIds(START + 60_000) }), 50);
  const strip = (r: FeedRecord) => {
    const o = JSON.parse(decoder.decode(r.value!)) as Order;
    return [
      o.customer_id,
      o.line_items.map((l) => [l.order_item_product_id, l.order_item_quantity]),
    ];
  };
  assert.deepEqual(later.map(strip), clean.slice(0, 50).map(strip));
  assert.ok(later[0].orderId > clean[1999].orderId);
});

Deno.test("feed: 10,000 records at bad rate 0.1, every reason in its share, parseOrder agrees on each", () => {
  const feed = new OrderFeed(catalog, { seed: 7, badRate: 0.1, ...ids });
  const counts = new Map<string, number>();
  const variants = new Map<string, Set<string>>();
  let prevId = -1;
  for (const r of take(feed, 10_000)) {
    counts.set(r.intended, (counts.get(r.intended) ?? 0) + 1);
    assert.ok(r.orderId > prevId);
    prevId = r.orderId;
    assert.ok(customers.has(Number(r.key)), `key ${r.key} is a real customer`);
    const parsed = parseOrder(r.value);
    if (r.intended === "ok") {
      assert.ok(parsed.ok, !parsed.ok ? parsed.message : "");
      continue;
    }
    assert.ok(!parsed.ok, `${r.intended} record parsed as a valid order`);
    assert.equal(parsed.reason, r.intended, parsed.message);
    assert.equal(parsed.field, r.field, parsed.message);
    const v = variants.get(r.intended) ?? new Set();
    v.add(`${r.field?.replace(/\[\d+\]/, "[i]")}`);
    variants.set(r.intended, v);
  }
  const bad = 10_000 - counts.get("ok")!;
  // Binomial(10,000, 0.1): mean 1,000, sd 30.
  assert.ok(bad > 880 && bad < 1120, `bad ${bad}`);
  // Every reason the input can cause; internal_error (the validator's own failure),
  // constraint_violated and schema_mismatch (the table's CHECK constraints and column types, not
  // the input's shape) are not.
  assert.deepEqual(
    [...FEED_REASONS],
    REASON_CODES.filter((r) =>
      r !== "internal_error" && r !== "constraint_violated" && r !== "schema_mismatch"
    ),
  );
  assert.deepEqual([...counts.keys()].filter((k) => k !== "ok").sort(), [...FEED_REASONS].sort());
  // too_large: the 13th bad record, then one every TOO_LARGE_EVERY; the rest in equal turns.
  const tooLarge = counts.get("too_large")!;
  assert.equal(tooLarge, Math.floor((bad - 13) / TOO_LARGE_EVERY) + 1);
  const ordinary = FEED_REASONS.filter((r) => r !== "too_large");
  for (const reason of ordinary) {
    const n = counts.get(reason)!;
    assert.ok(Math.abs(n - (bad - tooLarge) / ordinary.length) <= 1, `${reason}: ${n}`);
    assert.ok(n > 70 && n < 95, `${reason}: ${n} of ${bad}`);
  }
  // The defects vary: several fields for the field-level reasons.
  for (const reason of ["missing_field", "null_field", "wrong_type", "out_of_range"]) {
    assert.ok(variants.get(reason)!.size >= 3, `${reason}: ${[...variants.get(reason)!]}`);
  }
});

Deno.test("feed: each kind of defect, seen in the bytes", () => {
  const feed = new OrderFeed(catalog, { seed: 3, badRate: 1, ...ids });
  const first = take(feed, 13 * 20);
  const byReason = new Map<ReasonCode | "ok", FeedRecord[]>();
  for (const r of first) byReason.set(r.intended, [...(byReason.get(r.intended) ?? []), r]);
  // The first 13 bad records are one of each reason, in REASON_CODES order with too_large 13th.
  assert.deepEqual(
    first.slice(0, 13).map((r) => r.intended),
    [...FEED_REASONS.filter((r) => r !== "too_large"), "too_large"],
  );
  assert.equal(byReason.get("too_large")!.length, 1);
  for (const r of byReason.get("null_value")!) assert.equal(r.value, null);
  const big = byReason.get("too_large")![0];
  assert.equal(big.value!.byteLength, DEFAULT_MAX_BYTES + 1);
  assert.ok(JSON.parse(decoder.decode(big.value!)).line_items.length >= 1); // valid JSON
  for (const r of byReason.get("invalid_utf8")!) {
    assert.throws(() => new TextDecoder("utf-8", { fatal: true }).decode(r.value!));
  }
  for (const r of byReason.get("no_line_items")!) {
    const o = JSON.parse(decoder.decode(r.value!));
    assert.ok(o.line_items === undefined || o.line_items === null || o.line_items.length === 0);
  }
  // Every malformed record still carries the customer as its key.
  assert.ok(first.every((r) => customers.has(Number(r.key))));
  // Without too_large (a topic that cannot hold 1 MiB), the others keep their turns.
  const small = new OrderFeed(catalog, {
    seed: 3,
    badRate: 1,
    reasons: FEED_REASONS.filter((r) => r !== "too_large"),
    ...ids,
  });
  const rest = take(small, 24 * 10).map((r) => r.intended);
  assert.ok(!rest.includes("too_large"));
  for (const r of FEED_REASONS.filter((r) => r !== "too_large")) {
    assert.equal(rest.filter((x) => x === r).length, 20, r);
  }
});

Deno.test("feed: bad rate 0 sends no malformed record; options are checked", () => {
  const feed = new OrderFeed(catalog, { seed: 1, badRate: 0, ...ids });
  assert.ok(take(feed, 3000).every((r) => r.intended === "ok"));
  assert.throws(() => new OrderFeed(catalog, { seed: 1, badRate: 1.5, ...ids }), RangeError);
  assert.throws(
    () => new OrderFeed(catalog, { seed: 1, reasons: ["internal_error"], ...ids }),
    /cannot generate internal_error/,
  );
  assert.throws(
    () => new OrderFeed({ customers: catalog.customers, products: [] }, { seed: 1, ...ids }),
    RangeError,
  );
});
