// Scale-out of the producer stream in filter mode: copies with one --query-name share a
// 6-partition topic through the consumer group, each partition committing through its own
// transactional id. Under a live feed, two copies start together, one dies with kill -9 inside a
// transaction (STREAM_FAULT after-send: records sent, offsets not committed), a third joins, the
// first leaves (SIGTERM). The read_committed output must hold each Chicago order exactly once
// and the dead-letter topic each bad record once, checked against the input with a plain
// JSON.parse (independent of lib/orders).
import assert from "node:assert/strict";
import { join } from "node:path";
import type { Kafka } from "kafkajs";
import { Buffer } from "node:buffer";
import { committedOffsets } from "../../lib/kafka/sink.ts";
import { readRange, resolveRange } from "../../lib/kafka/source.ts";
import { dataFiles } from "../../lib/orders/lines.ts";
import { malformedOrders } from "../fixtures/malformed_orders.ts";
import {
  bootstrapServers,
  deleteTopics,
  testKafka,
  uniqueName,
  withAdmin,
} from "../support/kafka.ts";
import {
  finish,
  freshTopic,
  produce,
  ROOT,
  spawnNotebook,
  type TestRecord,
} from "../support/stream.ts";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * A copy of the producer stream whose output is read while it runs (a child blocks on a full
 * stdout pipe otherwise): `done` is its result.
 */
function start(args: string[], env: Record<string, string> = {}) {
  const child = spawnNotebook("producer", args, env);
  return { child, done: finish(child) };
}

