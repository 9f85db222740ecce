/**
 * V2 checkpoints (table feature `v2Checkpoint`) between Apache Spark + delta-spark 4.4, our
 * reader/writer and delta-rs, with ONE Spark run (tests/interop/spark_checkpoint_v2.py):
 *
 * 1. Spark creates two tables with `delta.checkpointPolicy=v2` and `delta.checkpointInterval=3`
 *    (top-level checkpoint file JSON in one, Parquet in the other, a small `checkpoint.partSize`
 *    so the file actions go to several sidecars), inserts orders_cleaned rows, deletes some
 *    (removes) and inserts again: V2 checkpoints with sidecars at versions 3 and 6.
 * 2. Our reader reads every row (from Spark's checkpoint 6, and at version 3); our log cleanup
 *    (everything expired) deletes commits 0-5, checkpoint 3 and its sidecars only, and our reader
 *    and delta-rs read the table rebuilt from Spark's checkpoint 6 and its sidecars. Our writer
 *    appends three commits (versions 7-9), so version 9 gets our V2 checkpoint, the latest:
 *    single-file Parquet from the writer on one table, JSON with sidecars on the other.
 * 3. Spark reads every row from our checkpoint (latest and version 9), then inserts again.
 * 4. Our reader and delta-rs read the final tables; our log cleanup (everything expired) then
 *    deletes Spark's checkpoints and their sidecars but keeps ours, and both read again.
 *    delta-rs is recorded, not asserted, when it cannot read V2 checkpoints.
 *
 * Expectations come from the Arrow tables we wrote (canonical rows), not from any reader.
 * Without the Spark venv the test is ignored locally and fails when `CI` is set.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import * as arrow from "apache-arrow";
import {
  append,
  checkpointStateOf,
  cleanupExpiredLogs,
  createTable,
  listLog,
  loadSnapshot,
  read,
  readCheckpoint,
  readLastCheckpoint,
  referencedSidecars,
  writeCheckpoint,
} from "../../lib/delta/mod.ts";
import { openStorage } from "../../lib/storage/mod.ts";
import { flattenOrders, type OrderRecord, parseOrder } from "../../lib/orders/mod.ts";
import { canonRows, sortRows, stableJson } from "../support/canon.ts";
import { deltalakeAvailable, pythonPath, REPO_ROOT } from "../support/python.ts";
import { sparkUnavailableReason, startSparkDialogue } from "../support/spark.ts";
import { testBackend } from "../support/storage_backends.ts";

const SCRIPT = join(REPO_ROOT, "tests", "interop", "spark_checkpoint_v2.py");
const DUMP = join(REPO_ROOT, "tests", "interop", "deltalake_dump.py");
const unavailable = await sparkUnavailableReason();
const inCI = !!Deno.env.get("CI");
if (unavailable && !inCI) {
  console.warn(`spark_checkpoint_v2_test: ignored locally (${unavailable})`);
}

// deno-lint-ignore no-explicit-any
type Row = Record<string, any>;

const rowsOf = (t: arrow.Table) => canonRows(t) as Row[];
const DAY = 86_400_000;
const CHUNKS = 4; // Spark inserts pmod(item_id, 5) = 0..3, deletes, then inserts = 4
const DELETE = "item_id % 7 = 0";
const chunk = (r: Row) => ((Number(r.item_id) % (CHUNKS + 1)) + CHUNKS + 1) % (CHUNKS + 1);
const deletedBySpark = (r: Row) => chunk(r) < CHUNKS && Number(r.item_id) % 7 === 0;

/** orders_cleaned rows for orders [from, to) of data/file1.json. */
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

function same(actual: Row[] | undefined, expected: Row[], what: string) {
  assert.ok(actual, `${what}: no rows`);
  assert.equal(actual.length, expected.length, `${what}: row count`);
  assert.deepEqual(sortRows(actual).map(stableJson), sortRows(expected).map(stableJson), what);
}

