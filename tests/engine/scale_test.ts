// Scale-out: three instances of one query share a 6-partition topic through the consumer group;
// one is killed with SIGKILL and one added midway while records keep arriving. Every record
// must land in the table exactly once.
import assert from "node:assert/strict";
import { deleteTopics, testKafka, withAdmin } from "../support/kafka.ts";
import {
  baseArgs,
  finish,
  freshTopic,
  produce,
  spawnNotebook,
  storedOffsets,
  tableRows,
  tempLakehouse,
  type TestRecord,
} from "../support/stream.ts";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function batch(from: number, n: number): TestRecord[] {
  return Array.from(
    { length: n },
    (_, i) => ({ key: `k${(from + i) % 97}`, value: `record ${from + i}` }),
  );
}

Deno.test("scale-out: 3 instances, one killed and one added midway: every record exactly once", async () => {
  const topic = await freshTopic("stream-scale", 6);
  const { dir, cleanup } = await tempLakehouse();
  const table = `${dir}/orders_raw`; // not join(): it would fold abfss:// into a local path
  const args = [
    ...baseArgs(topic),
    "--table",
    table,
    "--query-name",
    "scale_test",
    "--trigger-interval",
    "200ms",
    "--max-offsets-per-trigger",
    "300",
    "--session-timeout-ms",
    "6000",
    "--progress",
    "json",
  ];
  const children: Deno.ChildProcess[] = [];
  try {
    let sent = 0;
    await produce(topic, batch(sent, 2000));
    sent += 2000;
    const a = spawnNotebook("raw", args);
    const b = spawnNotebook("raw", args);
    const c = spawnNotebook("raw", args);
    children.push(a, b, c);
    for (let i = 0; i < 6; i++) {
      await produce(topic, batch(sent, 300));
      sent += 300;
      await sleep(300);
    }
    b.kill("SIGKILL");
    const bResult = await finish(b);
    assert.equal(bResult.signal, "SIGKILL");
    for (let i = 0; i < 4; i++) {
      await produce(topic, batch(sent, 300));
      sent += 300;
      await sleep(300);
    }
    const d = spawnNotebook("raw", args);
    children.push(d);
    for (let i = 0; i < 6; i++) {
      await produce(topic, batch(sent, 300));
      sent += 300;
      await sleep(300);
    }
    // Wait until the table's offsets reach the end of every partition.
    const ends = await withAdmin(testKafka(), (admin) => admin.fetchTopicOffsets(topic));
    const high = ends.sort((x, y) => x.partition - y.partition).map((o) => Number(o.high));
    const deadline = Date.now() + 90_000;
    let stored: (number | undefined)[] = [];
    while (Date.now() < deadline) {
      stored = await storedOffsets(table, "scale_test", topic, 6);
      if (stored.every((v, p) => v === high[p])) break;
      await sleep(500);
    }
    assert.deepEqual(stored, high, "every partition committed to its end");
    for (const x of [a, c, d]) x.kill("SIGTERM");
    const results = await Promise.all([a, c, d].map(finish));
    for (const r of results) assert.equal(r.code, 0, r.stderr.slice(-500));
    if (Deno.env.get("STREAM_TEST_VERBOSE")) {
      for (const r of [bResult, ...results]) console.error(`-----\n${r.stderr}`);
    }
    const assigns = results.map((r) => (r.stderr.match(/ assign /g) ?? []).length);
    assert.ok(assigns.some((n) => n >= 2), `a rebalance moved partitions (assignments ${assigns})`);
    assert.ok(results.some((r) => /stopped after batch/.test(r.stderr)), "graceful stop is logged");

    const rows = await tableRows(table);
    const values = rows.map((r) => r.value as string);
    assert.equal(
      new Set(rows.map((r) => `${r.partition}:${r.offset}`)).size,
      rows.length,
      "no duplicates",
    );
    assert.equal(rows.length, sent, "no loss");
    assert.deepEqual(
      values.sort(),
      Array.from({ length: sent }, (_, i) => `record ${i}`).sort(),
    );
    const writers = [a, c, d].length;
    const progressed = results.filter((r) => r.progress.length > 0).length;
    assert.ok(progressed >= 2, `at least two of the ${writers} survivors wrote batches`);
  } finally {
    for (const ch of children) {
      try {
        ch.kill("SIGKILL");
      } catch { /* already gone */ }
    }
    await cleanup();
    await deleteTopics(testKafka(), [topic]);
  }
});
