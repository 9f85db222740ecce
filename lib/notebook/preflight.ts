/**
 * First-cell checks for notebooks: is the Kafka broker there, is the Delta table there. Each
 * fails fast with the project's typed error (KafkaUnavailableError, TableNotFoundError) and a
 * message that says what to start or run, instead of a long client retry.
 * In a script the error ends the run (exit 2 via lib/cli.ts); in Jupyter it is the cell's error.
 *
 * @module
 */
import type { KafkaSettings } from "../config.ts";
import { TableNotFoundError } from "../delta/errors.ts";
import { NotFoundError } from "../storage/errors.ts";
import { snapshot } from "../delta/table.ts";
import { KafkaUnavailableError } from "../kafka/client.ts";

function hostPort(server: string): { hostname: string; port: number } {
  const i = server.lastIndexOf(":");
  return {
    hostname: server.slice(0, i).replace(/^\[|\]$/g, ""),
    port: Number(server.slice(i + 1)),
  };
}

async function reachable(server: string, timeoutMs: number): Promise<boolean> {
  const { hostname, port } = hostPort(server);
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<"timeout">((resolve) => {
    timer = setTimeout(() => resolve("timeout"), timeoutMs);
  });
  const attempt = Deno.connect({ hostname, port }).then((c) => c, () => undefined);
  try {
    const conn = await Promise.race([attempt, timeout]);
    if (conn === "timeout") {
      attempt.then((c) => c?.close());
      return false;
    }
    conn?.close();
    return conn !== undefined;
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Throws KafkaUnavailableError unless a TCP connection to one bootstrap server opens
 * within `timeoutMs` (default 3 s).
 *
 * @example
 * ```ts
 * import type { KafkaSettings } from "../config.ts";
 * import { requireBroker } from "./preflight.ts";
 * // Needs a broker, so the doc test only type-checks it:
 * async function firstCell(kafka: KafkaSettings) {
 *   await requireBroker(kafka); // "cannot reach Kafka at localhost:9092: … kafka:up …"
 * }
 * ```
 */
export async function requireBroker(kafka: KafkaSettings, timeoutMs = 3000): Promise<void> {
  for (const server of kafka.bootstrapServers) {
    if (await reachable(server, timeoutMs)) return;
  }
  const servers = kafka.bootstrapServers.join(",");
  throw new KafkaUnavailableError(
    `cannot reach Kafka at ${servers}: this notebook needs a broker; start the local one with ` +
      "`deno task kafka:up`, or point KAFKA_BOOTSTRAP_SERVERS (env or .env) at yours",
  );
}

/**
 * Throws TableNotFoundError unless a Delta table (a readable `_delta_log`) exists at
 * `location`; `hint` says how to create it.
 *
 * @example
 * ```ts
 * import { requireTable } from "./preflight.ts";
 * const dir = await Deno.makeTempDir();
 * try {
 *   await requireTable(`${dir}/orders_cleaned`, "run deno task consume:stream:cleaned first");
 * } catch (e) {
 *   // TableNotFoundError: no Delta table at …/orders_cleaned: run deno task consume:stream:…
 * }
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export async function requireTable(location: string, hint: string): Promise<void> {
  try {
    await snapshot(location);
  } catch (e) {
    if (e instanceof TableNotFoundError || e instanceof NotFoundError) {
      throw new TableNotFoundError(`no Delta table at ${location}: ${hint}`);
    }
    throw e;
  }
}
