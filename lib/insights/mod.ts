/**
 * Insights: the producer stream's filter and windowed aggregation, their changelog and dead
 * letters, and the exactly-once run loop that publishes them back to Kafka.
 *
 * @example
 * ```ts
 * import type { Kafka } from "kafkajs";
 * import { parseProducerStreamFlags, runProducerStream } from "./mod.ts";
 * const flags = { city: "Chicago", "available-now": true };
 * const { mode, options, deadLetterTopic } = parseProducerStreamFlags(flags, "processed_orders");
 * // Needs a broker, so the doc test only type-checks it:
 * async function run(kafka: Kafka) {
 *   const totals = await runProducerStream({ kafka, topic: "retail-data-new",
 *     outputTopic: "processed_orders", deadLetterTopic, mode, options });
 *   console.log(totals); // { batches, input, output, deadLetters, late, dropped, … }
 * }
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
