// kill -9 of the raw stream inside table maintenance (the STREAM_FAULT maintenance points), then
// a rerun: the table stays readable after the kill, and after the rerun every record is in it
// exactly once and delta-rs reads it.
import assert from "node:assert/strict";
import { join } from "node:path";
import { commitPath, findCommitInfo, readCommit } from "../../lib/delta/log.ts";
import { loadSnapshot } from "../../lib/delta/snapshot.ts";
import { DELTA_MAINTENANCE_FAULT_POINTS } from "../../lib/engine/fault.ts";
import { openStorage } from "../../lib/storage/mod.ts";
import { deltalakeAvailable, pythonPath, REPO_ROOT } from "../support/python.ts";
import { deleteTopics, testKafka } from "../support/kafka.ts";
import {
  baseArgs,
  freshTopic,
  produce,
  runNotebook,
  tableRows,
  type TestRecord,
} from "../support/stream.ts";

const haveDeltaRs = await deltalakeAvailable().catch(() => false);
const N = 600;

function records(): TestRecord[] {
  return Array.from({ length: N }, (_, i) => ({ key: `k${i % 31}`, value: `crash ${i}` }));
}

/** Flags that make each point happen early: compaction after 3 batches, cleanup at once. */
const EXTRA: Record<string, string[]> = {
  "before-compaction-commit": ["--compact-min-files", "3"],
  "after-compaction-commit": ["--compact-min-files", "3"],
  "during-log-cleanup": ["--log-retention", "0s", "--checkpoint-interval", "2"],
};

async function assertExactlyOnce(table: string, values: string[]): Promise<void> {
  const rows = await tableRows(table);
  assert.deepEqual(
    rows.map((r) => String(r.value)).sort(),
    [...values].sort(),
    "rows exactly once",
  );
  assert.equal(new Set(rows.map((r) => `${r.partition}:${r.offset}`)).size, values.length);
}

Deno.test({
  name: "crash: kill -9 inside table maintenance, then rerun: readable, no loss, no duplicates",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn(t) {
    const topic = await freshTopic("stream-maintenance-crash", 3);
    const all = records();
    const values = all.map((r) => String(r.value));
    await produce(topic, all);
    try {
      for (const point of DELTA_MAINTENANCE_FAULT_POINTS) {
        await t.step(point, async () => {
          const dir = await Deno.makeTempDir({ prefix: "maintenance-crash-" });
          const table = join(dir, "orders_raw");
          const args = [
            ...baseArgs(topic),
            "--table",
            table,
            "--available-now",
            "--progress",
            "json",
            "--max-offsets-per-trigger",
            "50",
            "--query-name",
            `mcrash_${point.replaceAll("-", "_")}`,
            "--session-timeout-ms",
            "6000",
            ...EXTRA[point],
          ];
          try {
            const killed = await runNotebook("raw", args, { STREAM_FAULT: `${point}:1` });
            assert.equal(
              killed.signal,
              "SIGKILL",
              `${point}: killed (${killed.stderr.slice(-500)})`,
            );
            const storage = openStorage(table);
            const snap = await loadSnapshot(storage);
            const rowsAfterKill = (await tableRows(table)).length;
            // Compaction runs in the background, so the batches may all be in before it dies.
            assert.ok(rowsAfterKill > 0 && rowsAfterKill <= N, `some batches in: ${rowsAfterKill}`);
            const operations: string[] = [];
            // (The compaction points only: a log cleanup deletes the first commits.)
            for (let v = 0; point !== "during-log-cleanup" && v <= snap.version; v++) {
              operations.push(findCommitInfo(await readCommit(storage, v))?.operation ?? "");
            }
            if (point === "before-compaction-commit") {
              assert.ok(!operations.includes("OPTIMIZE"), "no OPTIMIZE committed");
              const onDisk = (await storage.list("")).filter((f) =>
                f.path.endsWith(".parquet") && !f.path.startsWith("_delta_log/")
              );
              assert.equal(onDisk.length, snap.files.length + 1, "one orphan compacted file");
            }
            if (point === "after-compaction-commit") {
              const at = operations.indexOf("OPTIMIZE");
              assert.equal(operations.filter((o) => o === "OPTIMIZE").length, 1, "one OPTIMIZE");
              const actions = await readCommit(storage, at);
              const removed = actions.flatMap((a) =>
                "remove" in a ? [(a as { remove: { path: string } }).remove.path] : []
              );
              const added = actions.flatMap((a) =>
                "add" in a ? [(a as { add: { path: string } }).add.path] : []
              );
              assert.ok(removed.length >= 3, `small files compacted: ${removed.length}`);
              assert.equal(added.length, 1, "into one file");
              const live = new Set(snap.files.map((f) => f.path));
              assert.ok(live.has(added[0]) && removed.every((p) => !live.has(p)));
            }
            if (point === "during-log-cleanup") {
              assert.equal(await storage.head(commitPath(0)), undefined, "the first file deleted");
              assert.ok(await storage.head(commitPath(1)), "the next one not yet");
            }
            const rerun = await runNotebook("raw", args);
            assert.equal(rerun.code, 0, rerun.stderr.slice(-2000));
            await assertExactlyOnce(table, values);
            if (haveDeltaRs) {
              const latest = (await loadSnapshot(storage)).version;
              const dump = await new Deno.Command(pythonPath(), {
                args: [
                  join(REPO_ROOT, "tests", "interop", "deltalake_dump.py"),
                  table,
                  String(latest),
                ],
                stdout: "piped",
                stderr: "piped",
              }).output();
              const v = JSON.parse(new TextDecoder().decode(dump.stdout)).versions[0];
              assert.equal(v.error, undefined, v.error);
              assert.equal(v.rowsError, undefined, v.rowsError);
              assert.deepEqual(
                v.rows.map((r: Record<string, unknown>) => String(r.value)).sort(),
                [...values].sort(),
                "delta-rs: every row exactly once",
              );
            }
          } finally {
            await Deno.remove(dir, { recursive: true });
          }
        });
      }
    } finally {
      await deleteTopics(testKafka(), [topic]).catch(() => {});
    }
  },
});
