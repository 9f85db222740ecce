/**
 * Stream benchmark (a script that prints figures, not a Deno.bench): CPU time per order of every
 * stream, startup included, next to wall time, peak RSS and (Delta streams) Parquet bytes per
 * order, at several sizes in one run:
 *
 *   deno task bench:stream [-- --sizes 100000,1000000 --partitions 6 --rounds 1
 *                              --jobs floor,raw,cleaned,filter,aggregate --other DIR]
 *
 * For each size, N generated orders (cached under .cache/bench/) are produced once to
 * `bench-orders-<N>-p<P>`. Each job then reads the whole topic in its own process, started the
 * way its `deno task` starts it (the task's V8 flags), under `/usr/bin/time -f '%e %U %S %M'`:
 * - floor: kafkajs consume-and-discard (tests/bench/_consume_discard.ts), what reading costs;
 * - raw, cleaned: the Delta streams with --available-now into fresh tables (Parquet bytes per
 *   order: the tables' active files);
 * - filter, aggregate: the producer stream with --available-now to a fresh output topic
 *   (filter: city = Chicago; aggregate: revenue per city and 1-minute window).
 * CPU per order = (user + sys of the process) / N. `--other DIR` is another checkout of this
 * project (an older build): each job runs alternately in it and in this one, on the same topic,
 * for an A/B in one run; `--rounds R` repeats the whole sequence and the medians are printed.
 */
import { parseArgs } from "node:util";
import { join } from "node:path";
import { fmtInt } from "../../lib/display.ts";
import { createKafka, ensureTopic } from "../../lib/kafka/client.ts";
import { publishOrders } from "../../lib/orders/publish.ts";
import { readLines } from "../../lib/orders/lines.ts";
import { ROOT } from "../support/stream.ts";
import { loadSnapshot } from "../../lib/delta/snapshot.ts";
import { openStorage } from "../../lib/storage/mod.ts";

const JOBS = ["floor", "raw", "cleaned", "filter", "aggregate"] as const;
type Job = typeof JOBS[number];

interface Figures {
  wall: number;
  cpu: number;
  rss: number;
  bytes?: number;
  records: number;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    args: Deno.args[0] === "--" ? Deno.args.slice(1) : Deno.args,
    options: {
      sizes: { type: "string", default: "100000,1000000" },
      orders: { type: "string" },
      partitions: { type: "string", default: "6" },
      rounds: { type: "string", default: "1" },
      jobs: { type: "string", default: JOBS.join(",") },
      other: { type: "string" },
      "bootstrap-servers": {
        type: "string",
        default: Deno.env.get("KAFKA_BOOTSTRAP_SERVERS") ?? "127.0.0.1:9092",
      },
    },
  });
  const sizes = (values.orders ?? values.sizes).split(",").map(Number);
  const partitions = Number(values.partitions);
  const rounds = Number(values.rounds);
  const jobs = values.jobs.split(",") as Job[];
  for (const j of jobs) if (!JOBS.includes(j)) throw new Error(`unknown job '${j}'`);
  const servers = values["bootstrap-servers"]!;
  const say = (m: string) => console.error(`stream_bench: ${m}`);
  const builds = [{ name: "new", root: ROOT }];
  if (values.other) builds.unshift({ name: "old", root: values.other });

  const results: { size: number; job: Job; build: string; f: Figures }[] = [];
  for (const orders of sizes) {
    const topic = await prepareTopic(orders, partitions, servers, say);
    for (let round = 1; round <= rounds; round++) {
      for (const job of jobs) {
        for (const build of builds) {
          say(`${fmtInt(orders)} orders, ${job}, ${build.name} build, round ${round}`);
          const f = await runJob(build.root, job, topic, servers);
          if (f.records !== orders && job !== "floor") {
            throw new Error(`${job} (${build.name}) read ${f.records} of ${orders} records`);
          }
          results.push({ size: orders, job, build: build.name, f });
          console.log(line(orders, job, build.name, f));
        }
      }
    }
  }

  // Medians per (size, job, build).
  const load = Deno.loadavg().map((x) => x.toFixed(2)).join(" ");
  console.log(
    `\nstream_bench: ${partitions} partitions, ${rounds} round(s), ${navigator.hardwareConcurrency} cores, load average ${load}`,
  );
  console.log(
    "| orders | job | build | wall s | CPU µs/order | peak RSS MB | Parquet bytes/order |",
  );
  console.log("| --- | --- | --- | --- | --- | --- | --- |");
  const median = (xs: number[]) => xs.sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  const summary = [];
  for (const size of sizes) {
    for (const job of jobs) {
      for (const b of builds) {
        const rs = results.filter((r) => r.size === size && r.job === job && r.build === b.name);
        const m = {
          wall: median(rs.map((r) => r.f.wall)),
          cpuMicrosPerOrder: median(rs.map((r) => r.f.cpu / size * 1e6)),
          rssMB: median(rs.map((r) => r.f.rss / 1e6)),
          bytesPerOrder: rs[0].f.bytes === undefined
            ? undefined
            : median(rs.map((r) => r.f.bytes! / size)),
        };
        summary.push({ orders: size, job, build: b.name, ...m });
        console.log(
          `| ${fmtInt(size)} | ${job} | ${b.name} | ${m.wall.toFixed(2)} | ${
            m.cpuMicrosPerOrder.toFixed(2)
          } | ${m.rssMB.toFixed(0)} | ${m.bytesPerOrder?.toFixed(1) ?? ""} |`,
        );
      }
    }
  }
  console.log(JSON.stringify({ partitions, rounds, runs: summary }));
}

