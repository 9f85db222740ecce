// Crash tests: kill -9 the cleaned stream at precise points of a micro-batch (the STREAM_FAULT
// test hook) and at random moments, rerun it, and check that no row is lost or duplicated in
// either table.
import assert from "node:assert/strict";
import { join } from "node:path";
import { dataFiles } from "../../lib/orders/lines.ts";
import { snapshot } from "../../lib/delta/table.ts";
import { openStorage } from "../../lib/storage/mod.ts";
import { DELTA_FAULT_POINTS } from "../../lib/engine/fault.ts";
import { malformedOrders } from "../fixtures/malformed_orders.ts";
import { deleteTopics, testKafka } from "../support/kafka.ts";
import {
  baseArgs,
  cleanedKey,
  expectedCleaned,
  freshTopic,
  orderRecords,
  produce,
  ROOT,
  runNotebook,
  spawnNotebook,
  storedOffsets,
  tableRows,
  tempLakehouse,
  type TestRecord,
} from "../support/stream.ts";

async function setup(): Promise<
  { topic: string; records: TestRecord[]; goodValues: string[]; bad: number }
> {
  const topic = await freshTopic("stream-crash", 3);
  const good = (await orderRecords(await dataFiles(join(ROOT, "data")))).slice(0, 3000);
  const corpus = malformedOrders();
  const records: TestRecord[] = [];
  good.forEach((r, i) => {
    records.push(r);
    if (i % 60 === 0 && i / 60 < corpus.length) {
      records.push({ key: `c${i / 60}`, value: corpus[i / 60].bytes });
    }
  });
  await produce(topic, records);
  const dec = new TextDecoder();
  const goodValues = [
    ...good.map((r) => r.value as string),
    ...corpus.filter((c) => c.expected === "ok").map((c) => dec.decode(c.bytes!)),
  ];
  return { topic, records, goodValues, bad: corpus.filter((c) => c.expected !== "ok").length };
}

function args(topic: string, dir: string, query: string, max = 500): string[] {
  return [
    ...baseArgs(topic),
    "--table",
    `${dir}/orders_cleaned`,
    "--dead-letters",
    `${dir}/orders_dead_letters`,
    "--available-now",
    "--progress",
    "json",
    "--max-offsets-per-trigger",
    String(max),
    "--query-name",
    query,
    "--session-timeout-ms",
    "6000",
  ];
}

async function assertExactlyOnce(dir: string, goodValues: string[], bad: number, total: number) {
  const rows = await tableRows(`${dir}/orders_cleaned`);
  assert.deepEqual(
    rows.map(cleanedKey).sort(),
    expectedCleaned(goodValues),
    "cleaned rows exactly once",
  );
  const dl = await tableRows(`${dir}/orders_dead_letters`);
  assert.equal(dl.length, bad, "dead letters exactly once");
  assert.equal(new Set(dl.map((r) => `${r.partition}:${r.offset}`)).size, bad);
  const orders = new Set(rows.map((r) => `${r.kafka_partition}:${r.kafka_offset}`)).size;
  assert.equal(orders + dl.length, total, "records in = orders cleaned + dead letters");
}

Deno.test("crash: kill -9 at every point of a micro-batch, then rerun: no loss, no duplicates", async (t) => {
  const { topic, records, goodValues, bad } = await setup();
  try {
    const cases = [
      ...DELTA_FAULT_POINTS.map((point) => ({ point, worker: false })),
      { point: "after-parquet" as const, worker: true },
      { point: "between-tables" as const, worker: true },
    ];
    for (const { point, worker } of cases) {
      await t.step(`${point}${worker ? " (--worker)" : ""}`, async () => {
        const { dir, cleanup } = await tempLakehouse();
        try {
          const query = `crash_${point.replaceAll("-", "_")}${worker ? "_w" : ""}`;
          const extra = worker ? ["--worker"] : [];
          const killed = await runNotebook("cleaned", [...args(topic, dir, query), ...extra], {
            STREAM_FAULT: `${point}:2`,
          });
          assert.equal(killed.signal, "SIGKILL", `${point}: killed (${killed.stderr.slice(-300)})`);
          if (worker) {
            // Batches are pipelined to the worker: batch 2 can die before batch 1's progress
            // line is printed (its commit is in the table either way; checked below).
            assert.ok(killed.progress.length <= 1, "batch 2 is never reported");
          } else {
            assert.equal(killed.progress.length, 1, "batch 1 committed and reported, batch 2 not");
          }
          if (point === "between-tables") {
            const c = await storedOffsets(`${dir}/orders_cleaned`, query, topic, 3);
            const d = await storedOffsets(`${dir}/orders_dead_letters`, query, topic, 3);
            assert.ok(c.some((v, i) => v! > d[i]!), `cleaned ahead of dead letters: ${c} vs ${d}`);
          }
          if (point === "after-parquet" || point === "during-parquet") {
            const files = (await openStorage(`${dir}/orders_cleaned`).list("")).filter((f) =>
              !f.path.includes("/") && f.path.endsWith(".parquet")
            );
            const live = (await snapshot(`${dir}/orders_cleaned`)).files.length;
            assert.equal(files.length, live + 1, "one uncommitted (orphan) data file");
          }
          const rerun = await runNotebook("cleaned", [...args(topic, dir, query), ...extra]);
          assert.equal(rerun.code, 0, rerun.stderr);
          await assertExactlyOnce(dir, goodValues, bad, records.length);
        } finally {
          await cleanup();
        }
      });
    }
  } finally {
    await deleteTopics(testKafka(), [topic]);
  }
});

Deno.test("crash: external kill -9 at random moments, three times, then a full run", async () => {
  const { topic, records, goodValues, bad } = await setup();
  const { dir, cleanup } = await tempLakehouse();
  try {
    const a = args(topic, dir, "crash_random", 100);
    let killed = 0;
    for (let i = 0; i < 3; i++) {
      // Kill at a random moment after the first micro-batch of this run was reported.
      const child = spawnNotebook("cleaned", a);
      const lines = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
      let seen = "";
      while (!seen.includes("\n")) {
        const { value, done } = await lines.read();
        if (done) break;
        seen += value;
      }
      await new Promise((r) => setTimeout(r, Math.random() * 300));
      try {
        child.kill("SIGKILL");
      } catch {
        // It already finished: fine.
      }
      await lines.cancel();
      await child.stderr.cancel();
      if ((await child.status).signal === "SIGKILL") killed++;
    }
    assert.ok(killed > 0, "at least one run was killed");
    const before = await tableRows(`${dir}/orders_cleaned`);
    assert.ok(
      before.length < expectedCleaned(goodValues).length,
      "the kills interrupted the stream",
    );
    const last = await runNotebook("cleaned", a);
    assert.equal(last.code, 0, last.stderr);
    await assertExactlyOnce(dir, goodValues, bad, records.length);
  } finally {
    await cleanup();
    await deleteTopics(testKafka(), [topic]);
  }
});
