/**
 * The Python venv with Apache Spark (pyspark) and delta-spark, the second independent Delta
 * reader/writer of the interop tests (tests/delta/spark_interop_test.ts).
 *
 * `deno task py:setup` (tests/support/python.ts) calls {@link setupSparkVenv}: it creates
 * `.cache/venv-spark` with the pinned pyspark and delta-spark, then starts Spark once so Ivy fetches
 * the Delta jars from Maven Central into `.cache/ivy` (skipped when they are already there).
 * Idempotent: nothing is installed when the pinned versions are present. Java 17+ must be on PATH.
 *
 * Versions: pyspark 4.2.0 pairs with delta-spark 4.4.x (4.4.x caps pyspark at 4.2.0). delta-spark
 * 4.4.1 is on PyPI but its jar `io.delta:delta-spark_4.2_2.13:4.4.1` is not on Maven Central, so
 * `configure_spark_with_delta_pip` cannot resolve it: we pin 4.4.0, whose jar exists.
 *
 * @module
 */
import { join } from "node:path";
import { fileURLToPath } from "node:url";

// Not imported from python.ts: python.ts's main imports this module (a cycle would deadlock).
const REPO_ROOT = fileURLToPath(new URL("../../", import.meta.url));

/** The pinned pyspark version. */
export const PYSPARK_VERSION = "4.2.0";
/** The pinned delta-spark version (Python package and jar must match; see the module doc). */
export const DELTA_SPARK_VERSION = "4.4.0";

/** The Spark venv directory (separate from `.cache/venv`, which holds deltalake). */
export const SPARK_VENV_DIR = join(REPO_ROOT, ".cache", "venv-spark");
/** Ivy cache for the Delta jars (`spark.jars.ivy`). */
export const IVY_DIR = join(REPO_ROOT, ".cache", "ivy");
/** The Spark side of the interop test. */
export const SPARK_CHECK_SCRIPT = join(REPO_ROOT, "tests", "interop", "spark_check.py");

/** Path of the Spark venv's python interpreter. */
export function sparkPythonPath(): string {
  return join(SPARK_VENV_DIR, "bin", "python");
}

async function run(
  cmd: string,
  args: string[],
  env?: Record<string, string>,
): Promise<{ code: number; stdout: string; stderr: string }> {
  const out = await new Deno.Command(cmd, { args, env, stdout: "piped", stderr: "piped" })
    .output();
  const dec = new TextDecoder();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}

/** Installed `{pyspark, delta_spark}` versions in the Spark venv, or undefined when missing. */
export async function installedSparkVersions(): Promise<
  { pyspark: string; deltaSpark: string } | undefined
> {
  try {
    const r = await run(sparkPythonPath(), [
      "-c",
      "import importlib.metadata as m; print(m.version('pyspark'), m.version('delta_spark'))",
    ]);
    if (r.code !== 0) return undefined;
    const [pyspark, deltaSpark] = r.stdout.trim().split(/\s+/);
    return { pyspark, deltaSpark };
  } catch {
    return undefined;
  }
}

/** True when `java -version` runs (Spark needs Java 17+). */
export async function javaAvailable(): Promise<boolean> {
  try {
    return (await run("java", ["-version"])).code === 0;
  } catch {
    return false;
  }
}

/** The Delta jar Ivy leaves in `.cache/ivy/jars` once resolved. */
function deltaJarPath(): string {
  return join(IVY_DIR, "jars", `io.delta_delta-spark_4.2_2.13-${DELTA_SPARK_VERSION}.jar`);
}

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch {
    return false;
  }
}

/**
 * Why the Spark interop test cannot run here, or undefined when it can (pinned venv, Java and the
 * resolved Delta jar present).
 */
export async function sparkUnavailableReason(): Promise<string | undefined> {
  const have = await installedSparkVersions();
  if (!have) return `no Spark venv at ${SPARK_VENV_DIR}: run \`deno task py:setup\``;
  if (have.pyspark !== PYSPARK_VERSION || have.deltaSpark !== DELTA_SPARK_VERSION) {
    return `Spark venv has pyspark ${have.pyspark} / delta-spark ${have.deltaSpark}, want ` +
      `${PYSPARK_VERSION} / ${DELTA_SPARK_VERSION}: run \`deno task py:setup\``;
  }
  if (!(await javaAvailable())) return "java is not on PATH (Spark needs Java 17+)";
  if (!(await exists(deltaJarPath()))) {
    return `Delta jars not resolved into ${IVY_DIR}: run \`deno task py:setup\``;
  }
  return undefined;
}

async function dirSize(path: string): Promise<number> {
  const r = await run("du", ["-sb", path]);
  return r.code === 0 ? Number(r.stdout.split(/\s+/)[0]) : NaN;
}

