// Demo: the whole pipeline on the embedded defaults, on this machine.
//   deno task demo
//   deno task demo -- --live [--rate 50] [--port 8050]
// Brings the local Kafka broker up, produces data/ to retail-data-new, reads the topic back with
// the batch consumer, runs each stream once (--available-now) into ./lakehouse, republishes the
// Chicago orders to processed_orders, and shows the Delta tables' history. Each step is the
// notebook a user would run, started the same way.
// With --live: the broker, the live order feed at --rate orders/s, the three streams (metrics on
// 9101–9103) and the dashboard, all running until Ctrl-C, which stops every one of them cleanly
// (and the broker, when this demo started it).

// %% Setup
import { parseArgs } from "node:util";
import { exitOnFailure, log } from "../lib/cli.ts";
import { ConfigError } from "../lib/config.ts";
import { DEFAULT_DASHBOARD_PORT } from "../lib/dashboard/options.ts";
import { type DemoStep, runStep } from "../lib/notebook/demo.ts";
import { liveProcesses, runLive } from "../lib/notebook/live_demo.ts";
import { projectPath } from "../lib/runtime.ts";
import { startBroker, stopBroker } from "../dev/kafka/mod.ts";

exitOnFailure();
const { values: flags } = parseArgs({
  args: Deno.args,
  options: {
    live: { type: "boolean" },
    rate: { type: "string" },
    port: { type: "string" },
    help: { type: "boolean" },
  },
});
if (flags.help) {
  console.log(`Usage: deno task demo [-- --live [--rate N] [--port P]]
Without --live: every step once, on data/. With --live: the live feed at N orders/s (default
50), the three streams and the dashboard on 127.0.0.1:P (default ${DEFAULT_DASHBOARD_PORT}),
until Ctrl-C.`);
  Deno.exit(0);
}
const rate = Number(flags.rate ?? "50");
if (!(rate > 0 && rate <= 100_000)) {
  throw new ConfigError(`--rate must be 1–100000, got '${flags.rate}'`);
}
const port = Number(flags.port ?? DEFAULT_DASHBOARD_PORT);
if (!(Number.isInteger(port) && port > 0 && port < 65536)) {
  throw new ConfigError(`--port must be a port number, got '${flags.port}'`);
}

// %% 1. A local Apache Kafka broker (KRaft, single node) from Maven Central jars
const broker = await startBroker({ log: (l) => log("kafka", l) });
log(
  "kafka",
  `${broker.alreadyRunning ? "already running" : "started"} on ${broker.bootstrap} ` +
    `(pid ${broker.pid}, log ${broker.logFile})`,
);

// %% 2 (--live). Everything at once, until Ctrl-C
if (flags.live) {
  const logDir = projectPath("test-output/demo-live");
  const ended = await runLive(liveProcesses({ rate, port }), {
    base: import.meta.url,
    logDir,
    onReady: (url) => log("open", `${url}  (the dashboard; Ctrl-C stops everything)`),
  });
  if (!broker.alreadyRunning) {
    await stopBroker();
    log("kafka", "stopped (this demo started it)");
  }
  log("done", `logs of each process in ${logDir}`);
  Deno.exit(ended.length > 0 ? 1 : 0);
}

// %% 2. The pipeline, step by step (each shows the last `tail` lines of its output)
const steps: DemoStep[] = [
  {
    title: "produce data/ to retail-data-new (key = customer_id)",
    script: "producer.ts",
    args: ["--quiet"],
    tail: 2,
  },
  {
    title: "batch consumer: read the topic once",
    script: "kafka-consumer-batch.ts",
    args: ["--limit", "3"],
    tail: 14,
  },
  {
    title: "raw stream ▶ Delta orders_raw",
    script: "kafka-consumer-stream.ts",
    args: ["--available-now"],
    tail: 3,
  },
  {
    title: "cleaned stream ▶ Delta orders_cleaned (+ orders_dead_letters)",
    script: "kafka-consumer-stream-cleaned.ts",
    args: ["--available-now"],
    tail: 3,
  },
  {
    title: "producer stream: Chicago orders ▶ processed_orders",
    script: "kafka-producer-stream.ts",
    args: ["--available-now"],
    tail: 3,
  },
  {
    title: "history of orders_cleaned",
    script: "../lib/delta/cli.ts",
    args: ["history", "lakehouse/orders_cleaned"],
    tail: 5,
  },
];
for (const step of steps) await runStep(step, { base: import.meta.url });

// %% 3. Where things are
log("done", "Delta tables in ./lakehouse (orders_raw, orders_cleaned, orders_dead_letters)");
log("done", "inspect them: deno task delta -- show lakehouse/orders_cleaned --limit 5");
log("done", `the broker keeps running on ${broker.bootstrap}; stop it with: deno task kafka:down`);
