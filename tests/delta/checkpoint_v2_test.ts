// V2 checkpoints (feature `v2Checkpoint`, lib/delta/checkpoint.ts, log.ts, maintenance.ts):
// reading hand-built UUID-named and classic-named V2 checkpoints with sidecars (built here from
// PROTOCOL.md with apache-arrow, not with our writer), writing them on tables whose
// `delta.checkpointPolicy` is v2, and log cleanup of sidecars.
import assert from "node:assert/strict";
import { join } from "node:path";
import * as arrow from "apache-arrow";
import { serializeActions } from "../../lib/delta/actions.ts";
import {
  checkpointStateOf,
  readCheckpoint,
  referencedSidecars,
  writeCheckpoint,
} from "../../lib/delta/checkpoint.ts";
import { CorruptLogError } from "../../lib/delta/errors.ts";
import { commitPath, listLog, readLastCheckpoint } from "../../lib/delta/log.ts";
import { cleanupExpiredLogs, TableMaintenance } from "../../lib/delta/maintenance.ts";
import { encodeParquet } from "../../lib/delta/parquet.ts";
import { loadSnapshot, type Snapshot } from "../../lib/delta/snapshot.ts";
import { createTable, read } from "../../lib/delta/table.ts";
import { vacuum } from "../../lib/delta/vacuum.ts";
import { openStorage } from "../../lib/storage/mod.ts";
import { ids, orders, ordersSchema } from "./_core_fixtures.ts";

const DAY = 86_400_000;
const V2 = { "delta.checkpointPolicy": "v2" };
const v20 = (n: number) => String(n).padStart(20, "0");

async function withDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "checkpoint-v2-" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** Names in `_delta_log` (sidecars as `_sidecars/<name>`), sorted, without our temp files. */
async function logNames(dir: string): Promise<string[]> {
  return (await openStorage(dir).list("_delta_log/")).map((f) => f.path.slice(11))
    .filter((n) => !n.startsWith(".")).sort();
}

/** The state of a snapshot that must not depend on how it was loaded. */
function state(s: Snapshot) {
  const norm = (o: unknown) =>
    JSON.parse(JSON.stringify(o, (_k, v) => (typeof v === "bigint" ? `${v}n` : v)));
  return {
    version: s.version,
    protocol: norm(s.protocol),
    metadata: norm(s.metadata),
    files: s.files.map((f) => norm({ ...f, dataChange: undefined })).sort((a, b) =>
      a.path < b.path ? -1 : 1
    ),
    tombstones: s.tombstones.map((r) => r.path).sort(),
    txns: Object.fromEntries([...s.txns].map(([k, t]) => [k, String(t.version)])),
  };
}

// ---------------------------------------------------------------------------------------------
// Hand-built V2 checkpoints (PROTOCOL.md "V2 Spec", "Sidecar File Information")

const str = () => new arrow.Utf8();
const i64 = () => new arrow.Int64();
const fld = (n: string, t: arrow.DataType) => new arrow.Field(n, t, true);
const strMap = () =>
  new arrow.Map_(
    new arrow.Field(
      "key_value",
      new arrow.Struct<{ key: arrow.Utf8; value: arrow.Utf8 }>([
        new arrow.Field("key", str(), false),
        new arrow.Field("value", str(), true),
      ]),
      false,
    ),
  );
const ADD = new arrow.Struct([
  fld("path", str()),
  fld("partitionValues", strMap()),
  fld("size", i64()),
  fld("modificationTime", i64()),
  fld("dataChange", new arrow.Bool()),
  fld("stats", str()),
]);
const REMOVE = new arrow.Struct([
  fld("path", str()),
  fld("deletionTimestamp", i64()),
  fld("dataChange", new arrow.Bool()),
]);
const SIDECAR = new arrow.Struct([
  fld("path", str()),
  fld("sizeInBytes", i64()),
  fld("modificationTime", i64()),
  fld("tags", strMap()),
]);
const CHECKPOINT_METADATA = new arrow.Struct([fld("version", i64()), fld("tags", strMap())]);

// deno-lint-ignore no-explicit-any
type Obj = Record<string, any>;
const big = (n: unknown) => (n === undefined || n === null ? null : BigInt(n as number));
const addRow = (a: Obj) => ({
  path: a.path,
  partitionValues: new Map(Object.entries(a.partitionValues ?? {})),
  size: big(a.size),
  modificationTime: big(a.modificationTime),
  dataChange: false,
  stats: a.stats ?? null,
});
const removeRow = (r: Obj) => ({
  path: r.path,
  deletionTimestamp: big(r.deletionTimestamp),
  dataChange: false,
});

