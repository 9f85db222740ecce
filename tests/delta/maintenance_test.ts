// Table maintenance (lib/delta/maintenance.ts): the policies (when compaction is due and which
// files it takes, which log files may go) and the runs on real local tables (compaction with
// concurrent writers, checkpoints, log cleanup judged by file modification times).
import assert from "node:assert/strict";
import { join } from "node:path";
import type { AddAction, RemoveAction } from "../../lib/delta/actions.ts";
import { decodeParquet } from "../../lib/delta/parquet.ts";
import { CorruptLogError, VersionNotFoundError } from "../../lib/delta/errors.ts";
import {
  checkpointPath,
  commitPath,
  findCommitInfo,
  readCommit,
  readLastCheckpoint,
} from "../../lib/delta/log.ts";
import {
  cleanupExpiredLogs,
  DEFAULT_COMPACT_MIN_FILES,
  DEFAULT_COMPACT_TARGET_SIZE,
  DEFAULT_LOG_RETENTION_MS,
  maintenanceSettings,
  parseByteSize,
  parseLogFileName,
  planAutoCompaction,
  planLogCleanup,
  TableMaintenance,
} from "../../lib/delta/maintenance.ts";
import { optimize } from "../../lib/delta/optimize.ts";
import { advanceSnapshot, loadSnapshot } from "../../lib/delta/snapshot.ts";
import { append, createTable, read } from "../../lib/delta/table.ts";
import { openStorage } from "../../lib/storage/mod.ts";
import type { FileInfo, Storage } from "../../lib/storage/storage.ts";
import { ids, orders, ordersSchema } from "./_core_fixtures.ts";

const MiB = 1024 * 1024;
const HOUR = 3_600_000;

function file(path: string, size: number, state: string | null = null): AddAction {
  return { path, size, partitionValues: { state }, modificationTime: 0, dataChange: true };
}

async function withDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "maintenance-" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

function sorted(xs: number[]): number[] {
  return [...xs].sort((a, b) => a - b);
}

// ---------------------------------------------------------------------------------------------
// Settings

Deno.test("settings: defaults, table properties, flags over properties, clamps", () => {
  const d = maintenanceSettings({});
  assert.deepEqual(d, {
    autoCompact: true,
    compactInBackground: true,
    compactMinFiles: DEFAULT_COMPACT_MIN_FILES,
    compactTargetSize: DEFAULT_COMPACT_TARGET_SIZE,
    compactMinFileSize: DEFAULT_COMPACT_TARGET_SIZE / 2,
    compactMaxBytes: DEFAULT_COMPACT_TARGET_SIZE,
    checkpointInterval: 10,
    logCleanup: true,
    logRetentionMs: DEFAULT_LOG_RETENTION_MS,
  });
  assert.equal(DEFAULT_COMPACT_MIN_FILES, 50);
  assert.equal(DEFAULT_COMPACT_TARGET_SIZE, 128 * MiB);
  assert.equal(DEFAULT_LOG_RETENTION_MS, 30 * 24 * HOUR);

  const props = {
    "delta.autoOptimize.autoCompact": "false",
    "delta.autoCompact.minNumFiles": "20",
    "delta.autoCompact.maxFileSize": "64MB",
    "delta.autoCompact.minFileSize": "1MB",
    "delta.autoCompact.maxCompactBytes": "256MB",
    "delta.checkpointInterval": "5",
    "delta.enableExpiredLogCleanup": "false",
    "delta.logRetentionDuration": "interval 1 seconds",
  };
  assert.deepEqual(maintenanceSettings(props), {
    autoCompact: false,
    compactInBackground: true,
    compactMinFiles: 20,
    compactTargetSize: 64 * MiB,
    compactMinFileSize: 1 * MiB,
    compactMaxBytes: 256 * MiB,
    checkpointInterval: 5,
    logCleanup: false,
    logRetentionMs: 1000,
  });
  // Flags win over properties.
  const o = maintenanceSettings(props, {
    autoCompact: true,
    compactMinFiles: 3,
    compactTargetSize: 2 * MiB,
    checkpointInterval: 7,
    logCleanup: true,
    logRetentionMs: 5 * HOUR,
  });
  assert.equal(o.autoCompact, true);
  assert.equal(o.compactMinFiles, 3);
  assert.equal(o.compactTargetSize, 2 * MiB);
  assert.equal(o.compactMinFileSize, 1 * MiB, "small = under half the target at most");
  assert.equal(o.compactMaxBytes, 256 * MiB);
  assert.equal(o.checkpointInterval, 7);
  assert.equal(o.logCleanup, true);
  assert.equal(o.logRetentionMs, 5 * HOUR);
  // Delta's other spellings of "on"; unparseable values fall back to the defaults.
  for (const on of ["true", "auto", "legacy", "TRUE"]) {
    assert.equal(maintenanceSettings({ "delta.autoOptimize.autoCompact": on }).autoCompact, true);
  }
  const junk = maintenanceSettings({
    "delta.autoCompact.minNumFiles": "-3",
    "delta.autoCompact.maxFileSize": "huge",
    "delta.autoCompact.minFileSize": "999GB",
    "delta.autoCompact.maxCompactBytes": "1",
    "delta.checkpointInterval": "0",
    "delta.logRetentionDuration": "forever",
  });
  assert.equal(junk.compactMinFiles, 50);
  assert.equal(junk.compactTargetSize, 128 * MiB);
  assert.equal(junk.compactMinFileSize, 64 * MiB, "a min size above half the target is clamped");
  assert.equal(junk.compactMaxBytes, 128 * MiB, "a run may always rewrite one target file");
  assert.equal(junk.checkpointInterval, 10);
  assert.equal(junk.logRetentionMs, DEFAULT_LOG_RETENTION_MS);
});

