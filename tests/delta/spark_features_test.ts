/**
 * Our writer on tables with the writer features Databricks turns on (deletion vectors, change
 * data feed, in-commit timestamps, liquid clustering + domain metadata, column mapping, row
 * tracking), against Apache Spark + delta-spark and delta-rs, with ONE Spark run
 * (tests/interop/spark_features.py):
 *
 * 1. Spark creates each table with the feature on and inserts orders_cleaned rows (a staging
 *    table our writer made); on the deletion-vector tables it deletes rows, so a file has a DV;
 *    on the column-mapping (name mode) table it renames a column to a name only column mapping
 *    allows.
 * 2. Our writer appends orders_cleaned rows to each (on the id-mode table with a new struct
 *    column: schema evolution gives it fresh ids); on the DV, column-mapping and row-tracking
 *    tables it writes a checkpoint and runs OPTIMIZE (a file with a DV rewritten without its
 *    deleted rows; column-mapped files under physical names and field ids; row-tracked rows
 *    keeping their row ids in the materialized columns). Generated and identity columns must be
 *    refused with their one-line message.
 * 3. Spark reads every row (latest, and the checkpointed version), the change feed (our append
 *    is inserts, our OPTIMIZE no change), the history (our in-commit timestamps) and the row ids
 *    and row commit versions (distinct, ours at our version, unchanged by our OPTIMIZE); then
 *    Spark writes again (INSERT, and OPTIMIZE on clustered tables) and reads again.
 * 4. delta-rs and our reader read the final tables.
 *
 * CHECK constraints: Spark adds them (ALTER TABLE … ADD CONSTRAINT) to an orders_cleaned table;
 * our plain append of a violating row is refused whole, naming the constraint; the cleaned
 * stream's sink dead-letters the orders whose rows violate one; Spark reads exactly the good rows
 * and writes after us. A probe table tells what Spark does with a NULL and a FALSE result, and our
 * writer must do the same. A constraint outside our SQL subset is refused by name.
 *
 * Expectations come from the Arrow tables we wrote (canonical rows), not from any reader.
 * Without the Spark venv the test is ignored locally and fails when `CI` is set.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import * as arrow from "apache-arrow";
import {
  type AddAction,
  append,
  checkpointStateOf,
  createTable,
  loadSnapshot,
  optimize,
  parquetSchema,
  read,
  readCommit,
  type RemoveAction,
  UnsupportedFeatureError,
  writeCheckpoint,
} from "../../lib/delta/mod.ts";
import { openStorage } from "../../lib/storage/mod.ts";
import { flattenOrders, type OrderRecord, parseOrder } from "../../lib/orders/mod.ts";
import { cleanedSink } from "../../lib/orders/sinks.ts";
import { writeBatch } from "../../lib/engine/writer.ts";
import { ConstraintViolationError } from "../../lib/delta/errors.ts";
import { canonRows, sortRows, stableJson } from "../support/canon.ts";

import { deltalakeAvailable, REPO_ROOT } from "../support/python.ts";
import { sparkUnavailableReason, startSparkDialogue } from "../support/spark.ts";
import { deltaRsRows } from "../interop/_deltalake.ts";
import { testBackend } from "../support/storage_backends.ts";

const SCRIPT = join(REPO_ROOT, "tests", "interop", "spark_features.py");
const unavailable = await sparkUnavailableReason();
const inCI = !!Deno.env.get("CI");
if (unavailable && !inCI) console.warn(`spark_features_test: ignored locally (${unavailable})`);

// deno-lint-ignore no-explicit-any
type Row = Record<string, any>;

const rowsOf = (t: arrow.Table) => canonRows(t) as Row[];

/** orders_cleaned rows for orders [from, to) of data/file1.json (each changed by `edit`). */
async function cleanedRows(
  from: number,
  to: number,
  edit?: (o: OrderRecord["order"]) => void,
): Promise<arrow.Table> {
  const lines = (await Deno.readTextFile(join(REPO_ROOT, "data", "file1.json"))).split("\n");
  const records: OrderRecord[] = [];
  for (let i = from; i < to; i++) {
    const r = parseOrder(lines[i]);
    if (!r.ok) throw new Error(`data/file1.json line ${i + 1} is not a valid order`);
    edit?.(r.order);
    records.push({ order: r.order, partition: i % 2, offset: String(i), timestampMs: 1.7e12 + i });
  }
  return flattenOrders(records, 1_764_000_000_123);
}

