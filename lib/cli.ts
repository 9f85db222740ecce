/**
 * What every notebook does around its work: print help, turn known failures into one line on
 * stderr with exit code 2 (no stack trace), and log one line per event.
 *
 * @module
 */
import type { KafkaSettings } from "./config.ts";
import { isUserError } from "./errors.ts";
import { classifyKafkaError, explainKafkaError } from "./kafka/errors.ts";
import { inJupyter } from "./runtime.ts";

/** Logs one line to stderr with a time stamp and a tag. */
export function log(tag: string, message: string): void {
  const t = new Date().toISOString().slice(11, 23);
  console.error(`${t} ${tag.padEnd(9)} ${message}`);
}

/**
 * The one-line text for an error: a UserError (lib/errors.ts) as its message, a Kafka failure
 * (transient or permanent, as {@link classifyKafkaError} says) explained for `kafka`'s brokers,
 * anything else as `Name: message`.
 *
 * @example
 * ```ts
 * import { explainError } from "./cli.ts";
 * import { ConfigError } from "./config.ts";
 * explainError(new ConfigError("--max-offsets needs a number")); // "--max-offsets needs a number"
 * explainError(new RangeError("Invalid array length")); // "RangeError: Invalid array length"
 * ```
 */
export function explainError(error: unknown, kafka?: KafkaSettings): string {
  if (isUserError(error)) return error.message;
  const kind = classifyKafkaError(error);
  if (kafka && (kind === "transient" || kind === "permanent")) {
    return explainKafkaError(error, kafka);
  }
  const e = error as Error | undefined;
  return `${e?.name ?? "Error"}: ${e?.message ?? String(error)}`;
}

function fail(error: unknown, kafka?: KafkaSettings): never {
  console.error(`error: ${explainError(error, kafka)}`);
  if (Deno.env.get("DEBUG")) console.error(error);
  Deno.exit(2);
}

/**
 * Makes any uncaught failure of a notebook print `error: <one line>` and exit with 2, so the
 * notebook itself stays plain top-level code (as its cells). DEBUG=1 adds the stack trace.
 * Does nothing in Jupyter's kernel, where a cell's error is shown in the cell.
 *
 * @example
 * ```ts
 * import { exitOnFailure } from "./cli.ts";
 * import { loadConfig } from "./config.ts";
 * const failure = exitOnFailure(); // first line of a notebook
 * const { config } = loadConfig();
 * failure.kafka = config.kafka; // Kafka errors are then explained for these brokers
 * ```
 */
export function exitOnFailure(): { kafka?: KafkaSettings } {
  const context: { kafka?: KafkaSettings } = {};
  // In Jupyter a failing cell reports its own error; exiting would kill the kernel.
  if (inJupyter()) return context;
  globalThis.addEventListener("error", (e) => {
    e.preventDefault();
    fail(e.error, context.kafka);
  });
  globalThis.addEventListener("unhandledrejection", (e) => {
    e.preventDefault();
    fail(e.reason, context.kafka);
  });
  return context;
}
