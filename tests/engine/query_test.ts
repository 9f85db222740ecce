// The engine in-process against the real broker: data loss handling and new partitions.
import assert from "node:assert/strict";

import { createKafka } from "../../lib/kafka/client.ts";
import { checkDataLoss, DataLossError } from "../../lib/engine/offsets.ts";
import { parseStreamOptions, type StreamOptions } from "../../lib/engine/options.ts";
import { startDeltaQuery } from "../../lib/engine/query.ts";
import { rawSink } from "../../lib/orders/sinks.ts";
import { bootstrapServers, deleteTopics, testKafka, withAdmin } from "../support/kafka.ts";
import { freshTopic, produce, storedOffsets, tableRows, tempLakehouse } from "../support/stream.ts";

const kafka = () =>
  createKafka({
    bootstrapServers: bootstrapServers(),
    securityProtocol: "PLAINTEXT",
    clientId: "stream-tests",
  }, "nothing");

function options(query: string, extra: Partial<StreamOptions> = {}): StreamOptions {
  return { ...parseStreamOptions({}, query), progress: "none", sessionTimeoutMs: 6000, ...extra };
}

Deno.test("offsets: a resume offset below the earliest is data loss, failing unless told otherwise", () => {
  const marks = { low: 10n, high: 20n };
  const logged: string[] = [];
  assert.throws(() => checkDataLoss("t", 0, 5n, marks, true, (m) => logged.push(m)), DataLossError);
  assert.equal(checkDataLoss("t", 0, 5n, marks, false, (m) => logged.push(m)), 10n);
  assert.match(logged[0], /offsets 5\.\.9 are gone/);
  assert.equal(checkDataLoss("t", 0, 15n, marks, true, () => {}), 15n);
  assert.throws(() => checkDataLoss("t", 0, 25n, marks, true, () => {}), DataLossError);
});

Deno.test("query: offsets deleted by retention fail loudly; --fail-on-data-loss false logs the gap", async () => {
  const topic = await freshTopic("stream-loss", 1);
  const { dir, cleanup } = await tempLakehouse();
  const table = `${dir}/orders_raw`;
  const logs: string[] = [];
  const log = (tag: string, m: string) => logs.push(`${tag} ${m}`);
  try {
    await produce(topic, [0, 1, 2].map((i) => ({ key: null, value: `v${i}` })));
    const sink = await rawSink(table);
    const run = (extra: Partial<StreamOptions> = {}) =>
      startDeltaQuery({
        kafka: kafka(),
        topic,
        sink,
        log,
        options: options("loss_test", { availableNow: true, ...extra }),
      }).done;
    assert.equal((await run()).records, 3);
    await produce(topic, [3, 4, 5, 6, 7, 8, 9].map((i) => ({ key: null, value: `v${i}` })));
    await withAdmin(testKafka(), async (admin) => {
      await admin.fetchTopicMetadata({ topics: [topic] });
      await admin.deleteTopicRecords({ topic, partitions: [{ partition: 0, offset: "6" }] });
    });
    await assert.rejects(
      run(),
      (e: Error) => e instanceof DataLossError && /fail-on-data-loss false/.test(e.message),
    );
    assert.deepEqual(await storedOffsets(table, "loss_test", topic, 1), [3]);
    const s = await run({ failOnDataLoss: false });
    assert.equal(s.records, 4);
    assert.ok(logs.some((l) => /offsets 3\.\.5 are gone/.test(l)), logs.join("\n"));
    assert.deepEqual((await tableRows(table)).map((r) => r.value).sort(), [
      "v0",
      "v1",
      "v2",
      "v6",
      "v7",
      "v8",
      "v9",
    ]);
  } finally {
    await cleanup();
    await deleteTopics(testKafka(), [topic]);
  }
});

Deno.test("query: partitions added to the topic while running are picked up", async () => {
  const topic = await freshTopic("stream-newpart", 1);
  const { dir, cleanup } = await tempLakehouse();
  const table = `${dir}/orders_raw`;
  const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
  try {
    await produce(topic, [{ key: null, value: "p0-a", partition: 0 }]);
    const q = startDeltaQuery({
      kafka: kafka(),
      topic,
      sink: await rawSink(table),
      log: () => {},
      options: options("newpart_test", { triggerIntervalMs: 100, metadataMaxAgeMs: 1000 }),
    });
    const waitFor = async (want: (number | undefined)[]) => {
      const deadline = Date.now() + 40_000;
      let got: (number | undefined)[] = [];
      while (Date.now() < deadline) {
        got = await storedOffsets(table, "newpart_test", topic, want.length).catch(() => []);
        if (JSON.stringify(got) === JSON.stringify(want)) return;
        await sleep(200);
      }
      assert.deepEqual(got, want);
    };
    await waitFor([1]);
    await withAdmin(
      testKafka(),
      (admin) => admin.createPartitions({ topicPartitions: [{ topic, count: 2 }] }),
    );
    await produce(topic, [{ key: null, value: "p1-a", partition: 1 }, {
      key: null,
      value: "p0-b",
      partition: 0,
    }]);
    await waitFor([2, 1]);
    q.stop();
    const s = await q.done;
    assert.equal(s.records, 3);
    assert.deepEqual((await tableRows(table)).map((r) => r.value).sort(), ["p0-a", "p0-b", "p1-a"]);
  } finally {
    await cleanup();
    await deleteTopics(testKafka(), [topic]);
  }
});

Deno.test("query: a topic deleted while the query runs is data loss and fails it", async () => {
  const topic = await freshTopic("stream-deleted", 1);
  const { dir, cleanup } = await tempLakehouse();
  try {
    await produce(topic, [{ key: null, value: "a" }]);
    const q = startDeltaQuery({
      kafka: kafka(),
      topic,
      sink: await rawSink(`${dir}/orders_raw`),
      log: () => {},
      options: options("deleted_test", { triggerIntervalMs: 100 }),
    });
    const deadline = Date.now() + 20_000;
    while (
      (await storedOffsets(`${dir}/orders_raw`, "deleted_test", topic, 1).catch(() => []))[
        0
      ] !== 1
    ) {
      assert.ok(Date.now() < deadline, "the first record was committed");
      await new Promise((r) => setTimeout(r, 200));
    }
    await deleteTopics(testKafka(), [topic]);
    await assert.rejects(
      q.done,
      (e: Error) => e instanceof DataLossError && /was deleted/.test(e.message),
    );
  } finally {
    await cleanup();
  }
});
