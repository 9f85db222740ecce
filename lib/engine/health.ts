/**
 * The health rule of every stream (`/healthz`): healthy unless Kafka has been unreachable for
 * longer than the limit (`--health-timeout`), or no batch has been committed for longer than
 * the limit while there is lag. The "no commit" clock starts at the latest of: the query's
 * start, its last commit, and the last time it was seen caught up (lag 0), so an idle stream
 * with nothing to read stays healthy, and one that has just received data gets the whole limit
 * to commit it.
 *
 * @module
 */
import { formatDuration } from "./duration.ts";

/** What the rule judges (times in ms since the epoch). */
export interface HealthFacts {
  /** Now. */
  now: number;
  /** When the query started. */
  startedAt: number;
  /** Since when Kafka has been unreachable (undefined while it answers). */
  brokerDownSince?: number;
  /** The last Kafka error, in one line. */
  brokerError?: string;
  /** When the last batch was committed. */
  lastCommitAt?: number;
  /** When the lag was last seen at 0. */
  caughtUpAt?: number;
  /** Offsets left to read over the assigned partitions (undefined: not known yet). */
  lag?: number;
}

/** 200 (ok) or 503 with one line saying why. */
export type HealthStatus = { ok: true } | { ok: false; reason: string };

/**
 * Judges the facts against the limit.
 *
 * @example
 * ```ts
 * import { healthStatus } from "./health.ts";
 * const facts = { now: 200_000, startedAt: 0, lastCommitAt: 100_000, lag: 500 };
 * console.log(healthStatus(facts, 60_000));
 * // { ok: false, reason: "no batch committed for 100 s while 500 offsets wait (--health-timeout 1m)" }
 * ```
 */
export function healthStatus(f: HealthFacts, limitMs: number): HealthStatus {
  const limit = `(--health-timeout ${formatDuration(limitMs)})`;
  if (f.brokerDownSince !== undefined && f.now - f.brokerDownSince > limitMs) {
    const s = Math.round((f.now - f.brokerDownSince) / 1000);
    const why = f.brokerError ? `: ${f.brokerError.split("\n")[0]}` : "";
    return { ok: false, reason: `Kafka unreachable for ${s} s ${limit}${why}` };
  }
  if (f.lag !== undefined && f.lag > 0) {
    const since = Math.max(f.startedAt, f.lastCommitAt ?? -Infinity, f.caughtUpAt ?? -Infinity);
    if (f.now - since > limitMs) {
      const s = Math.round((f.now - since) / 1000);
      const what = f.lastCommitAt === undefined ? "no batch committed yet" : "no batch committed";
      return { ok: false, reason: `${what} for ${s} s while ${f.lag} offsets wait ${limit}` };
    }
  }
  return { ok: true };
}
