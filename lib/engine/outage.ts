/**
 * The outage policy of every stream: while Kafka does not answer, wait with the one backoff
 * (lib/backoff.ts: 0.5 s doubling to 10 s), log a `retry` line per attempt, and give up with a
 * {@link KafkaUnavailableError} once Kafka has been silent for `--broker-timeout`. Whether a
 * failure is worth waiting for is the Kafka classifier's call (transient), not this module's.
 *
 * @module
 */
import { type Backoff, backoffDelay } from "../backoff.ts";
import { KafkaUnavailableError } from "../kafka/client.ts";

/** The backoff between attempts while Kafka is unreachable. */
export const OUTAGE_BACKOFF: Backoff = { baseMs: 500, maxMs: 10_000, jitter: "none" };

/** Settings of {@link trackOutage}. */
export interface OutageOptions {
  /** The query's name (starts the final error's message). */
  query: string;
  /** How long Kafka may be silent before the query fails, ms. */
  timeoutMs: number;
  /** Where the committed batches are, for the final message (e.g. "the tables"). */
  committedTo: string | (() => string);
  /** One line for a Kafka error (default: its message's first line). */
  explain?: (error: unknown) => string;
}

/** The state of one query's outage (none while Kafka answers). */
export interface Outage {
  /** Kafka failed (a transient error): the outage starts now unless it already runs. */
  failed(error: unknown): void;
  /** Kafka answered: the outage, if any, is over. */
  answered(): void;
  /** True while an outage runs. */
  readonly down: boolean;
  /** Throws the final KafkaUnavailableError once the outage outlasted the timeout. */
  check(): void;
  /** The wait before the next attempt (the n-th retry, 1-based), capped at the time left. */
  delay(attempt: number): number;
  /** One line for an error, as the retry log shows it. */
  explain(error: unknown): string;
}

/**
 * Starts tracking a query's Kafka outages.
 *
 * @example
 * ```ts
 * import { trackOutage } from "./outage.ts";
 * const outage = trackOutage({ query: "q", timeoutMs: 300_000, committedTo: "the tables" });
 * outage.failed(new Error("connect ECONNREFUSED 127.0.0.1:9092"));
 * outage.check(); // fine for 300 s
 * console.log(outage.delay(1)); // 500
 * outage.answered();
 * ```
 */
export function trackOutage(o: OutageOptions): Outage {
  const explain = o.explain ??
    ((e: unknown) => String((e as Error)?.message ?? e).split("\n")[0]);
  let since: number | undefined;
  let last: unknown;
  return {
    failed(error) {
      since ??= Date.now();
      last = error;
    },
    answered() {
      since = undefined;
    },
    get down() {
      return since !== undefined;
    },
    check() {
      if (since === undefined || Date.now() - since < o.timeoutMs) return;
      const s = Math.round(o.timeoutMs / 1000);
      throw new KafkaUnavailableError(
        `${o.query}: Kafka has been unreachable for ${s} s (--broker-timeout ${s}); last error: ` +
          `${explain(last).split("\n")[0]}. Every committed batch is in ${
            typeof o.committedTo === "string" ? o.committedTo : o.committedTo()
          }; ` +
          "start the broker and run again to resume",
      );
    },
    delay(attempt) {
      const left = since === undefined ? undefined : since + o.timeoutMs - Date.now();
      return backoffDelay(OUTAGE_BACKOFF, attempt, left);
    },
    explain: (e) => explain(e).split("\n")[0],
  };
}
