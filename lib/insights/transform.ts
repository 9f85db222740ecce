/**
 * What the producer stream does with a micro-batch, as transforms the engine's Kafka sink
 * (lib/engine/kafka_sink.ts) plugs in: {@link filterTransform} republishes matching orders as
 * they are (parsing and validating in a Web Worker unless inline); {@link aggregateTransform}
 * adds valid orders to tumbling event-time windows, publishes them per output mode, and keeps
 * the windows in the changelog. Bad records become dead letters with their reason.
 *
 * @module
 */
import type { Message } from "kafkajs";
import { Buffer } from "node:buffer";
import { ChangelogError, type Transform, type Transformed } from "../engine/kafka_sink.ts";
import type { PartitionSlice, SourceSlice } from "../kafka/stream_source.ts";
import { type ParseFailure, parseOrder } from "../orders/validate.ts";
import {
  type AggregateOptions,
  type Aggregator,
  createAggregator,
  isEventTime,
  orderGroups,
  type PartialTotals,
  windowKey,
  windowValue,
} from "./aggregate.ts";
import { parseWindowRecord, tombstoneRecord, windowRecord } from "./changelog.ts";
import { inlineClassifier, workerClassifier } from "./classify.ts";
import { deadLetter } from "./dead_letters.ts";
import { matchesFilter, type OrderFilter } from "./filter.ts";

/** What the stream does with valid orders. */
export type StreamMode =
  | { kind: "filter"; filter: OrderFilter }
  | {
    kind: "aggregate";
    aggregate: AggregateOptions;
    filter?: OrderFilter;
    /** Two stages through an internal topic, so that copies share the work. */
    repartition?: boolean;
  };

/** The mode in words, as the changelog's settings are compared. */
function settingsText(meta: Record<string, unknown>): string {
  return meta.mode === "aggregate"
    ? `--aggregate ${meta.dimension} with a ${meta.windowMs} ms window`
    : meta.mode === "aggregate-partials"
    ? `--aggregate ${meta.dimension} with a ${meta.windowMs} ms window and --repartition`
    : "filter mode";
}

/** Checks a restored changelog's settings against this transform's. */
function checkSettings(
  query: string,
  topic: string,
  was: Record<string, unknown>,
  now: Record<string, unknown>,
) {
  if (settingsText(was) !== settingsText(now)) {
    throw new ChangelogError(
      `query '${query}' ran on topic '${topic}' in ${settingsText(was)}; it cannot continue on ` +
        `'${topic}' in ${settingsText(now)}: use the same settings or another --query-name`,
    );
  }
}

/** Adds one dead letter. */
function reject(
  out: Transformed,
  p: PartitionSlice,
  m: PartitionSlice["messages"][number],
  f: ParseFailure,
  query: string,
) {
  out.dead.push(deadLetter(p, m, f, query) as unknown as Message);
  out.deadReasons[f.reason] = (out.deadReasons[f.reason] ?? 0) + 1;
}

const empty = (): Transformed => ({ output: [], dead: [], deadReasons: {}, state: [] });

/** Settings shared by the transforms. */
export interface TransformOptions {
  /** The query name (dead-letter headers, messages). */
  query: string;
  /** Parse and validate in a Web Worker (filter mode). */
  worker?: boolean;
  /** One line per event (dropped late records). */
  log?: (tag: string, message: string) => void;
}

/**
 * Filter mode: valid orders that match `filter` are republished with their key and value as
 * they are.
 *
 * @example
 * ```ts
 * import type { SourceSlice } from "../kafka/stream_source.ts";
 * import { filterTransform } from "./transform.ts";
 * const t = filterTransform({ city: "Chicago" }, { query: "processed_orders-filter-chicago" });
 * const messages = [{ key: null, value: new TextEncoder().encode("not json"), offset: "0",
 *   timestamp: "0" }];
 * const slice: SourceSlice = { latest: new Map([[0, 1n]]), partitions: [{ topic: "t",
 *   partition: 0, timestampType: 0, start: 0n, end: 1n, messages }] };
 * const out = await t.apply(slice);
 * console.log(out.output.length, out.deadReasons); // 0 { not_json: 1 }
 * t.close();
 * ```
 */
