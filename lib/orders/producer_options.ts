/**
 * The producer's flags (`deno task produce`): how many partitions a topic it creates gets, how
 * many orders go in one send, and whether progress lines are printed. Parsed and checked here
 * so the notebook only wires them together.
 *
 * @module
 */
import type { ParseArgsConfig } from "node:util";
import { ConfigError } from "../config.ts";

/**
 * parseArgs options of the producer (merge with COMMON_OPTIONS through loadConfig); the
 * defaults are {@link parseProducerOptions}'s.
 *
 * @example
 * ```ts
 * import { loadConfig } from "../config.ts";
 * import { parseProducerOptions, PRODUCER_OPTIONS } from "./producer_options.ts";
 * const { flags, positionals } = loadConfig({
 *   options: PRODUCER_OPTIONS,
 *   allowPositionals: true,
 *   args: ["--quiet", "orders.json"],
 *   env: {},
 * });
 * [parseProducerOptions(flags).quiet, positionals]; // [true, ["orders.json"]]
 * ```
 */
export const PRODUCER_OPTIONS = {
  partitions: { type: "string" },
  "batch-size": { type: "string" },
  quiet: { type: "boolean" },
} as const satisfies ParseArgsConfig["options"];

/**
 * Help text of the producer's own flags (the common ones follow it).
 *
 * @example
 * ```ts
 * import { PRODUCER_HELP } from "./producer_options.ts";
 * const usage = `Usage: deno task produce [-- [options] [FILE ...]]\n\n${PRODUCER_HELP}`;
 * ```
 */
export const PRODUCER_HELP = `Options:
  --partitions N   partitions when the topic must be created (default 3)
  --batch-size N   messages per send (default 2000)
  --quiet          no progress lines`;

/** What the producer's flags say. */
export interface ProducerOptions {
  /** Partitions of the topic when the producer creates it. */
  partitions: number;
  /** Orders per send request. */
  batchSize: number;
  /** No progress lines. */
  quiet: boolean;
}

function atLeastOne(text: string, flag: string): number {
  const n = Number(text);
  if (text.trim() === "" || !Number.isInteger(n) || n < 1) {
    throw new ConfigError(`--${flag} must be ≥ 1`);
  }
  return n;
}

/**
 * Turns the producer's flags (as loadConfig returns them) into {@link ProducerOptions}; a bad
 * value is a ConfigError naming the flag.
 *
 * @example
 * ```ts
 * import { parseProducerOptions } from "./producer_options.ts";
 * parseProducerOptions({ partitions: "6" }); // { partitions: 6, batchSize: 2000, quiet: false }
 * ```
 */
export function parseProducerOptions(flags: Record<string, unknown>): ProducerOptions {
  return {
    partitions: atLeastOne((flags.partitions as string | undefined) ?? "3", "partitions"),
    batchSize: atLeastOne((flags["batch-size"] as string | undefined) ?? "2000", "batch-size"),
    quiet: Boolean(flags.quiet),
  };
}
