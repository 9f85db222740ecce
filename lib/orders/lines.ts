/**
 * Input lines of order files (JSON lines) with their origin, for error reports as `file:line`.
 *
 * @module
 */
import { join } from "node:path";
import { projectPath } from "../runtime.ts";

/** One line of input and where it came from. */
export interface SourceLine {
  /** File path, or `<stdin>`. */
  file: string;
  /** 1-based line number. */
  line: number;
  /** The line's bytes, without the line break (not decoded: invalid UTF-8 is the validator's to report). */
  bytes: Uint8Array;
}

/**
 * The data/ files in order: file1.json, file2.json, … (numeric order, not lexical). The default
 * folder is data/ of the working directory, and of the project root in Jupyter.
 */
export async function dataFiles(dir: string = projectPath("data")): Promise<string[]> {
  const names: string[] = [];
  for await (const e of Deno.readDir(dir)) {
    if (e.isFile && /^file\d+\.json$/.test(e.name)) names.push(e.name);
  }
  const num = (n: string) => Number(n.match(/\d+/)![0]);
  return names.sort((a, b) => num(a) - num(b)).map((n) => join(dir, n));
}

function isBlank(bytes: Uint8Array): boolean {
  for (const b of bytes) if (b !== 0x20 && b !== 0x09 && b !== 0x0d) return false;
  return true;
}

/**
 * Yields every non-blank line of the given files (`-` = stdin), in order, with file and line.
 *
 * @example
 * ```ts
 * import { readLines } from "./lines.ts";
 * const file = await Deno.makeTempFile({ suffix: ".json" });
 * await Deno.writeTextFile(file, '{"order_id":1}\n\n{"order_id":2}\n');
 * for await (const { line, bytes } of readLines([file])) {
 *   // line 1, then line 3 (blank lines are skipped); bytes: the line without its newline
 * }
 * await Deno.remove(file);
 * ```
 */
export async function* readLines(paths: string[]): AsyncGenerator<SourceLine> {
  for (const path of paths) {
    const file = path === "-" ? "<stdin>" : path;
    const stream = path === "-" ? Deno.stdin.readable : (await Deno.open(path)).readable;
    let rest = new Uint8Array(0);
    let line = 0;
    for await (const chunk of stream) {
      let buf = chunk;
      if (rest.length > 0) {
        buf = new Uint8Array(rest.length + chunk.length);
        buf.set(rest);
        buf.set(chunk, rest.length);
      }
      let from = 0;
      for (let nl = buf.indexOf(0x0a); nl !== -1; nl = buf.indexOf(0x0a, from)) {
        line++;
        const end = nl > from && buf[nl - 1] === 0x0d ? nl - 1 : nl;
        const bytes = buf.subarray(from, end);
        if (!isBlank(bytes)) yield { file, line, bytes };
        from = nl + 1;
      }
      rest = buf.slice(from);
    }
    if (!isBlank(rest)) yield { file, line: line + 1, bytes: rest };
  }
}
