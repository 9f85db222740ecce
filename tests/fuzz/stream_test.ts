/**
 * Fuzz, end to end on the real broker (issue 20): a few thousand generated records (every light
 * kind, plus a handful of heavy ones: records at the 1 MiB limit and one byte over, 10,000- and
 * 100,000-level nesting, 5,000 line items, a 2 MB string) on a fresh 6-partition topic, through
 *
 * - the cleaned stream (killed by `STREAM_FAULT=between-tables:2`: `kill -9` with the cleaned
 *   table committed and the dead letters not; then rerun to the end),
 * - the raw stream (an external `kill -9` right after its first progress line; then rerun),
 * - the producer stream in filter mode (killed by `STREAM_FAULT=after-send:2`, then rerun),
 *
 * all three at once. Then, per (partition, offset) of the input:
 *
 * - `orders_cleaned` / `orders_dead_letters`: a valid order is one row per line item with its
 *   values and no dead letter; an invalid record is exactly one dead letter with its reason and
 *   field, its exact value and key, and no row: never both, never neither, never twice;
 * - `orders_raw`: exactly one row, key and value as text, exact bytes in `key_bytes` /
 *   `value_bytes` for what is not UTF-8;
 * - the producer stream's dead-letter topic (read_committed): each invalid record exactly once,
 *   `dlq.reason` its reason, key and value bytes unchanged; its output topic: the valid Chicago
 *   orders, once each, unchanged.
 *
 * Each table is judged twice: against what `parseOrder` decides (the pipeline's accounting, a
 * failure here is a stream bug) and against the independent oracle (a failure here alone is a
 * validator disagreement, also caught by differential_test.ts).
 *
 * The valid at-limit records are kept out of Chicago here: the producer stream cannot publish a
 * 1 MiB order to its output topic (see the last test of this file).
 *
 * @module
 */
import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import type { Kafka } from "kafkajs";
import type * as arrow from "apache-arrow";
import { DataType } from "apache-arrow";
import "../../lib/kafka/client.ts"; // silences kafkajs' harmless TimeoutNegativeWarning
import { read } from "../../lib/delta/table.ts";
import type { Order } from "../../lib/orders/schema.ts";
import { parseOrder, type ParseResult } from "../../lib/orders/validate.ts";
import {
  bootstrapServers,
  deleteTopics,
  testKafka,
  uniqueName,
  withAdmin,
} from "../support/kafka.ts";
import { runNotebook as runProducerStream } from "../support/notebooks.ts";
import {
  baseArgs,
  dollars,
  runNotebook,
  type RunResult,
  spawnNotebook,
  tempLakehouse,
} from "../support/stream.ts";
import {
  type FuzzRecord,
  fuzzRecord,
  fuzzRecords,
  HEAVY_KINDS,
  type Kind,
  KINDS,
} from "./generate.ts";
import { judge, type OracleOrder, type Outcome, type Verdict } from "./oracle.ts";
import { compare } from "./differential.ts";

const SEED = Number(Deno.env.get("FUZZ_SEED") ?? 2020);
const LIGHT = KINDS.filter((k) => !HEAVY_KINDS.includes(k));
const COUNT = 2500;
const PARTITIONS = 6;
const LIMIT = 1024 * 1024;
/** The producer stream keeps at most this much of a dead letter's value (lib/insights). */
const DLQ_MAX_VALUE = 900 * 1024;

/** One record as sent, with where it landed and what both judges say. */
interface Sent {
  rec: FuzzRecord;
  partition: number;
  offset: bigint;
  oracle: Verdict;
  lib: ParseResult;
}

const coord = (p: number | bigint, o: number | bigint) => `${p}:${o}`;
const strict = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });
const lossy = new TextDecoder("utf-8", { ignoreBOM: true });

function isUtf8(b: Uint8Array): boolean {
  try {
    strict.decode(b);
    return true;
  } catch {
    return false;
  }
}

function b64(b: Uint8Array): string {
  return Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString("base64");
}