Deno.test("parseByteSize: bytes and binary multiples", () => {
  assert.equal(parseByteSize("134217728"), 128 * MiB);
  assert.equal(parseByteSize("128MB"), 128 * MiB);
  assert.equal(parseByteSize("128MiB"), 128 * MiB);
  assert.equal(parseByteSize("64m"), 64 * MiB);
  assert.equal(parseByteSize("1.5k"), 1536);
  assert.equal(parseByteSize("1 GB"), 1024 * MiB);
  for (const bad of ["", "MB", "-1", "0", "12 parsecs", undefined]) {
    assert.equal(parseByteSize(bad), undefined, String(bad));
  }
});

// ---------------------------------------------------------------------------------------------
// Compaction policy

Deno.test("compaction is due when a partition holds minNumFiles small files; big files stay", () => {
  const s = maintenanceSettings({}, { compactMinFiles: 4, compactTargetSize: 1000 });
  const small = (n: number, state: string, size = 10) =>
    Array.from({ length: n }, (_, i) => file(`${state}-${i}`, size, state));
  // 3 small files (+ a big one that does not count): not due.
  assert.deepEqual(
    planAutoCompaction([...small(3, "IL"), file("big", 600, "IL")], ["state"], s),
    [],
  );
  // A file of exactly half the target is not small.
  assert.deepEqual(
    planAutoCompaction([...small(3, "IL"), file("half", 500, "IL")], ["state"], s),
    [],
  );
  // 4 small files: due; the big file is not touched.
  const bins = planAutoCompaction([...small(4, "IL"), file("big", 600, "IL")], ["state"], s);
  assert.deepEqual(bins.map((b) => b.map((f) => f.path).sort()), [[
    "IL-0",
    "IL-1",
    "IL-2",
    "IL-3",
  ]]);
  // Per partition: 4 in IL are due, 3 in NY are not (7 in the table do not make NY due).
  const mixed = planAutoCompaction([...small(4, "IL"), ...small(3, "NY")], ["state"], s);
  assert.deepEqual(mixed.map((b) => b[0].partitionValues.state), ["IL"]);
  // Unpartitioned: the whole table is one partition.
  assert.equal(planAutoCompaction([...small(2, "IL"), ...small(2, "NY")], [], s).length, 1);
  // Files with deletion vectors are compacted too (the rewrite drops their deleted rows); files
  // a clustering implementation wrote are left to it.
  const dv = small(4, "IL").map((f) => ({
    ...f,
    deletionVector: { storageType: "i", pathOrInlineDv: "x", sizeInBytes: 1, cardinality: 1 },
  }));
  assert.deepEqual(planAutoCompaction(dv as AddAction[], ["state"], s).map((b) => b.length), [4]);
  const clustered = small(4, "IL").map((f) => ({ ...f, clusteringProvider: "liquid" }));
  assert.deepEqual(planAutoCompaction(clustered, ["state"], s), []);
});

