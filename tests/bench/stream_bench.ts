/**
 * Stream benchmark (a script that prints figures, not a Deno.bench): N generated orders
 * (default 1,000,000) in a 6-partition topic; the cleaned stream notebook with --available-now
 * (orders/s, rows/s, peak RSS) against a plain kafkajs consume-and-discard of the same topic
 * (the ceiling), and their ratio. The goal: ≥ 60% of the ceiling with peak RSS < 400 MB.
 *
 *   deno run -A tests/bench/stream_bench.ts [--orders 1000000] [--partitions 6] [-- stream flags…]
 *
 * Data is generated once under .cache/bench/ (deno task data:generate) and produced once to
 * `bench-orders-<N>-p<P>` (reused when it already holds exactly N records). The two runs are
 * separate processes, started the way `deno task` starts the notebooks.
 */
import { parseArgs } from "node:util";
import { join } from "node:path";
import { fmtInt } from "../../lib/display.ts";
import { createKafka, ensureTopic } from "../../lib/kafka/client.ts";
import { publishOrders } from "../../lib/orders/publish.ts";
import { readLines } from "../../lib/orders/lines.ts";
import { ROOT } from "../support/stream.ts";

async function main(): Promise<void> {
  const { values, positionals } = parseArgs({
    args: Deno.args,
    options: {
      orders: { type: "string", default: "1000000" },
      partitions: { type: "string", default: "6" },
      "bootstrap-servers": {
        type: "string",
        default: Deno.env.get("KAFKA_BOOTSTRAP_SERVERS") ?? "127.0.0.1:9092",
      },
    },
    allowPositionals: true,
  });
  const orders = Number(values.orders);
  const partitions = Number(values.partitions);
  const servers = values["bootstrap-servers"]!;
  const settings = {
    bootstrapServers: servers.split(","),
    securityProtocol: "PLAINTEXT" as const,
    clientId: "bench",
  };
  const say = (m: string) => console.error(`stream_bench: ${m}`);

  // The flags the consume:stream:cleaned task passes to deno (V8 settings that bound RSS).
  const denoJson = JSON.parse(await Deno.readTextFile(join(ROOT, "deno.json")));
  const taskCommand: string = denoJson.tasks["consume:stream:cleaned"].command ??
    denoJson.tasks["consume:stream:cleaned"];
  const v8 = /--v8-flags=\S+/.exec(taskCommand)?.[0];

  // 1. Data.
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

  // 2. Topic.
  const topic = `bench-orders-${orders}-p${partitions}`;
  const kafka = createKafka(settings, "nothing");
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

  async function runJson(
    args: string[],
  ): Promise<{ lines: Record<string, unknown>[]; stderr: string }> {
    const out = await new Deno.Command(Deno.execPath(), {
      args,
      cwd: ROOT,
      stdout: "piped",
      stderr: "piped",
    }).output();
    const dec = new TextDecoder();
    const stderr = dec.decode(out.stderr);
    if (!out.success) throw new Error(`${args.join(" ")} failed:\n${stderr}`);
    const lines = dec.decode(out.stdout).split("\n").filter((l) => l.startsWith("{")).map((l) =>
      JSON.parse(l)
    );
    return { lines, stderr };
  }

  // 3. Ceiling: consume and discard.
  say("ceiling: plain kafkajs consume-and-discard");
  const ceiling = (await runJson([
    "run",
    "-A",
    ...(v8 ? [v8] : []),
    join(ROOT, "tests/bench/_consume_discard.ts"),
    topic,
    servers,
  ]))
    .lines[0] as {
      records: number;
      seconds: number;
      recordsPerSecond: number;
      peakRssBytes: number;
    };

  // 4. The cleaned stream, --available-now, into fresh tables.
  const lake = await Deno.makeTempDir({ prefix: "stream-bench-" });
  say(`cleaned stream --available-now ${positionals.join(" ")}`);
  const run = await runJson([
    "run",
    "-A",
    ...(v8 ? [v8] : []),
    join(ROOT, "notebooks/kafka-consumer-stream-cleaned.ts"),
    "--bootstrap-servers",
    servers,
    "--topic",
    topic,
    "--lakehouse",
    lake,
    "--query-name",
    `bench-${crypto.randomUUID().slice(0, 8)}`,
    "--available-now",
    "--progress",
    "json",
    ...positionals,
  ]);
  await Deno.remove(lake, { recursive: true });
  const summary = run.lines.find((l) => l.summary)!.summary as {
    records: number;
    seconds: number;
    rows: Record<string, number>;
    peakRssBytes: number;
    batches: number;
  };
  const rows = Object.values(summary.rows)[0];
  const ratio = summary.records / summary.seconds / ceiling.recordsPerSecond;
  const mb = (b: number) => `${Math.round(b / 1e6)} MB`;
  const load = Deno.loadavg().map((x) => x.toFixed(2)).join(" ");
  console.log(
    `stream_bench: ${fmtInt(orders)} orders, ${partitions} partitions, load average ${load}${
      v8 ? `, ${v8}` : ""
    }`,
  );
  console.log(
    `  ceiling  kafkajs consume+discard  ${
      fmtInt(Math.round(ceiling.recordsPerSecond))
    } records/s  ` +
      `(${ceiling.seconds.toFixed(2)} s, peak RSS ${mb(ceiling.peakRssBytes)})`,
  );
  console.log(
    `  cleaned  --available-now          ${
      fmtInt(Math.round(summary.records / summary.seconds))
    } orders/s, ` +
      `${fmtInt(Math.round(rows / summary.seconds))} rows/s  (${summary.seconds.toFixed(2)} s, ` +
      `${summary.batches} batches, peak RSS ${mb(summary.peakRssBytes)})`,
  );
  console.log(
    `  ratio    ${(ratio * 100).toFixed(1)}% of the ceiling (goal ≥ 60%), RSS goal < 400 MB`,
  );
  console.log(JSON.stringify({ orders, partitions, ceiling, cleaned: summary, ratio }));
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