/** A sidecar Parquet file: `add` and `remove` struct columns, one action per row. */
function sidecarBytes(adds: Obj[], removes: Obj[]): Uint8Array {
  const add = [...adds.map(addRow), ...removes.map(() => null)];
  const remove = [...adds.map(() => null), ...removes.map(removeRow)];
  return encodeParquet(
    new arrow.Table({
      add: arrow.vectorFromArray(add, ADD),
      remove: arrow.vectorFromArray(remove, REMOVE),
    }),
  );
}

/** Non-file actions of a snapshot, as JSON lines of a V2 checkpoint. */
function nonFileActions(s: Snapshot): Obj[] {
  return [
    { protocol: s.protocol },
    { metaData: s.metadata },
    ...[...s.txns.values()].map((t) => ({ txn: t })),
  ];
}

/**
 * A table (policy v2) whose version 3 has files, a tombstone and txns; the JSON commits 0..3
 * are deleted after the checkpoint is built by `build`, so the checkpoint alone must rebuild it.
 */
async function handBuilt(
  dir: string,
  build: (s: Snapshot, sidecars: Obj[]) => Promise<string>,
): Promise<{ expected: ReturnType<typeof state>; rows: number[]; path: string }> {
  const t = await createTable(dir, ordersSchema(), { configuration: V2 });
  await t.append(orders(3, 0), { txns: { app: 1 } });
  await t.overwrite(orders(4, 10), { txns: { app: 2 } }); // 1 file removed
  await t.append(orders(5, 20), { txns: { other: 7 } }); // version 3
  const s = await loadSnapshot(t.storage);
  assert.equal(s.version, 3);
  assert.equal(s.files.length, 2);
  assert.equal(s.tombstones.length, 1);
  const rows = ids(await read(dir));
  // Two sidecars: the first add in one, the second add and the remove in the other.
  const parts = [sidecarBytes([s.files[0]], []), sidecarBytes([s.files[1]], s.tombstones)];
  const sidecars: Obj[] = [];
  for (const bytes of parts) {
    const name = `${crypto.randomUUID()}.parquet`;
    await t.storage.put(`_delta_log/_sidecars/${name}`, bytes);
    sidecars.push({
      path: name,
      sizeInBytes: bytes.length,
      modificationTime: Date.now(),
      tags: {},
    });
  }
  const path = await build(s, sidecars);
  const expected = state(s);
  for (let v = 0; v <= 3; v++) await t.storage.delete(commitPath(v));
  return { expected, rows, path };
}

Deno.test("reads a UUID-named JSON V2 checkpoint whose file actions are in two sidecars", () =>
  withDir(async (dir) => {
    const { expected, rows, path } = await handBuilt(dir, async (s, sidecars) => {
      const path = `_delta_log/${v20(3)}.checkpoint.${crypto.randomUUID()}.json`;
      const lines = [
        { checkpointMetadata: { version: 3, tags: {} } },
        ...nonFileActions(s),
        ...sidecars.map((sc) => ({ sidecar: sc })),
      ];
      await openStorage(dir).put(path, new TextEncoder().encode(serializeActions(lines)));
      // _last_checkpoint as Spark writes it for V2 checkpoints (v2Checkpoint, checkpointSchema).
      await openStorage(dir).put(
        "_delta_log/_last_checkpoint",
        new TextEncoder().encode(JSON.stringify({
          version: 3,
          size: lines.length + 3,
          sizeInBytes: 1234,
          numOfAddFiles: 2,
          v2Checkpoint: {
            path: path.slice(11),
            sizeInBytes: 1234,
            modificationTime: Date.now(),
            nonFileActions: nonFileActions(s),
            sidecarFiles: sidecars,
          },
          checkpointSchema: { type: "struct", fields: [] },
        })),
      );
      return path;
    });
    const snap = await loadSnapshot(openStorage(dir));
    assert.equal(snap.checkpointVersion, 3);
    assert.deepEqual(state(snap), expected);
    assert.deepEqual(ids(await read(dir)), rows);
    assert.equal(rows.length, 9);
    const listing = await listLog(openStorage(dir));
    assert.deepEqual(listing.checkpoints.map((c) => [c.version, c.checkpoint]), [[3, "uuid"]]);
    assert.equal((await referencedSidecars(openStorage(dir), path)).length, 2);
    assert.equal((await readLastCheckpoint(openStorage(dir)))?.version, 3);

    // A missing sidecar is a damaged checkpoint, named.
    const [first] = await referencedSidecars(openStorage(dir), path);
    await openStorage(dir).delete(first);
    await assert.rejects(
      () => loadSnapshot(openStorage(dir)),
      (e: unknown) =>
        e instanceof CorruptLogError && e.message.includes(first) && /missing/.test(e.message),
    );
  }));

