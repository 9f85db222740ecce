/**
 * The stream flags, one parser for every stream (Kafka ▶ Delta and Kafka ▶ Kafka), modelled on
 * Spark's Kafka source options and triggers: `--query-name`, `--starting-offsets`,
 * `--starting-timestamp`, `--max-offsets-per-trigger`, `--trigger-interval`, `--available-now`,
 * `--fail-on-data-loss`, `--progress`, `--broker-timeout`, `--worker`, `--metrics-port`,
 * `--health-timeout`; plus the flags of each sink kind (Delta: `--no-group-offsets`,
 * `--session-timeout-ms` and table maintenance: `--auto-compact`, `--compact-background`,
 * `--compact-min-files`, `--compact-target-size`, `--checkpoint-interval`, `--log-cleanup`,
 * `--log-retention`; Kafka transactions: `--transaction-timeout`, `--parse-inline`).
 * Durations use the one grammar of lib/engine/duration.ts everywhere.
 *
 * @module
 */
import type { ParseArgsConfig } from "node:util";
import { ConfigError } from "../config.ts";
import { inJupyter } from "../runtime.ts";
import { type OffsetSpec, parseOffsetSpec, parseTimestampSpec } from "../kafka/source.ts";
import { type MaintenanceOverrides, parseByteSize } from "../delta/maintenance.ts";
import { parseDuration } from "./duration.ts";

export { parseDuration };

/**
 * Default records per micro-batch of a Delta stream: 20,000 orders make ~60,000 rows, a ~1.4 MB
 * Parquet file per batch, and keep peak RSS near 250 MB.
 */
export const DEFAULT_MAX_OFFSETS_PER_TRIGGER = 20_000;

/** Default trigger interval of a Delta stream in ms (Spark's ProcessingTime("1 second")). */
export const DEFAULT_TRIGGER_INTERVAL_MS = 1000;

/** Default seconds a query waits for an unreachable broker before it fails. */
export const DEFAULT_BROKER_TIMEOUT_S = 300;

/** Default `--health-timeout`: /healthz turns 503 after a minute of outage or stall, ms. */
export const DEFAULT_HEALTH_TIMEOUT_MS = 60_000;

/** How progress is printed: one text line per batch, one JSON object per batch, or nothing. */
export type ProgressFormat = "text" | "json" | "none";

/** Where a stream's micro-batches go: Delta tables (txn offsets) or a Kafka transaction. */
export type SinkKind = "delta" | "kafka";

/** The per-stream defaults of {@link parseStreamOptions}. */
export interface StreamDefaults {
  /** Query name when `--query-name` is not given. */
  queryName: string;
  /** Sink kind (decides the defaults below when they are not given). */
  sink?: SinkKind;
  /** Default `--max-offsets-per-trigger`. */
  maxOffsetsPerTrigger?: number;
  /** Default `--trigger-interval`, ms. */
  triggerIntervalMs?: number;
  /** Whether the batch work runs in a Web Worker unless `--worker`/`--no-worker` says. */
  worker?: boolean;
  /**
   * The resolved bootstrap servers (flag, environment or .env: `settings.bootstrapServers`):
   * with 2 cores, a remote broker leaves a core to spare for the worker ({@link spareCore}).
   */
  servers?: readonly string[];
}

/** Defaults per sink kind. */
const SINK_DEFAULTS: Record<
  SinkKind,
  Required<Omit<StreamDefaults, "queryName" | "sink" | "servers">>
> = {
  // Delta: Spark's 1 s processing-time trigger; the sink worker costs a second isolate.
  delta: {
    maxOffsetsPerTrigger: DEFAULT_MAX_OFFSETS_PER_TRIGGER,
    triggerIntervalMs: DEFAULT_TRIGGER_INTERVAL_MS,
    worker: false,
  },
  // Kafka transactions: batches as soon as data is there; parsing in a worker (a second core).
  kafka: { maxOffsetsPerTrigger: 50_000, triggerIntervalMs: 0, worker: true },
};

/**
 * Whether the machine has a core to spare for a second thread: three cores or more, or two when
 * the broker is on another machine (so it does not take the second core). With one core, or two
 * shared with a local broker, a worker only adds the cost of handing batches over.
 *
 * @example
 * ```ts
 * import { spareCore } from "./options.ts";
 * spareCore(["127.0.0.1:9092"], 2); // false
 * spareCore(["pkc-1.westeurope.azure.confluent.cloud:9092"], 2); // true
 * ```
 */
