/**
 * The dashboard's flags (`deno task dashboard`): the port (127.0.0.1 only), how often it
 * updates, the dead-letter table, the streams' metrics endpoints, the city whose share is shown,
 * and whether the output topic is read. Parsed and checked here so the notebook only wires.
 *
 * @module
 */
import type { ParseArgsConfig } from "node:util";
import { ConfigError } from "../config.ts";
import { parseDuration } from "../engine/duration.ts";
import { parseEndpoints, type StreamEndpoint } from "./metrics.ts";

/** The default port of the page. */
export const DEFAULT_DASHBOARD_PORT = 8050;

/**
 * The streams' metrics ports `deno task demo -- --live` starts them with, and the dashboard's
 * default endpoints: raw 9101, cleaned 9102, producer 9103.
 */
export const DEFAULT_STREAM_METRICS = "raw=9101,cleaned=9102,producer=9103";

/**
 * parseArgs options of the dashboard (merged with the common ones by loadConfig).
 *
 * @example
 * ```ts
 * import { loadConfig } from "../config.ts";
 * import { DASHBOARD_OPTIONS, parseDashboardOptions } from "./options.ts";
 * const { flags, config } = loadConfig({ options: DASHBOARD_OPTIONS, args: ["--port", "9000"],
 *   env: {}, tableName: "orders_cleaned" });
 * parseDashboardOptions(flags, config.lakehouse).port; // 9000
 * ```
 */
export const DASHBOARD_OPTIONS = {
  port: { type: "string" },
  interval: { type: "string" },
  "dead-letters": { type: "string" },
  metrics: { type: "string" },
  city: { type: "string" },
  "no-kafka": { type: "boolean" },
} as const satisfies ParseArgsConfig["options"];

/** Help text of the dashboard's own flags. */
export const DASHBOARD_HELP = `Options:
  --port P                  serve the page on 127.0.0.1:P           [${DEFAULT_DASHBOARD_PORT}]
  --interval D              how often the page updates (e.g. 1s, 500ms)  [1s]
  --dead-letters DIR|URL    the dead-letter table         [<lakehouse>/orders_dead_letters]
  --metrics LIST            the streams' metrics endpoints, name=PORT|HOST:PORT|URL, comma-
                            separated; '' for none        [${DEFAULT_STREAM_METRICS}]
  --city NAME               the city whose share is shown (the producer stream's filter)
                                                          [Chicago]
  --no-kafka                do not read the output topic (--output-topic) from Kafka`;

/** What the dashboard's flags say. */
export interface DashboardOptions {
  /** Port on 127.0.0.1 (0: any free port). */
  port: number;
  /** Milliseconds between updates. */
  intervalMs: number;
  /** The dead-letter table. */
  deadLetters: string;
  /** The streams' metrics endpoints. */
  metrics: StreamEndpoint[];
  /** The city whose share is shown. */
  city: string;
  /** Read the output topic. */
  kafka: boolean;
}

/**
 * Turns the flags into {@link DashboardOptions}; a bad value is a ConfigError naming the flag.
 *
 * @example
 * ```ts
 * import { parseDashboardOptions } from "./options.ts";
 * const o = parseDashboardOptions({ interval: "500ms", metrics: "cleaned=9102" }, "./lakehouse");
 * [o.intervalMs, o.metrics[0].url, o.deadLetters];
 * // [500, "http://127.0.0.1:9102/metrics", "./lakehouse/orders_dead_letters"]
 * ```
 */
export function parseDashboardOptions(
  flags: Record<string, unknown>,
  lakehouse: string,
): DashboardOptions {
  const text = (k: string) => flags[k] as string | undefined;
  const portText = text("port") ?? String(DEFAULT_DASHBOARD_PORT);
  const port = Number(portText);
  if (!/^\d+$/.test(portText.trim()) || port > 65535) {
    throw new ConfigError(`--port must be a port number (0–65535), got '${portText}'`);
  }
  const intervalMs = parseDuration(text("interval") ?? "1s");
  if (intervalMs < 100 || intervalMs > 60_000) {
    throw new ConfigError(
      `--interval must be between 100ms and 1 minute, got '${text("interval")}'`,
    );
  }
  let metrics: StreamEndpoint[];
  try {
    metrics = parseEndpoints(text("metrics") ?? DEFAULT_STREAM_METRICS);
  } catch (e) {
    throw new ConfigError(`--metrics: ${(e as Error).message}`);
  }
  const city = text("city") ?? "Chicago";
  if (city.trim() === "") throw new ConfigError("--city must name a city");
  return {
    port,
    intervalMs,
    deadLetters: text("dead-letters") ?? `${lakehouse}/orders_dead_letters`,
    metrics,
    city,
    kafka: !flags["no-kafka"],
  };
}
