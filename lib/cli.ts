/**
 * What every notebook does around its work: print help, turn known failures into one line on
 * stderr with exit code 2 (no stack trace), and log one line per event.
 *
 * @module
 */
import { ConfigError, type KafkaSettings } from "./config.ts";
import { explainKafkaError } from "./kafka/client.ts";
import { inJupyter } from "./runtime.ts";

/** Errors whose message is already the whole story for a user. */
const USER_ERRORS = new Set([
  "ConfigError",
  "OffsetSpecError",
  "TopicNotFoundError",
  "KafkaUnavailableError",
  "NotFoundError",
  "DeltaError",
  "TableNotFoundError",
  "ProtocolError",
  "LogCorruptError",
  "UnsupportedFeatureError",
  "StorageError",
]);

/** Logs one line to stderr with a time stamp and a tag. */
export function log(tag: string, message: string): void {
  const t = new Date().toISOString().slice(11, 23);
  console.error(`${t} ${tag.padEnd(9)} ${message}`);
}

/** The one-line text for an error: user errors as they are, Kafka errors explained. */
export function explainError(error: unknown, kafka?: KafkaSettings): string {
  const e = error as Error;
  if (e instanceof ConfigError || USER_ERRORS.has(e?.name)) return e.message;
  const kafkaLike = /KafkaJS|ECONNREFUSED|SASL|certificate|ENOTFOUND/i.test(
    `${e?.name} ${e?.message} ${(e as { cause?: Error })?.cause?.message ?? ""}`,
  );
  if (kafka && kafkaLike) return explainKafkaError(error, kafka);
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
 * const failure = exitOnFailure();
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

/** Formats a count with thousands separators. */
export function fmtInt(n: number | bigint): string {
  return n.toLocaleString("en-US");
}
