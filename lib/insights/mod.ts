/**
 * Insights: the producer stream's filter and windowed aggregation, their changelog and dead
 * letters, and the exactly-once run loop that publishes them back to Kafka.
 *
 * @example
 * ```ts
 * import { filterFromFlags, runProducerStream } from "./lib/insights/mod.ts";
 * ```
 * @module
 */
export * from "./filter.ts";
export * from "./aggregate.ts";
export * from "./changelog.ts";
export * from "./dead_letters.ts";
export * from "./classify.ts";
export * from "./stream.ts";
export * from "./progress.ts";
export * from "./options.ts";
