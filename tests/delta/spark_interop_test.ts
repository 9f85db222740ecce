/**
 * Interop with Apache Spark + delta-spark (`.cache/venv-spark`, `deno task py:setup`), both ways,
 * with ONE Spark run (tests/interop/spark_check.py, driven by a JSON manifest):
 *
 * 1. Tables our writer produces (every type with nulls; partitioned by string/date/int/boolean/
 *    timestamp with special characters and nulls, and by binary/timestamp_ntz/decimal/double/
 *    float/byte/short/long; overwrite removes; txn actions and a txn-only
 *    commit; a checkpoint with later commits; the orders_cleaned shape; the same table with the
 *    JSON commits before the checkpoint deleted; a table whose schema gained nullable columns by
 *    an ADD COLUMNS commit and by an append with mergeSchema) are read by Spark: schema, rows, COUNT(*),
 *    MIN/MAX (from our stats and by scanning), history, versionAsOf, txn versions.
 * 2. A table Spark writes (partitioned with special characters and nulls, checkpointInterval 3,
 *    deletion vectors off, DELETE/UPDATE/INSERT OVERWRITE, a txn) is read by our reader at every
 *    version and compared with what Spark reads; and one partitioned by binary, timestamp,
 *    timestamp_ntz, decimal, double, float, date and string (written in a non-UTC session zone).
 *
 * Expectations come from the Arrow tables we appended (canonical rows), not from our reader.
 * Without the Spark venv the test is ignored locally and fails when `CI` is set.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import * as arrow from "apache-arrow";
import {
  addColumns,
  append,
  createTable,
  history,
  type HistoryEntry,
  loadSnapshot,
  read,
} from "../../lib/delta/mod.ts";
import { schemaToString, toArrowSchema } from "../../lib/delta/schema.ts";
import { findCommitInfo, readCommit } from "../../lib/delta/log.ts";
import { openStorage } from "../../lib/storage/mod.ts";
import { binaryFromBytes } from "../../lib/arrow/columns.ts";
import { flattenOrders, type OrderRecord, parseOrder } from "../../lib/orders/mod.ts";
import { canonRows, sortRows, stableJson } from "../support/canon.ts";
import { ALL_TYPES_SCHEMA, allTypesTable, column, strings } from "../support/delta_fixtures.ts";
import { REPO_ROOT } from "../support/python.ts";
import { SPARK_CHECK_SCRIPT, sparkPythonPath, sparkUnavailableReason } from "../support/spark.ts";

const unavailable = await sparkUnavailableReason();
const inCI = !!Deno.env.get("CI");
if (unavailable && !inCI) {
  console.warn(`spark_interop_test: ignored locally (${unavailable})`);
}

// ---------------------------------------------------------------------------------------------
// Inputs written by our writer

type Rows = unknown[];
// deno-lint-ignore no-explicit-any
type Row = Record<string, any>;
type Filter = [string, (r: Row) => boolean, number?];

/** What one of our tables should look like to Spark. */
interface Expected {
  name: string;
  path: string;
  /** Canonical rows per version (only the versions Spark is asked about, plus latest). */
  rows: Map<number, Rows>;
  latest: number;
  /** Txn versions per version (appId → decimal text). */
  txns: Map<number, Record<string, string>>;
  /** Columns for MIN/MAX, with how to compare their canonical values. */
  aggregates: Record<string, "int" | "float" | "decimal" | "text">;
  /** The MIN/MAX columns Spark must answer from our stats alone (numbers and dates). */
  fromStats: string[];
  history: boolean;
  versions: number[];
  /**
   * SQL predicates with the same test on a canonical row: Spark's COUNT(*) must match; the third
   * element, when given, is how many files Spark may read (data skipping on our stats).
   */
  filters: Filter[];
  checkpointVersion?: number;
}

function boolData(values: Array<boolean | null>): arrow.Data<arrow.Bool> {
  const b = arrow.makeBuilder({ type: new arrow.Bool(), nullValues: [null] });
  for (const v of values) b.append(v);
  return b.finish().toVector().data[0];
}

function tableOf(schema: arrow.Schema, children: arrow.Data[]): arrow.Table {
  const length = children[0].length;
  return new arrow.Table(schema, [
    new arrow.RecordBatch(
      schema,
      arrow.makeData({ type: new arrow.Struct(schema.fields), length, nullCount: 0, children }),
    ),
  ]);
}

const PART_SCHEMA = new arrow.Schema([
  new arrow.Field("id", new arrow.Int64(), false),
  new arrow.Field("v", new arrow.Float64(), true),
  new arrow.Field("city", new arrow.Utf8(), true),
  new arrow.Field("day", new arrow.DateDay(), true),
  new arrow.Field("n", new arrow.Int32(), true),
  new arrow.Field("flag", new arrow.Bool(), true),
  new arrow.Field("pts", new arrow.TimestampMicrosecond("UTC"), true),
]);

