import assert from "node:assert/strict";
import { inlineClassifier, workerClassifier } from "../../lib/insights/classify.ts";
import type { KafkaRecord } from "../../lib/kafka/source.ts";
import { malformedOrders } from "../fixtures/malformed_orders.ts";

const encoder = new TextEncoder();

function records(): KafkaRecord[] {
  const out: KafkaRecord[] = [];
  const good = Deno.readTextFileSync(new URL("../../data/file1.json", import.meta.url))
    .split("\n").filter((l) => l !== "").slice(0, 300);
  const bad = malformedOrders();
  good.forEach((l, i) => {
    out.push(record(out.length, encoder.encode(l)));
    if (i < bad.length) out.push(record(out.length, bad[i].bytes));
  });
  return out;
}

function record(i: number, value: Uint8Array | null): KafkaRecord {
  return {
    topic: "t",
    partition: 0,
    offset: String(i),
    key: null,
    value,
    timestamp: 0,
    timestampType: 0,
  };
}

Deno.test("worker and inline classifiers agree record by record (kept, dropped, dead-lettered with reason)", async () => {
  const rs = records();
  const inline = await inlineClassifier({ city: "Chicago" }).classify(rs);
  const worker = workerClassifier({ city: "Chicago" });
  try {
    const viaWorker = await worker.classify(rs);
    // Two batches in flight at once come back to their own callers.
    const [a, b] = await Promise.all([worker.classify(rs.slice(0, 50)), worker.classify(rs)]);
    assert.deepEqual(a.codes, inline.codes.slice(0, 50));
    assert.deepEqual(b.codes, inline.codes);
    assert.deepEqual(viaWorker.codes, inline.codes);
    assert.deepEqual(viaWorker.failures, inline.failures);
  } finally {
    worker.close();
  }
  const bad = malformedOrders().filter((c) => c.expected !== "ok");
  assert.equal(inline.failures.size, bad.length);
  assert.deepEqual(
    [...inline.failures.values()].map((f) => f.reason).sort(),
    bad.map((c) => c.expected).sort(),
  );
  const kept = rs.filter((_, i) => inline.codes[i] === 1).map((r) =>
    JSON.parse(new TextDecoder().decode(r.value!)).city
  );
  assert.ok(kept.length > 5 && kept.every((c) => c === "Chicago"), String(kept.length));
});
