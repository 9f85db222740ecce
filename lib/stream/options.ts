/**
 * The streaming engine's flags, modelled on Spark's Kafka source options and triggers:
 * `--starting-offsets`, `--starting-timestamp`, `--max-offsets-per-trigger`, `--trigger-interval`,
 * `--available-now`, `--fail-on-data-loss`, `--query-name`, `--progress`, `--broker-timeout`.
 *
 * @module
 */
import type { ParseArgsConfig } from "node:util";
import { ConfigError } from "../config.ts";
import { inJupyter } from "../runtime.ts";
import { type OffsetSpec, parseOffsetSpec, parseTimestampSpec } from "../kafka/source.ts";

/**
 * Default records per micro-batch: 20,000 orders make ~60,000 rows, a ~1.4 MB Parquet file per
 * batch (compact later with `deno task delta -- optimize`), and keep peak RSS near 250 MB.
 */
export const DEFAULT_MAX_OFFSETS_PER_TRIGGER = 20_000;

/** Default trigger interval in ms (Spark's ProcessingTime("1 second")). */
export const DEFAULT_TRIGGER_INTERVAL_MS = 1000;

/** Default seconds the query waits for an unreachable broker before it fails. */
export const DEFAULT_BROKER_TIMEOUT_S = 300;

/** How progress is printed: one text line per batch, one JSON object per batch, or nothing. */
export type ProgressFormat = "text" | "json" | "none";

/** Everything the engine needs besides Kafka settings, the topic and the sink. */
export interface StreamOptions {
  /** Query name: names the consumer group and the Delta txn appIds (`<query>-<topic>-<partition>`). */
  queryName: string;
  /** Where partitions with no offsets stored in the table start (default earliest). */
  startingOffsets: OffsetSpec;
  /** Most records per micro-batch, split across partitions by what they have buffered. */
  maxOffsetsPerTrigger: number;
  /** Minimum time between micro-batch starts, in ms (0 = as soon as the previous one ends). */
  triggerIntervalMs: number;
  /** Process what the topic holds at start (in rate-limited batches), then stop. */
  availableNow: boolean;
  /** Fail when offsets to read are gone (retention, topic recreated); false logs the gap. */
  failOnDataLoss: boolean;
  /** Progress output format. */
  progress: ProgressFormat;
  /** Commit consumer-group offsets after each Delta commit (only for lag tools; default true). */
  commitGroupOffsets: boolean;
  /** Consumer-group session timeout in ms (how fast a dead instance's partitions move). */
  sessionTimeoutMs: number;
  /** How often the consumer re-reads topic metadata (new partitions are seen within it), ms. */
  metadataMaxAgeMs: number;
  /** Build and write batches in a worker thread, overlapping with fetching (default false). */
  sinkWorker: boolean;
  /** How long the broker may stay unreachable before the query fails, ms (default 300 s). */
  brokerTimeoutMs?: number;
}

/** parseArgs options of the engine flags (merge with COMMON_OPTIONS through loadConfig). */
export const STREAM_OPTIONS = {
  "query-name": { type: "string" },
  "starting-offsets": { type: "string" },
  "starting-timestamp": { type: "string" },
  "max-offsets-per-trigger": { type: "string" },
  "trigger-interval": { type: "string" },
  "available-now": { type: "boolean" },
  "fail-on-data-loss": { type: "string" },
  progress: { type: "string" },
  "no-group-offsets": { type: "boolean" },
  "session-timeout-ms": { type: "string" },
  worker: { type: "boolean" },
  "broker-timeout": { type: "string" },
} as const satisfies ParseArgsConfig["options"];

/** Help text of the engine flags. */
export const STREAM_HELP = `Stream options (Spark Structured Streaming's Kafka source and triggers):
  --query-name NAME             consumer group and Delta txn appId prefix   [per notebook]
  --starting-offsets SPEC       earliest | latest | {"0":N,...} when the table has no offsets
                                for a partition (-2 earliest, -1 latest)    [earliest]
  --starting-timestamp T        start at the first record at/after T (ISO or epoch ms)
  --max-offsets-per-trigger N   most records per micro-batch                 [${DEFAULT_MAX_OFFSETS_PER_TRIGGER}]
  --trigger-interval D          time between micro-batches: 500ms, 1s, 2m, 0  [1s]
  --available-now               process what the topic holds now, then stop
                                (the default in Jupyter, where a cell must end)
  --fail-on-data-loss BOOL      fail when offsets fell out of retention      [true]
  --progress text|json|none     one line per micro-batch on stdout           [text]
  --no-group-offsets            do not commit consumer-group offsets (lag tools only)
  --session-timeout-ms N        consumer-group session timeout               [30000]
  --worker                      build and write batches in a second thread, overlapping
                                with fetching (needs a free core; ~+130 MB RSS)
  --broker-timeout SECONDS      fail (exit 2) when Kafka stays unreachable this
                                long; until then wait, retry and log         [${DEFAULT_BROKER_TIMEOUT_S}]
  Offsets stored in the Delta table win over --starting-*: a restart resumes where it stopped.`;