const CITIES = ["a b", "50%", "x:y/z=w", "Zürich 東京", null, "plain", "q?#*'\"[]^{\\", "a b"];
const DAYS = [19844, null, -1, 0, 19844, 19844, 10000, null];
const NS = [1, 2, null, -7, 1, 1, 2147483647, 3];
const FLAGS = [true, false, null, true, true, true, false, null];
const PTS = [1714557600123456n, 0n, null, -1n, 1714557600123456n, 1714557600123456n, 1n, null];

/** Partitioned rows: ids[k] with the (offset + k)-th (mod 8) partition values. */
function partRows(ids: number[], offset = 0): arrow.Table {
  const at = <T>(xs: T[]) => ids.map((_, k) => xs[(offset + k) % xs.length]);
  return tableOf(PART_SCHEMA, [
    column(new arrow.Int64(), ids.map(BigInt), BigInt64Array),
    column(new arrow.Float64(), ids.map((i) => (i % 5 === 0 ? null : i * 1.5)), Float64Array),
    strings(at(CITIES)),
    column(new arrow.DateDay(), at(DAYS), Int32Array),
    column(new arrow.Int32(), at(NS), Int32Array),
    boolData(at(FLAGS)),
    column(new arrow.TimestampMicrosecond("UTC"), at(PTS), BigInt64Array),
  ]);
}

/** orders_cleaned rows for orders [from, to) of data/file1.json (Kafka partition 0). */
async function cleanedRows(from: number, to: number): Promise<arrow.Table> {
  const lines = (await Deno.readTextFile(join(REPO_ROOT, "data", "file1.json"))).split("\n");
  const records: OrderRecord[] = [];
  for (let i = from; i < to; i++) {
    const r = parseOrder(lines[i]);
    if (!r.ok) throw new Error(`data/file1.json line ${i + 1} is not a valid order`);
    records.push({ order: r.order, partition: i % 2, offset: String(i), timestampMs: 1.7e12 + i });
  }
  return flattenOrders(records, 1_764_000_000_123);
}

function rowsOf(tables: arrow.Table[]): Rows {
  return sortRows(tables.flatMap((t) => canonRows(t)));
}

