/**
 * The demo's steps (`deno task demo`): each step runs a notebook (or a CLI) as its own process,
 * started the way a user would start it, and shows the last lines of its output; a step whose
 * script is not there is skipped, a step that fails stops the demo.
 *
 * @module
 */
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { log as cliLog } from "../cli.ts";
import { UserError } from "../errors.ts";

/** One step of the demo. */
export interface DemoStep {
  /** What the step does, in words. */
  title: string;
  /** The script to run, relative to the base URL given to {@link runStep}. */
  script: string;
  /** Its arguments. */
  args: string[];
  /** Lines of the step's output to show (from the end). */
  tail: number;
}

/**
 * A step exited with a non-zero code; its last lines were shown above.
 *
 * @example
 * ```ts
 * import { DemoStepError, runStep } from "./demo.ts";
 * const dir = await Deno.makeTempDir();
 * await Deno.writeTextFile(`${dir}/fail.ts`, "Deno.exit(3);");
 * const step = { title: "fail", script: "fail.ts", args: [], tail: 1 };
 * await runStep(step, { base: `file://${dir}/`, log: () => {} }).catch((e) => {
 *   e instanceof DemoStepError; // true: "fail failed (exit 3); see the lines above"
 * });
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export class DemoStepError extends UserError {
  override name = "DemoStepError";
}

/** Options of {@link runStep}. */
export interface RunStepOptions {
  /** Where step scripts are resolved from (the demo notebook's folder). */
  base: string | URL;
  /** Where output lines go (default console.log). */
  print?: (line: string) => void;
  /** Where step and skip events go (default lib/cli.ts log). */
  log?: (tag: string, message: string) => void;
}

/** kafkajs warnings that say nothing to a demo's reader. */
const NOISE = /TimeoutNegative|Timeout duration/;

/**
 * The last `n` lines of a step's output, without blank lines and kafkajs timer warnings.
 *
 * @example
 * ```ts
 * import { outputTail } from "./demo.ts";
 * outputTail("a\n\nTimeoutNegativeWarning: …\nb\nc\n", 2); // ["b", "c"]
 * ```
 */
export function outputTail(text: string, n: number): string[] {
  return text.split("\n").filter((l) => l.trim() !== "" && !NOISE.test(l)).slice(-n);
}

/**
 * Runs one step with `deno run -A` and prints the tail of its stdout and stderr, indented. A
 * missing script is logged as skipped; a non-zero exit is a {@link DemoStepError}.
 *
 * @example
 * ```ts
 * import { runStep } from "./demo.ts";
 * const dir = await Deno.makeTempDir();
 * await Deno.writeTextFile(`${dir}/hello.ts`, "console.log('one'); console.log('two');");
 * const lines: string[] = [];
 * await runStep({ title: "hello", script: "hello.ts", args: [], tail: 1 }, {
 *   base: `file://${dir}/`,
 *   print: (l) => lines.push(l),
 * });
 * lines; // ["    two"]
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export async function runStep(step: DemoStep, options: RunStepOptions): Promise<void> {
  const log = options.log ?? cliLog;
  const print = options.print ?? ((line: string) => console.log(line));
  const path = new URL(step.script, options.base);
  if (!existsSync(path)) {
    log("skip", `${step.title}: ${step.script} is not there yet`);
    return;
  }
  log("step", step.title);
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", fileURLToPath(path), ...step.args],
    stdout: "piped",
    stderr: "piped",
    env: { KAFKAJS_NO_PARTITIONER_WARNING: "1" },
  }).output();
  const text = new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
  for (const l of outputTail(text, step.tail)) print(`    ${l}`);
  if (out.code !== 0) {
    throw new DemoStepError(`${step.title} failed (exit ${out.code}); see the lines above`);
  }
}
