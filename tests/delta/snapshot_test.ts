import assert from "node:assert/strict";
import { openStorage } from "../../lib/storage/mod.ts";
import type { Storage } from "../../lib/storage/storage.ts";
import {
  advanceSnapshot,
  append,
  commit,
  commitTxns,
  createTable,
  history,
  loadSnapshot,
  makeCommitInfo,
  monotonic,
  read,
  type Snapshot,
  snapshot,
  type SnapshotCache,
  TxnConflictError,
  UnsupportedFeatureError,
  VersionNotFoundError,
} from "../../lib/delta/mod.ts";
import { ids, orders, ordersSchema, withTempDir } from "./_core_fixtures.ts";

Deno.test("time travel by version and by timestamp", () =>
  withTempDir(async (dir) => {
    const t = await createTable(dir, ordersSchema());
    for (let i = 0; i < 4; i++) {
      await new Promise((r) => setTimeout(r, 3));
      await t.append(orders(2, i * 2));
    }
    const h = (await history(dir)).reverse(); // oldest first
    for (const e of h) {
      const byTs = await snapshot(dir, { timestamp: e.timestamp });
      assert.equal(byTs.version, e.version);
      const between = await snapshot(dir, { timestamp: new Date(e.timestamp + 1) });
      assert.equal(
        between.version,
        e.version === 4 ? 4 : e.version,
        "a time between commits picks the earlier",
      );
      assert.deepEqual(
        ids(await read(dir, { version: e.version })),
        Array.from({ length: e.version * 2 }, (_, i) => i),
      );
    }
    assert.equal(
      (await snapshot(dir, { timestamp: new Date(h[2].timestamp).toISOString() })).version,
      2,
    );
    assert.equal(
      (await snapshot(dir, { timestamp: Date.now() + 86_400_000 })).version,
      4,
      "after the latest: latest",
    );
    await assert.rejects(
      () => snapshot(dir, { timestamp: h[0].timestamp - 1 }),
      VersionNotFoundError,
    );
    await assert.rejects(() => snapshot(dir, { version: 5 }), VersionNotFoundError);
    await assert.rejects(() => snapshot(dir, { timestamp: "not a time" }), VersionNotFoundError);
    assert.equal((await snapshot(dir, { version: 2 })).commitTimestamps.get(2), h[2].timestamp);
  }));

Deno.test("commit times are made monotonic (a clock going back is bumped to previous + 1 ms)", () =>
  withTempDir(async (dir) => {
    assert.deepEqual(monotonic([10, 5, 5, 20, 20]), [10, 11, 12, 20, 21]);
    const s = openStorage(dir);
    await createTable(s, ordersSchema());
    const t0 = (await history(s))[0].timestamp;
    await commit(s, 0, [], makeCommitInfo("WRITE", {}, { timestamp: t0 - 5000 }));
    await commit(s, 1, [], makeCommitInfo("WRITE", {}, { timestamp: t0 + 1000 }));
    const h = (await history(s)).reverse();
    assert.deepEqual(h.map((e) => e.timestamp), [t0, t0 + 1, t0 + 1000]);
    assert.equal((await snapshot(s, { timestamp: t0 + 1 })).version, 1);
    assert.equal((await snapshot(s, { timestamp: t0 })).version, 0);
  }));

async function setProtocol(dir: string, protocol: Record<string, unknown>) {
  const s = openStorage(dir);
  const snap = await snapshot(s);
  await commit(s, snap.version, [{ protocol }], makeCommitInfo("UPGRADE PROTOCOL", {}));
}

Deno.test("reader features we lack are refused with the feature named", () =>
  withTempDir(async (dir) => {
    await createTable(dir, ordersSchema());
    await setProtocol(dir, {
      minReaderVersion: 3,
      minWriterVersion: 7,
      readerFeatures: ["v2Checkpoint"],
      writerFeatures: ["v2Checkpoint"],
    });
    await assert.rejects(
      () => read(dir),
      (e: unknown) =>
        e instanceof UnsupportedFeatureError && e.feature === "v2Checkpoint" &&
        /v2Checkpoint/.test(e.message),
    );
    assert.equal((await snapshot(dir, { version: 0 })).version, 0, "older versions stay readable");
  }));

Deno.test("column mapping (legacy (2,5)): read and written (column_mapping_test.ts); deletion vectors: read and written", () =>
  withTempDir(async (dir) => {
    const t = await createTable(dir, ordersSchema());
    await setProtocol(dir, { minReaderVersion: 2, minWriterVersion: 5 });
    assert.equal((await snapshot(dir)).version, 1);
    // No delta.columnMapping.mode: mode none, plain names.
    assert.equal((await t.append(orders(1))).version, 2);
    await setProtocol(dir, {
      minReaderVersion: 3,
      minWriterVersion: 7,
      readerFeatures: ["deletionVectors"],
      writerFeatures: ["deletionVectors"],
    });
    assert.equal((await snapshot(dir)).version, 3);
    assert.equal((await t.append(orders(1))).version, 4);
  }));

