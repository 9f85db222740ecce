/**
 * The live demo (`deno task demo -- --live`): the live order feed, the three streams (each with
 * its metrics endpoint) and the dashboard, each a notebook started as its own process the way a
 * user would start it, running together until Ctrl-C. Each process's output goes to a log file;
 * the dashboard's URL is printed. Ctrl-C (or SIGTERM) stops them cleanly: the feed first (its
 * send in flight finishes), then the streams (each finishes its batch), then the dashboard, one
 * signal each; a process still running after the grace time is killed. A process that ends by
 * itself (a port in use, a crash) stops the others, and its last lines are shown.
 *
 * On Linux each process runs in a session of its own (`setsid`), so the terminal's Ctrl-C
 * reaches the demo only, and the demo signals each process once.
 *
 * @module
 */
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { log as cliLog } from "../cli.ts";
import { outputTail } from "./demo.ts";

/** One process of the live demo. */
export interface LiveProcess {
  /** Short name (log file name, messages). */
  name: string;
  /** What it does, in words. */
  title: string;
  /** The script, relative to the base URL. */
  script: string;
  /** Its arguments. */
  args: string[];
  /** Stop order: lower stops first. */
  stage: number;
}

/** Options of {@link liveProcesses}. */
export interface LiveOptions {
  /** Orders per second of the feed (default 50). */
  rate?: number;
  /** The dashboard's port (default 8050, the dashboard's own default). */
  port?: number;
  /** The streams' metrics ports: raw, cleaned, producer (default 9101–9103). */
  metricsPorts?: [number, number, number];
}

/**
 * The live demo's processes: feed, raw, cleaned and producer streams, dashboard.
 *
 * @example
 * ```ts
 * import { liveProcesses } from "./live_demo.ts";
 * liveProcesses({ rate: 20 }).map((p) => p.name); // ["feed", "raw", "cleaned", "producer", "dashboard"]
 * ```
 */
export function liveProcesses(opts: LiveOptions = {}): LiveProcess[] {
  const [raw, cleaned, producer] = opts.metricsPorts ?? [9101, 9102, 9103];
  const port = opts.port ?? 8050;
  return [
    {
      name: "feed",
      title: `live order feed, ${opts.rate ?? 50} orders/s (1% malformed) ▶ the input topic`,
      script: "producer.ts",
      args: ["--rate", String(opts.rate ?? 50), "--bad-rate", "0.01", "--quiet"],
      stage: 0,
    },
    {
      name: "raw",
      title: `raw stream ▶ Delta orders_raw (metrics :${raw})`,
      script: "kafka-consumer-stream.ts",
      args: ["--metrics-port", String(raw)],
      stage: 1,
    },
    {
      name: "cleaned",
      title: `cleaned stream ▶ Delta orders_cleaned + orders_dead_letters (metrics :${cleaned})`,
      script: "kafka-consumer-stream-cleaned.ts",
      args: ["--metrics-port", String(cleaned)],
      stage: 1,
    },
    {
      name: "producer",
      title: `producer stream: Chicago orders ▶ the output topic (metrics :${producer})`,
      script: "kafka-producer-stream.ts",
      args: ["--metrics-port", String(producer)],
      stage: 1,
    },
    {
      name: "dashboard",
      title: `dashboard on http://127.0.0.1:${port}/`,
      script: "dashboard.ts",
      args: [
        "--port",
        String(port),
        "--metrics",
        `raw=${raw},cleaned=${cleaned},producer=${producer}`,
      ],
      stage: 2,
    },
  ];
}

/** Options of {@link runLive}. */
export interface RunLiveOptions {
  /** Where scripts are resolved from (the demo notebook's folder). */
  base: string | URL;
  /** Folder of the log files (created). */
  logDir: string;
  /** Milliseconds a process gets to stop after its signal (default 30 s). */
  graceMs?: number;
  /** Stops the demo (default: the first SIGINT/SIGTERM). */
  signal?: AbortSignal;
  /** Called with the dashboard's URL once it serves. */
  onReady?: (url: string) => void;
  /** Where events go (default lib/cli.ts log). */
  log?: (tag: string, message: string) => void;
}

interface Running {
  p: LiveProcess;
  child: Deno.ChildProcess;
  logFile: string;
  status: Promise<Deno.CommandStatus>;
  exited: boolean;
}

async function hasSetsid(): Promise<boolean> {
  if (Deno.build.os !== "linux") return false;
  try {
    const o = await new Deno.Command("setsid", {
      args: ["--version"],
      stdout: "null",
      stderr: "null",
    })
      .output();
    return o.success;
  } catch {
    return false;
  }
}

