// Schema evolution: adding nullable top-level columns, either in a commit of its own (addColumns)
// or with the data (append/overwrite with mergeSchema). Old files read the new columns as null,
// here and in delta-rs (Spark: tests/delta/spark_interop_test.ts). Type widening with mergeSchema
// on a typeWidening table (Spark: tests/delta/spark_evolve_test.ts).
import assert from "node:assert/strict";
import { join } from "node:path";
import * as arrow from "apache-arrow";
import {
  addColumns,
  append,
  ConcurrentModificationError,
  createTable,
  loadSnapshot,
  read,
  readCommit,
  SchemaError,
  SchemaMismatchError,
  schemaToString,
} from "../../lib/delta/mod.ts";
import { openStorage } from "../../lib/storage/mod.ts";
import { canonRows, sortRows } from "../support/canon.ts";
import { deltalakeAvailable, pythonPath, REPO_ROOT } from "../support/python.ts";
import { withTempDir } from "./_core_fixtures.ts";
import { canWiden } from "../../lib/delta/widening.ts";
import type { DeltaType } from "../../lib/delta/schema.ts";

const V1 = new arrow.Schema([
  new arrow.Field("id", new arrow.Int64(), false),
  new arrow.Field("s", new arrow.Utf8(), true),
]);
const V2 = new arrow.Schema([
  ...V1.fields,
  new arrow.Field("b", new arrow.Binary(), true),
  new arrow.Field("t", new arrow.Utf8(), true),
]);

/** Rows of `schema` with ids `ids`; b (when present) holds bytes 0xff..id for even ids. */
function rows(schema: arrow.Schema, ids: number[]): arrow.Table {
  const cols: Record<string, arrow.Vector> = {
    id: arrow.vectorFromArray(ids.map(BigInt), new arrow.Int64()),
    s: arrow.vectorFromArray(ids.map((i) => `s${i}`), new arrow.Utf8()),
  };
  if (schema.fields.some((f) => f.name === "b")) {
    cols.b = arrow.vectorFromArray(
      ids.map((i) => (i % 2 === 0 ? new Uint8Array([0xff, i & 0xff]) : null)),
      new arrow.Binary(),
    );
    cols.t = arrow.vectorFromArray(
      ids.map((i) => (i % 3 === 0 ? `t${i}` : null)),
      new arrow.Utf8(),
    );
  }
  const t = new arrow.Table(cols);
  // The fields as the schema declares them (nullability included).
  return new arrow.Table(schema, t.batches.map((b) => new arrow.RecordBatch(schema, b.data)));
}

function fieldsOf(schemaString: string): [string, unknown, boolean][] {
  return JSON.parse(schemaString).fields.map((
    f: { name: string; type: unknown; nullable: boolean },
  ) => [f.name, f.type, f.nullable]);
}

Deno.test("addColumns: one metaData-only commit adds nullable columns; old rows read them as null; nothing else changes", () =>
  withTempDir(async (dir) => {
    const t = await createTable(dir, V1, {
      name: "things",
      description: "d",
      configuration: { "delta.appendOnly": "true" },
    });
    await t.append(rows(V1, [1, 2]), { txns: { q: 5 } });
    const before = await loadSnapshot(openStorage(dir));
    const r = await addColumns(dir, V2);
    assert.deepEqual(r, { version: 2, added: ["b", "t"] });
    const commit = await readCommit(openStorage(dir), 2);
    assert.deepEqual(commit.map((a) => Object.keys(a)[0]), ["commitInfo", "metaData"]);
    const after = await loadSnapshot(openStorage(dir));
    assert.deepEqual(fieldsOf(after.metadata.schemaString), [
      ["id", "long", false],
      ["s", "string", true],
      ["b", "binary", true],
      ["t", "string", true],
    ]);
    // Same table: id, name, description, properties, partitioning, txns, files.
    const { schemaString: _a, ...restBefore } = before.metadata;
    const { schemaString: _b, ...restAfter } = after.metadata;
    assert.deepEqual(restAfter, restBefore);
    assert.equal(String(after.txnVersion("q")), "5");
    assert.equal(after.files.length, 1);
    const [h] = await t.history({ limit: 1 });
    assert.equal(h.operation, "ADD COLUMNS");
    assert.deepEqual(
      JSON.parse(h.operationParameters.columns).map((c: { column: { name: string } }) =>
        c.column.name
      ),
      ["b", "t"],
    );
    // Again: nothing to add, no commit.
    assert.equal(await addColumns(dir, V2), undefined);
    assert.equal(await addColumns(dir, V1), undefined, "a subset of the columns adds nothing");
    assert.equal((await loadSnapshot(openStorage(dir))).version, 2);
    // Old rows read the new columns as null; new rows carry them.
    await t.append(rows(V2, [3, 4]));
    assert.deepEqual(
      canonRows(await read(dir)),
      sortRows([
        { id: "1", s: "s1", b: null, t: null },
        { id: "2", s: "s2", b: null, t: null },
        { id: "3", s: "s3", b: null, t: "t3" },
        { id: "4", s: "s4", b: "ff04", t: null },
      ]),
    );
    // Time travel to before the change: the old schema.
    const v1 = await read(dir, { version: 1 });
    assert.deepEqual(v1.schema.fields.map((f) => f.name), ["id", "s"]);
  }));

