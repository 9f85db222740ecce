/**
 * Every notebooks/*.ipynb, executed headlessly by nbclient with Jupyter's Deno kernel against
 * the real broker, in pipeline order (producer → batch → streams → producer stream → report),
 * on a fresh topic and lakehouse. Any cell error fails the test. The executed notebooks (with
 * their outputs) are written to test-output/notebooks/.
 *
 * Needs Jupyter set up (.cache/venv-jupyter + the Deno kernelspec): `deno task test` does it
 * before the tests, or run `deno task jupyter:setup`. Without it a plain `deno test` of this file
 * ignores the test (and prints why) locally, and FAILS in CI (CI=true).
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import {
  type CellOutput,
  executeNotebook,
  jupyterProblems,
  REPO_ROOT,
} from "../support/jupyter.ts";
import {
  bootstrapServers,
  deleteTopics,
  freePort,
  testKafka,
  uniqueName,
} from "../support/kafka.ts";

/** The notebooks in the order a user runs them; every .ipynb must be listed. */
const PIPELINE = [
  "producer",
  "kafka-consumer-batch",
  "kafka-consumer-stream",
  "kafka-consumer-stream-cleaned",
  "kafka-producer-stream",
  "explore-orders",
];

const NOTEBOOKS = join(REPO_ROOT, "notebooks");
const OUT = join(REPO_ROOT, "test-output", "notebooks");
const inCI = ["1", "true"].includes((Deno.env.get("CI") ?? "").toLowerCase());
const problems = await jupyterProblems();
if (problems.length > 0 && !inCI) {
  console.warn(
    `jupyter_test: ignored, Jupyter is not set up (${problems.join("; ")}); ` +
      "`deno task test` sets it up, or run `deno task jupyter:setup`",
  );
}

function outputs(cells: CellOutput[][]): CellOutput[] {
  return cells.flat();
}

function text(cells: CellOutput[][]): string {
  return outputs(cells).map((o) => o.text).join("");
}

function rich(cells: CellOutput[][], mime: string): string[] {
  return outputs(cells).filter((o) => o.mimes.includes(mime)).map((o) => o.rich);
}

Deno.test("notebooks/ holds exactly the pipeline's notebooks", async () => {
  const found: string[] = [];
  for await (const e of Deno.readDir(NOTEBOOKS)) {
    if (e.name.endsWith(".ipynb")) found.push(e.name.replace(/\.ipynb$/, ""));
  }
  assert.deepEqual(found.sort(), [...PIPELINE].sort(), "add a new notebook to PIPELINE");
});

Deno.test({
  name: "every notebook runs in Jupyter's Deno kernel without a cell error",
  ignore: problems.length > 0 && !inCI,
  async fn(t) {
    assert.deepEqual(problems, [], "Jupyter is not set up: run `deno task jupyter:setup`");
    const topic = uniqueName("jupyter");
    const outputTopic = `${topic}-out`;
    const lakehouse = await Deno.makeTempDir({ prefix: "jupyter-lakehouse-" });
    await Deno.mkdir(OUT, { recursive: true });
    const env = {
      KAFKA_BOOTSTRAP_SERVERS: bootstrapServers().join(","),
      KAFKA_TOPIC: topic,
      KAFKA_OUTPUT_TOPIC: outputTopic,
      LAKEHOUSE: lakehouse,
    };
    const run = (name: string, extraEnv: Record<string, string> = {}, suffix = "") =>
      executeNotebook(join(NOTEBOOKS, `${name}.ipynb`), {
        output: join(OUT, `${name}${suffix}.ipynb`),
        env: { ...env, ...extraEnv },
      });
    try {
      const checks: Record<string, (cells: CellOutput[][]) => void> = {
        "producer": (cells) => assert.match(text(cells), /"sent":6000,"skipped":0/),
        "kafka-consumer-batch": (cells) => {
          const tables = rich(cells, "text/html").join("");
          assert.match(
            tables,
            /<th[^>]*>key<br><span[^>]*>string<\/span><\/th>/,
            "HTML table with types",
          );
          assert.match(text(cells), /6,000 records read/);
        },
        "kafka-consumer-stream": (cells) => {
          const view = rich(cells, "text/html").join("");
          assert.match(view, /<progress value="1\.0000"/, "stream progress at 100%");
          assert.match(view, /throughput per micro-batch/, "throughput chart");
          assert.match(text(cells), /6,000 records/);
        },
        "kafka-consumer-stream-cleaned": (cells) => {
          const view = rich(cells, "text/html").join("");
          assert.match(view, /<progress value="1\.0000"/);
          assert.match(view, /throughput per micro-batch/);
          assert.match(text(cells), /orders_cleaned 18,031 rows/);
        },
        "kafka-producer-stream": (cells) => {
          assert.match(rich(cells, "text/html").join(""), /throughput per micro-batch/);
          assert.match(text(cells), /"output":145,/);
        },
        "explore-orders": (cells) => {
          // By state (2), by city (2), top products, by category and by department, order
          // size (2), the Chicago share (2).
          assert.equal(rich(cells, "image/svg+xml").length, 11, "eleven charts");
          assert.match(rich(cells, "image/svg+xml").join(""), /Revenue by department/i);
          assert.match(rich(cells, "text/html").join(""), /data-kpi="orders">6,000</);
          assert.match(text(cells), /145 of 6,000 orders/);
        },
      };
      for (const name of PIPELINE) {
        await t.step(name, async () => {
          const r = await run(name);
          assert.ok(r.ok, `${name}.ipynb failed:\n${r.error}`);
          checks[name](r.cells);
        });
      }

      await t.step("without a broker, the first code cell stops with a clear message", async () => {
        const r = await run(
          "producer",
          { KAFKA_BOOTSTRAP_SERVERS: `127.0.0.1:${freePort()}` },
          ".no-broker",
        );
        assert.equal(r.ok, false);
        const first = r.cells[0].find((o) => o.type === "error");
        assert.ok(first, `the first code cell has no error: ${JSON.stringify(r.cells[0])}`);
        assert.match(
          first.text,
          /KafkaUnavailableError: cannot reach Kafka at 127\.0\.0\.1:\d+.*kafka:up/,
        );
      });

      await t.step(
        "without the table, the report's first cell stops with a clear message",
        async () => {
          const empty = await Deno.makeTempDir({ prefix: "jupyter-empty-" });
          try {
            const r = await run("explore-orders", { LAKEHOUSE: empty }, ".no-table");
            assert.equal(r.ok, false);
            const first = r.cells[0].find((o) => o.type === "error");
            assert.ok(first, "the first code cell has no error");
            assert.match(first.text, /TableNotFoundError: no Delta table at .*orders_cleaned/);
          } finally {
            await Deno.remove(empty, { recursive: true });
          }
        },
      );
    } finally {
      await Deno.remove(lakehouse, { recursive: true });
      await deleteTopics(testKafka(), [topic, outputTopic, `${outputTopic}_dead_letters`]).catch(
        () => {},
      );
    }
  },
});
