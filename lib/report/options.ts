/**
 * The report's flags (`deno task report`): which version of the table to read (time travel),
 * where to write the HTML page, and whether to print the figures as JSON. Parsed and checked
 * here so the notebook only wires them together.
 *
 * @module
 */
import type { ParseArgsConfig } from "node:util";
import { ConfigError } from "../config.ts";
import { projectPath } from "../runtime.ts";

/**
 * parseArgs options of the report (merge with COMMON_OPTIONS through loadConfig); the defaults
 * are {@link parseReportOptions}'s.
 *
 * @example
 * ```ts
 * import { loadConfig } from "../config.ts";
 * import { parseReportOptions, REPORT_OPTIONS } from "./options.ts";
 * const { flags } = loadConfig({ options: REPORT_OPTIONS, args: ["--version", "3"], env: {} });
 * parseReportOptions(flags).version; // 3
 * ```
 */
export const REPORT_OPTIONS = {
  version: { type: "string" },
  out: { type: "string" },
  json: { type: "boolean" },
} as const satisfies ParseArgsConfig["options"];

/**
 * Where the report goes without --out (under the project root in Jupyter).
 *
 * @example
 * ```ts
 * import { DEFAULT_REPORT_FILE, parseReportOptions } from "./options.ts";
 * parseReportOptions({}).out === DEFAULT_REPORT_FILE; // true outside Jupyter
 * ```
 */
export const DEFAULT_REPORT_FILE = "test-output/report.html";

/**
 * Help text of the report's own flags (the common ones follow it).
 *
 * @example
 * ```ts
 * import { REPORT_HELP } from "./options.ts";
 * const usage = `Usage: deno task report [-- options]\n\n${REPORT_HELP}`;
 * ```
 */
export const REPORT_HELP = `Options:
  --version N   read the table as of version N (default: the latest)
  --out FILE    where to write the report (default ${DEFAULT_REPORT_FILE})
  --json        print the report's figures as JSON on stdout`;

/** What the report's flags say. */
export interface ReportOptions {
  /** The table version to read; undefined = the latest. */
  version: number | undefined;
  /** The HTML file to write. */
  out: string;
  /** Print the figures as JSON on stdout. */
  json: boolean;
}

/**
 * Turns the report's flags (as loadConfig returns them) into {@link ReportOptions}; a bad
 * --version is a ConfigError.
 *
 * @example
 * ```ts
 * import { parseReportOptions } from "./options.ts";
 * parseReportOptions({ version: "3", out: "v3.html" }); // { version: 3, out: "v3.html", json: false }
 * parseReportOptions({}).version; // undefined: the latest
 * ```
 */
export function parseReportOptions(flags: Record<string, unknown>): ReportOptions {
  const text = flags.version as string | undefined;
  const version = text === undefined ? undefined : Number(text);
  if (
    version !== undefined && (text!.trim() === "" || !Number.isSafeInteger(version) || version < 0)
  ) {
    throw new ConfigError(`--version must be a table version (a whole number ≥ 0), got '${text}'`);
  }
  return {
    version,
    out: projectPath((flags.out as string | undefined) ?? DEFAULT_REPORT_FILE),
    json: Boolean(flags.json),
  };
}
