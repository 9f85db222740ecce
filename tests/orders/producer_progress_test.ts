import assert from "node:assert/strict";
import {
  producerDoneText,
  producerJson,
  progressLogger,
  skippedText,
} from "../../lib/orders/producer_progress.ts";
import type { PublishSummary } from "../../lib/orders/publish.ts";

const summary: PublishSummary = {
  read: 6001,
  sent: 6000,
  skipped: 1,
  seconds: 1.234,
  ordersPerSecond: 4862.3,
  bytes: 3_000_000,
};

Deno.test("producer progress: a line at most every 2 s of elapsed time, none when quiet", () => {
  const lines: string[] = [];
  const onProgress = progressLogger({ quiet: false, log: (tag, m) => lines.push(`${tag} ${m}`) });
  onProgress(2000, 0, 500);
  onProgress(4000, 0, 2000);
  onProgress(6000, 1, 3000);
  onProgress(8000, 1, 4100);
  assert.deepEqual(lines, [
    "progress 4,000 sent, 0 skipped, 2.0 s",
    "progress 8,000 sent, 1 skipped, 4.1 s",
  ]);

  const quiet: string[] = [];
  const silent = progressLogger({ quiet: true, log: (_t, m) => quiet.push(m) });
  silent(1, 0, 10_000);
  assert.deepEqual(quiet, []);

  const every: string[] = [];
  const fast = progressLogger({ quiet: false, log: (_t, m) => every.push(m), everyMs: 100 });
  fast(1, 0, 100);
  fast(2, 0, 150);
  fast(3, 0, 200);
  assert.equal(every.length, 2);
});

Deno.test("producer progress: a skipped line names file:line, reason and message", () => {
  assert.equal(
    skippedText({
      file: "a.json",
      line: 4,
      reason: "wrong_type",
      message: "customer_id: not a number",
    }),
    "a.json:4: skipped (wrong_type): customer_id: not a number",
  );
});

Deno.test("producer progress: the summary line and the JSON line for scripts", () => {
  assert.equal(
    producerDoneText(summary, "retail-data-new", 6),
    "6,000 orders sent to retail-data-new, 1 skipped, 4,862 orders/s (1.23 s, 6 files)",
  );
  assert.match(producerDoneText(summary, "t", 1), /\(1\.23 s, 1 file\)$/);
  assert.deepEqual(JSON.parse(producerJson(summary)), { sent: 6000, skipped: 1, read: 6001 });
  assert.equal(producerJson(summary), '{"sent":6000,"skipped":1,"read":6001}');
});
