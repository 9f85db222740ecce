import assert from "node:assert/strict";
import {
  ChangelogError,
  parseWindowRecord,
  tombstoneRecord,
  windowRecord,
} from "../../lib/insights/changelog.ts";
import type { WindowTotals } from "../../lib/insights/aggregate.ts";

const w: WindowTotals = {
  group: "Chicago",
  windowStart: Date.UTC(2026, 10, 24, 10, 0),
  orders: 3,
  lines: 7,
  revenueCents: 123_456,
};

Deno.test("a window's changelog record reads back as the same window; its tombstone has its key", () => {
  const r = windowRecord("city", w);
  assert.equal(r.key, '{"city":"Chicago","window_start":"2026-11-24T10:00:00.000Z"}');
  assert.deepEqual(parseWindowRecord(r.key, r.value!), w);
  assert.deepEqual(tombstoneRecord("city", w), { key: r.key, value: null });
  const product = windowRecord("product", { ...w, group: 1004 });
  assert.equal(parseWindowRecord(product.key, product.value!).group, 1004);
});

Deno.test("records that are not ours are refused with a ChangelogError", () => {
  assert.throws(() => parseWindowRecord("k", "not json"), ChangelogError);
  assert.throws(() => parseWindowRecord("k", '{"hello":1}'), ChangelogError);
  assert.throws(() => parseWindowRecord("k", "null"), ChangelogError);
});