/** `p`, or a failure after `ms` saying what did not happen. */
function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} within ${ms / 1000} s`)), ms);
  });
  return Promise.race([p, late]).finally(() => clearTimeout(timer));
}
const decoder = new TextDecoder();

/** The data/ orders, as parsed objects. */
async function dataOrders(): Promise<Record<string, unknown>[]> {
  const out: Record<string, unknown>[] = [];
  for (const f of await dataFiles(join(ROOT, "data"))) {
    for (const line of (await Deno.readTextFile(f)).split("\n")) {
      if (line.trim() !== "") out.push(JSON.parse(line));
    }
  }
  return out;
}

/** Every record of a topic as a read_committed reader sees it: `key=value`. */
async function readCommitted(kafka: Kafka, topic: string): Promise<string[]> {
  const ranges = await withAdmin(
    kafka,
    (admin) => resolveRange(admin, topic, { kind: "earliest" }, { kind: "latest" }),
  );
  const out: string[] = [];
  for await (const batch of readRange(kafka, topic, ranges, { timestampType: 0 })) {
    for (const r of batch) {
      out.push(
        `${r.key === null ? "" : decoder.decode(r.key)}=${
          r.value === null ? "<null>" : decoder.decode(r.value)
        }`,
      );
    }
  }
  return out.sort();
}

Deno.test({
  name:
    "producer stream scale-out (filter): 2 then 3 copies, kill -9 mid-transaction, a join and a leave: every Chicago order once",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const kafka = testKafka();
    const topic = await freshTopic("ps-scale", 6);
    const output = uniqueName("ps-scale-out");
    const query = uniqueName("ps-scale-q");
    const orders = await dataOrders();
    const corpus = malformedOrders().filter((c) => c.expected !== "ok");
    const expected: string[] = [];
    let bad = 0;
    let wave = 0;
    /** One wave of the feed: the data/ orders with new order ids, and a few bad records. */
    const feed = async (share = 1) => {
      const records: TestRecord[] = [];
      const n = Math.floor(orders.length * share);
      for (let i = 0; i < n; i++) {
        const o: Record<string, unknown> = {
          ...orders[i],
          order_id: (orders[i].order_id as number) + wave * 1_000_000,
        };
        const value = JSON.stringify(o);
        const key = String(o.customer_id);
        records.push({ key, value });
        if (o.city === "Chicago") expected.push(`${key}=${value}`);
        if (i % 400 === 0) {
          const c = corpus[(wave * 7 + i / 400) % corpus.length];
          records.push({ key: `bad-${wave}-${i}`, value: c.bytes });
          bad++;
        }
      }
      wave++;
      await produce(topic, records);
    };
    const args = [
      "--bootstrap-servers",
      bootstrapServers().join(","),
      "--topic",
      topic,
      "--output-topic",
      output,
      "--query-name",
      query,
      "--trigger-interval",
      "200ms",
      "--max-offsets-per-trigger",
      "400",
      "--session-timeout-ms",
      "6000",
      "--progress",
      "json",
    ];
    const children: Deno.ChildProcess[] = [];
    try {
      await feed(0.5);
      const a = start(args);
      // B dies with kill -9 in its 6th batch, inside an open transaction.
      const b = start(args, { STREAM_FAULT: "after-send:6" });
      children.push(a.child, b.child);
      for (let i = 0; i < 4; i++) {
        await feed(0.5);
        await sleep(700);
      }
      const bResult = await within(b.done, 60_000, "B killed by its STREAM_FAULT");
      assert.equal(bResult.signal, "SIGKILL", bResult.stderr.slice(-1500));
      const c = start(args);
      children.push(c.child);
      for (let i = 0; i < 4; i++) {
        await feed(0.5);
        await sleep(700);
      }
      a.child.kill("SIGTERM"); // A leaves; C takes its partitions
      const aResult = await a.done;
      assert.equal(aResult.code, 0, aResult.stderr.slice(-1500));
      if (Deno.env.get("STREAM_TEST_VERBOSE")) {
        for (const r of [aResult, bResult]) console.error(`-----\n${r.stderr}`);
      }
      for (let i = 0; i < 2; i++) {
        await feed(0.5);
        await sleep(500);
      }
      // Wait until the group's committed offsets reach the end of every partition.
      const ends = await withAdmin(kafka, (admin) => admin.fetchTopicOffsets(topic));
      const high = new Map(ends.map((o) => [o.partition, BigInt(o.high)]));
      const deadline = Date.now() + 90_000;
      let done = false;
      while (!done && Date.now() < deadline) {
        const stored = await withAdmin(kafka, (admin) => committedOffsets(admin, query, topic));
        done = [...high].every(([p, h]) => stored.get(p) === h);
        if (!done) await sleep(500);
      }
      c.child.kill("SIGTERM");
      if (!done) {
        const r = await c.done;
        const times = r.progress.slice(-30).map((p) =>
          `${String(p.timestamp).slice(11, 23)} ${p.numInputRows} ${JSON.stringify(p.durationMs)} ${
            JSON.stringify((p.sources as Record<string, unknown>[] | undefined)?.[0] ?? "")
          }`
        );
        assert.fail(
          `every partition committed to its end; C:\n${r.stderr.slice(-6000)}\n${times.join("\n")}`,
        );
      }
      const cResult = await c.done;
      assert.equal(cResult.code, 0, cResult.stderr.slice(-1500));
      if (Deno.env.get("STREAM_TEST_VERBOSE")) {
        for (const r of [aResult, bResult, cResult]) console.error(`-----\n${r.stderr}`);
      }

      // The copies shared the work: A and B both committed batches while both ran (before,
      // the second copy fenced the first at start), and C committed batches after joining.
      const batches = (r: { progress: Record<string, unknown>[] }) =>
        r.progress.filter((p) => (p.numInputRows as number) > 0).length;
      // B dies in its 6th attempt; a batch dropped in the first rebalance (A and B joining at
      // once) is an attempt too, so at least 3 of the 5 before it committed.
      assert.ok(batches(bResult) >= 3, `B committed ${batches(bResult)} batches before its kill`);
      assert.ok(batches(aResult) >= 3, `A committed ${batches(aResult)} batches`);
      assert.ok(batches(cResult) >= 3, `C committed ${batches(cResult)} batches`);
      assert.doesNotMatch(aResult.stderr, /taken over by a newer instance/);

      // Exactly once, read_committed, against the input.
      const got = await readCommitted(kafka, output);
      assert.equal(got.length, expected.length, "no loss, no duplicates");
      assert.deepEqual(got, expected.sort());
      const dead = await readCommitted(kafka, `${output}_dead_letters`);
      assert.equal(dead.length, bad, "each bad record dead-lettered once");
      console.log(
        `producer scale-out: ${wave} waves, ${expected.length} Chicago orders and ${bad} bad ` +
          `records exactly once; batches A ${batches(aResult)}, B ${batches(bResult)} (killed), ` +
          `C ${batches(cResult)}`,
      );
    } finally {
      for (const ch of children) {
        try {
          ch.kill("SIGKILL");
        } catch { /* already gone */ }
      }
      const all = await withAdmin(kafka, (admin) => admin.listTopics());
      await deleteTopics(
        kafka,
        all.filter((t) => t === topic || t.startsWith(output) || t.startsWith(query)),
      );
    }
  },
});

/** The last value per key of a read_committed topic (update mode: each window's final totals). */
async function lastPerKey(kafka: Kafka, topic: string): Promise<Map<string, unknown>> {
  const ranges = await withAdmin(
    kafka,
    (admin) => resolveRange(admin, topic, { kind: "earliest" }, { kind: "latest" }),
  );
  const out = new Map<string, unknown>();
  for await (const batch of readRange(kafka, topic, ranges, { timestampType: 0 })) {
    for (const r of batch) out.set(decoder.decode(r.key!), JSON.parse(decoder.decode(r.value!)));
  }
  return out;
}

Deno.test({
  name:
    "producer stream scale-out (aggregate --repartition): 2 then 3 copies, kill -9 mid-transaction, a join and a leave: windows equal one copy's and an independent sum",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const kafka = testKafka();
    const topic = await freshTopic("ps-rp", 6);
    const output = uniqueName("ps-rp-out");
    const single = uniqueName("ps-rp-single");
    const query = uniqueName("ps-rp-q");
    const orders = await dataOrders();
    const corpus = malformedOrders().filter((c) => c.expected !== "ok");
    const base = Math.floor(Date.now() / 3_600_000) * 3_600_000 - 3_600_000;
    /** Independent totals per (city, window): orders, lines, cents. */
    const expected = new Map<string, { orders: number; lines: number; cents: number }>();
    let bad = 0;
    let sent = 0;
    const feed = async (n: number) => {
      const messages: { key: string; value: string | Uint8Array | null; timestamp: string }[] = [];
      for (let i = 0; i < n; i++, sent++) {
        const src = orders[sent % orders.length];
        const o = { ...src, order_id: (src.order_id as number) + sent * 10 } as unknown as {
          city: string | null;
          customer_id: number;
          line_items: { order_item_subtotal: number }[];
        };
        // Event time: 200 ms apart, so the run spans a few one-minute windows.
        const time = base + sent * 200;
        messages.push({
          key: String(o.customer_id),
          value: JSON.stringify(o),
          timestamp: String(time),
        });
        const start = Math.floor(time / 60_000) * 60_000;
        const key = JSON.stringify({ city: o.city, window_start: new Date(start).toISOString() });
        const t = expected.get(key) ?? { orders: 0, lines: 0, cents: 0 };
        t.orders++;
        t.lines += o.line_items.length;
        for (const it of o.line_items) t.cents += Math.round(it.order_item_subtotal * 100);
        expected.set(key, t);
        if (sent % 300 === 0) {
          messages.push({
            key: `bad-${sent}`,
            value: corpus[(sent / 300) % corpus.length].bytes,
            timestamp: String(time),
          });
          bad++;
        }
      }
      const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
      await producer.connect();
      try {
        for (let i = 0; i < messages.length; i += 500) {
          await producer.send({
            topic,
            acks: -1,
            messages: messages.slice(i, i + 500).map((m) => ({
              key: m.key,
              value: m.value instanceof Uint8Array ? Buffer.from(m.value) : m.value,
              timestamp: m.timestamp,
            })),
          });
        }
      } finally {
        await producer.disconnect();
      }
    };
    const args = (out: string, q: string, extra: string[] = []) => [
      "--bootstrap-servers",
      bootstrapServers().join(","),
      "--topic",
      topic,
      "--output-topic",
      out,
      "--query-name",
      q,
      "--aggregate",
      "city",
      "--window",
      "1 minute",
      "--watermark",
      "2 hours",
      "--max-offsets-per-trigger",
      "400",
      "--session-timeout-ms",
      "6000",
      "--progress",
      "json",
      ...extra,
    ];
    const scaled = args(output, query, ["--repartition", "--trigger-interval", "200ms"]);
    const children: Deno.ChildProcess[] = [];
    try {
      await feed(1500);
      const a = start(scaled);
      // B dies in the 3rd batch of one of its stages, inside an open transaction.
      const b = start(scaled, { STREAM_FAULT: "after-send:3" });
      children.push(a.child, b.child);
      for (let i = 0; i < 4; i++) {
        await feed(600);
        await sleep(700);
      }
      const bResult = await within(b.done, 60_000, "B killed by its STREAM_FAULT");
      assert.equal(bResult.signal, "SIGKILL", bResult.stderr.slice(-1500));
      const c = start(scaled);
      children.push(c.child);
      for (let i = 0; i < 4; i++) {
        await feed(600);
        await sleep(700);
      }
      a.child.kill("SIGTERM");
      const aResult = await a.done;
      assert.equal(aResult.code, 0, aResult.stderr.slice(-1500));
      await feed(600);
      // Both stages reach their ends: the input's, then the repartition topic's.
      const caughtUp = async (group: string, t: string) => {
        const deadline = Date.now() + 90_000;
        while (Date.now() < deadline) {
          const [ends, stored] = await withAdmin(kafka, async (admin) =>
            [
              await admin.fetchTopicOffsets(t),
              await committedOffsets(admin, group, t),
            ] as const);
          if (ends.every((e) => stored.get(e.partition) === BigInt(e.high))) return;
          await sleep(500);
        }
        assert.fail(`${group} did not reach the end of ${t}`);
      };
      await caughtUp(query, topic);
      await caughtUp(`${query}-windows`, `${query}-repartition`);
      c.child.kill("SIGTERM");
      const cResult = await c.done;
      assert.equal(cResult.code, 0, cResult.stderr.slice(-1500));
      if (Deno.env.get("STREAM_TEST_VERBOSE")) {
        for (const r of [aResult, bResult, cResult]) console.error(`-----\n${r.stderr}`);
      }

      // One copy of the old kind over the same input, for comparison.
      const one = await start(args(single, `${single}-q`, ["--available-now"])).done;
      assert.equal(one.code, 0, one.stderr.slice(-1500));

      const got = await lastPerKey(kafka, output);
      const oneCopy = await lastPerKey(kafka, single);
      const want = new Map([...expected].map(([k, t]) => {
        const w = JSON.parse(k);
        const start = Date.parse(w.window_start);
        return [k, {
          window_start: w.window_start,
          window_end: new Date(start + 60_000).toISOString(),
          city: w.city,
          orders: t.orders,
          lines: t.lines,
          revenue: t.cents / 100,
        }];
      }));
      const oneDiffer = [...want].filter(([k, v]) =>
        JSON.stringify(oneCopy.get(k)) !== JSON.stringify(v)
      ).length;
      assert.equal(oneDiffer, 0, `one copy: ${oneDiffer} windows differ from the independent sums`);
      const differ = [...want].filter(([k, v]) => JSON.stringify(got.get(k)) !== JSON.stringify(v));
      if (differ.length > 0) {
        // Which stage: the partials committed to the repartition topic, summed per window.
        const ranges = await withAdmin(
          kafka,
          (admin) =>
            resolveRange(admin, `${query}-repartition`, { kind: "earliest" }, { kind: "latest" }),
        );
        const sums = new Map<string, number>();
        for await (
          const batch of readRange(kafka, `${query}-repartition`, ranges, { timestampType: 0 })
        ) {
          for (const r of batch) {
            const k = decoder.decode(r.key!);
            if (k === "__time__") continue;
            sums.set(k, (sums.get(k) ?? 0) + JSON.parse(decoder.decode(r.value!)).orders);
          }
        }
        for (const [who, r] of [["A", aResult], ["B", bResult], ["C", cResult]] as const) {
          for (const p of r.progress) {
            if (p.name !== query || !p.sources) continue;
            const src = (p.sources as Record<string, Record<string, Record<string, number>>>[])[0];
            console.error(
              `DIAGRANGE ${who} ${p.timestamp} ${JSON.stringify(src.startOffset[topic])} ${
                JSON.stringify(src.endOffset[topic])
              }`,
            );
          }
        }
        const [k, v] = differ[0];
        console.error(
          `DIAG ${k}: want ${(v as { orders: number }).orders}, partials ${sums.get(k)}, got ${
            JSON.stringify(got.get(k))
          }`,
        );
      }
      assert.equal(
        differ.length,
        0,
        `${differ.length} of ${want.size} windows differ (got ${got.size}), e.g. ${
          differ.slice(0, 3).map(([k, v]) =>
            `${k}: want ${JSON.stringify(v)} got ${JSON.stringify(got.get(k))}`
          )
            .join("; ")
        }`,
      );
      assert.deepEqual(got, want, "the scaled-out windows equal the independent sums");
      assert.deepEqual(got, oneCopy, "and one copy's windows, window by window");
      const dead = await readCommitted(kafka, `${output}_dead_letters`);
      assert.equal(dead.length, bad, "each bad record dead-lettered once");
      const batches = (r: { progress: Record<string, unknown>[] }) =>
        r.progress.filter((p) => (p.numInputRows as number) > 0).length;
      assert.ok(batches(aResult) >= 3 && batches(cResult) >= 3, "A and C both worked");
      console.log(
        `producer scale-out (repartition): ${sent} orders, ${want.size} windows equal one copy's ` +
          `and the independent sums; ${bad} bad records once; batches A ${batches(aResult)}, ` +
          `B ${batches(bResult)} (killed), C ${batches(cResult)}`,
      );
    } finally {
      for (const ch of children) {
        try {
          ch.kill("SIGKILL");
        } catch { /* already gone */ }
      }
      const all = await withAdmin(kafka, (admin) => admin.listTopics());
      await deleteTopics(
        kafka,
        all.filter((t) =>
          t === topic || t.startsWith(output) || t.startsWith(query) || t.startsWith(single)
        ),
      );
    }
  },
});