Deno.test("reads a UUID-named Parquet V2 checkpoint with sidecars, and a classic-named V2 one", () =>
  withDir(async (dir) => {
    let top: Uint8Array = new Uint8Array();
    const { expected, rows, path } = await handBuilt(dir, async (s, sidecars) => {
      // Rows: checkpointMetadata, protocol, metaData, txns, sidecars (one non-null column each).
      const n = 3 + s.txns.size + sidecars.length;
      const col = (at: number[], values: unknown[]) => {
        const out: unknown[] = new Array(n).fill(null);
        at.forEach((i, k) => (out[i] = values[k]));
        return out;
      };
      const p = s.protocol, m = s.metadata;
      const txnAt = [...s.txns.keys()].map((_, i) => 3 + i);
      const scAt = sidecars.map((_, i) => 3 + s.txns.size + i);
      const table = new arrow.Table({
        checkpointMetadata: arrow.vectorFromArray(
          col([0], [{ version: 3n, tags: null }]),
          CHECKPOINT_METADATA,
        ),
        protocol: arrow.vectorFromArray(
          col([1], [{
            minReaderVersion: p.minReaderVersion,
            minWriterVersion: p.minWriterVersion,
            readerFeatures: p.readerFeatures,
            writerFeatures: p.writerFeatures,
          }]),
          new arrow.Struct([
            fld("minReaderVersion", new arrow.Int32()),
            fld("minWriterVersion", new arrow.Int32()),
            fld("readerFeatures", new arrow.List(fld("element", str()))),
            fld("writerFeatures", new arrow.List(fld("element", str()))),
          ]),
        ),
        metaData: arrow.vectorFromArray(
          col([2], [{
            id: m.id,
            format: { provider: "parquet", options: new Map() },
            schemaString: m.schemaString,
            partitionColumns: m.partitionColumns,
            configuration: new Map(Object.entries(m.configuration)),
            createdTime: big(m.createdTime),
          }]),
          new arrow.Struct([
            fld("id", str()),
            fld("format", new arrow.Struct([fld("provider", str()), fld("options", strMap())])),
            fld("schemaString", str()),
            fld("partitionColumns", new arrow.List(fld("element", str()))),
            fld("configuration", strMap()),
            fld("createdTime", i64()),
          ]),
        ),
        txn: arrow.vectorFromArray(
          col(
            txnAt,
            [...s.txns.values()].map((t) => ({
              appId: t.appId,
              version: big(t.version),
              lastUpdated: big(t.lastUpdated),
            })),
          ),
          new arrow.Struct([fld("appId", str()), fld("version", i64()), fld("lastUpdated", i64())]),
        ),
        sidecar: arrow.vectorFromArray(
          col(
            scAt,
            sidecars.map((sc) => ({
              path: sc.path,
              sizeInBytes: BigInt(sc.sizeInBytes),
              modificationTime: BigInt(sc.modificationTime),
              tags: null,
            })),
          ),
          SIDECAR,
        ),
        // No file actions here: they are all in the sidecars.
        add: arrow.vectorFromArray(new Array(n).fill(null), ADD),
        remove: arrow.vectorFromArray(new Array(n).fill(null), REMOVE),
      });
      top = encodeParquet(table);
      const path = `_delta_log/${v20(3)}.checkpoint.${crypto.randomUUID()}.parquet`;
      await openStorage(dir).put(path, top);
      return path;
    });
    let snap = await loadSnapshot(openStorage(dir));
    assert.equal(snap.checkpointVersion, 3);
    assert.deepEqual(state(snap), expected);
    assert.deepEqual(ids(await read(dir)), rows);
    const actions = await readCheckpoint(openStorage(dir), 3, path);
    assert.equal(actions.filter((a) => "checkpointMetadata" in a).length, 1);
    assert.equal(actions.filter((a) => "sidecar" in a).length, 2);
    assert.equal(actions.filter((a) => "add" in a).length, 2);
    assert.equal(actions.filter((a) => "remove" in a).length, 1);

    // The same V2 content under the classic name, with the UUID-named one gone.
    await openStorage(dir).delete(path);
    await openStorage(dir).put(`_delta_log/${v20(3)}.checkpoint.parquet`, top);
    snap = await loadSnapshot(openStorage(dir));
    assert.equal(snap.checkpointVersion, 3);
    assert.deepEqual(state(snap), expected);
    assert.deepEqual(ids(await read(dir)), rows);

    // A UUID-named checkpoint without checkpointMetadata is not a V2 checkpoint: refused, named.
    const bad = `_delta_log/${v20(3)}.checkpoint.${crypto.randomUUID()}.json`;
    await openStorage(dir).delete(`_delta_log/${v20(3)}.checkpoint.parquet`);
    await openStorage(dir).put(
      bad,
      new TextEncoder().encode(serializeActions(nonFileActions(snap))),
    );
    await assert.rejects(
      () => loadSnapshot(openStorage(dir)),
      (e: unknown) =>
        e instanceof CorruptLogError && e.message.includes(bad) &&
        /checkpointMetadata/.test(e.message),
    );
  }));

