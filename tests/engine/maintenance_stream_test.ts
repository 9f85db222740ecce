// Table maintenance inside the raw stream (lib/engine/delta_sink.ts → lib/delta/maintenance.ts),
// end to end: small triggers with auto-compaction keep the file count bounded while every record
// lands exactly once; a tiny log retention deletes expired log files up to a checkpoint. Each
// table is then read by our reader, delta-rs and (one run for both tables) Spark, including time
// travel to a version inside the retention and a refused one before the kept checkpoint.
import assert from "node:assert/strict";
import { join } from "node:path";
import { VersionNotFoundError } from "../../lib/delta/errors.ts";
import { parseLogFileName } from "../../lib/delta/maintenance.ts";
import { loadSnapshot } from "../../lib/delta/snapshot.ts";
import { read } from "../../lib/delta/table.ts";
import { openStorage } from "../../lib/storage/mod.ts";
import { deltalakeAvailable, pythonPath, REPO_ROOT } from "../support/python.ts";
import { SPARK_CHECK_SCRIPT, sparkPythonPath, sparkUnavailableReason } from "../support/spark.ts";
import { deleteTopics, testKafka } from "../support/kafka.ts";
import {
  baseArgs,
  freshTopic,
  produce,
  runNotebook,
  type RunResult,
  tableRows,
  type TestRecord,
} from "../support/stream.ts";

const sparkUnavailable = await sparkUnavailableReason();
const inCI = !!Deno.env.get("CI");
const haveDeltaRs = await deltalakeAvailable().catch(() => false);

const MIN_FILES = 8;

function records(from: number, n: number): TestRecord[] {
  return Array.from({ length: n }, (_, i) => ({
    key: `k${(from + i) % 97}`,
    value: `record ${from + i}`,
  }));
}

function streamArgs(topic: string, table: string, query: string, extra: string[]): string[] {
  return [
    ...baseArgs(topic),
    "--table",
    table,
    "--available-now",
    "--progress",
    "json",
    "--max-offsets-per-trigger",
    "50",
    "--query-name",
    query,
    "--session-timeout-ms",
    "6000",
    ...extra,
  ];
}

function ok(r: RunResult): Record<string, unknown> {
  assert.equal(r.code, 0, r.stderr.slice(-2000));
  assert.ok(r.summary, "a JSON summary");
  return r.summary!;
}

/** `partition:offset` of each row, sorted (the identity of a Kafka record). */
function keys(rows: Record<string, unknown>[]): string[] {
  return rows.map((r) => `${r.partition}:${r.offset}`).sort();
}

/** delta-rs's view of one version (or its error). */
async function deltaRs(table: string, version: number): Promise<
  { error?: string; rows?: Record<string, unknown>[]; files?: unknown[] }
