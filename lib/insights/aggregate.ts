/**
 * The aggregate mode: per tumbling event-time window and group (city, state or product), the
 * order count, line count and revenue, with a watermark that bounds lateness. Pure state, no
 * Kafka: the stream feeds it one micro-batch at a time and publishes what it returns.
 *
 * Semantics (as Spark's windowed aggregation with a watermark):
 * - event time = the Kafka record timestamp; window = [floor(t / size) * size, + size).
 * - watermark = (largest event time seen) − (watermark delay). It is recomputed at the END of
 *   each micro-batch and applies to the NEXT one, so one batch is judged by one watermark.
 * - a record whose window ends at or before the watermark is beyond the watermark: its window
 *   is closed and forgotten, so it is counted as dropped and not aggregated.
 * - a record whose window ends at or before the largest event time seen (its window is behind
 *   the event-time frontier) but after the watermark is late but accepted: it updates its window.
 * - windows whose end is at or before the new watermark are evicted at the end of the batch.
 * - output mode `update` (default): after every micro-batch, one record per (group, window)
 *   the batch changed, carrying the window's running totals (so a late record inside the
 *   watermark yields a new record for its window and group; the last record per key is the
 *   result). Output mode `append`: one final record per (group, window), when the watermark
 *   passes the window's end (windows still open at shutdown are kept in the state, unpublished).
 *
 * Revenue is summed in whole cents (each line subtotal rounded to the cent), so totals do not
 * depend on the order of addition.
 *
 * @module
 */
import type { Order } from "../orders/schema.ts";

/** What orders are grouped by. */
export type Dimension = "city" | "state" | "product";

/** The dimensions, for flag validation. */
export const DIMENSIONS: readonly Dimension[] = ["city", "state", "product"];

/** When results are published (see the module doc). */
export type OutputMode = "update" | "append";

/** Settings of an aggregation. */
export interface AggregateOptions {
  /** Group by city, state or product (line item product id). */
  dimension: Dimension;
  /** Tumbling window size in ms. */
  windowMs: number;
  /** Watermark delay in ms: how far behind the largest event time a record may be. */
  watermarkMs: number;
  /** update (default) or append. */
  outputMode?: OutputMode;
}

/** A group value: a city or state (null when the order has none) or a product id. */
export type GroupValue = string | number | null;

/** The running totals of one (group, window). */
export interface WindowTotals {
  /** The group value. */
  group: GroupValue;
  /** Window start, ms since the epoch. */
  windowStart: number;
  /** Orders in the window for this group (an order counts once per product in product mode). */
  orders: number;
  /** Order lines (line items) in the window for this group. */
  lines: number;
  /** Revenue in whole cents. */
  revenueCents: number;
}

/** What a micro-batch did to the state and what to publish. */
export interface BatchOutcome {
  /** Rows to publish (update: changed windows; append: windows closed by the watermark). */
  emit: WindowTotals[];
  /** Windows created or changed and still live (to write to the changelog). */
  changed: WindowTotals[];
  /** Windows evicted by the new watermark (to delete from the changelog). */
  evicted: WindowTotals[];
  /** The watermark after the batch (ms), or null while no event was seen. */
  watermark: number | null;
  /** Largest event time seen so far (ms), or null. */
  maxEventTime: number | null;
}

/**
 * How one order was taken by {@link Aggregator.add}: `invalid_time` means its event time is
 * not a date (outside ±8.64e15 ms, as a producer may set any int64); it is not aggregated.
 */
export type AddResult = "on_time" | "late" | "dropped" | "invalid_time";

/**
 * One order's contribution to the windows of its event time (or several orders' summed): what a
 * first stage of a repartitioned aggregation publishes, keyed by (group, window).
 */
export interface PartialTotals {
  /** The group value. */
  group: GroupValue;
  /** Window start, ms since the epoch. */
  windowStart: number;
  /** Orders. */
  orders: number;
  /** Order lines. */
  lines: number;
  /** Revenue in whole cents. */
  revenueCents: number;
  /** Largest event time among the orders (ms). */
  maxEventTime: number;
}