export function filterTransform(filter: OrderFilter, o: TransformOptions): Transform {
  const classifier = o.worker ? workerClassifier(filter) : inlineClassifier(filter);
  const meta = { mode: "filter", dimension: null, windowMs: null, maxEventTime: null };
  return {
    stateful: false,
    meta: () => meta,
    restore(was) {
      checkSettings(o.query, String(was.topic), was, meta);
    },
    async apply(slice: SourceSlice) {
      const out = empty();
      // One round trip to the worker per batch: every partition's records at once.
      const all = slice.partitions.length === 1
        ? slice.partitions[0].messages
        : slice.partitions.flatMap((p) => p.messages);
      const { codes, failures } = await classifier.classify(all);
      let i = 0;
      for (const p of slice.partitions) {
        for (const m of p.messages) {
          const code = codes[i];
          if (code === 1) {
            out.output.push({ key: m.key as Buffer | null, value: m.value as Buffer });
          } else if (code === 2) reject(out, p, m, failures.get(i)!, o.query);
          i++;
        }
      }
      return out;
    },
    close: () => classifier.close(),
  };
}

/**
 * Aggregate mode: per tumbling event-time window (event time = the Kafka record timestamp) and
 * group, the order count, line count and revenue; the windows live in the changelog.
 *
 * @example
 * ```ts
 * import { aggregateTransform } from "./transform.ts";
 * const item = { order_item_id: 1, order_item_product_id: 957, order_item_quantity: 1,
 *   order_item_product_price: 5, order_item_subtotal: 5 };
 * const value = new TextEncoder().encode(
 *   JSON.stringify({ order_id: 1, customer_id: 256, city: "Chicago", line_items: [item] }),
 * );
 * const options = { dimension: "city" as const, windowMs: 60_000, watermarkMs: 600_000 };
 * const t = aggregateTransform(options, undefined, { query: "q" });
 * const out = await t.apply({ latest: new Map([[0, 1n]]), partitions: [{ topic: "t",
 *   partition: 0, timestampType: 0, start: 0n, end: 1n,
 *   messages: [{ key: null, value, offset: "0", timestamp: "90000" }] }] });
 * console.log(out.output[0].value);
 * // {"window_start":"1970-01-01T00:01:00.000Z","window_end":"1970-01-01T00:02:00.000Z",
 * //  "city":"Chicago","orders":1,"lines":1,"revenue":5}
 * ```
 */
export function aggregateTransform(
  options: AggregateOptions,
  filter: OrderFilter | undefined,
  o: TransformOptions,
): Transform {
  const agg = createAggregator(options);
  const dim = agg.options.dimension;
  const log = o.log ?? (() => {});
  let batch = 0;
  const settings = () => ({
    mode: "aggregate",
    dimension: dim,
    windowMs: agg.options.windowMs,
    maxEventTime: agg.maxEventTime(),
  });
  return {
    stateful: true,
    meta: settings,
    restore(was, state) {
      checkSettings(o.query, String(was.topic), was, settings());
      for (const r of state) agg.restore(parseWindowRecord(r.key, r.value));
      agg.restoreMaxEventTime((was.maxEventTime as number | null | undefined) ?? null);
    },
    async apply(slice: SourceSlice) {
      batch++;
      const out = empty();
      let late = 0, dropped = 0;
      let seen = 0;
      for (const p of slice.partitions) {
        for (const m of p.messages) {
          // Let the previous batch's commit make progress while this one is transformed.
          if ((++seen & 8191) === 0) await new Promise((r) => setTimeout(r, 0));
          const parsed = parseOrder(m.value);
          if (!parsed.ok) {
            reject(out, p, m, parsed, o.query);
            continue;
          }
          if (filter && !matchesFilter(parsed.order, filter)) continue;
          const timestamp = Number(m.timestamp);
          const how = agg.add(parsed.order, timestamp);
          if (how === "invalid_time") {
            reject(out, p, m, {
              ok: false,
              reason: "out_of_range",
              field: "timestamp",
              message: `timestamp: record timestamp ${m.timestamp} is not a date`,
            }, o.query);
          } else if (how === "late") late++;
          else if (how === "dropped") {
            dropped++;
            if (dropped <= 5) {
              log(
                "late",
                `dropped p${p.partition}@${m.offset} (order ${parsed.order.order_id}): event time ` +
                  `${new Date(timestamp).toISOString()} is beyond the watermark ` +
                  `${new Date(agg.watermark()!).toISOString()}`,
              );
            }
          }
        }
      }
      if (dropped > 5) log("late", `… ${dropped - 5} more records dropped in batch ${batch}`);
      return finishWindows(agg, out, late, dropped);
    },
    close() {},
  };
}