function line(orders: number, job: Job, build: string, f: Figures): string {
  return `  ${fmtInt(orders)} ${job.padEnd(9)} ${build}: ${f.wall.toFixed(2)} s wall, CPU ${
    f.cpu.toFixed(2)
  } s = ${(f.cpu / orders * 1e6).toFixed(2)} µs/order, peak RSS ${(f.rss / 1e6).toFixed(0)} MB${
    f.bytes === undefined ? "" : `, ${(f.bytes / orders).toFixed(1)} Parquet bytes/order`
  }`;
}

/** Generates (once) and produces (once) N orders; the topic's name. */
async function prepareTopic(
  orders: number,
  partitions: number,
  servers: string,
  say: (m: string) => void,
): Promise<string> {
  const dataDir = join(ROOT, ".cache", "bench", `orders-${orders}`);
  const dataFile = join(dataDir, "file1.json");
  try {
    await Deno.stat(dataFile);
  } catch {
    say(`generating ${fmtInt(orders)} orders into ${dataDir}`);
    const gen = await new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "-A",
        join(ROOT, "lib/orders/generate.ts"),
        "--orders",
        String(orders),
        "--out",
        dataDir,
        "--files",
        "1",
      ],
      cwd: ROOT,
      stdout: "inherit",
      stderr: "inherit",
    }).output();
    if (!gen.success) throw new Error("data generation failed");
  }
  const topic = `bench-orders-${orders}-p${partitions}`;
  const kafka = createKafka({
    bootstrapServers: servers.split(","),
    securityProtocol: "PLAINTEXT",
    clientId: "bench",
  }, "nothing");
  const admin = kafka.admin();
  await admin.connect();
  await ensureTopic(admin, topic, partitions);
  const held = (await admin.fetchTopicOffsets(topic)).reduce(
    (n, o) => n + Number(o.high) - Number(o.low),
    0,
  );
  if (held !== orders) {
    if (held > 0) {
      await admin.deleteTopics({ topics: [topic] });
      await new Promise((r) => setTimeout(r, 2000));
      await ensureTopic(admin, topic, partitions);
    }
    say(`producing ${fmtInt(orders)} orders to ${topic}`);
    const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
    await producer.connect();
    const s = await publishOrders(producer, topic, readLines([dataFile]), { batchSize: 2000 });
    await producer.disconnect();
    say(`produced ${fmtInt(s.sent)} in ${s.seconds.toFixed(1)} s`);
  }
  await admin.disconnect();
  return topic;
}

/** The V8 flags a build's deno task passes for a notebook (the RSS bounds). */
async function taskFlags(root: string, task: string): Promise<string[]> {
  const denoJson = JSON.parse(await Deno.readTextFile(join(root, "deno.json")));
  const t = denoJson.tasks[task];
  const command: string = typeof t === "string" ? t : t.command;
  const v8 = /--v8-flags=\S+/.exec(command)?.[0];
  return v8 ? [v8] : [];
}

