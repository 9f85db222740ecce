/**
 * The first cell of every notebook, written once: turn failures into one line (exit 2), read
 * the configuration from flags, env and .env, print `--help`, log the configuration (secrets
 * masked) and, when the notebook needs Kafka, check that the broker answers.
 *
 * @module
 */
import type { ParseArgsConfig } from "node:util";
import { COMMON_HELP, describeConfig, loadConfig, type Loaded } from "../config.ts";
import { exitOnFailure, log } from "../cli.ts";
import { requireBroker } from "./preflight.ts";

/** What {@link setupNotebook} needs to know about a notebook. */
export interface NotebookSetup<O extends ParseArgsConfig["options"]> {
  /** The usage text printed by `--help` (the common options are appended). */
  usage: string;
  /** The notebook's own flags besides the common ones. */
  options?: O;
  /** The notebook's main table name, giving --table's default `<lakehouse>/<name>`. */
  tableName?: string;
  /** Accept positional arguments (e.g. input files). */
  allowPositionals?: boolean;
  /** Check that the Kafka broker answers before going on (default true). */
  needsBroker?: boolean;
  /** Arguments (default Deno.args; tests pass their own). */
  args?: string[];
  /** A boolean flag that silences the configuration line (e.g. "json": stdout is for data). */
  quietFlag?: string;
}

/**
 * Runs a notebook's setup cell and returns what loadConfig read. With `--help` it prints the
 * usage and exits 0.
 *
 * @example
 * ```ts
 * import { setupNotebook } from "./setup.ts";
 * const { config, flags } = await setupNotebook({
 *   usage: "Usage: deno task consume:batch [-- options]",
 *   options: { limit: { type: "string" } },
 *   needsBroker: false, // the default (true) also checks that the broker answers
 *   args: ["--limit", "10"], // default: Deno.args
 * });
 * flags.limit; // "10"
 * ```
 */
export async function setupNotebook<O extends ParseArgsConfig["options"] = Record<never, never>>(
  setup: NotebookSetup<O>,
): Promise<Loaded<O>> {
  const failure = exitOnFailure();
  const loaded = loadConfig<O>({
    options: setup.options,
    tableName: setup.tableName,
    allowPositionals: setup.allowPositionals,
    args: setup.args,
  });
  failure.kafka = loaded.config.kafka;
  if (loaded.help) {
    console.log(`${setup.usage}\n${COMMON_HELP}`);
    Deno.exit(0);
  }
  const quiet = setup.quietFlag !== undefined &&
    (loaded.flags as Record<string, unknown>)[setup.quietFlag] === true;
  if (!quiet) {
    log("config", describeConfig(loaded.config).replaceAll("\n", "\n                   "));
  }
  if (setup.needsBroker ?? true) await requireBroker(loaded.config.kafka);
  return loaded;
}