/** Parses a duration: `500ms`, `1s`, `1.5s`, `2m`, or a number of ms. */
export function parseDuration(text: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|sec|seconds?|m|min|minutes?)?\s*$/i.exec(text);
  if (!m) throw new ConfigError(`duration '${text}' is not like 500ms, 1s or 2m`);
  const n = Number(m[1]);
  const unit = (m[2] ?? "ms").toLowerCase();
  return Math.round(unit === "ms" ? n : unit.startsWith("m") ? n * 60_000 : n * 1000);
}

function positiveInt(text: string, flag: string): number {
  const n = Number(text);
  if (!Number.isSafeInteger(n) || n < 1) {
    throw new ConfigError(`--${flag} must be a positive integer, got '${text}'`);
  }
  return n;
}

function bool(text: string, flag: string): boolean {
  const t = text.trim().toLowerCase();
  if (t === "true") return true;
  if (t === "false") return false;
  throw new ConfigError(`--${flag} must be true or false, got '${text}'`);
}

/**
 * Turns the engine flags (as parsed by loadConfig) into {@link StreamOptions}.
 *
 * @example
 * ```ts
 * const { flags } = loadConfig({ options: STREAM_OPTIONS });
 * const opts = parseStreamOptions(flags, "orders_raw");
 * ```
 */
export function parseStreamOptions(
  flags: Record<string, unknown>,
  defaultQueryName: string,
): StreamOptions {
  const s = (k: string) => flags[k] as string | undefined;
  if (s("starting-offsets") !== undefined && s("starting-timestamp") !== undefined) {
    throw new ConfigError("give --starting-offsets or --starting-timestamp, not both");
  }
  const startingOffsets = s("starting-timestamp") !== undefined
    ? parseTimestampSpec(s("starting-timestamp")!)
    : parseOffsetSpec(s("starting-offsets") ?? "earliest");
  if (startingOffsets.kind === "offset") {
    throw new ConfigError(
      `--starting-offsets takes earliest, latest or per-partition JSON like {"0":5}, not a bare number`,
    );
  }
  const queryName = s("query-name") ?? defaultQueryName;
  if (!/^[A-Za-z0-9._-]+$/.test(queryName)) {
    throw new ConfigError(
      `--query-name '${queryName}' may only use letters, digits, '.', '_', '-'`,
    );
  }
  const progress = (s("progress") ?? "text") as ProgressFormat;
  if (!["text", "json", "none"].includes(progress)) {
    throw new ConfigError(`--progress must be text, json or none, got '${progress}'`);
  }
  return {
    queryName,
    startingOffsets,
    maxOffsetsPerTrigger: s("max-offsets-per-trigger") === undefined
      ? DEFAULT_MAX_OFFSETS_PER_TRIGGER
      : positiveInt(s("max-offsets-per-trigger")!, "max-offsets-per-trigger"),
    triggerIntervalMs: s("trigger-interval") === undefined
      ? DEFAULT_TRIGGER_INTERVAL_MS
      : parseDuration(s("trigger-interval")!),
    // In Jupyter a cell must end: without the flag, the kernel runs available-now.
    availableNow: flags["available-now"] === undefined
      ? inJupyter()
      : Boolean(flags["available-now"]),
    failOnDataLoss: s("fail-on-data-loss") === undefined
      ? true
      : bool(s("fail-on-data-loss")!, "fail-on-data-loss"),
    progress,
    commitGroupOffsets: !flags["no-group-offsets"],
    sessionTimeoutMs: s("session-timeout-ms") === undefined
      ? 30_000
      : positiveInt(s("session-timeout-ms")!, "session-timeout-ms"),
    metadataMaxAgeMs: 10_000,
    sinkWorker: Boolean(flags.worker),
    brokerTimeoutMs: 1000 *
      (s("broker-timeout") === undefined
        ? DEFAULT_BROKER_TIMEOUT_S
        : positiveInt(s("broker-timeout")!, "broker-timeout")),
  };
}