/**
 * What one valid order adds to the windows of one dimension: one entry per group (products: one
 * per distinct product of its lines, each counting the order once).
 *
 * @example
 * ```ts
 * import { orderGroups } from "./aggregate.ts";
 * const item = (id: number, subtotal: number) => ({ order_item_id: 1,
 *   order_item_product_id: id, order_item_quantity: 1, order_item_product_price: subtotal,
 *   order_item_subtotal: subtotal });
 * const order = { order_id: 1, customer_id: 2, city: "Chicago", state: "IL",
 *   line_items: [item(5, 1.25), item(5, 2), item(7, 0.1)] };
 * orderGroups("city", order); // [{ group: "Chicago", lines: 3, cents: 335 }]
 * orderGroups("product", order); // [{ group: 5, lines: 2, cents: 325 }, { group: 7, lines: 1, cents: 10 }]
 * ```
 */
export function orderGroups(
  dimension: Dimension,
  order: Pick<Order, "line_items" | "city" | "state">,
): { group: GroupValue; lines: number; cents: number }[] {
  if (dimension === "product") {
    const per = new Map<number, { group: number; lines: number; cents: number }>();
    for (const it of order.line_items) {
      const id = Number(it.order_item_product_id);
      const p = per.get(id) ?? { group: id, lines: 0, cents: 0 };
      p.lines++;
      p.cents += Math.round(it.order_item_subtotal * 100);
      per.set(id, p);
    }
    return [...per.values()];
  }
  let cents = 0;
  for (const it of order.line_items) cents += Math.round(it.order_item_subtotal * 100);
  return [{ group: order[dimension], lines: order.line_items.length, cents }];
}

/** Largest |event time| in ms that is a valid date with room for a window after it. */
const MAX_TIME = 8.64e15 - 366 * 86_400_000;

/** Whether an event time (ms) is a date the windows can take (see `invalid_time`). */
export function isEventTime(ms: number): boolean {
  return Number.isFinite(ms) && Math.abs(ms) <= MAX_TIME;
}

/**
 * The window state of one aggregation; feed a micro-batch with {@link Aggregator.add}, then
 * call {@link Aggregator.finishBatch}.
 */
export interface Aggregator {
  /** The settings. */
  readonly options: Required<AggregateOptions>;
  /** Live windows by state key. */
  readonly windows: Map<string, WindowTotals>;
  /** Largest event time seen (ms), or null. */
  maxEventTime(): number | null;
  /** The watermark that applies to the current batch (ms), or null. */
  watermark(): number | null;
  /** Adds one valid order with its event time (ms). */
  add(order: Order, eventTime: number): AddResult;
  /**
   * Adds a first stage's partial totals of one (group, window) as {@link add} adds an order:
   * dropped when its window closed, late when it is behind the largest event time.
   */
  addPartial(partial: PartialTotals): AddResult;
  /** Takes an event time seen elsewhere (a first stage's progress) into the batch's largest. */
  observeTime(eventTime: number): void;
  /** Ends the batch: advances the watermark, evicts closed windows, says what to publish. */
  finishBatch(): BatchOutcome;
  /** Restores a window from the changelog. */
  restore(totals: WindowTotals): void;
  /** Restores the largest event time from the changelog. */
  restoreMaxEventTime(ms: number | null): void;
}

/** The state key of a (group, window): also the Kafka key of its output and changelog records. */
export function windowKey(dimension: Dimension, group: GroupValue, windowStart: number): string {
  return JSON.stringify({
    [groupField(dimension)]: group,
    window_start: new Date(windowStart).toISOString(),
  });
}

/** The JSON field that holds the group value: `city`, `state` or `product_id`. */
export function groupField(dimension: Dimension): string {
  return dimension === "product" ? "product_id" : dimension;
}

/**
 * The published JSON value of a window's totals.
 *
 * @example
 * ```ts
 * import { windowValue } from "./aggregate.ts";
 * const t = { group: "Chicago", windowStart: 0, orders: 3, lines: 7, revenueCents: 81_240 };
 * console.log(windowValue("city", t, 60_000));
 * // {"window_start":"1970-01-01T00:00:00.000Z","window_end":"1970-01-01T00:01:00.000Z",
 * //  "city":"Chicago","orders":3,"lines":7,"revenue":812.4}
 * ```
 */
