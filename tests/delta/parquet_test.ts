import assert from "node:assert/strict";
import * as arrow from "apache-arrow";
import {
  decodeParquet,
  encodeParquet,
  encodeParquetFiles,
  encodeParquetParts,
  nearUniqueColumns,
  parquetSchema,
} from "../../lib/delta/parquet.ts";
import { toDeltaSchema } from "../../lib/delta/schema.ts";
import { computeStats, StatsCollector } from "../../lib/delta/stats.ts";
import { canonRows } from "../support/canon.ts";
import { ALL_TYPES_SCHEMA, allTypesTable, column } from "../support/delta_fixtures.ts";
import { deltalakeAvailable, pythonPath } from "../support/python.ts";

Deno.test("encode/decode round trip keeps every supported type and its nulls", () => {
  const t = allTypesTable();
  for (const compression of ["snappy", "zstd"] as const) {
    const back = decodeParquet(encodeParquet(t, { compression }));
    assert.equal(back.numRows, 4);
    assert.deepEqual(toDeltaSchema(back.schema), ALL_TYPES_SCHEMA);
    assert.deepEqual(canonRows(back), canonRows(t));
  }
  const rows = canonRows(decodeParquet(encodeParquet(t))) as Array<Record<string, unknown>>;
  // Exact values that a lossy path would break: a long above 2^53, µs timestamps, pre-epoch.
  assert.ok(rows.some((r) => r.l === "9007199254740993"));
  assert.ok(rows.some((r) => r.ts === "1714557600123456"));
  assert.ok(rows.some((r) => r.ts === "-1" && r.dt === "1969-12-31"));
  assert.ok(rows.some((r) => r.s === "é😀"));
});

