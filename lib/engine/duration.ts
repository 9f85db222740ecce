/**
 * The one duration grammar of every stream flag (`--trigger-interval`, `--window`,
 * `--watermark`, `--transaction-timeout`, …), written as people write them: `1 minute`,
 * `10 minutes`, `30s`, `2h`, `500ms`, `1.5 hours`, or a bare number of milliseconds.
 *
 * @module
 */
import { ConfigError } from "../config.ts";

/** A duration flag that could not be read; the message shows the accepted forms. */
export class DurationError extends ConfigError {
  override name = "DurationError";
}

const UNITS: Record<string, number> = {
  ms: 1,
  millisecond: 1,
  milliseconds: 1,
  s: 1000,
  sec: 1000,
  secs: 1000,
  second: 1000,
  seconds: 1000,
  m: 60_000,
  min: 60_000,
  mins: 60_000,
  minute: 60_000,
  minutes: 60_000,
  h: 3_600_000,
  hour: 3_600_000,
  hours: 3_600_000,
  d: 86_400_000,
  day: 86_400_000,
  days: 86_400_000,
};

/**
 * Parses a duration into milliseconds.
 *
 * @example
 * ```ts
 * parseDuration("1 minute"); // 60000
 * parseDuration("90s"); // 90000
 * parseDuration("250"); // 250 (ms)
 * ```
 */
export function parseDuration(text: string): number {
  const t = text.trim().toLowerCase();
  const m = /^(\d+(?:\.\d+)?)\s*([a-z]*)$/.exec(t);
  const unit = m ? (m[2] === "" ? 1 : UNITS[m[2]]) : undefined;
  if (!m || unit === undefined) {
    throw new DurationError(
      `duration '${text}' is not understood: write e.g. '1 minute', '30 seconds', '10m', '2h', '500ms'`,
    );
  }
  const ms = Math.round(Number(m[1]) * unit);
  if (!Number.isSafeInteger(ms)) throw new DurationError(`duration '${text}' is too large`);
  return ms;
}

/**
 * Formats milliseconds as a short duration (the largest whole unit).
 *
 * @example
 * ```ts
 * formatDuration(60000); // "1m"
 * formatDuration(1500); // "1500ms"
 * ```
 */
export function formatDuration(ms: number): string {
  for (const [unit, size] of [["d", 86_400_000], ["h", 3_600_000], ["m", 60_000], ["s", 1000]]) {
    if (ms >= (size as number) && ms % (size as number) === 0) {
      return `${ms / (size as number)}${unit}`;
    }
  }
  return `${ms}ms`;
}
