/**
 * notebooks/kafka-producer-stream.ts on the real broker: the aggregate mode's revenue is exact to
 * the cent. Thousands of orders whose subtotals are amounts like 0.1, 0.2 and 0.7 (where a sum
 * of doubles drifts off the cent) go through `--aggregate city`; the revenue published per group
 * must equal an independent exact sum (BigInt cents read from the digits of the JSON texts, never
 * through Number arithmetic). Records with money of more than two decimals or of 10^10 and more
 * are `out_of_range` dead letters.
 *
 * Needs the broker: `deno task kafka:up` (or KAFKA_BOOTSTRAP_SERVERS).
 */
import assert from "node:assert/strict";
import type { Kafka } from "kafkajs";
import { Partitioners } from "kafkajs";
import "../../lib/kafka/client.ts"; // silences kafkajs' harmless TimeoutNegativeWarning
import { readRange, resolveRange } from "../../lib/kafka/source.ts";
import {
  bootstrapServers,
  createTopic,
  deleteTopics,
  testKafka,
  uniqueName,
  withAdmin,
} from "../support/kafka.ts";
import { jsonLines, runNotebook } from "../support/notebooks.ts";

const decoder = new TextDecoder();
const CITIES = ["Chicago", "Caguas", "Brooklyn", "Fresno"];
/** Prices in cents: tenths and small amounts whose double sums drift. */
const PRICES = [10, 20, 70, 30, 110, 1, 3, 19_999];

/** Decimal text (at most two decimals) as BigInt cents, from its digits alone. */
function textCents(text: string): bigint {
  const m = /^(-?)(\d+)(?:\.(\d{1,2}))?$/.exec(text.trim());
  assert.ok(m, `not an amount in cents: ${text}`);
  const cents = BigInt(m[2]) * 100n + BigInt((m[3] ?? "").padEnd(2, "0"));
  return m[1] ? -cents : cents;
}

/** Cents as the decimal text an order would carry (`10` → `0.1`, `19999` → `199.99`). */
function amountText(cents: number): string {
  const whole = Math.floor(cents / 100);
  const frac = cents % 100;
  if (frac === 0) return String(whole);
  return `${whole}.${String(frac).padStart(2, "0").replace(/0$/, "")}`;
}

/** A deterministic pseudo-random sequence (xorshift32). */
function rng(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x / 4294967296;
  };
}

/** The JSON text of order `id` in `city` with the given line items (amount texts as is). */
function orderText(
  id: number,
  city: string,
  items: { quantity: number; price: string; subtotal: string }[],
): string {
  const lineItems = items.map((it, k) =>
    `{"order_item_id":${id * 10 + k},"order_item_product_id":${100 + k},` +
    `"order_item_quantity":${it.quantity},"order_item_product_price":${it.price},` +
    `"order_item_subtotal":${it.subtotal}}`
  ).join(",");
  return `{"order_id":${id},"customer_id":${1000 + (id % 97)},"customer_fname":"Ann",` +
    `"customer_lname":"Lee","city":"${city}","state":"IL","pincode":60601,` +
    `"line_items":[${lineItems}]}`;
}

async function produce(kafka: Kafka, topic: string, messages: { key: string; value: string }[]) {
  const producer = kafka.producer({
    idempotent: true,
    maxInFlightRequests: 1,
    createPartitioner: Partitioners.DefaultPartitioner,
  });
  await producer.connect();
  try {
    for (let i = 0; i < messages.length; i += 1000) {
      await producer.send({ topic, acks: -1, messages: messages.slice(i, i + 1000) });
    }
  } finally {
    await producer.disconnect();
  }
}

/** Every record value of a topic, as a read_committed reader sees it (key → last value). */
async function lastPerKey(kafka: Kafka, topic: string): Promise<Map<string, string>> {
  const ranges = await withAdmin(
    kafka,
    (admin) => resolveRange(admin, topic, { kind: "earliest" }, { kind: "latest" }),
  );
  const out = new Map<string, string>();
  for await (const batch of readRange(kafka, topic, ranges, { timestampType: 0 })) {
    for (const r of batch) out.set(decoder.decode(r.key!), decoder.decode(r.value!));
  }
  return out;
}

