/**
 * What the producer prints while and after it publishes: a progress line at most every two
 * seconds, one line per skipped input line (`file:line: skipped (reason): message`), the closing
 * summary and, as the last stdout line, the counters as JSON for scripts.
 *
 * @module
 */
import { fmtInt } from "../cli.ts";
import type { PublishSummary, SkippedLine } from "./publish.ts";

/**
 * A skipped line as `file:line: skipped (reason): message`, for stderr.
 *
 * @example
 * ```ts
 * import { skippedText } from "./producer_progress.ts";
 * skippedText({ file: "orders.json", line: 2, reason: "not_json", message: "not JSON" });
 * // "orders.json:2: skipped (not_json): not JSON"
 * ```
 */
export function skippedText(s: SkippedLine): string {
  return `${s.file}:${s.line}: skipped (${s.reason}): ${s.message}`;
}

/** Options of {@link progressLogger}. */
export interface ProgressLoggerOptions {
  /** Print nothing (--quiet). */
  quiet: boolean;
  /** Where lines go (tag, message); lib/cli.ts `log` in the notebook. */
  log: (tag: string, message: string) => void;
  /** Minimum time between lines, ms (default 2000). */
  everyMs?: number;
}

/**
 * A publishOrders `onProgress` callback that logs `N sent, M skipped, S s` at most every
 * `everyMs` of elapsed time (the first line after `everyMs`), or nothing when quiet.
 *
 * @example
 * ```ts
 * import { progressLogger } from "./producer_progress.ts";
 * const lines: string[] = [];
 * const onProgress = progressLogger({ quiet: false, log: (_tag, m) => lines.push(m) });
 * onProgress(2000, 0, 1500); // too early: nothing
 * onProgress(4000, 1, 2100);
 * lines; // ["4,000 sent, 1 skipped, 2.1 s"]
 * ```
 */
export function progressLogger(
  o: ProgressLoggerOptions,
): (sent: number, skipped: number, elapsedMs: number) => void {
  const every = o.everyMs ?? 2000;
  let last = 0;
  return (sent, skipped, ms) => {
    if (o.quiet || ms - last < every) return;
    last = ms;
    o.log(
      "progress",
      `${fmtInt(sent)} sent, ${fmtInt(skipped)} skipped, ${(ms / 1000).toFixed(1)} s`,
    );
  };
}

/**
 * The closing line of a publish run: orders sent and skipped, the rate, the time and files.
 *
 * @example
 * ```ts
 * import { producerDoneText } from "./producer_progress.ts";
 * const summary = { read: 6000, sent: 6000, skipped: 0, seconds: 1.5, ordersPerSecond: 4000,
 *   bytes: 3_000_000 };
 * producerDoneText(summary, "retail-data-new", 6);
 * // "6,000 orders sent to retail-data-new, 0 skipped, 4,000 orders/s (1.50 s, 6 files)"
 * ```
 */
export function producerDoneText(summary: PublishSummary, topic: string, files: number): string {
  return `${fmtInt(summary.sent)} orders sent to ${topic}, ${fmtInt(summary.skipped)} skipped, ` +
    `${fmtInt(Math.round(summary.ordersPerSecond))} orders/s (${summary.seconds.toFixed(2)} s, ` +
    `${files} file${files === 1 ? "" : "s"})`;
}

/**
 * The counters as one JSON line (`{"sent":…,"skipped":…,"read":…}`), the last stdout line.
 *
 * @example
 * ```ts
 * import { producerJson } from "./producer_progress.ts";
 * producerJson({ read: 9, sent: 5, skipped: 4, seconds: 0.1, ordersPerSecond: 50, bytes: 900 });
 * // '{"sent":5,"skipped":4,"read":9}'
 * ```
 */
export function producerJson(summary: PublishSummary): string {
  return JSON.stringify({ sent: summary.sent, skipped: summary.skipped, read: summary.read });
}