/** Runs one job of one build in its own process; its figures. */
async function runJob(root: string, job: Job, topic: string, servers: string): Promise<Figures> {
  const id = `bench-${job}-${crypto.randomUUID().slice(0, 8)}`;
  const lake = await Deno.makeTempDir({ prefix: "stream-bench-" });
  const common = ["--bootstrap-servers", servers, "--topic", topic, "--query-name", id];
  let args: string[];
  switch (job) {
    case "floor":
      args = [
        ...(await taskFlags(root, "consume:stream:cleaned")),
        join(root, "tests/bench/_consume_discard.ts"),
        topic,
        servers,
      ];
      break;
    case "raw":
    case "cleaned":
      args = [
        ...(await taskFlags(root, job === "raw" ? "consume:stream" : "consume:stream:cleaned")),
        join(
          root,
          job === "raw"
            ? "notebooks/kafka-consumer-stream.ts"
            : "notebooks/kafka-consumer-stream-cleaned.ts",
        ),
        ...common,
        "--lakehouse",
        lake,
        "--available-now",
        "--progress",
        "json",
      ];
      break;
    case "filter":
    case "aggregate":
      args = [
        ...(await taskFlags(root, "produce:stream")),
        join(root, "notebooks/kafka-producer-stream.ts"),
        ...common,
        "--output-topic",
        `${id}-out`,
        "--available-now",
        "--progress",
        "json",
        ...(job === "aggregate" ? ["--aggregate", "city", "--window", "1 minute"] : []),
      ];
      break;
  }
  const timeFile = join(lake, "time.txt");
  try {
    const out = await new Deno.Command("/usr/bin/time", {
      args: ["-f", "%e %U %S %M", "-o", timeFile, Deno.execPath(), "run", "-A", ...args],
      cwd: root,
      env: { DENO_NO_UPDATE_CHECK: "1", KAFKAJS_NO_PARTITIONER_WARNING: "1" },
      stdout: "piped",
      stderr: "piped",
    }).output();
    const dec = new TextDecoder();
    if (!out.success) {
      throw new Error(`${job} in ${root} failed:\n${dec.decode(out.stderr).slice(-2000)}`);
    }
    const [wall, user, sys, kb] = (await Deno.readTextFile(timeFile)).trim().split(/\s+/)
      .slice(-4).map(Number);
    const objects = dec.decode(out.stdout).split("\n").filter((l) => l.startsWith("{")).map((
      l,
    ) => JSON.parse(l));
    // The floor prints one object; the Delta streams end with {summary}; the producer stream
    // with its totals ({query, input, …}).
    const records = job === "floor"
      ? Number(objects[0]?.records ?? 0)
      : job === "raw" || job === "cleaned"
      ? Number(objects.find((o) => o.summary)?.summary.records ?? 0)
      : Number(objects.findLast((o) => "input" in o && "query" in o)?.input ?? 0);
    const bytes = job === "raw" || job === "cleaned" ? await parquetBytes(lake) : undefined;
    return { wall, cpu: user + sys, rss: kb * 1024, bytes, records };
  } finally {
    await Deno.remove(lake, { recursive: true });
    if (job === "filter" || job === "aggregate") await deleteQueryTopics(servers, id);
  }
}

/** Bytes of the active data files of the Delta tables under a directory (compaction's inputs, no
 * longer in the table, are not counted). */
async function parquetBytes(dir: string): Promise<number> {
  let n = 0;
  for await (const e of Deno.readDir(dir)) {
    if (!e.isDirectory) continue;
    const snap = await loadSnapshot(openStorage(join(dir, e.name)));
    for (const f of snap.files) n += f.size;
  }
  return n;
}

async function deleteQueryTopics(servers: string, id: string): Promise<void> {
  const kafka = createKafka({
    bootstrapServers: servers.split(","),
    securityProtocol: "PLAINTEXT",
    clientId: "bench",
  }, "nothing");
  const admin = kafka.admin();
  await admin.connect();
  try {
    const mine = (await admin.listTopics()).filter((t) => t.startsWith(id));
    if (mine.length > 0) await admin.deleteTopics({ topics: mine });
  } finally {
    await admin.disconnect();
  }
}

if (import.meta.main) {
  await main();
} else {
  // Under `deno bench`: the in-process cost of building one default micro-batch (no broker).
  const { cleanedSink } = await import("../../lib/orders/sinks.ts");
  const dir = await Deno.makeTempDir({ prefix: "stream-bench-" });
  const sink = await cleanedSink(join(dir, "c"), join(dir, "d"));
  const lines = (await Deno.readTextFile(join(ROOT, "data", "file1.json"))).split("\n").filter(
    Boolean,
  );
  const enc = new TextEncoder();
  const messages = Array.from({ length: 20_000 }, (_, i) => ({
    key: null,
    value: enc.encode(lines[i % lines.length]),
    offset: String(i),
    timestamp: "1700000000000",
  }));
  Deno.bench("cleaned sink: parse + validate + flatten + dead letters, 20k orders", () => {
    sink.build([{ topic: "t", partition: 0, timestampType: 0, messages }], () => 0);
  });
}
