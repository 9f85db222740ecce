/**
 * Retry with exponential backoff and full jitter for ADLS requests, and the error facts
 * (status, service error code, request id) the retry and the error messages need.
 * Private to lib/storage.
 *
 * @module
 */
import { backoffDelay, sleep } from "../backoff.ts";

/** How often and how patiently to retry transient failures. */
export interface RetryPolicy {
  /** Attempts per request, first included (default 8). */
  maxAttempts: number;
  /** First backoff ceiling in ms (default 200); doubles per attempt; the delay is random below it. */
  baseDelayMs: number;
  /** Largest backoff in ms (default 10000). */
  maxDelayMs: number;
  /** Per-attempt timeout in ms (default 60000); a timed-out attempt counts as transient. */
  tryTimeoutMs: number;
}

/** Defaults for {@link RetryPolicy}. */
export const DEFAULT_RETRY: RetryPolicy = {
  maxAttempts: 8,
  baseDelayMs: 200,
  maxDelayMs: 10_000,
  tryTimeoutMs: 60_000,
};

/** What an SDK error says, normalized. */
export interface ErrorFacts {
  /** HTTP status, when a response came back. */
  status?: number;
  /** Service error code (x-ms-error-code) or network error code (ECONNRESET...). */
  code?: string;
  /** x-ms-request-id of the failed response (quote it to Azure support). */
  requestId?: string;
  /** Retry-After in ms, when the service sent one. */
  retryAfterMs?: number;
  /** True for 408/429/500/502/503/504, timeouts and dropped or refused connections. */
  transient: boolean;
}

const TRANSIENT_STATUS = new Set([408, 429, 500, 502, 503, 504]);
const NETWORK_HINT =
  /ECONNRESET|ECONNREFUSED|ETIMEDOUT|EPIPE|EAI_AGAIN|socket hang up|connection (was )?(reset|closed|dropped|refused)|network|aborted|timed? ?out|premature|terminated|unexpected end/i;

/** Extract status, code and transience from an error thrown by the Azure SDK (or fetch). */
export function errorFacts(e: unknown): ErrorFacts {
  const err = e as {
    name?: string;
    message?: string;
    statusCode?: number;
    code?: string;
    details?: { errorCode?: string };
    response?: { headers?: { get(name: string): string | undefined } };
  };
  const status = typeof err?.statusCode === "number" ? err.statusCode : undefined;
  const code = err?.details?.errorCode ?? err?.response?.headers?.get("x-ms-error-code") ??
    (typeof err?.code === "string" ? err.code : undefined);
  const requestId = err?.response?.headers?.get("x-ms-request-id");
  const ra = err?.response?.headers?.get("retry-after");
  const retryAfterMs = ra !== undefined && /^\d+$/.test(ra) ? Number(ra) * 1000 : undefined;
  let transient: boolean;
  if (/Credential|Authentication/.test(err?.name ?? "")) {
    transient = false; // DefaultAzureCredential found nothing usable: retrying will not help
  } else if (status !== undefined && status > 0) {
    transient = TRANSIENT_STATUS.has(status);
  } else {
    transient = err?.name === "AbortError" || err?.name === "TimeoutError" ||
      NETWORK_HINT.test(`${err?.code ?? ""} ${err?.message ?? ""}`);
  }
  return { status, code, requestId, retryAfterMs, transient };
}

/** One short text for an error: `503 ServerBusy (request id …)` or the network code. */
export function describeFacts(f: ErrorFacts, e: unknown): string {
  const parts: string[] = [];
  if (f.status !== undefined) parts.push(String(f.status));
  if (f.code) parts.push(f.code);
  if (parts.length === 0) parts.push((e as Error)?.name ?? "error");
  if (f.status === undefined) {
    // network errors: keep the message, which carries no secrets (no URL query)
    const msg = String((e as Error)?.message ?? "").split("\n")[0].replace(/\?[^\s]*/g, "?…");
    if (msg) parts.push(`(${msg.slice(0, 160)})`);
  }
  if (f.requestId) parts.push(`(request id ${f.requestId})`);
  return parts.join(" ");
}

/** Thrown when a transient failure persisted through every attempt; `cause` is the last error. */
export class RetriesExhausted extends Error {
  override name = "RetriesExhausted";
  /** Attempts made. */
  readonly attempts: number;
  /** Facts of the last failure. */
  readonly facts: ErrorFacts;
  /** Create it after `attempts` attempts failing last with `cause`. */
  constructor(attempts: number, facts: ErrorFacts, cause: unknown) {
    super(`${attempts} attempts failed, the last with ${describeFacts(facts, cause)}`, { cause });
    this.attempts = attempts;
    this.facts = facts;
  }
}

/**
 * Run `fn`, retrying transient failures with exponential backoff and full jitter; a permanent
 * failure is rethrown at once; after the last attempt a RetriesExhausted is thrown. A failed
 * attempt may still have taken effect: callers settle such outcomes from state, not from here.
 */
export async function withRetry<T>(
  policy: RetryPolicy,
  fn: (attempt: number) => Promise<T>,
): Promise<T> {
  for (let attempt = 1;; attempt++) {
    try {
      return await fn(attempt);
    } catch (e) {
      const facts = errorFacts(e);
      if (!facts.transient) throw e;
      if (attempt >= policy.maxAttempts) throw new RetriesExhausted(attempt, facts, e);
      let delay = backoffDelay(
        { baseMs: policy.baseDelayMs, maxMs: policy.maxDelayMs, jitter: "full" },
        attempt,
      );
      if (facts.retryAfterMs !== undefined) {
        delay = Math.min(policy.maxDelayMs, Math.max(delay, facts.retryAfterMs));
      }
      await sleep(delay);
    }
  }
}

/** Run `fn` over `items` with at most `limit` in flight; rejects on the first failure. */
export async function inParallel<T>(
  items: T[],
  limit: number,
  fn: (item: T, index: number) => Promise<void>,
): Promise<void> {
  let next = 0;
  let failed = false;
  const worker = async () => {
    while (!failed && next < items.length) {
      const i = next++;
      try {
        await fn(items[i], i);
      } catch (e) {
        failed = true;
        throw e;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}
