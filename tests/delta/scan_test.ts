import assert from "node:assert/strict";
import { join } from "node:path";
import * as arrow from "apache-arrow";
import type { AddAction } from "../../lib/delta/actions.ts";
import { UnsupportedFeatureError } from "../../lib/delta/errors.ts";
import { encodeParquet } from "../../lib/delta/parquet.ts";
import { encodeAddPath, partitionDirectory } from "../../lib/delta/partition.ts";
import { repairInt96, resolveDataPath, scanFiles } from "../../lib/delta/scan.ts";
import {
  crc32,
  decodeBitmapArray,
  uuidDvPath,
  z85Decode,
} from "../../lib/delta/_deletion_vector.ts";
import { parseSchemaString } from "../../lib/delta/schema.ts";
import { append, createTable } from "../../lib/delta/table.ts";
import { openStorage } from "../../lib/storage/mod.ts";
import { canonRows, sortRows, stableJson } from "../support/canon.ts";
import { column, strings } from "../support/delta_fixtures.ts";
import { bitmapArray, z85 } from "../support/deletion_vectors.ts";
import { deltalakeAvailable, pythonPath, REPO_ROOT } from "../support/python.ts";

const field = (name: string, type: unknown) => ({ name, type, nullable: true, metadata: {} });

const SCHEMA = parseSchemaString(JSON.stringify({
  type: "struct",
  fields: [
    field("id", "long"),
    field("city", "string"),
    field("st", { type: "struct", fields: [field("a", "integer"), field("b", "string")] }),
    field("extra", "double"),
    field("ts", "timestamp"),
    field("day", "date"),
  ],
}));

