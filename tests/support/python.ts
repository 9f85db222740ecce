/**
 * The Python venv with `deltalake` (delta-rs), the independent Delta reader of the interop tests,
 * and polars (which writes one of the tables those tests read).
 *
 * `deno task py:setup` creates or updates `.cache/venv` idempotently: it does nothing when the
 * pinned deltalake and polars versions are already installed. It then sets up
 * `.cache/venv-spark` (pyspark + delta-spark, see tests/support/spark.ts). Tests call
 * {@link pythonPath} (or {@link deltalakeAvailable} to skip politely when the venv cannot be
 * built).
 *
 * @module
 */
import { join } from "node:path";
import { fileURLToPath } from "node:url";

/** The deltalake version the interop tests pin. */
export const DELTALAKE_VERSION = "1.6.6";

/** The polars version of the polars-written table test (tests/interop/physical_types_test.ts). */
export const POLARS_VERSION = "2.1.0";

/** Repository root (two levels above this file). */
export const REPO_ROOT = fileURLToPath(new URL("../../", import.meta.url));

/** The venv directory. */
export const VENV_DIR = join(REPO_ROOT, ".cache", "venv");

/** Path of the venv's python interpreter. */
export function pythonPath(): string {
  return join(VENV_DIR, "bin", "python");
}

async function run(
  cmd: string,
  args: string[],
): Promise<{ code: number; stdout: string; stderr: string }> {
  const out = await new Deno.Command(cmd, { args, stdout: "piped", stderr: "piped" }).output();
  const dec = new TextDecoder();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}

/** The installed deltalake version in the venv, or undefined when the venv or package is missing. */
export async function installedDeltalakeVersion(): Promise<string | undefined> {
  try {
    const r = await run(pythonPath(), [
      "-c",
      "import importlib.metadata as m; print(m.version('deltalake'))",
    ]);
    return r.code === 0 ? r.stdout.trim() : undefined;
  } catch {
    return undefined;
  }
}

/** True when the venv has the pinned deltalake (so interop tests can run). */
export async function deltalakeAvailable(): Promise<boolean> {
  return (await installedDeltalakeVersion()) === DELTALAKE_VERSION;
}

/** The installed polars version in the venv, or undefined when it is missing. */
export async function installedPolarsVersion(): Promise<string | undefined> {
  try {
    const r = await run(pythonPath(), [
      "-c",
      "import importlib.metadata as m; print(m.version('polars'))",
    ]);
    return r.code === 0 ? r.stdout.trim() : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Create `.cache/venv` and install the pinned deltalake and polars unless they are already
 * there.
 */
export async function setupVenv(log: (line: string) => void = console.log): Promise<void> {
  await setupDeltalake(log);
  const polars = await installedPolarsVersion();
  if (polars === POLARS_VERSION) {
    log(`py:setup: polars ${polars} already installed in ${VENV_DIR}`);
    return;
  }
  log(`py:setup: installing polars==${POLARS_VERSION}`);
  const r = await run(pythonPath(), [
    "-m",
    "pip",
    "install",
    "--quiet",
    `polars==${POLARS_VERSION}`,
  ]);
  if (r.code !== 0) {
    throw new Error(`pip install polars failed: ${r.stderr.trim().split("\n").at(-1)}`);
  }
}

async function setupDeltalake(log: (line: string) => void): Promise<void> {
  const have = await installedDeltalakeVersion();
  if (have === DELTALAKE_VERSION) {
    log(`py:setup: deltalake ${have} already installed in ${VENV_DIR}`);
    return;
  }
  try {
    await Deno.stat(pythonPath());
  } catch {
    log(`py:setup: creating ${VENV_DIR}`);
    const r = await run("python3", ["-m", "venv", VENV_DIR]);
    if (r.code !== 0) throw new Error(`python3 -m venv failed: ${r.stderr.trim()}`);
  }
  log(`py:setup: installing deltalake[pyarrow,pandas]==${DELTALAKE_VERSION}`);
  const r = await run(pythonPath(), [
    "-m",
    "pip",
    "install",
    "--quiet",
    `deltalake[pyarrow,pandas]==${DELTALAKE_VERSION}`,
  ]);
  if (r.code !== 0) throw new Error(`pip install failed: ${r.stderr.trim().split("\n").at(-1)}`);
  log(`py:setup: deltalake ${await installedDeltalakeVersion()} ready`);
}

if (import.meta.main) {
  try {
    await setupVenv();
    // The Spark venv (.cache/venv-spark) for tests/delta/spark_interop_test.ts.
    const { setupSparkVenv } = await import("./spark.ts");
    await setupSparkVenv();
  } catch (e) {
    console.error(`py:setup: ${(e as Error).message}`);
    Deno.exit(1);
  }
}