Deno.test("compaction bins: smallest first up to the target, most files first, bounded per run", () => {
  const s = maintenanceSettings({}, { compactMinFiles: 2, compactTargetSize: 100 });
  // 10 files of 20 bytes (small: < 50): bins of 5 (100 bytes); one run rewrites at most 100
  // bytes (maxCompactBytes defaults to the target), so one bin per run.
  const files = Array.from({ length: 10 }, (_, i) => file(`f${i}`, 20));
  const bins = planAutoCompaction(files, [], s);
  assert.equal(bins.length, 1);
  assert.equal(bins[0].length, 5);
  // A larger per-run budget takes both bins.
  const wide = maintenanceSettings({ "delta.autoCompact.maxCompactBytes": "1000" }, {
    compactMinFiles: 2,
    compactTargetSize: 100,
  });
  assert.deepEqual(planAutoCompaction(files, [], wide).map((b) => b.length), [5, 5]);
  // Smallest first: the 45-byte file goes with the smallest ones only if it fits.
  const mix = [file("a", 5), file("b", 6), file("c", 45), file("d", 49)];
  const plan = planAutoCompaction(mix, [], s);
  assert.deepEqual(plan.map((b) => b.map((f) => f.path)), [["a", "b", "c"]]);
  // A lone small file per bin is never "compacted" into itself.
  assert.deepEqual(
    planAutoCompaction([file("x", 49), file("y", 49), file("z", 49)], [], s).map((b) => b.length),
    [2],
  );
});

// ---------------------------------------------------------------------------------------------
// Log cleanup policy

const v20 = (n: number) => String(n).padStart(20, "0");

Deno.test("parseLogFileName: every kind of _delta_log file", () => {
  assert.deepEqual(parseLogFileName(`${v20(7)}.json`), {
    version: 7,
    endVersion: 7,
    kind: "commit",
  });
  assert.deepEqual(parseLogFileName(`${v20(10)}.checkpoint.parquet`), {
    version: 10,
    endVersion: 10,
    kind: "checkpoint",
    classicCheckpoint: true,
  });
  assert.equal(
    parseLogFileName(`${v20(10)}.checkpoint.0000000001.0000000002.parquet`)?.classicCheckpoint,
    false,
  );
  assert.equal(
    parseLogFileName(`${v20(10)}.checkpoint.80a083e8-7026-4e79-81be-64bd76c43a11.json`)?.kind,
    "checkpoint",
  );
  assert.deepEqual(parseLogFileName(`${v20(3)}.crc`)?.kind, "crc");
  assert.deepEqual(parseLogFileName(`${v20(3)}.${v20(5)}.compacted.json`), {
    version: 3,
    endVersion: 5,
    kind: "compacted",
  });
  assert.deepEqual(parseLogFileName(`.${v20(4)}.json.0b6f.tmp`)?.kind, "temp");
  for (const other of ["_last_checkpoint", "7.json", `${v20(1)}.json.bak`, "_commits"]) {
    assert.equal(parseLogFileName(other), undefined, other);
  }
});

function listing(entries: [string, number][], now: number): FileInfo[] {
  return entries.map(([name, ageHours]) => ({
    path: `_delta_log/${name}`,
    size: 1,
    lastModified: now - ageHours * HOUR,
  }));
}

Deno.test("log cleanup policy: keep the newest expired checkpoint and everything after it", () => {
  const now = 1_000 * HOUR;
  // Commits 0..9 (ages 20 h down to 11 h), checkpoints at 3 and 6 and 9; retention 14 h: commits
  // 0..6 are expired (ages 20..14 → 14 is not < cutoff? age 14 h = exactly the cutoff: kept).
  const entries: [string, number][] = [];
  for (let v = 0; v <= 9; v++) entries.push([`${v20(v)}.json`, 20 - v]);
  for (const v of [3, 6, 9]) entries.push([`${v20(v)}.checkpoint.parquet`, 20 - v]);
  entries.push(["_last_checkpoint", 11]);
  let plan = planLogCleanup(listing(entries, now), now, 14 * HOUR);
  // Expired: versions whose age > 14 h: 0..5; newest expired checkpoint: 3.
  assert.equal(plan.keepFrom, 3);
  assert.deepEqual(plan.files.map((f) => f.path.slice(11)), [0, 1, 2].map((v) => `${v20(v)}.json`));
  assert.deepEqual(plan.checkpoints, [3, 6, 9]);
  assert.equal(plan.earliest, 0);
  plan = planLogCleanup(listing(entries, now), now, 13 * HOUR);
  assert.equal(plan.keepFrom, 6, "age 14 h > 13 h: checkpoint 6 expired too");
  assert.deepEqual(
    plan.files.map((f) => f.path.slice(11)),
    [
      `${v20(0)}.json`,
      `${v20(1)}.json`,
      `${v20(2)}.json`,
      `${v20(3)}.json`,
      `${v20(3)}.checkpoint.parquet`,
      `${v20(4)}.json`,
      `${v20(5)}.json`,
    ],
    "oldest first, a version's commit before its checkpoint",
  );
  // Nothing older than the cutoff, or no checkpoint among the expired: nothing goes.
  assert.deepEqual(planLogCleanup(listing(entries, now), now, 30 * HOUR).files, []);
  assert.equal(planLogCleanup(listing(entries, now), now, 30 * HOUR).keepFrom, undefined);
  const noCheckpoint = entries.filter(([n]) => !n.includes("checkpoint"));
  assert.deepEqual(planLogCleanup(listing(noCheckpoint, now), now, 0).files, []);
});

