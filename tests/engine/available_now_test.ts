// --available-now means the whole topic, also when copies of the query share it: a copy that
// finished its own partitions waits for the ones another copy holds (here: one killed with
// SIGKILL, whose partitions come back after the session timeout), and the default query name
// is tied to the table so two streams on two tables never share a consumer group.
import assert from "node:assert/strict";
import { relative } from "node:path";
import { commitTxns } from "../../lib/delta/table.ts";
import { defaultQueryName } from "../../lib/engine/query.ts";
import { rawSink } from "../../lib/orders/sinks.ts";
import { deleteTopics, testKafka } from "../support/kafka.ts";
import {
  baseArgs,
  finish,
  freshTopic,
  produce,
  spawnNotebook,
  tableRows,
  tempLakehouse,
  type TestRecord,
} from "../support/stream.ts";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

Deno.test("--available-now waits for the partitions a dead copy of the query still holds", async () => {
  const topic = await freshTopic("stream-avnow", 4);
  const { dir, cleanup } = await tempLakehouse();
  const table = `${dir}/orders_raw`;
  const common = [
    ...baseArgs(topic),
    "--table",
    table,
    "--query-name",
    "avnow_test",
    "--session-timeout-ms",
    "6000",
    "--progress",
    "json",
  ];
  const children: Deno.ChildProcess[] = [];
  try {
    // A: a slow continuous copy that holds the whole (empty) topic first.
    const a = spawnNotebook("raw", [
      ...common,
      "--trigger-interval",
      "5s",
      "--max-offsets-per-trigger",
      "8",
    ]);
    children.push(a);
    await sleep(4000);
    const records: TestRecord[] = Array.from({ length: 400 }, (_, i) => ({
      key: `k${i % 50}`,
      value: `record ${i}`,
    }));
    await produce(topic, records);
    // B: available-now; its joining splits the partitions between A and B.
    const b = spawnNotebook("raw", [...common, "--available-now", "--trigger-interval", "200ms"]);
    children.push(b);
    await sleep(3000);
    a.kill("SIGKILL"); // A's partitions stay with the group until its session times out
    await finish(a);
    const result = await finish(b);
    assert.equal(result.code, 0, result.stderr.slice(-800));
    assert.match(result.stderr, /finished/);
    const rows = await tableRows(table);
    const keys = rows.map((r) => `${r.partition}:${r.offset}`);
    assert.equal(new Set(keys).size, rows.length, "no duplicates");
    assert.equal(rows.length, records.length, "every partition was processed before 'finished'");
    assert.deepEqual(
      rows.map((r) => r.value as string).sort(),
      records.map((r) => r.value).sort(),
    );
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

Deno.test("the default query name is tied to the table; a table with offsets under the old name keeps it", async () => {
  const { dir, cleanup } = await tempLakehouse();
  try {
    const one = await rawSink(`${dir}/one/orders_raw`);
    const two = await rawSink(`${dir}/two/orders_raw`);
    const a = await defaultQueryName(one, "retail-data-new", "orders_raw");
    const b = await defaultQueryName(two, "retail-data-new", "orders_raw");
    assert.match(a, /^orders_raw-[0-9a-f]{8}$/);
    assert.match(b, /^orders_raw-[0-9a-f]{8}$/);
    assert.notEqual(a, b, "two tables, two consumer groups");
    // The same table named by a relative path gets the same name (a local folder).
    if (!/^[a-z]+:\/\//.test(dir)) {
      const again = await rawSink(relative(Deno.cwd(), `${dir}/one/orders_raw`));
      assert.equal(await defaultQueryName(again, "retail-data-new", "orders_raw"), a);
    }
    // A table written before the change (offsets under "orders_raw-<topic>-<p>") keeps them.
    await commitTxns(one.targets[0].table.storage, { "orders_raw-retail-data-new-0": 42n }, {});
    const reopened = await rawSink(`${dir}/one/orders_raw`);
    assert.equal(await defaultQueryName(reopened, "retail-data-new", "orders_raw"), "orders_raw");
    assert.equal(await defaultQueryName(reopened, "other-topic", "orders_raw"), a);
  } finally {
    await cleanup();
  }
});
