/**
 * Our writer on tables with column mapping (name and id modes) and row tracking: physical names
 * and Parquet field ids in the files (nested fields too), stats and partition values keyed by
 * physical names, new columns with fresh ids, compaction keeping physical names, row ids
 * (baseRowId ranges, defaultRowCommitVersion, the high-water mark, retries), compaction
 * materialising stable row ids, checkpoints keeping them, and the refusals.
 */
import assert from "node:assert/strict";
import * as arrow from "apache-arrow";
import {
  type Action,
  type AddAction,
  addColumns,
  append,
  checkpointStateOf,
  commit,
  ConstraintViolationError,
  createTable,
  decodeParquet,
  type DomainMetadata,
  loadSnapshot,
  makeCommitInfo,
  optimize,
  parquetSchema,
  read,
  readCheckpoint,
  readCommit,
  type RemoveAction,
  TableMaintenance,
  UnsupportedFeatureError,
  writeCheckpoint,
} from "../../lib/delta/mod.ts";
import {
  assignColumnMapping,
  columnMappingMode,
  PARQUET_FIELD_ID,
} from "../../lib/delta/column_mapping.ts";
import { assignRowIds, rowIdHighWaterMark } from "../../lib/delta/row_tracking.ts";
import { openStorage } from "../../lib/storage/mod.ts";
import type { Storage } from "../../lib/storage/storage.ts";
import { inlineDv } from "../support/deletion_vectors.ts";
import { withTempDir } from "./_core_fixtures.ts";
import { pythonPath } from "../support/python.ts";

const cm = (id: number, phys: string) => ({
  "delta.columnMapping.id": id,
  "delta.columnMapping.physicalName": phys,
});

/** A column-mapped schema: a renamed column with a space, a struct, a list of structs. */
function mappedSchema() {
  return {
    type: "struct",
    fields: [
      { name: "order_id", type: "long", nullable: false, metadata: cm(1, "col-order") },
      { name: "state", type: "string", nullable: true, metadata: cm(2, "col-state") },
      // Renamed by Spark (RENAME COLUMN zip TO `zip code`): the physical name stays.
      { name: "zip code", type: "long", nullable: true, metadata: cm(3, "col-zip") },
      {
        name: "customer",
        type: {
          type: "struct",
          fields: [{ name: "name", type: "string", nullable: true, metadata: cm(5, "col-cname") }],
        },
        nullable: true,
        metadata: cm(4, "col-customer"),
      },
      {
        name: "line_items",
        type: {
          type: "array",
          elementType: {
            type: "struct",
            fields: [
              { name: "item_id", type: "long", nullable: false, metadata: cm(7, "col-item") },
              { name: "qty", type: "long", nullable: true, metadata: cm(8, "col-qty") },
            ],
          },
          containsNull: true,
        },
        nullable: true,
        metadata: cm(6, "col-lines"),
      },
    ],
  };
}

const customerType = new arrow.Struct([new arrow.Field("name", new arrow.Utf8(), true)]);
const lineType = new arrow.List(
  new arrow.Field(
    "element",
    new arrow.Struct([
      new arrow.Field("item_id", new arrow.Int64(), false),
      new arrow.Field("qty", new arrow.Int64(), true),
    ]),
    true,
  ),
);

/** `n` rows with order ids start…start+n−1 under the logical names. */
function rows(n: number, start = 0): arrow.Table {
  const ids = Array.from({ length: n }, (_, i) => BigInt(start + i));
  return new arrow.Table({
    order_id: arrow.vectorFromArray(ids, new arrow.Int64()),
    state: arrow.vectorFromArray(ids.map((i) => ["IL", "NY"][Number(i) % 2]), new arrow.Utf8()),
    "zip code": arrow.vectorFromArray(ids.map((i) => 60600n + i), new arrow.Int64()),
    customer: arrow.vectorFromArray(ids.map((i) => ({ name: `c${i}` })), customerType),
    line_items: arrow.vectorFromArray(
      ids.map((i) => [{ item_id: i * 10n, qty: 1n }, { item_id: i * 10n + 1n, qty: null }]),
      lineType,
    ),
  });
}

