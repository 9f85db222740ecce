/**
 * Jupyter for headless notebook runs, kept out of the deltalake venv:
 * - `.cache/venv-jupyter`: nbclient, nbconvert, jupyter_client, nbformat (pinned, from PyPI);
 * - `.cache/jupyter/kernels/deno`: the kernelspec `deno jupyter --install --force` writes
 *   (run with XDG_DATA_HOME=.cache, so nothing lands in the user's home); every run sets
 *   JUPYTER_DATA_DIR=.cache/jupyter so Jupyter finds it;
 * - Chromium (Debian's `chromium` package) for the report's render test, via apt-get when missing.
 *
 * `deno task jupyter:setup` does all three, idempotently. Tests call {@link jupyterReady} and
 * {@link executeNotebook}.
 *
 * @module
 */
import { join } from "node:path";
import { fileURLToPath } from "node:url";

/** Repository root. */
export const REPO_ROOT: string = fileURLToPath(new URL("../../", import.meta.url));

/** The venv holding Jupyter's Python side. */
export const JUPYTER_VENV: string = join(REPO_ROOT, ".cache", "venv-jupyter");

/** JUPYTER_DATA_DIR for every run: holds kernels/deno. */
export const JUPYTER_DATA_DIR: string = join(REPO_ROOT, ".cache", "jupyter");

/** Pinned PyPI packages for headless execution. */
export const JUPYTER_PACKAGES: readonly string[] = [
  "nbclient==0.11.0",
  "nbconvert==7.17.2",
  "jupyter_client==8.10.0",
  "nbformat==5.11.1",
];

/** Python of the Jupyter venv. */
export function jupyterPython(): string {
  return join(JUPYTER_VENV, "bin", "python");
}

async function run(
  cmd: string,
  args: string[],
  opts: { env?: Record<string, string>; cwd?: string } = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const out = await new Deno.Command(cmd, {
      args,
      env: opts.env,
      cwd: opts.cwd,
      stdout: "piped",
      stderr: "piped",
    }).output();
    const dec = new TextDecoder();
    return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
  } catch (e) {
    return { code: 127, stdout: "", stderr: (e as Error).message };
  }
}

/** Installed versions of the pinned packages in the venv (name → version), empty without venv. */
export async function installedJupyterPackages(): Promise<Record<string, string>> {
  const names = JUPYTER_PACKAGES.map((p) => p.split("==")[0]);
  const r = await run(jupyterPython(), [
    "-c",
    "import importlib.metadata as m, json, sys\n" +
    "out = {}\n" +
    "for n in sys.argv[1:]:\n" +
    "    try: out[n] = m.version(n)\n" +
    "    except m.PackageNotFoundError: pass\n" +
    "print(json.dumps(out))",
    ...names,
  ]);
  if (r.code !== 0) return {};
  const raw = JSON.parse(r.stdout) as Record<string, string>;
  // Normalize names: jupyter_client is reported as jupyter_client or jupyter-client.
  return Object.fromEntries(Object.entries(raw).map(([k, v]) => [k.replace(/-/g, "_"), v]));
}

/** The kernelspec path of the project-local Deno kernel. */
export function kernelSpecPath(): string {
  return join(JUPYTER_DATA_DIR, "kernels", "deno", "kernel.json");
}

/** What is missing for headless notebook runs (empty = ready). */
export async function jupyterProblems(): Promise<string[]> {
  const problems: string[] = [];
  const have = await installedJupyterPackages();
  for (const spec of JUPYTER_PACKAGES) {
    const [name, version] = spec.split("==");
    if (have[name] !== version) {
      problems.push(`${name} ${version} is not installed in ${JUPYTER_VENV}`);
    }
  }
  try {
    const spec = JSON.parse(await Deno.readTextFile(kernelSpecPath())) as { argv: string[] };
    try {
      await Deno.stat(spec.argv[0]);
    } catch {
      problems.push(`the Deno kernelspec points at a missing deno (${spec.argv[0]})`);
    }
  } catch {
    problems.push(`no Deno kernelspec at ${kernelSpecPath()}`);
  }
  return problems;
}

