import assert from "node:assert/strict";
import {
  batchDoneText,
  batchTally,
  COUNT_COLUMNS,
  rangeText,
  RECORD_COLUMNS,
  shownText,
} from "../../lib/kafka/batch_view.ts";
import { recordRow } from "../../lib/kafka/record.ts";
import type { KafkaRecord } from "../../lib/kafka/source.ts";

function record(partition: number, offset: number): KafkaRecord {
  return {
    topic: "orders",
    partition,
    offset: String(offset),
    key: new TextEncoder().encode(`k${partition}`),
    value: new TextEncoder().encode(`v${offset}`),
    timestamp: Date.UTC(2026, 0, 1),
    timestampType: 0,
  };
}

const ranges = [
  { partition: 0, start: 0n, end: 3n },
  { partition: 1, start: 5n, end: 7n },
  { partition: 2, start: 4n, end: 4n },
];

Deno.test("batch view: the range line names each partition's [start, end)", () => {
  assert.equal(rangeText(ranges), "p0 [0, 3)  p1 [5, 7)  p2 [4, 4)");
});

Deno.test("batch view: the tally keeps the first N records and counts every partition", () => {
  const tally = batchTally(ranges, 2);
  for (const r of [record(0, 0), record(1, 5), record(0, 1), record(1, 6), record(0, 2)]) {
    tally.add(r);
  }
  assert.deepEqual(tally.shown.map((r) => `${r.partition}:${r.offset}`), ["0:0", "1:5"]);
  assert.equal(tally.read, 5);
  assert.equal(tally.offsets, 5);
  // Every partition of the range has a row, also one that held nothing.
  assert.deepEqual(tally.countRows(), [
    { partition: 0, count: 3 },
    { partition: 1, count: 2 },
    { partition: 2, count: 0 },
  ]);
  assert.deepEqual(COUNT_COLUMNS.map((c) => c.name), Object.keys(tally.countRows()[0]));
  assert.equal(batchTally(ranges, 0).shown.length, 0);
});

Deno.test("batch view: the record columns are the fields of a record row, in Spark's order", () => {
  assert.deepEqual(RECORD_COLUMNS.map((c) => c.name), Object.keys(recordRow(record(0, 0))));
});

Deno.test("batch view: the lines under the table and at the end", () => {
  assert.equal(shownText(20, 6000), "only showing the first 20 of 6,000 rows");
  assert.equal(shownText(20, 3), "only showing the first 3 of 3 rows");
  assert.equal(batchDoneText("orders", 6000, 6000), "6,000 records read from orders");
  assert.equal(
    batchDoneText("orders", 8, 10),
    "8 records read from orders (10 offsets in range: the rest are transaction markers or aborted)",
  );
});
