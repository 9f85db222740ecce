/**
 * The changelog of a query: a compacted Kafka topic (`<query name>-changelog`, one partition)
 * written inside the same Kafka transaction as each micro-batch's output and consumed offsets:
 * - one `__meta__` record per batch: the query's settings, the source offsets it committed and
 *   (aggregate mode) the largest event time seen;
 * - aggregate mode: one record per window the batch changed (key = the window's key, value =
 *   its totals) and a tombstone (null value) per window the watermark evicted.
 *
 * So the changelog's committed content is always the state after the last committed batch: on a
 * restart the state is rebuilt by reading it to its end (read_committed). Compaction keeps it
 * about as small as the live state. The offsets in the meta record also keep a query's position
 * when its consumer-group offsets expired (offsets.retention.minutes, 7 days by default).
 *
 * @module
 */
import type { Dimension, GroupValue, WindowTotals } from "./aggregate.ts";
import { windowKey } from "./aggregate.ts";

/** The key of the changelog's meta record. */
export const META_KEY = "__meta__";

/** The changelog's meta record: what the state belongs to and how far it got. */
export interface ChangelogMeta {
  /** Format version (1). */
  version: 1;
  /** The query's mode. */
  mode: "filter" | "aggregate";
  /** Grouping dimension (aggregate mode), else null. */
  dimension: Dimension | null;
  /** Window size in ms (aggregate mode), else null. */
  windowMs: number | null;
  /** Largest event time seen (ms), or null. */
  maxEventTime: number | null;
  /** The input topic. */
  topic: string;
  /** Next offset to read per partition (decimal strings), committed with this state. */
  offsets: Record<string, string>;
}

/** A changelog that does not fit the query (other settings, or unreadable records). */
export class ChangelogError extends Error {
  override name = "ChangelogError";
}

/** One changelog record to produce (value null = tombstone). */
export interface ChangelogRecord {
  /** Record key. */
  key: string;
  /** Record value, or null to delete the key. */
  value: string | null;
}

/** The changelog record of a live window. */
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

/** The meta record. */
export function metaRecord(meta: ChangelogMeta): ChangelogRecord {
  return { key: META_KEY, value: JSON.stringify(meta) };
}

/** The state read back from a changelog. */
export interface RestoredState {
  /** Live windows. */
  windows: WindowTotals[];
  /** The last meta record, or undefined when the changelog is empty. */
  meta?: ChangelogMeta;
}

/**
 * Replays changelog records (in offset order, last value per key wins, null deletes).
 *
 * @example
 * ```ts
 * const { windows, meta } = replayChangelog(records.map((r) => ({ key, value })));
 * ```
 */
export function replayChangelog(
  records: Iterable<{ key: string | null; value: string | null }>,
): RestoredState {
  const live = new Map<string, WindowTotals>();
  let meta: ChangelogMeta | undefined;
  for (const r of records) {
    if (r.key === null) continue;
    if (r.key === META_KEY) {
      if (r.value !== null) meta = JSON.parse(r.value) as ChangelogMeta;
      continue;
    }
    if (r.value === null) {
      live.delete(r.key);
      continue;
    }
    let v: {
      group: GroupValue;
      window_start: number;
      orders: number;
      lines: number;
      revenue_cents: number;
    };
    try {
      v = JSON.parse(r.value);
    } catch {
      throw new ChangelogError(`changelog record '${r.key}' is not JSON; was the topic shared?`);
    }
    live.set(r.key, {
      group: v.group,
      windowStart: v.window_start,
      orders: v.orders,
      lines: v.lines,
      revenueCents: v.revenue_cents,
    });
  }
  return { windows: [...live.values()], meta };
}
