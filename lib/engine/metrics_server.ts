/**
 * The metrics server of a stream (`--metrics-port P`): on 127.0.0.1:P, `/metrics` in the
 * Prometheus text format and `/healthz` (200 `ok`, or 503 with a one-line reason). It runs
 * while the query runs; the loop stops it when the query ends.
 *
 * @module
 */
import { UserError } from "../errors.ts";
import type { StreamMetrics } from "./metrics.ts";

/** The metrics port cannot be used (taken, or not allowed). */
export class MetricsPortError extends UserError {
  override name = "MetricsPortError";
}

/** A running metrics server. */
export interface MetricsServer {
  /** The port it listens on (127.0.0.1). */
  readonly port: number;
  /** Stops it (idempotent). */
  close(): Promise<void>;
}

/** The content type of the text exposition format. */
export const EXPOSITION_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";

/**
 * Serves a query's metrics on 127.0.0.1:`port`; undefined when `port` is 0 (off).
 *
 * @example
 * ```ts
 * import { StreamMetrics } from "./metrics.ts";
 * import { serveMetrics } from "./metrics_server.ts";
 * const metrics = new StreamMetrics({
 *   query: "orders_raw", topic: "retail-data-new", sessionTimeoutMs: 30_000,
 *   healthTimeoutMs: 60_000,
 * });
 * const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
 * const port = listener.addr.port;
 * listener.close();
 * const server = serveMetrics(port, metrics)!;
 * const res = await fetch(`http://127.0.0.1:${port}/healthz`);
 * console.log(res.status, await res.text()); // 200 ok
 * await server.close();
 * ```
 */
export function serveMetrics(port: number, metrics: StreamMetrics): MetricsServer | undefined {
  if (port === 0) return undefined;
  const text = (body: string, status = 200, type = "text/plain; charset=utf-8") =>
    new Response(body, { status, headers: { "content-type": type } });
  let server: Deno.HttpServer<Deno.NetAddr>;
  try {
    server = Deno.serve({ hostname: "127.0.0.1", port, onListen: () => {} }, (req) => {
      if (req.method !== "GET" && req.method !== "HEAD") return text("GET only\n", 405);
      const path = new URL(req.url).pathname;
      if (path === "/metrics") return text(metrics.render(), 200, EXPOSITION_CONTENT_TYPE);
      if (path === "/healthz") {
        const h = metrics.health();
        return h.ok ? text("ok\n") : text(`${h.reason}\n`, 503);
      }
      return text("not found: try /metrics or /healthz\n", 404);
    });
  } catch (e) {
    if (e instanceof Deno.errors.AddrInUse || e instanceof Deno.errors.PermissionDenied) {
      throw new MetricsPortError(
        `--metrics-port ${port}: cannot listen on 127.0.0.1:${port} (${
          e instanceof Deno.errors.AddrInUse ? "in use" : "not allowed"
        }); choose another port`,
      );
    }
    throw e;
  }
  let closed: Promise<void> | undefined;
  return {
    port,
    close() {
      closed ??= server.shutdown();
      return closed;
    },
  };
}
