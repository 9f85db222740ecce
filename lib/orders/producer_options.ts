/**
 * The producer's flags (`deno task produce`): how many partitions a topic it creates gets, how
 * many orders go in one send, and whether progress lines are printed; with `--rate` the live
 * feed's pace, duration, share of malformed records and seed. Parsed and checked here so the
 * notebook only wires them together.
 *
 * @module
 */
import type { ParseArgsConfig } from "node:util";
import { ConfigError } from "../config.ts";
import { parseDuration } from "../engine/duration.ts";
import { MAX_FEED_RATE } from "./feed.ts";

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
  rate: { type: "string" },
  duration: { type: "string" },
  "bad-rate": { type: "string" },
  seed: { type: "string" },
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
  --quiet          no progress lines

Live feed (instead of files):
  --rate N         send generated orders (real customers and products of data/retail_db/)
                   at N orders/s, 0 < N ≤ 100000; malformed ones count in N
  --duration D     stop after D (30s, 10m, 2h; default: until Ctrl-C)
  --bad-rate F     share of malformed records, 0..1, spread over every reason code of the
                   validator (default 0)
  --seed S         seed of the sequence, an integer 0..4294967295: the same seed sends the
                   same orders and defects (ids and timestamps come from the clock); default
                   random, printed at the start`;

/** What the producer's flags say. */
export interface ProducerOptions {
  /** Partitions of the topic when the producer creates it. */
  partitions: number;
  /** Orders per send request. */
  batchSize: number;
  /** No progress lines. */
  quiet: boolean;
  /** The live feed (`--rate`); absent in the batch mode over files. */
  live?: LiveFeedFlags;
}

/** The live feed's flags. */
export interface LiveFeedFlags {
  /** Records per second, valid and malformed together (`--rate`). */
  rate: number;
  /** Run time in ms (`--duration`); undefined = until stopped. */
  durationMs?: number;
  /** Share of malformed records, 0..1 (`--bad-rate`). */
  badRate: number;
  /** PRNG seed, an unsigned 32-bit integer (`--seed`, or random). */
  seed: number;
  /** Whether the seed was given (else it was drawn at random). */
  seedGiven: boolean;
}

function atLeastOne(text: string, flag: string): number {
  const n = Number(text);
  if (text.trim() === "" || !Number.isInteger(n) || n < 1) {
    throw new ConfigError(`--${flag} must be ≥ 1`);
  }
  return n;
}

function liveFlags(
  flags: Record<string, unknown>,
  positionals: readonly string[],
  randomSeed: () => number,
): LiveFeedFlags | undefined {
  const get = (name: string) => flags[name] as string | undefined;
  const rateText = get("rate");
  if (rateText === undefined) {
    const stray = ["duration", "bad-rate", "seed"].filter((f) => get(f) !== undefined);
    if (stray.length > 0) {
      throw new ConfigError(
        `${stray.map((f) => `--${f}`).join(", ")} ${stray.length === 1 ? "applies" : "apply"} ` +
          "only to the live feed: add --rate N",
      );
    }
    return undefined;
  }
  if (positionals.length > 0) {
    throw new ConfigError(
      `--rate sends generated orders; it does not read files (got ${positionals.join(" ")})`,
    );
  }
  const rate = Number(rateText);
  if (rateText.trim() === "" || !Number.isFinite(rate) || rate <= 0 || rate > MAX_FEED_RATE) {
    throw new ConfigError(
      `--rate must be a number of orders per second above 0 and at most ${MAX_FEED_RATE}, ` +
        `got '${rateText}'`,
    );
  }
  let durationMs: number | undefined;
  const durationText = get("duration");
  if (durationText !== undefined) {
    durationMs = parseDuration(durationText);
    if (durationMs <= 0) throw new ConfigError("--duration must be above 0");
  }
  const badText = get("bad-rate") ?? "0";
  const badRate = Number(badText);
  if (badText.trim() === "" || !(badRate >= 0 && badRate <= 1)) {
    throw new ConfigError(`--bad-rate must be a share from 0 to 1, got '${badText}'`);
  }
  const seedText = get("seed");
  let seed: number;
  if (seedText === undefined) {
    seed = randomSeed() >>> 0;
  } else {
    seed = Number(seedText);
    if (!/^\d+$/.test(seedText.trim()) || seed > 0xffffffff) {
      throw new ConfigError(`--seed must be an integer from 0 to 4294967295, got '${seedText}'`);
    }
  }
  const live: LiveFeedFlags = { rate, badRate, seed, seedGiven: seedText !== undefined };
  if (durationMs !== undefined) live.durationMs = durationMs;
  return live;
}

/**
 * Turns the producer's flags (as loadConfig returns them) into {@link ProducerOptions}; a bad
 * value is a ConfigError naming the flag. `live` is there only with `--rate`; live flags
 * without it, or input files with it, are ConfigErrors. Without `--seed` the seed comes from
 * `randomSeed` (default: crypto.getRandomValues).
 *
 * @example
 * ```ts
 * import { parseProducerOptions } from "./producer_options.ts";
 * parseProducerOptions({ partitions: "6" }); // { partitions: 6, batchSize: 2000, quiet: false }
 * parseProducerOptions({ rate: "200", duration: "3s", "bad-rate": "0.1", seed: "7" }).live;
 * // { rate: 200, badRate: 0.1, seed: 7, seedGiven: true, durationMs: 3000 }
 * ```
 */
export function parseProducerOptions(
  flags: Record<string, unknown>,
  positionals: readonly string[] = [],
  randomSeed: () => number = () => crypto.getRandomValues(new Uint32Array(1))[0],
): ProducerOptions {
  const options: ProducerOptions = {
    partitions: atLeastOne((flags.partitions as string | undefined) ?? "3", "partitions"),
    batchSize: atLeastOne((flags["batch-size"] as string | undefined) ?? "2000", "batch-size"),
    quiet: Boolean(flags.quiet),
  };
  const live = liveFlags(flags, positionals, randomSeed);
  if (live !== undefined) options.live = live;
  return options;
}