export function spareCore(
  servers: readonly string[],
  cores: number = navigator.hardwareConcurrency ?? 1,
): boolean {
  if (cores >= 3) return true;
  if (cores < 2 || servers.length === 0) return false;
  return servers.every((s) => !isLocalHost(s.replace(/:\d+$/, "").replace(/^\[(.*)\]$/, "$1")));
}

function isLocalHost(host: string): boolean {
  const h = host.toLowerCase();
  return h === "localhost" || h === "::1" || h.startsWith("127.");
}

/** Everything the engine needs besides Kafka settings, the topic and the sink. */
export interface StreamOptions {
  /** Query name: the consumer group, the Delta txn appIds, the transactional id prefix. */
  queryName: string;
  /** Where partitions with no stored offsets start (default earliest). */
  startingOffsets: OffsetSpec;
  /** Most offsets per micro-batch, divided across partitions by what each has left. */
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
  /** Run the batch work (build and write, or parse and validate) in a Web Worker. */
  worker: boolean;
  /** How long the broker may stay unreachable before the query fails, ms (default 300 s). */
  brokerTimeoutMs: number;
  /** Kafka transaction timeout, ms (Kafka sinks; default 60 s). */
  transactionTimeoutMs: number;
  /** Port of the metrics server on 127.0.0.1 (`/metrics`, `/healthz`); 0 or absent = off. */
  metricsPort?: number;
  /** `/healthz` answers 503 after Kafka is down, or no commit lands with lag, this long, ms. */
  healthTimeoutMs?: number;
  /**
   * Delta sinks: table maintenance settings given by flags (`--auto-compact`,
   * `--compact-background`, `--compact-min-files`, `--compact-target-size`,
   * `--checkpoint-interval`, `--log-cleanup`, `--log-retention`); what is not given comes from
   * each table's properties, then defaults (lib/delta/maintenance.ts).
   */
  maintenance: MaintenanceOverrides;
}

/** parseArgs options of the flags every stream takes (merge with COMMON_OPTIONS via loadConfig). */
export const STREAM_OPTIONS = {
  "query-name": { type: "string" },
  "starting-offsets": { type: "string" },
  "starting-timestamp": { type: "string" },
  "max-offsets-per-trigger": { type: "string" },
  "trigger-interval": { type: "string" },
  "available-now": { type: "boolean" },
  "fail-on-data-loss": { type: "string" },
  progress: { type: "string" },
  quiet: { type: "boolean" },
  worker: { type: "boolean" },
  "no-worker": { type: "boolean" },
  "broker-timeout": { type: "string" },
  "metrics-port": { type: "string" },
  "health-timeout": { type: "string" },
} as const satisfies ParseArgsConfig["options"];

/** parseArgs options of the Delta streams' own flags. */
export const DELTA_STREAM_OPTIONS = {
  ...STREAM_OPTIONS,
  "no-group-offsets": { type: "boolean" },
  "session-timeout-ms": { type: "string" },
  "auto-compact": { type: "string" },
  "compact-background": { type: "string" },
  "compact-min-files": { type: "string" },
  "compact-target-size": { type: "string" },
  "checkpoint-interval": { type: "string" },
  "log-cleanup": { type: "string" },
  "log-retention": { type: "string" },
} as const satisfies ParseArgsConfig["options"];

/** parseArgs options of the Kafka-transaction streams' own flags. */
export const KAFKA_STREAM_OPTIONS = {
  ...STREAM_OPTIONS,
  "transaction-timeout": { type: "string" },
  "parse-inline": { type: "boolean" },
  "session-timeout-ms": { type: "string" },
} as const satisfies ParseArgsConfig["options"];

/**
 * Help text of the stream flags for one sink kind, with that stream's defaults.
 *
 * @example
 * ```ts
 * import { streamHelp } from "./options.ts";
 * console.log(streamHelp({ queryName: "orders_raw", sink: "delta" }));
 * ```
 */