// ---------------------------------------------------------------------------------------------
// Writing

Deno.test("v2 tables get UUID-named V2 checkpoints every checkpointInterval; others stay classic", () =>
  withDir(async (dir) => {
    const v2 = await createTable(join(dir, "v2"), ordersSchema(), {
      configuration: { ...V2, "delta.checkpointInterval": "2" },
    });
    const snap0 = await v2.snapshot();
    assert.deepEqual(snap0.protocol.readerFeatures, ["v2Checkpoint"]);
    assert.ok(snap0.protocol.writerFeatures?.includes("v2Checkpoint"));
    for (let i = 1; i <= 5; i++) await v2.append(orders(2, i * 10), { txns: { s: i } });
    const names = await logNames(join(dir, "v2"));
    const cps = names.filter((n) => n.includes(".checkpoint."));
    assert.equal(cps.length, 2, cps.join());
    assert.match(cps[0], new RegExp(`^${v20(2)}\\.checkpoint\\.[0-9a-f-]{36}\\.parquet$`));
    assert.match(cps[1], new RegExp(`^${v20(4)}\\.checkpoint\\.[0-9a-f-]{36}\\.parquet$`));
    assert.equal(names.includes(`${v20(4)}.checkpoint.parquet`), false, "no classic checkpoint");
    const last = await readLastCheckpoint(v2.storage);
    assert.equal(last?.version, 4);
    assert.equal(
      last?.numOfAddFiles,
      (await loadSnapshot(v2.storage, { version: 4 })).files.length,
    );
    const actions = await readCheckpoint(v2.storage, 4, `_delta_log/${cps[1]}`);
    assert.deepEqual(
      actions.filter((a) => "checkpointMetadata" in a).map((a) =>
        Number(
          (a as { checkpointMetadata: { version: number } }).checkpointMetadata.version,
        )
      ),
      [4],
    );
    for (const v of [2, 3, 4, 5]) {
      const fromCp = await loadSnapshot(v2.storage, { version: v });
      const full = await loadSnapshot(v2.storage, { version: v, useCheckpoints: false });
      assert.equal(fromCp.checkpointVersion, v >= 4 ? 4 : 2, `version ${v}`);
      assert.deepEqual(state(fromCp), state(full), `version ${v}`);
    }
    assert.equal((await read(join(dir, "v2"))).numRows, 10);

    // JSON top level and sidecars on request: read back the same state.
    const s5 = await loadSnapshot(v2.storage);
    const info = await writeCheckpoint(v2.storage, checkpointStateOf(s5), Date.now(), {
      format: "json",
      actionsPerSidecar: 2,
    });
    assert.equal(info.kind, "v2");
    assert.match(info.path, /\.checkpoint\.[0-9a-f-]{36}\.json$/);
    assert.equal(info.sidecars.length, 3, "5 adds in sidecars of 2");
    assert.deepEqual(
      (await referencedSidecars(v2.storage, info.path)).sort(),
      [...info.sidecars].sort(),
    );
    const text = new TextDecoder().decode(await v2.storage.get(info.path));
    assert.match(text.split("\n")[0], /^\{"checkpointMetadata":\{"version":5/);
    assert.equal(text.includes('"add"'), false, "file actions only in the sidecars");
    const from5 = await loadSnapshot(v2.storage);
    assert.equal(from5.checkpointVersion, 5);
    assert.deepEqual(state(from5), state(s5));

    // A table without the feature (or with it but policy classic) keeps classic checkpoints.
    const plain = await createTable(join(dir, "plain"), ordersSchema(), {
      configuration: { "delta.checkpointInterval": "2" },
    });
    for (let i = 1; i <= 2; i++) await plain.append(orders(2, i * 10));
    assert.deepEqual(
      (await logNames(join(dir, "plain"))).filter((n) => n.includes("checkpoint")),
      [`${v20(2)}.checkpoint.parquet`, "_last_checkpoint"],
    );
  }));

Deno.test("maintenance writes V2 checkpoints on v2 tables", () =>
  withDir(async (dir) => {
    const t = await createTable(dir, ordersSchema(), { configuration: V2 });
    for (let i = 1; i <= 3; i++) await t.append(orders(2, i * 10), { checkpoint: false });
    const m = new TableMaintenance(t.storage, {
      overrides: { autoCompact: false, checkpointInterval: 3 },
    });
    const r = await m.run();
    assert.equal(r.checkpoints, 1);
    const cps = (await logNames(dir)).filter((n) => n.includes(".checkpoint."));
    assert.equal(cps.length, 1);
    assert.match(cps[0], new RegExp(`^${v20(3)}\\.checkpoint\\.[0-9a-f-]{36}\\.parquet$`));
    assert.equal((await m.run()).checkpoints, 0, "the V2 checkpoint is known to exist");
  }));

// ---------------------------------------------------------------------------------------------
// Log cleanup and VACUUM

Deno.test("log cleanup deletes sidecars only after the checkpoints using them; never one in use", () =>
  withDir(async (dir) => {
    const t = await createTable(dir, ordersSchema(), { configuration: V2 });
    for (let i = 1; i <= 4; i++) await t.append(orders(2, i * 10));
    const cp = async () =>
      await writeCheckpoint(t.storage, checkpointStateOf(await t.snapshot()), Date.now(), {
        actionsPerSidecar: 1,
      });
    await t.append(orders(2, 50)); // version 5
    const cp5 = await cp();
    await t.append(orders(2, 60)); // version 6
    const cp6 = await cp();
    await t.append(orders(2, 70)); // version 7
    assert.equal(cp5.sidecars.length, 5);
    assert.equal(cp6.sidecars.length, 6);
    const now = Date.now() + 3 * DAY; // every file is older than a day by then
    // An unreferenced sidecar being written right "now" (younger than a day): kept.
    const young = "_delta_log/_sidecars/young.parquet";
    await t.storage.put(young, new Uint8Array([1]));
    await Deno.utime(join(dir, young), new Date(now - 3_600_000), new Date(now - 3_600_000));
    const expected = ids(await read(dir));

    // Stopped after one deletion: checkpoint 5 is still there, so are all its sidecars.
    let r = await cleanupExpiredLogs(t.storage, { retentionMs: 0, now, maxFiles: 1 });
    assert.equal(r.keepFrom, 6);
    assert.equal(r.sidecarsDeleted, 0);
    assert.ok(r.remaining > 0);
    for (const p of cp5.sidecars) assert.ok(await t.storage.head(p), `${p} kept`);

    r = await cleanupExpiredLogs(t.storage, { retentionMs: 0, now });
    assert.equal(r.remaining, 0);
    assert.equal(r.sidecarsDeleted, 5, "checkpoint 5's sidecars, once it is gone");
    for (const p of cp5.sidecars) assert.equal(await t.storage.head(p), undefined, `${p} gone`);
    for (const p of cp6.sidecars) assert.ok(await t.storage.head(p), `${p} in use: kept`);
    assert.ok(await t.storage.head(young), "a young sidecar is kept");
    const names = await logNames(dir);
    assert.deepEqual(names.filter((n) => !n.startsWith("_sidecars/")), [
      cp6.path.slice(11),
      `${v20(6)}.json`,
      `${v20(7)}.json`,
      "_last_checkpoint",
    ]);
    const snap = await loadSnapshot(t.storage);
    assert.equal(snap.checkpointVersion, 6);
    assert.deepEqual(ids(await read(dir)), expected);
    assert.equal(expected.length, 14);

    // VACUUM never touches _delta_log, sidecars included.
    const v = await vacuum(dir, { retentionHours: 0, force: true, dryRun: false, now });
    assert.equal(v.files.some((f) => f.startsWith("_delta_log")), false);
    for (const p of cp6.sidecars) assert.ok(await t.storage.head(p), `${p} survives VACUUM`);
    assert.deepEqual(ids(await read(dir)), expected);
  }));

Deno.test("maintenance log cleanup on a v2 table: expired V2 checkpoints and their sidecars go", () =>
  withDir(async (dir) => {
    const t = await createTable(dir, ordersSchema(), {
      configuration: { ...V2, "delta.checkpointInterval": "2" },
    });
    for (let i = 1; i <= 4; i++) await t.append(orders(2, i * 10));
    // Checkpoints 2 and 4 (the writer's, single-file); add sidecars to 4 by hand-free means.
    const s4 = await writeCheckpoint(t.storage, checkpointStateOf(await t.snapshot()), Date.now(), {
      actionsPerSidecar: 2,
    });
    const orphan = "_delta_log/_sidecars/orphan.parquet";
    await t.storage.put(orphan, new Uint8Array([1]));
    // Everything is two days old.
    const old = new Date(Date.now() - 2 * DAY);
    for (const f of await t.storage.list("_delta_log/")) {
      await Deno.utime(join(dir, f.path), old, old);
    }
    await t.append(orders(2, 50), { checkpoint: false }); // version 5, new
    const m = new TableMaintenance(t.storage, {
      overrides: { autoCompact: false, logRetentionMs: DAY },
    });
    const r = await m.run();
    const names = await logNames(dir);
    assert.equal(names.some((n) => n.startsWith(`${v20(2)}.`)), false, "checkpoint 2 expired");
    assert.equal(names.includes(`${v20(4)}.json`), true);
    for (const p of s4.sidecars) assert.ok(await t.storage.head(p), `${p} in use: kept`);
    assert.equal(await t.storage.head(orphan), undefined, "an old unreferenced sidecar goes");
    assert.ok(r.logFilesRemoved >= 6, `removed ${r.logFilesRemoved}`);
    assert.equal((await read(dir)).numRows, 10);
    assert.equal((await loadSnapshot(t.storage)).checkpointVersion, 4);
  }));

Deno.test("a checkpoint that cannot be read stops the sidecar sweep: nothing is deleted", () =>
  withDir(async (dir) => {
    const t = await createTable(dir, ordersSchema(), { configuration: V2 });
    await t.append(orders(2, 10));
    await writeCheckpoint(t.storage, checkpointStateOf(await t.snapshot()), Date.now(), {
      actionsPerSidecar: 1,
    });
    const orphan = "_delta_log/_sidecars/orphan.parquet";
    await t.storage.put(orphan, new Uint8Array([1]));
    await t.append(orders(2, 20), { checkpoint: false }); // version 2
    await writeCheckpoint(t.storage, checkpointStateOf(await t.snapshot()));
    // A second, damaged checkpoint of version 2 (a writer that died mid-way on a store
    // without atomic puts, say).
    const bad = `_delta_log/${v20(2)}.checkpoint.${crypto.randomUUID()}.json`;
    await t.storage.put(bad, new TextEncoder().encode('{"checkpointMetadata":{"vers'));
    const now = Date.now() + 3 * DAY;
    await assert.rejects(
      () => cleanupExpiredLogs(t.storage, { retentionMs: 0, now }),
      (e: unknown) => e instanceof CorruptLogError && e.message.includes(bad),
    );
    assert.ok(await t.storage.head(orphan), "the unreferenced sidecar is still there");
    assert.equal((await listLog(t.storage)).commits[0].version, 2, "expired commits did go");
    await t.storage.delete(bad);
    const r = await cleanupExpiredLogs(t.storage, { retentionMs: 0, now });
    assert.equal(r.sidecarsDeleted, 2, "once every checkpoint reads: the orphan, checkpoint 1's");
    assert.equal(await t.storage.head(orphan), undefined);
    assert.equal((await read(dir)).numRows, 4);
  }));
