/**
 * Soak benchmark (a script that prints figures, not a timed test): the live order feed, the
 * cleaned stream and the producer stream (filter mode) running together, each as its own
 * process, the way a deployment runs them, with 1 s triggers, a short Delta log retention and
 * compaction thresholds scaled to the run.
 *
 *   deno task soak -- --rate 2000 --minutes 10
 *   deno task soak -- --rate 300 --duration 40s --interval 10s --json     (the test's run)
 *
 * Every `--interval` (default 1 minute) it prints one line of figures: orders committed per
 * second; active files of orders_cleaned (from a snapshot) and how many are small; `_delta_log`
 * file count and bytes; the RSS of each process (/proc/<pid>/status VmRSS); the time to load the
 * table's snapshot from scratch in this process; the lag of both streams (the largest their
 * /metrics reported during the interval); latency p50/p99 from the Kafka record timestamp to the
 * commit that made the order visible (each order's `kafka_timestamp` against the commit's
 * `commitInfo.timestamp`, for the orders committed during the interval).
 *
 * At the end the feed has sent exactly rate × duration records; the streams drain (until their
 * stored offsets reach the end of the topic, or an `--available-now` rerun after
 * `--drain-timeout`) and are stopped with SIGTERM. Then the exactly-once check: every record of
 * the topic is read back and validated here; orders_cleaned and orders_dead_letters are read with
 * delta-rs (tests/bench/soak_check.py) and every valid order must be there exactly once (its
 * line items, order id, item ids and subtotals per (kafka_partition, kafka_offset)), every bad
 * record exactly once as a dead letter with its reason; the producer stream's output topic must
 * hold every Chicago order once and its dead-letter topic every bad record once (read_committed).
 * A summary says whether each figure is flat after the warm-up (least-squares slope over the
 * later intervals against their noise) and whether p99 < 1.5 s. Exit code 0 when the
 * exactly-once check passes (figures never fail the run), 1 otherwise.
 *
 * The topics (`soak-<id>…`) and the lakehouse (a temp dir) are deleted at the end unless
 * `--keep`. Tables are local (the figures read `_delta_log` from disk).
 *
 * @module
 */
import { parseArgs } from "node:util";
import { join } from "node:path";
import * as arrow from "apache-arrow";
import type { Kafka } from "kafkajs";
import { fmtInt } from "../../lib/display.ts";
import { loadSnapshot, type Snapshot } from "../../lib/delta/snapshot.ts";
import { parseByteSize } from "../../lib/delta/maintenance.ts";
import { decodeParquet } from "../../lib/delta/parquet.ts";
import { formatDuration, parseDuration } from "../../lib/engine/duration.ts";
import { createKafka } from "../../lib/kafka/client.ts";
import { prepareFeedTopic } from "../../lib/orders/feed_run.ts";
import { parseOrder } from "../../lib/orders/validate.ts";
import { createTable } from "../../lib/delta/table.ts";
import { cleanedSchema } from "../../lib/orders/flatten.ts";
import { deadLetterSchema } from "../../lib/orders/dead_letters.ts";
import { openStorage } from "../../lib/storage/mod.ts";
import { freePort } from "../support/kafka.ts";
import { pythonPath, REPO_ROOT as ROOT } from "../support/python.ts";

const HELP = `Usage: deno task soak [-- options]
Runs the live feed, the cleaned stream and the producer stream together and prints one line of
figures per interval, then drains, stops the streams (SIGTERM) and checks exactly-once with
delta-rs. A benchmark: figures never fail it; a failed exactly-once check exits 1.

  --rate N                 feed rate, orders/s                                   [2000]
  --minutes M              how long the feed runs, in minutes                    [10]
  --duration D             the same as a duration (40s, 10m); wins over --minutes
  --interval D             one line of figures per D                             [1m]
  --partitions N           partitions of the fresh input topic                   [6]
  --bad-rate F             share of malformed records the feed sends             [0.01]
  --seed S                 the feed's seed                                       [random]
  --trigger-interval D     both streams' trigger                                 [1s]
  --log-retention D        the cleaned stream's --log-retention   [run/5, 10s..2m: 2m for 10m]
                           (and the tables' delta.deletedFileRetentionDuration)
  --checkpoint-interval N  the cleaned stream's --checkpoint-interval            [10]
  --compact-min-files N    the cleaned stream's --compact-min-files [run s/20, 5..50: 30 for 10m]
  --compact-target-size S  the cleaned stream's --compact-target-size
                           [expected table bytes/6, 1MiB..128MiB: 15MiB at 2000/s for 10m]
  --compact-background B   the cleaned stream's --compact-background (true: a worker thread)
  --warmup N               intervals left out of the flatness verdict   [30% of them, at least 1]
  --drain-timeout D        wait this long for lag 0, then an --available-now rerun  [5m]
  --dir DIR                where the lakehouse and the process logs go    [a new temp dir]
  --keep                   keep the topics and the lakehouse
  --json                   print a JSON line with every figure and the check at the end
  --bootstrap-servers H:P  [KAFKA_BOOTSTRAP_SERVERS, 127.0.0.1:9092]
`;

// ---------------------------------------------------------------------------------------------
// Small helpers

const say = (m: string) => console.error(`soak: ${m}`);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const clamp = (x: number, lo: number, hi: number) => Math.min(hi, Math.max(lo, x));
const mb = (b: number) => (b / 1e6).toFixed(0);
const MiB = 1024 * 1024;

/** Nearest-rank percentile of unsorted values (NaN when empty). */
export function percentile(values: number[], p: number): number {
  if (values.length === 0) return NaN;
  const s = Float64Array.from(values).sort();
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))];
}

/** Least-squares trend of a series: slope per step, residual σ, t of the slope, change over the series. */
export interface Trend {
  n: number;
  mean: number;
  slope: number;
  noise: number;
  t: number;
  change: number;
  flat: boolean;
}

/**
 * Is a series flat? Its least-squares slope is not beyond its noise (|t| < 2, t = slope / its
 * standard error), or the change the slope makes over the series is within 5% of its mean (a
 * significant but negligible drift). Fewer than 3 points: flat by default (too few to say).
 */
export function trend(ys: number[]): Trend {
  const n = ys.length;
  const mean = n ? ys.reduce((a, b) => a + b, 0) / n : NaN;
  if (n < 3) return { n, mean, slope: 0, noise: 0, t: 0, change: 0, flat: true };
  const xm = (n - 1) / 2;
  let sxx = 0, sxy = 0;
  for (let i = 0; i < n; i++) {
    sxx += (i - xm) ** 2;
    sxy += (i - xm) * (ys[i] - mean);
  }
  const slope = sxy / sxx;
  let sse = 0;
  for (let i = 0; i < n; i++) sse += (ys[i] - (mean + slope * (i - xm))) ** 2;
  const noise = Math.sqrt(sse / (n - 2));
  const se = noise / Math.sqrt(sxx);
  const t = se === 0 ? (slope === 0 ? 0 : Infinity) : slope / se;
  const change = slope * (n - 1);
  const flat = Math.abs(t) < 2 || Math.abs(change) <= 0.05 * Math.abs(mean);
  return { n, mean, slope, noise, t, change, flat };
}

