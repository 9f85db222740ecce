import assert from "node:assert/strict";
import {
  type BatchProgress,
  formatProgressJson,
  formatProgressText,
  formatSummaryText,
} from "../../lib/engine/progress.ts";

const p: BatchProgress = {
  name: "orders_raw",
  batchId: 7,
  timestamp: "2026-11-24T10:00:00.000Z",
  numInputRows: 1500,
  processedRowsPerSecond: 3000,
  durationMs: { build: 100, write: 400, total: 500 },
  topic: "retail-data-new",
  startOffset: { "0": 0, "1": 10 },
  endOffset: { "0": 1000, "1": 510 },
  latestOffset: { "0": 1200, "1": 510 },
  lag: { "0": 200, "1": 0 },
  sink: { orders_raw: { rows: 1500, version: 8 } },
};

Deno.test("progress: one text line with batch id, rows, rate, duration, end offsets and lag", () => {
  const line = formatProgressText(p);
  assert.ok(!line.includes("\n"));
  for (
    const part of [
      "batch 7",
      "1,500 rows in",
      "3,000 rows/s",
      "500 ms",
      "orders_raw +1,500 (v8)",
      "end {0:1000 1:510}",
      "lag 200 {0:200 1:0}",
    ]
  ) {
    assert.ok(line.includes(part), `${part} in ${line}`);
  }
});

Deno.test("progress: JSON like Spark's StreamingQueryProgress", () => {
  const o = JSON.parse(formatProgressJson({ ...p, deadLetters: 3 }));
  assert.equal(o.batchId, 7);
  assert.equal(o.numInputRows, 1500);
  assert.deepEqual(o.sources[0].endOffset, { "retail-data-new": { "0": 1000, "1": 510 } });
  assert.deepEqual(o.sources[0].lag, { "retail-data-new": { "0": 200, "1": 0 } });
  assert.equal(o.deadLetters, 3);
  assert.deepEqual(o.sink, { orders_raw: { rows: 1500, version: 8 } });
});

Deno.test("progress: summary line", () => {
  const s = formatSummaryText({
    name: "q",
    batches: 2,
    records: 1000,
    rows: { t: 3000 },
    positions: { "0": "1000" },
    deadLetters: 1,
    droppedBatches: 1,
    seconds: 2,
    recordsPerSecond: 500,
    peakRssBytes: 200e6,
    ended: "finished",
  });
  assert.equal(
    s,
    "q finished: 2 batches, 1,000 records → t 3,000 rows, 1 dead letters, 2.00 s, 500 records/s, peak RSS 200 MB, 1 batches dropped and re-read",
  );
});