> {
  const out = await new Deno.Command(pythonPath(), {
    args: [join(REPO_ROOT, "tests", "interop", "deltalake_dump.py"), table, String(version)],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const o = JSON.parse(new TextDecoder().decode(out.stdout));
  if (o.error) return { error: o.error };
  const v = o.versions[0];
  if (v.rowsError) return { error: v.rowsError };
  return v;
}

/** For each Parquet file, whether every column chunk carries statistics (pyarrow). */
async function parquetStatistics(files: string[]): Promise<boolean[]> {
  const script = [
    "import json, sys, pyarrow.parquet as pq",
    "def has(p):",
    "    m = pq.ParquetFile(p).metadata",
    "    cs = [m.row_group(g).column(c) for g in range(m.num_row_groups) for c in range(m.num_columns)]",
    "    return all(c.is_stats_set for c in cs)",
    "print(json.dumps([has(p) for p in sys.argv[1:]]))",
  ].join("\n");
  const out = await new Deno.Command(pythonPath(), {
    args: ["-c", script, ...files],
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.ok(out.success, new TextDecoder().decode(out.stderr).slice(-2000));
  return JSON.parse(new TextDecoder().decode(out.stdout));
}

interface SparkRead {
  rows?: Record<string, unknown>[];
  errors?: Record<string, string>;
  history?: { version: number; operation: string }[];
  snapshot?: { version: number; numFiles: number };
  versions: Record<string, { rows?: Record<string, unknown>[]; errors?: Record<string, string> }>;
}

async function spark(manifest: unknown, dir: string): Promise<Record<string, SparkRead>> {
  const file = join(dir, "manifest.json");
  await Deno.writeTextFile(file, JSON.stringify(manifest));
  const out = await new Deno.Command(sparkPythonPath(), {
    args: [SPARK_CHECK_SCRIPT, file],
    env: { SPARK_LOCAL_IP: "127.0.0.1" },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const last = new TextDecoder().decode(out.stdout).trim().split("\n").at(-1) ?? "";
  if (out.code !== 0 || !last.startsWith("{")) {
    throw new Error(`spark_check.py failed: ${new TextDecoder().decode(out.stderr).slice(-3000)}`);
  }
  const result = JSON.parse(last);
  if (result.fatal) throw new Error(result.fatal);
  return result.read;
}

/** Log files of a table: name → parsed (commits, checkpoints …). */
async function logFiles(table: string) {
  const files = await openStorage(table).list("_delta_log/");
  return files.map((f) => ({ name: f.path.slice(11), parsed: parseLogFileName(f.path.slice(11)) }))
    .filter((f) => f.parsed !== undefined && f.parsed.kind !== "temp");
}

Deno.test({
  name:
    "maintenance in the raw stream: bounded files, exactly once, log cleanup, read by delta-rs and Spark",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn(t) {
    const topic = await freshTopic("stream-maintenance", 3);
    const topicB = await freshTopic("stream-maintenance-log", 3);
    const dir = await Deno.makeTempDir({ prefix: "maintenance-stream-" });
    const compacted = join(dir, "compacted");
    const cleaned = join(dir, "cleaned");
    try {
      const all = records(0, 2400);
      await produce(topic, all);

      // --- A: auto-compaction with small triggers (48 batches of 50 records), inline -------
      const a = ok(
        await runNotebook(
          "raw",
          streamArgs(topic, compacted, "maint_a", [
            "--compact-min-files",
            String(MIN_FILES),
            "--compact-background",
            "false",
          ]),
        ),
      );
      const aMaint = a.maintenance as Record<string, number>;
      await t.step(
        "A: every record exactly once, files bounded by the compaction threshold",
        async () => {
          assert.equal(a.records, 2400);
          const rows = await tableRows(compacted);
          assert.equal(rows.length, 2400);
          assert.deepEqual(
            rows.map((r) => String(r.value)).sort(),
            all.map((r) => String(r.value)).sort(),
          );
          assert.equal(new Set(keys(rows)).size, 2400);
          const latest = await loadSnapshot(openStorage(compacted));
          assert.ok(aMaint.compactions >= 4, `compactions: ${JSON.stringify(aMaint)}`);
          // At every version (each batch, each compaction) the table had at most MIN_FILES files:
          // the compaction runs as soon as the threshold is reached.
          let most = 0;
          for (let v = 0; v <= latest.version; v++) {
            const s = await loadSnapshot(openStorage(compacted), { version: v });
            most = Math.max(most, s.files.length);
          }
          assert.ok(most <= MIN_FILES, `at most ${MIN_FILES} files at any version, saw ${most}`);
          assert.ok(latest.files.length <= MIN_FILES);
          // Without compaction there would be one file per batch.
          const batches = a.batches as number;
          assert.ok(batches >= 40, `batches: ${batches}`);
          const optimizeCommits = (await Promise.all(
            Array.from({ length: latest.version + 1 }, (_, v) => v).map(async (v) => {
              const text = await Deno.readTextFile(
                join(compacted, "_delta_log", `${String(v).padStart(20, "0")}.json`),
              );
              return text.includes('"operation":"OPTIMIZE"') ? 1 : 0;
            }),
          )).reduce((x: number, y: number) => x + y, 0);
          assert.equal(optimizeCommits, aMaint.compactions, "one OPTIMIZE commit per compaction");
          console.log(
            `maintenance A: ${batches} batches, ${aMaint.compactions} compactions ` +
              `(${aMaint.filesCompacted} files), at most ${most} files, ${latest.files.length} at the end`,
          );
        },
      );

      // --- A2: the same in the background (the default): a worker thread compacts ----------
      const background = join(dir, "background");
      const a2 = ok(
        await runNotebook(
          "raw",
          streamArgs(topic, background, "maint_a2", ["--compact-min-files", String(MIN_FILES)]),
        ),
      );
      await t.step(
        "A2: background compaction: exactly once, every compaction counted, compact at the end",
        async () => {
          const rows = await tableRows(background);
          assert.deepEqual(
            rows.map((r) => String(r.value)).sort(),
            all.map((r) => String(r.value)).sort(),
          );
          assert.equal(new Set(keys(rows)).size, 2400);
          const m = a2.maintenance as Record<string, number>;
          const latest = await loadSnapshot(openStorage(background));
          let optimizeCommits = 0, compactedAway = 0;
          const streamFiles: string[] = [], compactedFiles: string[] = [];
          for (let v = 0; v <= latest.version; v++) {
            const text = await Deno.readTextFile(
              join(background, "_delta_log", `${String(v).padStart(20, "0")}.json`),
            );
            const adds = text.split("\n").filter((l) => l.startsWith('{"add"'))
              .map((l) => join(background, decodeURIComponent(JSON.parse(l).add.path)));
            if (!text.includes('"operation":"OPTIMIZE"')) {
              streamFiles.push(...adds);
              continue;
            }
            compactedFiles.push(...adds);
            optimizeCommits++;
            compactedAway += text.split("\n").filter((l) => l.startsWith('{"remove"')).length;
          }
          assert.ok(m.compactions >= 1, `compactions: ${JSON.stringify(m)}`);
          assert.equal(optimizeCommits, m.compactions, "one OPTIMIZE commit per compaction");
          assert.equal(compactedAway, m.filesCompacted, "files compacted, as reported");
          // A stream's small files, which compaction rewrites, carry no Parquet statistics (the
          // log's add.stats have them); the compacted files do.
          if (haveDeltaRs) {
            assert.ok(streamFiles.length >= MIN_FILES && compactedFiles.length >= 1);
            const kept = streamFiles.filter((f) => latest.files.some((a) => f.endsWith(a.path)));
            const small = await parquetStatistics(streamFiles.slice(0, 5));
            assert.deepEqual(small, small.map(() => false), "the stream's files: no statistics");
            const big = await parquetStatistics(compactedFiles);
            assert.deepEqual(big, compactedFiles.map(() => true), "compacted files have them");
            assert.ok(kept.length <= MIN_FILES);
          }
          // An available-now run that ends compacts once more when due: the table it leaves
          // holds fewer small files than the threshold (plus what compactions wrote).
          assert.ok(
            latest.files.length <= MIN_FILES,
            `${latest.files.length} files at the end (threshold ${MIN_FILES})`,
          );
          console.log(
            `maintenance A2 (background): ${a2.batches} batches, ${m.compactions} compactions ` +
              `(${m.filesCompacted} files), ${latest.files.length} files at the end`,
          );
        },
      );

      // --- B: log cleanup with a tiny retention (two runs, 2.5 s apart) --------------------
      const firstHalf = 600;
      const bArgs = streamArgs(topicB, cleaned, "maint_b", [
        "--log-retention",
        "2s",
        "--checkpoint-interval",
        "5",
      ]);
      await produce(topicB, records(0, firstHalf));
      const b1 = ok(await runNotebook("raw", bArgs));
      const before = await logFiles(cleaned);
      await new Promise((r) => setTimeout(r, 2500));
      await produce(topicB, records(firstHalf, firstHalf));
      const b2 = ok(await runNotebook("raw", bArgs));
      const after = await logFiles(cleaned);
      const commits = after.filter((f) => f.parsed!.kind === "commit").map((f) => f.parsed!.version)
        .sort((x, y) => x - y);
      const keep = commits[0];
      const latestB = commits.at(-1)!;
      await t.step(
        "B: expired log files deleted up to a checkpoint; the rest readable",
        async () => {
          assert.equal((b1.records as number) + (b2.records as number), 2 * firstHalf);
          const removed = (b2.maintenance as Record<string, number> | undefined)?.logFilesRemoved ??
            0;
          const gone = before.filter((f) => !after.some((g) => g.name === f.name));
          assert.ok(gone.length > 0, "phase 1's log files expired");
          assert.ok(removed >= gone.length, `removed ${removed}, gone ${gone.length}`);
          assert.ok(keep >= 10, `the log starts at ${keep}: phase 1 (versions 0..12) expired`);
          assert.ok(
            after.some((f) => f.parsed!.classicCheckpoint && f.parsed!.version === keep),
            `the log starts at a checkpoint (${keep})`,
          );
          assert.deepEqual(
            after.filter((f) => f.parsed!.version < keep).map((f) => f.name),
            [],
            "nothing older than the kept checkpoint",
          );
          for (let v = keep; v <= latestB; v++) assert.equal(commits.includes(v), true, `v${v}`);
          const rows = await tableRows(cleaned);
          assert.equal(rows.length, 2 * firstHalf);
          assert.equal(new Set(keys(rows)).size, 2 * firstHalf);
          assert.ok((await read(cleaned, { version: keep })).numRows > 0);
          await assert.rejects(read(cleaned, { version: keep - 1 }), VersionNotFoundError);
          console.log(
            `maintenance B: ${removed} log files removed; the log starts at checkpoint ${keep} ` +
              `(latest ${latestB})`,
          );
        },
      );

      const oldVersion = 3; // before the first compaction of A
      const aOld = keys(await readRows(compacted, oldVersion));
      const bKeep = keys(await readRows(cleaned, keep));

      await t.step({
        name: "delta-rs reads both tables, time travel included",
        ignore: !haveDeltaRs,
        fn: async () => {
          const la = await deltaRs(compacted, (await loadSnapshot(openStorage(compacted))).version);
          assert.equal(la.error, undefined, la.error);
          assert.deepEqual(keys(la.rows!), keys(await tableRows(compacted)));
          assert.equal(la.files!.length, (await loadSnapshot(openStorage(compacted))).files.length);
          const old = await deltaRs(compacted, oldVersion);
          assert.equal(old.error, undefined, old.error);
          assert.deepEqual(keys(old.rows!), aOld);
          const lb = await deltaRs(cleaned, latestB);
          assert.equal(lb.error, undefined, lb.error);
          assert.equal(new Set(keys(lb.rows!)).size, 2 * firstHalf);
          assert.deepEqual(keys(lb.rows!), keys(await tableRows(cleaned)));
          const kb = await deltaRs(cleaned, keep);
          assert.equal(kb.error, undefined, kb.error);
          assert.deepEqual(keys(kb.rows!), bKeep);
          const gone = await deltaRs(cleaned, keep - 1);
          assert.ok(gone.error, "delta-rs cannot load a version before the kept checkpoint");
        },
      });

      await t.step({
        name: "Spark reads both tables, time travel included",
        ignore: !!sparkUnavailable && !inCI,
        fn: async () => {
          if (sparkUnavailable) assert.fail(`CI is set but Spark cannot run: ${sparkUnavailable}`);
          const r = await spark({
            read: [
              { name: "A", path: compacted, versions: [oldVersion], history: true },
              { name: "B", path: cleaned, versions: [keep, keep - 1], history: false },
            ],
          }, dir);
          assert.deepEqual(r.A.errors ?? {}, {});
          assert.deepEqual(keys(r.A.rows!), keys(await tableRows(compacted)));
          assert.equal(
            r.A.snapshot!.numFiles,
            (await loadSnapshot(openStorage(compacted))).files.length,
          );
          assert.equal(
            r.A.history!.filter((h) => h.operation === "OPTIMIZE").length,
            aMaint.compactions,
          );
          assert.deepEqual(r.A.versions[String(oldVersion)].errors ?? {}, {});
          assert.deepEqual(keys(r.A.versions[String(oldVersion)].rows!), aOld);
          assert.deepEqual(r.B.errors ?? {}, {});
          assert.deepEqual(keys(r.B.rows!), keys(await tableRows(cleaned)));
          assert.equal(r.B.snapshot!.version, latestB);
          assert.deepEqual(keys(r.B.versions[String(keep)].rows!), bKeep);
          assert.ok(
            r.B.versions[String(keep - 1)].errors?.rows,
            "Spark cannot time travel before the kept checkpoint",
          );
        },
      });
    } finally {
      await Deno.remove(dir, { recursive: true });
      await deleteTopics(testKafka(), [topic, topicB]).catch(() => {});
    }
  },
});

async function readRows(table: string, version: number): Promise<Record<string, unknown>[]> {
  const t = await read(table, { version, columns: ["partition", "offset"] });
  const out: Record<string, unknown>[] = [];
  for (const row of t) out.push({ partition: row.partition, offset: row.offset });
  return out;
}
