import assert from "node:assert/strict";
import {
  type Action,
  type AddAction,
  append,
  checkpointStateOf,
  commit,
  type CommitInfo,
  ConstraintViolationError,
  createTable,
  type DomainMetadata,
  history,
  loadSnapshot,
  makeCommitInfo,
  optimize,
  read,
  readCheckpoint,
  readCommit,
  type RemoveAction,
  snapshot,
  UnsupportedConstraintError,
  UnsupportedFeatureError,
  vacuum,
  writeCheckpoint,
} from "../../lib/delta/mod.ts";
import {
  computedColumns,
  inCommitTimestampsEnabled,
  nextInCommitTimestamp,
} from "../../lib/delta/features.ts";
import { crc32 } from "../../lib/delta/_deletion_vector.ts";
import { openStorage } from "../../lib/storage/mod.ts";
import { bitmapArray, inlineDv, z85 } from "../support/deletion_vectors.ts";
import { ids, orders, ordersSchema, withTempDir } from "./_core_fixtures.ts";

/** Commit a protocol and a metaData with `configuration` added (and fields' metadata replaced). */
async function upgrade(
  dir: string,
  protocol: Record<string, unknown>,
  configuration: Record<string, string> = {},
  fieldMetadata: Record<string, Record<string, unknown>> = {},
) {
  const s = openStorage(dir);
  const snap = await loadSnapshot(s);
  const schema = JSON.parse(snap.metadata.schemaString);
  for (const f of schema.fields) if (fieldMetadata[f.name]) f.metadata = fieldMetadata[f.name];
  const metaData = {
    ...snap.metadata,
    schemaString: JSON.stringify(schema),
    configuration: { ...snap.configuration, ...configuration },
  };
  await commit(s, snap.version, [{ protocol }, { metaData }], makeCommitInfo("SET", {}));
}

const DV_PROTOCOL = {
  minReaderVersion: 3,
  minWriterVersion: 7,
  readerFeatures: ["deletionVectors"],
  writerFeatures: ["appendOnly", "invariants", "deletionVectors"],
};

async function commitLines(dir: string, version: number) {
  return await readCommit(openStorage(dir), version);
}

/** The in-commit timestamp of a commit whose first action must be its commitInfo. */
function firstIct(actions: Action[]): unknown {
  assert.ok("commitInfo" in actions[0], "commitInfo is the first action");
  return (actions[0] as { commitInfo: CommitInfo }).commitInfo.inCommitTimestamp;
}

Deno.test("in-commit timestamp: max(now, previous + 1 ms)", () => {
  assert.equal(nextInCommitTimestamp(undefined, 5), 5);
  assert.equal(nextInCommitTimestamp(1000, 5000), 5000);
  assert.equal(nextInCommitTimestamp(5000, 5000), 5001);
  assert.equal(nextInCommitTimestamp(9000, 5000), 9001);
  assert.equal(inCommitTimestampsEnabled({ "delta.enableInCommitTimestamps": "true" }), true);
  assert.equal(inCommitTimestampsEnabled({ "delta.enableInCommitTimestamps": "false" }), false);
});

Deno.test("in-commit timestamps: commitInfo first, strictly above the previous commit's, recomputed on a retry", () =>
  withTempDir(async (dir) => {
    const t = await createTable(dir, ordersSchema());
    await upgrade(dir, {
      minReaderVersion: 1,
      minWriterVersion: 7,
      writerFeatures: ["appendOnly", "invariants", "inCommitTimestamp"],
    }, { "delta.enableInCommitTimestamps": "true" });
    const s = openStorage(dir);
    // Another writer's commit whose timestamp is an hour ahead of our clock.
    const ahead = Date.now() + 3_600_000;
    let snap = await loadSnapshot(s);
    await commit(s, snap.version, [], makeCommitInfo("OTHER", {}, { inCommitTimestamp: ahead }));
    const r1 = await t.append(orders(3));
    const lines = await commitLines(dir, r1.version);
    assert.ok("commitInfo" in lines[0], "commitInfo is the first action");
    assert.equal(firstIct(lines), ahead + 1);
    const r2 = await t.append(orders(2, 3));
    assert.equal(firstIct(await commitLines(dir, r2.version)), ahead + 2);

    // A commit that loses the race re-reads the winner's timestamp and goes above it.
    snap = await loadSnapshot(s);
    await commit(
      s,
      snap.version,
      [],
      makeCommitInfo("OTHER", {}, { inCommitTimestamp: ahead + 50 }),
    );
    const late = await commit(
      s,
      snap.version,
      [{ txn: { appId: "q", version: 1 } }],
      makeCommitInfo("WRITE", {}),
      {
        inCommitTimestamps: true,
      },
    );
    assert.equal(late.attempts, 2);
    assert.equal(late.version, snap.version + 2);
    assert.equal(firstIct(await commitLines(dir, late.version)), ahead + 51);

    // Readers take the in-commit timestamp as the commit time (history, time travel).
    const h = await history(dir, { limit: 1 });
    assert.equal(h[0].timestamp, ahead + 51);
    assert.equal((await snapshot(dir, { timestamp: ahead + 1 })).version, r1.version);
    assert.deepEqual(ids(await read(dir)), [0, 1, 2, 3, 4]);
  }));