Deno.test("a file encoded part by part holds every part's rows, and its stats equal the whole's", async () => {
  const t = allTypesTable();
  // Parts of every size: one row, the rest, an empty one, and each row alone.
  const slices = [
    t.slice(0, 1),
    t.slice(1),
    t.slice(0, 0),
    ...[0, 1, 2, 3].map((i) => t.slice(i, i + 1)),
  ];
  const collector = new StatsCollector(ALL_TYPES_SCHEMA);
  const parts = async function* () {
    for (const s of slices) {
      collector.add(s);
      yield s;
    }
  };
  const back = decodeParquet(await encodeParquetParts(parts(), { compression: "zstd" }));
  assert.equal(back.numRows, 8);
  assert.deepEqual(toDeltaSchema(back.schema), ALL_TYPES_SCHEMA);
  const whole = new arrow.Table(t.schema, [...t.batches, ...t.batches]);
  assert.deepEqual(canonRows(back), canonRows(whole));
  assert.equal(collector.json(), computeStats(whole, ALL_TYPES_SCHEMA));
  assert.match(collector.json(), /^\{"numRecords":8,/);
  await assert.rejects(
    encodeParquetParts((async function* () {})()),
    /no parts to write/,
  );
});

Deno.test("files copied Parquet to Parquet, a slice of rows at a time, keep every row and type", async () => {
  const n = 300_000; // more than one slice of a file
  const ids = BigInt64Array.from({ length: n }, (_, i) => BigInt(i));
  const big = encodeParquet(
    arrow.tableFromArrays({ id: ids, s: Array.from({ length: n }, (_, i) => `c${i % 7}`) }),
  );
  const small = encodeParquet(arrow.tableFromArrays({ id: new BigInt64Array([-1n]), s: ["z"] }));
  const files = async function* () {
    yield small;
    yield big;
    yield small;
  };
  const back = decodeParquet(await encodeParquetFiles(files(), { rowGroupSize: 100_000 }));
  assert.equal(back.numRows, n + 2);
  let sum = 0n;
  for (const v of back.getChild("id")!) sum += v as bigint;
  assert.equal(sum, BigInt(n) * BigInt(n - 1) / 2n - 2n);
  assert.equal(back.getChild("s")!.get(1), "c0");
  assert.equal(back.getChild("s")!.get(n + 1), "z");
  assert.equal(String(back.schema.fields[0].type), "Int64");
});

Deno.test("decode projects columns in the requested order and ignores unknown names", () => {
  const bytes = encodeParquet(allTypesTable());
  const t = decodeParquet(bytes, { columns: ["s", "l", "nope"] });
  assert.deepEqual(t.schema.fields.map((f) => f.name), ["s", "l"]);
  assert.equal(t.numRows, 4);
  const none = decodeParquet(bytes, { columns: ["nope"] });
  assert.equal(none.numCols, 0);
  assert.equal(none.numRows, 4);
});

Deno.test("row group size splits the file into several row groups that read back whole", () => {
  const n = 10_000;
  const ids = Array.from({ length: n }, (_, i) => BigInt(i));
  const t = new arrow.Table({
    id: arrow.makeVector(column(new arrow.Int64(), ids, BigInt64Array)),
  });
  const back = decodeParquet(encodeParquet(t, { rowGroupSize: 1000 }));
  assert.equal(back.numRows, n);
  assert.equal(back.getChild("id")!.get(n - 1), BigInt(n - 1));
});

Deno.test("nanosecond and millisecond timestamps are normalised to microseconds on read", () => {
  const ns = column(
    new arrow.TimestampNanosecond("+00:00"),
    [1_500n, -1_500n, null],
    BigInt64Array,
  );
  const ms = column(new arrow.TimestampMillisecond(), [2n, null, -3n], BigInt64Array);
  const t = new arrow.Table({ ns: arrow.makeVector(ns), ms: arrow.makeVector(ms) });
  const back = decodeParquet(encodeParquet(t));
  const nsType = back.schema.fields[0].type as arrow.Timestamp;
  assert.equal(nsType.unit, arrow.TimeUnit.MICROSECOND);
  assert.equal(nsType.timezone, "UTC");
  assert.deepEqual(Array.from(back.getChild("ns")!.data[0].values as BigInt64Array).slice(0, 2), [
    1n,
    -2n,
  ]);
  const msType = back.schema.fields[1].type as arrow.Timestamp;
  assert.equal(msType.unit, arrow.TimeUnit.MICROSECOND);
  assert.equal(msType.timezone ?? null, null);
  const msVals = back.getChild("ms")!.data[0].values as BigInt64Array;
  assert.equal(msVals[0], 2000n);
  assert.equal(msVals[2], -3000n);
});

Deno.test("parquetSchema reads the schema without data; garbage bytes give a clear error", () => {
  const s = parquetSchema(encodeParquet(allTypesTable()));
  assert.equal(s.fields.length, 10);
  assert.throws(() => decodeParquet(new Uint8Array([1, 2, 3])), /Parquet/);
});

Deno.test({
  name: "written file has the Parquet types Delta readers expect (checked with pyarrow)",
  ignore: !(await deltalakeAvailable().catch(() => false)),
  async fn() {
    const dir = await Deno.makeTempDir();
    try {
      const file = `${dir}/t.parquet`;
      await Deno.writeFile(file, encodeParquet(allTypesTable()));
      const script = [
        "import pyarrow.parquet as pq, sys",
        "f = pq.ParquetFile(sys.argv[1])",
        "print(f.schema)",
        "print(f.metadata.row_group(0).column(0).compression)",
        "print(f.read().column('l').to_pylist())",
      ].join("\n");
      const out = await new Deno.Command(pythonPath(), {
        args: ["-c", script, file],
        stdout: "piped",
      }).output();
      const text = new TextDecoder().decode(out.stdout);
      assert.match(
        text,
        /optional int64 field_id=-1 ts \(Timestamp\(isAdjustedToUTC=true, timeUnit=microseconds/,
      );
      assert.match(text, /optional int32 field_id=-1 dt \(Date\)/);
      assert.match(text, /optional binary field_id=-1 s \(String\)/);
      // 3-level list: optional group (List) > repeated group list > element
      assert.match(
        text,
        /optional group field_id=-1 arr \(List\) \{\s+repeated group field_id=-1 list \{\s+optional int64 field_id=-1 element;/,
      );
      assert.match(text, /SNAPPY/);
      assert.match(text, /\[1, None, 9007199254740993, -5\]/);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

/** 5,000 rows: a unique id, a 5-value city, unique amounts and names, a boolean. */
function mixedCardinality(): arrow.Table {
  const n = 5000;
  const cities = ["Chicago", "Brooklyn", "Caguas", "Dallas", "Denver"];
  return new arrow.Table({
    id: arrow.makeVector(BigInt64Array.from({ length: n }, (_, i) => BigInt(i * 7))),
    city: arrow.vectorFromArray(
      Array.from({ length: n }, (_, i) => cities[i % 5]),
      new arrow.Utf8(),
    ),
    amount: arrow.makeVector(Float64Array.from({ length: n }, (_, i) => i * 0.37)),
    name: arrow.vectorFromArray(Array.from({ length: n }, (_, i) => `n${i}`), new arrow.Utf8()),
    flag: arrow.vectorFromArray(Array.from({ length: n }, (_, i) => i % 2 === 0)),
  });
}

Deno.test("dictionary 'auto' picks the near-unique columns by sampling", () => {
  assert.deepEqual(nearUniqueColumns(mixedCardinality()), ["id", "amount", "name"]);
  // Too few rows to judge: nothing is singled out.
  assert.deepEqual(nearUniqueColumns(mixedCardinality().slice(0, 10)), []);
  // Decimals (money) are judged by value, though Arrow JS gives a fresh object per get: 1,000
  // rows of 5 prices are not unique, 1,000 distinct amounts are.
  const words = (cents: (i: number) => number) =>
    arrow.makeVector(arrow.makeData({
      type: new arrow.Decimal(2, 12, 128),
      length: 1000,
      data: Uint32Array.from({ length: 4000 }, (_, k) => (k % 4 === 0 ? cents(k / 4) : 0)),
    }));
  const money = new arrow.Table({
    price: words((i) => 29998 + (i % 5)),
    subtotal: words((i) => 100 + i),
  });
  assert.deepEqual(nearUniqueColumns(money), ["subtotal"]);
});

Deno.test({
  name: "dictionary encoding per column as pyarrow sees it: auto, on, off; values intact",
  ignore: !(await deltalakeAvailable().catch(() => false)),
  async fn() {
    const dir = await Deno.makeTempDir();
    try {
      const t = mixedCardinality();
      const script = [
        "import pyarrow.parquet as pq, sys",
        "f = pq.ParquetFile(sys.argv[1])",
        "rg = f.metadata.row_group(0)",
        "print(' '.join(f'{rg.column(i).path_in_schema}={int(rg.column(i).has_dictionary_page)}'" +
        " for i in range(rg.num_columns)))",
      ].join("\n");
      const seen: Record<string, string> = {};
      for (const mode of ["auto", true, false] as const) {
        const bytes = encodeParquet(t, { dictionary: mode });
        assert.deepEqual(canonRows(decodeParquet(bytes)), canonRows(t), `values (${mode})`);
        const file = `${dir}/${mode}.parquet`;
        await Deno.writeFile(file, bytes);
        const out = await new Deno.Command(pythonPath(), {
          args: ["-c", script, file],
          stdout: "piped",
          stderr: "piped",
        }).output();
        assert.ok(out.success, new TextDecoder().decode(out.stderr));
        seen[String(mode)] = new TextDecoder().decode(out.stdout).trim();
      }
      assert.deepEqual(seen, {
        auto: "id=0 city=1 amount=0 name=0 flag=0",
        true: "id=1 city=1 amount=1 name=1 flag=0",
        false: "id=0 city=0 amount=0 name=0 flag=0",
      });
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});
