/**
 * The one backoff formula of the project: exponential from a base delay, capped, with jitter.
 * Every retry (Kafka outages, Delta commit races, ADLS requests, transactional sends) takes its
 * delay from {@link backoffDelay} and sleeps with {@link sleep}.
 *
 * @module
 */

/** How a retry loop waits between attempts. */
export interface Backoff {
  /** Delay before the 2nd attempt, ms; doubles per attempt. */
  baseMs: number;
  /** Longest delay, ms. */
  maxMs: number;
  /**
   * Randomness: "none" (exact), "equal" (between half and all of the delay), "full" (between 0
   * and the delay; spreads many clients apart best). Default "equal".
   */
  jitter?: "none" | "equal" | "full";
}

/**
 * The delay in ms before attempt `attempt + 1` after `attempt` failures (1-based), capped at
 * `maxMs` and, when given, at `leftMs` (the time left before the caller gives up; at least 1).
 *
 * @example
 * ```ts
 * import { backoffDelay } from "./backoff.ts";
 * const policy = { baseMs: 500, maxMs: 10_000, jitter: "none" } as const;
 * backoffDelay(policy, 1); // 500
 * backoffDelay(policy, 3); // 2000
 * backoffDelay(policy, 9); // 10000
 * ```
 */
export function backoffDelay(policy: Backoff, attempt: number, leftMs?: number): number {
  const exp = Math.min(policy.maxMs, policy.baseMs * 2 ** Math.min(Math.max(0, attempt - 1), 30));
  const jitter = policy.jitter ?? "equal";
  let delay = jitter === "none"
    ? exp
    : jitter === "full"
    ? Math.random() * exp
    : exp / 2 + (Math.random() * exp) / 2;
  if (leftMs !== undefined) delay = Math.min(delay, leftMs);
  return Math.max(1, Math.round(delay));
}

/**
 * Resolves after `ms`, or at once when `signal` aborts (it never rejects).
 *
 * @example
 * ```ts
 * import { sleep } from "./backoff.ts";
 * await sleep(10);
 * ```
 */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal?.removeEventListener("abort", done);
      resolve();
    }
    signal?.addEventListener("abort", done, { once: true });
  });
}