Deno.test("domain metadata: kept across our appends, OPTIMIZE and a checkpoint; removed domains drop out", () =>
  withTempDir(async (dir) => {
    const t = await createTable(dir, ordersSchema());
    await upgrade(dir, {
      minReaderVersion: 1,
      minWriterVersion: 7,
      writerFeatures: ["appendOnly", "invariants", "domainMetadata", "clustering"],
    }, { "delta.checkpointInterval": "4" });
    const s = openStorage(dir);
    const clustering: DomainMetadata = {
      domain: "delta.clustering",
      configuration: '{"clusteringColumns":["customer_id"]}',
      removed: false,
    };
    const other: DomainMetadata = { domain: "app.x", configuration: "{}", removed: false };
    let snap = await loadSnapshot(s);
    await commit(
      s,
      snap.version,
      [{ domainMetadata: clustering }, { domainMetadata: other }],
      makeCommitInfo("CLUSTER BY", {}),
    );
    snap = await loadSnapshot(s);
    await commit(
      s,
      snap.version,
      [{ domainMetadata: { ...other, removed: true } }],
      makeCommitInfo("X", {}),
    );
    // A file a clustering implementation wrote is not ours to compact.
    await t.append(orders(2));
    await t.append(orders(2, 2));
    const clustered = await t.append(orders(2, 4));
    snap = await loadSnapshot(s);
    const f = snap.files.find((a) => a.path === clustered.files[0].path)!;
    await s.put("clustered-0.parquet", await s.get(f.path));
    await commit(s, snap.version, [
      { remove: { path: f.path, dataChange: false, deletionTimestamp: Date.now() } },
      {
        add: { ...f, path: "clustered-0.parquet", dataChange: false, clusteringProvider: "liquid" },
      },
    ], makeCommitInfo("OPTIMIZE", {}));
    const opt = await optimize(dir);
    assert.equal(opt.numFilesRemoved, 2, "the two unclustered files");
    snap = await loadSnapshot(s, { useCheckpoints: false });
    assert.equal(snap.version, 8);
    assert.deepEqual([...snap.domainMetadata.values()], [clustering]);
    assert.equal(snap.files.filter((a) => a.clusteringProvider === "liquid").length, 1);

    // The checkpoint at version 8 (interval 4) holds the live domain only; a snapshot from it too.
    const cp = await readCheckpoint(s, 8);
    const domains = cp.filter((a) => "domainMetadata" in a).map((a) =>
      (a as { domainMetadata: DomainMetadata }).domainMetadata
    );
    assert.deepEqual(domains, [clustering]);
    const fromCp = await loadSnapshot(s);
    assert.equal(fromCp.checkpointVersion, 8);
    assert.deepEqual([...fromCp.domainMetadata.values()], [clustering]);
    assert.equal(
      fromCp.files.find((a) => a.path === "clustered-0.parquet")?.clusteringProvider,
      "liquid",
      "clusteringProvider survives our checkpoint",
    );
    assert.deepEqual(ids(await read(dir)), [0, 1, 2, 3, 4, 5]);
  }));

