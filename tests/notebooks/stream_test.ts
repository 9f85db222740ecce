// End-to-end: the raw stream notebook (Kafka ▶ orders_raw) against the real broker.
import assert from "node:assert/strict";
import { join } from "node:path";
import { dataFiles } from "../../lib/orders/lines.ts";
import { deleteTopics, testKafka } from "../support/kafka.ts";
import {
  baseArgs,
  freshTopic,
  orderRecords,
  produce,
  ROOT,
  runNotebook,
  storedOffsets,
  tableRows,
  tableVersion,
  tempLakehouse,
} from "../support/stream.ts";
import { deltalakeAvailable, pythonPath } from "../support/python.ts";

const INVALID_UTF8 = new Uint8Array([0x7b, 0xff, 0xfe, 0x7d]);

Deno.test("raw stream: data/ to orders_raw exactly once, idempotent rerun, only new rows later", async () => {
  const topic = await freshTopic("stream-raw", 6);
  const { dir, cleanup } = await tempLakehouse();
  const table = `${dir}/orders_raw`;
  try {
    const records = await orderRecords(await dataFiles(join(ROOT, "data")));
    records.push(
      { key: null, value: "no key", partition: 1 },
      { key: "k", value: null, partition: 2 },
      { key: "bad", value: INVALID_UTF8, partition: 3 },
    );
    await produce(topic, records);
    const args = [
      ...baseArgs(topic),
      "--table",
      table,
      "--available-now",
      "--progress",
      "json",
      "--max-offsets-per-trigger",
      "2500",
      "--query-name",
      "raw_test",
    ];
    const first = await runNotebook("raw", args);
    assert.equal(first.code, 0, first.stderr);
    assert.ok(first.progress.length >= 3, "several micro-batches of at most 2500 records");
    for (const p of first.progress) assert.ok((p.numInputRows as number) <= 2500);
    assert.equal(first.summary?.records, records.length);

    const rows = await tableRows(table);
    assert.equal(rows.length, records.length);
    const coords = new Set(rows.map((r) => `${r.partition}:${r.offset}`));
    assert.equal(coords.size, rows.length, "no (partition, offset) twice");
    const expected = records.map((r) =>
      JSON.stringify([
        r.key,
        r.value instanceof Uint8Array ? new TextDecoder().decode(r.value) : r.value,
      ])
    ).sort();
    const got = rows.map((r) => JSON.stringify([r.key, r.value])).sort();
    assert.deepEqual(got, expected);
    assert.ok(rows.every((r) => r.topic === topic && r.timestampType === 0));
    const offsets = await storedOffsets(table, "raw_test", topic, 6);
    const perPartition = new Map<number, number>();
    for (const r of rows) {
      perPartition.set(r.partition as number, (perPartition.get(r.partition as number) ?? 0) + 1);
    }
    assert.deepEqual(offsets, [0, 1, 2, 3, 4, 5].map((p) => perPartition.get(p) ?? 0));

    // Run again: nothing new, no commit.
    const v1 = await tableVersion(table);
    const again = await runNotebook("raw", args);
    assert.equal(again.code, 0, again.stderr);
    assert.equal(again.summary?.batches, 0);
    assert.equal(await tableVersion(table), v1);

    // Produce more: only those rows appear.
    const more = records.slice(0, 100).map((r) => ({ key: r.key, value: `more ${r.value}` }));
    await produce(topic, more);
    const third = await runNotebook("raw", args);
    assert.equal(third.code, 0, third.stderr);
    assert.equal(third.summary?.records, 100);
    const after = await tableRows(table);
    assert.equal(after.length, records.length + 100);
    assert.equal(after.filter((r) => String(r.value).startsWith("more ")).length, 100);

    if (await deltalakeAvailable()) {
      const out = await new Deno.Command(pythonPath(), {
        args: [
          join(ROOT, "tests", "interop", "deltalake_dump.py"),
          table,
          String(await tableVersion(table)),
        ],
        stdout: "piped",
        stderr: "piped",
      }).output();
      const dump = JSON.parse(new TextDecoder().decode(out.stdout));
      const v = dump.versions[0];
      assert.equal(v.error, undefined, v.error);
      assert.equal(v.rowsError, undefined, v.rowsError);
      assert.equal(v.rows.length, records.length + 100);
      const names = v.schema.fields.map((f: { name: string }) => f.name);
      assert.deepEqual(names, [
        "key",
        "value",
        "topic",
        "partition",
        "offset",
        "timestamp",
        "timestampType",
        "key_bytes",
        "value_bytes",
      ]);
      // The one value that is not UTF-8 keeps its exact bytes; every other row has none.
      const withBytes = v.rows.filter((r: Record<string, unknown>) => r.value_bytes !== null);
      assert.deepEqual(
        withBytes.map((r: Record<string, unknown>) => [r.key, r.value_bytes]),
        [["bad", "7bfffe7d"]],
      );
      assert.ok(v.rows.every((r: Record<string, unknown>) => r.key_bytes === null));
    }
  } finally {
    await cleanup();
    await deleteTopics(testKafka(), [topic]);
  }
});

Deno.test("raw stream: --starting-offsets latest is stored on first start, so a restart keeps it", async () => {
  const topic = await freshTopic("stream-latest", 2);
  const { dir, cleanup } = await tempLakehouse();
  const table = `${dir}/orders_raw`;
  try {
    await produce(topic, [{ key: "a", value: "old-0", partition: 0 }, {
      key: "b",
      value: "old-1",
      partition: 1,
    }]);
    const args = [
      ...baseArgs(topic),
      "--table",
      table,
      "--available-now",
      "--progress",
      "json",
      "--query-name",
      "latest_test",
      "--starting-offsets",
      "latest",
    ];
    const first = await runNotebook("raw", args);
    assert.equal(first.code, 0, first.stderr);
    assert.deepEqual(await storedOffsets(table, "latest_test", topic, 2), [1, 1]);
    await produce(topic, [{ key: "c", value: "new-0", partition: 0 }]);
    const second = await runNotebook("raw", args);
    assert.equal(second.code, 0, second.stderr);
    const rows = await tableRows(table);
    assert.deepEqual(rows.map((r) => r.value), ["new-0"]);
  } finally {
    await cleanup();
    await deleteTopics(testKafka(), [topic]);
  }
});
