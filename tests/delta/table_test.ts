import { openStorage } from "../../lib/storage/mod.ts";
import { onAdls } from "../support/storage_backends.ts";
import assert from "node:assert/strict";
import * as arrow from "apache-arrow";
import {
  AppendOnlyError,
  createTable,
  history,
  openTable,
  read,
  SchemaMismatchError,
  TableExistsError,
  TableNotFoundError,
} from "../../lib/delta/mod.ts";
import { ids, orders, ordersSchema, withTempDir } from "./_core_fixtures.ts";

Deno.test("create writes protocol (1,2), metaData and a CREATE TABLE commitInfo", () =>
  withTempDir(async (dir) => {
    const t = await createTable(dir, ordersSchema(), { partitionColumns: ["state"] });
    const lines = new TextDecoder().decode(
      await openStorage(dir).get("_delta_log/00000000000000000000.json"),
    ).trim()
      .split("\n").map((l) => JSON.parse(l));
    assert.deepEqual(Object.keys(lines[0]), ["commitInfo"]);
    const ci = lines[0].commitInfo;
    assert.equal(ci.operation, "CREATE TABLE");
    assert.equal(ci.engineInfo, "deno-retail-delta/0.1");
    assert.match(ci.txnId, /^[0-9a-f-]{36}$/);
    for (const v of Object.values(ci.operationParameters)) assert.equal(typeof v, "string");
    assert.deepEqual(lines[1], { protocol: { minReaderVersion: 1, minWriterVersion: 2 } });
    const md = lines[2].metaData;
    assert.match(md.id, /^[0-9a-f-]{36}$/);
    assert.deepEqual(md.format, { provider: "parquet", options: {} });
    assert.deepEqual(md.partitionColumns, ["state"]);
    assert.equal(JSON.parse(md.schemaString).fields[0].name, "order_id");
    assert.equal(typeof md.createdTime, "number");
    const snap = await t.snapshot();
    assert.equal(snap.version, 0);
    assert.equal(snap.files.length, 0);
    assert.equal((await t.read()).numRows, 0);
  }));

Deno.test("creating an existing table fails unless ifNotExists", () =>
  withTempDir(async (dir) => {
    await createTable(dir, ordersSchema());
    await assert.rejects(() => createTable(dir, ordersSchema()), TableExistsError);
    const t = await createTable(dir, ordersSchema(), { ifNotExists: true });
    assert.equal((await t.snapshot()).version, 0);
    await assert.rejects(() => openTable(`${dir}/nothing-here`), TableNotFoundError);
  }));

Deno.test("append then read round trip (partitioned), with projection and partition pruning", () =>
  withTempDir(async (dir) => {
    const t = await createTable(dir, ordersSchema(), { partitionColumns: ["state"] });
    const r1 = await t.append(orders(100, 0));
    const r2 = await t.append(orders(50, 100));
    assert.equal(r1.version, 1);
    assert.equal(r2.version, 2);
    assert.equal(r1.files.length, 3); // one file per state
    for (const f of r1.files) {
      assert.match(f.path, /^state=(IL|NY|CA)\/part-00000-[0-9a-f-]{36}-c000\.snappy\.parquet$/);
      assert.equal(f.size, (await openStorage(dir).head(decodeURIComponent(f.path)))!.size);
      assert.equal(JSON.parse(f.stats!).numRecords, f.partitionValues.state === "IL" ? 34 : 33);
    }
    const all = await t.read();
    assert.deepEqual(ids(all), Array.from({ length: 150 }, (_, i) => i));
    assert.deepEqual(
      all.schema.fields.map((f) => f.name),
      ordersSchema().fields.map((f) => f.name),
    );
    const row = all.toArray().find((r) => r.order_id === 7n)!;
    assert.equal(row.state, "NY");
    assert.equal(row.price, 7.5);
    const proj = await t.read({ columns: ["order_id", "state"] });
    assert.deepEqual(proj.schema.fields.map((f) => f.name), ["order_id", "state"]);
    const il = await t.read({ partitionFilter: (v) => v.state === "IL" });
    assert.equal(il.numRows, 50);
    assert.ok([...il.getChild("state")!].every((s) => s === "IL"));
    // time travel by version
    assert.equal((await t.read({ version: 1 })).numRows, 100);
  }));

Deno.test("a big input is split into several files near the target size", () =>
  withTempDir(async (dir) => {
    const t = await createTable(dir, ordersSchema());
    const r = await t.append(orders(10_000), { targetFileSize: 100_000 });
    assert.ok(r.files.length >= 4, `expected several files, got ${r.files.length}`);
    const counts = r.files.map((f) => JSON.parse(f.stats!).numRecords as number);
    assert.equal(counts.reduce((a, b) => a + b, 0), 10_000);
    assert.deepEqual(ids(await t.read()), Array.from({ length: 10_000 }, (_, i) => i));
  }));

Deno.test("overwrite removes every live file and adds the new ones", () =>
  withTempDir(async (dir) => {
    const t = await createTable(dir, ordersSchema());
    await t.append(orders(20));
    await t.append(orders(20, 20));
    const r = await t.overwrite(orders(5, 1000));
    assert.deepEqual(ids(await t.read()), [1000, 1001, 1002, 1003, 1004]);
    const snap = await t.snapshot();
    assert.equal(snap.files.length, r.files.length);
    assert.equal(snap.tombstones.length, 2);
    const lines = new TextDecoder().decode(
      await openStorage(dir).get("_delta_log/00000000000000000003.json"),
    ).trim()
      .split("\n").map((l) => JSON.parse(l));
    assert.equal(lines[0].commitInfo.operationParameters.mode, "Overwrite");
    assert.equal(lines[0].commitInfo.isBlindAppend, false);
    const removes = lines.filter((l) => l.remove).map((l) => l.remove);
    assert.equal(removes.length, 2);
    assert.ok(
      removes.every((x) => x.dataChange === true && typeof x.deletionTimestamp === "number"),
    );
    assert.equal((await t.read({ version: 2 })).numRows, 40);
  }));