Deno.test("deletion vectors: appends add plain files, a checkpoint keeps the DV, OPTIMIZE drops deleted rows and removes with the DV", () =>
  withTempDir(async (dir) => {
    const t = await createTable(dir, ordersSchema());
    await upgrade(dir, DV_PROTOCOL, { "delta.enableDeletionVectors": "true" });
    const s = openStorage(dir);
    const first = await t.append(orders(6));
    assert.equal(first.files[0].deletionVector, undefined);
    assert.equal(
      JSON.parse(first.files[0].stats!).tightBounds,
      true,
      "exact bounds, as Spark marks them",
    );
    // A DELETE of rows 0 and 2 as Spark commits it: the same path again, now with a DV.
    let snap = await loadSnapshot(s);
    const plain = snap.files[0];
    const dv = inlineDv([0, 2]);
    await commit(s, snap.version, [
      { remove: { path: plain.path, dataChange: true, deletionTimestamp: Date.now() } },
      { add: { ...plain, deletionVector: dv } },
    ], makeCommitInfo("DELETE", {}));
    snap = await loadSnapshot(s);
    assert.deepEqual(ids(await read(dir)), [1, 3, 4, 5]);

    // The checkpoint keeps the DV of the live file (and the plain file's tombstone).
    await writeCheckpoint(s, checkpointStateOf(snap));
    const fromCp = await loadSnapshot(s);
    assert.equal(fromCp.checkpointVersion, snap.version);
    assert.equal(fromCp.files.length, 1);
    assert.deepEqual(fromCp.files[0].deletionVector, dv);
    assert.deepEqual(ids(await read(dir)), [1, 3, 4, 5]);

    // Appends stay plain; OPTIMIZE rewrites both files without the deleted rows.
    const more = await append(dir, orders(2, 6));
    assert.equal(more.files[0].deletionVector, undefined);
    const r = await optimize(dir);
    assert.equal(r.numFilesRemoved, 2);
    assert.equal(r.numRows, 6);
    const removes = (await commitLines(dir, r.version!))
      .filter((a) => "remove" in a).map((a) => (a as { remove: RemoveAction }).remove);
    const withDv = removes.find((x) => x.path === plain.path)!;
    assert.deepEqual(withDv.deletionVector, dv, "the remove names the logical file (path, DV)");
    assert.equal(withDv.dataChange, false);
    assert.equal(removes.find((x) => x.path === more.files[0].path)?.deletionVector, undefined);
    const after = await loadSnapshot(s);
    assert.equal(after.files.length, 1);
    assert.equal(after.files[0].deletionVector, undefined);
    assert.equal(JSON.parse(after.files[0].stats!).numRecords, 6);
    assert.equal(JSON.parse(after.files[0].stats!).tightBounds, true);
    assert.deepEqual(ids(await read(dir)), [1, 3, 4, 5, 6, 7]);
  }));

Deno.test("deletion vectors: a lone file with a DV is rewritten; VACUUM keeps the DV files still needed", () =>
  withTempDir(async (dir) => {
    const t = await createTable(dir, ordersSchema());
    await upgrade(dir, DV_PROTOCOL);
    const s = openStorage(dir);
    await t.append(orders(4));
    let snap = await loadSnapshot(s);
    const f: AddAction = snap.files[0];
    // A `u` DV in a file of its own: version byte, size, bitmap, CRC (PROTOCOL.md).
    const uuid = crypto.getRandomValues(new Uint8Array(16));
    const hex = Array.from(uuid, (b) => b.toString(16).padStart(2, "0")).join("");
    const name = `deletion_vector_${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${
      hex.slice(16, 20)
    }-${hex.slice(20)}.bin`;
    const bitmap = bitmapArray([3]);
    const bytes = new Uint8Array(1 + 4 + bitmap.length + 4);
    const view = new DataView(bytes.buffer);
    bytes[0] = 1;
    view.setInt32(1, bitmap.length, false);
    bytes.set(bitmap, 5);
    view.setUint32(5 + bitmap.length, crc32(bitmap), false);
    await s.put(name, bytes);
    const dv = {
      storageType: "u",
      pathOrInlineDv: z85(uuid),
      offset: 1,
      sizeInBytes: bitmap.length,
      cardinality: 1,
    };
    await commit(s, snap.version, [
      { remove: { path: f.path, dataChange: true, deletionTimestamp: Date.now() } },
      { add: { ...f, deletionVector: dv } },
    ], makeCommitInfo("DELETE", {}));
    assert.deepEqual(ids(await read(dir)), [0, 1, 2]);
    await new Promise((r) => setTimeout(r, 5));
    const plan = await vacuum(dir, { retentionHours: 0, force: true });
    assert.ok(!plan.files.includes(name), "the live file's DV file stays");
    const r = await optimize(dir);
    assert.equal(r.numFilesRemoved, 1);
    snap = await loadSnapshot(s);
    assert.equal(snap.files[0].deletionVector, undefined);
    assert.deepEqual(ids(await read(dir)), [0, 1, 2]);
    // Once the file that used it is removed and its tombstone expired, the DV file goes too.
    await new Promise((r) => setTimeout(r, 5));
    const gone = await vacuum(dir, { retentionHours: 0, force: true });
    assert.ok(gone.files.includes(name), "an expired tombstone's DV file goes");
  }));