async function writeOurTables(root: string): Promise<Expected[]> {
  const out: Expected[] = [];

  // A. Every supported type, nulls in every column; two appends (time travel to 1).
  {
    const path = join(root, "all_types");
    const t = await createTable(path, toArrowSchema(ALL_TYPES_SCHEMA));
    await t.append(allTypesTable());
    await t.append(allTypesTable());
    const one = canonRows(allTypesTable());
    out.push({
      name: "all_types",
      path,
      rows: new Map([[1, one], [2, sortRows([...one, ...one])]]),
      latest: 2,
      txns: new Map(),
      aggregates: { l: "int", i: "int", d: "float", f: "float", s: "text", ts: "int", dt: "text" },
      fromStats: ["l", "i", "d", "f", "dt"],
      history: true,
      versions: [1],
      filters: [
        ["l = 9007199254740993", (r) => r.l === "9007199254740993"],
        ["l = 9007199254740992", (r) => r.l === "9007199254740992"],
        ["i = 2147483647", (r) => r.i === "2147483647"],
        ["d = 1e300", (r) => r.d === 1e300],
        ["f = CAST(-1 AS FLOAT)", (r) => r.f === -1],
        ["s = 'é😀'", (r) => r.s === "é😀"],
        ["b = false", (r) => r.b === false],
        ["ts = TIMESTAMP_MICROS(1714557600123456)", (r) => r.ts === "1714557600123456"],
        ["ts = TIMESTAMP_MICROS(-1)", (r) => r.ts === "-1"],
        ["dt = DATE '1969-12-31'", (r) => r.dt === "1969-12-31"],
        ["st.x = 4", (r) => r.st?.x === "4"],
      ],
    });
  }

  // B. Partitioned by string (special characters, null), date, int, boolean and timestamp;
  // overwrite (removes), then an append.
  {
    const path = join(root, "partitioned");
    const t = await createTable(path, PART_SCHEMA, {
      partitionColumns: ["city", "day", "n", "flag", "pts"],
    });
    const b1 = partRows([1, 2, 3, 4, 5, 6, 7, 8]);
    const b2 = partRows([101, 102, 103, 104, 105]);
    const b3 = partRows([201, 202, 203], 5); // b2 + b3 hold every partition value
    await t.append(b1);
    await t.overwrite(b2);
    await t.append(b3);
    out.push({
      name: "partitioned",
      path,
      rows: new Map([[1, rowsOf([b1])], [2, rowsOf([b2])], [3, rowsOf([b2, b3])]]),
      latest: 3,
      txns: new Map(),
      aggregates: { id: "int", v: "float", day: "text", n: "int", pts: "int", city: "text" },
      fromStats: ["id", "v", "day", "n"],
      history: true,
      versions: [1, 2],
      filters: [
        ["city = 'x:y/z=w'", (r) => r.city === "x:y/z=w"],
        ["city = 'Zürich 東京'", (r) => r.city === "Zürich 東京"],
        ["startswith(city, 'q?#*')", (r) => r.city?.startsWith("q?#*") ?? false],
        ["city = '50%'", (r) => r.city === "50%"],
        ["city IS NULL", (r) => r.city === null],
        ["day = DATE '1969-12-31'", (r) => r.day === "1969-12-31"],
        ["day IS NULL", (r) => r.day === null],
        ["n = 2147483647", (r) => r.n === "2147483647"],
        ["flag = false", (r) => r.flag === false],
        ["flag IS NULL", (r) => r.flag === null],
        ["pts = TIMESTAMP '2024-05-01 10:00:00.123456'", (r) => r.pts === "1714557600123456"],
        ["pts = TIMESTAMP_MICROS(-1)", (r) => r.pts === "-1"],
        ["v > 100", (r) => r.v !== null && r.v > 100],
        ["id = 103", (r) => r.id === "103"],
      ],
    });
  }

  // C. orders_cleaned: txns every commit (one above 2^53), an overwrite at 4, a txn-only commit at
  // 10 (checkpoint), appends 11..13.
  {
    const path = join(root, "orders_cleaned");
    const t = await createTable(path, (await cleanedRows(0, 1)).schema, {
      name: "orders_cleaned",
      description: "Valid orders, one row per line item, with Kafka lineage (silver)",
    });
    let live: arrow.Table[] = [];
    const txns: Record<string, string> = {};
    const rows = new Map<number, Rows>();
    const txnsAt = new Map<number, Record<string, string>>();
    for (let v = 1; v <= 13; v++) {
      if (v === 10) {
        await t.commitTxns({ "orders-q-0": 10, "seed": 5 });
        txns["orders-q-0"] = "10";
        txns["seed"] = "5";
      } else {
        const batch = await cleanedRows(v * 20, v * 20 + 20);
        const big = 9_007_199_254_740_993n + BigInt(v);
        const opts = { txns: { "orders-q-0": v, "big": big } };
        if (v === 4) {
          await t.overwrite(batch, opts);
          live = [batch];
        } else {
          await t.append(batch, opts);
          live.push(batch);
        }
        txns["orders-q-0"] = String(v);
        txns["big"] = String(big);
      }
      rows.set(v, rowsOf(live));
      txnsAt.set(v, { ...txns });
    }
    const versions = [3, 4, 10, 12];
    const pick = rows.get(13)![7] as Row;
    // Each commit holds a disjoint range of orders and Kafka times: one file may match.
    const orderFilters: Filter[] = [
      [`order_id = ${pick.order_id}`, (r) => r.order_id === pick.order_id, 1],
      [
        `kafka_timestamp = TIMESTAMP_MICROS(${pick.kafka_timestamp})`,
        (r) => r.kafka_timestamp === pick.kafka_timestamp,
        1,
      ],
      [`price = CAST('${pick.price}' AS DOUBLE)`, (r) => r.price === pick.price],
      [`price = ${pick.price}`, (r) => r.price === pick.price],
      // No price reaches 100,000: our decimal max lets Spark skip every file.
      ["price > 99999.99", (r) => Number(r.price) > 99999.99, 0],
      [`state = '${pick.state}'`, (r) => r.state === pick.state],
      ["customer_fname IS NULL", (r) => r.customer_fname === null],
    ];
    out.push({
      name: "orders_cleaned",
      path,
      rows,
      latest: 13,
      txns: txnsAt,
      aggregates: {
        order_id: "int",
        quantity: "int",
        price: "decimal",
        subtotal: "decimal",
        kafka_offset: "int",
        kafka_timestamp: "int",
        state: "text",
      },
      // Spark answers MIN/MAX of decimals (money is decimal(12,2)) by scanning, never from stats
      // (OptimizeMetadataOnlyDeltaQuery leaves DecimalType out); the filters below show it skips
      // files by our decimal stats.
      fromStats: ["order_id", "quantity", "kafka_offset"],
      history: true,
      versions,
      checkpointVersion: 10,
      filters: orderFilters,
    });

    // D. The same table with the JSON commits the checkpoint covers deleted: our checkpoint alone.
    const copy = join(root, "orders_cleaned_checkpoint_only");
    const cp = await new Deno.Command("cp", { args: ["-r", path, copy] }).output();
    assert.equal(cp.code, 0, "cp -r failed");
    for (let v = 0; v <= 9; v++) {
      await Deno.remove(join(copy, "_delta_log", `${String(v).padStart(20, "0")}.json`));
    }
    out.push({
      name: "orders_cleaned_checkpoint_only",
      path: copy,
      rows,
      latest: 13,
      txns: txnsAt,
      aggregates: { order_id: "int", kafka_timestamp: "int" },
      fromStats: ["order_id"],
      history: false,
      versions: [10],
      checkpointVersion: 10,
      filters: orderFilters,
    });
  }

  // E. Schema evolution (orders_raw / orders_dead_letters gaining columns): a nullable binary
  // column added by a metaData-only ADD COLUMNS commit, then an int column added by an append
  // with mergeSchema. Older files read the new columns as null; time travel sees the old schema.
  {
    const path = join(root, "evolved");
    const v1 = new arrow.Schema([
      new arrow.Field("id", new arrow.Int64(), false),
      new arrow.Field("s", new arrow.Utf8(), true),
    ]);
    const v2 = new arrow.Schema([...v1.fields, new arrow.Field("b", new arrow.Binary(), true)]);
    const v3 = new arrow.Schema([...v2.fields, new arrow.Field("n", new arrow.Int32(), true)]);
    const ids = (xs: bigint[]) => column(new arrow.Int64(), xs, BigInt64Array);
    const t = await createTable(path, v1);
    const r1 = tableOf(v1, [ids([1n, 2n]), strings(["a", null])]);
    await t.append(r1); // 1
    await addColumns(path, v2); // 2
    const r3 = tableOf(v2, [
      ids([3n, 4n]),
      strings(["c", "d"]),
      binaryFromBytes([new Uint8Array([0xff, 0x00, 0xfe]), null]),
    ]);
    await t.append(r3); // 3
    const r4 = tableOf(v3, [
      ids([5n, 6n]),
      strings([null, "f"]),
      binaryFromBytes([null, new Uint8Array(0)]),
      column(new arrow.Int32(), [7, null], Int32Array),
    ]);
    await append(path, r4, { mergeSchema: true }); // 4
    const widen = (rows: Rows, cols: string[]) =>
      rows.map((r) => ({ ...Object.fromEntries(cols.map((c) => [c, null])), ...(r as Row) }));
    const one = canonRows(r1);
    out.push({
      name: "evolved",
      path,
      rows: new Map([
        [1, one],
        [2, sortRows(widen(one, ["b"]))],
        [3, sortRows(widen([...one, ...canonRows(r3)], ["b"]))],
        [4, sortRows(widen([...one, ...canonRows(r3), ...canonRows(r4)], ["b", "n"]))],
      ]),
      latest: 4,
      txns: new Map(),
      aggregates: { id: "int", n: "int" },
      fromStats: ["id"], // older files have no stats for n: Spark scans for it
      history: true,
      versions: [1, 2, 3],
      filters: [
        ["b IS NULL", (r) => r.b === null],
        ["b = X'FF00FE'", (r) => r.b === "ff00fe"],
        ["n = 7", (r) => r.n === "7"],
        ["n IS NULL", (r) => r.n === null],
      ],
    });
  }

  // F. Partitioned by the types B lacks: binary, timestamp_ntz, decimal, double, float, byte,
  // short and long (values Spark writes in another form: -0.0, 1.0E20, 1.4E-45, Infinity, NaN).
  {
    const path = join(root, "partition_types");
    const t = await createTable(path, PART_TYPES_SCHEMA, {
      partitionColumns: ["b", "ntz", "dec", "dbl", "flt", "by", "sh", "big"],
    });
    const rows = partTypeRows();
    await t.append(rows);
    out.push({
      name: "partition_types",
      path,
      rows: new Map([[1, rowsOf([rows])]]),
      latest: 1,
      txns: new Map(),
      aggregates: { id: "int" },
      fromStats: ["id"],
      history: true,
      versions: [],
      filters: [
        // Spark prunes by our partition values: one file each.
        ["b = X'68656C6C6F'", (r) => r.b === "68656c6c6f", 1],
        ["b IS NULL", (r) => r.b === null, 1],
        [
          "ntz = TIMESTAMP_NTZ '2024-05-01 10:00:00.000005'",
          (r) => r.ntz === "1714557600000005",
          1,
        ],
        ["dec = -12.500", (r) => r.dec === "-12.500", 1],
        ["dbl = CAST('1.0E20' AS DOUBLE)", (r) => r.dbl === 1e20, 1],
        ["isnan(dbl)", (r) => r.dbl === "nan", 1],
        ["flt = CAST('1.4E-45' AS FLOAT)", (r) => r.flt === Math.fround(1.4e-45), 1],
        ["flt = CAST('Infinity' AS FLOAT)", (r) => r.flt === "inf", 1],
        ["by = -128", (r) => r.by === "-128", 1],
        ["big = 9007199254740993", (r) => r.big === "9007199254740993", 1],
      ],
    });
  }
  return out;
}