/** Create a table, then give it `protocol`, the schema and `configuration` (as Spark would). */
async function mappedTable(
  dir: string,
  protocol: Record<string, unknown>,
  configuration: Record<string, string>,
  opts: { partitionColumns?: string[]; schema?: unknown } = {},
) {
  // Created with plain names (the real schema, with a name only column mapping allows, follows).
  const plainSchema = new arrow.Schema([
    new arrow.Field("order_id", new arrow.Int64(), false),
    new arrow.Field("state", new arrow.Utf8(), true),
  ]);
  await createTable(dir, plainSchema, { partitionColumns: opts.partitionColumns });
  const s = openStorage(dir);
  const snap = await loadSnapshot(s);
  const metaData = {
    ...snap.metadata,
    schemaString: JSON.stringify(opts.schema ?? mappedSchema()),
    configuration: { ...snap.configuration, ...configuration },
  };
  await commit(s, snap.version, [{ protocol }, { metaData }], makeCommitInfo("SET", {}));
}

const NAME_MODE = { minReaderVersion: 2, minWriterVersion: 5 };
const ID_MODE = {
  minReaderVersion: 3,
  minWriterVersion: 7,
  readerFeatures: ["columnMapping"],
  writerFeatures: ["appendOnly", "invariants", "columnMapping"],
};

/** Field names and ids of a Parquet file, nested ones dotted. */
function fileFields(bytes: Uint8Array): Record<string, string | undefined> {
  const out: Record<string, string | undefined> = {};
  const visit = (f: arrow.Field, prefix: string) => {
    const name = prefix ? `${prefix}.${f.name}` : f.name;
    out[name] = f.metadata.get(PARQUET_FIELD_ID);
    for (const c of f.type.children ?? []) visit(c, name);
  };
  for (const f of parquetSchema(bytes).fields) visit(f, "");
  return out;
}

async function fileOf(s: Storage, add: AddAction): Promise<Uint8Array> {
  return await s.get(decodeURIComponent(add.path));
}

function addsOf(actions: Action[]): AddAction[] {
  return actions.filter((a) => "add" in a).map((a) => (a as { add: AddAction }).add);
}

/** Rows of a table as plain objects, sorted by order_id (bigints as strings). */
function plain(t: arrow.Table): unknown[] {
  return JSON.parse(JSON.stringify(
    t.toArray().map((r) => r.toJSON()),
    (_k, v) => (typeof v === "bigint" ? String(v) : v),
  )).sort((a: { order_id: string }, b: { order_id: string }) =>
    Number(a.order_id) - Number(b.order_id)
  );
}

