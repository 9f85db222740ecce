/**
 * `deno task test`: everything the tests need, then the tests.
 *
 * 1. brings the local Kafka broker up (unless KAFKA_BOOTSTRAP_SERVERS points elsewhere),
 * 2. creates .cache/venv with `deltalake` (delta-rs) and .cache/venv-spark with pyspark +
 *    delta-spark, the independent Delta readers of the interop tests, when missing, and sets up
 *    Jupyter (.cache/venv-jupyter, the Deno kernelspec) and Chromium for the notebook and report
 *    render tests (tests/support/jupyter.ts), and installs Debian's `prometheus` package (the
 *    server and promtool of the metrics tests, tests/support/prometheus.ts) when missing; each
 *    step is quick when already done,
 * 3. runs `deno test -A` over tests/ (extra arguments are passed on, e.g. a path or --filter),
 * 4. runs the end-to-end tests of the producer and the cleaned stream again with the notebooks
 *    on the broker's SASL_SSL listener (KAFKA_TEST_SASL=1; the Confluent Cloud path),
 * 5. runs the Delta, storage and stream tests again with every table on ADLS Gen2, against the
 *    DFS stand-in (tests/support/dfs_standin.ts: Azure cannot be reached from here),
 * 6. runs `deno test --doc` over lib/: every `@example` block is type-checked and run,
 * 7. stops the broker if this run started it, and
 * 8. prints a plain `N passed, N failed` line summed over all runs.
 *
 * @module
 */
import { brokerStatus, startBroker, stopBroker } from "../dev/kafka/mod.ts";
import { setupJupyter } from "./support/jupyter.ts";
import { setupPrometheus } from "./support/prometheus.ts";
import { setupVenv } from "./support/python.ts";
import { setupSparkVenv } from "./support/spark.ts";
import { startStandinProcess } from "./support/storage_backends.ts";

/** Reads deno test's summary (`ok | 12 passed (3 steps) | 1 failed | 2 ignored (5s)`). */
export function summaryCounts(output: string): { passed: number; failed: number } | undefined {
  // deno-lint-ignore no-control-regex
  const clean = output.replace(/\x1b\[[0-9;]*m/g, "");
  const lines = clean.split("\n").filter((l) => /^(ok|FAILED) \| \d+ passed/.test(l.trim()));
  const last = lines.at(-1);
  if (!last) return undefined;
  const passed = Number(/(\d+) passed/.exec(last)![1]);
  const failed = Number(/(\d+) failed/.exec(last)?.[1] ?? 0);
  return { passed, failed };
}

/** The Delta, storage and stream tests that run again with tables on ADLS Gen2 (the DFS stand-in). */
const ADLS_TESTS = [
  "tests/delta/",
  "tests/storage/",
  "tests/engine/",
  "tests/notebooks/stream_test.ts",
  "tests/notebooks/stream_cleaned_test.ts",
];

/** End-to-end tests that run again with the notebooks on the SASL_SSL listener. */
const SASL_E2E = ["tests/notebooks/producer_test.ts", "tests/notebooks/stream_cleaned_test.ts"];

/** Runs `deno test -A <args>`, echoing its output; returns its exit code and summary counts. */
async function denoTest(
  args: string[],
  env: Record<string, string> = {},
): Promise<{ code: number; counts?: { passed: number; failed: number } }> {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["test", "-A", ...args],
    env,
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const chunks: string[] = [];
  const decoder = new TextDecoder();
  for await (const chunk of child.stdout) {
    await Deno.stdout.write(chunk);
    chunks.push(decoder.decode(chunk, { stream: true }));
  }
  const { code } = await child.status;
  const counts = summaryCounts(chunks.join(""));
  if (!counts) console.error(`no test summary found: deno test exited with ${code}`);
  return { code, counts };
}

async function main(): Promise<number> {
  const external = Deno.env.get("KAFKA_BOOTSTRAP_SERVERS");
  let startedBroker = false;
  if (!external) {
    const status = await brokerStatus();
    if (!status.running) {
      await startBroker();
      startedBroker = true;
    }
    Deno.env.set("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9092");
  }
  try {
    await setupVenv((line) => console.error(line));
    await setupSparkVenv((line) => console.error(line));
    await setupJupyter({ chromium: true, log: (line) => console.error(line) });
    await setupPrometheus((line) => console.error(line));
    const args = Deno.args[0] === "--" ? Deno.args.slice(1) : Deno.args;
    const paths = args.some((a) => !a.startsWith("-")) ? [] : ["tests/"];
    const runs = [await denoTest([...args, ...paths])];
    // The whole suite (no paths given) on the local broker: the Confluent Cloud path too.
    const sasl = !external && paths.length > 0 && (await brokerStatus()).sasl?.envFile;
    if (sasl) {
      console.log("\n=== producer and cleaned stream again, notebooks over SASL_SSL");
      runs.push(await denoTest(SASL_E2E, { KAFKA_TEST_SASL: "1", KAFKA_SASL_ENV_FILE: sasl }));
    }
    if (paths.length > 0) {
      console.log(
        "\n=== Delta, storage and stream tests again, tables on ADLS Gen2 (DFS stand-in)",
      );
      const standin = await startStandinProcess();
      try {
        runs.push(await denoTest(ADLS_TESTS, standin.env));
      } finally {
        await standin.stop();
      }
      console.log("\n=== the @example blocks of lib/ (deno test --doc)");
      runs.push(await denoTest(["--doc", "--parallel", "lib/"]));
    }
    const passed = runs.reduce((n, r) => n + (r.counts?.passed ?? 0), 0);
    const failed = runs.reduce((n, r) => n + (r.counts?.failed ?? 1), 0);
    console.log(`\n${passed} passed, ${failed} failed`);
    return runs.find((r) => r.code !== 0)?.code ?? 0;
  } finally {
    if (startedBroker) await stopBroker();
  }
}

if (import.meta.main) Deno.exit(await main());