/**
 * Runs the processes until `signal` aborts (default: Ctrl-C / SIGTERM) or one of them ends;
 * then stops the others in stage order. Resolves with the processes that ended by themselves
 * (empty after a clean Ctrl-C).
 */
export async function runLive(
  processes: readonly LiveProcess[],
  options: RunLiveOptions,
): Promise<string[]> {
  const log = options.log ?? cliLog;
  const grace = options.graceMs ?? 30_000;
  await Deno.mkdir(options.logDir, { recursive: true });
  const isolated = await hasSetsid();
  const stop = new AbortController();
  const removers: (() => void)[] = [];
  if (options.signal) options.signal.addEventListener("abort", () => stop.abort(), { once: true });
  else {
    const handler = () => {
      if (stop.signal.aborted) {
        log("signal", "stopping at once");
        Deno.exit(130);
      }
      log("signal", "stopping every process (signal again to stop at once)");
      stop.abort();
    };
    const sigs: Deno.Signal[] = Deno.build.os === "windows" ? ["SIGINT"] : ["SIGINT", "SIGTERM"];
    for (const s of sigs) {
      Deno.addSignalListener(s, handler);
      removers.push(() => Deno.removeSignalListener(s, handler));
    }
  }
  const running: Running[] = [];
  const ended: string[] = [];
  const someoneEnded = new AbortController();
  for (const p of processes) {
    const script = fileURLToPath(new URL(p.script, options.base));
    const logFile = join(options.logDir, `${p.name}.log`);
    const file = await Deno.open(logFile, { write: true, create: true, truncate: true });
    const deno = [Deno.execPath(), "run", "-A", script, ...p.args];
    const child = new Deno.Command(isolated ? "setsid" : deno[0], {
      args: isolated ? deno : deno.slice(1),
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
      env: { KAFKAJS_NO_PARTITIONER_WARNING: "1", NO_COLOR: "1" },
    }).spawn();
    const w = file.writable.getWriter();
    const pump = async (s: ReadableStream<Uint8Array>) => {
      for await (const chunk of s) await w.write(chunk);
    };
    const pumped = Promise.all([pump(child.stdout), pump(child.stderr)]).finally(() =>
      w.close().catch(() => {})
    );
    const r: Running = { p, child, logFile, status: child.status, exited: false };
    r.status = child.status.then(async (s) => {
      r.exited = true;
      await pumped.catch(() => {});
      if (!stop.signal.aborted) {
        ended.push(p.name);
        someoneEnded.abort();
      }
      return s;
    });
    running.push(r);
    log("start", `${p.title} (pid ${child.pid}, log ${logFile})`);
  }
  const dashboard = processes.find((p) => p.name === "dashboard");
  if (dashboard) {
    const port = dashboard.args[dashboard.args.indexOf("--port") + 1];
    const url = `http://127.0.0.1:${port}/`;
    (async () => {
      for (let i = 0; i < 300 && !stop.signal.aborted && !someoneEnded.signal.aborted; i++) {
        try {
          const res = await fetch(new URL("/healthz", url));
          await res.body?.cancel();
          if (res.ok) {
            options.onReady?.(url);
            return;
          }
        } catch {
          // not yet
        }
        await new Promise((r) => setTimeout(r, 200));
      }
    })();
  }
  await new Promise<void>((resolve) => {
    if (stop.signal.aborted || someoneEnded.signal.aborted) return resolve();
    stop.signal.addEventListener("abort", () => resolve(), { once: true });
    someoneEnded.signal.addEventListener("abort", () => resolve(), { once: true });
  });
  for (const name of ended) {
    const r = running.find((x) => x.p.name === name)!;
    const s = await r.status;
    log("ended", `${name} ended by itself (exit ${s.code}); its last lines:`);
    const text = await Deno.readTextFile(r.logFile).catch(() => "");
    for (const l of outputTail(text, 8)) console.log(`    ${l}`);
  }
  stop.abort();
  for (const stage of [...new Set(processes.map((p) => p.stage))].sort((a, b) => a - b)) {
    await Promise.all(
      running.filter((r) => r.p.stage === stage && !r.exited).map(async (r) => {
        // Without a session of its own, the terminal's Ctrl-C reached it already.
        if (isolated || options.signal) {
          try {
            r.child.kill("SIGINT");
          } catch {
            // gone
          }
        }
        const timer = setTimeout(() => {
          log("kill", `${r.p.name} did not stop within ${grace / 1000} s: killed`);
          try {
            r.child.kill("SIGKILL");
          } catch {
            // gone
          }
        }, grace);
        const s = await r.status;
        clearTimeout(timer);
        log("stopped", `${r.p.name} (exit ${s.code}${s.signal ? `, ${s.signal}` : ""})`);
      }),
    );
  }
  for (const remove of removers) remove();
  return ended;
}