/** What delta-rs reads at the latest version: its rows, or the error it gives (recorded). */
async function deltaRs(path: string): Promise<{ rows?: Row[]; error?: string }> {
  const out = await new Deno.Command(pythonPath(), {
    args: [DUMP, path],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder().decode(out.stdout).trim();
  if (out.code !== 0 || !text.startsWith("{")) {
    return { error: `exit ${out.code}: ${new TextDecoder().decode(out.stderr).slice(-600)}` };
  }
  const r = JSON.parse(text.split("\n").at(-1)!) as {
    error?: string;
    versions: Array<{ rows?: Row[]; rowsError?: string; error?: string }>;
  };
  const v = r.versions.at(-1);
  const error = r.error ?? v?.error ?? v?.rowsError;
  return error ? { error: String(error).split("\n")[0].slice(0, 300) } : { rows: v!.rows! };
}

const TABLES = [
  { name: "json_top", format: "json" },
  { name: "parquet_top", format: "parquet" },
];

Deno.test({
  name:
    "V2 checkpoints with sidecars: Spark writes them, we read and append past a checkpoint, Spark reads ours and writes again (one Spark run)",
  // Local tables only: the ADLS pass of tests/delta/ (tests/run.ts) would run the same Spark again.
  ignore: (!!unavailable && !inCI) || testBackend() === "adls",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    if (unavailable) assert.fail(`CI is set but Spark cannot run: ${unavailable}`);
    const started = performance.now();
    const dir = await Deno.makeTempDir({ prefix: "spark-checkpoint-v2-" });
    const a = await cleanedRows(0, 40);
    const b = await cleanedRows(40, 52);
    const c = await cleanedRows(52, 60);
    const [rowsA, rowsB, rowsC] = [rowsOf(a), rowsOf(b), rowsOf(c)];
    const srcA = join(dir, "src_a");
    const srcC = join(dir, "src_c");
    await (await createTable(srcA, a.schema)).append(a);
    await (await createTable(srcC, c.schema)).append(c);
    const path = (name: string) => join(dir, name);
    const manifest = {
      a: srcA,
      c: srcC,
      delete: DELETE,
      tables: TABLES.map((t) => ({ ...t, path: path(t.name) })),
    };
    await Deno.writeTextFile(join(dir, "manifest.json"), JSON.stringify(manifest));
    const expectedSpark = rowsA.filter((r) => !deletedBySpark(r));
    const expectedAt3 = rowsA.filter((r) => chunk(r) < 3);
    const expectedAfterUs = [...expectedSpark, ...rowsB];
    const final = [...expectedAfterUs, ...rowsC];
    assert.ok(rowsA.length - expectedSpark.length >= 5, "Spark's DELETE removes rows");
    const facts: string[] = [];
    const spark = startSparkDialogue(SCRIPT, join(dir, "manifest.json"));
    try {
      const created = await spark.next();
      assert.equal(created.fatal, undefined, `Spark could not create the tables: ${created.fatal}`);

      // Spark's tables: V2 checkpoints at 3 and 6 with sidecars; our reader reads every row.
      const ours = new Map<string, { checkpoint: string; sidecars: string[] }>();
      for (const t of TABLES) {
        const got = created.tables[t.name] as Row;
        const logFiles = got.logFiles as string[];
        const uuidCps = logFiles.filter((n) =>
          new RegExp(`^\\d{20}\\.checkpoint\\.[0-9a-f-]{36}\\.${t.format}$`).test(n)
        );
        const sidecars = logFiles.filter((n) => n.startsWith("_sidecars/"));
        facts.push(
          `${t.name}: Spark wrote ${uuidCps.length} UUID-named checkpoints ` +
            `(${
              uuidCps.map((n) => Number(n.slice(0, 20))).join(", ")
            }), ${sidecars.length} sidecars; ` +
            `_last_checkpoint keys: ${Object.keys(got.lastCheckpoint).join(",")}`,
        );
        assert.deepEqual(
          uuidCps.map((n) => Number(n.slice(0, 20))),
          [3, 6],
          `${t.name}: ${logFiles}`,
        );
        assert.ok(sidecars.length >= 2, `${t.name}: Spark wrote sidecars (${logFiles})`);
        const proto = JSON.parse(got.facts.protocol).protocol ?? JSON.parse(got.facts.protocol);
        assert.ok(
          proto.readerFeatures.includes("v2Checkpoint"),
          `${t.name}: ${got.facts.protocol}`,
        );
        same(got.rows, expectedSpark, `${t.name}: Spark's own rows`);
        same(got.rowsAt3, expectedAt3, `${t.name}: Spark's own rows at version 3`);

        const st = openStorage(path(t.name));
        const snap = await loadSnapshot(st);
        assert.equal(snap.version, 6);
        assert.equal(snap.checkpointVersion, 6, `${t.name}: we start from Spark's checkpoint`);
        const cp6 = (await listLog(st)).checkpoints.find((x) => x.version === 6)!;
        assert.equal(cp6.checkpoint, "uuid");
        assert.ok((await referencedSidecars(st, cp6.file.path)).length >= 2, "it has sidecars");
        const cpActions = await readCheckpoint(st, 6, cp6.file.path);
        assert.equal(cpActions.filter((x) => "checkpointMetadata" in x).length, 1);
        assert.ok(cpActions.some((x) => "remove" in x), "the DELETE's tombstones");
        same(rowsOf(await read(path(t.name))), expectedSpark, `${t.name}: our reader`);
        same(
          rowsOf(await read(path(t.name), { version: 3 })),
          expectedAt3,
          `${t.name}: our reader at version 3 (Spark's checkpoint 3)`,
        );

        // Our log cleanup, everything expired: commits 0-5, checkpoint 3 and its sidecars go;
        // Spark's checkpoint 6 and its sidecars stay, and are all that rebuilds the table.
        const sc3 = new Set<string>();
        for (const cp of (await listLog(st)).checkpoints.filter((x) => x.version === 3)) {
          for (const s of await referencedSidecars(st, cp.file.path)) sc3.add(s);
        }
        const sc6 = await referencedSidecars(st, cp6.file.path);
        const early = await cleanupExpiredLogs(st, { retentionMs: 0, now: Date.now() + 2 * DAY });
        assert.equal(early.keepFrom, 6);
        assert.equal(early.sidecarsDeleted, sc3.size, `${t.name}: checkpoint 3's sidecars`);
        for (const s of sc3) assert.equal(await st.head(s), undefined, `${s} deleted`);
        for (const s of sc6) assert.ok(await st.head(s), `${s} (checkpoint 6) kept`);
        assert.equal((await listLog(st)).commits[0].version, 6);
        same(rowsOf(await read(path(t.name))), expectedSpark, `${t.name}: ours after cleanup`);
        if (await deltalakeAvailable()) {
          const rs = await deltaRs(path(t.name));
          if (rs.rows) same(rs.rows, expectedSpark, `${t.name}: delta-rs on Spark's table`);
          facts.push(
            `${t.name}: delta-rs 1.6.6 ${
              rs.rows ? "reads" : `cannot read (${rs.error})`
            } Spark's table with commits 0-5 cleaned up (so from its V2 checkpoint 6 and sidecars)`,
          );
        }

        // Our appends: versions 7, 8, 9; version 9 gets our V2 checkpoint.
        const thirds = [0, 4, 8, b.numRows];
        for (let i = 0; i < 3; i++) {
          const last = i === 2;
          const w = await append(path(t.name), b.slice(thirds[i], thirds[i + 1]), {
            // The JSON table: its checkpoint is written below, JSON with sidecars.
            checkpoint: !(last && t.format === "json"),
          });
          assert.equal(w.version, 7 + i);
        }
        let info;
        if (t.format === "json") {
          info = await writeCheckpoint(st, checkpointStateOf(await loadSnapshot(st)), Date.now(), {
            format: "json",
            actionsPerSidecar: 4,
          });
          assert.ok(info.sidecars.length >= 2);
        }
        const cps9 = (await listLog(st)).checkpoints.filter((x) => x.version === 9);
        assert.equal(cps9.length, 1, `${t.name}: one checkpoint at 9`);
        assert.equal(cps9[0].checkpoint, "uuid");
        assert.match(cps9[0].file.path, new RegExp(`\\.${t.format}$`));
        assert.equal((await readLastCheckpoint(st))?.version, 9);
        const after = await loadSnapshot(st);
        assert.equal(after.checkpointVersion, 9);
        same(rowsOf(await read(path(t.name))), expectedAfterUs, `${t.name}: ours after our append`);
        ours.set(t.name, {
          checkpoint: cps9[0].file.path,
          sidecars: await referencedSidecars(st, cps9[0].file.path),
        });
      }

      await spark.send({ versions: Object.fromEntries(TABLES.map((t) => [t.name, [9]])) });
      const done = await spark.next();
      for (const t of TABLES) {
        const got = done.tables[t.name] as Row;
        assert.equal(got?.error, undefined, `${t.name}: Spark failed: ${got?.error}`);
        assert.equal(got.facts.version, 9);
        assert.equal(got.facts.checkpointVersion, 9, `${t.name}: Spark loads our checkpoint`);
        same(got.rows, expectedAfterUs, `${t.name}: Spark reads our append`);
        same(got.versions["9"], expectedAfterUs, `${t.name}: Spark at version 9`);
        same(got.rowsAfter, final, `${t.name}: Spark reads its write after ours`);
        assert.equal(got.factsAfter.version, 10);

        same(rowsOf(await read(path(t.name))), final, `${t.name}: our reader, final`);
        if (await deltalakeAvailable()) {
          const rs = await deltaRs(path(t.name));
          if (rs.rows) same(rs.rows, final, `${t.name}: delta-rs, final`);
          facts.push(
            `${t.name}: delta-rs 1.6.6 ${
              rs.rows ? "reads the table after Spark's last write" : `cannot read it: ${rs.error}`
            }`,
          );
        }

        // Our log cleanup with everything expired: Spark's checkpoints 3 and 6 and their
        // sidecars go, our checkpoint 9 (and its sidecars) stays.
        const st = openStorage(path(t.name));
        const sparkSidecars = new Set<string>();
        for (const cp of (await listLog(st)).checkpoints.filter((x) => x.version < 9)) {
          for (const s of await referencedSidecars(st, cp.file.path)) sparkSidecars.add(s);
        }
        assert.ok(sparkSidecars.size >= 2);
        const r = await cleanupExpiredLogs(st, { retentionMs: 0, now: Date.now() + 2 * DAY });
        assert.equal(r.keepFrom, 9);
        assert.equal(r.remaining, 0);
        for (const s of sparkSidecars) assert.equal(await st.head(s), undefined, `${s} deleted`);
        const kept = ours.get(t.name)!;
        assert.ok(await st.head(kept.checkpoint), "our checkpoint kept");
        for (const s of kept.sidecars) assert.ok(await st.head(s), `${s} (ours, in use) kept`);
        assert.deepEqual(
          (await listLog(st)).checkpoints.map((x) => x.version),
          [9],
          `${t.name}: only our checkpoint remains`,
        );
        same(rowsOf(await read(path(t.name))), final, `${t.name}: our reader after cleanup`);
        if (await deltalakeAvailable()) {
          const rs = await deltaRs(path(t.name));
          if (rs.rows) same(rs.rows, final, `${t.name}: delta-rs after cleanup`);
          facts.push(
            `${t.name}: after our cleanup (only our V2 checkpoint 9 left) delta-rs ${
              rs.rows ? "reads it" : `fails: ${rs.error}`
            }`,
          );
        }
      }
      console.log(
        `spark_checkpoint_v2_test: Spark up in ${created.startupSeconds} s, created in ` +
          `${created.seconds} s, checks + writes ${done.seconds} s; total ` +
          `${((performance.now() - started) / 1000).toFixed(1)} s`,
      );
    } finally {
      for (const f of facts) console.log(`spark_checkpoint_v2_test: ${f}`);
      await spark.close();
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    }
  },
});