const QTY_RANGE = "quantity > 0 AND quantity < 100";

/**
 * The cleaned stream's sink on Spark's constraint table: orders 50..59 of data/file1.json as
 * Kafka records of partition 7 (order 52 gets a line item of quantity 150, order 55 the state
 * XX); returns the rows it must have added (lineage included, ingested_at 0).
 */
async function sinkOnConstraints(path: string, deadLetters: string): Promise<Row[]> {
  const lines = (await Deno.readTextFile(join(REPO_ROOT, "data", "file1.json"))).split("\n");
  const values: Uint8Array[] = [];
  const good: OrderRecord[] = [];
  for (let i = 50; i < 60; i++) {
    const o = JSON.parse(lines[i]);
    if (i === 52) {
      o.line_items.push({ ...o.line_items[0], order_item_quantity: 150 });
      const added = o.line_items.at(-1);
      added.order_item_subtotal = Math.round(added.order_item_product_price * 15000) / 100;
    }
    if (i === 55) o.state = "XX";
    const text = JSON.stringify(o);
    values.push(new TextEncoder().encode(text));
    const r = parseOrder(text);
    assert.ok(r.ok, `order ${i} is valid`);
    if (i !== 52 && i !== 55) {
      good.push({ order: r.order, partition: 7, offset: String(i - 50), timestampMs: 1.7e12 + i });
    }
  }
  const sink = await cleanedSink(path, deadLetters);
  const result = await writeBatch(sink, [{
    topic: "t",
    partition: 7,
    timestampType: 0,
    messages: values.map((value, k) => ({
      key: null,
      value,
      offset: String(k),
      timestamp: String(1.7e12 + 50 + k),
    })),
  }], {
    query: "q",
    topic: "t",
    batchId: 0,
    seq: 1,
    partitions: [{ partition: 7, end: 10n, from: [0n, 0n], stored: [undefined, undefined] }],
  });
  assert.ok(result.ok, "the sink's batch committed");
  assert.deepEqual(result.deadLetterReasons, { constraint_violated: 2 });
  const dead = rowsOf(await read(deadLetters));
  assert.deepEqual(dead.map((r) => Number(r.offset)).sort(), [2, 5]);
  assert.ok(
    dead.some((r) =>
      r.error ===
        `CHECK constraint qty_range (${QTY_RANGE}) violated by row with values: quantity : 150`
    ),
    JSON.stringify(dead.map((r) => r.error)),
  );
  return rowsOf(flattenOrders(good, 0));
}

const DELETE = "item_id % 3 = 0";
const deleted = (r: Row) => Number(r.item_id) % 3 === 0;

interface Spec {
  name: string;
  properties?: Record<string, string>;
  clusterBy?: string[];
  delete?: string;
  extraColumns?: string[];
  /** Spark's PARTITIONED BY columns. */
  partitionBy?: string[];
  /** Columns Spark renames after its insert (column mapping): old → new name. */
  rename?: Record<string, string>;
  /** Our append adds the nullable struct column `extra` (mergeSchema). */
  addColumn?: boolean;
  /** Our writer checkpoints and runs OPTIMIZE after its append. */
  optimize?: boolean;
  /** Spark reads `_metadata.row_id` and `_metadata.row_commit_version`. */
  rowTracking?: boolean;
  /** For refused tables: the message our append must fail with. */
  refused?: RegExp;
  /** CHECK constraints Spark adds (name → SQL). */
  constraints?: Record<string, string>;
  /** Spark inserts no rows (a table our writer must refuse). */
  empty?: boolean;
}

