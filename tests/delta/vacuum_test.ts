import { openStorage } from "../../lib/storage/mod.ts";
import { tempTableLocation } from "../support/storage_backends.ts";
import assert from "node:assert/strict";
import { join } from "node:path";
import * as arrow from "apache-arrow";
import { history, overwrite, read, snapshot } from "../../lib/delta/table.ts";
import { append, createTable } from "../../lib/delta/table.ts";
import { RetentionTooShortError, vacuum } from "../../lib/delta/vacuum.ts";
import { canonRows } from "../support/canon.ts";
import { column } from "../support/delta_fixtures.ts";

const SCHEMA = new arrow.Schema([new arrow.Field("id", new arrow.Int64(), true)]);
const HOUR = 3_600_000;

function ids(values: number[]): arrow.Table {
  return new arrow.Table({
    id: arrow.makeVector(column(new arrow.Int64(), values.map(BigInt), BigInt64Array)),
  });
}

async function listFiles(dir: string): Promise<string[]> {
  return (await openStorage(dir).list("")).map((f) => f.path);
}

Deno.test("vacuum deletes only unreferenced files past the retention; dry run by default", async () => {
  const tmp = await tempTableLocation("vacuum");
  const dir = tmp.location;
  try {
    await createTable(dir, SCHEMA);
    await append(dir, ids([1, 2]));
    const old = (await snapshot(dir)).files.map((f) => f.path);
    await overwrite(dir, ids([3]));
    const live = (await snapshot(dir)).files.map((f) => f.path);
    // An orphan (failed writer), hidden files and a file under _-prefixed dir: only the orphan may go.
    const st = openStorage(dir);
    await st.put("orphan.parquet", new Uint8Array([1]));
    await st.put("_tmp/x.parquet", new Uint8Array([1]));
    await st.put(".hidden.parquet", new Uint8Array([1]));
    const logBefore = (await listFiles(dir)).filter((p) => p.startsWith("_delta_log/"));

    // Now: everything is fresh, nothing to delete.
    const fresh = await vacuum(dir);
    assert.equal(fresh.dryRun, true);
    assert.deepEqual(fresh.files, []);

    // 200 hours later (default retention 168 h): the overwritten file and the orphan, dry run first.
    const later = Date.now() + 200 * HOUR;
    const plan = await vacuum(dir, { now: later });
    assert.deepEqual(plan.files, [...old, "orphan.parquet"].sort());
    assert.equal(plan.deleted, 0);
    assert.ok(await st.head(decodeURIComponent(old[0])), "dry run deletes nothing");

    const done = await vacuum(dir, { now: later, dryRun: false });
    assert.equal(done.deleted, 2);
    const remaining = await listFiles(dir);
    for (const p of old) assert.ok(!remaining.includes(p));
    assert.ok(!remaining.includes("orphan.parquet"));
    for (const p of [...live, "_tmp/x.parquet", ".hidden.parquet", ...logBefore]) {
      assert.ok(remaining.includes(p), `${p} must survive`);
    }
    assert.deepEqual(canonRows(await read(dir)), [{ id: "3" }]);
    const ops = (await history(dir)).map((h) => h.operation);
    assert.deepEqual(ops.slice(0, 2), ["VACUUM END", "VACUUM START"]);
  } finally {
    await tmp.cleanup();
  }
});

Deno.test("a recent tombstone protects its file; short retention needs force", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await createTable(dir, SCHEMA);
    await append(dir, ids([1]));
    const old = (await snapshot(dir)).files.map((f) => f.path);
    await overwrite(dir, ids([2]));
    await assert.rejects(() => vacuum(dir, { retentionHours: 0 }), RetentionTooShortError);
    await assert.rejects(() => vacuum(dir, { retentionHours: 167 }), /below the table's 168 h/);
    // The file itself is old (mtime 1000 h ago) but was removed just now: with a 2 h retention,
    // evaluated 1 h later, its tombstone still protects it.
    const ago = new Date(Date.now() - 1000 * HOUR);
    await Deno.utime(join(dir, decodeURIComponent(old[0])), ago, ago);
    const t = Date.now() + 1 * HOUR;
    const kept = await vacuum(dir, { retentionHours: 2, force: true, now: t });
    assert.deepEqual(kept.files, []);
    const gone = await vacuum(dir, { retentionHours: 0, force: true, now: t });
    assert.deepEqual(gone.files, old);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