export function windowValue(dimension: Dimension, t: WindowTotals, windowMs: number): string {
  return JSON.stringify({
    window_start: new Date(t.windowStart).toISOString(),
    window_end: new Date(t.windowStart + windowMs).toISOString(),
    [groupField(dimension)]: t.group,
    orders: t.orders,
    lines: t.lines,
    revenue: t.revenueCents / 100,
  });
}

/** Creates an empty aggregation. */
export function createAggregator(options: AggregateOptions): Aggregator {
  const opts: Required<AggregateOptions> = { outputMode: "update", ...options };
  if (!(opts.windowMs > 0)) throw new RangeError("window size must be positive");
  if (!(opts.watermarkMs >= 0)) throw new RangeError("watermark delay must be ≥ 0");
  const windows = new Map<string, WindowTotals>();
  let maxEvent: number | null = null;
  let batchMax: number | null = null;
  const touched = new Map<string, WindowTotals>();
  const watermarkOf = (max: number | null) => (max === null ? null : max - opts.watermarkMs);

  const bump = (group: GroupValue, start: number, orders: number, lines: number, cents: number) => {
    const key = windowKey(opts.dimension, group, start);
    let t = windows.get(key);
    if (!t) {
      t = { group, windowStart: start, orders: 0, lines: 0, revenueCents: 0 };
      windows.set(key, t);
    }
    t.orders += orders;
    t.lines += lines;
    t.revenueCents += cents;
    touched.set(key, t);
  };

  return {
    options: opts,
    windows,
    maxEventTime: () => maxEvent,
    watermark: () => watermarkOf(maxEvent),
    add(order, eventTime) {
      if (!isEventTime(eventTime)) return "invalid_time";
      const start = Math.floor(eventTime / opts.windowMs) * opts.windowMs;
      const end = start + opts.windowMs;
      const wm = watermarkOf(maxEvent);
      if (wm !== null && end <= wm) return "dropped";
      for (const g of orderGroups(opts.dimension, order)) bump(g.group, start, 1, g.lines, g.cents);
      if (batchMax === null || eventTime > batchMax) batchMax = eventTime;
      return maxEvent !== null && end <= maxEvent ? "late" : "on_time";
    },
    addPartial(p) {
      const end = p.windowStart + opts.windowMs;
      const wm = watermarkOf(maxEvent);
      if (wm !== null && end <= wm) return "dropped";
      bump(p.group, p.windowStart, p.orders, p.lines, p.revenueCents);
      if (batchMax === null || p.maxEventTime > batchMax) batchMax = p.maxEventTime;
      return maxEvent !== null && end <= maxEvent ? "late" : "on_time";
    },
    observeTime(eventTime) {
      if (batchMax === null || eventTime > batchMax) batchMax = eventTime;
    },
    finishBatch() {
      if (batchMax !== null && (maxEvent === null || batchMax > maxEvent)) maxEvent = batchMax;
      batchMax = null;
      const wm = watermarkOf(maxEvent);
      const evicted: WindowTotals[] = [];
      if (wm !== null) {
        for (const [key, t] of windows) {
          if (t.windowStart + opts.windowMs <= wm) {
            windows.delete(key);
            evicted.push({ ...t });
          }
        }
      }
      const changed: WindowTotals[] = [];
      for (const [key, t] of touched) if (windows.has(key)) changed.push({ ...t });
      const emit = opts.outputMode === "update"
        ? [...touched.values()].map((t) => ({ ...t }))
        : evicted.map((t) => ({ ...t }));
      touched.clear();
      const byWindow = (a: WindowTotals, b: WindowTotals) =>
        a.windowStart - b.windowStart || String(a.group).localeCompare(String(b.group));
      emit.sort(byWindow);
      return { emit, changed, evicted, watermark: wm, maxEventTime: maxEvent };
    },
    restore(t) {
      windows.set(windowKey(opts.dimension, t.group, t.windowStart), { ...t });
    },
    restoreMaxEventTime(ms) {
      maxEvent = ms;
    },
  };
}
