/**
 * notebooks/kafka-producer-stream.ts end to end on the real broker: the filtered output equals
 * an independent computation from data/, aggregates equal one from the input files, bad records
 * go to the dead-letter topic, kill -9 at random moments (and at precise points through the
 * STREAM_FAULT test hook) never leaves duplicates or gaps in the read_committed output, and
 * late records inside / beyond the watermark behave as documented.
 *
 * Needs the broker: `deno task kafka:up` (or KAFKA_BOOTSTRAP_SERVERS).
 */
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import type { Kafka } from "kafkajs";
import { Partitioners } from "kafkajs";
import { Buffer } from "node:buffer";
import "../../lib/kafka/client.ts"; // silences kafkajs' harmless TimeoutNegativeWarning
import { committedOffsets } from "../../lib/kafka/sink.ts";
import { readRange, resolveRange } from "../../lib/kafka/source.ts";
import { dataFiles } from "../../lib/orders/lines.ts";
import { malformedOrders } from "../fixtures/malformed_orders.ts";
import {
  bootstrapServers,
  createTopic,
  deleteTopics,
  testKafka,
  uniqueName,
  withAdmin,
} from "../support/kafka.ts";
import { jsonLines, runNotebook } from "../support/notebooks.ts";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const decoder = new TextDecoder();

interface Line {
  key: string;
  value: string;
  order: {
    order_id: number;
    customer_id: number;
    city: string | null;
    state: string | null;
    line_items: { order_item_product_id: number; order_item_subtotal: number }[];
  };
}

/** The order lines of data/ as they are (independent of lib/orders: plain JSON.parse). */
async function dataLines(): Promise<Line[]> {
  const out: Line[] = [];
  for (const f of await dataFiles(`${ROOT}data`)) {
    for (const value of (await Deno.readTextFile(f)).split("\n")) {
      if (value.trim() === "") continue;
      const order = JSON.parse(value);
      out.push({ key: String(order.customer_id), value, order });
    }
  }
  return out;
}

async function produce(
  kafka: Kafka,
  topic: string,
  messages: { key: string | null; value: string | Uint8Array | null; timestamp?: number }[],
) {
  const producer = kafka.producer({
    idempotent: true,
    maxInFlightRequests: 1,
    createPartitioner: Partitioners.DefaultPartitioner,
  });
  await producer.connect();
  try {
    for (let i = 0; i < messages.length; i += 1000) {
      await producer.send({
        topic,
        acks: -1,
        messages: messages.slice(i, i + 1000).map((m) => ({
          key: m.key,
          // kafkajs needs a Buffer (a plain Uint8Array is encoded wrongly and rejected).
          value: m.value instanceof Uint8Array ? Buffer.from(m.value) : m.value,
          timestamp: m.timestamp === undefined ? undefined : String(m.timestamp),
        })),
      });
    }
  } finally {
    await producer.disconnect();
  }
}

interface Out {
  key: string | null;
  value: string | null;
  headers: Record<string, string>;
}

/** Every record of a topic, as a read_committed reader sees it. */
async function readCommitted(kafka: Kafka, topic: string): Promise<Out[]> {
  const ranges = await withAdmin(
    kafka,
    (admin) => resolveRange(admin, topic, { kind: "earliest" }, { kind: "latest" }),
  );
  const out: Out[] = [];
  const consumerless = readRange(kafka, topic, ranges, { timestampType: 0 });
  for await (const batch of consumerless) {
    for (const r of batch) {
      out.push({
        key: r.key === null ? null : decoder.decode(r.key),
        value: r.value === null ? null : decoder.decode(r.value),
        headers: {},
      });
    }
  }
  return out;
}

/** The first `expected` dead letters with their headers (a plain consumer exposes headers). */
async function readDeadLetters(kafka: Kafka, topic: string, expected: number): Promise<Out[]> {
  const consumer = kafka.consumer({ groupId: uniqueName("ps-dlq"), maxWaitTimeInMs: 200 });
  const out: Out[] = [];
  await consumer.connect();
  try {
    await consumer.subscribe({ topics: [topic], fromBeginning: true });
    await new Promise<void>((resolve, reject) => {
      const guard = setTimeout(() => reject(new Error(`only ${out.length} dead letters`)), 30_000);
      consumer.run({
        eachMessage: ({ message }) => {
          const headers: Record<string, string> = {};
          for (const [k, v] of Object.entries(message.headers ?? {})) headers[k] = String(v);
          out.push({
            key: message.key?.toString() ?? null,
            value: message.value?.toString() ?? null,
            headers,
          });
          if (out.length >= expected) {
            clearTimeout(guard);
            resolve();
          }
          return Promise.resolve();
        },
      }).catch(reject);
    });
  } finally {
    await consumer.disconnect();
  }
  return out;
}