Deno.test("addColumns: refuses what is not a safe addition, and commits nothing", () =>
  withTempDir(async (dir) => {
    await createTable(dir, V1);
    const refused = async (
      schema: arrow.Schema,
      error: typeof SchemaMismatchError | typeof SchemaError,
      re: RegExp,
    ) => {
      await assert.rejects(
        () => addColumns(dir, schema),
        (e: unknown) => e instanceof error && re.test((e as Error).message),
      );
      assert.equal((await loadSnapshot(openStorage(dir))).version, 0, "no commit");
    };
    const plus = (f: arrow.Field) => new arrow.Schema([...V1.fields, f]);
    await refused(
      plus(new arrow.Field("n", new arrow.Int32(), false)),
      SchemaMismatchError,
      /'n' .*not nullable/,
    );
    await refused(
      new arrow.Schema([new arrow.Field("id", new arrow.Int32(), false)]),
      SchemaMismatchError,
      /'id' has Arrow type Int32/,
    );
    await refused(
      plus(new arrow.Field("S", new arrow.Utf8(), true)),
      SchemaError,
      /differ only by case/,
    );
    await refused(
      plus(new arrow.Field("a b", new arrow.Utf8(), true)),
      SchemaError,
      /names may not contain/,
    );
    await refused(
      plus(new arrow.Field("ntz", new arrow.TimestampMicrosecond(), true)),
      SchemaMismatchError,
      /timestampNtz/,
    );
  }));

Deno.test("append with mergeSchema: new nullable columns and their data in ONE commit; off by default", () =>
  withTempDir(async (dir) => {
    const t = await createTable(dir, V1, { partitionColumns: ["s"] });
    await t.append(rows(V1, [1]));
    await assert.rejects(() => t.append(rows(V2, [2])), SchemaMismatchError);
    const w = await append(dir, rows(V2, [2, 3]), { mergeSchema: true, txns: { q: 1 } });
    assert.equal(w.version, 2);
    const commit = await readCommit(openStorage(dir), 2);
    assert.deepEqual(commit.map((a) => Object.keys(a)[0]).sort(), [
      "add",
      "add",
      "commitInfo",
      "metaData",
      "txn",
    ]);
    const snap = await loadSnapshot(openStorage(dir));
    assert.deepEqual(snap.partitionColumns, ["s"]);
    assert.deepEqual(snap.schema.fields.map((f) => f.name), ["id", "s", "b", "t"]);
    // Stats of the new files cover the new columns.
    const stats = JSON.parse(snap.files.at(-1)!.stats!);
    assert.ok("t" in stats.nullCount, JSON.stringify(stats));
    assert.deepEqual(
      canonRows(await read(dir)),
      sortRows([
        { id: "1", s: "s1", b: null, t: null },
        { id: "2", s: "s2", b: "ff02", t: null },
        { id: "3", s: "s3", b: null, t: "t3" },
      ]),
    );
    // mergeSchema with nothing new is a plain append; a non-nullable new column is refused.
    assert.equal((await append(dir, rows(V2, [4]), { mergeSchema: true })).version, 3);
    const bad = new arrow.Schema([...V2.fields, new arrow.Field("n", new arrow.Int32(), false)]);
    const withN = new arrow.Table(bad, [
      new arrow.RecordBatch(
        bad,
        arrow.makeData({
          type: new arrow.Struct(bad.fields),
          length: 1,
          nullCount: 0,
          children: [
            ...rows(V2, [5]).batches[0].data.children,
            arrow.makeData({ type: new arrow.Int32(), length: 1, data: new Int32Array([1]) }),
          ],
        }),
      ),
    ]);
    await assert.rejects(() => append(dir, withN, { mergeSchema: true }), /'n' .*not nullable/);
    assert.equal((await loadSnapshot(openStorage(dir))).version, 3);
  }));

Deno.test("addColumns: writers adding the same columns at once add them exactly once", () =>
  withTempDir(async (dir) => {
    await createTable(dir, V1);
    const results = await Promise.all([1, 2, 3, 4].map(() => addColumns(dir, V2)));
    assert.equal(results.filter((r) => r !== undefined).length, 1, JSON.stringify(results));
    const snap = await loadSnapshot(openStorage(dir));
    assert.equal(snap.version, 1);
    assert.deepEqual(snap.schema.fields.map((f) => f.name), ["id", "s", "b", "t"]);
  }));

