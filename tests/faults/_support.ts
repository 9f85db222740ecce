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
import { readRange, resolveRange } from "../../lib/kafka/source.ts";
import { startBroker, stopBroker } from "../../dev/kafka/mod.ts";
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
  // Progress lines are the JSON lines other than the final summary.
  return watchChild(spawnNotebook("cleaned", args), (l) => !l.includes('"summary"'));
}

/** Spawns a notebook script (path under the repository) and collects its output as it runs. */
export function watchScript(script: string, args: string[]): Watched {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", join(ROOT, script), ...args],
    cwd: ROOT,
    env: { KAFKAJS_NO_PARTITIONER_WARNING: "1" },
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  // Progress lines are the JSON objects with a batchId (the last stdout line is a summary).
  return watchChild(child, (l) => l.includes('"batchId"'));
}

/** Gathers a child's stdout/stderr as they come; `isProgress` picks the JSON progress lines. */
function watchChild(child: Deno.ChildProcess, isProgress: (line: string) => boolean): Watched {
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
    out.split("\n").filter((l) => l.startsWith("{") && isProgress(l)).map((l) => JSON.parse(l));
  return {
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
}

/** stderr lines tagged `retry` (one per retry of the engine). */
export function retryLines(stderr: string): string[] {
  return stderr.split("\n").filter((l) => /^\S+ retry /.test(l));
}

/** Every record of a topic (key and value as text) as a read_committed reader sees it. */
export async function readCommittedTopic(
  kafka: Kafka,
  topic: string,
): Promise<{ key: string | null; value: string | null }[]> {
  const admin = kafka.admin();
  await admin.connect();
  let ranges;
  try {
    ranges = await resolveRange(admin, topic, { kind: "earliest" }, { kind: "latest" });
  } finally {
    await admin.disconnect();
  }
  const dec = new TextDecoder();
  const out: { key: string | null; value: string | null }[] = [];
  for await (const batch of readRange(kafka, topic, ranges, { timestampType: 0 })) {
    for (const r of batch) {
      out.push({
        key: r.key === null ? null : dec.decode(r.key),
        value: r.value === null ? null : dec.decode(r.value),
      });
    }
  }
  return out;
}

/** Test-side events with the same clock format as the stream's log lines. */
export function mark(what: string): void {
  console.log(`${new Date().toISOString().slice(11, 23)} TEST      ${what}`);
}

/** Options of the fault tests' own broker (free ports, temp state dir). */
export type FaultBrokerOptions = Parameters<typeof startBroker>[0] & { dir: string };

/**
 * Two outages under a running stream `w` on the broker of `opts`: a graceful stop (as
 * kafka:down) and start, then a kill -9 of the broker JVM `pid` and start. The stream must log a
 * retry during each; `more(1)` and `more(2)` send more input after each restart, and the
 * function returns once `done()` holds (the broker left running).
 */
export async function rideOutages(
  w: Watched,
  opts: FaultBrokerOptions,
  pid: number,
  more: (part: 1 | 2) => Promise<void>,
  done: [string, () => boolean],
): Promise<void> {
  await w.until("two micro-batches", () => w.progress().length >= 2);
  mark("stopBroker (graceful)");
  assert.equal((await stopBroker({ dir: opts.dir, graceMs: 30_000 })).stopped, true);
  const retriesBefore = retryLines(w.stderr()).length;
  await w.until(
    "a retry line while the broker is down",
    () => retryLines(w.stderr()).length > retriesBefore,
  );
  const batchesDown = w.progress().length;
  pid = await restartBroker(opts);
  await more(1);
  await w.until("batches after the restart", () => w.progress().length > batchesDown + 1);

  mark(`kill -9 ${pid}`);
  Deno.kill(pid, "SIGKILL");
  const retriesKill = retryLines(w.stderr()).length;
  await w.until("a retry line after kill -9", () => retryLines(w.stderr()).length > retriesKill);
  await restartBroker(opts);
  await more(2);
  await w.until(done[0], done[1]);
}

/** Starts the fault tests' broker again on its state dir and ports; returns its pid. */
export async function restartBroker(opts: FaultBrokerOptions): Promise<number> {
  mark("startBroker");
  const info = await startBroker(opts);
  mark(`broker up (pid ${info.pid})`);
  assert.equal(info.alreadyRunning, false);
  return info.pid;
}

/**
 * Waits for two micro-batches of `w`, applies `fault`, and checks the stream then ends with
 * exit code 2 and exactly one `error:` line, without a stack trace; returns that line and the
 * stream's output.
 */
export async function endsWithOneError(
  w: Watched,
  fault: () => Promise<void>,
): Promise<{ error: string; stderr: string }> {
  let r;
  try {
    await w.until("two micro-batches", () => w.progress().length >= 2);
    await fault();
    r = await w.end();
  } finally {
    try {
      w.child.kill("SIGKILL");
    } catch { /* already ended */ }
  }
  assert.equal(r.code, 2, r.stderr.slice(-3000));
  const errors = r.stderr.split("\n").filter((l) => l.startsWith("error:"));
  assert.equal(errors.length, 1, r.stderr);
  assert.doesNotMatch(r.stderr, /^\s+at /m, "no stack traces");
  return { error: errors[0], stderr: r.stderr };
}

/** `records` in three consecutive parts: `part(0)`, `part(1)`, `part(2)`. */
export function inThirds<T>(records: T[]): (i: number) => T[] {
  const cut = [0, 1, 2, 3].map((i) => Math.round((i * records.length) / 3));
  return (i) => records.slice(cut[i], cut[i + 1]);
}

/** SIGTERMs a watched stream; when it had already ended, prints its stderr (why it ended). */
export function terminate(w: Watched): void {
  mark("SIGTERM the stream");
  try {
    w.child.kill("SIGTERM");
  } catch {
    console.log(`the stream had ended; its stderr:\n${w.stderr().slice(-4000)}`);
  }
}