Deno.test("log cleanup policy: a younger commit protects later versions; other file kinds", () => {
  const now = 1_000 * HOUR;
  const entries: [string, number][] = [
    [`${v20(0)}.json`, 50],
    [`${v20(1)}.json`, 2], // touched recently (copied?): versions 1.. are not expired
    [`${v20(2)}.json`, 49],
    [`${v20(2)}.checkpoint.parquet`, 49],
    [`${v20(3)}.json`, 48],
  ];
  assert.equal(planLogCleanup(listing(entries, now), now, 10 * HOUR).keepFrom, undefined);
  // Other kinds below the kept checkpoint go; temp files only once themselves expired.
  const kinds: [string, number][] = [
    [`${v20(0)}.json`, 50],
    [`${v20(0)}.crc`, 50],
    [`${v20(1)}.json`, 49],
    [`${v20(1)}.checkpoint.0000000001.0000000001.parquet`, 49],
    [`${v20(0)}.${v20(1)}.compacted.json`, 49],
    [`${v20(1)}.${v20(4)}.compacted.json`, 45],
    [`.${v20(1)}.json.aaaa.tmp`, 49],
    [`.${v20(1)}.json.bbbb.tmp`, 1],
    [`${v20(4)}.json`, 46],
    [`${v20(4)}.checkpoint.parquet`, 46],
    [`${v20(5)}.json`, 1],
    [`${v20(5)}.crc`, 1],
  ];
  const plan = planLogCleanup(listing(kinds, now), now, 10 * HOUR);
  assert.equal(plan.keepFrom, 4);
  assert.deepEqual(plan.files.map((f) => f.path.slice(11)), [
    `${v20(0)}.json`,
    `${v20(0)}.crc`,
    `${v20(1)}.json`,
    `${v20(0)}.${v20(1)}.compacted.json`,
    `${v20(1)}.checkpoint.0000000001.0000000001.parquet`,
    `.${v20(1)}.json.aaaa.tmp`,
  ]);
  // A checkpoint whose commit is gone (another engine's cleanup) is judged by its own time.
  const orphan: [string, number][] = [
    [`${v20(5)}.checkpoint.parquet`, 30],
    [`${v20(6)}.json`, 29],
    [`${v20(8)}.json`, 1],
    [`${v20(8)}.checkpoint.parquet`, 1],
  ];
  const p2 = planLogCleanup(listing(orphan, now), now, 10 * HOUR);
  assert.equal(p2.keepFrom, 5);
  assert.deepEqual(p2.files, []);
  assert.equal(p2.earliest, 5);
});

// ---------------------------------------------------------------------------------------------
// Runs on real tables