const sorted = (xs: string[]) => [...xs].sort();

/** Deletes the test's topics and every topic named after them (changelogs, dead letters). */
async function cleanUp(kafka: Kafka, names: string[]): Promise<void> {
  const all = await withAdmin(kafka, (admin) => admin.listTopics());
  await deleteTopics(kafka, all.filter((t) => names.some((n) => t.startsWith(n))));
}

function streamArgs(topic: string, output: string, extra: string[] = []): string[] {
  return [
    "--bootstrap-servers",
    bootstrapServers().join(","),
    "--topic",
    topic,
    "--output-topic",
    output,
    ...extra,
  ];
}

Deno.test("filter mode over data/ (+ the malformed corpus): output = the Chicago orders, bad records dead-lettered once", async () => {
  const kafka = testKafka();
  const input = uniqueName("ps-in");
  const output = uniqueName("ps-out");
  await createTopic(kafka, input, 3);
  try {
    const lines = await dataLines();
    const corpus = malformedOrders();
    // Interleave the corpus into the data so bad records sit between good ones.
    const msgs: { key: string | null; value: string | Uint8Array | null }[] = [];
    lines.forEach((l, i) => {
      msgs.push({ key: l.key, value: l.value });
      if (i % 100 === 0 && i / 100 < corpus.length) {
        const c = corpus[i / 100];
        msgs.push({ key: `bad-${i / 100}`, value: c.bytes });
      }
    });
    for (const c of corpus.slice(Math.ceil(lines.length / 100))) {
      msgs.push({ key: "bad-tail", value: c.bytes });
    }
    await produce(kafka, input, msgs);

    const run = await runNotebook(
      "kafka-producer-stream",
      streamArgs(input, output, ["--available-now", "--max-offsets-per-trigger", "1000"]),
    );
    assert.equal(run.code, 0, run.stderr);
    const summary = jsonLines(run.stdout).at(-1)!;

    // Independent expectation: lines whose city is Chicago, plus good corpus cases in Chicago.
    const expected = lines.filter((l) => l.order.city === "Chicago").map((l) =>
      `${l.key}=${l.value}`
    );
    corpus.forEach((c, i) => {
      if (c.expected !== "ok") return;
      const o = JSON.parse(decoder.decode(c.bytes!));
      const key = i < Math.ceil(lines.length / 100) ? `bad-${i}` : "bad-tail";
      if (o.city === "Chicago") expected.push(`${key}=${decoder.decode(c.bytes!)}`);
    });
    assert.equal(lines.filter((l) => l.order.city === "Chicago").length, 145);
    const got = (await readCommitted(kafka, output)).map((r) => `${r.key}=${r.value}`);
    assert.deepEqual(sorted(got), sorted(expected));

    const bad = corpus.filter((c) => c.expected !== "ok");
    assert.equal(summary.input, msgs.length);
    assert.equal(summary.output, expected.length);
    const deadCounts = summary.deadLetters as Record<string, number>;
    assert.equal(Object.values(deadCounts).reduce((a, b) => a + b, 0), bad.length);
    // Exactly once: the whole read_committed topic holds each bad record once.
    const deadTopic = await readCommitted(kafka, `${output}_dead_letters`);
    assert.equal(deadTopic.length, bad.length);
    const dead = await readDeadLetters(kafka, `${output}_dead_letters`, bad.length);
    assert.deepEqual(
      sorted(dead.map((d) => d.headers["dlq.reason"])),
      sorted(bad.map((c) => c.expected)),
    );
    assert.ok(dead.every((d) => d.headers["dlq.topic"] === input && d.headers["dlq.offset"]));
    // The original bytes travel unchanged (tombstones stay null).
    assert.deepEqual(
      sorted(dead.map((d) => d.value ?? "<null>")),
      sorted(bad.map((c) => (c.bytes === null ? "<null>" : decoder.decode(c.bytes)))),
    );

    // A second run finds nothing new: the committed offsets are the position.
    const again = await runNotebook(
      "kafka-producer-stream",
      streamArgs(input, output, ["--available-now"]),
    );
    assert.equal(again.code, 0, again.stderr);
    assert.equal(jsonLines(again.stdout).at(-1)!.input, 0);
    assert.equal((await readCommitted(kafka, output)).length, expected.length);
  } finally {
    await cleanUp(kafka, [input, output]);
  }
});

