/**
 * icebergCompatV1/V2 without Spark (tests/delta/spark_iceberg_compat_test.ts has Spark): the
 * rules a table must keep (each broken one refused with one line naming the feature and the rule,
 * on every write path), and what our appends, schema evolution and OPTIMIZE write on such a table
 * (partition columns in the files after the data columns, field ids and nested ids, numRecords),
 * read back by our reader and delta-rs.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import * as arrow from "apache-arrow";
import {
  type AddAction,
  append,
  assignNestedIds,
  checkIcebergCompat,
  createTable,
  icebergTypeChangeAllowed,
  loadSnapshot,
  optimize,
  parquetSchema,
  type Protocol,
  read,
  type StructType,
  UnsupportedFeatureError,
  vacuum,
} from "../../lib/delta/mod.ts";
import { openStorage } from "../../lib/storage/mod.ts";
import { canonRows, sortRows, stableJson } from "../support/canon.ts";
import { deltalakeAvailable } from "../support/python.ts";
import { deltaRsRows } from "../interop/_deltalake.ts";

const V2: Protocol = {
  minReaderVersion: 3,
  minWriterVersion: 7,
  readerFeatures: ["columnMapping"],
  writerFeatures: ["columnMapping", "icebergCompatV2"],
};
const V1: Protocol = { ...V2, writerFeatures: ["columnMapping", "icebergCompatV1"] };

const field = (name: string, type: StructType["fields"][0]["type"], id: number, extra = {}) => ({
  name,
  type,
  nullable: true,
  metadata: {
    "delta.columnMapping.id": id,
    "delta.columnMapping.physicalName": `col-${name}`,
    ...extra,
  },
});

/** id (long), state (string, the partition column), tags (array of strings, nested id 4). */
const SCHEMA: StructType = {
  type: "struct",
  fields: [
    field("id", "long", 1),
    field("state", "string", 2),
    field("tags", { type: "array", elementType: "string", containsNull: true }, 3, {
      "delta.columnMapping.nested.ids": { "col-tags.element": 4 },
    }),
  ],
};
const ON2 = { "delta.enableIcebergCompatV2": "true", "delta.columnMapping.mode": "name" };
const ON1 = { "delta.enableIcebergCompatV1": "true", "delta.columnMapping.mode": "name" };

function refused(fn: () => unknown, feature: string, rule: RegExp) {
  let err: unknown;
  try {
    fn();
  } catch (e) {
    err = e;
  }
  assert.ok(err instanceof UnsupportedFeatureError, `refused: ${err}`);
  assert.equal(err.feature, feature);
  assert.match(err.message, rule);
  assert.equal(err.message.includes("\n"), false, "one line");
}

