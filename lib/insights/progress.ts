/**
 * Progress of the producer stream: a text line on stderr at most every second (and after the
 * batch that catches up), or one JSON object per batch on stdout (Spark-like field names), and
 * the final summary line.
 *
 * @module
 */
import { fmtInt } from "../display.ts";
import { type BatchProgress, formatEventTime, formatProgressJson } from "../engine/progress.ts";
import type { ProgressFormat } from "../engine/options.ts";
import type { QuerySummary } from "../engine/progress.ts";
import type { StreamTotals } from "./stream.ts";

/** Options of {@link progressReporter}. */
export interface ReporterOptions {
  /** text, json or none. */
  format: ProgressFormat;
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

/**
 * A batch callback that prints progress in the chosen format; text lines sum the batches
 * since the previous line.
 *
 * @example
 * ```ts
 * import { progressReporter } from "./progress.ts";
 * import { type ProducerStreamInput, runProducerStream } from "./stream.ts";
 * // Needs a broker, so the doc test only type-checks it:
 * function run(input: ProducerStreamInput) {
 *   const log = (tag: string, message: string) => console.error(`${tag}: ${message}`);
 *   const onBatch = progressReporter({ format: "text", aggregate: false, log });
 *   return runProducerStream({ ...input, onBatch, onLog: log });
 * }
 * ```
 */
export function progressReporter(
  o: ReporterOptions,
): (p: BatchProgress, summary: QuerySummary) => void {
  const now = o.now ?? (() => performance.now());
  const print = o.print ?? ((line: string) => console.log(line));
  const every = o.everyMs ?? 1000;
  let last = -Infinity;
  // The first line's rate counts from the first batch's start, not from the stream's setup.
  let since = { input: 0, output: 0, dead: 0, t: undefined as number | undefined };
  return (p, summary) => {
    const dead = p.deadLetters ?? 0;
    const out = Object.values(p.sink).reduce((n, s) => n + s.rows, 0) - dead;
    const lag = Object.values(p.lag).reduce((a, b) => a + b, 0);
    since.t ??= now() - p.durationMs.total;
    since.input += p.numInputRows;
    since.output += out;
    since.dead += dead;
    if (o.format === "json") print(formatProgressJson(p));
    const t = now();
    if (o.format !== "text" || (t - last < every && lag > 0)) return;
    const rate = since.input / Math.max(0.001, (t - since.t!) / 1000);
    o.log(
      "progress",
      `batch ${p.batchId}: ${fmtInt(since.input)} in, ${fmtInt(since.output)} out, ` +
        `${fmtInt(since.dead)} dead letters` +
        (o.aggregate && p.eventTime ? `, ${formatEventTime(p.eventTime)}` : "") +
        `, lag ${fmtInt(lag)}, ${fmtInt(Math.round(rate))} orders/s` +
        ` (total ${fmtInt(summary.records)} in, ${
          fmtInt(Object.values(summary.rows).reduce((a, b) => a + b, 0) - summary.deadLetters)
        } out)`,
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
 * import { summaryText } from "./progress.ts";
 * const totals = { batches: 1, input: 6000, output: 145, deadLetters: {}, late: 0, dropped: 0,
 *   seconds: 1.5, positions: { "0": "6000" } };
 * console.log(summaryText(totals, "processed_orders", false));
 * // 6,000 orders read in 1 batches, 145 records to processed_orders, 0 dead letters,
 * // 4,000 orders/s; position p0@6000
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
