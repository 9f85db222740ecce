import assert from "node:assert/strict";
import { progressReporter, summaryText } from "../../lib/insights/progress.ts";
import type { StreamTotals } from "../../lib/insights/stream.ts";
import {
  type BatchProgress,
  formatProgressJson,
  type QuerySummary,
} from "../../lib/engine/progress.ts";

const totals: StreamTotals = {
  batches: 2,
  input: 6000,
  output: 145,
  deadLetters: { not_json: 2, no_line_items: 1 },
  late: 0,
  dropped: 0,
  seconds: 0.5,
  positions: { "0": "2015", "1": "2019" },
};

// The run so far, as the engine sums it (the text line's totals).
const summary: QuerySummary = {
  name: "q",
  batches: 2,
  records: 6000,
  rows: { processed_orders: 145, processed_orders_dead_letters: 3 },
  deadLetters: 3,
  droppedBatches: 0,
  seconds: 0.5,
  recordsPerSecond: 12000,
  peakRssBytes: 0,
  ended: "stopped",
  positions: { "0": "2015", "1": "2019" },
};

// Every stream reports one progress type (lib/engine/progress.ts).
const batch = (n: number, lag: number): BatchProgress => ({
  name: "q",
  batchId: n,
  timestamp: "2026-11-24T10:00:00.000Z",
  numInputRows: 3000,
  processedRowsPerSecond: 30000,
  durationMs: { wait: 10, transform: 80, commit: 10, total: 100 },
  topic: "orders",
  startOffset: { "0": 1000 * n - 3000 },
  endOffset: { "0": 1000 * n },
  latestOffset: { "0": 1000 * n + lag },
  lag: { "0": lag },
  sink: { processed_orders: { rows: 70 }, processed_orders_dead_letters: { rows: 1 } },
  deadLetters: 1,
  eventTime: { watermark: Date.UTC(2026, 10, 24, 10, 0, 0), late: 2, dropped: 1, windows: 12 },
});

Deno.test("text progress: at most one line per interval, summing batches, and always when caught up", () => {
  const lines: string[] = [];
  let t = 0;
  const report = progressReporter({
    format: "text",
    aggregate: true,
    log: (tag, m) => lines.push(`${tag} ${m}`),
    now: () => t,
  });
  t = 100;
  report(batch(1, 5000), summary); // first line at once (its rate from the batch's own 100 ms)
  t = 600;
  report(batch(2, 2000), summary); // within the second: summed into the next line
  t = 700;
  report(batch(3, 0), summary); // caught up: printed
  assert.equal(lines.length, 2);
  assert.match(lines[0], /^progress batch 1: 3,000 in, 70 out, 1 dead letters, 2 late, 1 dropped/);
  assert.match(lines[1], /^progress batch 3: 6,000 in, 140 out, 2 dead letters/);
  assert.match(lines[0], /, 30,000 orders\/s/);
  assert.match(lines[1], /watermark 2026-11-24T10:00:00.000Z, lag 0, 10,000 orders\/s/);
});

Deno.test("json progress: one object per batch with Spark-like names; none prints nothing", () => {
  const printed: string[] = [];
  const report = progressReporter({
    format: "json",
    aggregate: false,
    log: () => printed.push("text!"),
    print: (l) => printed.push(l),
  });
  report(batch(1, 10), summary);
  report(batch(2, 0), summary);
  assert.equal(printed.length, 2);
  assert.deepEqual(JSON.parse(printed[1]), JSON.parse(formatProgressJson(batch(2, 0))));
  assert.deepEqual(JSON.parse(printed[0]), {
    name: "q",
    batchId: 1,
    timestamp: "2026-11-24T10:00:00.000Z",
    numInputRows: 3000,
    processedRowsPerSecond: 30000,
    durationMs: { wait: 10, transform: 80, commit: 10, total: 100 },
    sources: [{
      description: "Kafka[Subscribe[orders]]",
      startOffset: { orders: { "0": -2000 } },
      endOffset: { orders: { "0": 1000 } },
      latestOffset: { orders: { "0": 1010 } },
      lag: { orders: { "0": 10 } },
    }],
    sink: { processed_orders: { rows: 70 }, processed_orders_dead_letters: { rows: 1 } },
    deadLetters: 1,
    eventTime: { watermark: Date.UTC(2026, 10, 24, 10, 0, 0), late: 2, dropped: 1, windows: 12 },
  });
  const quiet: string[] = [];
  const none = progressReporter({
    format: "none",
    aggregate: false,
    log: () => quiet.push("x"),
    print: () => quiet.push("y"),
  });
  none(batch(1, 0), summary);
  assert.deepEqual(quiet, []);
});

Deno.test("summaryText names counts, reasons, rate and position", () => {
  assert.equal(
    summaryText(totals, "processed_orders", false),
    "6,000 orders read in 2 batches, 145 records to processed_orders, 3 dead letters " +
      "(not_json 2, no_line_items 1), 12,000 orders/s; position p0@2015 p1@2019",
  );
});