/** Event time of order k in the aggregate tests: one order per second from an hour boundary. */
function eventTime(base: number, orderId: number): number {
  return base + orderId * 1000;
}

function expectedAggregates(
  lines: Line[],
  base: number,
  dimension: "city" | "state" | "product",
  windowMs: number,
): Map<string, { orders: number; lines: number; revenue: number }> {
  const acc = new Map<string, { orders: number; lines: number; cents: number }>();
  const field = dimension === "product" ? "product_id" : dimension;
  const bump = (group: unknown, start: number, lines: number, cents: number) => {
    const key = JSON.stringify({ [field]: group, window_start: new Date(start).toISOString() });
    const a = acc.get(key) ?? { orders: 0, lines: 0, cents: 0 };
    a.orders++;
    a.lines += lines;
    a.cents += cents;
    acc.set(key, a);
  };
  for (const l of lines) {
    const t = eventTime(base, l.order.order_id);
    const start = t - (t % windowMs);
    if (dimension === "product") {
      const per = new Map<number, { lines: number; cents: number }>();
      for (const it of l.order.line_items) {
        const p = per.get(it.order_item_product_id) ?? { lines: 0, cents: 0 };
        p.lines++;
        p.cents += Math.round(it.order_item_subtotal * 100);
        per.set(it.order_item_product_id, p);
      }
      for (const [id, p] of per) bump(id, start, p.lines, p.cents);
    } else {
      const cents = l.order.line_items.reduce(
        (n, it) => n + Math.round(it.order_item_subtotal * 100),
        0,
      );
      bump(l.order[dimension], start, l.order.line_items.length, cents);
    }
  }
  return new Map(
    [...acc].map(([k, a]) => [k, { orders: a.orders, lines: a.lines, revenue: a.cents / 100 }]),
  );
}

/** The last value per key of an aggregate output topic. */
function latestPerKey(
  records: Out[],
): Map<string, { orders: number; lines: number; revenue: number }> {
  const out = new Map<string, { orders: number; lines: number; revenue: number }>();
  for (const r of records) {
    const v = JSON.parse(r.value!);
    out.set(r.key!, { orders: v.orders, lines: v.lines, revenue: v.revenue });
  }
  return out;
}

Deno.test("aggregate mode over data/: per-window totals by city and by product equal an independent computation", async () => {
  const kafka = testKafka();
  const input = uniqueName("ps-agg-in");
  const output = uniqueName("ps-agg-out");
  await createTopic(kafka, input, 3);
  const base = Math.floor(Date.now() / 3_600_000) * 3_600_000 - 3 * 3_600_000;
  try {
    const lines = await dataLines();
    await produce(
      kafka,
      input,
      lines.map((l) => ({
        key: l.key,
        value: l.value,
        timestamp: eventTime(base, l.order.order_id),
      })),
    );
    for (const dimension of ["city", "product"] as const) {
      const out = `${output}-${dimension}`;
      const run = await runNotebook(
        "kafka-producer-stream",
        streamArgs(input, out, [
          "--aggregate",
          dimension,
          "--window",
          "1 minute",
          "--watermark",
          "3 hours",
          "--available-now",
          "--max-offsets-per-trigger",
          "2000",
        ]),
      );
      assert.equal(run.code, 0, run.stderr);
      const summary = jsonLines(run.stdout).at(-1)!;
      assert.equal(summary.dropped, 0);
      assert.equal(summary.input, lines.length);
      const expected = expectedAggregates(lines, base, dimension, 60_000);
      const got = latestPerKey(await readCommitted(kafka, out));
      assert.equal(got.size, expected.size);
      assert.deepEqual(new Map([...got].sort()), new Map([...expected].sort()));
    }
  } finally {
    await cleanUp(kafka, [input, output]);
  }
});

