/**
 * The live dashboard (`deno task dashboard`): a page on 127.0.0.1 that updates itself through
 * server-sent events with the figures of orders_cleaned (read commit by commit), the dead
 * letters, what the producer stream republished (read_committed) and the streams' metrics.
 *
 * @example
 * ```ts
 * import { loadProductCatalog } from "../orders/catalog.ts";
 * import { startDashboard } from "./mod.ts";
 * const dir = await Deno.makeTempDir();
 * const dashboard = await startDashboard({
 *   table: `${dir}/orders_cleaned`, deadLetters: `${dir}/orders_dead_letters`,
 *   catalog: await loadProductCatalog(), outputTopic: "processed_orders", kafka: false,
 *   port: 0, intervalMs: 200, metrics: [], city: "Chicago",
 * });
 * dashboard.url; // "http://127.0.0.1:…/"
 * await dashboard.close();
 * await Deno.remove(dir, { recursive: true });
 * ```
 *
 * @module
 */
export * from "./state.ts";
export * from "./tail.ts";
export * from "./metrics.ts";
export * from "./republished.ts";
export * from "./view.ts";
export * from "./page.ts";
export * from "./server.ts";
export * from "./options.ts";
export * from "./run.ts";
