/**
 * A real Prometheus for the metrics tests: Debian's `prometheus` package (the server and
 * `promtool`), installed with apt-get when missing ({@link setupPrometheus}; tests/run.ts calls
 * it, as root on CI), a server of our own per test ({@link startPrometheus}: a temp config and
 * data dir, 127.0.0.1 on a free port, stopped by its pid), and `promtool check metrics`.
 *
 * @module
 */
import { join } from "node:path";
import { freePort } from "./kafka.ts";

/** The binaries of Debian's package. */
export const PROMETHEUS = "prometheus";
/** Prometheus's command-line tool. */
export const PROMTOOL = "promtool";

async function run(
  cmd: string,
  args: string[],
  env: Record<string, string> = {},
): Promise<{ code: number; out: string }> {
  try {
    const o = await new Deno.Command(cmd, { args, env, stdout: "piped", stderr: "piped" })
      .output();
    const d = new TextDecoder();
    return { code: o.code, out: d.decode(o.stdout) + d.decode(o.stderr) };
  } catch (e) {
    return { code: 127, out: String(e) };
  }
}

/** True when both `prometheus` and `promtool` run. */
export async function prometheusAvailable(): Promise<boolean> {
  return (await run(PROMETHEUS, ["--version"])).code === 0 &&
    (await run(PROMTOOL, ["--version"])).code === 0;
}

/**
 * Installs Debian's `prometheus` package when `prometheus` or `promtool` is missing (needs root,
 * as on CI). Quick when already there. The package's service is not started by this: only
 * servers the tests start themselves run.
 */
export async function setupPrometheus(log: (line: string) => void = console.log): Promise<void> {
  if (await prometheusAvailable()) {
    log("prometheus: already installed");
    return;
  }
  if (Deno.uid() !== 0) {
    throw new Error(
      "prometheus: not installed and not root; run `apt-get install prometheus` as root",
    );
  }
  const env = { DEBIAN_FRONTEND: "noninteractive" };
  log("prometheus: apt-get update");
  const update = await run("apt-get", ["update"], env);
  if (update.code !== 0) {
    throw new Error(`apt-get update failed: ${update.out.trim().split("\n").at(-1)}`);
  }
  log("prometheus: apt-get install prometheus");
  const install = await run(
    "apt-get",
    ["install", "-y", "--no-install-recommends", "prometheus"],
    env,
  );
  if (install.code !== 0 || !(await prometheusAvailable())) {
    throw new Error(
      `apt-get install prometheus failed: ${install.out.trim().split("\n").at(-1)}`,
    );
  }
  log(`prometheus: ${(await run(PROMETHEUS, ["--version"])).out.split("\n")[0]}`);
}

/** `promtool check metrics` on an exposition text: its exit code and what it printed. */
export async function promtoolCheckMetrics(text: string): Promise<{ code: number; out: string }> {
  const child = new Deno.Command(PROMTOOL, {
    args: ["check", "metrics"],
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const writer = child.stdin.getWriter();
  await writer.write(new TextEncoder().encode(text));
  await writer.close();
  const o = await child.output();
  const d = new TextDecoder();
  return { code: o.code, out: (d.decode(o.stdout) + d.decode(o.stderr)).trim() };
}

/** One series of an instant query's answer. */
export interface PromSample {
  /** Its labels (with `__name__`). */
  metric: Record<string, string>;
  /** Its value as Prometheus wrote it. */
  value: string;
}

/** A running Prometheus server of a test. */
export interface PrometheusServer {
  /** Its base URL (http://127.0.0.1:port). */
  url: string;
  /** An instant query through the HTTP API (`/api/v1/query`). */
  query(expr: string): Promise<PromSample[]>;
  /** Stops the server (by its pid) and removes its directory. */
  stop(): Promise<void>;
}

/**
 * Starts Prometheus scraping `targets` (host:port, /metrics) every `intervalS` seconds, with
 * its own config and data in a temp dir, on 127.0.0.1 and a free port; resolves once ready.
 */
export async function startPrometheus(targets: string[], intervalS = 1): Promise<PrometheusServer> {
  const dir = await Deno.makeTempDir({ prefix: "prometheus-test-" });
  const port = freePort();
  const config = join(dir, "prometheus.yml");
  await Deno.writeTextFile(
    config,
    [
      "global:",
      `  scrape_interval: ${intervalS}s`,
      `  scrape_timeout: ${intervalS}s`,
      `  evaluation_interval: ${intervalS}s`,
      "scrape_configs:",
      "  - job_name: streams",
      "    static_configs:",
      `      - targets: [${targets.map((t) => JSON.stringify(t)).join(", ")}]`,
      "",
    ].join("\n"),
  );
  const child = new Deno.Command(PROMETHEUS, {
    args: [
      `--config.file=${config}`,
      `--storage.tsdb.path=${join(dir, "data")}`,
      `--web.listen-address=127.0.0.1:${port}`,
      "--log.level=warn",
    ],
    stdout: "null",
    stderr: "piped",
  }).spawn();
  const stderr: string[] = [];
  const reading = (async () => {
    const d = new TextDecoder();
    for await (const chunk of child.stderr) stderr.push(d.decode(chunk));
  })();
  const url = `http://127.0.0.1:${port}`;
  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    try {
      Deno.kill(child.pid, "SIGTERM");
    } catch { /* already gone */ }
    await child.status;
    await reading.catch(() => {});
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  };
  const status = child.status.then((s) => s);
  try {
    for (let i = 0;; i++) {
      const exited = await Promise.race([status, new Promise((r) => setTimeout(r, 200, false))]);
      if (exited) throw new Error(`prometheus exited at start: ${stderr.join("").trim()}`);
      try {
        const res = await fetch(`${url}/-/ready`);
        await res.body?.cancel();
        if (res.ok) break;
      } catch { /* not listening yet */ }
      if (i > 150) throw new Error(`prometheus not ready after 30 s: ${stderr.join("").trim()}`);
    }
  } catch (e) {
    await stop();
    throw e;
  }
  return {
    url,
    async query(expr) {
      const res = await fetch(`${url}/api/v1/query?query=${encodeURIComponent(expr)}`);
      const body = await res.json() as {
        status: string;
        error?: string;
        data?: {
          resultType: string;
          result: { metric: Record<string, string>; value: [number, string] }[];
        };
      };
      if (body.status !== "success") throw new Error(`query ${expr}: ${body.error}`);
      return body.data!.result.map((r) => ({ metric: r.metric, value: r.value[1] }));
    },
    stop,
  };
}

/** Runs `fn` until it returns a value other than undefined, every 250 ms, for up to `ms`. */
export async function eventually<T>(
  what: string,
  fn: () => Promise<T | undefined>,
  ms = 30_000,
): Promise<T> {
  const until = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v !== undefined) return v;
    if (Date.now() > until) throw new Error(`gave up waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}