/** Spawns the notebook and resolves when stderr shows a line matching `pattern`. */
function spawnStream(args: string[], env: Record<string, string> = {}) {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", `${ROOT}notebooks/kafka-producer-stream.ts`, ...args],
    cwd: ROOT,
    env: { KAFKAJS_NO_PARTITIONER_WARNING: "1", NO_COLOR: "1", ...env },
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  let stderr = "";
  let waiting: { re: RegExp; resolve: () => void } | undefined;
  const pump = (async () => {
    for await (const chunk of child.stderr) {
      stderr += decoder.decode(chunk);
      if (waiting && waiting.re.test(stderr)) {
        waiting.resolve();
        waiting = undefined;
      }
    }
  })();
  const stdout = new Response(child.stdout).text();
  return {
    child,
    saw(re: RegExp): Promise<void> {
      if (re.test(stderr)) return Promise.resolve();
      return new Promise((resolve) => (waiting = { re, resolve }));
    },
    async done() {
      const status = await child.status;
      await pump;
      return { code: status.code, signal: status.signal, stderr, stdout: await stdout };
    },
  };
}

Deno.test("kill -9 at random moments and at precise points, restart: read_committed output has no duplicates and no gaps", async () => {
  const kafka = testKafka();
  const input = uniqueName("ps-kill-in");
  const output = uniqueName("ps-kill-out");
  const aggOut = uniqueName("ps-kill-agg");
  await createTopic(kafka, input, 3);
  const base = Math.floor(Date.now() / 3_600_000) * 3_600_000 - 3 * 3_600_000;
  try {
    const lines = await dataLines();
    await produce(
      kafka,
      input,
      lines.map((l) => ({
        key: l.key,
        value: l.value,
        timestamp: eventTime(base, l.order.order_id),
      })),
    );
    // A broad filter (about half of the orders) so a replayed batch could not hide.
    // Filter mode shares partitions through a consumer group: a restart after kill -9 waits
    // for the dead copy's session to time out, so the session is kept short here.
    const filterArgs = streamArgs(input, output, [
      "--city",
      "",
      "--min-total",
      "500",
      "--session-timeout-ms",
      "6000",
      "--max-offsets-per-trigger",
      "40",
      "--trigger-interval",
      "30ms",
    ]);
    const aggArgs = streamArgs(input, aggOut, [
      "--aggregate",
      "state",
      "--window",
      "10 minutes",
      "--watermark",
      "3 hours",
      "--max-offsets-per-trigger",
      "40",
      "--trigger-interval",
      "30ms",
    ]);
    const kills: string[] = [];
    const groups = { filter: `${output}-filter-min500`, aggregate: `${aggOut}-agg-state-10m` };
    const position = async (group: string) => {
      const offsets = await withAdmin(kafka, (admin) => committedOffsets(admin, group, input));
      return [...offsets.values()].reduce((a, b) => a + Number(b), 0);
    };
    let midStream = 0;
    for (const [name, args] of [["filter", filterArgs], ["aggregate", aggArgs]] as const) {
      // Precise points first (the test hook), then external SIGKILLs at random moments.
      for (const fault of ["after-send:2", "before-commit:3", "after-commit:2"]) {
        const s = spawnStream([...args], { STREAM_FAULT: fault });
        const r = await s.done();
        assert.equal(r.signal, "SIGKILL", `${fault}: ${r.stderr}`);
        kills.push(`${name} ${fault}`);
      }
      for (let i = 0; i < 4; i++) {
        const s = spawnStream([...args]);
        await s.saw(/ start /);
        await new Promise((r) => setTimeout(r, 100 + Math.random() * 700));
        s.child.kill("SIGKILL");
        const r = await s.done();
        const at = await position(groups[name]);
        if (at > 0 && at < lines.length) midStream++;
        kills.push(`${name} random ${r.signal ?? r.code} at ${at}`);
      }
      // Finish what is left.
      const final = await runNotebook("kafka-producer-stream", [...args, "--available-now"]);
      assert.equal(final.code, 0, final.stderr);
    }
    assert.ok(kills.length >= 12, kills.join(", "));
    // Every random kill must land mid-stream (some progress committed, some left), or the test
    // is moot: 150 batches paced 30 ms apart outlast four runs of at most 0.8 s each.
    assert.equal(midStream, 8, kills.join(", "));
    console.log(kills.join("; "));

    const expected = lines.filter((l) =>
      l.order.line_items.reduce((n, it) => n + Math.round(it.order_item_subtotal * 100), 0) >=
        50_000
    ).map((l) => `${l.key}=${l.value}`);
    assert.ok(expected.length > 1000 && expected.length < 5000, String(expected.length));
    const got = (await readCommitted(kafka, output)).map((r) => `${r.key}=${r.value}`);
    assert.equal(got.length, expected.length, "duplicates or gaps in the filter output");
    assert.deepEqual(sorted(got), sorted(expected));

    const aggExpected = expectedAggregates(lines, base, "state", 600_000);
    const aggGot = latestPerKey(await readCommitted(kafka, aggOut));
    assert.deepEqual(new Map([...aggGot].sort()), new Map([...aggExpected].sort()));
  } finally {
    await cleanUp(kafka, [input, output, aggOut]);
  }
});

