// Demo: the whole pipeline on the embedded defaults, on this machine.
//   deno task demo
// Brings the local Kafka broker up, produces data/ to retail-data-new, reads the topic back with
// the batch consumer, runs each stream once (--available-now) into ./lakehouse, republishes the
// Chicago orders to processed_orders, and shows the Delta tables' history. Each step is the
// notebook a user would run, started the same way.

// %% Setup
import { exitOnFailure, log } from "../lib/cli.ts";
import { type DemoStep, runStep } from "../lib/notebook/demo.ts";
import { startBroker } from "../dev/kafka/mod.ts";

exitOnFailure();

// %% 1. A local Apache Kafka broker (KRaft, single node) from Maven Central jars
const broker = await startBroker({ log: (l) => log("kafka", l) });
log(
  "kafka",
  `${broker.alreadyRunning ? "already running" : "started"} on ${broker.bootstrap} ` +
    `(pid ${broker.pid}, log ${broker.logFile})`,
);

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
