/**
 * Facts about where the code runs, at the bottom of lib/ (it imports nothing of the project):
 * whether this is Jupyter's Deno kernel, and where the project's files are.
 *
 * @module
 */
import { isAbsolute, join } from "node:path";
import { fileURLToPath } from "node:url";

/**
 * True inside Jupyter's Deno kernel (`Deno.jupyter` is usable there only).
 *
 * @example
 * ```ts
 * import { inJupyter } from "./runtime.ts";
 * console.log(inJupyter() ? "in a notebook cell" : "in a script");
 * ```
 */
export function inJupyter(): boolean {
  try {
    // Outside the kernel the getter exists but throws.
    return typeof (Deno as unknown as { jupyter?: unknown }).jupyter === "object";
  } catch {
    return false;
  }
}

/** The project root (one folder above this file), with a trailing separator. */
export const PROJECT_ROOT: string = fileURLToPath(new URL("../", import.meta.url));

/**
 * A relative default path as the project means it: unchanged in a script (relative to the
 * working directory, the project root under `deno task`), and anchored to the project root in
 * Jupyter, whose kernel runs in the notebook's folder.
 *
 * @example
 * ```ts
 * import { projectPath } from "./runtime.ts";
 * projectPath("data"); // "data" in a script, "/path/to/project/data" in Jupyter
 * ```
 */
export function projectPath(path: string): string {
  if (isAbsolute(path) || /^[a-z][a-z0-9+.-]*:\/\//i.test(path) || !inJupyter()) return path;
  return join(PROJECT_ROOT, path);
}
