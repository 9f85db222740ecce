import assert from "node:assert/strict";
import { openStorage } from "../../lib/storage/mod.ts";
import {
  commit,
  createTable,
  history,
  makeCommitInfo,
  monotonic,
  read,
  snapshot,
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

Deno.test("column mapping and deletion vectors: read (scan handles them), writes refused", () =>
  withTempDir(async (dir) => {
    const t = await createTable(dir, ordersSchema());
    await setProtocol(dir, { minReaderVersion: 2, minWriterVersion: 5 });
    assert.equal((await snapshot(dir)).version, 1);
    await assert.rejects(
      () => t.append(orders(1)),
      (e: unknown) => e instanceof UnsupportedFeatureError && e.feature === "columnMapping",
    );
    await setProtocol(dir, {
      minReaderVersion: 3,
      minWriterVersion: 7,
      readerFeatures: ["deletionVectors"],
      writerFeatures: ["deletionVectors"],
    });
    assert.equal((await snapshot(dir)).version, 2);
    await assert.rejects(
      () => t.append(orders(1)),
      (e: unknown) => e instanceof UnsupportedFeatureError && e.feature === "deletionVectors",
    );
  }));

Deno.test("writer features we lack are refused before any file is written", () =>
  withTempDir(async (dir) => {
    const t = await createTable(dir, ordersSchema());
    await setProtocol(dir, {
      minReaderVersion: 1,
      minWriterVersion: 7,
      writerFeatures: ["appendOnly", "invariants", "domainMetadata"],
    });
    await assert.rejects(
      () => t.append(orders(1)),
      (e: unknown) => e instanceof UnsupportedFeatureError && e.feature === "domainMetadata",
    );
    await setProtocol(dir, { minReaderVersion: 1, minWriterVersion: 4 });
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