/** True when the venv has the pinned packages and the Deno kernelspec is installed. */
export async function jupyterReady(): Promise<boolean> {
  return (await jupyterProblems()).length === 0;
}

/** Path of Debian's Chromium, or undefined when it is not installed. */
export async function chromiumPath(): Promise<string | undefined> {
  for (const p of ["/usr/bin/chromium", "/usr/bin/chromium-browser"]) {
    try {
      await Deno.stat(p);
      return p;
    } catch { /* try the next */ }
  }
  return undefined;
}

/**
 * Creates/updates the venv, installs the Deno kernelspec (`deno jupyter --install --force`) and
 * Chromium (apt-get, when missing and `chromium` is true). Idempotent.
 */
export async function setupJupyter(
  opts: { chromium?: boolean; log?: (line: string) => void } = {},
): Promise<void> {
  const log = opts.log ?? console.log;
  const have = await installedJupyterPackages();
  const missing = JUPYTER_PACKAGES.filter((s) => have[s.split("==")[0]] !== s.split("==")[1]);
  if (missing.length > 0) {
    try {
      await Deno.stat(jupyterPython());
    } catch {
      log(`jupyter:setup: creating ${JUPYTER_VENV}`);
      const r = await run("python3", ["-m", "venv", JUPYTER_VENV]);
      if (r.code !== 0) throw new Error(`python3 -m venv failed: ${r.stderr.trim()}`);
    }
    log(`jupyter:setup: pip install ${missing.join(" ")}`);
    const r = await run(jupyterPython(), ["-m", "pip", "install", "--quiet", ...JUPYTER_PACKAGES]);
    if (r.code !== 0) {
      throw new Error(`pip install failed: ${r.stderr.trim().split("\n").at(-1)}`);
    }
  } else log(`jupyter:setup: ${JUPYTER_PACKAGES.join(", ")} already installed`);

  // `deno jupyter --install` writes to $XDG_DATA_HOME/jupyter/kernels (it ignores
  // JUPYTER_DATA_DIR), so point XDG_DATA_HOME at .cache: the spec lands in .cache/jupyter.
  const r = await run(Deno.execPath(), ["jupyter", "--install", "--force"], {
    env: { XDG_DATA_HOME: join(REPO_ROOT, ".cache") },
  });
  if (r.code !== 0) throw new Error(`deno jupyter --install failed: ${r.stderr.trim()}`);
  log(`jupyter:setup: Deno kernelspec at ${kernelSpecPath()}`);

  if (opts.chromium ?? true) {
    const chromium = await chromiumPath();
    if (chromium) log(`jupyter:setup: chromium at ${chromium}`);
    else {
      log("jupyter:setup: apt-get install chromium");
      const env = { DEBIAN_FRONTEND: "noninteractive" };
      const u = await run("apt-get", ["update", "-qq"], { env });
      const i = u.code === 0
        ? await run("apt-get", ["install", "-y", "-qq", "chromium"], { env })
        : u;
      if (i.code !== 0) {
        throw new Error(
          `could not install chromium (apt-get exit ${i.code}): ${
            i.stderr.trim().split("\n").at(-1)
          }; ` +
            "install Debian's chromium package yourself",
        );
      }
    }
  }
  const problems = await jupyterProblems();
  if (problems.length > 0) throw new Error(problems.join("; "));
}

/** The environment for a Jupyter run: JUPYTER_DATA_DIR, quiet kafkajs, no colors, plus `env`. */
export function jupyterEnv(env: Record<string, string> = {}): Record<string, string> {
  return {
    ...Deno.env.toObject(),
    JUPYTER_DATA_DIR,
    KAFKAJS_NO_PARTITIONER_WARNING: "1",
    NO_COLOR: "1",
    PYDEVD_DISABLE_FILE_VALIDATION: "1",
    ...env,
  };
}

