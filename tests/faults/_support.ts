/**
 * Helpers for the fault tests: the data/ orders interleaved with the malformed corpus, an
 * exactly-once check of both cleaned-stream tables against an independent flattening, and a
 * running notebook whose stdout/stderr are collected while it runs.
 *
 * @module
 */
import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { join } from "node:path";
import type { Kafka } from "kafkajs";
import { dataFiles } from "../../lib/orders/lines.ts";
import { malformedOrders } from "../fixtures/malformed_orders.ts";
import {
  cleanedKey,
  expectedCleaned,
  orderRecords,
  ROOT,
  spawnNotebook,
  tableRows,
  type TestRecord,
} from "../support/stream.ts";

/** The records to produce, the good order values among them, and how many are bad. */
export interface FaultData {
  /** Every record, in produce order. */
  records: TestRecord[];
  /** Values of the records that are valid orders. */
  goodValues: string[];
  /** Number of records that must become dead letters. */
  bad: number;
}

/** `n` data/ orders with the malformed corpus interleaved. */
export async function faultData(n: number): Promise<FaultData> {
  const good = (await orderRecords(await dataFiles(join(ROOT, "data")))).slice(0, n);
  const corpus = malformedOrders();
  const every = Math.max(1, Math.floor(good.length / corpus.length));
  const records: TestRecord[] = [];
  good.forEach((r, i) => {
    records.push(r);
    if (i % every === 0 && i / every < corpus.length) {
      records.push({ key: `c${i / every}`, value: corpus[i / every].bytes });
    }
  });
  const dec = new TextDecoder();
  return {
    records,
    goodValues: [
      ...good.map((r) => r.value as string),
      ...corpus.filter((c) => c.expected === "ok").map((c) => dec.decode(c.bytes!)),
    ],
    bad: corpus.filter((c) => c.expected !== "ok").length,
  };
}

/** Sends records to a topic of the given cluster (acks=all, idempotent). */
export async function produceTo(kafka: Kafka, topic: string, records: TestRecord[]) {
  const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
  await producer.connect();
  try {
    for (let i = 0; i < records.length; i += 500) {
      await producer.send({
        topic,
        acks: -1,
        messages: records.slice(i, i + 500).map((r) => ({
          key: r.key === null ? null : Buffer.from(r.key),
          value: r.value === null ? null : Buffer.from(r.value),
        })),
      });
    }
  } finally {
    await producer.disconnect();
  }
}

/** Asserts both tables hold every line item / bad record exactly once. */
export async function assertExactlyOnce(
  cleaned: string,
  dead: string,
  data: FaultData,
  total = data.records.length,
) {
  const rows = await tableRows(cleaned);
  assert.deepEqual(
    rows.map(cleanedKey).sort(),
    expectedCleaned(data.goodValues),
    "cleaned rows exactly once",
  );
  const dl = await tableRows(dead);
  assert.equal(dl.length, data.bad, "dead letters exactly once");
  assert.equal(new Set(dl.map((r) => `${r.partition}:${r.offset}`)).size, data.bad);
  const orders = new Set(rows.map((r) => `${r.kafka_partition}:${r.kafka_offset}`)).size;
  assert.equal(orders + dl.length, total, "records in = orders cleaned + dead letters");
}

/** A notebook child whose output is gathered as it comes. */
export interface Watched {
  /** The child process. */
  child: Deno.ChildProcess;
  /** stderr so far. */
  stderr(): string;
  /** JSON progress lines so far. */
  progress(): Record<string, unknown>[];
  /** Records committed so far (sum of numInputRows). */
  committed(): number;
  /** Waits until `test()` holds (polling), failing with `what` after `maxMs`. */
  until(what: string, test: () => boolean, maxMs?: number): Promise<void>;
  /** Exit status and full output once it ends. */
  end(): Promise<{ code: number; signal: Deno.Signal | null; stderr: string; stdout: string }>;
}

/** Spawns the cleaned stream notebook and collects its output while it runs. */
export function watchCleaned(args: string[]): Watched {
  const child = spawnNotebook("cleaned", args);
  let out = "";
  let err = "";
  const pump = async (s: ReadableStream<Uint8Array>, add: (t: string) => void) => {
    for await (const t of s.pipeThrough(new TextDecoderStream())) add(t);
  };
  const pumps = Promise.all([
    pump(child.stdout, (t) => (out += t)),
    pump(child.stderr, (t) => (err += t)),
  ]);
  const progress = () =>
    out.split("\n").filter((l) => l.startsWith("{") && !l.includes('"summary"')).map((l) =>
      JSON.parse(l)
    );
  const w: Watched = {
    child,
    stderr: () => err,
    progress,
    committed: () => progress().reduce((n, p) => n + Number(p.numInputRows), 0),
    async until(what, test, maxMs = 120_000) {
      const deadline = Date.now() + maxMs;
      while (!test()) {
        if (Date.now() > deadline) {
          throw new Error(`gave up waiting for ${what}; stderr:\n${err.slice(-3000)}`);
        }
        await new Promise((r) => setTimeout(r, 200));
      }
    },
    async end() {
      const status = await child.status;
      await pumps;
      return { code: status.code, signal: status.signal, stderr: err, stdout: out };
    },
  };
  return w;
}

/** stderr lines tagged `retry` (one per retry of the engine). */
export function retryLines(stderr: string): string[] {
  return stderr.split("\n").filter((l) => /^\S+ retry /.test(l));
}
