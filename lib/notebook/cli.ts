/**
 * `deno task notebooks:sync` writes notebooks/*.ipynb from their `// %%` scripts;
 * `deno task notebooks:check` exits with 1 when a committed notebook differs (for CI).
 *
 * @module
 */
import { checkNotebooks, syncNotebooks } from "./sync.ts";

const USAGE = `Usage: deno run -A lib/notebook/cli.ts <sync|check> [DIR]
  sync   write DIR/*.ipynb from DIR/*.ts (cells split at // %% lines)   [DIR = notebooks]
  check  exit 1 when a notebook is missing, differs, or has no script`;

/** Runs the command line; returns the exit code. */
export async function main(args: string[]): Promise<number> {
  const [command, dir = "notebooks"] = args[0] === "--" ? args.slice(1) : args;
  if (command === "sync") {
    const written = await syncNotebooks(dir);
    console.log(
      written.length === 0
        ? `notebooks:sync: ${dir}/*.ipynb already up to date`
        : `notebooks:sync: wrote ${written.map((n) => `${dir}/${n}`).join(", ")}`,
    );
    return 0;
  }
  if (command === "check") {
    const drift = await checkNotebooks(dir);
    if (drift.length === 0) {
      console.log(`notebooks:check: every ${dir}/*.ipynb matches its script`);
      return 0;
    }
    for (const d of drift) {
      const why = d.problem === "orphan"
        ? "has no script (delete it or add the .ts)"
        : d.problem === "missing"
        ? "is missing"
        : "differs from its script";
      console.error(`notebooks:check: ${dir}/${d.notebook} ${why}`);
    }
    console.error("notebooks:check: run `deno task notebooks:sync` and commit the result");
    return 1;
  }
  console.error(USAGE);
  return 2;
}

if (import.meta.main) Deno.exit(await main(Deno.args));