const PART_TYPES_SCHEMA = new arrow.Schema([
  new arrow.Field("id", new arrow.Int64(), false),
  new arrow.Field("b", new arrow.Binary(), true),
  new arrow.Field("ntz", new arrow.TimestampMicrosecond(), true),
  new arrow.Field("dec", new arrow.Decimal(3, 10, 128), true),
  new arrow.Field("dbl", new arrow.Float64(), true),
  new arrow.Field("flt", new arrow.Float32(), true),
  new arrow.Field("by", new arrow.Int8(), true),
  new arrow.Field("sh", new arrow.Int16(), true),
  new arrow.Field("big", new arrow.Int64(), true),
]);

function decimalData(xs: Array<bigint | null>): arrow.Data {
  const w = new Uint32Array(4 * xs.length);
  xs.forEach((x, i) => {
    const u = BigInt.asUintN(128, x ?? 0n);
    for (let k = 0; k < 4; k++) w[4 * i + k] = Number((u >> BigInt(32 * k)) & 0xffffffffn);
  });
  const valid = boolData(xs.map((x) => x !== null)).values as Uint8Array;
  return arrow.makeData({
    type: new arrow.Decimal(3, 10, 128),
    length: xs.length,
    nullCount: xs.filter((x) => x === null).length,
    nullBitmap: valid,
    data: w,
  } as never) as arrow.Data;
}