function sameBytes(a: Uint8Array | null | undefined, b: Uint8Array | null | undefined): boolean {
  if (a === null || a === undefined || b === null || b === undefined) {
    return (a ?? null) === (b ?? null);
  }
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

function clip(s: string, n = 160): string {
  return s.length > n ? `${s.slice(0, n)}… (${s.length} chars)` : s;
}

// ---- the records ------------------------------------------------------------------------

/** Heavy records chosen on purpose (the first index of each kind that fits). */
const SPECIALS: [Kind, string, (r: FuzzRecord, v: Verdict) => boolean][] = [
  ["at_limit", "valid, exactly 1 MiB", (r, v) => r.value!.length === LIMIT && okNotChicago(v)],
  ["at_limit", "valid, 1 MiB with a BOM", (r, v) => r.value![0] === 0xef && okNotChicago(v)],
  [
    "at_limit",
    "1 MiB + 1 byte",
    (r, v) => r.value!.length === LIMIT + 1 && v.outcome === "too_large",
  ],
  [
    "nesting_10000",
    "valid, id past 2^53",
    (r, v) => r.detail.includes("2^53") && v.outcome === "ok",
  ],
  ["nesting_100000", "valid", (_r, v) => v.outcome === "ok"],
  ["items_5000", "valid", (_r, v) => v.outcome === "ok"],
  ["items_5000", "last item bad", (_r, v) => v.outcome === "non_positive_quantity"],
  ["string_2mb", "2 MB", (_r, v) => v.outcome === "too_large"],
];

function okNotChicago(v: Verdict): boolean {
  return v.outcome === "ok" && v.order!.city !== "Chicago";
}

function records(): FuzzRecord[] {
  const light = [...fuzzRecords(SEED, COUNT, { kinds: LIGHT })];
  const special: FuzzRecord[] = [];
  for (const [kind, what, fits] of SPECIALS) {
    for (let i = 1_000_000;; i++) {
      const r = fuzzRecord(SEED, i, { kinds: [kind] });
      if (fits(r, judge(r.value))) {
        special.push({ ...r, detail: `${r.detail} [${what}]` });
        break;
      }
      assert.ok(i < 1_000_500, `no ${kind} record (${what}) in 500 tries`);
    }
  }
  // Spread the heavy ones through the light ones.
  const out = [...light];
  special.forEach((r, k) =>
    out.splice(Math.floor(((k + 0.5) * out.length) / special.length), 0, r)
  );
  return out;
}

/** Creates the input topic: 6 partitions that accept records beyond 1 MiB. */
async function createInput(kafka: Kafka, topic: string): Promise<void> {
  await withAdmin(kafka, (admin) =>
    admin.createTopics({
      waitForLeaders: true,
      topics: [{
        topic,
        numPartitions: PARTITIONS,
        configEntries: [
          { name: "max.message.bytes", value: String(8 << 20) },
          { name: "segment.bytes", value: String(16 << 20) },
        ],
      }],
    }));
}

const buf = (b: Uint8Array | null) => (b === null ? null : Buffer.from(b));

/** Produces record i to partition i % 6 (in order, idempotent), returning where each landed. */
async function produceAll(kafka: Kafka, topic: string, recs: FuzzRecord[]): Promise<Sent[]> {
  const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
  await producer.connect();
  const next = new Array<bigint>(PARTITIONS).fill(0n);
  const sent: Sent[] = [];
  try {
    let chunk: Sent[] = [];
    let bytes = 0;
    const flush = async () => {
      if (chunk.length === 0) return;
      const meta = await producer.send({
        topic,
        acks: -1,
        messages: chunk.map((s) => ({
          partition: s.partition,
          key: buf(s.rec.key),
          value: buf(s.rec.value),
          headers: s.rec.headers === undefined ? undefined : Object.fromEntries(
            Object.entries(s.rec.headers).map((
              [k, v],
            ) => [k, Array.isArray(v) ? v.map(headerValue) : headerValue(v)]),
          ),
        })),
      });
      // The broker's offsets are the ones counted here (a fresh topic, one producer, in order).
      const first = new Map<number, bigint>();
      for (const s of chunk) if (!first.has(s.partition)) first.set(s.partition, s.offset);
      for (const m of meta) {
        assert.equal(BigInt(m.baseOffset!), first.get(m.partition), `partition ${m.partition}`);
      }
      chunk = [];
      bytes = 0;
    };
    for (let i = 0; i < recs.length; i++) {
      const rec = recs[i];
      const partition = i % PARTITIONS;
      const s: Sent = {
        rec,
        partition,
        offset: next[partition]++,
        oracle: judge(rec.value),
        lib: parseOrder(rec.value),
      };
      sent.push(s);
      const size = (rec.value?.length ?? 0) + (rec.key?.length ?? 0);
      if (chunk.length > 0 && (chunk.length >= 400 || bytes + size > 3 << 20)) await flush();
      chunk.push(s);
      bytes += size;
    }
    await flush();
  } finally {
    await producer.disconnect();
  }
  return sent;
}

function headerValue(v: Uint8Array | string): Buffer | string {
  return typeof v === "string" ? v : Buffer.from(v);
}

// ---- reading tables exactly -----------------------------------------------------------------

type Row = Record<string, unknown>;

/**
 * Rows of a Delta table; strings and binaries as their exact bytes (Uint8Array), longs as
 * bigint. (Reading through `Vector.get` would decode strings and drop a leading BOM.)
 */
async function exactRows(location: string): Promise<{ rows: Row[]; columns: string[] }> {
  const t = await read(location);
  const columns = t.schema.fields.map((f) => f.name);
  const rows: Row[] = Array.from({ length: t.numRows }, () => ({}));
  t.schema.fields.forEach((f, c) => {
    const vec = t.getChildAt(c)!;
    let r = 0;
    for (const data of vec.data) {
      const isBytes = DataType.isUtf8(f.type) || DataType.isBinary(f.type) ||
        DataType.isLargeUtf8(f.type) || DataType.isLargeBinary(f.type);
      for (let i = 0; i < data.length; i++, r++) {
        if (!data.getValid(i)) {
          rows[r][f.name] = null;
        } else if (isBytes) {
          const offs = (data as arrow.Data<arrow.Utf8>).valueOffsets as ArrayLike<number | bigint>;
          const start = Number(offs[data.offset + i]);
          const end = Number(offs[data.offset + i + 1]);
          rows[r][f.name] = (data as arrow.Data<arrow.Utf8>).values.slice(start, end);
        } else rows[r][f.name] = vec.get(r);
      }
    }
  });
  return { rows, columns };
}

const text = (x: unknown) => (x === null || x === undefined ? null : lossy.decode(x as Uint8Array));

// ---- expected rows ----------------------------------------------------------------------------

/** One cleaned row as comparable text (strings as they can be stored: well-formed). */
function rowKey(
  o: {
    orderId: unknown;
    customerId: unknown;
    fname: string | null;
    lname: string | null;
    city: string | null;
    state: string | null;
    pincode: unknown;
  },
  it: { id: unknown; productId: unknown; quantity: unknown; price: number; subtotal: number },
): string {
  const big = (x: unknown) => (x === null || x === undefined ? null : String(BigInt(x as bigint)));
  const str = (s: string | null) => (s === null ? null : s.toWellFormed());
  return JSON.stringify([
    big(o.orderId),
    big(o.customerId),
    str(o.fname),
    str(o.lname),
    str(o.city),
    str(o.state),
    big(o.pincode),
    big(it.id),
    big(it.productId),
    big(it.quantity),
    it.price === 0 ? 0 : it.price, // -0 and 0 are the same money
    it.subtotal === 0 ? 0 : it.subtotal,
  ]);
}

function oracleRows(o: OracleOrder): string[] {
  return o.items.map((it) => rowKey(o, it)).sort();
}

function libRows(o: Order): string[] {
  const head = {
    orderId: o.order_id,
    customerId: o.customer_id,
    fname: o.customer_fname,
    lname: o.customer_lname,
    city: o.city,
    state: o.state,
    pincode: o.pincode,
  };
  return o.line_items.map((it) =>
    rowKey(head, {
      id: it.order_item_id,
      productId: it.order_item_product_id,
      quantity: it.order_item_quantity,
      price: it.order_item_product_price,
      subtotal: it.order_item_subtotal,
    })
  ).sort();
}

function tableRowKey(r: Row): string {
  return rowKey({
    orderId: r.order_id,
    customerId: r.customer_id,
    fname: text(r.customer_fname),
    lname: text(r.customer_lname),
    city: text(r.city),
    state: text(r.state),
    pincode: r.pincode,
  }, {
    id: r.item_id,
    productId: r.product_id,
    quantity: r.quantity,
    price: dollars(r.price) as number,
    subtotal: dollars(r.subtotal) as number,
  });
}

/** What a judge expects for one record: valid with these rows, or one of these reasons. */
interface Expect {
  accept: readonly Outcome[];
  fields?: readonly string[];
  rows?: string[];
}

function fromLib(r: ParseResult): Expect {
  return r.ok
    ? { accept: ["ok"], rows: libRows(r.order) }
    : { accept: [r.reason as Outcome], fields: r.field === undefined ? [] : [r.field] };
}

function fromOracle(v: Verdict): Expect {
  return {
    accept: v.accept,
    fields: v.fields ?? (v.field === undefined ? [] : [v.field]),
    rows: v.order ? oracleRows(v.order) : undefined,
  };
}

function describe(s: Sent): string {
  const disagree = compare(s.oracle, s.lib) === undefined
    ? ""
    : " [parseOrder ≠ oracle: a validator disagreement, see differential_test.ts]";
  return `p${s.partition}@${s.offset} #${s.rec.index} (${s.rec.kind}: ${s.rec.detail}) ` +
    `oracle ${s.oracle.outcome}${s.oracle.field ? `@${s.oracle.field}` : ""}, lib ${
      s.lib.ok ? "ok" : `${s.lib.reason}@${s.lib.field ?? ""}`
    }${disagree}`;
}

// ---- the checks -------------------------------------------------------------------------------

/** Per (partition, offset): rows xor exactly one dead letter, as `expect` says. */
function checkCleaned(
  sent: Sent[],
  rowsByCoord: Map<string, Row[]>,
  deadByCoord: Map<string, Row[]>,
  expect: (s: Sent) => Expect,
): string[] {
  const problems: string[] = [];
  for (const s of sent) {
    const c = coord(s.partition, s.offset);
    const rows = rowsByCoord.get(c) ?? [];
    const dead = deadByCoord.get(c) ?? [];
    const e = expect(s);
    const bad = (what: string) => problems.push(`${describe(s)}: ${what}`);
    if (rows.length > 0 && dead.length > 0) {
      bad(`both ${rows.length} rows and ${dead.length} dead letters`);
    } else if (rows.length === 0 && dead.length === 0) bad("neither a row nor a dead letter");
    else if (dead.length > 1) bad(`${dead.length} dead letters`);
    else if (rows.length > 0) {
      if (!e.accept.includes("ok")) {
        bad(`cleaned (${rows.length} rows), expected ${e.accept.join(" or ")}`);
        continue;
      }
      const got = rows.map(tableRowKey).sort();
      if (JSON.stringify(got) !== JSON.stringify(e.rows)) {
        bad(`rows differ: got ${clip(got.join(" | "))}, expected ${clip(e.rows!.join(" | "))}`);
      }
    } else {
      const d = dead[0];
      const reason = text(d.reason) as Outcome;
      if (!e.accept.includes(reason)) {
        bad(`dead letter ${reason}, expected ${e.accept.join(" or ")}`);
      }
      const field = text(d.field);
      if (
        reason !== "ok" && e.fields &&
        (e.fields.length === 0 ? field !== null : !e.fields.includes(field ?? ""))
      ) {
        bad(`dead letter field ${field}, expected ${e.fields.join(" or ") || "none"}`);
      }
      if (!(text(d.error) ?? "").length) bad("dead letter without an error message");
      // The value, exactly: text when UTF-8, else base64; a tombstone neither.
      const v = s.rec.value;
      if (v === null) {
        if (d.value !== null || d.value_base64 !== null) bad("tombstone dead letter holds a value");
      } else if (isUtf8(v)) {
        if (!sameBytes(d.value as Uint8Array, v) || d.value_base64 !== null) {
          bad(`dead letter value is not the exact text (${clip(String(text(d.value)))})`);
        }
      } else if (d.value !== null || text(d.value_base64) !== b64(v)) {
        bad("dead letter value_base64 is not the exact bytes");
      }
    }
  }
  return problems;
}

/** Dead letters' keys, exactly (`key` text when UTF-8, else `key_base64`). */
function checkDeadKeys(sent: Sent[], deadByCoord: Map<string, Row[]>): string[] {
  const problems: string[] = [];
  for (const s of sent) {
    const d = deadByCoord.get(coord(s.partition, s.offset))?.[0];
    if (!d) continue;
    const k = s.rec.key;
    const ok = k === null
      ? d.key === null && d.key_base64 === null
      : isUtf8(k)
      ? sameBytes(d.key as Uint8Array, k) && d.key_base64 === null
      : d.key === null && text(d.key_base64) === b64(k);
    if (!ok) problems.push(`${describe(s)}: dead letter key is not the exact key`);
  }
  return problems;
}

/** orders_raw: every record once; key and value as text; exact bytes when they are not UTF-8. */
function checkRaw(sent: Sent[], raw: Row[]): string[] {
  const problems: string[] = [];
  const by = new Map<string, Row[]>();
  for (const r of raw) {
    const c = coord(r.partition as number, r.offset as bigint);
    by.set(c, [...(by.get(c) ?? []), r]);
  }
  if (raw.length !== sent.length) problems.push(`${raw.length} rows for ${sent.length} records`);
  for (const s of sent) {
    const rows = by.get(coord(s.partition, s.offset)) ?? [];
    if (rows.length !== 1) {
      problems.push(`${describe(s)}: ${rows.length} raw rows`);
      continue;
    }
    const r = rows[0];
    for (const [name, sentBytes] of [["key", s.rec.key], ["value", s.rec.value]] as const) {
      const str = r[name] as Uint8Array | null;
      const exact = r[`${name}_bytes`] as Uint8Array | null | undefined;
      let ok: boolean;
      if (sentBytes === null) ok = str === null && (exact ?? null) === null;
      else if (isUtf8(sentBytes)) ok = sameBytes(str, sentBytes) && (exact ?? null) === null;
      else {
        // The string column holds the U+FFFD reading; the exact bytes are in <name>_bytes.
        ok = str !== null && lossy.decode(str) === lossy.decode(sentBytes) &&
          sameBytes(exact, sentBytes);
      }
      if (!ok) problems.push(`${describe(s)}: raw ${name} is not the record's ${name}`);
    }
  }
  return problems;
}

interface TopicRecord {
  partition: number;
  key: Uint8Array | null;
  value: Uint8Array | null;
  headers: Record<string, string>;
}

/** Every committed record of a topic with its headers (read_committed, to the end). */
async function readCommitted(kafka: Kafka, topic: string): Promise<TopicRecord[]> {
  const ends = await withAdmin(kafka, (a) => a.fetchTopicOffsets(topic));
  const pending = new Map(
    ends.filter((e) => BigInt(e.high) > BigInt(e.low)).map((e) => [e.partition, BigInt(e.high)]),
  );
  const out: TopicRecord[] = [];
  if (pending.size === 0) return out;
  const consumer = kafka.consumer({
    groupId: uniqueName("fuzz-read"),
    readUncommitted: false,
    maxWaitTimeInMs: 200,
    maxBytesPerPartition: 4 << 20,
  });
  let finished!: () => void;
  let failed!: (e: unknown) => void;
  const done = new Promise<void>((res, rej) => [finished, failed] = [res, rej]);
  const reached = (partition: number, last: string) => {
    const end = pending.get(partition);
    if (end !== undefined && BigInt(last) >= end - 1n) pending.delete(partition);
    if (pending.size === 0) finished();
  };
  // Batches of only control records (transaction markers) never reach eachBatch; this event
  // still says how far a partition got.
  consumer.on(
    consumer.events.END_BATCH_PROCESS,
    ({ payload }) => reached(payload.partition, payload.lastOffset),
  );
  consumer.on(consumer.events.CRASH, ({ payload }) => failed(payload.error));
  await consumer.connect();
  try {
    await consumer.subscribe({ topics: [topic], fromBeginning: true });
    await consumer.run({
      autoCommit: false,
      eachBatch: ({ batch }) => {
        for (const m of batch.messages) {
          const headers: Record<string, string> = {};
          for (const [k, v] of Object.entries(m.headers ?? {})) headers[k] = String(v);
          out.push({
            partition: batch.partition,
            key: m.key === null ? null : new Uint8Array(m.key),
            value: m.value === null ? null : new Uint8Array(m.value),
            headers,
          });
        }
        return Promise.resolve();
      },
    });
    await done;
  } finally {
    await consumer.disconnect();
  }
  return out;
}

/** The producer stream's dead letters: each invalid record once, reason, key and value unchanged. */
function checkDeadLetterTopic(
  sent: Sent[],
  dlq: TopicRecord[],
  topic: string,
  expect: (s: Sent) => Expect,
): string[] {
  const problems: string[] = [];
  const by = new Map<string, TopicRecord[]>();
  for (const d of dlq) {
    if (d.headers["dlq.topic"] !== topic) {
      problems.push(`dead letter from ${d.headers["dlq.topic"]}`);
    }
    const c = coord(Number(d.headers["dlq.partition"]), BigInt(d.headers["dlq.offset"] ?? -1));
    by.set(c, [...(by.get(c) ?? []), d]);
  }
  for (const s of sent) {
    const e = expect(s);
    const got = by.get(coord(s.partition, s.offset)) ?? [];
    by.delete(coord(s.partition, s.offset));
    const bad = (what: string) => problems.push(`${describe(s)}: ${what}`);
    if (got.length === 0) {
      if (!e.accept.includes("ok")) {
        bad(`not in the dead-letter topic, expected ${e.accept.join(" or ")}`);
      }
      continue;
    }
    if (got.length > 1) bad(`${got.length} times in the dead-letter topic`);
    const d = got[0];
    const reason = d.headers["dlq.reason"] as Outcome;
    if (!e.accept.includes(reason)) bad(`dlq.reason ${reason}, expected ${e.accept.join(" or ")}`);
    if (!sameBytes(d.key, s.rec.key)) bad("dead letter key changed");
    const v = s.rec.value;
    if (v !== null && v.length > DLQ_MAX_VALUE) {
      if (
        d.headers["dlq.truncated"] !== String(v.length) ||
        !sameBytes(d.value, v.subarray(0, DLQ_MAX_VALUE))
      ) {
        bad("a long value is not cut to its first 900 KiB with dlq.truncated");
      }
    } else if (!sameBytes(d.value, v)) bad("dead letter value changed");
  }
  for (const [c, ds] of by) problems.push(`${ds.length} dead letters for ${c}, which was not sent`);
  return problems;
}

/** Whether a record must, may or must not reach the producer stream's output. */
type Fate = "must" | "may" | "no";

/** The producer stream's output: the valid Chicago orders, each once, unchanged. */
function checkOutput(sent: Sent[], output: TopicRecord[], fate: (s: Sent) => Fate): string[] {
  const show = (k: Uint8Array | null, v: Uint8Array | null) =>
    `${k === null ? "-" : b64(k)}=${v === null ? "-" : b64(v)}`;
  const count = (xs: string[]) =>
    xs.reduce((m, x) => m.set(x, (m.get(x) ?? 0) + 1), new Map<string, number>());
  const must = count(
    sent.filter((s) => fate(s) === "must").map((s) => show(s.rec.key, s.rec.value)),
  );
  const may = count(sent.filter((s) => fate(s) === "may").map((s) => show(s.rec.key, s.rec.value)));
  const got = count(output.map((o) => show(o.key, o.value)));
  const problems: string[] = [];
  for (const [x, n] of must) {
    const g = got.get(x) ?? 0;
    if (g < n || g > n + (may.get(x) ?? 0)) {
      problems.push(`output has ${g}× a Chicago order sent ${n}×: ${clip(x, 120)}`);
    }
  }
  for (const [x, n] of got) {
    if (!must.has(x) && n > (may.get(x) ?? 0)) {
      problems.push(`output has ${n}× a record that is not a valid Chicago order: ${clip(x, 120)}`);
    }
  }
  return problems;
}

const summary = (problems: string[]) =>
  `${problems.length} problems:\n${problems.slice(0, 25).join("\n")}${
    problems.length > 25 ? "\n…" : ""
  }`;

// ---- the runs ---------------------------------------------------------------------------------

/**
 * Runs a Delta stream that is killed (`kill -9`) mid-run, either at a precise point
 * (`STREAM_FAULT`) or from outside right after its first micro-batch was reported, then reruns
 * it to the end.
 */
async function killedThenRerun(
  notebook: "raw" | "cleaned",
  args: string[],
  kill: { fault: string } | "after-first-batch",
): Promise<{ killed: Deno.CommandStatus; batchesBeforeKill: number; last: RunResult }> {
  let t = performance.now();
  const lap = (what: string) => {
    const now = performance.now();
    console.log(`  ${notebook} ${what}: ${Math.round(now - t)} ms`);
    t = now;
  };
  let killed: Deno.CommandStatus;
  let batchesBeforeKill: number;
  if (kill !== "after-first-batch") {
    const r = await runNotebook(notebook, args, { STREAM_FAULT: kill.fault });
    killed = { success: r.code === 0, code: r.code, signal: r.signal };
    batchesBeforeKill = r.progress.length;
    lap(`STREAM_FAULT=${kill.fault}`);
  } else {
    const child = spawnNotebook(notebook, args);
    const lines = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
    let seen = "";
    while (!seen.includes("\n")) {
      const { value, done } = await lines.read();
      if (done) break;
      seen += value;
    }
    try {
      child.kill("SIGKILL");
    } catch {
      // it already finished: the assertion on `killed` says so
    }
    await lines.cancel();
    await child.stderr.cancel();
    killed = await child.status;
    batchesBeforeKill = seen.split("\n").filter((l) => l.startsWith("{")).length;
    lap("kill -9 after the first batch");
  }
  const last = await runNotebook(notebook, args);
  lap("rerun to the end");
  return { killed, batchesBeforeKill, last };
}

Deno.test("fuzz, end to end: cleaned, raw and producer streams account for every fuzzed record exactly once, through kill -9", async (t) => {
  const kafka = testKafka();
  const topic = uniqueName("fuzz-e2e");
  const output = uniqueName("fuzz-out");
  // Query names are consumer groups, transactional ids and (producer stream) changelog topics.
  const query = `fuzz_${crypto.randomUUID().slice(0, 8)}`;
  const { dir, cleanup } = await tempLakehouse();
  const cleanedTable = `${dir}/orders_cleaned`;
  const deadTable = `${dir}/orders_dead_letters`;
  const rawTable = `${dir}/orders_raw`;
  await createInput(kafka, topic);
  try {
    const sent = await produceAll(kafka, topic, records());
    const kinds = new Set(sent.map((s) => s.rec.kind));
    assert.deepEqual(LIGHT.filter((k) => !kinds.has(k)), [], "every light kind is sent");

    const started = performance.now();
    const common = [
      "--available-now",
      "--progress",
      "json",
      "--max-offsets-per-trigger",
      "500",
      "--session-timeout-ms",
      "6000",
    ];
    const [cleaned, raw, producer] = await Promise.all([
      killedThenRerun(
        "cleaned",
        [
          ...baseArgs(topic),
          "--table",
          cleanedTable,
          "--dead-letters",
          deadTable,
          "--query-name",
          `${query}_cleaned`,
          ...common,
        ],
        { fault: "between-tables:2" },
      ),
      killedThenRerun(
        "raw",
        [...baseArgs(topic), "--table", rawTable, "--query-name", `${query}_raw`, ...common],
        "after-first-batch",
      ),
      (async () => {
        const args = [
          "--bootstrap-servers",
          bootstrapServers().join(","),
          "--topic",
          topic,
          "--output-topic",
          output,
          "--available-now",
          "--max-offsets-per-trigger",
          "500",
          "--query-name",
          `${query}_ps`,
        ];
        let t = performance.now();
        const killed = await runProducerStream("kafka-producer-stream", args, {
          env: { STREAM_FAULT: "after-send:2" },
        });
        console.log(
          `  producer stream STREAM_FAULT=after-send:2: ${Math.round(performance.now() - t)} ms`,
        );
        t = performance.now();
        const last = await runProducerStream("kafka-producer-stream", args);
        console.log(`  producer stream rerun to the end: ${Math.round(performance.now() - t)} ms`);
        return { killed, last };
      })(),
    ]);

    console.log(
      `${sent.length} records (${sent.filter((s) => s.oracle.outcome === "ok").length} valid), ` +
        `streams with kills and reruns: ${Math.round(performance.now() - started)} ms`,
    );
    await t.step("the streams were killed mid-run, and the reruns finished", () => {
      assert.equal(cleaned.killed.signal, "SIGKILL", "cleaned stream killed by STREAM_FAULT");
      assert.equal(cleaned.batchesBeforeKill, 1, "cleaned: batch 1 committed, batch 2 killed");
      assert.equal(raw.killed.signal, "SIGKILL", "raw stream killed after its first batch");
      assert.equal(
        producer.killed.code,
        137,
        `producer stream: ${producer.killed.stderr.slice(-400)}`,
      );
      assert.equal(cleaned.last.code, 0, cleaned.last.stderr.slice(-1500));
      assert.equal(raw.last.code, 0, raw.last.stderr.slice(-1500));
      assert.equal(producer.last.code, 0, producer.last.stderr.slice(-1500));
      assert.ok(
        (raw.last.summary?.records as number) > 0,
        "the raw stream was killed with work left",
      );
      assert.ok(
        (cleaned.last.summary?.records as number) < sent.length,
        "the last cleaned run resumed",
      );
    });

    const { rows: cleanedRows } = await exactRows(cleanedTable);
    const { rows: deadRows, columns: deadColumns } = await exactRows(deadTable);
    const group = (rows: Row[], p: string, o: string) => {
      const m = new Map<string, Row[]>();
      for (const r of rows) {
        const c = coord(r[p] as number, r[o] as bigint);
        m.set(c, [...(m.get(c) ?? []), r]);
      }
      return m;
    };
    const rowsBy = group(cleanedRows, "kafka_partition", "kafka_offset");
    const deadBy = group(deadRows, "partition", "offset");

    await t.step(
      "cleaned stream, as parseOrder decides: rows or one dead letter per offset, never both, never twice",
      () => {
        const problems = checkCleaned(sent, rowsBy, deadBy, (s) => fromLib(s.lib));
        const sentCoords = new Set(sent.map((s) => coord(s.partition, s.offset)));
        for (const c of [...rowsBy.keys(), ...deadBy.keys()]) {
          if (!sentCoords.has(c)) problems.push(`output for ${c}, which was not sent`);
        }
        assert.equal(problems.length, 0, summary(problems));
      },
    );
    await t.step("cleaned stream, as the oracle decides (reason, field, values)", () => {
      const problems = checkCleaned(sent, rowsBy, deadBy, (s) => fromOracle(s.oracle));
      assert.equal(problems.length, 0, summary(problems));
    });
    await t.step(
      "dead letters keep the exact key bytes (key, or key_base64 when not UTF-8)",
      () => {
        assert.ok(deadColumns.includes("key_base64"), `dead-letter columns: ${deadColumns}`);
        const problems = checkDeadKeys(sent, deadBy);
        assert.equal(problems.length, 0, summary(problems));
      },
    );

    const { rows: rawRows, columns: rawColumns } = await exactRows(rawTable);
    await t.step(
      "raw stream: every record exactly once; text when UTF-8, else the exact bytes in key_bytes / value_bytes",
      () => {
        assert.ok(
          rawColumns.includes("key_bytes") && rawColumns.includes("value_bytes"),
          `orders_raw columns: ${rawColumns}`,
        );
        const problems = checkRaw(sent, rawRows);
        assert.equal(problems.length, 0, summary(problems));
      },
    );

    const dlq = await readCommitted(kafka, `${output}_dead_letters`);
    const out = await readCommitted(kafka, output);
    await t.step(
      "producer stream, as parseOrder decides: each invalid record once in the dead-letter topic, unchanged",
      () => {
        const problems = checkDeadLetterTopic(sent, dlq, topic, (s) => fromLib(s.lib));
        assert.equal(problems.length, 0, summary(problems));
      },
    );
    await t.step("producer stream, as the oracle decides: dlq.reason", () => {
      const problems = checkDeadLetterTopic(sent, dlq, topic, (s) => fromOracle(s.oracle));
      assert.equal(problems.length, 0, summary(problems));
    });
    const chicago = (o: { city: string | null } | undefined) => o?.city === "Chicago";
    await t.step(
      "producer stream output, as parseOrder decides: the valid Chicago orders, once each, unchanged",
      () => {
        const problems = checkOutput(
          sent,
          out,
          (s) => (s.lib.ok && chicago(s.lib.order) ? "must" : "no"),
        );
        assert.equal(problems.length, 0, summary(problems));
      },
    );
    await t.step("producer stream output, as the oracle decides", () => {
      const problems = checkOutput(sent, out, (s) => {
        const v = s.oracle;
        if (!v.accept.includes("ok") || !chicago(v.order)) return "no";
        return v.accept.length === 1 ? "must" : "may";
      });
      assert.equal(problems.length, 0, summary(problems));
    });
  } finally {
    await cleanup();
    const all = await withAdmin(kafka, (a) => a.listTopics());
    await deleteTopics(
      kafka,
      all.filter((n) => n === topic || n.startsWith(output) || n.startsWith(query)),
    );
  }
});

Deno.test("fuzz, end to end: a valid order at the 1 MiB limit does not stop the producer stream (published or dead-lettered, once)", async () => {
  // The input topic accepts 1 MiB orders (it must, for them to exist); the producer stream
  // creates its output topic with the broker's defaults (message.max.bytes 1,048,588 bytes, less
  // than a 1 MiB value plus its key and record overhead).
  const kafka = testKafka();
  const topic = uniqueName("fuzz-limit");
  const output = uniqueName("fuzz-limit-out");
  const query = `fuzz_limit_${crypto.randomUUID().slice(0, 8)}`;
  await createInput(kafka, topic);
  try {
    let big: FuzzRecord | undefined;
    for (let i = 2_000_000; big === undefined; i++) {
      const r = fuzzRecord(SEED, i, { kinds: ["at_limit"] });
      const v = judge(r.value);
      if (r.value!.length === LIMIT && v.outcome === "ok" && v.order!.city === "Chicago") big = r;
      assert.ok(i < 2_001_000, "no valid 1 MiB Chicago order in 1,000 tries");
    }
    const small = fuzzRecord(SEED, 0, { kinds: ["valid"] });
    const sent = await produceAll(kafka, topic, [small, big!, small]);
    assert.ok(sent.every((s) => s.lib.ok && s.oracle.outcome === "ok"));
    const run = await runProducerStream("kafka-producer-stream", [
      "--bootstrap-servers",
      bootstrapServers().join(","),
      "--topic",
      topic,
      "--output-topic",
      output,
      "--available-now",
      "--query-name",
      query,
      "--broker-timeout",
      "30",
    ]);
    assert.equal(run.code, 0, `the stream stopped on a valid order:\n${run.stderr.slice(-800)}`);
    const out = await readCommitted(kafka, output);
    const dlq = await readCommitted(kafka, `${output}_dead_letters`).catch(() => []);
    const isBig = (v: Uint8Array | null) => v !== null && v.length === LIMIT;
    const at = (d: TopicRecord) =>
      d.headers["dlq.partition"] === String(sent[1].partition) &&
      d.headers["dlq.offset"] === String(sent[1].offset);
    const placed = out.filter((o) => isBig(o.value)).length + dlq.filter(at).length;
    assert.equal(placed, 1, "the 1 MiB order is in the output or in the dead letters, once");
    const chicagoSmall = sent[0].oracle.order!.city === "Chicago" ? 2 : 0;
    assert.equal(out.filter((o) => !isBig(o.value)).length, chicagoSmall, "the orders around it");
  } finally {
    const all = await withAdmin(kafka, (a) => a.listTopics());
    await deleteTopics(
      kafka,
      all.filter((n) => n === topic || n.startsWith(output) || n.startsWith(query)),
    );
  }
});
