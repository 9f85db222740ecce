/**
 * notebooks/kafka-producer-stream.ts in aggregate mode over a BACKLOG on several partitions:
 * micro-batches must take every partition's fair share (lib/kafka/fair.ts), so the event-time
 * frontier moves forward on all partitions together and the watermark drops no on-time order.
 *
 * ~9,000 orders spread evenly over 20 minutes of event time (Kafka record timestamps) on 6
 * partitions, each partition in time order except jitter below 2 minutes, read 500 offsets a
 * trigger with a 10-minute watermark: no order may be dropped, and the per (city, window)
 * totals must equal an independent computation, in update and in append mode. (Cut in fetch
 * order, one partition filled the first batches and the watermark then dropped ~40% of the
 * other partitions' orders.)
 *
 * Needs the broker: `deno task kafka:up` (or KAFKA_BOOTSTRAP_SERVERS).
 */
import assert from "node:assert/strict";
import type { Kafka } from "kafkajs";
import { Partitioners } from "kafkajs";
import "../../lib/kafka/client.ts"; // silences kafkajs' harmless TimeoutNegativeWarning
import { readRange, resolveRange } from "../../lib/kafka/source.ts";
import { dataFiles } from "../../lib/orders/lines.ts";
import {
  bootstrapServers,
  createTopic,
  deleteTopics,
  testKafka,
  uniqueName,
  withAdmin,
} from "../support/kafka.ts";
import { jsonLines, runNotebook } from "../support/notebooks.ts";

const WINDOW_MS = 60_000;
const WATERMARK_MS = 600_000;
const SPAN_MS = 20 * 60_000;
const JITTER_MS = 120_000;
const ORDERS = 9_000;

interface Produced {
  key: string;
  value: string;
  timestamp: number;
  city: string | null;
  lines: number;
  cents: number;
}

/**
 * ORDERS valid orders from data/ (plain JSON.parse, independent of lib/orders): the files'
 * orders, then again from the first with order ids moved past them, until there are enough.
 * Order i gets the event time base + i·(span − jitter)/n + a jitter in [0, 2 min).
 */
async function backlogOrders(base: number): Promise<Produced[]> {
  const orders: Record<string, unknown>[] = [];
  for (const f of await dataFiles()) {
    for (const line of (await Deno.readTextFile(f)).split("\n")) {
      if (line.trim() !== "") orders.push(JSON.parse(line));
    }
  }
  assert.ok(orders.length >= ORDERS / 2, `data/ holds ${orders.length} orders`);
  let seed = 0x2545f491;
  const jitter = () => {
    seed ^= seed << 13;
    seed ^= seed >>> 17;
    seed ^= seed << 5;
    return (seed >>> 0) % JITTER_MS;
  };
  return Array.from({ length: ORDERS }, (_, i) => {
    const round = Math.floor(i / orders.length);
    const o = { ...orders[i % orders.length] } as {
      order_id: number;
      customer_id: number;
      city: string | null;
      line_items: { order_item_subtotal: number }[];
    };
    o.order_id += round * 1_000_000;
    return {
      key: String(o.customer_id),
      value: JSON.stringify(o),
      timestamp: base + Math.floor((i * (SPAN_MS - JITTER_MS)) / ORDERS) + jitter(),
      city: o.city,
      lines: o.line_items.length,
      cents: o.line_items.reduce((n, it) => n + Math.round(it.order_item_subtotal * 100), 0),
    };
  });
}

/** Sends the orders in order with their timestamps (idempotent, acks all, keyed partitioning). */
async function produceOrders(kafka: Kafka, topic: string, orders: Produced[]): Promise<void> {
  const producer = kafka.producer({
    idempotent: true,
    maxInFlightRequests: 1,
    createPartitioner: Partitioners.DefaultPartitioner,
  });
  await producer.connect();
  try {
    for (let i = 0; i < orders.length; i += 1500) {
      await producer.send({
        topic,
        acks: -1,
        messages: orders.slice(i, i + 1500).map((o) => ({
          key: o.key,
          value: o.value,
          timestamp: String(o.timestamp),
        })),
      });
    }
  } finally {
    await producer.disconnect();
  }
}

interface Totals {
  orders: number;
  lines: number;
  cents: number;
}

/** "<city> <window start ISO>" → totals, computed from the produced orders. */
function expectedTotals(orders: Produced[]): Map<string, Totals> {
  const out = new Map<string, Totals>();
  for (const o of orders) {
    const start = o.timestamp - (o.timestamp % WINDOW_MS);
    const k = `${o.city} ${new Date(start).toISOString()}`;
    const t = out.get(k) ?? { orders: 0, lines: 0, cents: 0 };
    t.orders++;
    t.lines += o.lines;
    t.cents += o.cents;
    out.set(k, t);
  }
  return out;
}

