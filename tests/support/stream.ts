/**
 * Helpers for the streaming tests: produce records to a fresh topic, run a streaming notebook
 * as a child process (so it can be killed with SIGKILL), and read the resulting Delta tables
 * back as plain rows.
 *
 * @module
 */
import { Buffer } from "node:buffer";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import * as arrow from "apache-arrow";
import "../../lib/kafka/client.ts"; // silences kafkajs' harmless TimeoutNegativeWarning
import { read, snapshot } from "../../lib/delta/table.ts";
import { bootstrapServers, createTopic, testKafka, uniqueName } from "./kafka.ts";
import { tempTableLocation } from "./storage_backends.ts";

/** Repository root. */
export const ROOT: string = fileURLToPath(new URL("../../", import.meta.url));

/** The streaming notebooks. */
export const NOTEBOOKS = {
  raw: join(ROOT, "notebooks", "kafka-consumer-stream.ts"),
  cleaned: join(ROOT, "notebooks", "kafka-consumer-stream-cleaned.ts"),
  producer: join(ROOT, "notebooks", "kafka-producer-stream.ts"),
} as const;

/** A record to produce. */
export interface TestRecord {
  /** Key bytes or text (null = no key). */
  key: string | Uint8Array | null;
  /** Value bytes or text (null = tombstone). */
  value: string | Uint8Array | null;
  /** Partition to send to (default: by key). */
  partition?: number;
}

function buf(v: string | Uint8Array | null): Buffer | null {
  if (v === null) return null;
  return typeof v === "string" ? Buffer.from(v, "utf8") : Buffer.from(v);
}

/** Creates a topic with a unique name and the given partition count. */
export async function freshTopic(area: string, partitions: number): Promise<string> {
  const topic = uniqueName(area);
  await createTopic(testKafka(), topic, partitions);
  return topic;
}

/** Sends records (in batches of 500, acks=all, idempotent) and waits for acknowledgement. */
export async function produce(topic: string, records: TestRecord[]): Promise<void> {
  const producer = testKafka().producer({ idempotent: true, maxInFlightRequests: 1 });
  await producer.connect();
  try {
    for (let i = 0; i < records.length; i += 500) {
      await producer.send({
        topic,
        acks: -1,
        messages: records.slice(i, i + 500).map((r) => ({
          key: buf(r.key),
          value: buf(r.value),
          ...(r.partition !== undefined ? { partition: r.partition } : {}),
        })),
      });
    }
  } finally {
    await producer.disconnect();
  }
}

/** Order lines of files as records keyed by customer_id (as the producer sends them). */
export async function orderRecords(files: string[]): Promise<TestRecord[]> {
  const out: TestRecord[] = [];
  for (const f of files) {
    for (const line of (await Deno.readTextFile(f)).split("\n")) {
      if (line.trim() === "") continue;
      out.push({ key: String(JSON.parse(line).customer_id), value: line });
    }
  }
  return out;
}

/** What a finished notebook run left behind. */
export interface RunResult {
  /** Exit code (137 / signal SIGKILL when killed). */
  code: number;
  /** The signal that ended it, if any. */
  signal: Deno.Signal | null;
  /** stdout text. */
  stdout: string;
  /** stderr text. */
  stderr: string;
  /** Parsed JSON progress lines (with --progress json). */
  progress: Record<string, unknown>[];
  /** The final summary (with --progress json), if printed. */
  summary?: Record<string, unknown>;
}

/** Flags every test run passes: the test broker. */
export function baseArgs(topic: string): string[] {
  return ["--bootstrap-servers", bootstrapServers().join(","), "--topic", topic];
}

/** Starts a notebook as a child process with piped output. */
export function spawnNotebook(
  notebook: keyof typeof NOTEBOOKS,
  args: string[],
  env: Record<string, string> = {},
): Deno.ChildProcess {
  return new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", NOTEBOOKS[notebook], ...args],
    cwd: ROOT,
    env: { KAFKAJS_NO_PARTITIONER_WARNING: "1", ...env },
    stdout: "piped",
    stderr: "piped",
  }).spawn();
}

