/**
 * The micro-batch engine (Kafka ▶ Delta, exactly-once): options, offsets kept in Delta txns,
 * sinks, progress, the query loop and its crash-test hook.
 *
 * @example
 * ```ts
 * import { parseStreamOptions, rawSink, startQuery } from "./lib/stream/mod.ts";
 * const q = startQuery({ kafka, topic, sink: await rawSink("./lakehouse/orders_raw"), options });
 * console.log(await q.done);
 * ```
 * @module
 */
export * from "./options.ts";
export * from "./offsets.ts";
export * from "./progress.ts";
export * from "./sink.ts";
export * from "./query.ts";
export * from "./fault.ts";
