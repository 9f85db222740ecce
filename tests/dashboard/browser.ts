/**
 * A live page in headless Chromium (Debian's package), driven over the DevTools protocol: the
 * browser starts with a fresh profile and `--remote-debugging-port=0`, the test connects to the
 * page's WebSocket (Deno's own), navigates, evaluates expressions in the page as often as it
 * likes (the DOM before and after more orders), collects every console message, uncaught error
 * and failed load, and takes screenshots. The proxy flags of tests/report/chromium.ts refuse
 * every request but those to 127.0.0.1 (the page's own server): the page must work offline.
 *
 * @module
 */
import { CHROMIUM_FLAGS } from "../report/chromium.ts";

/** A page under test. */
export interface LivePage {
  /** Evaluates an expression in the page; returns its value (JSON-serializable). */
  evaluate<T = unknown>(expression: string): Promise<T>;
  /** Waits until `expression` is truthy (polling), or throws after `timeoutMs`. */
  waitFor<T = unknown>(expression: string, timeoutMs?: number): Promise<T>;
  /** A PNG screenshot of the whole page. */
  screenshot(): Promise<Uint8Array>;
  /** Console messages, uncaught errors and failed loads so far. */
  errors(): string[];
  /** Every console message so far (any level). */
  console(): string[];
  /** Closes the browser and removes its profile. */
  close(): Promise<void>;
}

interface Pending {
  resolve: (v: Record<string, unknown>) => void;
  reject: (e: Error) => void;
}

async function devtoolsPort(child: Deno.ChildProcess): Promise<{ port: number; log: string[] }> {
  const log: string[] = [];
  const reader = child.stderr.pipeThrough(new TextDecoderStream()).getReader();
  let buf = "";
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    const { value, done } = await reader.read();
    if (done) break;
    buf += value;
    const m = /DevTools listening on ws:\/\/127\.0\.0\.1:(\d+)\//.exec(buf);
    if (m) {
      // Keep draining stderr so Chromium never blocks on a full pipe.
      (async () => {
        try {
          for (;;) {
            const r = await reader.read();
            if (r.done) break;
            log.push(r.value);
          }
        } catch {
          // closed
        }
      })();
      return { port: Number(m[1]), log };
    }
  }
  throw new Error(`chromium did not open its DevTools port:\n${buf.slice(-2000)}`);
}

/**
 * Opens `url` in headless Chromium at `width`×`height` and waits for the load event.
 *
 * @example
 * ```ts
 * const page = await openPage("/usr/bin/chromium", "http://127.0.0.1:8050/");
 * await page.evaluate("document.title");
 * await page.close();
 * ```
 */
