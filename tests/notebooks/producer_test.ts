/**
 * End to end on the real broker: notebooks/producer.ts sends data/, notebooks/kafka-consumer-batch.ts
 * reads it back. Every order arrives once, keyed by customer id, on the partition the Java client
 * would pick, in file order per customer; malformed lines are reported and skipped.
 */
import assert from "node:assert/strict";
import { readRange, resolveRange } from "../../lib/kafka/source.ts";
import { FEED_REASONS } from "../../lib/orders/feed.ts";
import { dataFiles } from "../../lib/orders/lines.ts";
import { loadCustomers, loadProducts } from "../../lib/orders/retail_db.ts";
import { parseOrder } from "../../lib/orders/validate.ts";
import {
  bootstrapServers,
  createTopic,
  deleteTopics,
  testKafka,
  uniqueName,
  withAdmin,
} from "../support/kafka.ts";
import { javaPartitions } from "../support/java_partitioner.ts";
import { jsonLines, runNotebook } from "../support/notebooks.ts";
import { notebookSecurityEnv } from "../support/sasl.ts";

interface Row {
  key: string | null;
  value: string | null;
  topic: string;
  partition: number;
  offset: number;
  timestamp: string;
  timestampType: number;
}

async function inputLines(): Promise<string[]> {
  const lines: string[] = [];
  for (const f of await dataFiles()) {
    for (const l of (await Deno.readTextFile(f)).split("\n")) if (l.trim() !== "") lines.push(l);
  }
  return lines;
}

Deno.test("producer sends data/ once each, key = customer_id, Java partitions, file order per customer", async () => {
  const topic = uniqueName("producer");
  try {
    const sent = await runNotebook("producer", ["--topic", topic, "--quiet"]);
    assert.equal(sent.code, 0, sent.stderr);
    const input = await inputLines();
    assert.equal(input.length, 6000);
    assert.deepEqual(JSON.parse(sent.stdout.trim().split("\n").at(-1)!), {
      sent: input.length,
      skipped: 0,
      read: input.length,
    });
    assert.match(sent.stderr, new RegExp(`${topic}: 3 partitions`));

    const read = await runNotebook("kafka-consumer-batch", ["--topic", topic, "--json"]);
    assert.equal(read.code, 0, read.stderr);
    const rows = jsonLines<Row>(read.stdout);
    assert.equal(rows.length, input.length);

    // Exactly once: the multiset of values equals the input lines.
    assert.deepEqual(rows.map((r) => r.value).sort(), [...input].sort());
    // Key = customer_id as a string; Kafka metadata as the seed shows it.
    for (const r of rows) {
      assert.equal(r.key, String(JSON.parse(r.value!).customer_id));
      assert.equal(r.topic, topic);
      assert.equal(r.timestampType, 0);
      assert.ok(!Number.isNaN(Date.parse(r.timestamp)));
    }
    // One customer, one partition, and that partition is the Java client's choice.
    const partitionOf = new Map<string, number>();
    for (const r of rows) {
      const seen = partitionOf.get(r.key!);
      assert.ok(seen === undefined || seen === r.partition, `customer ${r.key} on 2 partitions`);
      partitionOf.set(r.key!, r.partition);
    }
    const keys = [...partitionOf.keys()];
    const java = await javaPartitions(keys, [3]);
    const wrong = keys.filter((k) => java.get(k)!.partitions["3"] !== partitionOf.get(k));
    assert.deepEqual(wrong, [], "partitions differ from the Java client's");
    assert.equal(new Set(partitionOf.values()).size, 3);

    // In file order per customer: offsets grow with the line's position in the input.
    const position = new Map(input.map((l, i) => [l, i]));
    const lastByKey = new Map<string, { pos: number; offset: number }>();
    for (const r of [...rows].sort((a, b) => a.partition - b.partition || a.offset - b.offset)) {
      const pos = position.get(r.value!)!;
      const prev = lastByKey.get(r.key!);
      if (prev) {
        assert.ok(pos > prev.pos, `customer ${r.key}: order at line ${pos} before ${prev.pos}`);
      }
      lastByKey.set(r.key!, { pos, offset: r.offset });
    }
    const multi = [...new Set(rows.map((r) => r.key))].filter((k) =>
      rows.filter((r) => r.key === k).length > 1
    );
    assert.ok(multi.length > 100, "the data set should have customers with several orders");
  } finally {
    await deleteTopics(testKafka(), [topic]);
  }
});