/** Ends an aggregation's batch: what to publish, the changelog changes, the event time. */
function finishWindows(agg: Aggregator, out: Transformed, late: number, dropped: number) {
  const dim = agg.options.dimension;
  const outcome = agg.finishBatch();
  for (const t of outcome.emit) {
    out.output.push({
      key: windowKey(dim, t.group, t.windowStart),
      value: windowValue(dim, t, agg.options.windowMs),
    });
  }
  for (const t of outcome.changed) out.state.push(windowRecord(dim, t));
  for (const t of outcome.evicted) out.state.push(tombstoneRecord(dim, t));
  out.eventTime = { watermark: outcome.watermark, late, dropped, windows: agg.windows.size };
  return out;
}

/** The key of a first stage's event-time progress record (one per repartition partition). */
export const TIME_KEY = "__time__";

/**
 * First stage of a repartitioned aggregation (`--repartition`): valid orders summed per
 * (group, window) over the batch of one input partition, published keyed by (group, window) so
 * that one partition of the repartition topic holds every partial of a window; plus, on each
 * of the `partitions` partitions, a {@link TIME_KEY} record with the batch's largest event time,
 * so that the second stage's watermark moves as one copy's would. Stateless: the partials are
 * committed with the input offsets. Bad records and bad timestamps become dead letters here.
 *
 * @example
 * ```ts
 * import { partialTransform } from "./transform.ts";
 * const item = { order_item_id: 1, order_item_product_id: 957, order_item_quantity: 1,
 *   order_item_product_price: 5, order_item_subtotal: 5 };
 * const value = new TextEncoder().encode(
 *   JSON.stringify({ order_id: 1, customer_id: 256, city: "Chicago", line_items: [item] }),
 * );
 * const t = partialTransform({ dimension: "city", windowMs: 60_000, watermarkMs: 0 }, undefined,
 *   { query: "q", partitions: 2 });
 * const out = await t.apply({ latest: new Map([[0, 1n]]), partitions: [{ topic: "t",
 *   partition: 0, timestampType: 0, start: 0n, end: 1n,
 *   messages: [{ key: null, value, offset: "0", timestamp: "90000" }] }] });
 * console.log(out.output.map((m) => m.key)); // the window's key, then __time__ twice
 * ```
 */
export function partialTransform(
  options: AggregateOptions,
  filter: OrderFilter | undefined,
  o: TransformOptions & { partitions: number },
): Transform {
  const dim = options.dimension;
  const settings = { mode: "aggregate-partials", dimension: dim, windowMs: options.windowMs };
  return {
    stateful: false,
    meta: () => settings,
    restore(was) {
      checkSettings(o.query, String(was.topic), was, settings);
    },
    async apply(slice: SourceSlice) {
      const out = empty();
      const partials = new Map<string, PartialTotals>();
      let max: number | null = null;
      let seen = 0;
      for (const p of slice.partitions) {
        for (const m of p.messages) {
          if ((++seen & 8191) === 0) await new Promise((r) => setTimeout(r, 0));
          const parsed = parseOrder(m.value);
          if (!parsed.ok) {
            reject(out, p, m, parsed, o.query);
            continue;
          }
          if (filter && !matchesFilter(parsed.order, filter)) continue;
          const time = Number(m.timestamp);
          if (!isEventTime(time)) {
            reject(out, p, m, {
              ok: false,
              reason: "out_of_range",
              field: "timestamp",
              message: `timestamp: record timestamp ${m.timestamp} is not a date`,
            }, o.query);
            continue;
          }
          const start = Math.floor(time / options.windowMs) * options.windowMs;
          for (const g of orderGroups(dim, parsed.order)) {
            const key = windowKey(dim, g.group, start);
            const t = partials.get(key) ??
              {
                group: g.group,
                windowStart: start,
                orders: 0,
                lines: 0,
                revenueCents: 0,
                maxEventTime: time,
              };
            t.orders++;
            t.lines += g.lines;
            t.revenueCents += g.cents;
            if (time > t.maxEventTime) t.maxEventTime = time;
            partials.set(key, t);
          }
          if (max === null || time > max) max = time;
        }
      }
      for (const [key, t] of partials) out.output.push({ key, value: JSON.stringify(t) });
      if (max !== null) {
        for (let partition = 0; partition < o.partitions; partition++) {
          out.output.push({
            key: TIME_KEY,
            value: JSON.stringify({ maxEventTime: max }),
            partition,
          });
        }
      }
      return out;
    },
    close() {},
  };
}