Deno.test("late records: inside the watermark update their window, beyond it are counted, logged and dropped", async () => {
  const kafka = testKafka();
  const input = uniqueName("ps-late-in");
  const output = uniqueName("ps-late-out");
  await createTopic(kafka, input, 1);
  const t0 = Math.floor(Date.now() / 60_000) * 60_000 - 3_600_000;
  const order = (id: number, city: string, subtotal: number) =>
    JSON.stringify({
      order_id: id,
      customer_id: id,
      customer_fname: "A",
      customer_lname: "B",
      city,
      state: "IL",
      pincode: 60601,
      line_items: [{
        order_item_id: id,
        order_item_product_id: 1,
        order_item_quantity: 1,
        order_item_product_price: subtotal,
        order_item_subtotal: subtotal,
      }],
    });
  const args = streamArgs(input, output, [
    "--aggregate",
    "city",
    "--window",
    "1 minute",
    "--watermark",
    "1 minute",
    "--available-now",
  ]);
  const key = (start: number) =>
    JSON.stringify({ city: "Chicago", window_start: new Date(t0 + start).toISOString() });
  try {
    // Run 1: windows W0 = [t0, t0+60s) and W2 = [t0+120s, t0+180s); watermark = t0+130s − 60s.
    await produce(kafka, input, [
      { key: "1", value: order(1, "Chicago", 10), timestamp: t0 },
      { key: "2", value: order(2, "Chicago", 20), timestamp: t0 + 30_000 },
      { key: "3", value: order(3, "Chicago", 40), timestamp: t0 + 125_000 },
      { key: "4", value: order(4, "Chicago", 80), timestamp: t0 + 130_000 },
    ]);
    const run1 = await runNotebook("kafka-producer-stream", args);
    assert.equal(run1.code, 0, run1.stderr);
    const after1 = await readCommitted(kafka, output);
    assert.deepEqual(after1.map((r) => r.key), [key(0), key(120_000)]);

    // Run 2 (a restart: W2's state comes back from the changelog):
    // t0+50s belongs to W0, which ended before the watermark t0+70s: dropped, with a log line.
    // t0+65s belongs to W1 = [t0+60s, t0+120s): late (behind t0+130s) but inside: a new record.
    // t0+140s updates W2 on time: its record carries the totals of both runs.
    await produce(kafka, input, [
      { key: "5", value: order(5, "Chicago", 1), timestamp: t0 + 50_000 },
      { key: "6", value: order(6, "Chicago", 2), timestamp: t0 + 65_000 },
      { key: "7", value: order(7, "Chicago", 4), timestamp: t0 + 140_000 },
    ]);
    const run2 = await runNotebook("kafka-producer-stream", args);
    assert.equal(run2.code, 0, run2.stderr);
    const summary = jsonLines(run2.stdout).at(-1)!;
    assert.equal(summary.dropped, 1);
    assert.equal(summary.late, 1);
    assert.match(run2.stderr, /dropped p0@4 \(order 5\).*beyond the watermark/);
    const all = await readCommitted(kafka, output);
    const added = all.slice(after1.length);
    assert.deepEqual(added.map((r) => r.key), [key(60_000), key(120_000)]);
    const values = added.map((r) => JSON.parse(r.value!));
    assert.deepEqual(values.map((v) => [v.orders, v.lines, v.revenue]), [[1, 1, 2], [3, 3, 124]]);
    // W0 was not touched again: still its first record (orders 1 and 2).
    const w0 = all.filter((r) => r.key === key(0));
    assert.equal(w0.length, 1);
    assert.equal(JSON.parse(w0[0].value!).revenue, 30);
  } finally {
    await cleanUp(kafka, [input, output]);
  }
});

