/**
 * The dashboard's HTTP server, on 127.0.0.1 only: `/` the page, `/dashboard.js`,
 * `/dashboard.css`, `/favicon.svg`, `/events` (server-sent events: the whole set of sections on
 * connect, then the sections that changed with every update), `/figures.json` (the last view,
 * for scripts) and `/healthz`. A Content-Security-Policy keeps the page to what this server
 * serves.
 *
 * @module
 */
import { UserError } from "../errors.ts";
import { DASHBOARD_CSS, DASHBOARD_JS, FAVICON_SVG, pageHtml } from "./page.ts";
import { type DashboardView, renderSections } from "./view.ts";

/** The dashboard's port cannot be used. */
export class DashboardPortError extends UserError {
  override name = "DashboardPortError";
}

/** A running dashboard server. */
export interface DashboardServer {
  /** The port it listens on (127.0.0.1). */
  readonly port: number;
  /** The page's URL. */
  readonly url: string;
  /** Sends a new view to every open page. */
  publish(view: DashboardView): void;
  /** Open event streams (pages). */
  clients(): number;
  /** Stops it: event streams are closed, then the server. */
  close(): Promise<void>;
}

const CSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
  "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/**
 * Serves the dashboard on 127.0.0.1:`port` (0: a free port), starting from `initial`.
 *
 * @example
 * ```ts
 * import { productCatalog } from "../orders/catalog.ts";
 * import { DeadLetterCounts, LiveOrders } from "./state.ts";
 * import { serveDashboard } from "./server.ts";
 * const source = { location: "t", state: "starting" as const, message: "", version: null,
 *   committedAt: null, lastOkAt: null };
 * const server = serveDashboard(0, {
 *   updatedAt: Date.now(), intervalMs: 1000,
 *   orders: new LiveOrders(productCatalog([], [], [])).view(Date.now()), cleaned: source,
 *   deadLetters: new DeadLetterCounts().view(), deadLettersSource: source,
 *   republished: null, streams: [],
 * });
 * const res = await fetch(server.url);
 * (await res.text()).includes("Retail orders, live"); // true
 * await server.close();
 * ```
 */
export function serveDashboard(port: number, initial: DashboardView): DashboardServer {
  let view = initial;
  let sections = renderSections(view);
  const enc = new TextEncoder();
  const streams = new Set<ReadableStreamDefaultController<Uint8Array>>();
  const event = (sectionsToSend: Record<string, string>) =>
    enc.encode(
      `event: update\ndata: ${
        JSON.stringify({
          updatedAt: view.updatedAt,
          newestEventMs: view.orders.newestEventMs,
          intervalMs: view.intervalMs,
          sections: sectionsToSend,
        })
      }\n\n`,
    );
  const headers = (type: string) => ({
    "content-type": type,
    "cache-control": "no-store",
    "content-security-policy": CSP,
    "x-content-type-options": "nosniff",
  });
  const handler = (req: Request): Response => {
    if (req.method !== "GET" && req.method !== "HEAD") {
      return new Response("GET only\n", { status: 405 });
    }
    const path = new URL(req.url).pathname;
    switch (path) {
      case "/":
        return new Response(pageHtml(view), { headers: headers("text/html; charset=utf-8") });
      case "/dashboard.js":
        return new Response(DASHBOARD_JS, { headers: headers("text/javascript; charset=utf-8") });
      case "/dashboard.css":
        return new Response(DASHBOARD_CSS, { headers: headers("text/css; charset=utf-8") });
      case "/favicon.svg":
      case "/favicon.ico":
        return new Response(FAVICON_SVG, { headers: headers("image/svg+xml") });
      case "/figures.json":
        return new Response(JSON.stringify(view), {
          headers: headers("application/json; charset=utf-8"),
        });
      case "/healthz":
        return new Response("ok\n", { headers: headers("text/plain; charset=utf-8") });
      case "/events": {
        let self: ReadableStreamDefaultController<Uint8Array>;
        const body = new ReadableStream<Uint8Array>({
          start(c) {
            self = c;
            streams.add(c);
            c.enqueue(enc.encode("retry: 2000\n\n"));
            c.enqueue(event(sections));
          },
          cancel() {
            streams.delete(self);
          },
        });
        return new Response(body, { headers: headers("text/event-stream; charset=utf-8") });
      }
      default:
        return new Response("not found\n", { status: 404 });
    }
  };
  let server: Deno.HttpServer<Deno.NetAddr>;
  try {
    server = Deno.serve({ hostname: "127.0.0.1", port, onListen: () => {} }, handler);
  } catch (e) {
    if (e instanceof Deno.errors.AddrInUse || e instanceof Deno.errors.PermissionDenied) {
      throw new DashboardPortError(
        `--port ${port}: cannot listen on 127.0.0.1:${port} (${
          e instanceof Deno.errors.AddrInUse ? "in use" : "not allowed"
        }); choose another port`,
      );
    }
    throw e;
  }
  // Comments keep idle connections open through proxies and show a dead page quickly.
  const keepAlive = setInterval(() => {
    for (const c of streams) {
      try {
        c.enqueue(enc.encode(": keep-alive\n\n"));
      } catch {
        streams.delete(c);
      }
    }
  }, 15_000);
  const actual = server.addr.port;
  let closed: Promise<void> | undefined;
  return {
    port: actual,
    url: `http://127.0.0.1:${actual}/`,
    publish(next) {
      view = next;
      const fresh = renderSections(next);
      const changed: Record<string, string> = {};
      for (const [id, html] of Object.entries(fresh)) {
        if ((sections as Record<string, string>)[id] !== html) changed[id] = html;
      }
      sections = fresh;
      const bytes = event(changed);
      for (const c of streams) {
        try {
          c.enqueue(bytes);
        } catch {
          streams.delete(c);
        }
      }
    },
    clients: () => streams.size,
    close() {
      closed ??= (async () => {
        clearInterval(keepAlive);
        for (const c of streams) {
          try {
            c.close();
          } catch {
            // already closed
          }
        }
        streams.clear();
        await server.shutdown();
      })();
      return closed;
    },
  };
}
