/**
 * How aggregate mode keeps its windows in the query's changelog (the compacted topic the
 * engine's Kafka sink writes in every transaction, lib/engine/kafka_sink.ts): one record per
 * live window, keyed like its output (`{"<group>":…,"window_start":…}`), and a tombstone when
 * the window is evicted. The sink replays the changelog (last value per key) and hands the
 * live records back to be parsed here.
 *
 * @module
 */
import { ChangelogError } from "../engine/kafka_sink.ts";
import type { Dimension, GroupValue, WindowTotals } from "./aggregate.ts";
import { windowKey } from "./aggregate.ts";

export { ChangelogError };

/** One changelog record to produce (value null = tombstone). */
export interface ChangelogRecord {
  /** Record key. */
  key: string;
  /** Record value, or null to delete the key. */
  value: string | null;
}

/**
 * The changelog record of a live window.
 *
 * @example
 * ```ts
 * import { windowRecord } from "./changelog.ts";
 * const t = { group: "Chicago", windowStart: 0, orders: 2, lines: 3, revenueCents: 999 };
 * console.log(windowRecord("city", t));
 * // { key: '{"city":"Chicago","window_start":"1970-01-01T00:00:00.000Z"}',
 * //   value: '{"group":"Chicago","window_start":0,"orders":2,"lines":3,"revenue_cents":999}' }
 * ```
 */
export function windowRecord(dimension: Dimension, t: WindowTotals): ChangelogRecord {
  return {
    key: windowKey(dimension, t.group, t.windowStart),
    value: JSON.stringify({
      group: t.group,
      window_start: t.windowStart,
      orders: t.orders,
      lines: t.lines,
      revenue_cents: t.revenueCents,
    }),
  };
}

/** The tombstone of an evicted window. */
export function tombstoneRecord(dimension: Dimension, t: WindowTotals): ChangelogRecord {
  return { key: windowKey(dimension, t.group, t.windowStart), value: null };
}

/**
 * A window read back from its changelog record; a ChangelogError for a record that is not one.
 *
 * @example
 * ```ts
 * import { parseWindowRecord, windowRecord } from "./changelog.ts";
 * const t = { group: "IL", windowStart: 0, orders: 1, lines: 1, revenueCents: 5 };
 * const r = windowRecord("state", t);
 * console.log(parseWindowRecord(r.key, r.value!)); // the same totals as t
 * ```
 */
export function parseWindowRecord(key: string, value: string): WindowTotals {
  let v: {
    group: GroupValue;
    window_start: number;
    orders: number;
    lines: number;
    revenue_cents: number;
  };
  try {
    v = JSON.parse(value);
  } catch {
    throw new ChangelogError(`changelog record '${key}' is not JSON; was the topic shared?`);
  }
  if (typeof v !== "object" || v === null || typeof v.window_start !== "number") {
    throw new ChangelogError(`changelog record '${key}' is not a window; was the topic shared?`);
  }
  return {
    group: v.group,
    windowStart: v.window_start,
    orders: v.orders,
    lines: v.lines,
    revenueCents: v.revenue_cents,
  };
}
