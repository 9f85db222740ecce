/**
 * Progress of the producer stream: a text line on stderr at most every second (and after the
 * batch that catches up), or one JSON object per batch on stdout (Spark-like field names), and
 * the final summary line.
 *
 * @module
 */
import { fmtInt } from "../cli.ts";
import type { BatchProgress, StreamTotals } from "./stream.ts";

/** How progress is shown. */
export type ProgressFormat = "text" | "json" | "none";

/** Options of {@link progressReporter}. */
export interface ReporterOptions {
  /** text, json or none. */
  format: ProgressFormat;
  /** The query name (in JSON lines). */
  query: string;
  /** Aggregate mode adds late/dropped/windows/watermark. */
  aggregate: boolean;
  /** Where text lines go (tag, message). */
  log: (tag: string, message: string) => void;
  /** Where JSON lines go (default console.log). */
  print?: (line: string) => void;
  /** Minimum time between text lines, ms (default 1000). */
  everyMs?: number;
  /** Clock (tests). */
  now?: () => number;
}

/** One batch as a JSON object (one line). */
export function progressJson(query: string, p: BatchProgress, aggregate: boolean): string {
  const ms = p.durations.waitMs + p.durations.processMs + p.durations.commitMs;
  return JSON.stringify({
    name: query,
    batchId: p.batch,
    numInputRows: p.input,
    processedRowsPerSecond: Math.round(ms > 0 ? (p.input * 1000) / ms : 0),
    durationMs: {
      wait: Math.round(p.durations.waitMs),
      transform: Math.round(p.durations.processMs),
      commit: Math.round(p.durations.commitMs),
    },
    endOffset: p.endOffsets,
    lag: p.lag,
    output: p.output,
    deadLetters: p.deadLetters,
    ...(aggregate
      ? { late: p.late, dropped: p.dropped, windows: p.windows, watermark: p.watermark }
      : {}),
  });
}

/**
 * A batch callback that prints progress in the chosen format; text lines sum the batches
 * since the previous line.
 *
 * @example
 * ```ts
 * const onBatch = progressReporter({ format: "text", query, aggregate: false, log });
 * ```
 */
export function progressReporter(o: ReporterOptions): (p: BatchProgress) => void {
  const now = o.now ?? (() => performance.now());
  const print = o.print ?? ((line: string) => console.log(line));
  const every = o.everyMs ?? 1000;
  let last = -Infinity;
  // The first line's rate counts from the first batch's start, not from the stream's setup.
  let since = { input: 0, output: 0, dead: 0, t: undefined as number | undefined };
  return (p) => {
    since.t ??= now() - (p.durations.waitMs + p.durations.processMs + p.durations.commitMs);
    since.input += p.input;
    since.output += p.output;
    since.dead += p.deadLetters;
    if (o.format === "json") print(progressJson(o.query, p, o.aggregate));
    const t = now();
    if (o.format !== "text" || (t - last < every && p.lag > 0)) return;
    const rate = since.input / Math.max(0.001, (t - since.t!) / 1000);
    o.log(
      "progress",
      `batch ${p.batch}: ${fmtInt(since.input)} in, ${fmtInt(since.output)} out, ` +
        `${fmtInt(since.dead)} dead letters` +
        (o.aggregate
          ? `, ${p.late} late, ${p.dropped} dropped, ${p.windows} windows, watermark ${
            p.watermark === null ? "-" : new Date(p.watermark).toISOString()
          }`
          : "") +
        `, lag ${fmtInt(p.lag)}, ${fmtInt(Math.round(rate))} orders/s` +
        ` (total ${fmtInt(p.totals.input)} in, ${fmtInt(p.totals.output)} out)`,
    );
    last = t;
    since = { input: 0, output: 0, dead: 0, t };
  };
}

/**
 * The final summary as one line.
 *
 * @example
 * ```ts
 * summaryText(totals, "processed_orders", false);
 * // "6,000 orders read in 1 batches, 145 records to processed_orders, 0 dead letters, …"
 * ```
 */
export function summaryText(t: StreamTotals, outputTopic: string, aggregate: boolean): string {
  const dead = Object.values(t.deadLetters).reduce((a, b) => a + b, 0);
  return `${fmtInt(t.input)} orders read in ${t.batches} batches, ${fmtInt(t.output)} ` +
    `records to ${outputTopic}, ${fmtInt(dead)} dead letters` +
    (dead > 0
      ? ` (${Object.entries(t.deadLetters).map(([r, n]) => `${r} ${n}`).join(", ")})`
      : "") +
    (aggregate ? `, ${t.late} late accepted, ${t.dropped} dropped beyond the watermark` : "") +
    `, ${fmtInt(Math.round(t.input / Math.max(t.seconds, 0.001)))} orders/s; ` +
    `position ${Object.entries(t.positions).map(([p, o]) => `p${p}@${o}`).join(" ")}`;
}
