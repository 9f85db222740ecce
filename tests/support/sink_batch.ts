/**
 * One micro-batch of Kafka record values through a table sink, the way the engine commits it
 * (lib/engine/writer.ts `writeBatch`), without a broker: for sink tests that need real Delta
 * commits (the cleaned sink's money, schema evolution, Spark sessions).
 *
 * @module
 */
import assert from "node:assert/strict";
import { type BatchResult, writeBatch } from "../../lib/engine/writer.ts";
import type { TableSink } from "../../lib/engine/tables.ts";
import type { RawChunk } from "../../lib/kafka/raw.ts";

/**
 * Writes `values` (record values as text) as one batch of topic `t`, partition `partition`:
 * offsets from `start`, timestamps 1.7e12 ms + offset, no keys; a sink of two tables (cleaned and
 * dead letters) is told both last stored `start` (nothing stored before a batch that starts at 0).
 * Asserts that the batch committed and returns its result.
 *
 * @example
 * ```ts ignore
 * import { cleanedSink } from "../../lib/orders/sinks.ts";
 * import { writeValues } from "./sink_batch.ts";
 * const sink = await cleanedSink("/tmp/c", "/tmp/d");
 * const r = await writeValues(sink, ['{"order_id":1}']);
 * r.deadLetters; // 1
 * ```
 */
export async function writeValues(
  sink: TableSink,
  values: string[],
  start = 0,
  partition = 0,
): Promise<BatchResult> {
  const chunk: RawChunk = {
    topic: "t",
    partition,
    timestampType: 0,
    messages: values.map((v, i) => ({
      key: null,
      value: new TextEncoder().encode(v),
      offset: String(start + i),
      timestamp: String(1_700_000_000_000 + start + i),
    })),
  };
  const first = BigInt(start);
  const r = await writeBatch(sink, [chunk], {
    query: "q",
    topic: "t",
    batchId: start,
    seq: start + 1,
    partitions: [{
      partition,
      end: BigInt(start + values.length),
      from: [first, first],
      stored: start === 0 ? [undefined, undefined] : [first, first],
    }],
  });
  assert.ok(r.ok, `the sink's batch did not commit: ${JSON.stringify(r)}`);
  return r;
}