/** The output records (read_committed, in offset order per partition), parsed. */
async function readOutput(
  kafka: Kafka,
  topic: string,
): Promise<{ k: string; t: Totals }[]> {
  const ranges = await withAdmin(
    kafka,
    (admin) => resolveRange(admin, topic, { kind: "earliest" }, { kind: "latest" }),
  );
  const out: { k: string; t: Totals }[] = [];
  const dec = new TextDecoder();
  for await (const batch of readRange(kafka, topic, ranges, { timestampType: 0 })) {
    for (const r of batch) {
      const key = JSON.parse(dec.decode(r.key!));
      const v = JSON.parse(dec.decode(r.value!));
      // Key and value agree on the group and the window; the window is one minute.
      assert.deepEqual(key, { city: v.city, window_start: v.window_start });
      assert.equal(Date.parse(v.window_end) - Date.parse(v.window_start), WINDOW_MS);
      out.push({
        k: `${v.city} ${v.window_start}`,
        t: { orders: v.orders, lines: v.lines, cents: Math.round(v.revenue * 100) },
      });
    }
  }
  return out;
}

const byKey = <V>(m: Map<string, V>) => new Map([...m].sort(([a], [b]) => (a < b ? -1 : 1)));

Deno.test("aggregate over a 6-partition backlog, 500 offsets a trigger: no on-time order dropped, totals exact (update and append)", async () => {
  const kafka = testKafka();
  const input = uniqueName("ps-backlog-in");
  const output = uniqueName("ps-backlog-out");
  await createTopic(kafka, input, 6);
  const base = Math.floor(Date.now() / 3_600_000) * 3_600_000 - 2 * 3_600_000;
  try {
    const orders = await backlogOrders(base);
    await produceOrders(kafka, input, orders);
    // The input really is spread: every partition holds a good part of the orders.
    const highs = await withAdmin(kafka, (admin) => admin.fetchTopicOffsets(input));
    assert.equal(highs.length, 6);
    for (const h of highs) assert.ok(Number(h.high) > ORDERS / 12, `partition ${h.partition}`);

    const expected = expectedTotals(orders);
    const maxTime = Math.max(...orders.map((o) => o.timestamp));
    for (const mode of ["update", "append"] as const) {
      const out = `${output}-${mode}`;
      const run = await runNotebook("kafka-producer-stream", [
        "--bootstrap-servers",
        bootstrapServers().join(","),
        "--topic",
        input,
        "--output-topic",
        out,
        "--query-name",
        `${out}-q`,
        "--aggregate",
        "city",
        "--window",
        "1m",
        "--watermark",
        "10m",
        "--output-mode",
        mode,
        "--max-offsets-per-trigger",
        "500",
        "--available-now",
      ]);
      assert.equal(run.code, 0, run.stderr);
      const summary = jsonLines(run.stdout).at(-1)!;
      assert.equal(summary.input, ORDERS, `${mode}: input`);
      assert.equal(
        summary.dropped,
        0,
        `${mode}: ${summary.dropped} orders dropped beyond the watermark\n` +
          run.stderr.split("\n").filter((l) => /dropped p\d+@/.test(l)).slice(0, 3).join("\n"),
      );
      assert.doesNotMatch(run.stderr, /dropped p\d+@\d+/, "no record logged as dropped");

      const records = await readOutput(kafka, out);
      if (mode === "update") {
        // The last record per (city, window) carries its final totals.
        const last = new Map(records.map((r) => [r.k, r.t]));
        assert.equal(last.size, expected.size);
        assert.deepEqual(byKey(last), byKey(expected));
      } else {
        // Each window once, when the final watermark (max event time − 10 min) passed its end;
        // the later windows stay in the state, unpublished.
        const closed = new Map(
          [...expected].filter(([k]) =>
            Date.parse(k.slice(k.lastIndexOf(" ") + 1)) + WINDOW_MS <= maxTime - WATERMARK_MS
          ),
        );
        assert.ok(closed.size > expected.size / 3, `${closed.size} of ${expected.size}`);
        assert.equal(records.length, closed.size, "one record per closed window");
        const got = new Map(records.map((r) => [r.k, r.t]));
        assert.equal(got.size, records.length, "no window published twice");
        assert.deepEqual(byKey(got), byKey(closed));
      }
    }
  } finally {
    const all = await withAdmin(kafka, (admin) => admin.listTopics());
    await deleteTopics(kafka, all.filter((t) => t.startsWith(input) || t.startsWith(output)));
  }
});