const SPECS: Spec[] = [
  { name: "dv", properties: { "delta.enableDeletionVectors": "true" }, delete: DELETE },
  { name: "cdf", properties: { "delta.enableChangeDataFeed": "true" } },
  { name: "ict", properties: { "delta.enableInCommitTimestamps": "true" } },
  { name: "clustered", clusterBy: ["customer_id"] },
  {
    name: "databricks",
    properties: {
      "delta.enableDeletionVectors": "true",
      "delta.enableChangeDataFeed": "true",
      "delta.enableInCommitTimestamps": "true",
    },
    clusterBy: ["customer_id"],
    delete: DELETE,
  },
  {
    name: "constraints",
    constraints: {
      qty_range: QTY_RANGE,
      known_state: "state IS NULL OR state NOT IN ('XX', 'YY')",
      price_ok:
        "`price` >= 0 AND subtotal BETWEEN price * quantity - 0.02 AND price * quantity + 0.02",
    },
  },
  {
    name: "constraint_fn",
    constraints: { short_city: "length(city) < 40" },
    empty: true,
    refused:
      /^cannot write Delta table '.*': CHECK constraint short_city \(length ?\( ?city ?\) < 40\) is outside the SQL subset this writer enforces \(the function call length\(…\).*\); write this table with Spark, or drop the constraint/,
  },
  {
    name: "colmap_name",
    properties: { "delta.columnMapping.mode": "name" },
    partitionBy: ["state"],
    rename: { city: "customer city" },
    optimize: true,
  },
  {
    name: "colmap_id",
    properties: { "delta.columnMapping.mode": "id" },
    addColumn: true,
    optimize: true,
  },
  {
    name: "rowtracking",
    properties: { "delta.enableRowTracking": "true" },
    optimize: true,
    rowTracking: true,
  },
  {
    name: "generated",
    extraColumns: ["`order_day` DATE GENERATED ALWAYS AS (CAST(kafka_timestamp AS DATE))"],
    refused:
      /^table '.*' uses generated columns \(order_day\); this writer does not compute them: write it with Spark, or drop the feature/,
  },
  {
    name: "identity",
    extraColumns: ["`row_id` BIGINT GENERATED ALWAYS AS IDENTITY"],
    refused:
      /^table '.*' uses identity columns \(row_id\); this writer does not assign their values: write it with Spark, or drop the feature/,
  },
];

const EXTRA = new arrow.Struct([
  new arrow.Field("note", new arrow.Utf8(), true),
  new arrow.Field("n", new arrow.Int64(), true),
]);

/** Rows as a spec's table holds them: renamed columns, and (ours) the added `extra` column. */
function reshape(t: arrow.Table, s: Spec): arrow.Table {
  const fields = t.schema.fields.map((f) => f.clone({ name: s.rename?.[f.name] ?? f.name }));
  if (s.addColumn) fields.push(new arrow.Field("extra", EXTRA, true));
  const schema = new arrow.Schema(fields);
  let at = 0;
  return new arrow.Table(
    schema,
    t.batches.map((b) => {
      const children = [...b.data.children];
      if (s.addColumn) {
        const values = Array.from(
          { length: b.numRows },
          (_, i) => ({ note: `n${at + i}`, n: BigInt(at + i) }),
        );
        children.push(arrow.vectorFromArray(values, EXTRA).data[0]);
      }
      at += b.numRows;
      return new arrow.RecordBatch(
        schema,
        arrow.makeData({
          type: new arrow.Struct(fields),
          length: b.numRows,
          nullCount: 0,
          children,
        }),
      );
    }),
  );
}

