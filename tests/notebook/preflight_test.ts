import assert from "node:assert/strict";
import { loadConfig } from "../../lib/config.ts";
import { projectPath } from "../../lib/runtime.ts";
import { requireBroker, requireTable } from "../../lib/notebook/preflight.ts";
import { KafkaUnavailableError } from "../../lib/kafka/client.ts";
import { TableNotFoundError } from "../../lib/delta/errors.ts";
import { type StreamPoint, streamViewHtml } from "../../lib/notebook/stream_view.ts";
import { bootstrapServers, freePort } from "../support/kafka.ts";

Deno.test("requireBroker: passes with the test broker, says what to do without one", async () => {
  const { config } = loadConfig({ args: [], env: {} });
  await requireBroker({ ...config.kafka, bootstrapServers: bootstrapServers() });
  const port = freePort();
  await assert.rejects(
    () => requireBroker({ ...config.kafka, bootstrapServers: [`127.0.0.1:${port}`] }, 1000),
    (e: Error) => {
      assert.ok(e instanceof KafkaUnavailableError);
      assert.match(e.message, new RegExp(`cannot reach Kafka at 127\\.0\\.0\\.1:${port}`));
      assert.match(e.message, /deno task kafka:up/);
      return true;
    },
  );
});

Deno.test("requireTable: a missing table is a TableNotFoundError with the hint", async () => {
  const dir = await Deno.makeTempDir({ prefix: "preflight-" });
  try {
    await assert.rejects(
      () => requireTable(`${dir}/orders_cleaned`, "run the cleaned stream first"),
      (e: Error) =>
        e instanceof TableNotFoundError &&
        e.message === `no Delta table at ${dir}/orders_cleaned: run the cleaned stream first`,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("projectPath: unchanged outside Jupyter", () => {
  assert.equal(projectPath("data"), "data");
  assert.equal(projectPath("/abs/data"), "/abs/data");
  assert.equal(
    projectPath("abfss://c@a.dfs.core.windows.net/x"),
    "abfss://c@a.dfs.core.windows.net/x",
  );
});

Deno.test("streamViewHtml: progress against the lag, totals per output, a throughput point per batch", () => {
  const points: StreamPoint[] = [
    { batch: 0, rows: 3000, rowsPerSecond: 20000, lag: 3000, outputs: { orders_raw: 3000 } },
    { batch: 1, rows: 1000, rowsPerSecond: 10000, lag: 2000, outputs: { orders_raw: 1000 } },
  ];
  const html = streamViewHtml("orders_raw", points);
  assert.match(html, /2 batches, 4,000 records read, lag 2,000 · orders_raw 4,000/);
  assert.match(html, /<progress value="0\.6667" max="1"/);
  assert.match(html, /last batch 1: 1,000 records, 10,000 records\/s/);
  assert.equal((html.match(/<rect x=/g) ?? []).length, 2, "a column per batch");
});