Deno.test("checkIcebergCompat refuses each broken rule, naming the feature and the rule", () => {
  const noArrays: StructType = { type: "struct", fields: SCHEMA.fields.slice(0, 2) };
  checkIcebergCompat(V2, SCHEMA, ON2, "t"); // a good V2 table
  checkIcebergCompat(V1, noArrays, ON1, "t"); // a good V1 table
  // The feature without its property asks nothing.
  checkIcebergCompat(V2, SCHEMA, { "delta.columnMapping.mode": "none" }, "t");
  refused(
    () => checkIcebergCompat(V2, SCHEMA, { "delta.enableIcebergCompatV2": "true" }, "t"),
    "icebergCompatV2",
    /^cannot write Delta table 't': it declares icebergCompatV2 \(delta\.enableIcebergCompatV2=true\), which requires column mapping \(delta\.columnMapping\.mode name or id\), but the table has none; fix the table with Spark/,
  );
  // Column mapping not in the protocol: the mode property does not count.
  refused(
    () => checkIcebergCompat({ ...V2, writerFeatures: ["icebergCompatV2"] }, SCHEMA, ON2, "t"),
    "icebergCompatV2",
    /requires column mapping/,
  );
  refused(
    () =>
      checkIcebergCompat(
        { ...V1, writerFeatures: [...V1.writerFeatures!, "deletionVectors"] },
        noArrays,
        ON1,
        "t",
      ),
    "icebergCompatV1",
    /which forbids deletion vectors, but the protocol has the deletionVectors feature/,
  );
  const v2dv = { ...V2, writerFeatures: [...V2.writerFeatures!, "deletionVectors"] };
  checkIcebergCompat(v2dv, SCHEMA, ON2, "t"); // supported but not enabled: fine for V2
  refused(
    () => checkIcebergCompat(v2dv, SCHEMA, { ...ON2, "delta.enableDeletionVectors": "true" }, "t"),
    "icebergCompatV2",
    /forbids deletion vectors, but delta\.enableDeletionVectors is true/,
  );
  refused(
    () => checkIcebergCompat(V1, SCHEMA, ON1, "t"),
    "icebergCompatV1",
    /does not allow the types of the columns tags \(array\)/,
  );
  const both = { ...V2, writerFeatures: ["columnMapping", "icebergCompatV1", "icebergCompatV2"] };
  refused(
    () => checkIcebergCompat(both, noArrays, { ...ON2, ...ON1 }, "t"),
    "icebergCompatV2",
    /requires icebergCompatV1 to be off/,
  );
  const noIds: StructType = {
    type: "struct",
    fields: [...SCHEMA.fields.slice(0, 2), {
      ...SCHEMA.fields[2],
      type: {
        type: "map",
        keyType: "string",
        valueType: { type: "array", elementType: "long", containsNull: true },
        valueContainsNull: true,
      },
      metadata: {
        ...SCHEMA.fields[2].metadata,
        "delta.columnMapping.nested.ids": { "col-tags.key": 2 },
      },
    }],
  };
  refused(
    () => checkIcebergCompat(V2, noIds, ON2, "t"),
    "icebergCompatV2",
    /requires ids for array elements and map keys and values: tags\.key has id 2, also a column id; tags\.value has no id in delta\.columnMapping\.nested\.ids; tags\.value\.element has no id/,
  );
  const widened: StructType = {
    type: "struct",
    fields: [field("id", "double", 1, {
      "delta.typeChanges": [{ fromType: "integer", toType: "double" }],
    })],
  };
  refused(
    () => checkIcebergCompat(V2, widened, ON2, "t"),
    "icebergCompatV2",
    /allows only type changes Iceberg allows, not id \(integer to double\)/,
  );
  assert.equal(icebergTypeChangeAllowed("short", "long"), true);
  assert.equal(icebergTypeChangeAllowed("decimal(10,2)", "decimal(12,2)"), true);
  assert.equal(icebergTypeChangeAllowed("decimal(10,2)", "decimal(12,3)"), false);
  assert.equal(icebergTypeChangeAllowed("date", "timestamp_ntz"), false);
});

Deno.test("assignNestedIds numbers elements, keys and values above maxId, keyed by physical paths", () => {
  const { fields, maxId } = assignNestedIds([{
    name: "m",
    type: {
      type: "map",
      keyType: "string",
      valueType: { type: "array", elementType: "long", containsNull: true },
      valueContainsNull: true,
    },
    nullable: true,
    metadata: { "delta.columnMapping.id": 9, "delta.columnMapping.physicalName": "col-m" },
  }], 9);
  assert.deepEqual(fields[0].metadata["delta.columnMapping.nested.ids"], {
    "col-m.key": 10,
    "col-m.value": 11,
    "col-m.value.element": 12,
  });
  assert.equal(maxId, 12);
});

/** A table as Spark makes it with icebergCompatV2 (version 0 only), at `dir`. */
async function sparkLikeTable(
  dir: string,
  protocol: Protocol,
  configuration: Record<string, string>,
  schema = SCHEMA,
) {
  const metaData = {
    id: crypto.randomUUID(),
    format: { provider: "parquet", options: {} },
    schemaString: JSON.stringify(schema),
    partitionColumns: ["state"],
    configuration: { ...configuration, "delta.columnMapping.maxColumnId": "4" },
    createdTime: 1,
  };
  await Deno.mkdir(join(dir, "_delta_log"), { recursive: true });
  await Deno.writeTextFile(
    join(dir, "_delta_log", "00000000000000000000.json"),
    [{ commitInfo: { timestamp: 1, operation: "CREATE TABLE" } }, { protocol }, { metaData }]
      .map((a) => JSON.stringify(a)).join("\n") + "\n",
  );
}

const TAGS = new arrow.List(new arrow.Field("element", new arrow.Utf8(), true));

function rows(ids: number[], withNotes = false): arrow.Table {
  const cols: Record<string, arrow.Vector> = {
    id: arrow.vectorFromArray(ids.map(BigInt), new arrow.Int64()),
    state: arrow.vectorFromArray(ids.map((i) => (i % 2 ? "CA" : "NY")), new arrow.Utf8()),
    tags: arrow.vectorFromArray(ids.map((i) => [`t${i}`, null]), TAGS),
  };
  if (withNotes) cols.notes = arrow.vectorFromArray(ids.map((i) => [`n${i}`]), TAGS);
  return new arrow.Table(cols);
}

