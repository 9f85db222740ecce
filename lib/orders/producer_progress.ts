/**
 * What the producer prints while and after it publishes: a progress line at most every two
 * seconds, one line per skipped input line (`file:line: skipped (reason): message`), the closing
 * summary and, as the last stdout line, the counters as JSON for scripts. The live feed
 * (`--rate`) has its own start line, a progress line at most every five seconds (sent, bad,
 * the recent rate, how far behind schedule) and the same closing pair.
 *
 * @module
 */
import { fmtInt } from "../display.ts";
import { formatDuration } from "../engine/duration.ts";
import type { FeedProgress, LiveFeedSummary } from "./feed_run.ts";
import type { LiveFeedFlags } from "./producer_options.ts";
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

/**
 * The live feed's first line: rate, duration, bad share, seed and first order id.
 *
 * @example
 * ```ts
 * import { liveStartText } from "./producer_progress.ts";
 * liveStartText({ rate: 200, durationMs: 3000, badRate: 0.1, seed: 7, seedGiven: true }, 176500000000000);
 * // "200 orders/s for 3s, 10% malformed, seed 7, order ids from 176500000000000"
 * ```
 */
export function liveStartText(live: LiveFeedFlags, firstOrderId: number): string {
  const pct = Math.round(live.badRate * 1000) / 10;
  return `${fmtInt(live.rate)} orders/s ` +
    (live.durationMs === undefined ? "until Ctrl-C" : `for ${formatDuration(live.durationMs)}`) +
    `, ${pct}% malformed, seed ${live.seed}${live.seedGiven ? "" : " (random)"}, ` +
    `order ids from ${firstOrderId}`;
}

/**
 * An `onProgress` callback of the live feed that logs
 * `N sent (M bad), R orders/s over the last S s, T s[, K behind]` at most every `everyMs`
 * (default 5000) of elapsed time, or nothing when quiet. "behind" is shown when the records due
 * by now exceed those sent by more than a tenth of a second's worth.
 *
 * @example
 * ```ts
 * import { liveProgressLogger } from "./producer_progress.ts";
 * const lines: string[] = [];
 * const onProgress = liveProgressLogger({ quiet: false, log: (_tag, m) => lines.push(m) });
 * onProgress({ sent: 100, bad: 10, elapsedMs: 50, due: 100 }); // too early: nothing
 * onProgress({ sent: 10000, bad: 1000, elapsedMs: 5000, due: 10000 });
 * lines; // ["10,000 sent (1,000 bad), 2,000 orders/s over the last 5.0 s, 5.0 s"]
 * ```
 */
export function liveProgressLogger(o: ProgressLoggerOptions): (p: FeedProgress) => void {
  const every = o.everyMs ?? 5000;
  let lastMs = 0;
  let lastSent = 0;
  return (p) => {
    if (o.quiet || p.elapsedMs - lastMs < every) return;
    const span = p.elapsedMs - lastMs;
    const rate = ((p.sent - lastSent) * 1000) / span;
    const behind = p.due - p.sent;
    const average = p.elapsedMs > 0 ? (p.sent * 1000) / p.elapsedMs : 0;
    o.log(
      "progress",
      `${fmtInt(p.sent)} sent (${fmtInt(p.bad)} bad), ${fmtInt(Math.round(rate))} orders/s ` +
        `over the last ${(span / 1000).toFixed(1)} s, ${(p.elapsedMs / 1000).toFixed(1)} s` +
        (behind > 0 && behind > average / 10 ? `, ${fmtInt(behind)} behind` : ""),
    );
    lastMs = p.elapsedMs;
    lastSent = p.sent;
  };
}

/**
 * The closing line of a live feed run.
 *
 * @example
 * ```ts
 * import { liveDoneText } from "./producer_progress.ts";
 * const summary = { sent: 600, bad: 60, byReason: {}, bytes: 330_000, sends: 60, seconds: 3.01,
 *   ordersPerSecond: 199.3, stoppedBy: "duration" as const };
 * liveDoneText(summary, "retail-data-new");
 * // "600 orders sent to retail-data-new, 60 malformed on purpose, 199 orders/s (3.01 s, live feed, duration over)"
 * ```
 */
export function liveDoneText(summary: LiveFeedSummary, topic: string): string {
  return `${fmtInt(summary.sent)} orders sent to ${topic}, ${fmtInt(summary.bad)} malformed on ` +
    `purpose, ${fmtInt(Math.round(summary.ordersPerSecond))} orders/s ` +
    `(${summary.seconds.toFixed(2)} s, live feed, ` +
    `${summary.stoppedBy === "duration" ? "duration over" : "stopped by signal"})`;
}

/**
 * The live feed's counters as one JSON line: the batch mode's keys (`sent`, `skipped` = 0,
 * `read` = records generated and sent) and `bad`, `byReason`, `seconds`, `ordersPerSecond`.
 *
 * @example
 * ```ts
 * import { liveJson } from "./producer_progress.ts";
 * liveJson({ sent: 10, bad: 1, byReason: { not_json: 1 }, bytes: 5000, sends: 2, seconds: 1,
 *   ordersPerSecond: 10, stoppedBy: "duration" });
 * // '{"sent":10,"skipped":0,"read":10,"bad":1,"byReason":{"not_json":1},"seconds":1,"ordersPerSecond":10}'
 * ```
 */
export function liveJson(summary: LiveFeedSummary): string {
  return JSON.stringify({
    sent: summary.sent,
    skipped: 0,
    read: summary.sent,
    bad: summary.bad,
    byReason: summary.byReason,
    seconds: Math.round(summary.seconds * 1000) / 1000,
    ordersPerSecond: Math.round(summary.ordersPerSecond * 10) / 10,
  });
}