Deno.test("auto-compaction run: small files rewritten with dataChange=false, every row once, stats kept", () =>
  withDir(async (dir) => {
    const t = await createTable(dir, ordersSchema());
    const logs: string[] = [];
    const m = new TableMaintenance(t.storage, {
      name: "t",
      overrides: { compactMinFiles: 5 },
      log: (tag, msg) => logs.push(`${tag} ${msg}`),
    });
    for (let i = 0; i < 4; i++) await t.append(orders(10, i * 10));
    let r = await m.run();
    assert.equal(r.compactions, 0, "4 small files: not due");
    await t.append(orders(10, 40));
    r = await m.run();
    assert.deepEqual(
      { c: r.compactions, removed: r.filesCompacted, added: r.filesWritten, failures: r.failures },
      { c: 1, removed: 5, added: 1, failures: 0 },
    );
    assert.ok(r.bytesCompacted > 0);
    const snap = await loadSnapshot(t.storage);
    assert.equal(snap.version, 6);
    assert.equal(snap.files.length, 1);
    assert.deepEqual(sorted(ids(await read(dir))), Array.from({ length: 50 }, (_, i) => i));
    const stats = JSON.parse(snap.files[0].stats!);
    assert.equal(stats.numRecords, 50);
    assert.equal(stats.minValues.order_id, 0);
    assert.equal(stats.maxValues.order_id, 49);
    const actions = await readCommit(t.storage, 6);
    const info = findCommitInfo(actions)!;
    assert.equal(info.operation, "OPTIMIZE");
    assert.equal((info.operationParameters as Record<string, string>).auto, "true");
    const data = actions.filter((a) => "add" in a || "remove" in a);
    assert.equal(data.length, 6);
    for (const a of data) {
      const x = (a as Record<string, unknown>)["add" in a ? "add" : "remove"] as
        | AddAction
        | RemoveAction;
      assert.equal(x.dataChange, false);
    }
    assert.match(logs.join("\n"), /compact t: 5 small files .* → 1 .*50 rows, version 6/);
    // Nothing due any more.
    r = await m.run();
    assert.equal(r.compactions, 0);
    assert.equal((await loadSnapshot(t.storage)).version, 6);
  }));

Deno.test("background compaction: a run hands it over and returns; one at a time; reported by the next run; settle finishes", () =>
  withDir(async (dir) => {
    const t = await createTable(dir, ordersSchema());
    // The compactor is a second TableMaintenance on its own storage view, as the engine's worker
    // keeps one; it is held until released, to see the writer go on meanwhile.
    const other = new TableMaintenance(openStorage(dir), { name: "t" });
    let release!: () => void;
    let calls = 0;
    const m = new TableMaintenance(t.storage, {
      name: "t",
      overrides: { compactMinFiles: 3 },
      compactor: async (settings) => {
        calls++;
        await new Promise<void>((r) => release = r);
        return other.compactNow(settings);
      },
    });
    for (let i = 0; i < 3; i++) await t.append(orders(10, i * 10));
    let r = await m.run();
    assert.equal(calls, 1, "due: handed over");
    assert.equal(r.compactions, 0, "the run did not wait for it");
    await t.append(orders(10, 30)); // the writer goes on while the compaction waits
    r = await m.run();
    assert.equal(calls, 1, "one compaction at a time");
    release();
    const settled = await m.settle();
    assert.deepEqual([settled.compactions, settled.filesCompacted], [1, 4]);
    r = await m.run();
    assert.equal(r.compactions, 0, "reported once");
    const snap = await loadSnapshot(t.storage);
    assert.equal(snap.files.length, 1, "the compactor planned from the latest commits: 4 files");
    assert.deepEqual(sorted(ids(await read(dir))), Array.from({ length: 40 }, (_, i) => i));
    // A final settle compacts what became due since, and waits for it.
    for (let i = 0; i < 3; i++) await t.append(orders(10, 40 + i * 10));
    m.run(); // hands it over (released below)
    await new Promise((r) => setTimeout(r, 10));
    release();
    await m.settle({ final: true });
    assert.equal((await loadSnapshot(t.storage)).files.length, 1);
    assert.deepEqual(sorted(ids(await read(dir))), Array.from({ length: 70 }, (_, i) => i));
  }));

Deno.test("auto-compaction off: --auto-compact false or the table property", () =>
  withDir(async (dir) => {
    const t = await createTable(dir, ordersSchema(), {
      configuration: { "delta.autoOptimize.autoCompact": "false" },
    });
    for (let i = 0; i < 3; i++) await t.append(orders(5, i * 5));
    assert.equal(
      (await new TableMaintenance(t.storage, { overrides: { compactMinFiles: 2 } }).run())
        .compactions,
      0,
    );
    const forced = new TableMaintenance(t.storage, {
      overrides: { compactMinFiles: 2, autoCompact: true },
    });
    assert.equal((await forced.run()).compactions, 1);
    assert.equal(
      (await new TableMaintenance(t.storage, {
        overrides: { compactMinFiles: 1, autoCompact: false },
      }).run()).compactions,
      0,
    );
  }));

/** The table's storage, whose commits first wait for `before()` (another writer's commit). */
function racing(storage: Storage, before: () => Promise<unknown> | undefined): Storage {
  return {
    ...storage,
    async putIfAbsent(path, data) {
      if (/^_delta_log\/\d{20}\.json$/.test(path)) await before();
      return storage.putIfAbsent(path, data);
    },
  };
}