Deno.test("delta.appendOnly refuses overwrite", () =>
  withTempDir(async (dir) => {
    const t = await createTable(dir, ordersSchema(), {
      configuration: { "delta.appendOnly": "true" },
    });
    await t.append(orders(3));
    await assert.rejects(() => t.overwrite(orders(3)), AppendOnlyError);
    assert.equal((await t.snapshot()).version, 1);
  }));

Deno.test("bad rows: null in a non-nullable column names column and row; nothing is committed", () =>
  withTempDir(async (dir) => {
    const t = await createTable(dir, ordersSchema());
    const good = orders(5);
    const badIds = arrow.vectorFromArray([1n, 2n, null, 4n, 5n], new arrow.Int64());
    const cols: Record<string, arrow.Vector> = {};
    for (const f of good.schema.fields) cols[f.name] = good.getChild(f.name)!;
    cols.order_id = badIds;
    await assert.rejects(
      () => t.append(new arrow.Table(cols)),
      (e: unknown) =>
        e instanceof SchemaMismatchError && e.column === "order_id" && e.row === 2 &&
        /row 2/.test(e.message),
    );
    cols.order_id = good.getChild("order_id")!;
    cols.quantity = arrow.vectorFromArray([1, 2, 3, 4, 5], new arrow.Int32());
    await assert.rejects(
      () => t.append(new arrow.Table(cols)),
      (e: unknown) =>
        e instanceof SchemaMismatchError && e.column === "quantity" && /Int32/.test(e.message),
    );
    delete cols.quantity;
    cols.extra = arrow.vectorFromArray([1, 2, 3, 4, 5], new arrow.Int32());
    await assert.rejects(() => t.append(new arrow.Table(cols)), SchemaMismatchError);
    assert.equal((await t.snapshot()).version, 0, "no log entry was written");
    const logs = (await openStorage(dir).list("_delta_log/")).map((e) => e.path.slice(11));
    assert.deepEqual(logs, ["00000000000000000000.json"]);
  }));

Deno.test("missing nullable columns are written as nulls", () =>
  withTempDir(async (dir) => {
    const t = await createTable(dir, ordersSchema());
    const o = orders(3);
    await t.append(o.select(["order_id", "state"]));
    const back = await read(dir);
    assert.equal(back.numRows, 3);
    assert.equal(back.getChild("city")!.nullCount, 3);
  }));

Deno.test("history: one entry per commit, newest first, with rows added", () =>
  withTempDir(async (dir) => {
    const t = await createTable(dir, ordersSchema());
    await t.append(orders(7));
    await t.overwrite(orders(2));
    const h = await history(dir);
    assert.deepEqual(h.map((e) => e.version), [2, 1, 0]);
    assert.deepEqual(h.map((e) => e.operation), ["WRITE", "WRITE", "CREATE TABLE"]);
    assert.equal(h[1].numOutputRows, 7);
    assert.equal(h[0].numOutputRows, 2);
    assert.equal(h[1].readVersion, 0);
    assert.equal(h[1].isBlindAppend, true);
    assert.equal(h[0].isBlindAppend, false);
    assert.equal(h[0].operationParameters.mode, "Overwrite");
    assert.ok(h[0].timestamp > h[1].timestamp && h[1].timestamp > h[2].timestamp);
    assert.equal((await t.history({ limit: 1 })).length, 1);
  }));

Deno.test({
  name: "file:// locations work, and readBatches streams one table per file",
  ignore: onAdls(), // a file:// URL is local by definition
  fn: () =>
    withTempDir(async (dir) => {
      const url = `file://${dir}/orders`;
      const t = await createTable(url, ordersSchema(), { partitionColumns: ["state"] });
      await t.append(orders(9));
      let rows = 0;
      let batches = 0;
      for await (const b of t.readBatches({ columns: ["order_id"] })) {
        batches++;
        rows += b.numRows;
        assert.deepEqual(b.schema.fields.map((f) => f.name), ["order_id"]);
      }
      assert.equal(batches, 3);
      assert.equal(rows, 9);
      assert.equal((await openTable(`${dir}/orders`)).location, `${dir}/orders`);
      assert.equal((await read(url)).numRows, 9);
    }),
});

Deno.test("a timestamp_ntz table is (3,7) listing appendOnly and invariants, as Spark needs", () =>
  withTempDir(async (dir) => {
    // Spark refuses a (3,7) table with a NOT NULL column unless writerFeatures lists invariants
    // (DELTA_FEATURES_PROTOCOL_METADATA_MISMATCH); it lists both legacy features itself.
    const schema = new arrow.Schema([
      new arrow.Field("id", new arrow.Int64(), false),
      new arrow.Field("ntz", new arrow.TimestampMicrosecond(), true),
    ]);
    await createTable(dir, schema);
    const lines = new TextDecoder().decode(
      await openStorage(dir).get("_delta_log/00000000000000000000.json"),
    ).trim().split("\n").map((l) => JSON.parse(l));
    assert.deepEqual(lines[1], {
      protocol: {
        minReaderVersion: 3,
        minWriterVersion: 7,
        readerFeatures: ["timestampNtz"],
        writerFeatures: ["appendOnly", "invariants", "timestampNtz"],
      },
    });
  }));
