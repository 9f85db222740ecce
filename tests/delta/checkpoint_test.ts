import { openStorage } from "../../lib/storage/mod.ts";
import assert from "node:assert/strict";
import { checkpointPath, createTable, type Snapshot, snapshot } from "../../lib/delta/mod.ts";
import { decodeParquet } from "../../lib/delta/parquet.ts";
import { orders, ordersSchema, withTempDir } from "./_core_fixtures.ts";

function state(s: Snapshot) {
  const norm = (o: unknown) =>
    JSON.parse(JSON.stringify(o, (_k, v) => (typeof v === "bigint" ? `${v}n` : v)));
  return {
    version: s.version,
    protocol: norm(s.protocol),
    metadata: norm(s.metadata),
    files: s.files.map((f) => ({ ...norm(f), dataChange: undefined })).sort((a, b) =>
      a.path < b.path ? -1 : 1
    ),
    tombstones: s.tombstones.map((f) =>
      norm({ path: f.path, deletionTimestamp: f.deletionTimestamp })
    )
      .sort((a, b) => a.path < b.path ? -1 : 1),
    txns: norm(Object.fromEntries([...s.txns].map(([k, v]) => [k, v.version]))),
  };
}

Deno.test("checkpoint every 10 commits; replay from it equals full replay around checkpoints", () =>
  withTempDir(async (dir) => {
    const t = await createTable(dir, ordersSchema(), {
      partitionColumns: ["state"],
      configuration: { "delta.checkpointInterval": "10" },
    });
    for (let i = 1; i <= 23; i++) {
      if (i === 12) await t.overwrite(orders(4, i * 10));
      else if (i % 4 === 0) {
        await t.commitTxns({ [`app-${i % 3}`]: i, big: 9_007_199_254_740_993n + BigInt(i) });
      } else await t.append(orders(4, i * 10), { txns: { stream: i } });
    }
    const cps = (await openStorage(dir).list("_delta_log/")).map((e) => e.path.slice(11)).filter((
      n,
    ) => n.includes("checkpoint"))
      .sort();
    assert.deepEqual(cps, [
      "00000000000000000010.checkpoint.parquet",
      "00000000000000000020.checkpoint.parquet",
      "_last_checkpoint",
    ]);
    const last = JSON.parse(
      new TextDecoder().decode(await openStorage(dir).get("_delta_log/_last_checkpoint")),
    );
    assert.equal(last.version, 20);
    const s20 = await snapshot(dir, { version: 20 });
    assert.equal(last.numOfAddFiles, s20.files.length);
    assert.equal(last.size, 2 + s20.files.length + s20.tombstones.length + s20.txns.size);
    assert.equal(last.sizeInBytes, (await openStorage(dir).head(checkpointPath(20)))!.size);
    for (const v of [9, 10, 11, 12, 19, 20, 21, 23]) {
      const fromCp = await snapshot(dir, { version: v });
      const full = await snapshot(dir, { version: v, useCheckpoints: false });
      assert.equal(fromCp.checkpointVersion, v >= 20 ? 20 : v >= 10 ? 10 : undefined);
      assert.equal(full.checkpointVersion, undefined);
      assert.deepEqual(state(fromCp), state(full), `version ${v}`);
    }
    const latest = await snapshot(dir);
    assert.equal(latest.txnVersion("big"), 9_007_199_254_740_993n + 20n);
    assert.equal(latest.tombstones.length > 0, true);
  }));

Deno.test("checkpoint parquet has the Spark/delta-rs column layout", () =>
  withTempDir(async (dir) => {
    const t = await createTable(dir, ordersSchema(), { partitionColumns: ["state"] });
    for (let i = 0; i < 10; i++) await t.append(orders(2, i * 2), { txns: { s: i } });
    const table = decodeParquet(await openStorage(dir).get(checkpointPath(10)));
    const desc = (f: { name: string; type: { toString(): string } }) =>
      `${f.type}`.replace(/\s+/g, "");
    const cols = Object.fromEntries(table.schema.fields.map((f) => [f.name, desc(f)]));
    assert.deepEqual(Object.keys(cols).sort(), ["add", "metaData", "protocol", "remove", "txn"]);
    assert.equal(
      cols.add,
      "Struct<{path:Utf8,partitionValues:Map<{key:Utf8,value:Utf8}>,size:Int64,modificationTime:Int64," +
        "dataChange:Bool,stats:Utf8,tags:Map<{key:Utf8,value:Utf8}>}>",
    );
    assert.equal(
      cols.remove,
      "Struct<{path:Utf8,deletionTimestamp:Int64,dataChange:Bool,extendedFileMetadata:Bool," +
        "partitionValues:Map<{key:Utf8,value:Utf8}>,size:Int64}>",
    );
    assert.equal(
      cols.metaData,
      "Struct<{id:Utf8,name:Utf8,description:Utf8,format:Struct<{provider:Utf8,options:Map<{key:Utf8,value:Utf8}>}>," +
        "schemaString:Utf8,partitionColumns:List<Utf8>,configuration:Map<{key:Utf8,value:Utf8}>,createdTime:Int64}>",
    );
    assert.equal(
      cols.protocol,
      "Struct<{minReaderVersion:Int32,minWriterVersion:Int32,readerFeatures:List<Utf8>,writerFeatures:List<Utf8>}>",
    );
    assert.equal(cols.txn, "Struct<{appId:Utf8,version:Int64,lastUpdated:Int64}>");
    // exactly one protocol and one metaData row; adds have dataChange=false and stats as a string
    const protos = [...table.getChild("protocol")!].filter((x) => x !== null);
    assert.equal(protos.length, 1);
    assert.equal(protos[0]!.readerFeatures, null, "feature arrays null on a (1,2) table");
    const adds = [...table.getChild("add")!].filter((x) => x !== null);
    assert.equal(adds.length, 10 * 3 - 10 * 1, "live adds"); // 2 rows per commit -> 2 partitions
    assert.ok(adds.every((a) => a!.dataChange === false && typeof a!.stats === "string"));
  }));

Deno.test("a failing checkpoint does not fail the commit", () =>
  withTempDir(async (dir) => {
    const t = await createTable(dir, ordersSchema(), {
      configuration: { "delta.checkpointInterval": "2" },
    });
    await t.append(orders(1));
    // Make the checkpoint path unwritable: a directory with the checkpoint's name.
    await openStorage(dir).put(`${checkpointPath(2)}/blocker`, new TextEncoder().encode("x"));
    const warn = console.warn;
    const warnings: string[] = [];
    console.warn = (...a: unknown[]) => warnings.push(a.join(" "));
    try {
      const r = await t.append(orders(1, 1));
      assert.equal(r.version, 2);
    } finally {
      console.warn = warn;
    }
    assert.equal(warnings.length, 1);
    assert.match(warnings[0], /checkpoint of version 2/);
    await openStorage(dir).delete(`${checkpointPath(2)}/blocker`);
    assert.equal((await snapshot(dir)).files.length, 2);
  }));