/** A data file's top-level `name#fieldId` columns and its list columns' element field ids. */
async function layout(dir: string, add: AddAction) {
  const s = parquetSchema(await openStorage(dir).get(decodeURIComponent(add.path)));
  const id = (f: arrow.Field) => f.metadata.get("PARQUET:field_id");
  return {
    columns: s.fields.map((f) => `${f.name}#${id(f)}`),
    elements: s.fields.filter((f) => arrow.DataType.isList(f.type)).map((f) =>
      `${f.name}.element#${id(f.type.children[0])}`
    ),
  };
}

Deno.test("appends, schema evolution and OPTIMIZE on an icebergCompatV2 table keep its rules", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await sparkLikeTable(dir, V2, ON2);
    const w1 = await append(dir, rows([1, 2, 3]));
    assert.equal(w1.files.length, 2, "one file per partition");
    for (const f of w1.files) {
      // Partition column materialised after the data columns; ids as Parquet field ids.
      assert.deepEqual(await layout(dir, f), {
        columns: ["col-id#1", "col-tags#3", "col-state#2"],
        elements: ["col-tags.element#4"],
      });
      const stats = JSON.parse(f.stats!);
      assert.equal(stats.numRecords, f.partitionValues["col-state"] === "CA" ? 2 : 1);
      assert.equal("col-state" in stats.minValues, false, "no stats for partition columns");
    }
    // Schema evolution: the new list column gets a column id and a nested id above both.
    const w2 = await append(dir, rows([4, 5], true), { mergeSchema: true });
    const snap = await loadSnapshot(openStorage(dir));
    const notes = snap.schema.fields.find((f) => f.name === "notes")!;
    assert.equal(notes.metadata["delta.columnMapping.id"], 5);
    const phys = String(notes.metadata["delta.columnMapping.physicalName"]);
    assert.deepEqual(notes.metadata["delta.columnMapping.nested.ids"], { [`${phys}.element`]: 6 });
    assert.equal(snap.configuration["delta.columnMapping.maxColumnId"], "6");
    assert.deepEqual(await layout(dir, w2.files[0]), {
      columns: ["col-id#1", "col-tags#3", `${phys}#5`, "col-state#2"],
      elements: ["col-tags.element#4", `${phys}.element#6`],
    });
    const before = sortRows(canonRows(await read(dir))).map(stableJson);
    assert.equal(before.length, 5);
    // OPTIMIZE: the compacted files hold the partition column too.
    const o = await optimize(dir);
    assert.equal(o.numFilesRemoved, 4);
    assert.equal(o.numFilesAdded, 2);
    const after = await loadSnapshot(openStorage(dir));
    assert.equal(after.files.length, 2);
    for (const f of after.files) {
      assert.deepEqual((await layout(dir, f)).columns, [
        "col-id#1",
        "col-tags#3",
        `${phys}#5`,
        "col-state#2",
      ]);
      assert.equal(
        JSON.parse(f.stats!).numRecords,
        f.partitionValues["col-state"] === "CA" ? 3 : 2,
      );
    }
    assert.deepEqual(sortRows(canonRows(await read(dir))).map(stableJson), before);
    const one = canonRows(await read(dir)).find((r) => (r as { id: string }).id === "4");
    assert.deepEqual(one, { id: "4", state: "NY", tags: ["t4", null], notes: ["n4"] });
    if (await deltalakeAvailable()) {
      assert.deepEqual((await deltaRsRows(dir)).map(stableJson), before, "delta-rs reads it");
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("an icebergCompat table that breaks a rule is refused on every write path", async () => {
  const dir = await Deno.makeTempDir();
  try {
    // icebergCompatV1 with an array column (V1 forbids arrays).
    await sparkLikeTable(dir, V1, ON1);
    const rule = /it declares icebergCompatV1 .* does not allow the types of the columns tags/;
    for (
      const [what, run] of [
        ["append", () => append(dir, rows([1]))],
        ["optimize", () => optimize(dir)],
        ["vacuum", () => vacuum(dir, { dryRun: true })],
      ] as const
    ) {
      const err = await (run as () => Promise<unknown>)().then(() => undefined, (e) => e);
      assert.ok(err instanceof UnsupportedFeatureError, `${what}: ${err}`);
      assert.equal(err.feature, "icebergCompatV1");
      assert.match(err.message, rule, what);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
  const dir2 = await Deno.makeTempDir();
  try {
    // icebergCompatV1 without arrays: a new array column by schema evolution is refused.
    const flat: StructType = { type: "struct", fields: SCHEMA.fields.slice(0, 2) };
    await sparkLikeTable(dir2, V1, ON1, flat);
    const ok = new arrow.Table({
      id: arrow.vectorFromArray([1n], new arrow.Int64()),
      state: arrow.vectorFromArray(["CA"], new arrow.Utf8()),
    });
    const w = await append(dir2, ok);
    assert.deepEqual((await layout(dir2, w.files[0])).columns, ["col-id#1", "col-state#2"]);
    const err = await append(dir2, rows([2]), { mergeSchema: true }).then(
      () => undefined,
      (e) => e,
    );
    assert.ok(err instanceof UnsupportedFeatureError, `${err}`);
    assert.match(
      err.message,
      /icebergCompatV1 .* does not allow the types of the columns tags \(array\)/,
    );
    assert.equal((await loadSnapshot(openStorage(dir2))).version, 1, "nothing committed");
  } finally {
    await Deno.remove(dir2, { recursive: true });
  }
});

Deno.test("createTable with column mapping, row tracking and icebergCompatV2 sets them up as Spark does", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const data = new arrow.Table({
      "order id": arrow.vectorFromArray([1n, 2n, 3n], new arrow.Int64()),
      state: arrow.vectorFromArray(["CA", "NY", "CA"], new arrow.Utf8()),
      tags: arrow.vectorFromArray([["a"], [], null], TAGS),
    });
    const t = await createTable(dir, data.schema, {
      partitionColumns: ["state"],
      configuration: { "delta.enableIcebergCompatV2": "true", "delta.enableRowTracking": "true" },
    });
    const snap = await t.snapshot();
    assert.deepEqual(snap.protocol, {
      minReaderVersion: 3,
      minWriterVersion: 7,
      readerFeatures: ["columnMapping"],
      writerFeatures: [
        "appendOnly",
        "invariants",
        "columnMapping",
        "domainMetadata",
        "rowTracking",
        "icebergCompatV2",
      ],
    });
    const c = snap.configuration;
    assert.equal(c["delta.columnMapping.mode"], "name", "icebergCompat turns column mapping on");
    assert.equal(c["delta.columnMapping.maxColumnId"], "4");
    assert.match(c["delta.rowTracking.materializedRowIdColumnName"], /^_row-id-col-/);
    assert.match(c["delta.rowTracking.materializedRowCommitVersionColumnName"], /^_row-commit/);
    const meta = snap.schema.fields.map((f) => f.metadata);
    assert.deepEqual(meta.map((m) => m["delta.columnMapping.id"]), [1, 2, 3]);
    assert.ok(
      meta.every((m) => /^col-[0-9a-f-]{36}$/.test(String(m["delta.columnMapping.physicalName"]))),
    );
    const tagsPhys = meta[2]["delta.columnMapping.physicalName"];
    assert.deepEqual(meta[2]["delta.columnMapping.nested.ids"], { [`${tagsPhys}.element`]: 4 });
    const w = await t.append(data);
    assert.equal(w.files.length, 2);
    assert.deepEqual(w.files.map((f) => f.baseRowId).sort(), [0, 2]);
    assert.ok(w.files.every((f) => f.defaultRowCommitVersion === 1));
    const rows = sortRows(canonRows(await read(dir))).map(stableJson);
    assert.deepEqual(rows, sortRows(canonRows(data)).map(stableJson));
    if (await deltalakeAvailable()) {
      assert.deepEqual((await deltaRsRows(dir)).map(stableJson), rows, "delta-rs reads it");
    }
    // Row tracking alone: a writer-only feature, reader version 1, as Spark.
    const rt = await createTable(join(dir, "rt"), new arrow.Schema([data.schema.fields[1]]), {
      configuration: { "delta.enableRowTracking": "true" },
    });
    assert.deepEqual((await rt.snapshot()).protocol, {
      minReaderVersion: 1,
      minWriterVersion: 7,
      writerFeatures: ["appendOnly", "invariants", "domainMetadata", "rowTracking"],
    });
    // V1 does not allow arrays: refused before anything is written.
    const err = await createTable(join(dir, "v1"), data.schema, {
      configuration: { "delta.enableIcebergCompatV1": "true" },
    }).then(() => undefined, (e) => e);
    assert.ok(err instanceof UnsupportedFeatureError, `${err}`);
    assert.match(err.message, /icebergCompatV1 .* does not allow the types of the columns tags/);
    assert.equal(await exists(join(dir, "v1", "_delta_log")), false);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

async function exists(p: string): Promise<boolean> {
  return await Deno.stat(p).then(() => true, () => false);
}