/** Rows for table F: one partition per row (each partition column differs on every row). */
function partTypeRows(): arrow.Table {
  const enc = new TextEncoder();
  return tableOf(PART_TYPES_SCHEMA, [
    column(new arrow.Int64(), [1n, 2n, 3n, 4n], BigInt64Array),
    binaryFromBytes([enc.encode("hello"), enc.encode("é/%= 東"), null, new Uint8Array([1, 2])]),
    column(
      new arrow.TimestampMicrosecond(),
      [1714557600000005n, 0n, null, -1n],
      BigInt64Array,
    ),
    decimalData([-12500n, 1n, null, 123456789n]),
    column(new arrow.Float64(), [-0, 1e20, null, NaN], Float64Array),
    column(
      new arrow.Float32(),
      [Math.fround(0.1), Math.fround(1.4e-45), null, Infinity],
      Float32Array,
    ),
    column(new arrow.Int8(), [-128, 127, null, 0], Int8Array),
    column(new arrow.Int16(), [-32768, 32767, null, 1], Int16Array),
    column(
      new arrow.Int64(),
      [-(1n << 63n), 9007199254740993n, null, 1n],
      BigInt64Array,
    ),
  ]);
}

// ---------------------------------------------------------------------------------------------
// Spark's answers

interface SparkHistory {
  version: number;
  timestamp: number | null;
  operation: string;
  operationParameters: Record<string, string>;
  readVersion: number | null;
  isBlindAppend: boolean | null;
  operationMetrics: Record<string, string>;
}

interface SparkSnapshot {
  version: number;
  txns: Record<string, string>;
  checkpointVersion: number | null;
  numFiles: number;
  protocol: string;
  partitionColumns: string[];
  configuration: Record<string, string>;
}

interface SparkAggregates {
  count: string;
  countFromMetadata: boolean;
  columns: Record<string, { min: unknown; max: unknown; fromMetadata: boolean }>;
}

interface SparkRead {
  errors?: Record<string, string>;
  schema?: { fields: Array<{ name: string; type: unknown; nullable: boolean }> };
  rows?: Rows;
  snapshot?: SparkSnapshot;
  aggregates?: SparkAggregates;
  aggregatesScan?: SparkAggregates;
  history?: SparkHistory[];
  filters?: Record<string, { count: string; filesRead: number }>;
  timestampVersions?: Record<string, number | string>;
  versions: Record<
    string,
    { errors?: Record<string, string>; rows?: Rows; snapshot?: SparkSnapshot }
  >;
  seconds: number;
}

interface SparkWritten {
  path: string;
  errors?: Record<string, string>;
  steps: Array<{ step: string; seconds: number }>;
  snapshot?: SparkSnapshot;
  history?: SparkHistory[];
  schema?: unknown;
  versions: Record<string, { errors?: Record<string, string>; rows?: Rows }>;
}

interface SparkResult {
  startupSeconds: number;
  sparkVersion: string;
  deltaSparkVersion: string;
  read: Record<string, SparkRead>;
  written?: Record<string, SparkWritten>;
  writeSeconds?: number;
  totalSeconds: number;
  fatal?: string;
}