async function withDir(fn: (dir: string) => Promise<void>) {
  const dir = await Deno.makeTempDir();
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** A file written as an older writer would: id as int32, struct children swapped, b missing extra/ts. */
function fileTable(ids: number[]) {
  const n = ids.length;
  const st = arrow.makeData({
    type: new arrow.Struct([
      new arrow.Field("b", new arrow.Utf8()),
      new arrow.Field("a", new arrow.Int32()),
    ]),
    length: n,
    nullCount: 0,
    children: [strings(ids.map((i) => `b${i}`)), column(new arrow.Int32(), ids, Int32Array)],
  });
  return new arrow.Table({
    id: arrow.makeVector(column(new arrow.Int32(), ids, Int32Array)),
    st: arrow.makeVector(st),
    // tz-less µs, as INT96 files come back: relabelled as the table's UTC timestamp
    ts: arrow.makeVector(
      column(
        new arrow.TimestampMicrosecond(),
        ids.map((i) => BigInt(i) * 1_000_001n),
        BigInt64Array,
      ),
    ),
  });
}

async function writeFile(
  dir: string,
  values: Record<string, string | null>,
  ids: number[],
): Promise<AddAction> {
  const rel = `${partitionDirectory(["city", "day"], values)}/part-${ids[0]}.parquet`;
  const bytes = encodeParquet(fileTable(ids));
  await Deno.mkdir(join(dir, rel, ".."), { recursive: true });
  await Deno.writeFile(join(dir, rel), bytes);
  return {
    path: encodeAddPath(rel),
    partitionValues: values,
    size: bytes.length,
    modificationTime: 0,
    dataChange: true,
  };
}

Deno.test("scan adds typed partition columns, fills missing columns, casts, reorders struct fields", async () => {
  await withDir(async (dir) => {
    const storage = openStorage(dir);
    const adds = [
      await writeFile(dir, { city: "São Paulo: 50% / x=y", day: "2024-05-01" }, [1, 2]),
      await writeFile(dir, { city: null, day: "2024-05-02" }, [3]),
    ];
    assert.ok(adds[0].path.includes("%253A"), "log path is URI-encoded over the Hive escape");
    const tables = [];
    for await (const t of scanFiles(storage, adds, SCHEMA, ["city", "day"])) tables.push(t);
    assert.equal(tables.length, 2);
    assert.deepEqual(tables[0].schema.fields.map((f) => `${f.name}:${f.type}`), [
      "id:Int64",
      "city:Utf8",
      "st:Struct<{a:Int32, b:Utf8}>",
      "extra:Float64",
      "ts:Timestamp<MICROSECOND, UTC>",
      "day:Date32<DAY>",
    ]);
    const rows = sortRows(tables.flatMap((t) => canonRows(t)));
    assert.deepEqual(
      rows.map(stableJson),
      sortRows([
        {
          id: "1",
          city: "São Paulo: 50% / x=y",
          st: { a: "1", b: "b1" },
          extra: null,
          ts: "1000001",
          day: "2024-05-01",
        },
        {
          id: "2",
          city: "São Paulo: 50% / x=y",
          st: { a: "2", b: "b2" },
          extra: null,
          ts: "2000002",
          day: "2024-05-01",
        },
        {
          id: "3",
          city: null,
          st: { a: "3", b: "b3" },
          extra: null,
          ts: "3000003",
          day: "2024-05-02",
        },
      ]).map(stableJson),
    );
  });
});

Deno.test("scan projects columns in the requested order and prunes partitions", async () => {
  await withDir(async (dir) => {
    const storage = openStorage(dir);
    const adds = [
      await writeFile(dir, { city: "a", day: "2024-05-01" }, [1]),
      await writeFile(dir, { city: "b", day: "2024-05-01" }, [2, 3]),
    ];
    const got = [];
    for await (
      const t of scanFiles(storage, adds, SCHEMA, ["city", "day"], {
        columns: ["day", "id"],
        partitionFilter: (v) => v.city === "b",
      })
    ) got.push(t);
    assert.equal(got.length, 1);
    assert.deepEqual(got[0].schema.fields.map((f) => f.name), ["day", "id"]);
    assert.deepEqual(canonRows(got[0]), [{ day: "2024-05-01", id: "2" }, {
      day: "2024-05-01",
      id: "3",
    }]);
  });
});

Deno.test("scan applies deletion vectors, refuses unreadable ones, resolves paths inside the root", async () => {
  await withDir(async (dir) => {
    const storage = openStorage(dir);
    const add = await writeFile(dir, { city: "a", day: "2024-05-01" }, [1, 2, 3]);
    // Inline DV deleting rows 0 and 2.
    const bitmap = bitmapArray([0, 2]);
    const inline = {
      ...add,
      deletionVector: {
        storageType: "i",
        pathOrInlineDv: z85(bitmap),
        sizeInBytes: bitmap.length,
        cardinality: 2,
      },
    };
    const got = [];
    for await (
      const t of scanFiles(storage, [inline], SCHEMA, ["city", "day"], { columns: ["id"] })
    ) {
      got.push(...canonRows(t));
    }
    assert.deepEqual(got, [{ id: "2" }]);
    const bad = {
      ...add,
      deletionVector: {
        storageType: "u",
        pathOrInlineDv: "x",
        offset: 1,
        sizeInBytes: 2,
        cardinality: 1,
      },
    };
    const drain = async (o = {}) => {
      for await (const _ of scanFiles(storage, [bad], SCHEMA, ["city", "day"], o)) { /* no rows */ }
    };
    await assert.rejects(drain, /deletionVectors/);
    const err = await drain({ deletionVectors: false }).then(() => undefined, (e) => e);
    assert.ok(err instanceof UnsupportedFeatureError);
    assert.equal(err.feature, "deletionVectors");
    assert.equal(resolveDataPath(storage, `file://${dir}/a%20b/f.parquet`), "a b/f.parquet");
    assert.equal(resolveDataPath(storage, "a%20b/f.parquet"), "a b/f.parquet");
    assert.throws(
      () => resolveDataPath(storage, "file:///elsewhere/f.parquet"),
      /outside the table root/,
    );
  });
});

Deno.test({
  name: "a partitioned table we write reads the same in delta-rs and in our scan",
  ignore: !(await deltalakeAvailable().catch(() => false)),
  async fn() {
    await withDir(async (dir) => {
      const arrowSchema = new arrow.Schema([
        new arrow.Field("id", new arrow.Int64(), true),
        new arrow.Field("city", new arrow.Utf8(), true),
        new arrow.Field("ts", new arrow.TimestampMicrosecond("UTC"), true),
      ]);
      const table = await createTable(dir, arrowSchema, { partitionColumns: ["city"] });
      const cities = ["a b", "50%", "x:y/z=w", "Zürich", null, "plain"];
      const data = new arrow.Table(arrowSchema, [
        new arrow.RecordBatch(
          arrowSchema,
          arrow.makeData({
            type: new arrow.Struct(arrowSchema.fields),
            length: 6,
            nullCount: 0,
            children: [
              column(new arrow.Int64(), [1n, 2n, 3n, 4n, 5n, 6n], BigInt64Array),
              strings(cities),
              column(
                new arrow.TimestampMicrosecond("UTC"),
                [1n, 2n, 3n, 4n, 5n, 1714557600123456n],
                BigInt64Array,
              ),
            ],
          }),
        ),
      ]);
      await append(table.storage, data);
      const mine = canonRows(await table.read());
      const out = await new Deno.Command(pythonPath(), {
        args: [join(REPO_ROOT, "tests", "interop", "deltalake_dump.py"), dir, "1"],
        stdout: "piped",
      }).output();
      const dumped = JSON.parse(new TextDecoder().decode(out.stdout));
      const v = dumped.versions[0];
      assert.equal(v.error, undefined, v.error);
      assert.equal(v.rowsError, undefined, v.rowsError);
      assert.deepEqual(sortRows(v.rows).map(stableJson), mine.map(stableJson));
      assert.equal(mine.length, 6);
    });
  },
});

Deno.test("repairInt96 undoes the int64-nanosecond wrap using the file's stats", () => {
  const us = (y: number, m: number, d: number) => BigInt(Date.UTC(y, m, d)) * 1000n;
  const wrappedUs = (v: bigint) => {
    const w = BigInt.asIntN(64, v * 1000n);
    return w / 1000n - (w % 1000n < 0n ? 1n : 0n);
  };
  const fileSchema = new arrow.Schema([new arrow.Field("t", new arrow.TimestampNanosecond())]);
  const table = (vals: bigint[]) =>
    new arrow.Table({
      t: arrow.makeVector(column(new arrow.TimestampMicrosecond(), [...vals, null], BigInt64Array)),
    });
  const stats = (lo: bigint, hi: bigint) =>
    JSON.stringify({
      numRecords: 4,
      minValues: { t: new Date(Number(lo / 1000n)).toISOString() },
      maxValues: { t: new Date(Number(hi / 1000n)).toISOString() },
    });
  const cases = [
    [us(9999, 11, 31) + 123456n, us(9999, 5, 1), us(9800, 0, 1) + 1n],
    [us(1500, 0, 1), us(1500, 1, 1) - 7n],
    [us(2020, 0, 1), us(2262, 0, 1), us(2300, 0, 1)], // straddles the window edge
  ];
  for (const truth of cases) {
    const wrapped = table(truth.map(wrappedUs));
    const min = truth.reduce((a, b) => (b < a ? b : a));
    const max = truth.reduce((a, b) => (b > a ? b : a));
    const fixed = repairInt96(wrapped, fileSchema, stats(min, max), "f.parquet");
    const got = Array.from(fixed.getChild("t")!.data[0].values as BigInt64Array).slice(
      0,
      truth.length,
    );
    assert.deepEqual(got, truth);
    assert.equal(fixed.getChild("t")!.nullCount, 1);
    // Without stats nothing can be checked: unchanged.
    assert.equal(repairInt96(wrapped, fileSchema, null, "f.parquet"), wrapped);
  }
  assert.notEqual(wrappedUs(cases[0][0]), cases[0][0], "the wrap changes the value");
  // In-window files are untouched; a span wider than one wrap period is refused.
  const plain = table([5n]);
  assert.equal(repairInt96(plain, fileSchema, stats(0n, 10_000n), "f.parquet"), plain);
  assert.throws(
    () =>
      repairInt96(
        table([wrappedUs(us(9999, 0, 1))]),
        fileSchema,
        stats(us(1500, 0, 1), us(9999, 0, 1)),
        "f",
      ),
    /more than 584 years/,
  );
  assert.throws(
    () => repairInt96(table([0n]), fileSchema, stats(us(3000, 0, 1), us(3000, 0, 2)), "f.parquet"),
    /cannot be recovered/,
  );
});

Deno.test("dictionary-encoded string columns in a file are read as plain strings", async () => {
  await withDir(async (dir) => {
    const storage = openStorage(dir);
    const dictType = new arrow.Dictionary(new arrow.Utf8(), new arrow.Int32());
    const b = arrow.makeBuilder({ type: dictType, nullValues: [null] });
    for (const v of ["x", null, "y", "x"]) b.append(v);
    const cityDict = b.finish().toVector();
    const t = new arrow.Table({
      id: arrow.makeVector(column(new arrow.Int64(), [1n, 2n, 3n, 4n], BigInt64Array)),
      city: cityDict,
    });
    const bytes = encodeParquet(t);
    await Deno.writeFile(join(dir, "f.parquet"), bytes);
    const schema = parseSchemaString(JSON.stringify({
      type: "struct",
      fields: [field("id", "long"), field("city", "string")],
    }));
    const add: AddAction = {
      path: "f.parquet",
      partitionValues: {},
      size: bytes.length,
      modificationTime: 0,
      dataChange: true,
    };
    const out = [];
    for await (const x of scanFiles(storage, [add], schema, [])) out.push(x);
    assert.equal(String(out[0].schema.fields[1].type), "Utf8");
    assert.deepEqual(
      canonRows(out[0]),
      sortRows([
        { id: "1", city: "x" },
        { id: "2", city: null },
        { id: "3", city: "y" },
        { id: "4", city: "x" },
      ]),
    );
  });
});

Deno.test("deletion vector decoding: Z85 uuid paths, array/run/bitmap containers, 64-bit keys", () => {
  assert.equal(
    uuidDvPath("vBn[lx{q8@P<9BNH/isA"),
    "deletion_vector_61d16c75-6994-46b7-a15b-8b538852e50e.bin",
  );
  assert.equal(
    uuidDvPath("ab" + "vBn[lx{q8@P<9BNH/isA"),
    "ab/deletion_vector_61d16c75-6994-46b7-a15b-8b538852e50e.bin",
  );
  const many = Array.from({ length: 5000 }, (_, i) => i * 3); // > 4096 in container 0 → bitmap
  const rows = [...many, 70000, 70001, 70002, 2 ** 32 + 5];
  assert.deepEqual(decodeBitmapArray(bitmapArray(rows)), rows);
  const runRows = [1, 2, 3, 4, 10, 65536, 65537, 2 ** 33];
  assert.deepEqual(decodeBitmapArray(bitmapArray(runRows, true)), runRows);
  assert.deepEqual(Array.from(z85Decode(z85(new Uint8Array([1, 2, 3, 4, 250, 251, 252, 253])))), [
    1,
    2,
    3,
    4,
    250,
    251,
    252,
    253,
  ]);
  const bad = bitmapArray([1]);
  bad[0] ^= 1;
  assert.throws(() => decodeBitmapArray(bad), /magic/);
  assert.equal(crc32(new TextEncoder().encode("123456789")), 0xcbf43926);
});
