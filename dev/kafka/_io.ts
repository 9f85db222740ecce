/**
 * Small helpers private to `dev/kafka/`: reading a file that may be missing, writing a file only
 * its owner can read, hashing text, sleeping, and running a tool to completion.
 *
 * @module
 */
import { ToolMissingError } from "./errors.ts";

/** Resolves after `ms` milliseconds. */
export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** The file's text, or undefined when it does not exist. */
export async function readText(path: string): Promise<string | undefined> {
  try {
    return await Deno.readTextFile(path);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return undefined;
    throw e;
  }
}

/** Writes a file only its owner can read (also when it already existed with wider modes). */
export async function writePrivate(path: string, text: string): Promise<void> {
  await Deno.writeTextFile(path, text, { mode: 0o600 });
  await Deno.chmod(path, 0o600);
}

/** Lower-case hex SHA-256 of the text's UTF-8 bytes. */
export async function sha256(text: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text));
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, "0")).join("");
}

/** Run a command to completion, turning "not installed" into a ToolMissingError. */
export async function run(
  cmd: string,
  args: string[],
  missingHint: string,
): Promise<{ code: number; out: string }> {
  let output: Deno.CommandOutput;
  try {
    output = await new Deno.Command(cmd, { args, stdin: "null", stdout: "piped", stderr: "piped" })
      .output();
  } catch (e) {
    if (e instanceof Deno.errors.NotFound || e instanceof Deno.errors.PermissionDenied) {
      throw new ToolMissingError(`'${cmd}' not found: ${missingHint}`);
    }
    throw e;
  }
  const dec = new TextDecoder();
  return { code: output.code, out: dec.decode(output.stdout) + dec.decode(output.stderr) };
}