Deno.test("addColumns racing an append: the addition lands, the append lands or conflicts cleanly; a writer with a cached snapshot sees a newer schema before merging", () =>
  withTempDir(async (dir) => {
    await createTable(dir, V1);
    // Both start from version 0. The column addition retries past a concurrent append; an append
    // that loses to the schema change fails as Delta's conflict rules say (a stream drops the
    // batch and reads again), and succeeds when retried.
    const [added, appended] = await Promise.allSettled([
      addColumns(dir, V2),
      append(dir, rows(V1, [1])),
    ]);
    assert.equal(added.status, "fulfilled");
    assert.ok((added as PromiseFulfilledResult<unknown>).value !== undefined);
    if (appended.status === "rejected") {
      assert.ok(appended.reason instanceof ConcurrentModificationError, String(appended.reason));
      await append(dir, rows(V1, [1]));
    }
    const snap = await loadSnapshot(openStorage(dir));
    assert.equal(snap.version, 2);
    assert.deepEqual(snap.schema.fields.map((f) => f.name), ["id", "s", "b", "t"]);
    assert.equal((await read(dir)).numRows, 1);
    // A stream's writer cached version 2; another writer then adds u; the writer adds w.
    const cache = { snapshot: snap };
    const withU = new arrow.Schema([...V2.fields, new arrow.Field("u", new arrow.Utf8(), true)]);
    await addColumns(dir, withU);
    const withW = new arrow.Schema([...V2.fields, new arrow.Field("w", new arrow.Utf8(), true)]);
    const v2 = rows(V2, [9]).batches[0].data.children;
    const w = arrow.makeData({
      type: new arrow.Utf8(),
      length: 1,
      valueOffsets: new Int32Array([0, 1]),
      data: new Uint8Array([0x77]),
    });
    const data = new arrow.Table(withW, [
      new arrow.RecordBatch(
        withW,
        arrow.makeData({
          type: new arrow.Struct(withW.fields),
          length: 1,
          nullCount: 0,
          children: [...v2, w],
        }),
      ),
    ]);
    const r = await append(dir, data, { mergeSchema: true, snapshotCache: cache });
    assert.equal(r.version, 4);
    const last = await loadSnapshot(openStorage(dir));
    assert.deepEqual(last.schema.fields.map((f) => f.name), ["id", "s", "b", "t", "u", "w"]);
    assert.deepEqual(
      canonRows(await read(dir)).map((x) => (x as Record<string, unknown>).w),
      [null, "w"],
    );
  }));

Deno.test("a checkpoint after the change carries the new schema; replay from it agrees", () =>
  withTempDir(async (dir) => {
    const t = await createTable(dir, V1, { configuration: { "delta.checkpointInterval": "2" } });
    await t.append(rows(V1, [1])); // 1
    await addColumns(dir, V2); // 2: checkpoint
    await t.append(rows(V2, [2])); // 3
    const snap = await loadSnapshot(openStorage(dir));
    assert.equal(snap.checkpointVersion, 2);
    const replay = await loadSnapshot(openStorage(dir), { useCheckpoints: false });
    assert.equal(schemaToString(snap.schema), schemaToString(replay.schema));
    assert.deepEqual(snap.schema.fields.map((f) => f.name), ["id", "s", "b", "t"]);
  }));

Deno.test({
  name:
    "delta-rs reads an evolved table at every version: old schema before, nulls for old rows after",
  ignore: !(await deltalakeAvailable()),
  fn: () =>
    withTempDir(async (dir) => {
      const t = await createTable(dir, V1, { configuration: { "delta.checkpointInterval": "3" } });
      await t.append(rows(V1, [1, 2])); // 1
      await addColumns(dir, V2); // 2
      await t.append(rows(V2, [3, 4, 6])); // 3: checkpoint
      await append(dir, rows(V2, [8]), { mergeSchema: true }); // 4
      const out = await new Deno.Command(pythonPath(), {
        args: [join(REPO_ROOT, "tests", "interop", "deltalake_dump.py"), dir, "all"],
        stdout: "piped",
        stderr: "piped",
      }).output();
      const dump = JSON.parse(new TextDecoder().decode(out.stdout));
      assert.equal(dump.latest, 4, dump.error);
      for (const v of dump.versions) {
        assert.equal(v.error, undefined, v.error);
        assert.equal(v.rowsError, undefined, v.rowsError);
        // delta-rs's rows equal ours at the same version, column for column.
        assert.deepEqual(
          sortRows(v.rows),
          canonRows(await read(dir, { version: v.version })),
          `v${v.version}`,
        );
      }
      const names = (v: { schema: { fields: { name: string }[] } }) =>
        v.schema.fields.map((f) => f.name);
      assert.deepEqual(names(dump.versions[1]), ["id", "s"]);
      assert.deepEqual(names(dump.versions[2]), ["id", "s", "b", "t"]);
      assert.deepEqual(
        sortRows(dump.versions[4].rows),
        sortRows([
          { id: "1", s: "s1", b: null, t: null },
          { id: "2", s: "s2", b: null, t: null },
          { id: "3", s: "s3", b: null, t: "t3" },
          { id: "4", s: "s4", b: "ff04", t: null },
          { id: "6", s: "s6", b: "ff06", t: "t6" },
          { id: "8", s: "s8", b: "ff08", t: null },
        ]),
      );
    }),
});

