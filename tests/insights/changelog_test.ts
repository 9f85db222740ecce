import assert from "node:assert/strict";
import {
  ChangelogError,
  META_KEY,
  metaRecord,
  replayChangelog,
  tombstoneRecord,
  windowRecord,
} from "../../lib/insights/changelog.ts";
import type { WindowTotals } from "../../lib/insights/aggregate.ts";

const T0 = Date.UTC(2026, 10, 24, 10, 0, 0);
const w = (group: string, min: number, orders: number): WindowTotals => ({
  group,
  windowStart: T0 + min * 60_000,
  orders,
  lines: orders * 2,
  revenueCents: orders * 1000,
});

Deno.test("replayChangelog: last value per key wins, tombstones delete, last meta wins", () => {
  const meta1 = {
    version: 1 as const,
    mode: "aggregate" as const,
    dimension: "city" as const,
    windowMs: 60_000,
    maxEventTime: T0,
    topic: "in",
    offsets: { "0": "5" },
  };
  const meta2 = { ...meta1, maxEventTime: T0 + 60_000, offsets: { "0": "9" } };
  const state = replayChangelog([
    windowRecord("city", w("Chicago", 0, 1)),
    windowRecord("city", w("Austin", 0, 1)),
    metaRecord(meta1),
    windowRecord("city", w("Chicago", 0, 3)),
    tombstoneRecord("city", w("Austin", 0, 1)),
    windowRecord("city", w("Austin", 1, 2)),
    metaRecord(meta2),
  ]);
  assert.deepEqual(
    state.windows.sort((a, b) => a.windowStart - b.windowStart),
    [w("Chicago", 0, 3), w("Austin", 1, 2)],
  );
  assert.deepEqual(state.meta, meta2);
  assert.equal(metaRecord(meta2).key, META_KEY);
  assert.deepEqual(replayChangelog([]), { windows: [], meta: undefined });
});

Deno.test("replayChangelog refuses records that are not ours", () => {
  assert.throws(() => replayChangelog([{ key: "x", value: "not json" }]), ChangelogError);
});