Deno.test("--starting-offsets latest, SIGINT finishes the batch with a summary, an expired group resumes from the changelog", async () => {
  const kafka = testKafka();
  const input = uniqueName("ps-stop-in");
  const output = uniqueName("ps-stop-out");
  await createTopic(kafka, input, 1);
  const line = (id: number) =>
    JSON.stringify({
      order_id: id,
      customer_id: id,
      customer_fname: "A",
      customer_lname: "B",
      city: id % 5 === 0 ? "Chicago" : "Peoria",
      state: "IL",
      pincode: 60601,
      line_items: [{
        order_item_id: id,
        order_item_product_id: 1,
        order_item_quantity: 1,
        order_item_product_price: 1,
        order_item_subtotal: 1,
      }],
    });
  const orders = (from: number, to: number) =>
    Array.from({ length: to - from }, (_, i) => ({ key: String(from + i), value: line(from + i) }));
  // Parsing on the main thread here; the other filter tests use the default parse worker.
  const args = streamArgs(input, output, ["--starting-offsets", "latest", "--parse-inline"]);
  try {
    await produce(kafka, input, orders(0, 100)); // before the query exists: never read
    const s = spawnStream(args);
    await s.saw(/ start .*p0@100 \(new\)/);
    await produce(kafka, input, orders(100, 150));
    await s.saw(/progress .*total 50 in/);
    s.child.kill("SIGINT");
    const r = await s.done();
    assert.equal(r.code, 0, r.stderr);
    assert.match(
      r.stderr,
      /signal\s+(finishing batch \d+ before stopping|stopping between batches)/,
    );
    const summary = jsonLines(r.stdout).at(-1)!;
    assert.equal(summary.input, 50);
    assert.deepEqual(summary.positions, { "0": "150" });

    // The group's offsets vanish (as after offsets.retention.minutes): the changelog keeps the
    // position, so the next run reads only the 20 new orders.
    await withAdmin(kafka, (admin) => admin.deleteGroups([`${output}-filter-chicago`]));
    await produce(kafka, input, orders(150, 170));
    const again = await runNotebook("kafka-producer-stream", [...args, "--available-now"]);
    assert.equal(again.code, 0, again.stderr);
    assert.match(again.stderr, /no group offset \(expired\?\); using the changelog's 150/);
    assert.equal(jsonLines(again.stdout).at(-1)!.input, 20);
    const keys = (await readCommitted(kafka, output)).map((o) => Number(o.key));
    assert.deepEqual(keys.sort((a, b) => a - b), [
      100,
      105,
      110,
      115,
      120,
      125,
      130,
      135,
      140,
      145,
      150,
      155,
      160,
      165,
    ]);
  } finally {
    await cleanUp(kafka, [input, output]);
  }
});

Deno.test("--starting-timestamp, --progress json and --trigger-interval", async () => {
  const kafka = testKafka();
  const input = uniqueName("ps-ts-in");
  const output = uniqueName("ps-ts-out");
  await createTopic(kafka, input, 1);
  const t1 = Math.floor(Date.now() / 1000) * 1000 - 60_000;
  try {
    const lines = (await dataLines()).slice(0, 20);
    await produce(
      kafka,
      input,
      lines.map((l, i) => ({ key: l.key, value: l.value, timestamp: i < 10 ? t1 - 5000 : t1 })),
    );
    const run = await runNotebook(
      "kafka-producer-stream",
      streamArgs(input, output, [
        "--city",
        "",
        "--starting-timestamp",
        new Date(t1).toISOString(),
        "--available-now",
        "--progress",
        "json",
        "--max-offsets-per-trigger",
        "4",
        "--trigger-interval",
        "50ms",
      ]),
    );
    assert.equal(run.code, 0, run.stderr);
    const out = jsonLines(run.stdout);
    const batches = out.slice(0, -1);
    assert.deepEqual(batches.map((b) => b.numInputRows), [4, 4, 2]);
    // The one progress type of every stream (Spark's StreamingQueryProgress shape).
    const source = (b: Record<string, unknown>) =>
      (b.sources as { endOffset: Record<string, unknown>; lag: Record<string, unknown> }[])[0];
    assert.deepEqual(batches.map((b) => source(b).endOffset[input]), [{ "0": 14 }, { "0": 18 }, {
      "0": 20,
    }]);
    assert.deepEqual(batches.map((b) => source(b).lag[input]), [{ "0": 6 }, { "0": 2 }, {
      "0": 0,
    }]);
    assert.equal(out.at(-1)!.input, 10);
    const got = (await readCommitted(kafka, output)).map((r) => r.value);
    assert.deepEqual(got, lines.slice(10).map((l) => l.value));
  } finally {
    await cleanUp(kafka, [input, output]);
  }
});