Deno.test("writer features we lack are refused before any file is written", () =>
  withTempDir(async (dir) => {
    const t = await createTable(dir, ordersSchema());
    await setProtocol(dir, {
      minReaderVersion: 1,
      minWriterVersion: 7,
      writerFeatures: ["appendOnly", "invariants", "typeWidening"],
    });
    await assert.rejects(
      () => t.append(orders(1)),
      (e: unknown) => e instanceof UnsupportedFeatureError && e.feature === "typeWidening",
    );
    await setProtocol(dir, { minReaderVersion: 1, minWriterVersion: 3 });
    await assert.rejects(() => t.append(orders(1)), UnsupportedFeatureError);
    const data = (await openStorage(dir).list("")).filter((e) => e.path.endsWith(".parquet"));
    assert.equal(data.length, 0);
    assert.equal((await t.read()).numRows, 0, "still readable");
  }));

Deno.test("supported table features (timestampNtz on (3,7)) are readable and writable", () =>
  withTempDir(async (dir) => {
    const t = await createTable(dir, ordersSchema());
    await setProtocol(dir, {
      minReaderVersion: 3,
      minWriterVersion: 7,
      readerFeatures: ["timestampNtz"],
      writerFeatures: ["appendOnly", "invariants", "timestampNtz"],
    });
    await t.append(orders(3));
    assert.equal((await t.read()).numRows, 3);
  }));

/** A storage that counts listings (and passes everything through). */
function countingStorage(dir: string) {
  const inner = openStorage(dir);
  const calls = { list: 0 };
  const storage: Storage = {
    url: inner.url,
    get: (p) => inner.get(p),
    getRange: (p, s, e) => inner.getRange(p, s, e),
    head: (p) => inner.head(p),
    put: (p, d) => inner.put(p, d),
    putIfAbsent: (p, d) => inner.putIfAbsent(p, d),
    list: (p) => {
      calls.list++;
      return inner.list(p);
    },
    delete: (p) => inner.delete(p),
  };
  return { storage, calls };
}

/** The parts of a snapshot two loads must agree on. */
function stateOf(s: Snapshot) {
  return {
    version: s.version,
    protocol: s.protocol,
    metadata: s.metadata,
    files: s.files.map((f) => [f.path, f.size, f.stats]),
    tombstones: s.tombstones.map((f) => f.path).sort(),
    txns: [...s.txns].map(([k, t]) => [k, String(t.version)]).sort(),
  };
}

Deno.test("advanceSnapshot reads only the newer commits and agrees with a full load across appends, overwrites, txns and checkpoints", () =>
  withTempDir(async (dir) => {
    const t = await createTable(dir, ordersSchema());
    const { storage, calls } = countingStorage(dir);
    let snap = await loadSnapshot(storage);
    const listsAtStart = calls.list;
    for (let i = 0; i < 14; i++) {
      // Another writer's commits (the table handle), seen by advancing.
      if (i === 6) await t.overwrite(orders(3, 1000));
      else await t.append(orders(2, i * 2), { txns: { [`q-${i % 3}`]: BigInt(i + 1) } });
      if (i % 4 === 3) await commitTxns(dir, { other: BigInt(i) });
      if (i % 3 === 0) {
        const before = snap;
        snap = await advanceSnapshot(snap, storage);
        assert.notEqual(snap, before);
        assert.deepEqual(stateOf(snap), stateOf(await loadSnapshot(openStorage(dir))));
      }
    }
    snap = await advanceSnapshot(snap, storage);
    assert.equal(calls.list, listsAtStart, "no listing while advancing");
    const full = await loadSnapshot(openStorage(dir));
    assert.ok(full.checkpointVersion !== undefined, "the log has a checkpoint by now");
    assert.deepEqual(stateOf(snap), stateOf(full));
    assert.equal(Number(snap.txnVersion("q-1")), 14);
    // Nothing newer: the same snapshot back.
    assert.equal(await advanceSnapshot(snap, storage), snap);
  }));

Deno.test("advanceSnapshot falls back to a full load when its version's commit is gone (table replaced)", () =>
  withTempDir(async (dir) => {
    const t = await createTable(dir, ordersSchema());
    for (let i = 0; i < 3; i++) await t.append(orders(1, i));
    const s = openStorage(dir);
    const old = await loadSnapshot(s);
    for (const f of await s.list("")) await s.delete(f.path);
    await createTable(dir, ordersSchema());
    const now = await advanceSnapshot(old, s);
    assert.equal(now.version, 0);
    assert.equal(now.files.length, 0);
  }));

Deno.test("writes with a snapshot cache list the log only once and still catch a moved txn", () =>
  withTempDir(async (dir) => {
    await createTable(dir, ordersSchema());
    const { storage, calls } = countingStorage(dir);
    const cache: SnapshotCache = {};
    for (let i = 0; i < 12; i++) {
      await append(storage, orders(2, i * 2), {
        txns: { q: BigInt(i + 1) },
        expectedTxns: { q: i === 0 ? undefined : BigInt(i) },
        snapshotCache: cache,
      });
    }
    assert.equal(calls.list, 1, "only the first write lists _delta_log");
    assert.deepEqual(ids(await read(dir)), Array.from({ length: 24 }, (_, i) => i));
    // Another instance moves q; our cached writer expects 12 and must refuse.
    await commitTxns(dir, { q: 20n });
    await assert.rejects(
      () =>
        append(storage, orders(1, 99), {
          txns: { q: 13n },
          expectedTxns: { q: 12n },
          snapshotCache: cache,
        }),
      TxnConflictError,
    );
    assert.equal(Number((await snapshot(dir)).txnVersion("q")), 20);
  }));
