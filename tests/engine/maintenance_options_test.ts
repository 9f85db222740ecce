// The table-maintenance flags of the Delta streams, their fault points and how progress shows
// maintenance.
import assert from "node:assert/strict";
import { ConfigError } from "../../lib/config.ts";
import { DELTA_MAINTENANCE_FAULT_POINTS, parseFault } from "../../lib/engine/fault.ts";
import { DELTA_STREAM_OPTIONS, parseStreamOptions, streamHelp } from "../../lib/engine/options.ts";
import {
  addMaintenance,
  type BatchProgress,
  formatMaintenance,
  formatProgressJson,
  formatProgressText,
  formatSummaryText,
  type MaintenanceProgress,
  type QuerySummary,
} from "../../lib/engine/progress.ts";

Deno.test("maintenance flags: none given → none forced (table properties and defaults apply)", () => {
  assert.deepEqual(parseStreamOptions({}, "orders_raw").maintenance, {});
});

Deno.test("maintenance flags parse into overrides", () => {
  const o = parseStreamOptions({
    "auto-compact": "false",
    "compact-background": "false",
    "compact-min-files": "8",
    "compact-target-size": "64MB",
    "checkpoint-interval": "5",
    "log-cleanup": "true",
    "log-retention": "12h",
  }, "orders_raw");
  assert.deepEqual(o.maintenance, {
    autoCompact: false,
    compactInBackground: false,
    compactMinFiles: 8,
    compactTargetSize: 64 * 1024 * 1024,
    checkpointInterval: 5,
    logCleanup: true,
    logRetentionMs: 12 * 3_600_000,
  });
  assert.equal(
    parseStreamOptions({ "log-retention": "interval 30 days" }, "q").maintenance.logRetentionMs,
    30 * 86_400_000,
    "Delta's spelling",
  );
  assert.equal(
    parseStreamOptions({ "log-retention": "30d" }, "q").maintenance.logRetentionMs,
    30 * 86_400_000,
  );
  assert.equal(parseStreamOptions({ "log-retention": "0s" }, "q").maintenance.logRetentionMs, 0);
});

Deno.test("maintenance flags: bad values are clear one-line errors", () => {
  const bad: [Record<string, string>, RegExp][] = [
    [{ "auto-compact": "yes" }, /--auto-compact must be true or false/],
    [{ "log-cleanup": "1" }, /--log-cleanup must be true or false/],
    [{ "compact-min-files": "0" }, /--compact-min-files must be a positive integer/],
    [{ "checkpoint-interval": "ten" }, /--checkpoint-interval must be a positive integer/],
    [{ "compact-target-size": "big" }, /--compact-target-size must be a size like 128MB/],
    [{ "log-retention": "a while" }, /duration 'a while' is not understood/],
  ];
  for (const [flags, message] of bad) {
    assert.throws(() => parseStreamOptions(flags, "q"), (e: Error) => {
      assert.ok(e instanceof ConfigError, `${JSON.stringify(flags)}: ${e}`);
      assert.match(e.message, message);
      assert.ok(!e.message.includes("\n"));
      return true;
    });
  }
});

Deno.test("maintenance flags are Delta stream flags, in the help with their properties", () => {
  for (
    const f of [
      "auto-compact",
      "compact-min-files",
      "compact-target-size",
      "checkpoint-interval",
      "log-cleanup",
      "log-retention",
    ]
  ) {
    assert.equal(
      (DELTA_STREAM_OPTIONS as Record<string, { type: string }>)[f]?.type,
      "string",
      f,
    );
  }
  const help = streamHelp({ queryName: "orders_raw", sink: "delta" });
  for (
    const s of [
      "--auto-compact",
      "delta.autoOptimize.autoCompact",
      "delta.autoCompact.minNumFiles",
      "delta.autoCompact.maxFileSize",
      "delta.checkpointInterval",
      "delta.enableExpiredLogCleanup",
      "delta.logRetentionDuration",
    ]
  ) assert.ok(help.includes(s), s);
  assert.ok(!streamHelp({ queryName: "q", sink: "kafka" }).includes("--auto-compact"));
});

Deno.test("maintenance fault points parse", () => {
  assert.deepEqual([...DELTA_MAINTENANCE_FAULT_POINTS], [
    "before-compaction-commit",
    "after-compaction-commit",
    "during-log-cleanup",
  ]);
  for (const p of DELTA_MAINTENANCE_FAULT_POINTS) {
    assert.deepEqual(parseFault(`${p}:3`), { point: p, batch: 3 });
  }
  assert.throws(() => parseFault("during-compaction:1"), /STREAM_FAULT/);
});

const m = (o: Partial<MaintenanceProgress>): MaintenanceProgress => ({
  compactions: 0,
  filesCompacted: 0,
  filesWritten: 0,
  bytesCompacted: 0,
  checkpoints: 0,
  logFilesRemoved: 0,
  failures: 0,
  ...o,
});

Deno.test("progress shows maintenance when it did something; the summary adds it up", () => {
  assert.equal(formatMaintenance(m({})), "");
  assert.equal(
    formatMaintenance(
      m({ compactions: 1, filesCompacted: 50, filesWritten: 1, logFilesRemoved: 12 }),
    ),
    "compacted 50 → 1 files, 12 log files removed",
  );
  assert.equal(
    formatMaintenance(m({ checkpoints: 1, failures: 2 })),
    "1 checkpoint(s), 2 maintenance failure(s)",
  );
  const p: BatchProgress = {
    name: "orders_raw",
    batchId: 3,
    timestamp: "2024-01-01T00:00:00.000Z",
    numInputRows: 10,
    processedRowsPerSecond: 10,
    durationMs: { build: 1, write: 2, maintenance: 30, total: 40 },
    topic: "t",
    startOffset: { "0": 0 },
    endOffset: { "0": 10 },
    latestOffset: { "0": 10 },
    lag: { "0": 0 },
    sink: { orders_raw: { rows: 10, version: 9 } },
    maintenance: m({ compactions: 1, filesCompacted: 8, filesWritten: 1 }),
  };
  assert.ok(formatProgressText(p).includes("orders_raw +10 (v9)  compacted 8 → 1 files  end"));
  assert.deepEqual(JSON.parse(formatProgressJson(p)).maintenance, p.maintenance);
  assert.equal(JSON.parse(formatProgressJson(p)).durationMs.maintenance, 30);
  assert.ok(!formatProgressText({ ...p, maintenance: undefined }).includes("compacted"));
  let sum = addMaintenance(undefined, m({ compactions: 1, filesCompacted: 8, filesWritten: 1 }));
  sum = addMaintenance(
    sum,
    m({ compactions: 2, filesCompacted: 16, filesWritten: 2, logFilesRemoved: 5 }),
  );
  assert.deepEqual(
    sum,
    m({ compactions: 3, filesCompacted: 24, filesWritten: 3, logFilesRemoved: 5 }),
  );
  const summary: QuerySummary = {
    name: "orders_raw",
    batches: 2,
    records: 20,
    rows: { orders_raw: 20 },
    deadLetters: 0,
    droppedBatches: 0,
    seconds: 1,
    recordsPerSecond: 20,
    peakRssBytes: 1e8,
    ended: "finished",
    positions: {},
    maintenance: sum,
  };
  assert.match(
    formatSummaryText(summary),
    /; maintenance: compacted 24 → 3 files, 5 log files removed$/,
  );
});