/** VmRSS of a process in bytes (0 when it is gone). */
function rss(pid: number): number {
  try {
    const m = /VmRSS:\s+(\d+)\s+kB/.exec(Deno.readTextFileSync(`/proc/${pid}/status`));
    return m ? Number(m[1]) * 1024 : 0;
  } catch {
    return 0;
  }
}

/** Sum of a Prometheus metric's samples (undefined when unreachable or absent). */
async function scrapeSum(port: number, metric: string): Promise<number | undefined> {
  try {
    const res = await fetch(`http://127.0.0.1:${port}/metrics`, {
      signal: AbortSignal.timeout(2000),
    });
    const text = await res.text();
    let sum: number | undefined;
    for (const line of text.split("\n")) {
      if (!line.startsWith(metric)) continue;
      const rest = line.slice(metric.length);
      // A name alone matches its every series; a name with labels, the series it names.
      if (!metric.includes("{") && rest[0] !== "{" && rest[0] !== " ") continue;
      const v = Number(line.slice(line.lastIndexOf(" ") + 1));
      if (Number.isFinite(v)) sum = (sum ?? 0) + v;
    }
    return sum;
  } catch {
    return undefined;
  }
}

/** A child process whose stdout and stderr go to files; the last stdout lines stay in memory. */
class Proc {
  readonly child: Deno.ChildProcess;
  readonly pid: number;
  #tail = "";
  readonly pumped: Promise<void>;
  constructor(readonly name: string, args: string[], readonly logDir: string) {
    const child = new Deno.Command(Deno.execPath(), {
      args,
      cwd: ROOT,
      env: { KAFKAJS_NO_PARTITIONER_WARNING: "1" },
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    this.child = child;
    this.pid = child.pid;
    const out = Deno.openSync(join(logDir, `${name}.out`), { create: true, write: true });
    const err = Deno.openSync(join(logDir, `${name}.err`), { create: true, write: true });
    const dec = new TextDecoder();
    const pumpOut = (async () => {
      for await (const chunk of child.stdout) {
        await out.write(chunk);
        this.#tail = (this.#tail + dec.decode(chunk, { stream: true })).slice(-65536);
      }
      out.close();
    })();
    const pumpErr = child.stderr.pipeTo(err.writable);
    this.pumped = Promise.all([pumpOut, pumpErr]).then(() => {});
  }
  /** The last stdout line that is a JSON object with `key`, or the last JSON line. */
  lastJson(key?: string): Record<string, unknown> | undefined {
    const lines = this.#tail.split("\n").filter((l) => l.startsWith("{")).reverse();
    for (const l of lines) {
      try {
        const o = JSON.parse(l);
        if (!key || key in o) return o;
      } catch { /* a partial line */ }
    }
    return undefined;
  }
  async stderrTail(n = 15): Promise<string> {
    try {
      const t = await Deno.readTextFile(join(this.logDir, `${this.name}.err`));
      return t.trimEnd().split("\n").slice(-n).join("\n");
    } catch {
      return "";
    }
  }
  /** Exit status, or undefined when it has not ended within `ms`. */
  async waitFor(ms: number): Promise<Deno.CommandStatus | undefined> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const r = await Promise.race([
      this.child.status,
      new Promise<undefined>((res) => timer = setTimeout(() => res(undefined), ms)),
    ]);
    clearTimeout(timer);
    if (r) await this.pumped;
    return r;
  }
  signal(sig: Deno.Signal): void {
    try {
      this.child.kill(sig);
    } catch { /* already gone */ }
  }
}

/** Reads a whole topic (read_committed) once; `on` sees each record once, in offset order per partition. */
async function readTopic(
  kafka: Kafka,
  topic: string,
  on: (
    partition: number,
    offset: number,
    value: Uint8Array | null,
    headers: Record<string, unknown>,
  ) => void,
): Promise<number> {
  const admin = kafka.admin();
  await admin.connect();
  const offsets = await admin.fetchTopicOffsets(topic);
  await admin.disconnect();
  const pending = new Map<number, number>();
  for (const o of offsets) {
    if (Number(o.high) > Number(o.low)) pending.set(o.partition, Number(o.high));
  }
  if (pending.size === 0) return 0;
  const next = new Map<number, number>();
  let read = 0;
  const consumer = kafka.consumer({
    groupId: `soak-check-${crypto.randomUUID()}`,
    readUncommitted: false,
    maxBytesPerPartition: 4 * MiB,
    maxWaitTimeInMs: 250,
    allowAutoTopicCreation: false,
  });
  let finished!: () => void;
  const done = new Promise<void>((r) => finished = r);
  const reached = (partition: number, last: number) => {
    const end = pending.get(partition);
    if (end !== undefined && last >= end - 1) {
      pending.delete(partition);
      if (pending.size === 0) finished();
    }
  };
  // Batches of only control records (transaction markers) never reach eachBatch.
  consumer.on(consumer.events.END_BATCH_PROCESS, ({ payload }) => {
    reached(payload.partition, Number(payload.lastOffset));
  });
  await consumer.connect();
  try {
    await consumer.subscribe({ topics: [topic], fromBeginning: true });
    await consumer.run({
      autoCommit: false,
      eachBatch: async ({ batch }) => {
        for (const m of batch.messages) {
          const off = Number(m.offset);
          if (off < (next.get(batch.partition) ?? 0)) continue; // a re-fetch, seen already
          next.set(batch.partition, off + 1);
          on(batch.partition, off, m.value ?? null, (m.headers ?? {}) as Record<string, unknown>);
          read++;
        }
        await Promise.resolve();
      },
    });
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timedOut = await Promise.race([
      done.then(() => false),
      new Promise<boolean>((r) => timer = setTimeout(() => r(true), 300_000)),
    ]);
    clearTimeout(timer);
    if (timedOut) throw new Error(`reading ${topic}: not at its end after 5 minutes`);
  } finally {
    await consumer.disconnect();
  }
  return read;
}

// ---------------------------------------------------------------------------------------------
// Figures

interface Interval {
  /** Seconds since the feed started, at the end of the interval. */
  at: number;
  ordersPerSecond: number;
  files: number;
  smallFiles: number;
  /** The most small files the table held after any commit of the interval. */
  smallPeak: number;
  /** The cleaned stream's V8 heap in use and external memory (wasm, buffers), from /metrics. */
  heapCleaned: number;
  externalCleaned: number;
  /** The cleaned stream thread's parquet-wasm linear memory. */
  wasmCleaned: number;
  logFiles: number;
  logBytes: number;
  rss: Record<string, number>;
  snapshotMs: number;
  lagCleaned: number;
  lagProducer: number;
  p50Ms: number;
  p99Ms: number;
  samples: number;
}

/** Watches orders_cleaned's log: each new append commit's orders and their latency. */
class LatencyWatcher {
  #next = 0;
  missedCommits = 0;
  bucket: number[] = [];
  all: number[][] = [];
  /** Live small files (under `smallBytes`), followed commit by commit from the adds and removes. */
  #small = new Set<string>();
  /** The most small files live after any commit of the current interval. */
  smallPeak = 0;
  constructor(readonly table: string, readonly smallBytes: number) {}

