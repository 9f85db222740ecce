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
import { ids, orders, ordersSchema, withLocalDir, withTempDir } from "./_core_fixtures.ts";

Deno.test("time travel by version and by timestamp", () =>
  withLocalDir(async (dir) => {
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
  withLocalDir(async (dir) => {
    assert.deepEqual(monotonic([10, 5, 5, 20, 20]), [10, 11, 12, 20, 21]);
    const s = openStorage(dir);
    await createTable(s, ordersSchema());
    await commit(s, 0, [], makeCommitInfo("WRITE", {}));
    await commit(s, 1, [], makeCommitInfo("WRITE", {}));
    // The commit files' mtimes decide (a clock that went back 5 s, then on by 1 s).
    const t0 = Date.UTC(2025, 0, 1);
    await setMtimes(dir, [t0, t0 - 5000, t0 + 1000]);
    const h = (await history(s)).reverse();
    assert.deepEqual(h.map((e) => e.timestamp), [t0, t0 + 1, t0 + 1000]);
    assert.equal((await snapshot(s, { timestamp: t0 + 1 })).version, 1);
    assert.equal((await snapshot(s, { timestamp: t0 })).version, 0);
  }));

/** Set the mtime of commit files 0, 1, … to `times` (ms), as copying a table changes them. */
async function setMtimes(dir: string, times: number[]) {
  for (let v = 0; v < times.length; v++) {
    const t = new Date(times[v]);
    await Deno.utime(`${dir}/_delta_log/${String(v).padStart(20, "0")}.json`, t, t);
  }
}

Deno.test("time travel by timestamp on a copied table follows the commit files' mtimes, not commitInfo.timestamp", () =>
  withLocalDir(async (dir) => {
    const t = await createTable(`${dir}/orig`, ordersSchema());
    for (let i = 0; i < 3; i++) await t.append(orders(2, i * 2));
    const written = (await history(`${dir}/orig`)).reverse();
    // Copy the table (files get new mtimes), then give the copy's commits times far from the
    // commitInfo.timestamp each commit carries.
    await Deno.mkdir(`${dir}/copy`, { recursive: true });
    for (const e of Deno.readDirSync(`${dir}/orig`)) {
      if (e.isFile) await Deno.copyFile(`${dir}/orig/${e.name}`, `${dir}/copy/${e.name}`);
    }
    await Deno.mkdir(`${dir}/copy/_delta_log`);
    for (const e of Deno.readDirSync(`${dir}/orig/_delta_log`)) {
      await Deno.copyFile(`${dir}/orig/_delta_log/${e.name}`, `${dir}/copy/_delta_log/${e.name}`);
    }
    const base = Date.UTC(2030, 5, 1); // years after every commitInfo.timestamp
    const times = [base, base + 60_000, base + 120_000, base + 180_000];
    await setMtimes(`${dir}/copy`, times);
    const copy = `${dir}/copy`;
    const h = (await history(copy)).reverse();
    assert.deepEqual(h.map((e) => e.timestamp), times);
    assert.notDeepEqual(h.map((e) => e.timestamp), written.map((e) => e.timestamp));
    assert.equal((await snapshot(copy, { timestamp: base + 60_000 })).version, 1);
    assert.equal((await snapshot(copy, { timestamp: base + 119_999 })).version, 1);
    assert.equal((await snapshot(copy, { timestamp: new Date(base + 150_000) })).version, 2);
    assert.deepEqual(ids(await read(copy, { timestamp: base + 120_000 })), [0, 1, 2, 3]);
    // The commitInfo.timestamp of version 3 no longer finds anything: it is before the copy.
    await assert.rejects(
      () => snapshot(copy, { timestamp: written[3].timestamp }),
      VersionNotFoundError,
    );
    assert.deepEqual((await snapshot(copy)).commitTimestamps.get(2), base + 120_000);
  }));

Deno.test("time travel by timestamp: in-commit timestamps from the version that enabled them, mtimes before", () =>
  withLocalDir(async (dir) => {
    const s = openStorage(dir);
    await createTable(s, ordersSchema());
    await append(s, orders(2, 0)); // v1: no in-commit timestamps yet
    // v2 enables them (as Spark's ALTER TABLE SET TBLPROPERTIES does, recording the version).
    const snap = await loadSnapshot(s);
    const ict = Date.UTC(2031, 0, 1);
    await commit(s, 1, [{
      metaData: {
        ...snap.metadata,
        configuration: {
          "delta.enableInCommitTimestamps": "true",
          "delta.inCommitTimestampEnablementVersion": "2",
          "delta.inCommitTimestampEnablementTimestamp": String(ict),
        },
      },
    }], makeCommitInfo("SET TBLPROPERTIES", {}, { inCommitTimestamp: ict }));
    await append(s, orders(2, 2)); // v3: our writer stamps it (above v2's)
    // v1 has a stray inCommitTimestamp: before enablement it does not count.
    const v1 = (await Deno.readTextFile(`${dir}/_delta_log/${"1".padStart(20, "0")}.json`))
      .replace('"commitInfo":{', `"commitInfo":{"inCommitTimestamp":${ict - 10},`);
    await Deno.writeTextFile(`${dir}/_delta_log/${"1".padStart(20, "0")}.json`, v1);
    const base = Date.UTC(2029, 0, 1);
    await setMtimes(dir, [base, base + 1000, base + 99_000_000, base + 2000]); // v2, v3 ignored
    const h = (await history(s)).reverse();
    assert.equal(h[0].timestamp, base);
    assert.equal(h[1].timestamp, base + 1000);
    assert.equal(h[2].timestamp, ict);
    assert.ok(h[3].timestamp > ict && h[3].timestamp < Date.now() + ict, "our writer's ICT");
    const line = (await Deno.readTextFile(`${dir}/_delta_log/${"3".padStart(20, "0")}.json`))
      .split("\n")[0];
    assert.equal(h[3].timestamp, JSON.parse(line).commitInfo.inCommitTimestamp);
    assert.equal((await snapshot(s, { timestamp: base + 1500 })).version, 1);
    assert.equal((await snapshot(s, { timestamp: ict - 1 })).version, 1);
    assert.equal((await snapshot(s, { timestamp: ict })).version, 2);
    assert.equal((await snapshot(s, { timestamp: h[3].timestamp })).version, 3);
    assert.deepEqual(
      [...(await loadSnapshot(s)).commitTimestamps.values()],
      h.map((e) => e.timestamp),
    );
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
      readerFeatures: ["variantType"],
      writerFeatures: ["variantType"],
    });
    await assert.rejects(
      () => read(dir),
      (e: unknown) =>
        e instanceof UnsupportedFeatureError && e.feature === "variantType" &&
        /variantType/.test(e.message),
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
      writerFeatures: ["appendOnly", "invariants", "variantType"],
    });
    await assert.rejects(
      () => t.append(orders(1)),
      (e: unknown) => e instanceof UnsupportedFeatureError && e.feature === "variantType",
    );
    await setProtocol(dir, { minReaderVersion: 1, minWriterVersion: 6 });
    await assert.rejects(
      () => t.append(orders(1)),
      (e: unknown) => e instanceof UnsupportedFeatureError && e.feature === "identityColumns",
    );
    const data = (await openStorage(dir).list("")).filter((e) => e.path.endsWith(".parquet"));
    assert.equal(data.length, 0);
    assert.equal((await t.read()).numRows, 0, "still readable");
    // Writer version 3 is CHECK constraints: enforced (constraints_test.ts), so writable.
    await setProtocol(dir, { minReaderVersion: 1, minWriterVersion: 3 });
    assert.equal((await t.append(orders(1))).numRows, 1);
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

Deno.test("a damaged newest checkpoint falls back to an older one, or to the commits from 0; _last_checkpoint is only a hint", () =>
  withTempDir(async (dir) => {
    const t = await createTable(dir, ordersSchema());
    for (let i = 0; i < 24; i++) await t.append(orders(2, i * 2)); // checkpoints at 10 and 20
    const storage = openStorage(dir);
    const cp = (v: number) => `_delta_log/${String(v).padStart(20, "0")}.checkpoint.parquet`;
    assert.ok(await storage.head(cp(10)) && await storage.head(cp(20)));
    const full = await loadSnapshot(storage, { useCheckpoints: false });
    const same = (s: Snapshot) => {
      assert.equal(s.version, 24);
      assert.deepEqual([...s.files.keys()].sort(), [...full.files.keys()].sort());
      assert.deepEqual(s.schema, full.schema);
    };
    same(await loadSnapshot(storage));
    // Checkpoint 20 truncated: the reader starts from checkpoint 10 and replays 11 … 24.
    const bytes20 = await storage.get(cp(20));
    await storage.put(cp(20), bytes20.subarray(0, bytes20.length >> 1));
    const from10 = await loadSnapshot(storage);
    same(from10);
    assert.equal(from10.checkpointVersion, 10);
    assert.deepEqual(ids(await read(dir)), Array.from({ length: 48 }, (_, i) => i));
    // Both damaged: the commits from 0 are all there, so the reader replays them.
    await storage.put(cp(10), new TextEncoder().encode("not parquet"));
    const from0 = await loadSnapshot(storage);
    same(from0);
    assert.equal(from0.checkpointVersion, undefined);
    // A hint naming a checkpoint that does not exist is ignored.
    await storage.put(
      "_delta_log/_last_checkpoint",
      new TextEncoder().encode(JSON.stringify({ version: 40, size: 1 })),
    );
    same(await loadSnapshot(storage));
    // Without the commits before the damaged checkpoint there is nothing to fall back on: the
    // damage is reported, naming the checkpoint file.
    await storage.put(cp(20), bytes20.subarray(0, bytes20.length >> 1));
    for (let v = 0; v <= 20; v++) {
      await storage.delete(`_delta_log/${String(v).padStart(20, "0")}.json`);
    }
    await assert.rejects(() => loadSnapshot(storage), (e: Error) => {
      assert.match(e.message, /00000000000000000020\.checkpoint\.parquet/);
      return true;
    });
  }));