Deno.test("compaction vs a concurrent append: both land, every row exactly once", () =>
  withDir(async (dir) => {
    const t = await createTable(dir, ordersSchema());
    for (let i = 0; i < 3; i++) await t.append(orders(10, i * 10));
    let other: Promise<unknown> | undefined;
    const m = new TableMaintenance(racing(t.storage, () => other), {
      overrides: { compactMinFiles: 3 },
      hook: (point) => {
        // The stream's next batch commits first, at the version the compaction aims at.
        if (point === "before-compaction-commit") {
          other ??= append(dir, orders(10, 30), { txns: { q: 4 } });
        }
      },
    });
    const r = await m.run();
    assert.ok(other, "the hook ran");
    assert.equal(r.compactions, 1);
    assert.equal(r.failures, 0);
    const snap = await loadSnapshot(t.storage);
    assert.equal(snap.version, 5, "append (4) and compaction (5)");
    const info = findCommitInfo(await readCommit(t.storage, 5))!;
    assert.equal(info.operation, "OPTIMIZE");
    assert.equal(info.readVersion, 3, "the compaction read version 3 and retried above 4");
    assert.equal(snap.files.length, 2, "the compacted file and the appended one");
    assert.equal(snap.txnVersion("q"), 4);
    assert.deepEqual(sorted(ids(await read(dir))), Array.from({ length: 40 }, (_, i) => i));
  }));