/**
 * Create `.cache/venv-spark` with the pinned pyspark + delta-spark (unless present) and fetch the
 * Delta jars into `.cache/ivy` by starting Spark once (unless already there).
 */
export async function setupSparkVenv(log: (line: string) => void = console.log): Promise<void> {
  const have = await installedSparkVersions();
  if (have?.pyspark === PYSPARK_VERSION && have.deltaSpark === DELTA_SPARK_VERSION) {
    log(`py:setup: pyspark ${have.pyspark} + delta-spark ${have.deltaSpark} already installed`);
  } else {
    if (!(await exists(sparkPythonPath()))) {
      log(`py:setup: creating ${SPARK_VENV_DIR}`);
      const r = await run("python3", ["-m", "venv", SPARK_VENV_DIR]);
      if (r.code !== 0) throw new Error(`python3 -m venv failed: ${r.stderr.trim()}`);
    }
    log(`py:setup: installing pyspark==${PYSPARK_VERSION} delta-spark==${DELTA_SPARK_VERSION}`);
    const t0 = performance.now();
    const r = await run(sparkPythonPath(), [
      "-m",
      "pip",
      "install",
      "--quiet",
      `pyspark==${PYSPARK_VERSION}`,
      `delta-spark==${DELTA_SPARK_VERSION}`,
    ]);
    if (r.code !== 0) {
      throw new Error(`pip install (Spark) failed: ${r.stderr.trim().split("\n").at(-1)}`);
    }
    const mb = (await dirSize(SPARK_VENV_DIR)) / 1e6;
    log(
      `py:setup: Spark venv ready in ${((performance.now() - t0) / 1000).toFixed(0)} s ` +
        `(${mb.toFixed(0)} MB)`,
    );
  }
  if (await exists(deltaJarPath())) {
    log(`py:setup: Delta jars already in ${IVY_DIR}`);
    return;
  }
  if (!(await javaAvailable())) throw new Error("java is not on PATH (Spark needs Java 17+)");
  log(`py:setup: starting Spark once to fetch the Delta jars into ${IVY_DIR}`);
  const r = await run(sparkPythonPath(), [SPARK_CHECK_SCRIPT, "--warm-up"], {
    SPARK_LOCAL_IP: "127.0.0.1",
  });
  if (r.code !== 0 || !(await exists(deltaJarPath()))) {
    const tail = r.stderr.trim().split("\n").filter((l) => /Exception|Error|not found/.test(l))
      .slice(-3).join(" | ");
    throw new Error(`Spark warm-up failed (Delta jars not fetched): ${tail}`);
  }
  log(`py:setup: Delta jars fetched (${r.stdout.trim()})`);
}

if (import.meta.main) {
  try {
    await setupSparkVenv();
  } catch (e) {
    console.error(`py:setup: ${(e as Error).message}`);
    Deno.exit(1);
  }
}

/**
 * A Spark script run as a dialogue, line by line: it prints JSON lines (`next()` returns the next
 * one, skipping other output) and reads one JSON line of ours on stdin (`send`), so it can wait
 * for our writes between its phases. `close()` tells it to stop when it still waits and kills it
 * if it does not end within 60 s.
 */
export function startSparkDialogue(script: string, manifestFile: string) {
  const proc = new Deno.Command(sparkPythonPath(), {
    args: [script, manifestFile],
    env: { SPARK_LOCAL_IP: "127.0.0.1" },
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const stderr = new Response(proc.stderr).text();
  const reader = proc.stdout.pipeThrough(new TextDecoderStream()).getReader();
  const name = script.slice(script.lastIndexOf("/") + 1);
  let buf = "";
  let sent = false;
  const send = async (obj: unknown) => {
    sent = true;
    const w = proc.stdin.getWriter();
    await w.write(new TextEncoder().encode(JSON.stringify(obj) + "\n"));
    await w.close();
  };
  return {
    // deno-lint-ignore no-explicit-any
    async next(): Promise<Record<string, any>> {
      for (;;) {
        const nl = buf.indexOf("\n");
        if (nl >= 0) {
          const line = buf.slice(0, nl).trim();
          buf = buf.slice(nl + 1);
          if (line.startsWith("{")) return JSON.parse(line);
          continue;
        }
        const { value, done } = await reader.read();
        if (done) throw new Error(`${name} ended early:\n${(await stderr).slice(-4000)}`);
        buf += value;
      }
    },
    send,
    async close() {
      if (!sent) await send({ stop: true }).catch(() => {});
      await reader.cancel().catch(() => {});
      const timer = setTimeout(() => {
        try {
          proc.kill();
        } catch { /* already ended */ }
      }, 60_000);
      await proc.status;
      clearTimeout(timer);
    },
  };
}
