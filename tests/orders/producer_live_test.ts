/** The live feed's flags (`--rate`, `--duration`, `--bad-rate`, `--seed`) and printed lines. */
import assert from "node:assert/strict";
import { ConfigError } from "../../lib/config.ts";
import { DurationError } from "../../lib/engine/duration.ts";
import type { LiveFeedSummary } from "../../lib/orders/feed_run.ts";
import { parseProducerOptions, PRODUCER_HELP } from "../../lib/orders/producer_options.ts";
import {
  liveDoneText,
  liveJson,
  liveProgressLogger,
  liveStartText,
} from "../../lib/orders/producer_progress.ts";

Deno.test("live flags: --rate turns the feed on, with duration, bad rate and seed", () => {
  assert.deepEqual(
    parseProducerOptions({ rate: "200", duration: "3s", "bad-rate": "0.1", seed: "7" }),
    {
      partitions: 3,
      batchSize: 2000,
      quiet: false,
      live: { rate: 200, durationMs: 3000, badRate: 0.1, seed: 7, seedGiven: true },
    },
  );
  assert.deepEqual(parseProducerOptions({ rate: "2.5", duration: "10m" }, [], () => 99).live, {
    rate: 2.5,
    durationMs: 600_000,
    badRate: 0,
    seed: 99,
    seedGiven: false,
  });
  // No --rate: the batch mode, exactly as before (no live key at all).
  assert.deepEqual(parseProducerOptions({}), { partitions: 3, batchSize: 2000, quiet: false });
  // A random seed is an unsigned 32-bit integer.
  const seed = parseProducerOptions({ rate: "1" }).live!.seed;
  assert.ok(Number.isInteger(seed) && seed >= 0 && seed <= 0xffffffff);
  assert.equal(parseProducerOptions({ rate: "1", seed: "4294967295" }).live!.seed, 4294967295);
});

Deno.test("live flags: bad values are ConfigErrors naming the flag", () => {
  for (
    const [flags, message] of [
      [{ rate: "0" }, /--rate must be a number of orders per second above 0/],
      [{ rate: "-5" }, /--rate must be/],
      [{ rate: "fast" }, /--rate must be/],
      [{ rate: "" }, /--rate must be/],
      [{ rate: "100001" }, /at most 100000/],
      [{ rate: "10", "bad-rate": "1.5" }, /--bad-rate must be a share from 0 to 1/],
      [{ rate: "10", "bad-rate": "10%" }, /--bad-rate must be/],
      [{ rate: "10", seed: "-1" }, /--seed must be an integer from 0 to 4294967295/],
      [{ rate: "10", seed: "1.5" }, /--seed must be/],
      [{ rate: "10", seed: "4294967296" }, /--seed must be/],
      [{ rate: "10", duration: "0s" }, /--duration must be above 0/],
      [{ duration: "3s" }, /^--duration applies only to the live feed: add --rate N$/],
      [{ "bad-rate": "0.1", seed: "7" }, /^--bad-rate, --seed apply only to the live feed/],
    ] as const
  ) {
    assert.throws(() => parseProducerOptions(flags), (e) => {
      assert.ok(e instanceof ConfigError, String(e));
      assert.match(e.message, message);
      return true;
    });
  }
  assert.throws(() => parseProducerOptions({ rate: "10", duration: "soon" }), DurationError);
  assert.throws(
    () => parseProducerOptions({ rate: "10" }, ["orders.json"]),
    new ConfigError("--rate sends generated orders; it does not read files (got orders.json)"),
  );
});

Deno.test("live flags: the help text names each of them", () => {
  for (const flag of ["--rate N", "--duration D", "--bad-rate F", "--seed S"]) {
    assert.ok(PRODUCER_HELP.includes(flag), flag);
  }
});

Deno.test("live lines: start, progress at most every 5 s with the recent rate, done, JSON", () => {
  assert.equal(
    liveStartText({ rate: 200, durationMs: 3000, badRate: 0.1, seed: 7, seedGiven: true }, 5),
    "200 orders/s for 3s, 10% malformed, seed 7, order ids from 5",
  );
  assert.equal(
    liveStartText({ rate: 2000, badRate: 0, seed: 12, seedGiven: false }, 5),
    "2,000 orders/s until Ctrl-C, 0% malformed, seed 12 (random), order ids from 5",
  );
  const lines: string[] = [];
  const onProgress = liveProgressLogger({
    quiet: false,
    log: (tag, m) => lines.push(`${tag} ${m}`),
  });
  onProgress({ sent: 100, bad: 10, elapsedMs: 50, due: 100 });
  onProgress({ sent: 9_900, bad: 990, elapsedMs: 4_950, due: 9_900 });
  onProgress({ sent: 10_000, bad: 1_000, elapsedMs: 5_000, due: 10_000 });
  onProgress({ sent: 12_000, bad: 1_200, elapsedMs: 9_000, due: 12_000 });
  onProgress({ sent: 14_000, bad: 1_400, elapsedMs: 10_000, due: 20_000 });
  assert.deepEqual(lines, [
    "progress 10,000 sent (1,000 bad), 2,000 orders/s over the last 5.0 s, 5.0 s",
    "progress 14,000 sent (1,400 bad), 800 orders/s over the last 5.0 s, 10.0 s, 6,000 behind",
  ]);
  const quiet: string[] = [];
  const q = liveProgressLogger({ quiet: true, log: (_t, m) => quiet.push(m) });
  q({ sent: 10_000, bad: 0, elapsedMs: 60_000, due: 10_000 });
  assert.deepEqual(quiet, []);

  const summary: LiveFeedSummary = {
    sent: 600,
    bad: 61,
    byReason: { not_json: 5, too_large: 1 },
    bytes: 1_400_000,
    sends: 62,
    seconds: 3.0123,
    ordersPerSecond: 199.18,
    stoppedBy: "signal",
  };
  assert.equal(
    liveDoneText(summary, "retail-data-new"),
    "600 orders sent to retail-data-new, 61 malformed on purpose, 199 orders/s " +
      "(3.01 s, live feed, stopped by signal)",
  );
  assert.deepEqual(JSON.parse(liveJson(summary)), {
    sent: 600,
    skipped: 0,
    read: 600,
    bad: 61,
    byReason: { not_json: 5, too_large: 1 },
    seconds: 3.012,
    ordersPerSecond: 199.2,
  });
});