Deno.test("column mapping (name, legacy writer version 5): physical names, field ids, stats and partition values by physical name; OPTIMIZE keeps them", () =>
  withTempDir(async (dir) => {
    await mappedTable(dir, NAME_MODE, {
      "delta.columnMapping.mode": "name",
      "delta.columnMapping.maxColumnId": "8",
    }, { partitionColumns: ["state"] });
    const s = openStorage(dir);
    const w = await append(dir, rows(4));
    assert.equal(w.files.length, 2, "one file per state");
    for (const f of w.files) {
      assert.deepEqual(
        Object.keys(f.partitionValues),
        ["col-state"],
        "partitionValues by physical name",
      );
      assert.match(decodeURIComponent(f.path), /^col-state=(IL|NY)\//);
      const stats = JSON.parse(f.stats!);
      assert.equal(stats.numRecords, 2);
      assert.deepEqual(Object.keys(stats.minValues).sort(), [
        "col-customer",
        "col-order",
        "col-zip",
      ]);
      assert.deepEqual(Object.keys(stats.minValues["col-customer"]), ["col-cname"]);
      assert.deepEqual(Object.keys(stats.nullCount).sort(), [
        "col-customer",
        "col-lines",
        "col-order",
        "col-zip",
      ]);
      assert.deepEqual(fileFields(await fileOf(s, f)), {
        "col-order": "1",
        "col-zip": "3",
        "col-customer": "4",
        "col-customer.col-cname": "5",
        "col-lines": "6",
        "col-lines.element": undefined,
        "col-lines.element.col-item": "7",
        "col-lines.element.col-qty": "8",
      });
    }
    const il = w.files.find((f) => f.partitionValues["col-state"] === "IL")!;
    assert.equal(JSON.parse(il.stats!).minValues["col-zip"], 60600);
    assert.deepEqual(plain(await read(dir)), plain(rows(4)));

    // More small files, then OPTIMIZE: the new files keep physical names and ids (direct copy).
    await append(dir, rows(4, 4));
    const o = await optimize(dir);
    assert.equal(o.numFilesRemoved, 4);
    const after = await loadSnapshot(s);
    assert.equal(after.files.length, 2);
    for (const f of after.files) {
      assert.match(decodeURIComponent(f.path), /^col-state=(IL|NY)\//);
      assert.equal(fileFields(await fileOf(s, f))["col-lines.element.col-item"], "7");
      assert.deepEqual(Object.keys(JSON.parse(f.stats!).maxValues).sort(), [
        "col-customer",
        "col-order",
        "col-zip",
      ]);
    }
    assert.deepEqual(plain(await read(dir)), plain(rows(8)));

    // A checkpoint of the (2,5) table reads back; the rows too.
    await writeCheckpoint(s, checkpointStateOf(after));
    const cp = await loadSnapshot(s);
    assert.equal(cp.checkpointVersion, after.version);
    assert.deepEqual(
      cp.files.map((f) => f.partitionValues).sort(),
      after.files.map((f) => f.partitionValues).sort(),
    );
    assert.deepEqual(plain(await read(dir)), plain(rows(8)));
  }));

Deno.test("column mapping: a column our writer adds gets the next id, a fresh physical name, and maxColumnId moves on", () =>
  withTempDir(async (dir) => {
    await mappedTable(dir, NAME_MODE, {
      "delta.columnMapping.mode": "name",
      "delta.columnMapping.maxColumnId": "9", // a dropped column had id 9
    });
    const s = openStorage(dir);
    await append(dir, rows(2));
    const base = rows(2, 2);
    const extra = new arrow.Table({
      ...Object.fromEntries(base.schema.fields.map((f) => [f.name, base.getChild(f.name)!])),
      "new note": arrow.vectorFromArray(["a", null], new arrow.Utf8()),
      tags: arrow.vectorFromArray(
        [{ k: "x" }, null],
        new arrow.Struct([new arrow.Field("k", new arrow.Utf8(), true)]),
      ),
    });
    const w = await append(dir, extra, { mergeSchema: true });
    const snap = await loadSnapshot(s);
    const note = snap.schema.fields.find((f) => f.name === "new note")!;
    const tags = snap.schema.fields.find((f) => f.name === "tags")!;
    assert.equal(note.metadata["delta.columnMapping.id"], 10);
    assert.match(String(note.metadata["delta.columnMapping.physicalName"]), /^col-[0-9a-f-]{36}$/);
    assert.equal(tags.metadata["delta.columnMapping.id"], 11);
    const k = (tags.type as { fields: { metadata: Record<string, unknown> }[] }).fields[0];
    assert.equal(k.metadata["delta.columnMapping.id"], 12, "nested fields get ids too");
    assert.equal(snap.configuration["delta.columnMapping.maxColumnId"], "12");
    const noteName = String(note.metadata["delta.columnMapping.physicalName"]);
    const fields = fileFields(await fileOf(s, w.files[0]));
    assert.equal(fields[noteName], "10");
    assert.equal(
      fields[
        `${tags.metadata["delta.columnMapping.physicalName"]}.${
          k.metadata["delta.columnMapping.physicalName"]
        }`
      ],
      "12",
    );
    assert.equal(JSON.parse(w.files[0].stats!).minValues[noteName], "a");
    const all = await read(dir);
    assert.deepEqual([...all.getChild("new note")!].sort(), ["a", null, null, null].sort());
    // ALTER TABLE ADD COLUMNS (the streams' openOrCreate) takes the next id too.
    const added = await addColumns(
      dir,
      new arrow.Schema([
        ...extra.schema.fields,
        new arrow.Field("later", new arrow.Int32(), true),
      ]),
    );
    assert.deepEqual(added?.added, ["later"]);
    const later = (await loadSnapshot(s)).schema.fields.find((f) => f.name === "later")!;
    assert.equal(later.metadata["delta.columnMapping.id"], 13);
    assert.equal((await loadSnapshot(s)).configuration["delta.columnMapping.maxColumnId"], "13");
    assert.deepEqual(
      assignColumnMapping([{ name: "a", type: "long", nullable: true, metadata: {} }], 3).maxId,
      4,
    );
  }));

Deno.test("column mapping (id mode, table feature): field ids written; OPTIMIZE of a file with a DV reads rows and writes physical names", () =>
  withTempDir(async (dir) => {
    await mappedTable(dir, {
      ...ID_MODE,
      readerFeatures: ["columnMapping", "deletionVectors"],
      writerFeatures: [...ID_MODE.writerFeatures, "deletionVectors"],
    }, { "delta.columnMapping.mode": "id", "delta.columnMapping.maxColumnId": "8" });
    const s = openStorage(dir);
    const first = await append(dir, rows(3));
    await append(dir, rows(3, 3));
    // A DELETE of order 1 as Spark commits it: the same file with a DV.
    let snap = await loadSnapshot(s);
    const f = snap.files.find((x) => x.path === first.files[0].path)!;
    await commit(s, snap.version, [
      { remove: { path: f.path, dataChange: true, deletionTimestamp: Date.now() } },
      { add: { ...f, deletionVector: inlineDv([1]) } },
    ], makeCommitInfo("DELETE", {}));
    const o = await optimize(dir);
    assert.equal(o.numFilesRemoved, 2);
    assert.equal(o.numRows, 5);
    snap = await loadSnapshot(s);
    const out = snap.files[0];
    assert.deepEqual(fileFields(await fileOf(s, out)), {
      "col-order": "1",
      "col-state": "2",
      "col-zip": "3",
      "col-customer": "4",
      "col-customer.col-cname": "5",
      "col-lines": "6",
      "col-lines.element": undefined,
      "col-lines.element.col-item": "7",
      "col-lines.element.col-qty": "8",
    });
    assert.equal(JSON.parse(out.stats!).minValues["col-order"], 0);
    assert.equal(JSON.parse(out.stats!).nullCount["col-lines"], 0);
    const expected = plain(rows(6)).filter((r) => (r as { order_id: string }).order_id !== "1");
    assert.deepEqual(plain(await read(dir)), expected);
  }));

const hasPython = await Deno.stat(pythonPath()).then(() => true, () => false);

Deno.test({
  name: "column mapping: Parquet field ids are in the file's Parquet schema (pyarrow reads them)",
  ignore: !hasPython,
  fn: () =>
    withTempDir(async (dir) => {
      await mappedTable(dir, ID_MODE, { "delta.columnMapping.mode": "id" });
      const w = await append(dir, rows(2));
      const bytes = await fileOf(openStorage(dir), w.files[0]);
      const file = await Deno.makeTempFile({ suffix: ".parquet" });
      try {
        await Deno.writeFile(file, bytes);
        const out = await new Deno.Command(pythonPath(), {
          args: [
            "-c",
            "import sys, pyarrow.parquet as pq; print(pq.ParquetFile(sys.argv[1]).schema)",
            file,
          ],
        }).output();
        assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
        const text = new TextDecoder().decode(out.stdout);
        for (
          const [name, id] of [["col-order", 1], ["col-cname", 5], ["col-lines", 6], ["col-qty", 8]]
        ) {
          assert.match(text, new RegExp(`field_id=${id} ${name}\\b`), `${name} has field_id ${id}`);
        }
      } finally {
        await Deno.remove(file);
      }
    }),
});

Deno.test("column mapping: refusals name what the table needs", () =>
  withTempDir(async (dir) => {
    const schema = mappedSchema();
    delete (schema.fields[2].metadata as Record<string, unknown>)["delta.columnMapping.id"];
    await mappedTable(dir, ID_MODE, { "delta.columnMapping.mode": "id" }, { schema });
    const e1 = await append(dir, rows(1)).then(() => undefined, (e) => e);
    assert.ok(e1 instanceof UnsupportedFeatureError);
    assert.equal(e1.feature, "columnMapping");
    assert.match(e1.message, /zip code/);
    assert.equal(e1.message.includes("\n"), false);
    await assert.rejects(() => optimize(dir), UnsupportedFeatureError);
    assert.throws(
      () => columnMappingMode(NAME_MODE, { "delta.columnMapping.mode": "magic" }, "t"),
      UnsupportedFeatureError,
    );
    assert.equal(
      columnMappingMode({ minReaderVersion: 1, minWriterVersion: 2 }, {
        "delta.columnMapping.mode": "name",
      }, "t"),
      "none",
      "the property counts only when the protocol supports the feature",
    );
  }));

Deno.test("column mapping: icebergCompatV2 stays refused by name; CHECK constraints on a legacy column-mapped table are enforced by logical name", () =>
  withTempDir(async (dir) => {
    await mappedTable(dir, {
      ...ID_MODE,
      writerFeatures: [...ID_MODE.writerFeatures, "icebergCompatV2"],
    }, { "delta.columnMapping.mode": "name", "delta.enableIcebergCompatV2": "true" });
    await assert.rejects(
      () => append(dir, rows(1)),
      (e: unknown) => e instanceof UnsupportedFeatureError && e.feature === "icebergCompatV2",
    );
    await mappedTable(`${dir}/b`, NAME_MODE, {
      "delta.columnMapping.mode": "name",
      "delta.constraints.pos": "order_id > 0",
    });
    // rows(1) has order_id 0: refused whole; order ids 1 and 2 pass and land.
    await assert.rejects(
      () => append(`${dir}/b`, rows(1)),
      (e: unknown) =>
        e instanceof ConstraintViolationError && /CHECK constraint pos/.test(e.message),
    );
    await append(`${dir}/b`, rows(2, 1));
    const back = await read(`${dir}/b`);
    assert.deepEqual(back.getChild("order_id")!.toArray(), BigInt64Array.from([1n, 2n]));
  }));

// ---------------------------------------------------------------------------------------------
// Row tracking

const RT_PROTOCOL = {
  minReaderVersion: 1,
  minWriterVersion: 7,
  writerFeatures: ["appendOnly", "invariants", "domainMetadata", "rowTracking"],
};
/** The first three columns of the mapped schema, without column mapping (row tracking tables). */
const RT_SCHEMA = {
  type: "struct",
  fields: mappedSchema().fields.map((f) => ({ ...f, metadata: {} })).slice(0, 3),
};

/** `n` rows from `start` in RT_SCHEMA's columns. */
function small(n: number, start: number): arrow.Table {
  return rows(n, start).select(["order_id", "state", "zip code"]);
}

const RT_CONFIG = {
  "delta.enableRowTracking": "true",
  "delta.rowTracking.materializedRowIdColumnName": "_row-id-col-test",
  "delta.rowTracking.materializedRowCommitVersionColumnName": "_row-commit-version-col-test",
};

function hwmOf(actions: Action[]): string | undefined {
  const d = actions.find((a) => "domainMetadata" in a) as
    | { domainMetadata: DomainMetadata }
    | undefined;
  return d?.domainMetadata.domain === "delta.rowTracking"
    ? d.domainMetadata.configuration
    : undefined;
}

/** Stable row id and commit version of every live row (PROTOCOL.md reader rules), by order id. */
async function stableIds(dir: string): Promise<Map<string, [bigint, bigint]>> {
  const s = openStorage(dir);
  const snap = await loadSnapshot(s);
  const out = new Map<string, [bigint, bigint]>();
  for (const f of snap.files) {
    const t = decodeParquet(await s.get(decodeURIComponent(f.path)));
    const ids = t.getChild("order_id") ?? t.getChild("col-order")!;
    const mId = t.getChild(RT_CONFIG["delta.rowTracking.materializedRowIdColumnName"]);
    const mV = t.getChild(RT_CONFIG["delta.rowTracking.materializedRowCommitVersionColumnName"]);
    for (let i = 0; i < t.numRows; i++) {
      const id = mId?.get(i) ?? BigInt(f.baseRowId!) + BigInt(i);
      const v = mV?.get(i) ?? BigInt(f.defaultRowCommitVersion!);
      out.set(String(ids.get(i)), [BigInt(id), BigInt(v)]);
    }
  }
  return out;
}

Deno.test("row tracking: baseRowId ranges, defaultRowCommitVersion and the high-water mark", () => {
  const add = (n: number) => ({
    add: {
      path: `f${n}`,
      partitionValues: {},
      size: 1,
      modificationTime: 0,
      dataChange: true,
      stats: `{"numRecords":${n}}`,
    },
  });
  const r = assignRowIds([{ txn: { appId: "q", version: 1 } }, add(3), add(2)], 5, 9n);
  const adds = addsOf(r.actions);
  assert.deepEqual(adds.map((a) => [a.baseRowId, a.defaultRowCommitVersion]), [[10, 5], [13, 5]]);
  assert.equal(r.highWaterMark, 14n);
  assert.equal(hwmOf(r.actions), '{"rowIdHighWaterMark":14}');
  assert.equal("txn" in r.actions[0], true);
  // No rows, no new mark.
  assert.equal(
    hwmOf(assignRowIds([{ txn: { appId: "q", version: 1 } }], 5, 9n).actions),
    undefined,
  );
  // The mark of a state: the domain, raised to any file's last id.
  const domain = {
    domain: "delta.rowTracking",
    configuration: '{"rowIdHighWaterMark":4}',
    removed: false,
  };
  const file = { ...add(3).add, baseRowId: 20 };
  assert.equal(rowIdHighWaterMark({ domainMetadata: new Map(), files: [], tombstones: [] }), -1n);
  assert.equal(
    rowIdHighWaterMark({
      domainMetadata: new Map([["delta.rowTracking", domain]]),
      files: [],
      tombstones: [],
    }),
    4n,
  );
  assert.equal(
    rowIdHighWaterMark({
      domainMetadata: new Map([["delta.rowTracking", domain]]),
      files: [file],
      tombstones: [],
    }),
    22n,
  );
});

Deno.test("row tracking: appends get fresh row ids; a retry takes the ids after the winner's; OPTIMIZE materialises stable ids; checkpoints keep them", () =>
  withTempDir(async (dir) => {
    await mappedTable(dir, RT_PROTOCOL, RT_CONFIG, {
      schema: RT_SCHEMA,
    });
    const s = openStorage(dir);
    const w1 = await append(dir, small(3, 0));
    assert.deepEqual(w1.files.map((f) => [f.baseRowId, f.defaultRowCommitVersion]), [[
      0,
      w1.version,
    ]]);
    assert.equal(hwmOf(await readCommit(s, w1.version)), '{"rowIdHighWaterMark":2}');
    const info = (await readCommit(s, w1.version))[0] as {
      commitInfo: { tags?: Record<string, string> };
    };
    assert.deepEqual(info.commitInfo.tags, { "delta.rowTracking.preserved": "true" });

    // A writer that read before another append lands retries above it with fresh ids.
    const stale = await loadSnapshot(s);
    const w2 = await append(dir, small(2, 3));
    assert.deepEqual(w2.files.map((f) => f.baseRowId), [3]);
    const late = await commit(
      s,
      stale.version,
      [{
        add: {
          ...w2.files[0],
          path: "late.parquet",
          baseRowId: undefined,
          defaultRowCommitVersion: undefined,
        },
      }],
      makeCommitInfo("WRITE", {}),
      {
        rowIdHighWaterMark: rowIdHighWaterMark(stale),
      },
    );
    assert.equal(late.attempts, 2);
    const lateAdd = addsOf(late.actions)[0];
    assert.equal(lateAdd.baseRowId, 5, "after the winner's ids 3..4");
    assert.equal(lateAdd.defaultRowCommitVersion, late.version);
    assert.equal(hwmOf(await readCommit(s, late.version)), '{"rowIdHighWaterMark":6}');
    // Undo the fake file (it points at w2's file).
    let snap = await loadSnapshot(s);
    await commit(s, snap.version, [{
      remove: {
        path: "late.parquet",
        dataChange: true,
        deletionTimestamp: Date.now(),
        baseRowId: 5,
      },
    }], makeCommitInfo("DELETE", {}));
    const before = await stableIds(dir);
    assert.deepEqual([...before.values()].map(([id]) => id).sort(), [0n, 1n, 2n, 3n, 4n]);

    // A DELETE of order 1 (a DV), then OPTIMIZE: the rewritten rows keep their stable ids and
    // commit versions in the materialized columns; the new file gets fresh ids above the mark.
    snap = await loadSnapshot(s);
    const f1 = snap.files.find((f) => f.path === w1.files[0].path)!;
    await upgradeFeatures(s, ["deletionVectors"]);
    snap = await loadSnapshot(s);
    await commit(s, snap.version, [
      {
        remove: {
          path: f1.path,
          dataChange: true,
          deletionTimestamp: Date.now(),
          baseRowId: f1.baseRowId,
          defaultRowCommitVersion: f1.defaultRowCommitVersion,
        },
      },
      { add: { ...f1, deletionVector: inlineDv([1]) } },
    ], makeCommitInfo("DELETE", {}));
    const o = await optimize(dir);
    assert.equal(o.numFilesRemoved, 2);
    const oActions = await readCommit(s, o.version!);
    const removes = oActions.filter((a) => "remove" in a).map((a) =>
      (a as { remove: RemoveAction }).remove
    );
    assert.deepEqual(removes.map((r) => r.baseRowId).sort(), [0, 3], "removes keep baseRowId");
    assert.deepEqual(
      removes.map((r) => r.defaultRowCommitVersion).sort(),
      [w1.version, w2.version].sort(),
    );
    const newAdd = addsOf(oActions)[0];
    assert.equal(newAdd.baseRowId, 7, "fresh ids above the mark (6)");
    assert.equal(newAdd.defaultRowCommitVersion, o.version);
    assert.equal(hwmOf(oActions), '{"rowIdHighWaterMark":10}');
    assert.deepEqual(
      (oActions[0] as { commitInfo: { tags?: Record<string, string> } }).commitInfo.tags,
      {
        "delta.rowTracking.preserved": "true",
      },
    );
    const file = decodeParquet(await s.get(decodeURIComponent(newAdd.path)));
    assert.deepEqual(file.schema.fields.map((f) => f.name), [
      "order_id",
      "state",
      "zip code",
      "_row-id-col-test",
      "_row-commit-version-col-test",
    ]);
    const after = await stableIds(dir);
    before.delete("1");
    assert.deepEqual(after, before, "every copied row keeps its stable id and commit version");

    // A checkpoint keeps baseRowId and defaultRowCommitVersion of adds and removes.
    snap = await loadSnapshot(s);
    await writeCheckpoint(s, checkpointStateOf(snap));
    const cp = await readCheckpoint(s, snap.version);
    const cpAdd = addsOf(cp)[0];
    assert.equal(cpAdd.baseRowId, 7);
    assert.equal(cpAdd.defaultRowCommitVersion, o.version);
    const cpRemove = cp.filter((a) => "remove" in a).map((a) =>
      (a as { remove: RemoveAction }).remove
    );
    assert.ok(cpRemove.some((r) => r.baseRowId === 3));
    const fromCp = await loadSnapshot(s);
    assert.equal(fromCp.checkpointVersion, snap.version);
    assert.equal(rowIdHighWaterMark(fromCp), 10n);
    const w3 = await append(dir, small(1, 9));
    assert.equal(w3.files[0].baseRowId, 11);
    assert.deepEqual(
      [...(await read(dir)).getChild("order_id")!].map(Number).sort((a, b) => a - b),
      [0, 2, 3, 4, 9],
    );
  }));

/** Add writer features to the table's protocol. */
async function upgradeFeatures(s: Storage, features: string[]) {
  const snap = await loadSnapshot(s);
  const p = snap.protocol;
  const protocol = {
    minReaderVersion: 3,
    minWriterVersion: 7,
    readerFeatures: [...(p.readerFeatures ?? []), ...features],
    writerFeatures: [...(p.writerFeatures ?? []), ...features],
  };
  await commit(s, snap.version, [{ protocol }], makeCommitInfo("SET", {}));
}

Deno.test("row tracking without materialized column names: appends get ids, compaction leaves the table alone", () =>
  withTempDir(async (dir) => {
    await mappedTable(dir, RT_PROTOCOL, { "delta.enableRowTracking": "true" }, {
      schema: RT_SCHEMA,
    });
    const a = await append(dir, small(2, 0));
    const b = await append(dir, small(2, 2));
    assert.deepEqual([a.files[0].baseRowId, b.files[0].baseRowId], [0, 2]);
    const o = await optimize(dir);
    assert.equal(o.version, undefined);
    assert.match(
      o.skipped!,
      /^compaction of '.*' skipped: it has row tracking enabled but no materialized row id/,
    );
    assert.equal(o.skipped!.includes("\n"), false);
    assert.equal((await loadSnapshot(openStorage(dir))).files.length, 2);
  }));

Deno.test("row tracking suspended: no row ids; supported but not enabled: OPTIMIZE assigns fresh ids only", () =>
  withTempDir(async (dir) => {
    await mappedTable(dir, RT_PROTOCOL, { "delta.rowTrackingSuspended": "true" }, {
      schema: RT_SCHEMA,
    });
    const a = await append(dir, small(2, 0));
    assert.equal(a.files[0].baseRowId, undefined);
    await mappedTable(`${dir}/b`, RT_PROTOCOL, {}, {
      schema: RT_SCHEMA,
    });
    await append(`${dir}/b`, small(2, 0));
    await append(`${dir}/b`, small(2, 2));
    const o = await optimize(`${dir}/b`);
    const actions = await readCommit(openStorage(`${dir}/b`), o.version!);
    assert.equal(addsOf(actions)[0].baseRowId, 4);
    assert.deepEqual(
      (actions[0] as { commitInfo: { tags?: Record<string, string> } }).commitInfo.tags,
      {
        "delta.rowTracking.preserved": "false",
      },
    );
  }));

Deno.test("auto-compaction: column-mapped partitions by physical name; a row-tracking table without materialized names is left alone with one log line", () =>
  withTempDir(async (dir) => {
    await mappedTable(dir, NAME_MODE, { "delta.columnMapping.mode": "name" }, {
      partitionColumns: ["state"],
    });
    const s = openStorage(dir);
    const logs: string[] = [];
    const m = new TableMaintenance(s, {
      name: "mapped",
      overrides: { compactMinFiles: 3 },
      log: (tag, msg) => logs.push(`${tag} ${msg}`),
    });
    for (let i = 0; i < 3; i++) await append(dir, rows(2, 2 * i));
    const r = await m.run();
    assert.equal(r.compactions, 1);
    assert.equal(r.filesCompacted, 6, "three files in each of two partitions");
    const snap = await loadSnapshot(s);
    assert.deepEqual(
      snap.files.map((f) => f.partitionValues["col-state"]).sort(),
      ["IL", "NY"],
      "one file per partition, still under its physical key",
    );
    assert.deepEqual(plain(await read(dir)), plain(rows(6)));

    const rt = `${dir}/rt`;
    await mappedTable(rt, RT_PROTOCOL, { "delta.enableRowTracking": "true" }, {
      schema: RT_SCHEMA,
    });
    const logs2: string[] = [];
    const m2 = new TableMaintenance(openStorage(rt), {
      name: "rt",
      overrides: { compactMinFiles: 2 },
      log: (tag, msg) => logs2.push(`${tag} ${msg}`),
    });
    for (let i = 0; i < 3; i++) {
      await append(rt, small(1, i));
      assert.equal((await m2.run()).compactions, 0);
    }
    const skipped = logs2.filter((l) => l.includes("skipped"));
    assert.equal(skipped.length, 1, "said once");
    assert.match(
      skipped[0],
      /^compact rt: compaction of '.*' skipped: it has row tracking enabled/,
    );
    assert.equal((await loadSnapshot(openStorage(rt))).files.length, 3);
  }));
