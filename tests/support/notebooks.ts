/**
 * Runs a notebook script as a user would (`deno run -A notebooks/<name>.ts ...`) and captures
 * its exit code, stdout and stderr.
 *
 * @module
 */
import { fileURLToPath } from "node:url";
import { bootstrapServers } from "./kafka.ts";
import { notebookSecurityEnv } from "./sasl.ts";

/** What a notebook run printed and returned. */
export interface NotebookRun {
  /** Exit code. */
  code: number;
  /** Standard output. */
  stdout: string;
  /** Standard error. */
  stderr: string;
}

const ROOT = fileURLToPath(new URL("../../", import.meta.url));

/**
 * Runs `notebooks/<name>.ts` with args, the test broker in KAFKA_BOOTSTRAP_SERVERS and the repo
 * as working directory; `stdin` text is piped in when given.
 */
export async function runNotebook(
  name: string,
  args: string[],
  opts: { env?: Record<string, string>; stdin?: string; cwd?: string } = {},
): Promise<NotebookRun> {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", `${ROOT}notebooks/${name}.ts`, ...args],
    cwd: opts.cwd ?? ROOT,
    env: {
      KAFKA_BOOTSTRAP_SERVERS: bootstrapServers().join(","),
      // KAFKA_TEST_SASL=1: the notebooks talk SASL_SSL (the local broker's listener), the tests'
      // own clients stay on PLAINTEXT to the same broker.
      ...notebookSecurityEnv(),
      KAFKAJS_NO_PARTITIONER_WARNING: "1",
      NO_COLOR: "1",
      ...opts.env,
    },
    stdin: opts.stdin === undefined ? "null" : "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  if (opts.stdin !== undefined) {
    const w = child.stdin.getWriter();
    await w.write(new TextEncoder().encode(opts.stdin));
    await w.close();
  }
  const out = await child.output();
  const dec = new TextDecoder();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}

/** Parses JSON lines (skipping blank ones). */
export function jsonLines<T = Record<string, unknown>>(text: string): T[] {
  return text.split("\n").filter((l) => l.trim() !== "").map((l) => JSON.parse(l) as T);
}