/** The first `expected` records of a dead-letter topic: value and `dlq.reason` header. */
async function deadLetters(
  kafka: Kafka,
  topic: string,
  expected: number,
): Promise<{ value: string; reason: string }[]> {
  const consumer = kafka.consumer({ groupId: uniqueName("pm-dlq"), maxWaitTimeInMs: 200 });
  const out: { value: string; reason: string }[] = [];
  await consumer.connect();
  try {
    await consumer.subscribe({ topics: [topic], fromBeginning: true });
    await new Promise<void>((resolve, reject) => {
      const guard = setTimeout(() => reject(new Error(`only ${out.length} dead letters`)), 30_000);
      consumer.run({
        eachMessage: ({ message }) => {
          out.push({
            value: message.value?.toString() ?? "",
            reason: String(message.headers?.["dlq.reason"] ?? ""),
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

Deno.test("aggregate mode: revenue per city is exact to the cent (an independent BigInt sum), bad money is out_of_range", async () => {
  const kafka = testKafka();
  const input = uniqueName("pm-in");
  const output = uniqueName("pm-out");
  await createTopic(kafka, input, 3);
  try {
    const next = rng(17);
    const good: { city: string; text: string }[] = [];
    for (let id = 1; id <= 3000; id++) {
      const city = CITIES[id % CITIES.length];
      const items = Array.from({ length: 1 + Math.floor(next() * 3) }, () => {
        const cents = PRICES[Math.floor(next() * PRICES.length)];
        const quantity = 1 + Math.floor(next() * 3);
        return { quantity, price: amountText(cents), subtotal: amountText(cents * quantity) };
      });
      good.push({ city, text: orderText(id, city, items) });
    }
    const bad = [
      orderText(9001, "Chicago", [{ quantity: 1, price: "0.105", subtotal: "0.105" }]),
      orderText(9002, "Caguas", [{ quantity: 1, price: "1e10", subtotal: "1e10" }]),
      orderText(9003, "Fresno", [{ quantity: 2, price: "12.345", subtotal: "24.69" }]),
      orderText(9004, "Brooklyn", [
        { quantity: 1, price: "0.1", subtotal: "0.1" },
        { quantity: 1, price: "10000000000.00", subtotal: "10000000000.00" },
      ]),
    ];
    const messages = good.map((g) => ({ key: g.city, value: g.text }));
    bad.forEach((text, k) => messages.splice(500 * (k + 1), 0, { key: "bad", value: text }));
    await produce(kafka, input, messages);

    // Independent expectation: BigInt cents from the subtotals' digits in the JSON texts, and a
    // naive double sum of the same amounts (JSON.parse + `+`).
    const exact = new Map<string, bigint>();
    const naive = new Map<string, number>();
    for (const g of good) {
      for (const [, amount] of g.text.matchAll(/"order_item_subtotal":([-0-9.eE+]+)/g)) {
        exact.set(g.city, (exact.get(g.city) ?? 0n) + textCents(amount));
        naive.set(g.city, (naive.get(g.city) ?? 0) + JSON.parse(amount));
      }
    }
    const drifted = CITIES.filter((c) => naive.get(c) !== Number(exact.get(c)!) / 100);
    assert.ok(drifted.length > 0, "the test data makes a double sum drift off the cent");

    const run = await runNotebook("kafka-producer-stream", [
      "--bootstrap-servers",
      bootstrapServers().join(","),
      "--topic",
      input,
      "--output-topic",
      output,
      "--aggregate",
      "city",
      "--window",
      "1 day",
      "--watermark",
      "3 hours",
      "--available-now",
      "--max-offsets-per-trigger",
      "1000",
    ]);
    assert.equal(run.code, 0, run.stderr);
    const summary = jsonLines(run.stdout).at(-1)!;
    assert.equal(summary.input, messages.length);
    assert.deepEqual(summary.deadLetters, { out_of_range: bad.length });

    // Revenue per city (summed over its windows: the records' times may straddle a midnight),
    // read from the published JSON's digits.
    const published = await lastPerKey(kafka, output);
    const got = new Map<string, bigint>();
    for (const [key, value] of published) {
      const city = JSON.parse(key).city as string;
      const revenue = /"revenue":([-0-9.eE+]+)/.exec(value);
      assert.ok(revenue, `no revenue in ${value}`);
      got.set(city, (got.get(city) ?? 0n) + textCents(revenue[1]));
    }
    assert.deepEqual(new Map([...got].sort()), new Map([...exact].sort()));
    for (const c of drifted) {
      console.log(
        `producer_money_test: ${c}: published ${Number(got.get(c)) / 100}, ` +
          `exact ${exact.get(c)} cents, a double sum gives ${naive.get(c)}`,
      );
    }

    const dead = await deadLetters(kafka, `${output}_dead_letters`, bad.length);
    assert.deepEqual(dead.map((d) => d.value).sort(), [...bad].sort());
    assert.deepEqual(dead.map((d) => d.reason), bad.map(() => "out_of_range"));
  } finally {
    const all = await withAdmin(kafka, (admin) => admin.listTopics());
    await deleteTopics(kafka, all.filter((t) => t.startsWith(input) || t.startsWith(output)));
  }
});