export async function openPage(
  chromiumPath: string,
  url: string,
  size = { width: 1360, height: 900 },
): Promise<LivePage> {
  const profile = await Deno.makeTempDir({ prefix: "chromium-live-" });
  // The report's flags, but 127.0.0.1 bypasses the refusing proxy (the page's own server).
  const flags = CHROMIUM_FLAGS.filter((f) => !f.startsWith("--proxy-bypass-list"));
  const child = new Deno.Command(chromiumPath, {
    args: [
      ...flags,
      "--proxy-bypass-list=127.0.0.1",
      `--user-data-dir=${profile}`,
      "--remote-debugging-port=0",
      "--remote-allow-origins=*",
      `--window-size=${size.width},${size.height}`,
      "about:blank",
    ],
    stdout: "null",
    stderr: "piped",
  }).spawn();
  const cleanup = async () => {
    try {
      child.kill("SIGKILL");
    } catch {
      // gone
    }
    await child.status;
    await Deno.remove(profile, { recursive: true }).catch(() => {});
  };
  let ws: WebSocket | undefined;
  try {
    const { port } = await devtoolsPort(child);
    const targets = await (await fetch(`http://127.0.0.1:${port}/json/list`)).json() as {
      type: string;
      webSocketDebuggerUrl: string;
    }[];
    const target = targets.find((t) => t.type === "page");
    if (!target) throw new Error("chromium has no page target");
    ws = new WebSocket(target.webSocketDebuggerUrl);
    await new Promise<void>((resolve, reject) => {
      ws!.onopen = () => resolve();
      ws!.onerror = () => reject(new Error("cannot connect to the page's DevTools socket"));
    });
    const socket = ws;
    let id = 0;
    const pending = new Map<number, Pending>();
    const errors: string[] = [];
    const consoleLines: string[] = [];
    let loaded: (() => void) | undefined;
    socket.onmessage = (e) => {
      const msg = JSON.parse(e.data as string);
      if (msg.id !== undefined) {
        const p = pending.get(msg.id);
        pending.delete(msg.id);
        if (msg.error) p?.reject(new Error(`${msg.error.message} (${msg.error.code})`));
        else p?.resolve(msg.result);
        return;
      }
      const params = msg.params ?? {};
      switch (msg.method) {
        case "Runtime.consoleAPICalled": {
          const text = `${params.type}: ${
            (params.args ?? []).map((a: { value?: unknown; description?: string }) =>
              a.value ?? a.description
            ).join(" ")
          }`;
          consoleLines.push(text);
          if (params.type === "error" || params.type === "assert") errors.push(text);
          break;
        }
        case "Runtime.exceptionThrown":
          errors.push(
            `uncaught: ${
              params.exceptionDetails?.exception?.description ?? params.exceptionDetails?.text
            }`,
          );
          break;
        case "Log.entryAdded":
          consoleLines.push(`${params.entry.level}: ${params.entry.text}`);
          if (params.entry.level === "error" || params.entry.level === "warning") {
            errors.push(`${params.entry.source}: ${params.entry.text} ${params.entry.url ?? ""}`);
          }
          break;
        case "Network.loadingFailed":
          if (!params.canceled) errors.push(`load failed: ${params.errorText}`);
          break;
        case "Page.loadEventFired":
          loaded?.();
          break;
      }
    };
    const send = (method: string, params: Record<string, unknown> = {}) =>
      new Promise<Record<string, unknown>>((resolve, reject) => {
        const n = ++id;
        pending.set(n, { resolve, reject });
        socket.send(JSON.stringify({ id: n, method, params }));
      });
    for (const d of ["Runtime", "Log", "Page", "Network"]) await send(`${d}.enable`);
    const load = new Promise<void>((r) => (loaded = r));
    await send("Page.navigate", { url });
    await Promise.race([
      load,
      new Promise((_, reject) =>
        setTimeout(() => reject(new Error(`${url} did not load in 30 s`)), 30_000)
      ),
    ]);
    const evaluate = async <T>(expression: string): Promise<T> => {
      const r = await send("Runtime.evaluate", { expression, returnByValue: true });
      const details = r.exceptionDetails as { text?: string } | undefined;
      if (details) throw new Error(`evaluate failed: ${details.text} in ${expression}`);
      return (r.result as { value: T }).value;
    };
    return {
      evaluate,
      async waitFor<T>(expression: string, timeoutMs = 20_000): Promise<T> {
        const deadline = Date.now() + timeoutMs;
        for (;;) {
          const v = await evaluate<T>(expression);
          if (v) return v;
          if (Date.now() > deadline) {
            throw new Error(`timed out after ${timeoutMs} ms waiting for: ${expression}`);
          }
          await new Promise((r) => setTimeout(r, 200));
        }
      },
      async screenshot() {
        const metrics = await send("Page.getLayoutMetrics");
        const content = (metrics.cssContentSize ?? metrics.contentSize) as {
          width: number;
          height: number;
        };
        const r = await send("Page.captureScreenshot", {
          format: "png",
          captureBeyondViewport: true,
          clip: {
            x: 0,
            y: 0,
            width: Math.ceil(size.width),
            height: Math.ceil(content.height),
            scale: 1,
          },
        });
        const bin = atob(r.data as string);
        return Uint8Array.from(bin, (c) => c.charCodeAt(0));
      },
      errors: () => [...errors],
      console: () => [...consoleLines],
      async close() {
        try {
          socket.close();
        } catch {
          // closed
        }
        await cleanup();
      },
    };
  } catch (e) {
    try {
      ws?.close();
    } catch {
      // closed
    }
    await cleanup();
    throw e;
  }
}
