/**
 * Keeps `notebooks/*.ipynb` in step with their `.ts` scripts: {@link planSync} lists what the
 * generator would write, {@link syncNotebooks} writes it, {@link checkNotebooks} reports drift.
 *
 * @module
 */
import { join } from "node:path";
import { canonicalIpynb, toIpynb } from "./ipynb.ts";

/**
 * Scripts in notebooks/ that get no .ipynb: demo.ts runs the others as processes, and
 * dashboard.ts is a server that runs until stopped (a kernel cell would never end).
 */
export const NOT_NOTEBOOKS: readonly string[] = ["demo.ts", "dashboard.ts"];

/** One notebook pair: the script, its notebook and what the notebook should contain. */
export interface NotebookPair {
  /** Script file name, e.g. `producer.ts`. */
  script: string;
  /** Notebook file name, e.g. `producer.ipynb`. */
  notebook: string;
  /** The generated notebook text. */
  expected: string;
  /** The notebook text on disk, or undefined when it is missing. */
  actual: string | undefined;
}

/** A committed notebook that differs from (or has no) script. */
export interface Drift {
  /** Notebook file name. */
  notebook: string;
  /** What is wrong, in words. */
  problem: "missing" | "differs" | "orphan";
}

/**
 * Formats notebook JSON text the way `deno fmt` does (markdown re-wrapped, code cells
 * formatted), so generated notebooks pass `deno fmt --check` and stay byte-stable.
 */
export async function formatIpynb(text: string, cwd = "."): Promise<string> {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["fmt", "--ext=ipynb", "-"],
    cwd,
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const w = child.stdin.getWriter();
  await w.write(new TextEncoder().encode(text));
  await w.close();
  const out = await child.output();
  if (out.code !== 0) {
    throw new Error(
      `deno fmt failed on a generated notebook: ${new TextDecoder().decode(out.stderr)}`,
    );
  }
  return new TextDecoder().decode(out.stdout);
}

async function readOptional(path: string): Promise<string | undefined> {
  try {
    return await Deno.readTextFile(path);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return undefined;
    throw e;
  }
}

/** Every script of `dir` with its expected and actual notebook text, sorted by name. */
export async function planSync(dir: string): Promise<NotebookPair[]> {
  const scripts: string[] = [];
  for await (const e of Deno.readDir(dir)) {
    if (e.isFile && e.name.endsWith(".ts") && !NOT_NOTEBOOKS.includes(e.name)) {
      scripts.push(e.name);
    }
  }
  scripts.sort();
  const pairs: NotebookPair[] = [];
  for (const script of scripts) {
    const text = await Deno.readTextFile(join(dir, script));
    if (!/^\/\/ ?%%/m.test(text)) continue; // not cell-marked: not a notebook script
    const notebook = script.replace(/\.ts$/, ".ipynb");
    pairs.push({
      script,
      notebook,
      expected: canonicalIpynb(await formatIpynb(toIpynb(text, { sourceName: script }))),
      actual: await readOptional(join(dir, notebook)),
    });
  }
  return pairs;
}

/** Writes every notebook whose text differs from the generator's; returns the names written. */
export async function syncNotebooks(dir: string): Promise<string[]> {
  const written: string[] = [];
  for (const p of await planSync(dir)) {
    if (p.actual === p.expected) continue;
    await Deno.writeTextFile(join(dir, p.notebook), p.expected);
    written.push(p.notebook);
  }
  return written;
}

/**
 * Lists drift: notebooks missing or differing from what the generator makes, and notebooks
 * without a script. Empty means the committed pairs agree.
 *
 * @example
 * ```ts
 * import { checkNotebooks } from "./sync.ts";
 * const dir = await Deno.makeTempDir();
 * await Deno.writeTextFile(`${dir}/hello.ts`, "// Hello: a notebook\n\n// %% Greet\nconsole.log(1);\n");
 * const drift = await checkNotebooks(dir); // [{ notebook: "hello.ipynb", problem: "missing" }]
 * if (drift.length > 0) console.error("run deno task notebooks:sync");
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export async function checkNotebooks(dir: string): Promise<Drift[]> {
  const pairs = await planSync(dir);
  const drift: Drift[] = [];
  for (const p of pairs) {
    if (p.actual === undefined) drift.push({ notebook: p.notebook, problem: "missing" });
    else if (p.actual !== p.expected) drift.push({ notebook: p.notebook, problem: "differs" });
  }
  const known = new Set(pairs.map((p) => p.notebook));
  for await (const e of Deno.readDir(dir)) {
    if (e.isFile && e.name.endsWith(".ipynb") && !known.has(e.name)) {
      drift.push({ notebook: e.name, problem: "orphan" });
    }
  }
  return drift.sort((a, b) => a.notebook.localeCompare(b.notebook));
}