export function streamHelp(defaults: StreamDefaults): string {
  const kind = defaults.sink ?? "delta";
  const d = { ...SINK_DEFAULTS[kind], ...defaults };
  const where = kind === "delta" ? "the Delta table" : "the query's consumer group / changelog";
  const lines = [
    `Stream options (Spark Structured Streaming's Kafka source and triggers):`,
    `  --query-name NAME             consumer group, offsets' name in ${
      kind === "delta" ? "Delta txns" : "Kafka"
    }  [${d.queryName}]`,
    `  --starting-offsets SPEC       earliest | latest | {"0":N,...} for partitions with no stored`,
    `                                offsets (-2 earliest, -1 latest)            [earliest]`,
    `  --starting-timestamp T        start at the first record at/after T (ISO or epoch ms)`,
    `  --max-offsets-per-trigger N   most offsets per micro-batch, shared by the partitions in`,
    `                                proportion to what each has left to read     [${d.maxOffsetsPerTrigger}]`,
    `  --trigger-interval D          time between micro-batches: 500ms, 1s, 2m, 0  [${d.triggerIntervalMs}ms]`,
    `  --available-now               process what the topic holds now, then stop`,
    `                                (the default in Jupyter, where a cell must end)`,
    `  --fail-on-data-loss BOOL      fail when offsets fell out of retention      [true]`,
    `  --progress text|json|none     progress of each micro-batch                 [text]`,
    `  --quiet                       same as --progress none`,
    `  --worker / --no-worker        ${
      kind === "delta" ? "build and write batches" : "parse and validate orders"
    } in a second thread`,
    `                                (needs a free core)                          [${
      d.worker ? "on" : "auto"
    }]`,
    ...(d.worker
      ? []
      : [`                                auto: on with 3+ cores, or 2 and a remote broker`]),
    `  --broker-timeout SECONDS      fail (exit 2) when Kafka stays unreachable this`,
    `                                long; until then wait, retry and log         [${DEFAULT_BROKER_TIMEOUT_S}]`,
    `  --metrics-port P              serve /metrics (Prometheus) and /healthz on`,
    `                                127.0.0.1:P; 0 = off                         [0]`,
    `  --health-timeout D            /healthz answers 503 when Kafka is unreachable,`,
    `                                or no batch commits while lag > 0, this long [60s]`,
  ];
  if (kind === "delta") {
    lines.push(
      `  --no-group-offsets            do not commit consumer-group offsets (lag tools only)`,
      `  --session-timeout-ms N        consumer-group session timeout               [30000]`,
      `Table maintenance after micro-batches (each flag overrides the table property):`,
      `  --auto-compact BOOL           rewrite small files into target-size ones,`,
      `                                dataChange=false (delta.autoOptimize.autoCompact)  [true]`,
      `  --compact-background BOOL     compact in a worker thread while batches go on;`,
      `                                false: between batches, in the batch loop    [true]`,
      `  --compact-min-files N         small files in a partition that make it due`,
      `                                (delta.autoCompact.minNumFiles)               [50]`,
      `  --compact-target-size SIZE    target file size, e.g. 128MB (small = under half)`,
      `                                (delta.autoCompact.maxFileSize)               [128MiB]`,
      `  --checkpoint-interval N       a checkpoint at least every N commits`,
      `                                (delta.checkpointInterval)                    [10]`,
      `  --log-cleanup BOOL            delete expired log files after checkpoints`,
      `                                (delta.enableExpiredLogCleanup)               [true]`,
      `  --log-retention D             keep every version this long, e.g. 30d, 12h`,
      `                                (delta.logRetentionDuration)                  [30d]`,
    );
  } else {
    lines.push(
      `  --transaction-timeout D       Kafka transaction timeout                    [60s]`,
      `  --session-timeout-ms N        consumer-group session timeout (filter mode,`,
      `                                whose copies share the partitions)           [30000]`,
      `  --parse-inline                same as --no-worker (the default in Jupyter)`,
    );
  }
  lines.push(
    `  Offsets stored in ${where} win over --starting-*: a restart resumes where it stopped.`,
  );
  return lines.join("\n");
}

/** Help text of the Delta streams' flags (see {@link streamHelp}). */
export const STREAM_HELP: string = streamHelp({ queryName: "per notebook", sink: "delta" });

function positiveInt(text: string, flag: string): number {
  const n = Number(text);
  if (!Number.isSafeInteger(n) || n < 1) {
    throw new ConfigError(`--${flag} must be a positive integer, got '${text}'`);
  }
  return n;
}

