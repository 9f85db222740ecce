/**
 * The micro-batch engine of every stream: options and the one duration grammar, the outage
 * policy, signals, progress, the crash-test hook, offsets kept in Delta txns, the Delta sink
 * interface and the query loop.
 *
 * @example
 * ```ts
 * import type { Kafka } from "kafkajs";
 * import { parseStreamOptions, startDeltaQuery } from "./mod.ts";
 * import { rawSink } from "../orders/sinks.ts";
 * const options = parseStreamOptions({ "available-now": true }, "orders_raw");
 * // Needs a broker, so the doc test only type-checks it:
 * async function run(kafka: Kafka) {
 *   const sink = await rawSink("./lakehouse/orders_raw");
 *   const q = startDeltaQuery({ kafka, topic: "retail-data-new", sink, options });
 *   console.log(await q.done); // the QuerySummary
 * }
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
