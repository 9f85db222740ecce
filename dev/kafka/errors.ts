/**
 * The errors of the local broker's tooling. Each message says what went wrong and what to do
 * (install a tool, free a port, read the broker log), so each is a {@link UserError}: the CLI
 * prints it as one line. TLS failures have their own {@link TlsSetupError} in `tls.ts`.
 *
 * @module
 */
import { UserError } from "../../lib/errors.ts";

/**
 * `java` or `mvn` is not installed or not on PATH; install it or set JAVA_HOME.
 *
 * @example
 * ```ts
 * throw new ToolMissingError("'mvn' not found: install Maven 3 (apt-get install maven)");
 * ```
 */
export class ToolMissingError extends UserError {
  /** Error kind, for `catch` blocks and log lines. */
  override name = "ToolMissingError";
}

/**
 * Maven could not resolve the Kafka jars (network, proxy or mirror settings).
 *
 * @example
 * ```ts
 * try {
 *   await ensureJars();
 * } catch (e) {
 *   if (e instanceof JarsUnavailableError) console.error(e.message); // says what to check
 * }
 * ```
 */
export class JarsUnavailableError extends UserError {
  /** Error kind, for `catch` blocks and log lines. */
  override name = "JarsUnavailableError";
}

/**
 * The port the broker should listen on is taken by a process this tool did not start.
 *
 * @example
 * ```ts
 * throw new PortInUseError("port 127.0.0.1:9092 is already in use; pick another with --port");
 * ```
 */
export class PortInUseError extends UserError {
  /** Error kind, for `catch` blocks and log lines. */
  override name = "PortInUseError";
}

/**
 * The broker process exited or did not become ready in time; see its log.
 *
 * @example
 * ```ts
 * const e = new BrokerStartError("the broker exited during startup", ".cache/kafka/broker.log");
 * console.log(e.logFile); // ".cache/kafka/broker.log"
 * ```
 */
export class BrokerStartError extends UserError {
  /** Error kind, for `catch` blocks and log lines. */
  override name = "BrokerStartError";
  /** Path of the broker's log file. */
  readonly logFile: string;
  /** Create the error; `logFile` tells the reader where to look. */
  constructor(message: string, logFile: string, options?: ErrorOptions) {
    super(message, options);
    this.logFile = logFile;
  }
}