Deno.test("change data feed tables (writer version 4) take appends; CHECK constraints are enforced", () =>
  withTempDir(async (dir) => {
    const t = await createTable(dir, ordersSchema());
    await upgrade(dir, { minReaderVersion: 1, minWriterVersion: 4 }, {
      "delta.enableChangeDataFeed": "true",
    });
    await t.append(orders(2));
    const r = await t.append(orders(2, 2));
    const kinds = (await commitLines(dir, r.version)).map((a) => Object.keys(a)[0]);
    assert.deepEqual(kinds, ["commitInfo", "add"], "no cdc files for an append");
    await optimize(dir);
    assert.deepEqual(ids(await read(dir)), [0, 1, 2, 3]);
    await upgrade(dir, { minReaderVersion: 1, minWriterVersion: 4 }, {
      "delta.constraints.qty": "quantity > 1",
    });
    await assert.rejects( // order 0 has quantity 1
      () => t.append(orders(1)),
      (e: unknown) => e instanceof ConstraintViolationError && e.constraint === "qty",
    );
    assert.equal((await t.append(orders(1, 1))).numRows, 1);
    await upgrade(dir, { minReaderVersion: 1, minWriterVersion: 4 }, {
      "delta.constraints.qty": "abs(quantity) > 0",
    });
    await assert.rejects(
      () => t.append(orders(1, 1)),
      (e: unknown) =>
        e instanceof UnsupportedFeatureError && e.feature === "checkConstraints" &&
        e instanceof UnsupportedConstraintError && e.constraint === "qty",
    );
  }));

Deno.test("generated and identity columns are refused with one line naming the columns and the way out", () =>
  withTempDir(async (dir) => {
    const t = await createTable(dir, ordersSchema());
    await upgrade(
      dir,
      {
        minReaderVersion: 1,
        minWriterVersion: 7,
        writerFeatures: ["appendOnly", "invariants", "generatedColumns"],
      },
      {},
      { state: { "delta.generationExpression": "upper(city)" } },
    );
    const gen = await t.append(orders(1)).then(() => undefined, (e) => e);
    assert.ok(gen instanceof UnsupportedFeatureError);
    assert.equal(gen.feature, "generatedColumns");
    assert.match(
      gen.message,
      /^table '.*' uses generated columns \(state\); this writer does not compute them: write it with Spark, or drop the feature/,
    );
    assert.equal(gen.message.includes("\n"), false);
    await assert.rejects(() => optimize(dir), UnsupportedFeatureError);

    await upgrade(dir, { minReaderVersion: 1, minWriterVersion: 6 }, {}, {
      state: {},
      order_id: { "delta.identity.start": 1, "delta.identity.step": 1 },
    });
    const id = await t.append(orders(1)).then(() => undefined, (e) => e);
    assert.ok(id instanceof UnsupportedFeatureError);
    assert.equal(id.feature, "identityColumns");
    assert.match(
      id.message,
      /^table '.*' uses identity columns \(order_id\); this writer does not assign their values: write it with Spark, or drop the feature/,
    );
    assert.deepEqual(ids(await read(dir)), [], "nothing was written");
    assert.deepEqual(
      computedColumns({
        type: "struct",
        fields: [{
          name: "id",
          type: "long",
          nullable: false,
          metadata: { "delta.identity.start": 1 },
        }, {
          name: "s",
          type: {
            type: "struct",
            fields: [{
              name: "g",
              type: "long",
              nullable: true,
              metadata: { "delta.generationExpression": "1" },
            }],
          },
          nullable: true,
          metadata: {},
        }],
      }),
      { generated: ["s.g"], identity: ["id"] },
    );
  }));
