/**
 * Producer stream scale-out: throughput and CPU per record for one, two and three copies of one
 * query on a 6-partition topic, in filter mode and in aggregate mode with --repartition. Prints
 * figures (a script, not Deno.bench):
 *
 *   deno task bench:producer-scale [-- --orders 300000 --copies 1,2,3 --modes filter,aggregate]
 *
 * Steps: generate N orders (lib/orders/generate.ts, or reuse --dir), publish them once to a
 * fresh 6-partition topic, then for each mode and each copy count start that many copies of
 * notebooks/kafka-producer-stream.ts together, each with --available-now and one fresh
 * --query-name, so that they share the partitions through the consumer group and all stop when
 * the whole topic is done. Each copy runs under `/usr/bin/time -f '%e %U %S %M'`:
 * - wall = first start to last exit (startup, group joins and rebalances included);
 * - CPU = user+sys of every copy, summed; per record = CPU / input records;
 * - RSS = the largest copy's peak.
 * The output is read back with read_committed and must equal the one-copy run's (record count in
 * filter mode; every window's final totals in aggregate mode), else the run fails.
 * Topics are deleted at the end.
 */
import { parseArgs } from "node:util";
import { join } from "node:path";
import { Kafka, Partitioners } from "kafkajs";
import { kafkaConfig } from "../../lib/kafka/client.ts";
import { quietTransactionLogs } from "../../lib/kafka/sink.ts";
import { publishOrders } from "../../lib/orders/publish.ts";
import { readLines } from "../../lib/orders/lines.ts";
import { readRange, resolveRange } from "../../lib/kafka/source.ts";
import {
  bootstrapServers,
  createTopic,
  deleteTopics,
  uniqueName,
  withAdmin,
} from "../support/kafka.ts";

const ROOT = new URL("../..", import.meta.url).pathname;
const NOTEBOOK = join(ROOT, "notebooks", "kafka-producer-stream.ts");

const { values } = parseArgs({
  args: Deno.args[0] === "--" ? Deno.args.slice(1) : Deno.args,
  options: {
    orders: { type: "string", default: "300000" },
    copies: { type: "string", default: "1,2,3" },
    modes: { type: "string", default: "filter,aggregate" },
    dir: { type: "string" },
  },
});
const N = Number(values.orders);
const copyCounts = values.copies.split(",").map(Number);
const modes = values.modes.split(",") as ("filter" | "aggregate")[];
for (const m of modes) {
  if (m !== "filter" && m !== "aggregate") throw new Error(`unknown mode '${m}'`);
}
const servers = bootstrapServers();
const kafka = new Kafka(quietTransactionLogs(kafkaConfig({
  bootstrapServers: servers,
  securityProtocol: "PLAINTEXT",
  clientId: "bench",
})));
const fmt = (n: number) => Math.round(n).toLocaleString("en-US");

let dir = values.dir;
let made = false;
if (!dir) {
  dir = await Deno.makeTempDir({ prefix: "ps-scale-bench-" });
  made = true;
  const gen = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "lib/orders/generate.ts", "--orders", String(N), "--out", dir],
    cwd: ROOT,
    stdout: "null",
    stderr: "inherit",
  }).output();
  if (!gen.success) throw new Error("data generation failed");
}
const files = [...Deno.readDirSync(dir)].filter((e) => e.name.endsWith(".json")).map((e) =>
  join(dir!, e.name)
).sort();

const topic = uniqueName("bench-scale-in");
const logDir = await Deno.makeTempDir({ prefix: "ps-scale-logs-" });
console.log(`copies' logs: ${logDir}`);
const prefix = uniqueName("bench-scale");
await createTopic(kafka, topic, 6);
const producer = kafka.producer({
  idempotent: true,
  maxInFlightRequests: 1,
  createPartitioner: Partitioners.DefaultPartitioner,
});
await producer.connect();
const pub = await publishOrders(producer, topic, readLines(files));
await producer.disconnect();
console.log(`published ${fmt(pub.sent)} orders to ${topic} (6 partitions)`);

const decoder = new TextDecoder();

/** The read_committed output: the last value per key (aggregate) or every record (filter). */
async function readOutput(out: string): Promise<{ records: number; last: Map<string, string> }> {
  const ranges = await withAdmin(
    kafka,
    (admin) => resolveRange(admin, out, { kind: "earliest" }, { kind: "latest" }),
  );
  let records = 0;
  const last = new Map<string, string>();
  for await (const batch of readRange(kafka, out, ranges, { timestampType: 0 })) {
    for (const r of batch) {
      records++;
      const key = r.key === null ? "" : decoder.decode(r.key);
      last.set(key, r.value === null ? "" : decoder.decode(r.value));
    }
  }
  return { records, last };
}

interface Run {
  mode: string;
  copies: number;
  wall: number;
  cpu: number;
  input: number;
  rss: number;
  output: number;
}

