import assert from "node:assert/strict";
import { type Backoff, backoffDelay, sleep } from "../lib/backoff.ts";

/** Calls `fn` with Math.random returning `r`, then restores it. */
function withRandom<T>(r: number, fn: () => T): T {
  const saved = Math.random;
  Math.random = () => r;
  try {
    return fn();
  } finally {
    Math.random = saved;
  }
}

Deno.test("backoff: jitter none doubles from the base up to the cap", () => {
  const policy: Backoff = { baseMs: 500, maxMs: 10_000, jitter: "none" };
  assert.deepEqual(
    [1, 2, 3, 4, 5, 6, 7, 9, 100].map((a) => backoffDelay(policy, a)),
    [500, 1000, 2000, 4000, 8000, 10_000, 10_000, 10_000, 10_000],
  );
  // The retry loops' policies: Kafka sendOffsets (10 ms doubling to 500) and attempt 0 or less.
  const offsets: Backoff = { baseMs: 10, maxMs: 500, jitter: "none" };
  assert.deepEqual([1, 2, 6, 7, 31].map((a) => backoffDelay(offsets, a)), [10, 20, 320, 500, 500]);
  assert.equal(backoffDelay(offsets, 0), 10);
});

Deno.test("backoff: a huge attempt number stays at the cap (no Infinity, no NaN)", () => {
  const policy: Backoff = { baseMs: 25, maxMs: 2000, jitter: "none" };
  assert.equal(backoffDelay(policy, 1e9), 2000);
  assert.equal(backoffDelay(policy, Number.MAX_SAFE_INTEGER), 2000);
});

Deno.test("backoff: equal jitter lies between half and all of the delay (the default)", () => {
  const equal: Backoff = { baseMs: 25, maxMs: 2000, jitter: "equal" };
  assert.equal(withRandom(0, () => backoffDelay(equal, 3)), 50);
  assert.equal(withRandom(0.999999, () => backoffDelay(equal, 3)), 100);
  assert.equal(withRandom(0, () => backoffDelay({ baseMs: 25, maxMs: 2000 }, 3)), 50);
  for (let attempt = 1; attempt <= 12; attempt++) {
    const exp = Math.min(2000, 25 * 2 ** (attempt - 1));
    for (let i = 0; i < 200; i++) {
      const d = backoffDelay(equal, attempt);
      assert.ok(d >= Math.round(exp / 2) && d <= exp, `attempt ${attempt}: ${d}`);
    }
  }
});

Deno.test("backoff: full jitter lies between 1 ms and the delay", () => {
  const full: Backoff = { baseMs: 200, maxMs: 10_000, jitter: "full" };
  assert.equal(withRandom(0, () => backoffDelay(full, 4)), 1);
  assert.equal(withRandom(0.999999, () => backoffDelay(full, 4)), 1600);
  for (let attempt = 1; attempt <= 10; attempt++) {
    const exp = Math.min(10_000, 200 * 2 ** (attempt - 1));
    for (let i = 0; i < 200; i++) {
      const d = backoffDelay(full, attempt);
      assert.ok(d >= 1 && d <= exp, `attempt ${attempt}: ${d}`);
    }
  }
});

Deno.test("backoff: leftMs caps the delay, and the delay is never below 1 ms", () => {
  const policy: Backoff = { baseMs: 500, maxMs: 10_000, jitter: "none" };
  assert.equal(backoffDelay(policy, 5, 1234), 1234);
  assert.equal(backoffDelay(policy, 1, 1234), 500);
  assert.equal(backoffDelay(policy, 5, 0), 1);
  assert.equal(backoffDelay(policy, 5, -50), 1);
  assert.equal(backoffDelay({ baseMs: 0, maxMs: 0, jitter: "none" }, 3), 1);
  assert.equal(withRandom(0.999999, () => backoffDelay({ ...policy, jitter: "full" }, 9, 70)), 70);
});

Deno.test("backoff: sleep waits about the given time", async () => {
  const t0 = performance.now();
  await sleep(30);
  assert.ok(performance.now() - t0 >= 25);
});

Deno.test("backoff: sleep with an aborted signal returns at once", async () => {
  const t0 = performance.now();
  await sleep(60_000, AbortSignal.abort());
  assert.ok(performance.now() - t0 < 1000);
});

Deno.test("backoff: an abort during sleep ends it early, and it resolves (never rejects)", async () => {
  const ac = new AbortController();
  const t0 = performance.now();
  setTimeout(() => ac.abort(new Error("stop")), 20);
  await sleep(60_000, ac.signal);
  assert.ok(performance.now() - t0 < 5_000);
});