/** Canonical rows another writer wrote, as a spec's table reads them. */
function reshapeRows(rows: Row[], s: Spec): Row[] {
  return rows.map((r) => {
    const o: Row = {};
    for (const [k, v] of Object.entries(r)) o[s.rename?.[k] ?? k] = v;
    if (s.addColumn) o.extra = null;
    return o;
  });
}

/** Row tracking as Spark reads it: item_id → [row_id, row_commit_version]. */
function rowIdMap(
  rows: (string | null)[][] | undefined,
  what: string,
): Map<string, [string, string]> {
  assert.ok(rows, `${what}: no row ids`);
  const m = new Map(
    rows.map(([item, id, v]) => [String(item), [String(id), String(v)] as [string, string]]),
  );
  assert.equal(m.size, rows.length, `${what}: one row per item`);
  assert.equal(new Set(rows.map((r) => r[1])).size, rows.length, `${what}: distinct row ids`);
  assert.ok(rows.every((r) => r[1] !== null && r[2] !== null), `${what}: every row has ids`);
  return m;
}

function same(actual: Row[] | undefined, expected: Row[], what: string) {
  assert.ok(actual, `${what}: no rows`);
  assert.equal(actual.length, expected.length, `${what}: row count`);
  assert.deepEqual(sortRows(actual).map(stableJson), sortRows(expected).map(stableJson), what);
}

/**
 * What our append committed on a column-mapped or row-tracked table: partition values and stats
 * keyed by physical names, field ids in the files, row ids above Spark's.
 */
async function ourMappedAppend(
  path: string,
  s: Spec,
  files: AddAction[],
  version: number,
  sparkRows: number,
) {
  const st = openStorage(path);
  const snap = await loadSnapshot(st);
  const mode = snap.configuration["delta.columnMapping.mode"];
  if (mode === "name" || mode === "id") {
    const byName = new Map(snap.schema.fields.map((f) => [f.name, f]));
    const phys = (n: string) => String(byName.get(n)!.metadata["delta.columnMapping.physicalName"]);
    for (const f of files) {
      assert.deepEqual(
        Object.keys(f.partitionValues),
        (s.partitionBy ?? []).map(phys),
        `${s.name}: partitionValues by physical name`,
      );
      const stats = JSON.parse(f.stats!);
      assert.ok(phys("order_id") in stats.minValues, `${s.name}: stats by physical name`);
      const fields = parquetSchema(await st.get(decodeURIComponent(f.path))).fields;
      const orderId = fields.find((x) => x.name === phys("order_id"));
      assert.equal(
        orderId?.metadata.get("PARQUET:field_id"),
        String(byName.get("order_id")!.metadata["delta.columnMapping.id"]),
        `${s.name}: field ids in the file`,
      );
    }
    if (s.addColumn) {
      const extra = byName.get("extra")!;
      const id = Number(extra.metadata["delta.columnMapping.id"]);
      assert.equal(Number(snap.configuration["delta.columnMapping.maxColumnId"]), id + 2);
      assert.match(phys("extra"), /^col-/);
    }
  }
  if (s.rowTracking) {
    assert.ok(files.every((f) => f.baseRowId !== undefined), `${s.name}: baseRowId`);
    assert.ok(files.every((f) => f.defaultRowCommitVersion === version));
    assert.ok(Number(files[0].baseRowId) >= sparkRows, `${s.name}: above Spark's row ids`);
  }
}

/** Every commit of the log: commitInfo first with an in-commit timestamp, strictly increasing. */
async function inCommitTimestamps(path: string, latest: number): Promise<number[]> {
  const out: number[] = [];
  for (let v = 0; v <= latest; v++) {
    const actions = await readCommit(openStorage(path), v);
    assert.ok("commitInfo" in actions[0], `${path} v${v}: commitInfo is the first action`);
    const ict = (actions[0] as { commitInfo: { inCommitTimestamp?: number } }).commitInfo
      .inCommitTimestamp;
    assert.equal(typeof ict, "number", `${path} v${v}: inCommitTimestamp`);
    if (out.length) assert.ok(ict! > out.at(-1)!, `${path} v${v}: ${ict} > ${out.at(-1)}`);
    out.push(ict!);
  }
  return out;
}