/** Collects a child's output and exit status into a {@link RunResult}. */
export async function finish(child: Deno.ChildProcess): Promise<RunResult> {
  const out = await child.output();
  const dec = new TextDecoder();
  const stdout = dec.decode(out.stdout);
  const progress: Record<string, unknown>[] = [];
  let summary: Record<string, unknown> | undefined;
  for (const line of stdout.split("\n")) {
    if (!line.startsWith("{")) continue;
    const o = JSON.parse(line);
    if (o.summary) summary = o.summary;
    else progress.push(o);
  }
  return {
    code: out.code,
    signal: out.signal,
    stdout,
    stderr: dec.decode(out.stderr),
    progress,
    summary,
  };
}

/** Runs a notebook to its end (e.g. with --available-now). */
export function runNotebook(
  notebook: keyof typeof NOTEBOOKS,
  args: string[],
  env: Record<string, string> = {},
): Promise<RunResult> {
  return finish(spawnNotebook(notebook, args, env));
}

/** Rows of a Delta table as plain objects (bigints for longs, numbers for timestamps in µs). */
export async function tableRows(location: string): Promise<Record<string, unknown>[]> {
  const t = await read(location);
  const rows: Record<string, unknown>[] = [];
  for (const b of t.batches) {
    const cols = b.schema.fields.map((f, i) => [f.name, b.getChildAt(i)!] as const);
    for (let i = 0; i < b.numRows; i++) {
      const r: Record<string, unknown> = {};
      for (const [name, v] of cols) {
        const x = v.get(i);
        r[name] = x instanceof Uint8Array ? new TextDecoder().decode(x) : x;
      }
      rows.push(r);
    }
  }
  return rows;
}

/** The table's latest version. */
export async function tableVersion(location: string): Promise<number> {
  return (await snapshot(location)).version;
}

/** The table's txn version per partition for a query and topic. */
export async function storedOffsets(
  location: string,
  query: string,
  topic: string,
  partitions: number,
): Promise<(number | undefined)[]> {
  const snap = await snapshot(location);
  return Array.from({ length: partitions }, (_, p) => {
    const v = snap.txnVersion(`${query}-${topic}-${p}`);
    return v === undefined ? undefined : Number(v);
  });
}

/** Number of rows of a table (from the log stats, without reading data). */
export async function rowCount(location: string): Promise<number> {
  const snap = await snapshot(location);
  let n = 0;
  for (const f of snap.files) n += JSON.parse(f.stats ?? "{}").numRecords ?? 0;
  return n;
}

/** One expected cleaned row per line item, computed independently of lib/orders (JSON.parse only). */
export function expectedCleaned(values: string[]): string[] {
  const rows: string[] = [];
  for (const v of values) {
    const o = JSON.parse(v);
    for (const it of o.line_items) {
      rows.push(JSON.stringify([
        o.order_id,
        o.customer_id,
        o.customer_fname ?? null,
        o.customer_lname ?? null,
        o.city ?? null,
        o.state ?? null,
        o.pincode ?? null,
        it.order_item_id,
        it.order_item_product_id,
        it.order_item_quantity,
        it.order_item_product_price,
        it.order_item_subtotal,
      ]));
    }
  }
  return rows.sort();
}

/** The same key for a row read back from orders_cleaned. */
export function cleanedKey(r: Record<string, unknown>): string {
  const n = (x: unknown) => (x === null || x === undefined ? null : Number(x));
  return JSON.stringify([
    n(r.order_id),
    n(r.customer_id),
    r.customer_fname ?? null,
    r.customer_lname ?? null,
    r.city ?? null,
    r.state ?? null,
    n(r.pincode),
    n(r.item_id),
    n(r.product_id),
    n(r.quantity),
    dollars(r.price),
    dollars(r.subtotal),
  ]);
}

/**
 * A money value read back from orders_cleaned as dollars: a double as it is, a `decimal(12,2)`
 * (Arrow JS gives its unscaled digits) as unscaled / 100, the double JSON.parse reads.
 */
export function dollars(v: unknown): unknown {
  if (v === null || v === undefined || typeof v === "number") return v;
  return Number(String(v)) / 100;
}

/** A temp lakehouse directory, removed by the returned cleanup. */
export async function tempLakehouse(): Promise<{ dir: string; cleanup: () => Promise<void> }> {
  // local temp dir, or an abfss:// folder when DELTA_TEST_BACKEND=adls (tests/support/storage_backends.ts)
  const t = await tempTableLocation("stream-test");
  return { dir: t.location, cleanup: t.cleanup };
}

/** The arrow module (re-exported for tests that build tables). */
export { arrow };