Deno.test("type widening: canWiden allows the protocol's integer and float widenings only", () => {
  const yes: [DeltaType, DeltaType][] = [
    ["byte", "short"],
    ["byte", "long"],
    ["short", "integer"],
    ["integer", "long"],
    ["float", "double"],
    ["integer", "double"],
    ["short", "double"],
  ];
  const no: [DeltaType, DeltaType][] = [
    ["long", "integer"],
    ["long", "double"],
    ["double", "float"],
    ["integer", "integer"],
    ["string", "long"],
    ["integer", "string"],
  ];
  for (const [a, b] of yes) assert.equal(canWiden(a, b), true, `${a} → ${b}`);
  for (const [a, b] of no) assert.equal(canWiden(a, b), false, `${a} → ${b}`);
});

Deno.test("append with mergeSchema on a typeWidening table: int → long and float → double in the data's commit, with delta.typeChanges; old files read as the wider type", () =>
  withTempDir(async (dir) => {
    const narrow = new arrow.Schema([
      new arrow.Field("n", new arrow.Int32(), true),
      new arrow.Field("f", new arrow.Float32(), true),
    ]);
    await createTable(dir, narrow, { configuration: { "delta.enableTypeWidening": "true" } });
    const s0 = await loadSnapshot(openStorage(dir));
    assert.deepEqual(s0.protocol.readerFeatures, ["typeWidening"]);
    assert.ok(s0.protocol.writerFeatures?.includes("typeWidening"));
    await append(
      dir,
      new arrow.Table({
        n: arrow.vectorFromArray([7, -2147483648], new arrow.Int32()),
        f: arrow.vectorFromArray([1.5, -0.25], new arrow.Float32()),
      }),
    );
    const wide = new arrow.Table({
      n: arrow.vectorFromArray([5_000_000_000n], new arrow.Int64()),
      f: arrow.vectorFromArray([0.1], new arrow.Float64()),
    });
    // Off by default: a wider type is refused without mergeSchema.
    await assert.rejects(() => append(dir, wide), SchemaMismatchError);
    const w = await append(dir, wide, { mergeSchema: true });
    const commit = await readCommit(openStorage(dir), w.version);
    assert.equal(commit.filter((a) => "metaData" in a).length, 1);
    assert.equal(commit.filter((a) => "add" in a).length, 1);
    const s = await loadSnapshot(openStorage(dir));
    assert.deepEqual(s.schema.fields.map((f) => [f.name, f.type, f.metadata]), [
      ["n", "long", { "delta.typeChanges": [{ fromType: "integer", toType: "long" }] }],
      ["f", "double", { "delta.typeChanges": [{ fromType: "float", toType: "double" }] }],
    ]);
    const t = await read(dir);
    assert.deepEqual(t.schema.fields.map((f) => String(f.type)), ["Int64", "Float64"]);
    assert.deepEqual(
      sortRows(canonRows(t)),
      sortRows([
        { n: "7", f: 1.5 },
        { n: "-2147483648", f: -0.25 },
        { n: "5000000000", f: 0.1 },
      ]),
    );
    // The version before the change reads with the narrow types.
    const before = await read(dir, { version: 1 });
    assert.deepEqual(before.schema.fields.map((f) => String(f.type)), ["Int32", "Float32"]);
  }));

Deno.test("append with mergeSchema: a wider type is refused without delta.enableTypeWidening, naming the feature; never a narrowing", () =>
  withTempDir(async (dir) => {
    const narrow = new arrow.Schema([new arrow.Field("n", new arrow.Int32(), true)]);
    await createTable(dir, narrow);
    const wide = new arrow.Table({ n: arrow.vectorFromArray([1n], new arrow.Int64()) });
    await assert.rejects(
      () => append(dir, wide, { mergeSchema: true }),
      (e: unknown) =>
        e instanceof SchemaMismatchError &&
        /widening 'integer' to 'long' needs the table feature 'typeWidening'/.test(e.message),
    );
    assert.equal((await loadSnapshot(openStorage(dir))).version, 0, "nothing committed");
  }));