Deno.test("a file with malformed lines: good ones sent, each bad one reported as file:line with its reason", async () => {
  const topic = uniqueName("producer-bad");
  const dir = await Deno.makeTempDir();
  try {
    const good = (await inputLines()).slice(0, 5);
    const lines = [
      good[0],
      "{not json",
      good[1],
      '{"order_id": 9, "customer_id": "12", "line_items": []}',
      "",
      good[2],
      "[1,2,3]",
      good[3],
      '{"order_id":10,"customer_id":5,"line_items":[{"order_item_id":1,"order_item_product_id":2,"order_item_quantity":0,"order_item_product_price":1.5,"order_item_subtotal":0}]}',
      good[4],
    ];
    const file = `${dir}/orders.json`;
    await Deno.writeTextFile(file, lines.join("\n") + "\n");
    const res = await runNotebook("producer", ["--topic", topic, "--quiet", file]);
    assert.equal(res.code, 0, res.stderr);
    assert.deepEqual(JSON.parse(res.stdout.trim().split("\n").at(-1)!), {
      sent: 5,
      skipped: 4,
      read: 9,
    });
    const reported = res.stderr.split("\n").filter((l) => l.startsWith(`${file}:`));
    assert.deepEqual(reported.map((l) => l.split(": skipped")[0]), [
      `${file}:2`,
      `${file}:4`,
      `${file}:7`,
      `${file}:9`,
    ]);
    assert.match(reported[0], /\(not_json\)/);
    assert.match(reported[1], /\(wrong_type\).*customer_id/);
    assert.match(reported[2], /\(not_object\)/);
    assert.match(reported[3], /\(non_positive_quantity\)/);

    const read = await runNotebook("kafka-consumer-batch", ["--topic", topic, "--json"]);
    assert.equal(read.code, 0, read.stderr);
    assert.deepEqual(jsonLines<Row>(read.stdout).map((r) => r.value).sort(), [...good].sort());
  } finally {
    await deleteTopics(testKafka(), [topic]);
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("producer reads stdin with -", async () => {
  const topic = uniqueName("producer-stdin");
  try {
    const good = (await inputLines()).slice(0, 3);
    const res = await runNotebook("producer", ["--topic", topic, "--quiet", "-"], {
      stdin: good.join("\n"),
    });
    assert.equal(res.code, 0, res.stderr);
    assert.equal(JSON.parse(res.stdout.trim().split("\n").at(-1)!).sent, 3);
  } finally {
    await deleteTopics(testKafka(), [topic]);
  }
});

// ---------------------------------------------------------------------------------------------
// The live feed (--rate): generated orders, paced, some malformed on purpose.

interface FeedRow {
  key: string | null;
  value: Uint8Array | null;
  partition: number;
  offset: string;
  timestamp: number;
}

async function readTopic(topic: string): Promise<FeedRow[]> {
  const kafka = testKafka();
  const ranges = await withAdmin(
    kafka,
    (admin) => resolveRange(admin, topic, { kind: "earliest" }, { kind: "latest" }),
  );
  const rows: FeedRow[] = [];
  // A too_large record is 1 MiB + 1 byte: fetch up to 4 MiB per partition.
  for await (const batch of readRange(kafka, topic, ranges, { maxBytesPerPartition: 4 << 20 })) {
    for (const r of batch) {
      const key = r.key === null ? null : new TextDecoder().decode(r.key);
      rows.push({ ...r, key });
    }
  }
  return rows;
}

async function topicConfig(topic: string, name: string): Promise<string | undefined> {
  return await withAdmin(testKafka(), async (admin) => {
    const res = await admin.describeConfigs({
      resources: [{ type: 2, name: topic, configNames: [name] }],
      includeSynonyms: false,
    });
    return res.resources[0].configEntries.find((e) => e.configName === name)?.configValue;
  });
}

interface LiveJson {
  sent: number;
  skipped: number;
  read: number;
  bad: number;
  byReason: Record<string, number>;
  seconds: number;
  ordersPerSecond: number;
}

const lastJson = (stdout: string) => JSON.parse(stdout.trim().split("\n").at(-1)!) as LiveJson;
const realCustomers = new Set((await loadCustomers()).map((c) => String(c.id)));
const realPrices = new Map((await loadProducts()).map((p) => [p.id, p.price]));

/** parseOrder's verdict per record ("ok" or the reason), checking valid orders on the way. */
function verdicts(rows: FeedRow[]): string[] {
  return rows.map((r) => {
    const p = parseOrder(r.value);
    if (!p.ok) return p.reason;
    const o = p.order;
    assert.equal(r.key, String(o.customer_id), "key = customer_id");
    for (const l of o.line_items) {
      assert.equal(l.order_item_product_price, realPrices.get(l.order_item_product_id as number));
    }
    return "ok";
  });
}

Deno.test("live feed: --rate 200 --duration 3s --bad-rate 0.1 --seed 7 sends ~600 real orders, ~10% malformed", async () => {
  const topic = uniqueName("feed");
  const shorter = uniqueName("feed-again");
  try {
    const before = Date.now();
    const run = await runNotebook("producer", [
      "--topic",
      topic,
      "--rate",
      "200",
      "--duration",
      "3s",
      "--bad-rate",
      "0.1",
      "--seed",
      "7",
    ]);
    const after = Date.now();
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stderr, /200 orders\/s for 3s, 10% malformed, seed 7, order ids from \d+/);
    assert.match(run.stderr, /orders sent to .*malformed on purpose.*duration over/);
    const summary = lastJson(run.stdout);
    const rows = await readTopic(topic);
    // About 600 (exactly rate × duration when nothing failed), each once.
    assert.ok(rows.length >= 540 && rows.length <= 660, `${rows.length} records`);
    assert.equal(rows.length, summary.sent);
    assert.equal(summary.skipped, 0);
    assert.ok(summary.seconds >= 2.9, `${summary.seconds} s`);
    // The topic the feed created holds a too_large record.
    assert.equal(await topicConfig(topic, "max.message.bytes"), String(2 * 1024 * 1024));
    // Keys are real customers; timestamps are the run's own.
    for (const r of rows) {
      assert.ok(r.key !== null && realCustomers.has(r.key), `key ${r.key}`);
      assert.ok(r.timestamp >= before - 1000 && r.timestamp <= after + 1000, `${r.timestamp}`);
    }
    // The bad share near 10%, every reason code input can cause, as the summary counted them.
    const v = verdicts(rows);
    const bad = v.filter((x) => x !== "ok");
    assert.equal(bad.length, summary.bad);
    assert.ok(bad.length >= 30 && bad.length <= 90, `${bad.length} bad of ${rows.length}`);
    const byReason: Record<string, number> = {};
    for (const x of bad) byReason[x] = (byReason[x] ?? 0) + 1;
    assert.deepEqual(byReason, summary.byReason);
    assert.deepEqual(Object.keys(byReason).sort(), [...FEED_REASONS].sort());
    // Order ids: new (above data/'s), unique and increasing per customer (= per partition order).
    const ids = rows.map((r, i) => ({ r, ok: v[i] === "ok" })).filter((x) => x.ok).map((x) => ({
      key: x.r.key!,
      id: JSON.parse(new TextDecoder().decode(x.r.value!)).order_id as number,
      partition: x.r.partition,
      offset: BigInt(x.r.offset),
    }));
    assert.equal(new Set(ids.map((x) => x.id)).size, ids.length);
    assert.ok(ids.every((x) => x.id > 10 ** 12));
    const last = new Map<string, number>();
    for (const x of ids.sort((a, b) => a.partition - b.partition || Number(a.offset - b.offset))) {
      assert.ok(x.id > (last.get(x.key) ?? 0), `customer ${x.key}: ids out of order`);
      last.set(x.key, x.id);
    }

    // The same seed again, for 1 s: the same sequence, so per customer a prefix of the first.
    const again = await runNotebook("producer", [
      "--topic",
      shorter,
      "--rate",
      "200",
      "--duration",
      "1s",
      "--bad-rate",
      "0.1",
      "--seed",
      "7",
      "--quiet",
    ]);
    assert.equal(again.code, 0, again.stderr);
    const rows2 = await readTopic(shorter);
    assert.equal(rows2.length, 200);
    const perKey = (rs: FeedRow[], vs: string[]) => {
      const m = new Map<string, string[]>();
      const order = rs.map((r, i) => ({ r, v: vs[i] })).sort((a, b) =>
        a.r.partition - b.r.partition || Number(BigInt(a.r.offset) - BigInt(b.r.offset))
      );
      for (const { r, v } of order) m.set(r.key!, [...(m.get(r.key!) ?? []), v]);
      return m;
    };
    const first = perKey(rows, v);
    const second = perKey(rows2, verdicts(rows2));
    for (const [key, seq] of second) {
      assert.deepEqual(seq, first.get(key)!.slice(0, seq.length), `customer ${key}`);
    }
    // The restart took new ids, above the first run's.
    const maxFirst = Math.max(...ids.map((x) => x.id));
    const firstOfSecond = rows2.map((r) => parseOrder(r.value)).filter((p) => p.ok).map((p) =>
      (p as { order: { order_id: number } }).order.order_id
    );
    assert.ok(Math.min(...firstOfSecond) > maxFirst);
  } finally {
    await deleteTopics(testKafka(), [topic, shorter]);
  }
});

Deno.test("live feed: Ctrl-C stops after the send in flight, with the summary; all it counted is there", async () => {
  const topic = uniqueName("feed-sigint");
  try {
    const child = new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", "notebooks/producer.ts", "--topic", topic, "--rate", "500"],
      env: {
        KAFKA_BOOTSTRAP_SERVERS: bootstrapServers().join(","),
        ...notebookSecurityEnv(),
        KAFKAJS_NO_PARTITIONER_WARNING: "1",
        NO_COLOR: "1",
      },
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const stdout = new Response(child.stdout).text();
    // Wait for the start line, let it send for a while, then interrupt.
    let stderr = "";
    const reader = child.stderr.pipeThrough(new TextDecoderStream()).getReader();
    while (!/orders\/s until Ctrl-C/.test(stderr)) {
      const { value, done } = await reader.read();
      if (done) break;
      stderr += value;
    }
    await new Promise((r) => setTimeout(r, 1500));
    child.kill("SIGINT");
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      stderr += value;
    }
    const status = await child.status;
    assert.equal(status.code, 0, stderr);
    assert.match(stderr, /stopping after the send in flight/);
    assert.match(stderr, /live feed, stopped by signal/);
    const summary = lastJson(await stdout);
    assert.ok(summary.sent > 0);
    assert.equal(summary.bad, 0);
    assert.equal((await readTopic(topic)).length, summary.sent);
  } finally {
    await deleteTopics(testKafka(), [topic]);
  }
});

Deno.test("live feed into an existing topic with Kafka's default limits: no too_large, and it says so", async () => {
  const topic = uniqueName("feed-small");
  try {
    await createTopic(testKafka(), topic, 2);
    const run = await runNotebook("producer", [
      "--topic",
      topic,
      "--rate",
      "300",
      "--duration",
      "1s",
      "--bad-rate",
      "0.5",
      "--seed",
      "1",
      "--quiet",
    ]);
    assert.equal(run.code, 0, run.stderr);
    assert.match(
      run.stderr,
      /too_large records left out: .* cannot take a record of 1,049,601 bytes/,
    );
    assert.match(run.stderr, /: 2 partitions/);
    const rows = await readTopic(topic);
    assert.equal(rows.length, 300);
    const reasons = new Set(verdicts(rows));
    assert.deepEqual(
      [...reasons].sort(),
      ["ok", ...FEED_REASONS.filter((r) => r !== "too_large")].sort(),
    );
  } finally {
    await deleteTopics(testKafka(), [topic]);
  }
});