/**
 * Second stage of a repartitioned aggregation: the partials of the windows one partition of the
 * repartition topic owns, added to its windows as {@link aggregateTransform} adds orders (same
 * watermark, output modes and changelog records); {@link TIME_KEY} records move the event time.
 * One instance per partition (lib/engine/partition_sink.ts keeps its state apart). A record that
 * is not a partial becomes a dead letter (`internal_error`).
 */
export function windowTransform(options: AggregateOptions, o: TransformOptions): Transform {
  const agg = createAggregator(options);
  const log = o.log ?? (() => {});
  const settings = () => ({
    mode: "aggregate",
    dimension: agg.options.dimension,
    windowMs: agg.options.windowMs,
    maxEventTime: agg.maxEventTime(),
  });
  return {
    stateful: true,
    meta: settings,
    restore(was, state) {
      checkSettings(o.query, String(was.topic), was, settings());
      for (const r of state) agg.restore(parseWindowRecord(r.key, r.value));
      agg.restoreMaxEventTime((was.maxEventTime as number | null | undefined) ?? null);
    },
    apply(slice: SourceSlice) {
      const out = empty();
      let late = 0, dropped = 0;
      for (const p of slice.partitions) {
        for (const m of p.messages) {
          let partial: PartialTotals | undefined;
          let time: number | undefined;
          try {
            const key = m.key === null ? "" : decoder.decode(m.key);
            const v = JSON.parse(decoder.decode(m.value ?? new Uint8Array()));
            if (key === TIME_KEY && typeof v.maxEventTime === "number") time = v.maxEventTime;
            else if (
              typeof v.windowStart === "number" && typeof v.orders === "number" &&
              typeof v.revenueCents === "number" && typeof v.maxEventTime === "number"
            ) partial = v;
          } catch { /* not JSON: below */ }
          if (time !== undefined) {
            agg.observeTime(time);
            continue;
          }
          if (!partial) {
            reject(out, p, m, {
              ok: false,
              reason: "internal_error",
              message: "not a partial aggregate of the first stage",
            }, o.query);
            continue;
          }
          const how = agg.addPartial(partial);
          if (how === "late") late += partial.orders;
          else if (how === "dropped") {
            dropped += partial.orders;
            log(
              "late",
              `dropped ${partial.orders} order(s) of window ${
                new Date(partial.windowStart).toISOString()
              } (${String(partial.group)}): beyond the watermark ${
                new Date(agg.watermark()!).toISOString()
              }`,
            );
          }
        }
      }
      return Promise.resolve(finishWindows(agg, out, late, dropped));
    },
    close() {},
  };
}

const decoder = new TextDecoder();

/**
 * The transform of a mode.
 *
 * @example
 * ```ts
 * import { modeTransform } from "./transform.ts";
 * const filter = modeTransform({ kind: "filter", filter: { city: "Chicago" } }, { query: "q" });
 * const aggregate = modeTransform({ kind: "aggregate",
 *   aggregate: { dimension: "state", windowMs: 60_000, watermarkMs: 0 } }, { query: "q" });
 * console.log(filter.stateful, aggregate.stateful); // false true: windows live in the changelog
 * filter.close();
 * aggregate.close();
 * ```
 */
export function modeTransform(mode: StreamMode, o: TransformOptions): Transform {
  return mode.kind === "aggregate"
    ? aggregateTransform(mode.aggregate, mode.filter, o)
    : filterTransform(mode.filter, o);
}