function port(text: string, flag: string): number {
  const n = Number(text);
  if (!Number.isSafeInteger(n) || n < 0 || n > 65535) {
    throw new ConfigError(`--${flag} must be a port number 0-65535 (0 = off), got '${text}'`);
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
 * Turns the stream flags (as parsed by loadConfig) into {@link StreamOptions}. `defaults` is
 * the stream's default query name (a Delta stream), or its defaults.
 *
 * @example
 * ```ts
 * import { parseStreamOptions } from "./options.ts";
 * const opts = parseStreamOptions({ "trigger-interval": "2s" }, "orders_raw");
 * console.log(opts.triggerIntervalMs); // 2000
 * ```
 */
export function parseStreamOptions(
  flags: Record<string, unknown>,
  defaults: string | StreamDefaults,
): StreamOptions {
  const given = typeof defaults === "string" ? { queryName: defaults } : defaults;
  const d = { ...SINK_DEFAULTS[given.sink ?? "delta"], ...given };
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
  const queryName = s("query-name") ?? d.queryName;
  if (!/^[A-Za-z0-9._-]+$/.test(queryName)) {
    throw new ConfigError(
      `--query-name '${queryName}' may only use letters, digits, '.', '_', '-'`,
    );
  }
  const progress = (flags.quiet ? "none" : s("progress") ?? "text") as ProgressFormat;
  if (!["text", "json", "none"].includes(progress)) {
    throw new ConfigError(`--progress must be text, json or none, got '${progress}'`);
  }
  if (flags.worker && (flags["no-worker"] || flags["parse-inline"])) {
    throw new ConfigError("give --worker or --no-worker (--parse-inline), not both");
  }
  const worker = flags.worker
    ? true
    : flags["no-worker"] || flags["parse-inline"]
    ? false
    : (d.worker || (given.worker === undefined && spareCore(given.servers ?? []))) && !inJupyter();
  return {
    queryName,
    startingOffsets,
    maxOffsetsPerTrigger: s("max-offsets-per-trigger") === undefined
      ? d.maxOffsetsPerTrigger
      : positiveInt(s("max-offsets-per-trigger")!, "max-offsets-per-trigger"),
    triggerIntervalMs: s("trigger-interval") === undefined
      ? d.triggerIntervalMs
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
    worker,
    brokerTimeoutMs: 1000 *
      (s("broker-timeout") === undefined
        ? DEFAULT_BROKER_TIMEOUT_S
        : positiveInt(s("broker-timeout")!, "broker-timeout")),
    transactionTimeoutMs: s("transaction-timeout") === undefined
      ? 60_000
      : parseDuration(s("transaction-timeout")!),
    metricsPort: s("metrics-port") === undefined ? 0 : port(s("metrics-port")!, "metrics-port"),
    healthTimeoutMs: s("health-timeout") === undefined
      ? DEFAULT_HEALTH_TIMEOUT_MS
      : parseDuration(s("health-timeout")!),
    maintenance: maintenanceFlags(s),
  };
}

/** The table-maintenance flags given (lib/delta/maintenance.ts has the defaults). */
function maintenanceFlags(s: (k: string) => string | undefined): MaintenanceOverrides {
  const out: MaintenanceOverrides = {};
  if (s("auto-compact") !== undefined) out.autoCompact = bool(s("auto-compact")!, "auto-compact");
  if (s("compact-background") !== undefined) {
    out.compactInBackground = bool(s("compact-background")!, "compact-background");
  }
  if (s("compact-min-files") !== undefined) {
    out.compactMinFiles = positiveInt(s("compact-min-files")!, "compact-min-files");
  }
  if (s("compact-target-size") !== undefined) {
    const size = parseByteSize(s("compact-target-size"));
    if (size === undefined) {
      throw new ConfigError(
        `--compact-target-size must be a size like 128MB, 64MiB or a number of bytes, got ` +
          `'${s("compact-target-size")}'`,
      );
    }
    out.compactTargetSize = size;
  }
  if (s("checkpoint-interval") !== undefined) {
    out.checkpointInterval = positiveInt(s("checkpoint-interval")!, "checkpoint-interval");
  }
  if (s("log-cleanup") !== undefined) out.logCleanup = bool(s("log-cleanup")!, "log-cleanup");
  if (s("log-retention") !== undefined) {
    // Delta's spelling (`interval 30 days`) is accepted too.
    out.logRetentionMs = parseDuration(s("log-retention")!.trim().replace(/^interval\s+/i, ""));
  }
  return out;
}