Deno.test("compaction losing to a concurrent compaction of the same files: logged, retried later, no orphans", () =>
  withDir(async (dir) => {
    const t = await createTable(dir, ordersSchema());
    for (let i = 0; i < 3; i++) await t.append(orders(10, i * 10));
    const logs: string[] = [];
    let other: Promise<unknown> | undefined;
    const m = new TableMaintenance(racing(t.storage, () => other), {
      name: "t",
      overrides: { compactMinFiles: 3 },
      log: (tag, msg) => logs.push(`${tag} ${msg}`),
      hook: (point) => {
        if (point === "before-compaction-commit") other ??= optimize(dir);
      },
    });
    const r = await m.run();
    assert.equal((await other as { version: number }).version, 4, "the other compaction won");
    assert.equal(r.compactions, 0);
    assert.equal(r.failures, 1);
    assert.match(logs.join("\n"), /maintenance t: auto-compaction failed \(concurrent delete/);
    assert.match(logs.join("\n"), /retrying after 1 more commit/);
    // The table holds the other compaction's file; ours was deleted (never referenced).
    const snap = await loadSnapshot(t.storage);
    assert.equal(snap.version, 4);
    assert.equal(snap.files.length, 1);
    const onDisk = (await t.storage.list("")).filter((f) =>
      f.path.endsWith(".parquet") && !f.path.startsWith("_delta_log")
    );
    assert.equal(onDisk.length, 3 + 1, "3 small files (tombstoned) + the other's file only");
    assert.deepEqual(sorted(ids(await read(dir))), Array.from({ length: 30 }, (_, i) => i));
    // Backing off: the next run skips compaction; the one after tries again (nothing due).
    await t.append(orders(1, 100));
    await t.append(orders(1, 101));
    await t.append(orders(1, 102));
    assert.equal((await m.run()).compactions, 0, "skipped (backoff)");
    assert.equal((await m.run()).compactions, 1, "retried");
  }));

Deno.test("checkpoints: maintenance writes a missing one; tombstones past their retention are left out", () =>
  withDir(async (dir) => {
    const t = await createTable(dir, ordersSchema(), {
      configuration: {
        "delta.checkpointInterval": "100",
        "delta.deletedFileRetentionDuration": "interval 1 hours",
      },
    });
    const m = new TableMaintenance(t.storage, {
      overrides: { checkpointInterval: 4, compactMinFiles: 3 },
    });
    for (let i = 0; i < 3; i++) await t.append(orders(5, i * 5));
    let r = await m.run(); // compaction at version 4, then a checkpoint of version 4
    assert.equal(r.compactions, 1);
    assert.equal(r.checkpoints, 1);
    assert.equal((await readLastCheckpoint(t.storage))?.version, 4);
    const removes = (v: number) =>
      t.storage.get(checkpointPath(v)).then((b) =>
        decodeParquet(b, { columns: ["remove"] }).getChild("remove")!.toArray().filter((
          x: { path: string | null } | null,
        ) => x !== null && x.path !== null).length
      );
    assert.equal(await removes(4), 3, "the 3 fresh tombstones are in the checkpoint");
    for (let i = 0; i < 3; i++) await t.append(orders(5, 100 + i * 5));
    r = await new TableMaintenance(t.storage, {
      overrides: { checkpointInterval: 4, autoCompact: false },
    }).run();
    assert.equal(r.checkpoints, 0, "3 commits since the last checkpoint: not due");
    await t.append(orders(5, 200));
    // Later: the tombstones are 2 hours old, past the retention of 1 hour.
    const later = new TableMaintenance(t.storage, {
      overrides: { checkpointInterval: 4, autoCompact: false },
      now: () => Date.now() + 2 * HOUR,
    });
    r = await later.run();
    assert.equal(r.checkpoints, 1);
    assert.equal((await readLastCheckpoint(t.storage))?.version, 8);
    assert.equal(await removes(8), 0, "expired tombstones do not grow the checkpoint");
    const snap = await loadSnapshot(t.storage);
    assert.equal(snap.checkpointVersion, 8);
    assert.equal(sorted(ids(await read(dir))).length, 35);
  }));

Deno.test("advanceSnapshot drops tombstones past delta.deletedFileRetentionDuration", () =>
  withDir(async (dir) => {
    for (const [retention, kept] of [["interval 1 hours", 3], ["interval 0 seconds", 0]] as const) {
      const loc = join(dir, retention.replaceAll(" ", "_"));
      const t = await createTable(loc, ordersSchema(), {
        configuration: { "delta.deletedFileRetentionDuration": retention },
      });
      for (let i = 0; i < 3; i++) await t.append(orders(5, i * 5));
      await optimize(loc);
      const at4 = await loadSnapshot(t.storage, { version: 4 });
      assert.equal(at4.tombstones.length, 3, "the JSON replay keeps the removes");
      await new Promise((r) => setTimeout(r, 5));
      await t.append(orders(5, 100));
      const advanced = await advanceSnapshot(at4);
      assert.equal(advanced.version, 5);
      assert.equal(advanced.files.length, 2);
      assert.equal(advanced.tombstones.length, kept, retention);
    }
  }));

async function setAge(dir: string, names: string[], ageMs: number): Promise<void> {
  const t = new Date(Date.now() - ageMs);
  for (const n of names) await Deno.utime(join(dir, "_delta_log", n), t, t);
}

Deno.test("log cleanup run: expired commits and checkpoints deleted up to a checkpoint; later versions readable", () =>
  withDir(async (dir) => {
    const t = await createTable(dir, ordersSchema(), {
      configuration: {
        "delta.checkpointInterval": "3",
        "delta.logRetentionDuration": "interval 1 hours",
      },
    });
    for (let i = 1; i <= 10; i++) await t.append(orders(3, i * 10));
    // Versions 0..7 (and checkpoints 3, 6) are 2 hours old; 8..10 and checkpoint 9 are new.
    const old = (vs: number[]) =>
      vs.flatMap((
        v,
      ) => [`${v20(v)}.json`, ...(v % 3 === 0 && v > 0 ? [`${v20(v)}.checkpoint.parquet`] : [])]);
    await setAge(dir, old([0, 1, 2, 3, 4, 5, 6, 7]), 2 * HOUR);
    const expected = canon(await read(dir));
    const logs: string[] = [];
    const m = new TableMaintenance(t.storage, {
      name: "t",
      overrides: { autoCompact: false },
      log: (tag, msg) => logs.push(`${tag} ${msg}`),
    });
    const r = await m.run();
    assert.equal(r.logFilesRemoved, 7, "commits 0..5 and checkpoint 3");
    assert.match(
      logs.join("\n"),
      /cleanup t: 7 expired log files deleted; the log starts at version 6/,
    );
    const names = async () =>
      (await t.storage.list("_delta_log/")).map((f) => f.path.slice(11)).filter((n) =>
        !n.startsWith(".")
      ).sort();
    assert.deepEqual(await names(), [
      `${v20(6)}.checkpoint.parquet`,
      `${v20(6)}.json`,
      `${v20(7)}.json`,
      `${v20(8)}.json`,
      `${v20(9)}.checkpoint.parquet`,
      `${v20(9)}.json`,
      `${v20(10)}.json`,
      "_last_checkpoint",
    ]);
    assert.deepEqual(canon(await read(dir)), expected);
    for (let v = 6; v <= 10; v++) {
      assert.equal((await read(dir, { version: v })).numRows, v * 3, `version ${v}`);
    }
    await assert.rejects(read(dir, { version: 5 }), VersionNotFoundError);
    await assert.rejects(read(dir, { timestamp: Date.now() - 3 * HOUR }), VersionNotFoundError);

    // Later runs know the checkpoints: no listing, only the commits' times. Age 6..11, add 12..13.
    await t.append(orders(3, 110));
    await t.append(orders(3, 120));
    await t.append(orders(3, 130)); // version 13; checkpoint 12 by the writer
    await setAge(dir, [...old([6, 7, 8, 9, 10, 11]), `${v20(12)}.checkpoint.parquet`], 2 * HOUR);
    let listed = 0;
    const counting = { ...t.storage, list: (p: string) => (listed++, t.storage.list(p)) };
    // (the same TableMaintenance, through a storage that counts listings)
    // deno-lint-ignore no-explicit-any
    (m as any).storage = counting;
    const r2 = await m.run();
    assert.equal(listed, 0, "no listing of _delta_log after the first cleanup");
    assert.equal(r2.logFilesRemoved, 4, "commits 6, 7, 8 and checkpoint 6");
    assert.deepEqual((await names()).slice(0, 3), [
      `${v20(9)}.checkpoint.parquet`,
      `${v20(9)}.json`,
      `${v20(10)}.json`,
    ]);
    assert.equal((await read(dir, { version: 9 })).numRows, 27);
    assert.equal((await read(dir)).numRows, 39);
  }));

Deno.test("log cleanup interrupted after any number of deletions leaves a readable table", () =>
  withDir(async (dir) => {
    const t = await createTable(dir, ordersSchema(), {
      configuration: { "delta.checkpointInterval": "2" },
    });
    for (let i = 1; i <= 7; i++) await t.append(orders(2, i * 10));
    const rows = canon(await read(dir));
    const total = (await cleanupExpiredLogs(openStorage(dir), {
      retentionMs: 0,
      now: Date.now() + 1000,
      maxFiles: 0,
    })).remaining;
    assert.equal(total, 8, "commits 0..5 and checkpoints 2, 4 (6 stays, the newest expired)");
    for (let k = 1; k <= total; k++) {
      const r = await cleanupExpiredLogs(openStorage(dir), {
        retentionMs: 0,
        now: Date.now() + 1000,
        maxFiles: 1,
      });
      assert.equal(r.deleted, 1);
      assert.deepEqual(canon(await read(dir)), rows, `after ${k} deletions`);
      assert.equal((await read(dir, { version: 6 })).numRows, 12);
    }
    assert.equal((await cleanupExpiredLogs(openStorage(dir), { retentionMs: 0 })).deleted, 0);
    assert.equal(await t.storage.head(commitPath(6)).then((f) => f !== undefined), true);
  }));

Deno.test("log cleanup keeps every file while the checkpoint the log would start at is damaged", () =>
  withDir(async (dir) => {
    const t = await createTable(dir, ordersSchema(), {
      configuration: { "delta.checkpointInterval": "2" },
    });
    for (let i = 1; i <= 5; i++) await t.append(orders(2, i * 10)); // checkpoints at 2 and 4
    const before = (await t.storage.list("_delta_log/")).map((f) => f.path).sort();
    // Checkpoint 4 (where the log would start) loses its tail: it no longer parses.
    const cp = `_delta_log/${v20(4)}.checkpoint.parquet`;
    const bytes = (await t.storage.get(cp))!;
    await Deno.writeFile(join(dir, cp), bytes.slice(0, bytes.length - 100));
    const later = { retentionMs: 0, now: Date.now() + 1000 };
    await assert.rejects(
      () => cleanupExpiredLogs(openStorage(dir), later),
      (e: unknown) =>
        e instanceof CorruptLogError && e.file === cp &&
        /log cleanup kept every file: the checkpoint the log would start at cannot be read/
          .test(e.message),
    );
    assert.deepEqual((await t.storage.list("_delta_log/")).map((f) => f.path).sort(), before);
    // Once the damaged file (and _last_checkpoint, which names it) is gone, cleanup starts the
    // log at checkpoint 2, which reads.
    await t.storage.delete(cp);
    await t.storage.delete("_delta_log/_last_checkpoint");
    const r = await cleanupExpiredLogs(openStorage(dir), later);
    assert.equal(r.keepFrom, 2);
    assert.equal(r.deleted, 2, "commits 0 and 1");
    assert.equal((await read(dir)).numRows, 10);
  }));

function canon(t: Parameters<typeof ids>[0]): number[] {
  return sorted(ids(t));
}
