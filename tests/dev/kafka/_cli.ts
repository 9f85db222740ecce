/**
 * Runs the local broker's CLI (dev/kafka/cli.ts, what `deno task kafka:up` calls) in a child
 * process, for the tests of tests/dev/kafka/.
 *
 * @module
 */
import { fileURLToPath } from "node:url";

/** Path of the CLI under test. */
export const CLI: string = fileURLToPath(new URL("../../../dev/kafka/cli.ts", import.meta.url));

/** Runs `deno run -A dev/kafka/cli.ts <args>` with `env` added; its exit code and output. */
export async function cli(
  args: string[],
  env: Record<string, string> = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", CLI, ...args],
    env,
    stdout: "piped",
    stderr: "piped",
  }).output();
  const dec = new TextDecoder();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}