async function run(mode: "filter" | "aggregate", copies: number): Promise<Run> {
  const query = `${prefix}-${mode}-${copies}`;
  const out = `${query}-out`;
  const modeArgs = mode === "filter"
    ? ["--city", "Chicago"]
    : ["--aggregate", "city", "--window", "1 minute", "--watermark", "2 hours", "--repartition"];
  const args = [
    "run",
    "-A",
    NOTEBOOK,
    "--bootstrap-servers",
    servers.join(","),
    "--topic",
    topic,
    "--output-topic",
    out,
    "--query-name",
    query,
    "--available-now",
    "--max-offsets-per-trigger",
    "20000",
    "--session-timeout-ms",
    "6000",
    "--progress",
    "json",
    ...modeArgs,
  ];
  const t0 = performance.now();
  const children = [];
  for (let i = 0; i < copies; i++) {
    const timeFile = await Deno.makeTempFile({ prefix: "ps-scale-time-" });
    const child = new Deno.Command("/usr/bin/time", {
      args: ["-f", "%e %U %S %M", "-o", timeFile, Deno.execPath(), ...args],
      cwd: ROOT,
      env: { KAFKAJS_NO_PARTITIONER_WARNING: "1", DENO_NO_UPDATE_CHECK: "1" },
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    // Read the output while it runs (a child whose pipe fills up blocks); its log goes to a file
    // named on the console, to follow a run or see why it failed.
    const log = join(logDir, `${mode}-${copies}-${i + 1}.log`);
    const file = await Deno.open(log, { write: true, create: true, truncate: true });
    const logged = child.stderr.pipeTo(file.writable);
    const out = new Response(child.stdout).arrayBuffer();
    children.push({
      timeFile,
      log,
      done: Promise.all([child.status, out, logged]).then(([status, o]) => ({
        success: status.success,
        code: status.code,
        stdout: new Uint8Array(o),
      })),
    });
  }
  let cpu = 0;
  let rss = 0;
  let input = 0;
  for (const c of children) {
    const o = await c.done;
    const stdout = decoder.decode(o.stdout);
    if (!o.success) {
      throw new Error(
        `${mode}, ${copies} copies: a copy failed (${o.code})\n${
          (await Deno.readTextFile(c.log)).slice(-3000)
        }`,
      );
    }
    const [, user, sys, maxKb] = (await Deno.readTextFile(c.timeFile)).trim().split(/\s+/)
      .slice(-4).map(Number);
    await Deno.remove(c.timeFile);
    cpu += user + sys;
    rss = Math.max(rss, maxKb * 1024);
    // The last line is the copy's totals ({query, input, …}): the records it committed.
    for (const line of stdout.split("\n")) {
      if (!line.startsWith("{")) continue;
      const o = JSON.parse(line);
      if ("query" in o && "input" in o) input += Number(o.input);
    }
  }
  const wall = (performance.now() - t0) / 1000;
  return { mode, copies, wall, cpu, input, rss, output: 0 };
}

const results: Run[] = [];
const baseline = new Map<string, Map<string, string> | number>();
try {
  for (const mode of modes) {
    for (const copies of copyCounts) {
      const r = await run(mode, copies);
      // The output must equal the first run's of this mode.
      const out = await readOutput(`${prefix}-${mode}-${copies}-out`);
      const key = mode === "filter" ? out.records : out.last;
      const base = baseline.get(mode);
      if (base === undefined) baseline.set(mode, key);
      else if (mode === "filter" ? base !== key : !sameMap(base as Map<string, string>, out.last)) {
        throw new Error(`${mode}, ${copies} copies: the output differs from the first run's`);
      }
      r.output = mode === "filter" ? out.records : out.last.size;
      results.push(r);
      console.log(
        `${mode.padEnd(9)} ${copies} cop${copies === 1 ? "y" : "ies"}: ${
          r.wall.toFixed(1)
        } s wall, ${fmt(N / r.wall)} orders/s, CPU ${r.cpu.toFixed(1)} s = ${
          (r.cpu / N * 1e6).toFixed(1)
        } µs/order (copies read ${fmt(r.input)} records), peak RSS ${
          (r.rss / 2 ** 20).toFixed(0)
        } MiB per copy, ${fmt(r.output)} ${mode === "filter" ? "records" : "windows"} out`,
      );
    }
  }
} finally {
  const all = await withAdmin(kafka, (admin) => admin.listTopics());
  await deleteTopics(kafka, all.filter((t) => t === topic || t.startsWith(prefix)));
  if (made) await Deno.remove(dir, { recursive: true });
}

function sameMap(a: Map<string, string>, b: Map<string, string>): boolean {
  if (a.size !== b.size) return false;
  for (const [k, v] of a) if (b.get(k) !== v) return false;
  return true;
}

console.log(JSON.stringify({
  orders: N,
  partitions: 6,
  cores: navigator.hardwareConcurrency,
  runs: results.map((r) => ({
    mode: r.mode,
    copies: r.copies,
    wallSeconds: Number(r.wall.toFixed(2)),
    ordersPerSecond: Math.round(N / r.wall),
    cpuMicrosPerOrder: Number((r.cpu / N * 1e6).toFixed(2)),
    peakRssMiB: Math.round(r.rss / 2 ** 20),
  })),
}));