/** One output of an executed cell, reduced to what tests look at. */
export interface CellOutput {
  /** stream, display_data, update_display_data results, execute_result or error. */
  type: string;
  /** MIME types of display data. */
  mimes: string[];
  /** Stream text, or the error's name and value. */
  text: string;
  /** The `text/html` or `image/svg+xml` data, when present. */
  rich: string;
}

/** What {@link executeNotebook} reports. */
export interface NotebookResult {
  /** True when every cell ran without error. */
  ok: boolean;
  /** The first error (cell source head and the error text), when not ok. */
  error?: string;
  /** Outputs per code cell, in order. */
  cells: CellOutput[][];
}

const RUNNER = `
import json, sys, queue, nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionComplete
from nbclient.util import ensure_async

class DenoClient(NotebookClient):
    """nbclient, keeping outputs the Deno kernel publishes just after a cell's idle status.

    Deno 2.9's kernel can send a cell's last display_data or stream message after the idle
    status; plain nbclient then drops it (the next cell ignores another cell's messages).
    """

    async def _async_poll_output_msg(self, parent_msg_id, cell, cell_index):
        await super()._async_poll_output_msg(parent_msg_id, cell, cell_index)
        while True:  # drain until the kernel has been quiet for 250 ms
            try:
                msg = await ensure_async(self.kc.iopub_channel.get_msg(timeout=0.25))
            except queue.Empty:
                return
            if msg["parent_header"].get("msg_id") == parent_msg_id:
                try:
                    self.process_message(msg, cell, cell_index)
                except CellExecutionComplete:
                    pass

src, out, cwd, timeout = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
nb = nbformat.read(src, as_version=4)
client = DenoClient(nb, timeout=timeout, startup_timeout=120, kernel_name="deno",
                    resources={"metadata": {"path": cwd}})
result = {"ok": True}
try:
    client.execute()
except Exception as e:  # CellExecutionError, DeadKernelError, CellTimeoutError
    result = {"ok": False, "error": f"{type(e).__name__}: {e}"}
nbformat.write(nb, out)
cells = []
for cell in nb.cells:
    if cell.cell_type != "code":
        continue
    outs = []
    for o in cell.get("outputs", []):
        data = o.get("data", {})
        text = o.get("text", "")
        if o.get("output_type") == "error":
            text = o.get("ename", "") + ": " + o.get("evalue", "")
        outs.append({"type": o.get("output_type"), "mimes": sorted(data.keys()), "text": text,
                     "rich": data.get("text/html", "") or data.get("image/svg+xml", "")})
    cells.append(outs)
result["cells"] = cells
print(json.dumps(result))
`;

/**
 * Executes a notebook with nbclient and the Deno kernel, in `cwd` (default: the notebook's
 * folder, as JupyterLab and VS Code do), writing the executed copy to `output`.
 */
export async function executeNotebook(
  notebook: string,
  opts: { output: string; cwd?: string; env?: Record<string, string>; timeoutSeconds?: number },
): Promise<NotebookResult> {
  const cwd = opts.cwd ?? notebook.replace(/[^/]*$/, "");
  const r = await run(jupyterPython(), [
    "-c",
    RUNNER,
    notebook,
    opts.output,
    cwd,
    String(opts.timeoutSeconds ?? 600),
  ], { env: jupyterEnv(opts.env) });
  const last = r.stdout.trim().split("\n").at(-1) ?? "";
  try {
    return JSON.parse(last) as NotebookResult;
  } catch {
    return {
      ok: false,
      error: `nbclient runner failed (exit ${r.code}): ${r.stderr.trim()}`,
      cells: [],
    };
  }
}

if (import.meta.main) {
  try {
    await setupJupyter({ chromium: !Deno.args.includes("--no-chromium") });
  } catch (e) {
    console.error(`jupyter:setup: ${(e as Error).message}`);
    Deno.exit(1);
  }
}