async function runSpark(manifest: unknown, dir: string): Promise<SparkResult> {
  const file = join(dir, "manifest.json");
  await Deno.writeTextFile(file, JSON.stringify(manifest));
  const out = await new Deno.Command(sparkPythonPath(), {
    args: [SPARK_CHECK_SCRIPT, file],
    env: { SPARK_LOCAL_IP: "127.0.0.1" },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder().decode(out.stdout).trim();
  const stderr = new TextDecoder().decode(out.stderr);
  const last = text.split("\n").at(-1) ?? "";
  if (out.code !== 0 || !last.startsWith("{")) {
    throw new Error(`spark_check.py failed (exit ${out.code}):\n${stderr.slice(-4000)}`);
  }
  // Set SPARK_INTEROP_OUT=<file> to keep Spark's full answer for debugging.
  const keep = Deno.env.get("SPARK_INTEROP_OUT");
  if (keep) await Deno.writeTextFile(keep, last);
  const result = JSON.parse(last) as SparkResult;
  if (result.fatal) throw new Error(`spark_check.py: ${result.fatal}`);
  return result;
}

// ---------------------------------------------------------------------------------------------
// Comparisons

function same(actual: Rows | undefined, expected: Rows, what: string) {
  assert.ok(actual, `${what}: Spark returned no rows`);
  assert.equal(actual.length, expected.length, `${what}: row count`);
  assert.deepEqual(sortRows(actual).map(stableJson), expected.map(stableJson), what);
}

function noErrors(errors: Record<string, string> | undefined, what: string) {
  assert.deepEqual(errors ?? {}, {}, `${what}: Spark errors`);
}

function minMax(rows: Rows, col: string, kind: "int" | "float" | "decimal" | "text") {
  const vals = rows.map((r) => (r as Record<string, unknown>)[col]).filter((v) => v !== null);
  if (vals.length === 0) return { min: null, max: null };
  const cmp = (a: unknown, b: unknown) => {
    if (kind === "int") return BigInt(a as string) < BigInt(b as string) ? -1 : 1;
    if (kind === "float") return (a as number) - (b as number);
    // Decimals are exact text ("367.16"); money's cents order the same as their doubles.
    if (kind === "decimal") return Number(a) - Number(b);
    // Spark orders strings by UTF-8 bytes = code points.
    const x = [...(a as string)].map((c) => c.codePointAt(0)!);
    const y = [...(b as string)].map((c) => c.codePointAt(0)!);
    for (let i = 0; i < Math.min(x.length, y.length); i++) if (x[i] !== y[i]) return x[i] - y[i];
    return x.length - y.length;
  };
  const sorted = [...vals].sort(cmp);
  return { min: sorted[0], max: sorted.at(-1) };
}

function compareHistory(spark: SparkHistory[], ours: HistoryEntry[], what: string) {
  const byVersion = new Map(ours.map((h) => [h.version, h]));
  assert.deepEqual(
    spark.map((h) => h.version),
    [...byVersion.keys()].sort((a, b) => a - b),
    `${what}: history versions`,
  );
  for (const h of spark) {
    const o = byVersion.get(h.version)!;
    const w = `${what}: history v${h.version}`;
    assert.equal(h.operation, o.operation, `${w} operation`);
    assert.deepEqual(h.operationParameters, o.operationParameters, `${w} operationParameters`);
    assert.equal(h.readVersion ?? undefined, o.readVersion, `${w} readVersion`);
    assert.equal(h.isBlindAppend ?? undefined, o.isBlindAppend, `${w} isBlindAppend`);
    assert.equal(
      h.operationMetrics.numOutputRows,
      o.operationMetrics.numOutputRows,
      `${w} numOutputRows`,
    );
  }
}

function maxTimestampGap(spark: SparkHistory[], ours: HistoryEntry[]): number {
  const byVersion = new Map(ours.map((h) => [h.version, h.timestamp]));
  return Math.max(0, ...spark.map((h) => Math.abs((h.timestamp ?? 0) - byVersion.get(h.version)!)));
}

// ---------------------------------------------------------------------------------------------

Deno.test({
  name: "Spark + delta-spark read our tables, and we read Spark's (one Spark run)",
  ignore: !!unavailable && !inCI,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn(t) {
    if (unavailable) {
      assert.fail(`CI is set but Spark interop cannot run: ${unavailable}`);
    }
    const started = performance.now();
    const dir = await Deno.makeTempDir({ prefix: "spark-interop-" });
    try {
      const ours = await writeOurTables(join(dir, "ours"));
      const sparkRoot = join(dir, "spark");
      await Deno.mkdir(sparkRoot);
      const ourHistory = new Map<string, HistoryEntry[]>();
      for (const e of ours) if (e.history) ourHistory.set(e.name, await history(e.path));
      const manifest = {
        read: ours.map((e) => ({
          name: e.name,
          path: e.path,
          versions: e.versions,
          aggregates: Object.keys(e.aggregates),
          history: e.history,
          filters: e.filters.map(([sql]) => sql),
          timestamps: (ourHistory.get(e.name) ?? []).map((h) => h.timestamp),
        })),
        write: { root: sparkRoot },
      };
      const spark = await runSpark(manifest, dir);

      for (const e of ours) {
        await t.step(`Spark reads our ${e.name}`, async () => {
          const r = spark.read[e.name];
          assert.ok(r, `no Spark result for ${e.name}`);
          noErrors(r.errors, e.name);
          const expected = e.rows.get(e.latest)!;
          same(r.rows, expected, `${e.name} latest rows`);
          // Schema: Spark's DataFrame schema equals the schema in our log.
          const snap = await loadSnapshot(openStorage(e.path));
          assert.deepEqual(r.schema, JSON.parse(schemaToString(snap.schema)), `${e.name} schema`);
          assert.equal(r.snapshot!.version, e.latest, `${e.name} version`);
          assert.equal(r.snapshot!.numFiles, snap.files.length, `${e.name} live files`);
          assert.deepEqual(r.snapshot!.partitionColumns, snap.partitionColumns);
          assert.deepEqual(r.snapshot!.txns, e.txns.get(e.latest) ?? {}, `${e.name} txns`);
          if (e.checkpointVersion !== undefined) {
            assert.equal(
              r.snapshot!.checkpointVersion,
              e.checkpointVersion,
              `${e.name} checkpoint`,
            );
          }
          // COUNT(*) and MIN/MAX: as Spark answers them (maybe from our stats) and by scanning.
          for (
            const [label, agg] of [["stats", r.aggregates], ["scan", r.aggregatesScan]] as const
          ) {
            assert.ok(agg, `${e.name}: no ${label} aggregates`);
            assert.equal(agg.count, String(expected.length), `${e.name} COUNT(*) (${label})`);
            for (const [col, kind] of Object.entries(e.aggregates)) {
              assert.deepEqual(
                { min: agg.columns[col].min, max: agg.columns[col].max },
                minMax(expected, col, kind),
                `${e.name} MIN/MAX(${col}) (${label})`,
              );
            }
          }
          const fromStats = Object.entries(r.aggregates!.columns).filter(([, c]) => c.fromMetadata)
            .map(([k]) => k);
          console.log(
            `  ${e.name}: COUNT(*) from metadata: ${r.aggregates!.countFromMetadata}; ` +
              `MIN/MAX from metadata: [${fromStats.join(", ")}]`,
          );
          assert.equal(r.aggregates!.countFromMetadata, true, `${e.name}: COUNT(*) from our stats`);
          assert.deepEqual(
            fromStats,
            e.fromStats,
            `${e.name}: MIN/MAX Spark answers from our stats`,
          );
          const h = ourHistory.get(e.name) ?? [];
          if (e.history) {
            compareHistory(r.history!, h, e.name);
            console.log(
              `  ${e.name}: history matches; commit time gap Spark vs ours ≤ ` +
                `${maxTimestampGap(r.history!, h)} ms`,
            );
          }
          // Filtered counts: Spark skips files by our stats (a wrong bound loses rows).
          for (const [sql, pred, maxFiles] of e.filters) {
            assert.equal(
              r.filters?.[sql]?.count,
              String(expected.filter((x) => pred(x as Row)).length),
              `${e.name}: COUNT(*) WHERE ${sql}`,
            );
            if (maxFiles !== undefined) {
              assert.ok(
                r.filters![sql].filesRead <= maxFiles,
                `${e.name}: WHERE ${sql} read ${r.filters![sql].filesRead} of ` +
                  `${snap.files.length} files (our stats should let Spark skip)`,
              );
            }
          }
          // Timestamp travel: the version Spark picks at each of our commit times.
          const differ = h.filter((x) => r.timestampVersions?.[String(x.timestamp)] !== x.version)
            .map((x) => `v${x.version}→${r.timestampVersions?.[String(x.timestamp)]}`);
          if (h.length > 0) {
            console.log(
              `  ${e.name}: timestampAsOf our commit times: Spark picks another version for ` +
                `${differ.length}/${h.length} [${differ.join(", ")}]`,
            );
          }
          // Time travel.
          for (const v of e.versions) {
            const one = r.versions[String(v)];
            noErrors(one.errors, `${e.name}@${v}`);
            same(one.rows, e.rows.get(v)!, `${e.name} versionAsOf ${v}`);
            assert.deepEqual(one.snapshot!.txns, e.txns.get(v) ?? {}, `${e.name}@${v} txns`);
          }
        });
      }

      const w = spark.written?.spark_part;
      await t.step("we read Spark's partitioned table at every version", async () => {
        assert.ok(w, "Spark wrote no table");
        noErrors(w.errors, "spark_part");
        const snap = await loadSnapshot(openStorage(w.path));
        assert.equal(snap.version, w.snapshot!.version, "latest version");
        assert.ok(w.snapshot!.version >= 8, "Spark made every commit");
        assert.equal(snap.checkpointVersion, w.snapshot!.checkpointVersion, "checkpoint used");
        assert.ok((snap.checkpointVersion ?? 0) > 0, "Spark wrote a checkpoint");
        assert.deepEqual(snap.partitionColumns, w.snapshot!.partitionColumns);
        assert.equal(snap.files.length, w.snapshot!.numFiles, "live files");
        assert.deepEqual(
          Object.fromEntries([...snap.txns].map(([k, x]) => [k, String(x.version)])),
          w.snapshot!.txns,
        );
        assert.equal(String(snap.txnVersion("spark-app")), "42");
        assert.deepEqual(JSON.parse(schemaToString(snap.schema)), w.schema, "schema");
        let removes = 0;
        for (const [v, one] of Object.entries(w.versions)) {
          noErrors(one.errors, `spark_part@${v}`);
          const mine = canonRows(await read(w.path, { version: Number(v) }));
          same(mine, sortRows(one.rows!), `spark_part versionAsOf ${v}: our rows vs Spark's`);
          const s = await loadSnapshot(openStorage(w.path), { version: Number(v) });
          removes = Math.max(removes, s.tombstones.length);
        }
        assert.ok(removes > 0, "Spark's table has removes");
        // Without the checkpoint (JSON replay from 0) the latest state is the same.
        const noCp = canonRows(await read(w.path, { useCheckpoints: false }));
        same(
          noCp,
          sortRows(w.versions[String(w.snapshot!.version)].rows!),
          "replay without checkpoint",
        );
        const h = await history(w.path);
        compareHistory(w.history!, h, "spark_part");
        for (const x of w.history!) {
          const at = await loadSnapshot(openStorage(w.path), { timestamp: x.timestamp! });
          assert.equal(at.version, x.version, `timestampAsOf Spark's time of v${x.version}`);
        }
        console.log(
          `  spark_part: ${Object.keys(w.versions).length} versions, protocol ${
            w.snapshot!.protocol
          }, ` +
            `history gap ≤ ${maxTimestampGap(w.history!, h)} ms`,
        );
      });

      const types = spark.written?.spark_types;
      await t.step(
        "we read Spark's partition values of every type (binary, timestamps…)",
        async () => {
          assert.ok(types, "Spark wrote no spark_types table");
          noErrors(types.errors, "spark_types");
          const snap = await loadSnapshot(openStorage(types.path));
          assert.deepEqual(snap.partitionColumns, ["b", "ts", "ntz", "d", "dt", "s", "f", "fl"]);
          const sparkRows = sortRows(types.versions["0"].rows!);
          const mine = canonRows(await read(types.path));
          same(mine, sparkRows, "spark_types: our rows vs Spark's");
          // Exact values, independent of either reader: Spark stores binary as UTF-8 text (the
          // invalid 0xFF as U+FFFD), timestamps as UTC whatever the session zone.
          const byId = new Map((mine as Row[]).map((r) => [r.id, r]));
          assert.equal(byId.get("1")!.b, "68656c6c6f");
          assert.equal(byId.get("2")!.b, "01efbfbdc3a92f25");
          assert.equal(byId.get("4")!.b, null, "empty bytes are written as null");
          assert.equal(byId.get("1")!.ts, "1714557600123456");
          assert.equal(byId.get("2")!.ts, "-1000000");
          assert.equal(byId.get("1")!.ntz, "1714557600000005");
          assert.equal(byId.get("4")!.ntz, "1714521600100000");
          assert.equal(byId.get("1")!.d, "-12.500");
          assert.equal(byId.get("2")!.dt, "0001-01-01");
          assert.equal(byId.get("4")!.s, "x:y?#*'\"[]^{\\\t");
          assert.equal(byId.get("2")!.s, null);
          assert.ok(Object.is(byId.get("4")!.f, -0));
          assert.equal(byId.get("4")!.fl, Math.fround(1e20));
        },
      );

      const total = (performance.now() - started) / 1000;
      console.log(
        `  Spark ${spark.sparkVersion} + delta-spark ${spark.deltaSparkVersion}: start-up ` +
          `${spark.startupSeconds} s, Spark run ${spark.totalSeconds} s (reads ` +
          Object.values(spark.read).map((r) => r.seconds).join("+") +
          ` s, writes ${spark.writeSeconds} s), whole test ${total.toFixed(1)} s`,
      );
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test("commitInfo.timestamp is taken after the data files are written; history uses the commit file's mtime, as Spark", async () => {
  const dir = await Deno.makeTempDir({ prefix: "spark-interop-ts-" });
  try {
    const t = await createTable(dir, (await cleanedRows(0, 1)).schema);
    const w = await t.append(await cleanedRows(0, 1000));
    const info = findCommitInfo(await readCommit(openStorage(dir), w.version))!;
    const [entry] = await history(dir, { limit: 1 });
    assert.equal(entry.version, w.version);
    const commitMtime =
      (await Deno.stat(join(dir, "_delta_log", `${String(w.version).padStart(20, "0")}.json`)))
        .mtime!.getTime();
    assert.equal(entry.timestamp, commitMtime, "history shows the commit file's mtime");
    for (const f of w.files) {
      const mtime = (await Deno.stat(join(dir, f.path))).mtime!.getTime();
      // Our clock against our clock, the file system's against the file system's.
      assert.ok(info.timestamp! >= f.modificationTime, "commitInfo time before the add's time");
      assert.ok(entry.timestamp >= mtime, "commit file older than the data file");
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
