/**
 * The batch consumer's flags (`deno task consume:batch`), modelled on Spark's batch Kafka
 * source: `--from`/`--to` (startingOffsets/endingOffsets), `--from-timestamp`/`--to-timestamp`
 * (startingTimestamp/endingTimestamp), `--read-uncommitted` (isolation level), and how the
 * result is shown: `--limit`, `--truncate`, `--json`. Parsed and checked here so the notebook
 * only wires them together.
 *
 * @module
 */
import type { ParseArgsConfig } from "node:util";
import { ConfigError } from "../config.ts";
import { type OffsetSpec, parseOffsetSpec, parseTimestampSpec } from "./source.ts";

/**
 * parseArgs options of the batch consumer (merge with COMMON_OPTIONS through loadConfig). They
 * carry no defaults: {@link parseBatchOptions} applies them, so it can tell a flag given twice
 * over (`--from` and `--from-timestamp`).
 *
 * @example
 * ```ts
 * import { loadConfig } from "../config.ts";
 * import { BATCH_OPTIONS, parseBatchOptions } from "./batch_options.ts";
 * const { flags } = loadConfig({ options: BATCH_OPTIONS, args: ["--limit", "5"], env: {} });
 * parseBatchOptions(flags).limit; // 5
 * ```
 */
export const BATCH_OPTIONS = {
  from: { type: "string" },
  to: { type: "string" },
  "from-timestamp": { type: "string" },
  "to-timestamp": { type: "string" },
  limit: { type: "string" },
  truncate: { type: "string" },
  json: { type: "boolean" },
  "read-uncommitted": { type: "boolean" },
} as const satisfies ParseArgsConfig["options"];

/**
 * Help text of the batch consumer's own flags (the common ones follow it).
 *
 * @example
 * ```ts
 * import { BATCH_HELP } from "./batch_options.ts";
 * const usage = `Usage: deno task consume:batch [-- options]\n\n${BATCH_HELP}`;
 * ```
 */
export const BATCH_HELP = `Options:
  --from SPEC              earliest | N | {"0":N,...} (-2 earliest, -1 latest)   [earliest]
  --to SPEC                latest | N | {"0":N,...}, exclusive                    [latest]
  --from-timestamp T       start at the first record at/after T (ISO or epoch ms)
  --to-timestamp T         stop before the first record at/after T
  --limit N                rows to show (default 20)
  --truncate N             cell width in the table (default 40; 0 = no limit)
  --json                   write every record as one JSON line to stdout instead
  --read-uncommitted       include records of open or aborted transactions`;

/** What the batch consumer's flags say. */
export interface BatchOptions {
  /** Where each partition's range starts (inclusive). */
  from: OffsetSpec;
  /** Where each partition's range ends (exclusive). */
  to: OffsetSpec;
  /** Records to show in the table. */
  limit: number;
  /** Widest cell in the text table (Infinity = no limit). */
  truncate: number;
  /** Write every record as one JSON line to stdout instead of the tables. */
  json: boolean;
  /** Read records of open or aborted transactions too (isolation read_uncommitted). */
  readUncommitted: boolean;
}

function count(text: string, flag: string): number {
  const n = Number(text);
  if (text.trim() === "" || !Number.isSafeInteger(n) || n < 0) {
    throw new ConfigError(`--${flag} must be a whole number ≥ 0, got '${text}'`);
  }
  return n;
}

function bound(
  flags: Record<string, unknown>,
  offsetFlag: string,
  timestampFlag: string,
  fallback: string,
): OffsetSpec {
  const offsets = flags[offsetFlag] as string | undefined;
  const timestamp = flags[timestampFlag] as string | undefined;
  if (offsets !== undefined && timestamp !== undefined) {
    throw new ConfigError(`give --${offsetFlag} or --${timestampFlag}, not both`);
  }
  return timestamp !== undefined
    ? parseTimestampSpec(timestamp)
    : parseOffsetSpec(offsets ?? fallback);
}

/**
 * Turns the batch consumer's flags (as loadConfig returns them) into {@link BatchOptions}. A
 * bad offset or timestamp is an OffsetSpecError, any other bad value a ConfigError naming the
 * flag.
 *
 * @example
 * ```ts
 * import { parseBatchOptions } from "./batch_options.ts";
 * const o = parseBatchOptions({ from: '{"0":10}', limit: "5", truncate: "0" });
 * o.from; // { kind: "partitions", offsets: { "0": 10n } }
 * o.to; // { kind: "latest" }
 * [o.limit, o.truncate, o.json]; // [5, Infinity, false]
 * ```
 */
export function parseBatchOptions(flags: Record<string, unknown>): BatchOptions {
  const from = bound(flags, "from", "from-timestamp", "earliest");
  const to = bound(flags, "to", "to-timestamp", "latest");
  const limit = count((flags.limit as string | undefined) ?? "20", "limit");
  const truncate = count((flags.truncate as string | undefined) ?? "40", "truncate");
  return {
    from,
    to,
    limit,
    truncate: truncate === 0 ? Infinity : truncate,
    json: Boolean(flags.json),
    readUncommitted: Boolean(flags["read-uncommitted"]),
  };
}