Deno.test({
  name:
    "Spark tables with deletion vectors, change data feed, in-commit timestamps and clustering take our appends and OPTIMIZE (one Spark run)",
  // Local tables only: the ADLS pass of tests/delta/ (tests/run.ts) would run the same Spark again.
  ignore: (!!unavailable && !inCI) || testBackend() === "adls",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    if (unavailable) assert.fail(`CI is set but Spark cannot run: ${unavailable}`);
    const started = performance.now();
    const dir = await Deno.makeTempDir({ prefix: "spark-features-" });
    const a = await cleanedRows(0, 20);
    const b = await cleanedRows(20, 30);
    const c = await cleanedRows(30, 40);
    const [rowsA, rowsB, rowsC] = [rowsOf(a), rowsOf(b), rowsOf(c)];
    const srcA = join(dir, "src_a");
    const srcC = join(dir, "src_c");
    await (await createTable(srcA, a.schema)).append(a);
    await (await createTable(srcC, c.schema)).append(c);
    const path = (name: string) => join(dir, name);
    const manifest = {
      a: srcA,
      c: srcC,
      tables: SPECS.map((s) => ({ ...s, refused: undefined, path: path(s.name) })),
    };
    await Deno.writeTextFile(join(dir, "manifest.json"), JSON.stringify(manifest));
    const spark = startSparkDialogue(SCRIPT, join(dir, "manifest.json"));
    try {
      const created = await spark.next();
      assert.equal(created.fatal, undefined, `Spark could not create the tables: ${created.fatal}`);
      const sparkStart = performance.now();

      // Our writer: appends everywhere; on DV tables a checkpoint, then OPTIMIZE.
      const expectedAfterUs = new Map<string, Row[]>();
      const appendVersion = new Map<string, number>();
      const optimizeVersion = new Map<string, number>();
      const versions: Record<string, number[]> = {};
      for (const s of SPECS) {
        if (s.refused) {
          const err = await append(path(s.name), b).then(() => undefined, (e) => e);
          assert.ok(err instanceof UnsupportedFeatureError, `${s.name}: refused`);
          assert.match(err.message, s.refused);
          assert.equal(err.message.includes("\n"), false, "one line");
          continue;
        }
        const rowsSpark = reshapeRows(s.delete ? rowsA.filter((r) => !deleted(r)) : rowsA, s);
        if (s.delete) {
          assert.ok(created.tables[s.name].filesWithDv >= 1, `${s.name}: Spark's DELETE left a DV`);
        }
        const ours = reshape(b, s);
        const w = await append(path(s.name), ours, { mergeSchema: s.addColumn });
        assert.equal(w.files.every((f) => f.deletionVector === undefined), true);
        appendVersion.set(s.name, w.version);
        expectedAfterUs.set(s.name, [...rowsSpark, ...rowsOf(ours)]);
        if (s.properties?.["delta.columnMapping.mode"] || s.rowTracking) {
          await ourMappedAppend(path(s.name), s, w.files, w.version, rowsA.length);
        }
        if (s.constraints) {
          // A violating row refuses the plain append whole, naming the constraint, as Spark.
          const bad = await cleanedRows(40, 42, (o) => {
            o.line_items[0].order_item_quantity = 150;
          });
          const err = await append(path(s.name), bad).then(() => undefined, (e) => e);
          assert.ok(err instanceof ConstraintViolationError, `${s.name}: ${err}`);
          assert.match(
            err.message,
            /^CHECK constraint qty_range \(quantity > 0 AND quantity < 100\) violated by row with values: quantity : 150 \(row 0 of the data\)/,
          );
          // The cleaned stream dead-letters the violating orders, writes the rest.
          const added = await sinkOnConstraints(path(s.name), path("constraints_dead"));
          const now = rowsOf(await read(path(s.name)));
          const fromSink = now.filter((r) => Number(r.kafka_partition) === 7);
          const noIngest = (rows: Row[]) => rows.map((r) => ({ ...r, ingested_at: 0 }));
          same(noIngest(fromSink), noIngest(added), `${s.name}: the sink's good orders`);
          expectedAfterUs.set(s.name, [...rowsSpark, ...rowsOf(ours), ...fromSink]);
          // The probe: our writer does with NULL and 0 what Spark did.
          const probe = created.tables[s.name].probe as Row;
          for (const [key, x] of [["null", null], ["zero", 0]] as const) {
            const one = new arrow.Table({ x: arrow.vectorFromArray([x], new arrow.Int32()) });
            const e = await append(probe.path, one).then(() => undefined, (e) => e);
            const said = (probe[key] as string | null)?.match(/CHECK constraint[^\n]*/)?.[0];
            console.log(`spark_features_test: Spark on x = ${x} under CHECK (x > 0): ${said}`);
            assert.equal(e instanceof ConstraintViolationError, probe[key] !== null, `x = ${x}`);
          }
          assert.match(
            probe.zero,
            /CHECK constraint x_positive \(x > 0\) violated by row with values/,
          );
        }
        if (s.optimize) {
          const st = openStorage(path(s.name));
          await writeCheckpoint(st, checkpointStateOf(await loadSnapshot(st)));
          versions[s.name] = [w.version];
          const o = await optimize(path(s.name));
          assert.ok(o.version !== undefined, `${s.name}: OPTIMIZE committed`);
          console.log(
            `spark_features_test: ${s.name}: OPTIMIZE rewrote ${o.numFilesRemoved} files`,
          );
          same(rowsOf(await read(path(s.name))), expectedAfterUs.get(s.name)!, `${s.name} ours`);
        }
        if (s.delete) {
          const st = openStorage(path(s.name));
          const snap = await loadSnapshot(st);
          // Files a clustering implementation wrote are left to it (even with a DV).
          const withDv = snap.files.filter((f) => f.deletionVector && !f.clusteringProvider);
          const clusteredDv = snap.files.filter((f) => f.deletionVector && f.clusteringProvider);
          if (!s.clusterBy) assert.ok(withDv.length >= 1, `${s.name}: a file with a DV`);
          await writeCheckpoint(st, checkpointStateOf(snap));
          versions[s.name] = [w.version];
          const o = await optimize(path(s.name));
          if (withDv.length) assert.ok(o.version !== undefined, `${s.name}: OPTIMIZE committed`);
          if (o.version !== undefined) optimizeVersion.set(s.name, o.version);
          console.log(
            `spark_features_test: ${s.name}: OPTIMIZE rewrote ${o.numFilesRemoved} files, ` +
              `${withDv.length} with a DV (${clusteredDv.length} clustered ones with a DV left to Spark)`,
          );
          const removes = o.version === undefined ? [] : (await readCommit(st, o.version))
            .filter((x) => "remove" in x).map((x) => (x as { remove: RemoveAction }).remove);
          for (const f of withDv) {
            const r = removes.find((x) => x.path === f.path);
            assert.ok(r, `${s.name}: OPTIMIZE removes ${f.path}`);
            assert.deepEqual(r.deletionVector, f.deletionVector, "remove keeps the DV");
          }
          const after = await loadSnapshot(st);
          assert.equal(after.files.filter((f) => f.deletionVector).length, clusteredDv.length);
          same(rowsOf(await read(path(s.name))), expectedAfterUs.get(s.name)!, `${s.name} ours`);
        }
      }
      const changes = SPECS.filter((s) => s.properties?.["delta.enableChangeDataFeed"]).map((s) =>
        s.name
      );
      await spark.send({ versions, changes });
      const done = await spark.next();
      const sparkSeconds = (performance.now() - sparkStart) / 1000;

      for (const s of SPECS) {
        if (s.refused) continue;
        const got = done.tables[s.name];
        assert.equal(got?.error, undefined, `${s.name}: Spark failed: ${got?.error}`);
        const expected = expectedAfterUs.get(s.name)!;
        same(got.rows, expected, `${s.name}: Spark reads our append`);
        for (const v of versions[s.name] ?? []) {
          same(got.versions[String(v)], expected, `${s.name}: Spark at v${v} (our checkpoint)`);
        }
        if (changes.includes(s.name)) {
          const ours = String(appendVersion.get(s.name));
          const mine = (got.changes as Row[]).filter((r) => r._commit_version === ours);
          assert.deepEqual([...new Set(mine.map((r) => r._change_type))], ["insert"]);
          same(
            mine.map(({ _change_type: _t, _commit_version: _v, ...rest }) => rest),
            rowsB,
            `${s.name}: table_changes of our append`,
          );
          const opt = optimizeVersion.get(s.name);
          if (opt !== undefined) {
            assert.equal(
              (got.changes as Row[]).filter((r) => r._commit_version === String(opt)).length,
              0,
              `${s.name}: our OPTIMIZE (dataChange=false) is no change`,
            );
          }
        }
        if (s.properties?.["delta.enableInCommitTimestamps"]) {
          const icts = await inCommitTimestamps(path(s.name), got.factsAfter.version);
          const v = appendVersion.get(s.name)!;
          const h = (got.history as Row[]).find((e) => e.version === v);
          assert.equal(h?.timestamp, icts[v], `${s.name}: Spark's history shows our ICT`);
        }
        if (s.rowTracking) {
          const v = String(appendVersion.get(s.name));
          const atAppend = rowIdMap(got.rowIdsAt?.[v], `${s.name}: row ids at v${v}`);
          assert.equal(atAppend.size, expected.length, `${s.name}: row ids of every row`);
          const ourItems = rowsB.map((r) => String(r.item_id));
          for (const item of ourItems) {
            assert.equal(atAppend.get(item)?.[1], v, `${s.name}: our rows' commit version`);
          }
          const latest = rowIdMap(got.rowIds, `${s.name}: row ids after our OPTIMIZE`);
          assert.deepEqual(latest, atAppend, `${s.name}: our OPTIMIZE kept every row id`);
          const after = rowIdMap(got.rowIdsAfter, `${s.name}: row ids after Spark's insert`);
          for (const [item, ids] of atAppend) assert.deepEqual(after.get(item), ids);
          assert.equal(after.size, expected.length + rowsC.length);
        }
        const final = [...expected, ...reshapeRows(rowsC, s)];
        same(got.rowsAfter, final, `${s.name}: Spark reads its write after ours`);
        same(rowsOf(await read(path(s.name))), final, `${s.name}: our reader, final`);
        if (await deltalakeAvailable()) {
          same(await deltaRsRows(path(s.name)) as Row[], final, `${s.name}: delta-rs, final`);
        }
      }
      for (const [name, t] of Object.entries(created.tables as Record<string, Row>)) {
        const p = JSON.parse(t.protocol).protocol ?? JSON.parse(t.protocol);
        console.log(
          `spark_features_test: ${name}: (${p.minReaderVersion},${p.minWriterVersion}) ` +
            `${[...(p.writerFeatures ?? [])].join(",")}; files with a DV: ${t.filesWithDv}`,
        );
      }
      console.log(
        `spark_features_test: Spark up in ${created.startupSeconds} s, created in ${created.seconds} s, ` +
          `checks + writes ${done.seconds} s (${sparkSeconds.toFixed(1)} s seen here); ` +
          `total ${((performance.now() - started) / 1000).toFixed(1)} s`,
      );
    } finally {
      await spark.close();
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    }
  },
});