  async scan(): Promise<void> {
    let names: string[];
    try {
      names = [];
      for await (const e of Deno.readDir(join(this.table, "_delta_log"))) names.push(e.name);
    } catch {
      return; // not created yet
    }
    const versions = names.map((n) => /^(\d{20})\.json$/.exec(n)).filter((m) => m !== null)
      .map((m) => Number(m![1])).filter((v) => v >= this.#next).sort((a, b) => a - b);
    for (const v of versions) {
      if (v > this.#next && this.#next > 0) this.missedCommits += v - this.#next;
      this.#next = v + 1;
      let text: string;
      try {
        text = await Deno.readTextFile(
          join(this.table, "_delta_log", `${String(v).padStart(20, "0")}.json`),
        );
      } catch {
        this.missedCommits++;
        continue;
      }
      let commitTs: number | undefined;
      let optimize = false;
      const adds: string[] = [];
      for (const line of text.split("\n")) {
        if (!line) continue;
        const a = JSON.parse(line);
        if (a.commitInfo) {
          commitTs = a.commitInfo.timestamp;
          optimize = a.commitInfo.operation === "OPTIMIZE";
        }
        if (a.add && a.add.dataChange !== false) adds.push(a.add.path);
        if (a.add && Number(a.add.size) < this.smallBytes) this.#small.add(a.add.path);
        if (a.remove) this.#small.delete(a.remove.path);
      }
      this.smallPeak = Math.max(this.smallPeak, this.#small.size);
      if (optimize || commitTs === undefined) continue;
      for (const path of adds) {
        const t = decodeParquet(await Deno.readFile(join(this.table, decodeURIComponent(path))), {
          columns: ["kafka_partition", "kafka_offset", "kafka_timestamp"],
        });
        const ps = t.getChild("kafka_partition")!;
        const os = t.getChild("kafka_offset")!;
        const ts = t.getChild("kafka_timestamp")!;
        const seen = new Set<number>();
        for (let i = 0; i < t.numRows; i++) {
          const key = Number(ps.get(i)) * 2 ** 40 + Number(os.get(i));
          if (seen.has(key)) continue; // one sample per order, not per line item
          seen.add(key);
          this.bucket.push(commitTs - Number(ts.get(i)));
        }
      }
    }
  }

  /** Closes the current interval's samples. */
  take(): { samples: number[]; smallPeak: number } {
    const b = this.bucket;
    this.all.push(b);
    this.bucket = [];
    const smallPeak = this.smallPeak;
    this.smallPeak = this.#small.size;
    return { samples: b, smallPeak };
  }
}

async function logDirFigures(table: string): Promise<{ files: number; bytes: number }> {
  let files = 0, bytes = 0;
  const dir = join(table, "_delta_log");
  for await (const e of Deno.readDir(dir)) {
    if (!e.isFile) continue;
    try {
      bytes += (await Deno.stat(join(dir, e.name))).size;
      files++;
    } catch { /* deleted by cleanup meanwhile */ }
  }
  return { files, bytes };
}

// ---------------------------------------------------------------------------------------------
// The exactly-once check

interface Expected {
  /** Per partition, per offset: line items of a valid order, -1 for a bad record. */
  lines: Int8Array[];
  orderId: Float64Array[];
  itemSum: Float64Array[];
  cents: Float64Array[];
  reasons: Map<string, string>;
  chicago: Set<number>;
  records: number;
  valid: number;
  bad: number;
  lineItems: number;
  byReason: Record<string, number>;
}

async function expectedFromTopic(
  kafka: Kafka,
  topic: string,
  ends: number[],
): Promise<Expected> {
  const e: Expected = {
    lines: ends.map((n) => new Int8Array(n)),
    orderId: ends.map((n) => new Float64Array(n)),
    itemSum: ends.map((n) => new Float64Array(n)),
    cents: ends.map((n) => new Float64Array(n)),
    reasons: new Map(),
    chicago: new Set(),
    records: 0,
    valid: 0,
    bad: 0,
    lineItems: 0,
    byReason: {},
  };
  e.records = await readTopic(kafka, topic, (p, o, value) => {
    const r = parseOrder(value);
    if (!r.ok) {
      e.lines[p][o] = -1;
      e.reasons.set(`${p}:${o}`, r.reason);
      e.byReason[r.reason] = (e.byReason[r.reason] ?? 0) + 1;
      e.bad++;
      return;
    }
    const items = r.order.line_items;
    e.lines[p][o] = items.length;
    e.orderId[p][o] = Number(r.order.order_id);
    let s = 0, c = 0;
    for (const it of items) {
      s += Number(it.order_item_id);
      c += Math.round(it.order_item_subtotal * 100);
    }
    e.itemSum[p][o] = s;
    e.cents[p][o] = c;
    e.valid++;
    e.lineItems += items.length;
    if (r.order.city === "Chicago") e.chicago.add(Number(r.order.order_id));
  });
  return e;
}

/** What the exactly-once check found; `ok` when every count below is 0 where it should be. */
interface Check {
  ok: boolean;
  topicRecords: number;
  valid: number;
  bad: number;
  expectedRows: number;
  deltaRs: Record<string, { version: number; rows: number; files: number }>;
  cleaned: {
    orders: number;
    rows: number;
    missing: number;
    duplicated: number;
    wrong: number;
    unexpected: number;
  };
  deadLetters: {
    rows: number;
    missing: number;
    duplicated: number;
    wrongReason: number;
    unexpected: number;
  };
  output: {
    records: number;
    expected: number;
    missing: number;
    duplicated: number;
    unexpected: number;
  };
  outputDeadLetters: { records: number; missing: number; duplicated: number; unexpected: number };
  examples: string[];
}

async function exactlyOnce(
  kafka: Kafka,
  exp: Expected,
  tables: { cleaned: string; dead: string },
  topics: { output: string; dlq: string },
  workDir: string,
): Promise<Check> {
  const examples: string[] = [];
  const note = (m: string) => {
    if (examples.length < 10) examples.push(m);
  };
  // delta-rs reads both tables and groups them per Kafka record.
  const py = await new Deno.Command(pythonPath(), {
    args: [join(ROOT, "tests", "bench", "soak_check.py"), tables.cleaned, tables.dead, workDir],
    stdout: "piped",
    stderr: "piped",
  }).output().catch((e) => {
    throw new Error(`${pythonPath()} failed to start (${e.message}); run \`deno task py:setup\``);
  });
  const pyOut = new TextDecoder().decode(py.stdout).trim().split("\n").at(-1) ?? "";
  if (!pyOut.startsWith("{")) {
    throw new Error(`soak_check.py failed: ${new TextDecoder().decode(py.stderr).slice(-2000)}`);
  }
  const deltaRs = JSON.parse(pyOut);

  const cleaned = { orders: 0, rows: 0, missing: 0, duplicated: 0, wrong: 0, unexpected: 0 };
  const seen = exp.lines.map((l) => new Uint8Array(l.length));
  const g = arrow.tableFromIPC(await Deno.readFile(join(workDir, "cleaned.arrow")));
  const col = (t: arrow.Table, n: string) => t.getChild(n)!;
  {
    const [P, O, R, I, OMin, OMax, IS, C] = [
      "partition",
      "offset",
      "rows",
      "items",
      "order_min",
      "order_max",
      "item_sum",
      "cents",
    ].map((n) => col(g, n));
    for (let i = 0; i < g.numRows; i++) {
      const p = Number(P.get(i)), o = Number(O.get(i)), rows = Number(R.get(i));
      cleaned.orders++;
      cleaned.rows += rows;
      const lines = exp.lines[p]?.[o];
      if (lines === undefined || lines === 0) {
        cleaned.unexpected++;
        note(`orders_cleaned has ${rows} row(s) of ${p}:${o}, which is no record of the topic`);
        continue;
      }
      if (lines < 0) {
        cleaned.unexpected++;
        note(`orders_cleaned has ${rows} row(s) of the bad record ${p}:${o}`);
        continue;
      }
      seen[p][o] = 1;
      if (rows > lines) {
        cleaned.duplicated++;
        note(`${p}:${o}: ${rows} rows for ${lines} line items`);
        continue;
      }
      const same = rows === lines && Number(I.get(i)) === lines &&
        Number(OMin.get(i)) === exp.orderId[p][o] && Number(OMax.get(i)) === exp.orderId[p][o] &&
        Number(IS.get(i)) === exp.itemSum[p][o] && Number(C.get(i)) === exp.cents[p][o];
      if (!same) {
        cleaned.wrong++;
        note(`${p}:${o}: rows/items/order id/item ids/subtotals differ from the record`);
      }
    }
  }
  for (let p = 0; p < exp.lines.length; p++) {
    for (let o = 0; o < exp.lines[p].length; o++) {
      if (exp.lines[p][o] > 0 && !seen[p][o]) {
        cleaned.missing++;
        note(`order ${p}:${o} (id ${exp.orderId[p][o]}) is not in orders_cleaned`);
      }
    }
  }

  const deadLetters = { rows: 0, missing: 0, duplicated: 0, wrongReason: 0, unexpected: 0 };
  const deadSeen = new Set<string>();
  const d = arrow.tableFromIPC(await Deno.readFile(join(workDir, "dead.arrow")));
  {
    const [P, O, R, RMin, RMax] = ["partition", "offset", "rows", "reason_min", "reason_max"].map(
      (n) => col(d, n),
    );
    for (let i = 0; i < d.numRows; i++) {
      const key = `${P.get(i)}:${O.get(i)}`;
      const rows = Number(R.get(i));
      deadLetters.rows += rows;
      const reason = exp.reasons.get(key);
      if (reason === undefined) {
        deadLetters.unexpected++;
        note(`orders_dead_letters has ${key}, which is no bad record of the topic`);
        continue;
      }
      deadSeen.add(key);
      if (rows > 1) {
        deadLetters.duplicated++;
        note(`${key} is ${rows} dead letters`);
      }
      if (RMin.get(i) !== reason || RMax.get(i) !== reason) {
        deadLetters.wrongReason++;
        note(`${key}: dead letter reason ${RMin.get(i)}, the validator says ${reason}`);
      }
    }
    for (const key of exp.reasons.keys()) {
      if (!deadSeen.has(key)) {
        deadLetters.missing++;
        note(`bad record ${key} is not in orders_dead_letters`);
      }
    }
  }

  // The producer stream: every Chicago order once in the output, every bad record once in its DLQ.
  const outCount = new Map<number, number>();
  const outRecords = await readTopic(kafka, topics.output, (_p, _o, value) => {
    const id = Number(JSON.parse(new TextDecoder().decode(value!)).order_id);
    outCount.set(id, (outCount.get(id) ?? 0) + 1);
  });
  const output = {
    records: outRecords,
    expected: exp.chicago.size,
    missing: 0,
    duplicated: 0,
    unexpected: 0,
  };
  for (const [id, n] of outCount) {
    if (!exp.chicago.has(id)) {
      output.unexpected++;
      note(`${topics.output} has order ${id}, which is no Chicago order of the topic`);
    } else if (n > 1) {
      output.duplicated++;
      note(`${topics.output} has order ${id} ${n} times`);
    }
  }
  for (const id of exp.chicago) {
    if (!outCount.has(id)) {
      output.missing++;
      note(`Chicago order ${id} is not in ${topics.output}`);
    }
  }
  const dlqCount = new Map<string, number>();
  const dlqRecords = await readTopic(kafka, topics.dlq, (_p, _o, _v, headers) => {
    const h = (k: string) => String(headers[k] ?? "");
    const key = `${h("dlq.partition")}:${h("dlq.offset")}`;
    dlqCount.set(key, (dlqCount.get(key) ?? 0) + 1);
  });
  const outputDeadLetters = { records: dlqRecords, missing: 0, duplicated: 0, unexpected: 0 };
  for (const [key, n] of dlqCount) {
    if (!exp.reasons.has(key)) {
      outputDeadLetters.unexpected++;
      note(`${topics.dlq} has ${key}, which is no bad record of the topic`);
    } else if (n > 1) {
      outputDeadLetters.duplicated++;
      note(`${topics.dlq} has ${key} ${n} times`);
    }
  }
  for (const key of exp.reasons.keys()) {
    if (!dlqCount.has(key)) {
      outputDeadLetters.missing++;
      note(`bad record ${key} is not in ${topics.dlq}`);
    }
  }

  const ok = cleaned.missing + cleaned.duplicated + cleaned.wrong + cleaned.unexpected === 0 &&
    cleaned.rows === exp.lineItems && cleaned.orders === exp.valid &&
    deltaRs.cleaned.rows === exp.lineItems &&
    deadLetters.missing + deadLetters.duplicated + deadLetters.wrongReason +
          deadLetters.unexpected === 0 &&
    deadLetters.rows === exp.bad &&
    output.missing + output.duplicated + output.unexpected === 0 &&
    outputDeadLetters.missing + outputDeadLetters.duplicated + outputDeadLetters.unexpected ===
      0 &&
    dlqRecords === exp.bad;
  return {
    ok,
    topicRecords: exp.records,
    valid: exp.valid,
    bad: exp.bad,
    expectedRows: exp.lineItems,
    deltaRs,
    cleaned,
    deadLetters,
    output,
    outputDeadLetters,
    examples,
  };
}

/** Batch and maintenance durations (ms) from a stream's `--progress json` lines. */
async function batchTimes(file: string): Promise<{ total: number[]; maintenance: number[] }> {
  const total: number[] = [], maintenance: number[] = [];
  let text = "";
  try {
    text = await Deno.readTextFile(file);
  } catch {
    return { total, maintenance };
  }
  for (const line of text.split("\n")) {
    if (!line.startsWith('{"name"') && !line.includes('"batchId"')) continue;
    try {
      const d = JSON.parse(line).durationMs;
      if (typeof d?.total === "number") total.push(d.total);
      if (typeof d?.maintenance === "number") maintenance.push(d.maintenance);
    } catch { /* not a progress line */ }
  }
  return { total, maintenance };
}

/** A Delta stream's maintenance totals in words ("" when its summary has none). */
function maintenanceText(summary: Record<string, unknown>): string {
  const m = summary.maintenance as Record<string, number> | undefined;
  if (!m) return "";
  return `; maintenance: ${m.compactions ?? 0} compactions of ${
    fmtInt(m.filesCompacted ?? 0)
  } files, ${m.checkpoints ?? 0} checkpoints, ${
    fmtInt(m.logFilesRemoved ?? 0)
  } log files removed, ${m.failures ?? 0} failures`;
}

// ---------------------------------------------------------------------------------------------
// The run

async function main(): Promise<number> {
  const { values } = parseArgs({
    args: Deno.args[0] === "--" ? Deno.args.slice(1) : Deno.args,
    options: {
      rate: { type: "string", default: "2000" },
      minutes: { type: "string", default: "10" },
      duration: { type: "string" },
      interval: { type: "string", default: "1m" },
      partitions: { type: "string", default: "6" },
      "bad-rate": { type: "string", default: "0.01" },
      seed: { type: "string" },
      "trigger-interval": { type: "string", default: "1s" },
      "log-retention": { type: "string" },
      "checkpoint-interval": { type: "string", default: "10" },
      "compact-min-files": { type: "string" },
      "compact-target-size": { type: "string" },
      "compact-background": { type: "string" },
      warmup: { type: "string" },
      "drain-timeout": { type: "string", default: "5m" },
      dir: { type: "string" },
      keep: { type: "boolean", default: false },
      json: { type: "boolean", default: false },
      "bootstrap-servers": {
        type: "string",
        default: Deno.env.get("KAFKA_BOOTSTRAP_SERVERS") ?? "127.0.0.1:9092",
      },
      help: { type: "boolean", short: "h", default: false },
    },
  });
  if (values.help) {
    console.log(HELP);
    return 0;
  }
  const rate = Number(values.rate);
  const runMs = values.duration !== undefined
    ? parseDuration(values.duration)
    : Math.round(Number(values.minutes) * 60_000);
  const intervalMs = parseDuration(values.interval!);
  const partitions = Number(values.partitions);
  if (!(rate > 0) || !(runMs >= 1000) || !(intervalMs >= 1000) || !(partitions >= 1)) {
    throw new Error("--rate, --minutes/--duration (≥ 1s), --interval (≥ 1s), --partitions: bad");
  }
  const runS = runMs / 1000;
  const intervals = Math.max(1, Math.round(runMs / intervalMs));
  const warmup = values.warmup !== undefined
    ? Number(values.warmup)
    : Math.max(1, Math.round(intervals * 0.3));
  const logRetentionMs = values["log-retention"] !== undefined
    ? parseDuration(values["log-retention"])
    : clamp(Math.round(runMs / 5), 10_000, 120_000);
  const minFiles = values["compact-min-files"] !== undefined
    ? Number(values["compact-min-files"])
    : clamp(Math.round(runS / 20), 5, 50);
  // orders_cleaned holds about 80 bytes per order (3 line items of ~27 bytes, snappy).
  const targetSize = values["compact-target-size"] !== undefined
    ? parseByteSize(values["compact-target-size"])!
    : clamp(Math.round((rate * runS * 80) / 6 / MiB), 1, 128) * MiB;
  const servers = values["bootstrap-servers"]!;
  const kafka = createKafka(
    { bootstrapServers: servers.split(","), securityProtocol: "PLAINTEXT", clientId: "soak" },
    "nothing",
  );

  const id = crypto.randomUUID().slice(0, 8);
  const topic = `soak-${id}`;
  const outputTopic = `soak-${id}-processed`;
  const dlqTopic = `${outputTopic}_dead_letters`;
  const cleanedQuery = `soak-${id}-cleaned`;
  const producerQuery = `soak-${id}-insights`;
  const dir = values.dir ?? await Deno.makeTempDir({ prefix: `soak-${id}-` });
  await Deno.mkdir(dir, { recursive: true });
  const lake = join(dir, "lakehouse");
  const logs = join(dir, "logs");
  await Deno.mkdir(logs, { recursive: true });
  const cleanedTable = join(lake, "orders_cleaned");
  const deadTable = join(lake, "orders_dead_letters");

  const denoJson = JSON.parse(await Deno.readTextFile(join(ROOT, "deno.json")));
  const v8Of = (task: string) => {
    const t = denoJson.tasks[task];
    const m = /--v8-flags=\S+/.exec(typeof t === "string" ? t : t.command);
    return m ? [m[0]] : [];
  };

  const procs: Proc[] = [];
  let interrupted = false;
  const onSignal = () => {
    if (interrupted) Deno.exit(130);
    interrupted = true;
    say("interrupted: stopping the processes (again to exit at once)");
  };
  Deno.addSignalListener("SIGINT", onSignal);

  const load = () => Deno.loadavg().map((x) => x.toFixed(2)).join(" ");
  console.log(
    `soak: ${fmtInt(rate)} orders/s for ${formatDuration(runMs)} (${values["bad-rate"]} bad), ` +
      `${partitions} partitions, trigger ${values["trigger-interval"]}; cleaned stream: ` +
      `--log-retention ${formatDuration(logRetentionMs)} --checkpoint-interval ` +
      `${values["checkpoint-interval"]} --compact-min-files ${minFiles} --compact-target-size ` +
      `${
        targetSize / MiB
      }MiB; ${Deno.build.os} ${navigator.hardwareConcurrency} cores, load ${load()}`,
  );
  say(`topic ${topic}, lakehouse ${lake}, logs ${logs}`);

  const figures: Interval[] = [];
  let check: Check | undefined;
  let exitCode = 1;
  let failure: string | undefined;
  const streamEnds: Record<string, unknown> = {};
  let feedSummary: Record<string, unknown> | undefined;
  let drainedBy = "lag 0";
  let drainSeconds = 0;
  let watcher: LatencyWatcher | undefined;
  /** Peak VmRSS per process name, sampled every second. */
  const peakRss: Record<string, number> = {};
  const samplePeaks = () => {
    for (const p of procs) peakRss[p.name] = Math.max(peakRss[p.name] ?? 0, rss(p.pid));
  };
  const summaryOf = (p: Proc) =>
    (p.lastJson("summary")?.summary as Record<string, unknown> | undefined) ??
      p.lastJson("batches");
  try {
    const admin = kafka.admin();
    await admin.connect();
    await prepareFeedTopic(admin, topic, partitions);
    await admin.disconnect();

    // 1. The two streams, continuous, each with its own metrics port.
    const cleanedPort = freePort();
    const producerPort = freePort();
    const common = [
      "--bootstrap-servers",
      servers,
      "--topic",
      topic,
      "--trigger-interval",
      values["trigger-interval"]!,
      "--progress",
      "json",
    ];
    const cleanedArgs = [
      ...common,
      "--lakehouse",
      lake,
      "--query-name",
      cleanedQuery,
      "--log-retention",
      `${logRetentionMs}ms`,
      "--checkpoint-interval",
      values["checkpoint-interval"]!,
      "--compact-min-files",
      String(minFiles),
      "--compact-target-size",
      String(targetSize),
      ...(values["compact-background"] !== undefined
        ? ["--compact-background", values["compact-background"]]
        : []),
    ];
    const producerArgs = [
      ...common,
      "--output-topic",
      outputTopic,
      "--query-name",
      producerQuery,
    ];
    const cleanedRun = (extra: string[], name: string) =>
      new Proc(name, [
        "run",
        "-A",
        ...v8Of("consume:stream:cleaned"),
        join(ROOT, "notebooks", "kafka-consumer-stream-cleaned.ts"),
        ...cleanedArgs,
        ...extra,
      ], logs);
    const producerRun = (extra: string[], name: string) =>
      new Proc(name, [
        "run",
        "-A",
        ...v8Of("produce:stream"),
        join(ROOT, "notebooks", "kafka-producer-stream.ts"),
        ...producerArgs,
        ...extra,
      ], logs);
    // The tables are created first with the tombstone retention scaled like the log retention
    // (the table property a user sets; the stream has no flag for it): checkpoints keep the
    // files compaction removed for delta.deletedFileRetentionDuration (1 week by default).
    const configuration = {
      "delta.deletedFileRetentionDuration": `interval ${Math.round(logRetentionMs / 1000)} seconds`,
    };
    await createTable(cleanedTable, cleanedSchema, { configuration, ifNotExists: true });
    await createTable(deadTable, deadLetterSchema, { configuration, ifNotExists: true });
    let cleaned = cleanedRun(["--metrics-port", String(cleanedPort)], "cleaned");
    let producer = producerRun(["--metrics-port", String(producerPort)], "producer-stream");
    procs.push(cleaned, producer);

    const ready = async (p: Proc, port: number) => {
      const until = Date.now() + 120_000;
      while (Date.now() < until && !interrupted) {
        if (await p.waitFor(0)) {
          throw new Error(`${p.name} ended at start:\n${await p.stderrTail()}`);
        }
        const n = await scrapeSum(port, "orders_stream_partitions_assigned");
        if (n !== undefined && n >= partitions) return;
        await sleep(500);
      }
      throw new Error(`${p.name} held no partitions after 2 minutes:\n${await p.stderrTail()}`);
    };
    await Promise.all([ready(cleaned, cleanedPort), ready(producer, producerPort)]);
    say("both streams hold their partitions; starting the feed");

    // 2. The feed, for exactly rate × duration records.
    const feed = new Proc("feed", [
      "run",
      "-A",
      join(ROOT, "notebooks", "producer.ts"),
      "--bootstrap-servers",
      servers,
      "--topic",
      topic,
      "--partitions",
      String(partitions),
      "--rate",
      String(rate),
      "--duration",
      `${runMs}ms`,
      "--bad-rate",
      values["bad-rate"]!,
      ...(values.seed !== undefined ? ["--seed", values.seed] : []),
    ], logs);
    procs.push(feed);
    const start = Date.now();
    watcher = new LatencyWatcher(cleanedTable, targetSize / 2);

    // 3. One line of figures per interval while the feed runs.
    console.log(
      "  time  orders/s  files (small, peak)  log files  log KB  snap ms  lag cleaned/prod  " +
        "p50 ms  p99 ms  RSS feed/cleaned/prod MB  cleaned heap/ext/wasm MB",
    );
    let lagC = 0, lagP = 0;
    for (let k = 1; k <= intervals && !interrupted; k++) {
      const boundary = start + k * intervalMs;
      while (Date.now() < boundary && !interrupted) {
        const t0 = Date.now();
        await watcher.scan();
        const [c, p] = await Promise.all([
          scrapeSum(cleanedPort, "orders_stream_partition_lag_records"),
          scrapeSum(producerPort, "orders_stream_partition_lag_records"),
        ]);
        lagC = Math.max(lagC, c ?? 0);
        samplePeaks();
        lagP = Math.max(lagP, p ?? 0);
        for (const pr of [cleaned, producer]) {
          if (await pr.waitFor(0)) throw new Error(`${pr.name} ended:\n${await pr.stderrTail()}`);
        }
        await sleep(Math.max(0, Math.min(1000 - (Date.now() - t0), boundary - Date.now())));
      }
      await watcher.scan();
      const { samples, smallPeak } = watcher.take();
      const memory = (kind: string) =>
        scrapeSum(
          cleanedPort,
          `orders_stream_memory_bytes{query="${cleanedQuery}",kind="${kind}"}`,
        );
      const [heapCleaned, externalCleaned, wasmCleaned] = await Promise.all([
        memory("heap_used"),
        memory("external"),
        memory("wasm"),
      ]);
      const rssNow = {
        feed: rss(feed.pid),
        cleaned: rss(cleaned.pid),
        producer: rss(producer.pid),
      };
      const t0 = performance.now();
      const snap: Snapshot = await loadSnapshot(openStorage(cleanedTable));
      const snapshotMs = performance.now() - t0;
      const log = await logDirFigures(cleanedTable);
      const f: Interval = {
        at: (Date.now() - start) / 1000,
        ordersPerSecond: samples.length / (intervalMs / 1000),
        files: snap.files.length,
        smallFiles: snap.files.filter((a) => Number(a.size) < targetSize / 2).length,
        smallPeak,
        heapCleaned: heapCleaned ?? 0,
        externalCleaned: externalCleaned ?? 0,
        wasmCleaned: wasmCleaned ?? 0,
        logFiles: log.files,
        logBytes: log.bytes,
        rss: rssNow,
        snapshotMs,
        lagCleaned: lagC,
        lagProducer: lagP,
        p50Ms: percentile(samples, 50),
        p99Ms: percentile(samples, 99),
        samples: samples.length,
      };
      figures.push(f);
      lagC = 0;
      lagP = 0;
      const secs = Math.round(f.at);
      const mmss = `${Math.floor(secs / 60)}:${String(secs % 60).padStart(2, "0")}`;
      console.log(
        `${mmss.padStart(6)}  ${fmtInt(Math.round(f.ordersPerSecond)).padStart(8)}  ` +
          `${String(f.files).padStart(5)} (${String(f.smallFiles).padStart(3)}, ${
            String(f.smallPeak).padStart(3)
          })     ` +
          `${String(f.logFiles).padStart(9)}  ${
            String(Math.round(f.logBytes / 1024)).padStart(6)
          }  ` +
          `${f.snapshotMs.toFixed(0).padStart(7)}  ` +
          `${`${fmtInt(f.lagCleaned)}/${fmtInt(f.lagProducer)}`.padStart(16)}  ` +
          `${f.p50Ms.toFixed(0).padStart(6)}  ${f.p99Ms.toFixed(0).padStart(6)}  ` +
          `${mb(f.rss.feed)}/${mb(f.rss.cleaned)}/${mb(f.rss.producer)}`.padStart(24) +
          `${mb(f.heapCleaned)}/${mb(f.externalCleaned)}/${mb(f.wasmCleaned)}`.padStart(24),
      );
    }
    if (interrupted) throw new Error("interrupted");

    // 4. The feed ends by itself after its duration.
    const feedStatus = await feed.waitFor(60_000);
    if (!feedStatus) throw new Error(`the feed did not end:\n${await feed.stderrTail()}`);
    if (feedStatus.code !== 0) throw new Error(`the feed failed:\n${await feed.stderrTail()}`);
    feedSummary = feed.lastJson("sent");
    say(`feed done: ${JSON.stringify(feedSummary)}`);

    // 5. Drain: wait until both streams stored the topic's end offsets.
    const admin2 = kafka.admin();
    await admin2.connect();
    const ends = (await admin2.fetchTopicOffsets(topic)).sort((a, b) => a.partition - b.partition)
      .map((o) => Number(o.high));
    const drainStart = Date.now();
    const caughtUp = async () => {
      const snaps = await Promise.all(
        [cleanedTable, deadTable].map((t) => loadSnapshot(openStorage(t)).catch(() => undefined)),
      );
      const deltaBehind = snaps.reduce(
        (n, s) =>
          n +
          ends.reduce(
            (m, end, p) => m + end - Number(s?.txnVersion(`${cleanedQuery}-${topic}-${p}`) ?? 0),
            0,
          ),
        0,
      );
      const group = await admin2.fetchOffsets({ groupId: producerQuery, topics: [topic] });
      const kafkaBehind = group[0].partitions.reduce(
        (n, p) => n + ends[p.partition] - Math.max(0, Number(p.offset)),
        0,
      );
      return { deltaBehind, kafkaBehind };
    };
    const drainTimeout = parseDuration(values["drain-timeout"]!);
    let behind = await caughtUp();
    let lastSay = Date.now();
    while (
      (behind.deltaBehind > 0 || behind.kafkaBehind > 0) &&
      Date.now() - drainStart < drainTimeout && !interrupted
    ) {
      await sleep(1000);
      behind = await caughtUp();
      samplePeaks();
      if (Date.now() - lastSay >= 10_000) {
        say(
          `draining: ${fmtInt(behind.deltaBehind)} offsets behind in Delta, ` +
            `${fmtInt(behind.kafkaBehind)} in the producer stream's group`,
        );
        lastSay = Date.now();
      }
    }
    await admin2.disconnect();

    // 6. Stop the continuous streams with SIGTERM (they finish the batch in progress).
    for (const p of [cleaned, producer]) p.signal("SIGTERM");
    for (const p of [cleaned, producer]) {
      const st = await p.waitFor(120_000);
      if (!st) {
        p.signal("SIGKILL");
        throw new Error(`${p.name} did not stop within 2 minutes of SIGTERM`);
      }
      if (st.code !== 0) throw new Error(`${p.name} exited ${st.code}:\n${await p.stderrTail()}`);
      streamEnds[p.name] = summaryOf(p);
    }
    if (behind.deltaBehind > 0 || behind.kafkaBehind > 0) {
      drainedBy = "--available-now rerun";
      say(`not drained after ${formatDuration(drainTimeout)}: an --available-now rerun of each`);
      cleaned = cleanedRun(["--available-now"], "cleaned-available-now");
      producer = producerRun(["--available-now"], "producer-stream-available-now");
      procs.push(cleaned, producer);
      for (const p of [cleaned, producer]) {
        let st: Deno.CommandStatus | undefined;
        for (let i = 0; i < 3600 && !st; i++) {
          samplePeaks();
          st = await p.waitFor(1000);
        }
        if (!st || st.code !== 0) {
          throw new Error(`${p.name} failed:\n${await p.stderrTail()}`);
        }
        streamEnds[p.name] = summaryOf(p);
      }
    }
    drainSeconds = (Date.now() - drainStart) / 1000;
    say(`drained (${drainedBy}) in ${drainSeconds.toFixed(1)} s; streams stopped`);

    // 7. Exactly once.
    say("exactly-once check: reading the topic back, the tables with delta-rs, the output topics");
    const exp = await expectedFromTopic(kafka, topic, ends);
    check = await exactlyOnce(
      kafka,
      exp,
      { cleaned: cleanedTable, dead: deadTable },
      { output: outputTopic, dlq: dlqTopic },
      dir,
    );
    if (feedSummary && (feedSummary.sent !== exp.records || feedSummary.bad !== exp.bad)) {
      check.ok = false;
      check.examples.push(
        `the feed says ${feedSummary.sent} sent (${feedSummary.bad} bad); the topic holds ` +
          `${exp.records} (${exp.bad} bad)`,
      );
    }
    exitCode = check.ok ? 0 : 1;
  } catch (e) {
    failure = (e as Error).message;
    say(`FAILED: ${failure}`);
  } finally {
    for (const p of procs) {
      if (!(await p.waitFor(0))) {
        p.signal("SIGTERM");
        if (!(await p.waitFor(30_000))) p.signal("SIGKILL");
        await p.waitFor(10_000);
      }
    }
    Deno.removeSignalListener("SIGINT", onSignal);
  }

  // 8. Summary.
  const later = figures.slice(Math.min(warmup, Math.max(0, figures.length - 1)));
  const series: Record<string, number[]> = {
    "orders/s": later.map((f) => f.ordersPerSecond),
    "active files": later.map((f) => f.files),
    "small files": later.map((f) => f.smallFiles),
    "small files peak": later.map((f) => f.smallPeak),
    "_delta_log files": later.map((f) => f.logFiles),
    "_delta_log KB": later.map((f) => f.logBytes / 1024),
    "RSS feed MB": later.map((f) => f.rss.feed / 1e6),
    "RSS cleaned MB": later.map((f) => f.rss.cleaned / 1e6),
    "RSS producer MB": later.map((f) => f.rss.producer / 1e6),
    "heap cleaned MB": later.map((f) => f.heapCleaned / 1e6),
    "external cleaned MB": later.map((f) => f.externalCleaned / 1e6),
    "wasm cleaned MB": later.map((f) => f.wasmCleaned / 1e6),
    "snapshot load ms": later.map((f) => f.snapshotMs),
    "lag cleaned": later.map((f) => f.lagCleaned),
    "lag producer stream": later.map((f) => f.lagProducer),
    "p50 ms": later.map((f) => f.p50Ms),
    "p99 ms": later.map((f) => f.p99Ms),
  };
  const trends: Record<string, Trend> = {};
  console.log(
    `\nsoak: flat after the first ${warmup} interval(s)? least-squares slope over the ` +
      `${later.length} later one(s), against their noise:`,
  );
  for (const [name, ys] of Object.entries(series)) {
    const t = trend(ys);
    trends[name] = t;
    const f = (x: number) => (Math.abs(x) >= 100 ? fmtInt(Math.round(x)) : x.toFixed(1));
    console.log(
      `  ${name.padEnd(20)} mean ${f(t.mean).padStart(11)}  slope/interval ${
        f(t.slope).padStart(9)
      }  noise ${f(t.noise).padStart(9)}  → ${
        t.n < 3 ? "too few intervals to say" : t.flat ? "flat" : t.slope > 0 ? "RISING" : "FALLING"
      }`,
    );
  }
  const buckets = watcher?.all ?? [];
  const laterSamples = buckets.slice(Math.min(warmup, Math.max(0, buckets.length - 1))).flat();
  const p50 = percentile(laterSamples, 50);
  const p99 = percentile(laterSamples, 99);
  const worstP99 = Math.max(...later.map((f) => f.p99Ms).filter(Number.isFinite));
  console.log(
    `  latency after warm-up: p50 ${p50.toFixed(0)} ms, p99 ${p99.toFixed(0)} ms ` +
      `(worst interval p99 ${worstP99.toFixed(0)} ms; ${fmtInt(laterSamples.length)} orders, ` +
      `${watcher?.missedCommits ?? 0} commits missed) → p99 < 1.5 s: ${p99 < 1500 ? "yes" : "NO"}`,
  );
  const behindRate = later.length &&
    later.reduce((n, f) => n + f.ordersPerSecond, 0) / later.length < rate * 0.97;
  console.log(
    `  throughput: ${
      fmtInt(Math.round(series["orders/s"].reduce((a, b) => a + b, 0) / (later.length || 1)))
    } of ${fmtInt(rate)} orders/s committed → ${behindRate ? "NOT keeping up" : "keeps up"}; ` +
      `drained by ${drainedBy} in ${drainSeconds.toFixed(1)} s`,
  );
  for (const [name, s] of Object.entries(streamEnds)) {
    const o = s as Record<string, unknown> | undefined;
    if (o) {
      // The Delta streams' summary has records and ended; the producer stream's input and output.
      const records = Number(o.records ?? o.input);
      const peak = Math.max(Number(o.peakRssBytes ?? 0), peakRss[name] ?? 0);
      console.log(
        `  ${name}: ${o.batches} batches, ${fmtInt(records)} records${
          o.output !== undefined ? `, ${fmtInt(Number(o.output))} output records` : ""
        }, peak RSS ${mb(peak)} MB${o.ended ? `, ${o.ended}` : ""}${maintenanceText(o)}`,
      );
    }
  }
  const times = await batchTimes(join(logs, "cleaned.out"));
  const pct = (xs: number[]) =>
    `p50 ${percentile(xs, 50).toFixed(0)} / p99 ${percentile(xs, 99).toFixed(0)} / max ${
      xs.length ? Math.max(...xs).toFixed(0) : "NaN"
    } ms`;
  console.log(
    `  cleaned stream batches: ${times.total.length}, duration ${pct(times.total)}; ` +
      `maintenance in them ${pct(times.maintenance)}`,
  );
  if (feedSummary) {
    console.log(
      `  feed: ${fmtInt(Number(feedSummary.sent))} sent (${
        fmtInt(Number(feedSummary.bad))
      } bad) in ${feedSummary.seconds} s, peak RSS ${mb(peakRss.feed ?? 0)} MB`,
    );
  }
  if (check) {
    const c = check;
    console.log(
      `soak: exactly once (delta-rs): ${c.ok ? "PASS" : "FAIL"}: topic ${fmtInt(c.topicRecords)} ` +
        `records (${fmtInt(c.valid)} orders, ${fmtInt(c.bad)} bad); orders_cleaned ` +
        `${fmtInt(c.cleaned.orders)} orders in ${fmtInt(c.cleaned.rows)} rows (expected ` +
        `${
          fmtInt(c.expectedRows)
        }), missing ${c.cleaned.missing}, duplicated ${c.cleaned.duplicated}, ` +
        `wrong ${c.cleaned.wrong}, unexpected ${c.cleaned.unexpected}; dead letters ` +
        `${fmtInt(c.deadLetters.rows)}, missing ${c.deadLetters.missing}, duplicated ` +
        `${c.deadLetters.duplicated}, wrong reason ${c.deadLetters.wrongReason}; ${outputTopic} ` +
        `${fmtInt(c.output.records)} of ${fmtInt(c.output.expected)} Chicago orders, missing ` +
        `${c.output.missing}, duplicated ${c.output.duplicated}, unexpected ${c.output.unexpected}; ` +
        `its dead letters ${fmtInt(c.outputDeadLetters.records)}, missing ` +
        `${c.outputDeadLetters.missing}, duplicated ${c.outputDeadLetters.duplicated}`,
    );
    for (const e of c.examples) console.log(`  ${e}`);
  }
  if (values.json) {
    console.log(JSON.stringify({
      soak: {
        error: failure,
        rate,
        seconds: runS,
        partitions,
        intervalSeconds: intervalMs / 1000,
        warmup,
        settings: {
          logRetentionMs,
          minFiles,
          targetSize,
          checkpointInterval: values["checkpoint-interval"],
        },
        topics: { input: topic, output: outputTopic, deadLetters: dlqTopic },
        tables: { cleaned: cleanedTable, deadLetters: deadTable },
        queries: { cleaned: cleanedQuery, producer: producerQuery },
        feed: feedSummary,
        figures,
        trends,
        latency: { p50, p99, worstIntervalP99: worstP99 },
        drainedBy,
        drainSeconds,
        peakRss,
        missedCommits: watcher?.missedCommits ?? 0,
        cleanedBatchMs: {
          p50: percentile(times.total, 50),
          p99: percentile(times.total, 99),
          max: Math.max(...times.total),
        },
        maintenanceMs: {
          p50: percentile(times.maintenance, 50),
          p99: percentile(times.maintenance, 99),
          max: Math.max(...times.maintenance),
        },
        streams: streamEnds,
        check,
      },
    }));
  }
  if (!values.keep) {
    try {
      const admin = kafka.admin();
      await admin.connect();
      const existing = new Set(await admin.listTopics());
      const mine = [topic, outputTopic, dlqTopic, `${producerQuery}-changelog`].filter((t) =>
        existing.has(t)
      );
      if (mine.length) await admin.deleteTopics({ topics: mine });
      await admin.disconnect();
    } catch (e) {
      say(`could not delete the topics: ${(e as Error).message}`);
    }
    if (failure !== undefined) {
      await Deno.remove(lake, { recursive: true }).catch(() => {});
      say(`the processes' logs are in ${logs}`);
    } else if (values.dir === undefined) {
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    } else await Deno.remove(lake, { recursive: true }).catch(() => {});
  } else {
    say(`kept: topics soak-${id}*, ${dir}`);
  }
  return exitCode;
}

if (import.meta.main) {
  try {
    Deno.exit(await main());
  } catch (e) {
    console.error(`soak: ${(e as Error).message}`);
    Deno.exit(1);
  }
}
