/**
 * The micro-batch engine of every stream: options and the one duration grammar, the outage
 * policy, signals, progress, the crash-test hook, offsets kept in Delta txns, the Delta sink
 * interface and the query loop.
 *
 * @example
 * ```ts
 * import { parseStreamOptions, startQuery } from "./lib/engine/mod.ts";
 * import { rawSink } from "./lib/orders/sinks.ts";
 * const q = startQuery({ kafka, topic, sink: await rawSink("./lakehouse/orders_raw"), options });
 * console.log(await q.done);
 * ```
 * @module
 */
export * from "./options.ts";
export * from "./offsets.ts";
export * from "./progress.ts";
export * from "./tables.ts";
export * from "./query.ts";
export * from "./fault.ts";
export * from "./signals.ts";
export * from "./outage.ts";
export * from "./duration.ts";
