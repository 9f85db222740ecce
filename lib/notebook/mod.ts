/**
 * Notebooks for Jupyter's Deno kernel: the `.ts` ↔ `.ipynb` generator and its drift check, the
 * kernel-aware helpers (project paths, rich display), first-cell checks and the stream view.
 *
 * @example
 * ```ts
 * import { checkNotebooks } from "./lib/notebook/mod.ts";
 * if ((await checkNotebooks("notebooks")).length > 0) Deno.exit(1);
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
