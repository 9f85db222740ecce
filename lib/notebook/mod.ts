/**
 * Notebooks for Jupyter's Deno kernel: the `.ts` ↔ `.ipynb` generator and its drift check, the
 * kernel-aware helpers (project paths, rich display), first-cell checks and the stream view.
 *
 * @example
 * ```ts
 * import { checkNotebooks, syncNotebooks } from "./mod.ts";
 * const dir = await Deno.makeTempDir();
 * await Deno.writeTextFile(`${dir}/hello.ts`, "// Hello: a notebook\n\n// %% Greet\nconsole.log(1);\n");
 * await syncNotebooks(dir); // ["hello.ipynb"]
 * await checkNotebooks(dir); // []: every notebook matches its script
 * await Deno.remove(dir, { recursive: true });
 * ```
 *
 * @module
 */
export * from "./ipynb.ts";
export * from "./sync.ts";
export * from "./kernel.ts";
export * from "./preflight.ts";
export * from "./stream_view.ts";
export * from "./setup.ts";
