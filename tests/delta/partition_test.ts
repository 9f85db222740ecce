import assert from "node:assert/strict";
import * as arrow from "apache-arrow";
import {
  decodeAddPath,
  encodeAddPath,
  hiveEscape,
  hiveUnescape,
  partitionDirectory,
  splitByPartition,
  takeRows,
  validatePartitionColumns,
} from "../../lib/delta/partition.ts";
import {
  constantVector,
  formatTimestampMicros,
  parsePartitionValue,
  PartitionError,
} from "../../lib/delta/partition_value.ts";
import { parseSchemaString } from "../../lib/delta/schema.ts";
import { canonRows } from "../support/canon.ts";
import { ALL_TYPES_SCHEMA, allTypesTable, column, strings } from "../support/delta_fixtures.ts";

const field = (name: string, type: unknown) => ({ name, type, nullable: true, metadata: {} });

Deno.test("Hive escaping for directory names, then URI encoding for add.path (two steps)", () => {
  const cases: Array<[string, string]> = [
    ["2023-11-05 00:00:00", "2023-11-05 00%3A00%3A00"],
    ["50%", "50%25"],
    ["a/b", "a%2Fb"],
    ["k=v", "k%3Dv"],
    ["Zürich 東京", "Zürich 東京"],
    ["q?#*'\"[]^{\\", "q%3F%23%2A%27%22%5B%5D%5E%7B%5C"],
  ];
  for (const [raw, dir] of cases) {
    assert.equal(hiveEscape(raw), dir, raw);
    assert.equal(hiveUnescape(dir), raw);
  }
  const d = partitionDirectory(["ts", "city"], { ts: "2023-11-05 00:00:00", city: null });
  assert.equal(d, "ts=2023-11-05 00%3A00%3A00/city=__HIVE_DEFAULT_PARTITION__");
  const p = encodeAddPath(`${d}/part-0.parquet`);
  // The form Spark writes: space → %20 and the Hive % → %25.
  assert.equal(
    p,
    "ts=2023-11-05%2000%253A00%253A00/city=__HIVE_DEFAULT_PARTITION__/part-0.parquet",
  );
  assert.equal(
    decodeAddPath(p),
    `${d}/part-0.parquet`,
    "decoding once gives the directory name back",
  );
  assert.equal(encodeAddPath("c=Zürich/f"), "c=Z%C3%BCrich/f");
  assert.equal(partitionDirectory(["s"], { s: "" }), "s=__HIVE_DEFAULT_PARTITION__");
});

Deno.test("partition values: format and parse back per type", () => {
  const cases: Array<[unknown, string, unknown]> = [
    ["integer", "-12", -12],
    ["long", "9007199254740993", 9007199254740993n],
    ["double", "1.5", 1.5],
    ["boolean", "true", true],
    ["boolean", "false", false],
    ["string", "a b%/:=é", "a b%/:=é"],
    ["date", "2024-05-01", 19844],
    ["date", "1969-12-31", -1],
    ["timestamp", "2024-05-01T10:00:00.123456Z", 1714557600123456n],
    ["timestamp", "2024-05-01 10:00:00", 1714557600000000n], // Spark's form (taken as UTC)
    ["timestamp", "2024-05-01 10:00:00.5", 1714557600500000n],
    ["timestamp", "2024-05-01T12:00:00+02:00", 1714557600000000n],
    ["timestamp_ntz", "2024-05-01 10:00:00.000001", 1714557600000001n],
    ["decimal(10,2)", "-12.5", -1250n],
    ["decimal(10,2)", "3", 300n],
  ];
  for (const [type, text, value] of cases) {
    assert.deepEqual(parsePartitionValue(text, type as never), value, `${type} ${text}`);
  }
  assert.equal(parsePartitionValue(null, "integer"), null);
  assert.equal(parsePartitionValue("", "string"), null);
  assert.throws(() => parsePartitionValue("x", "integer"), PartitionError);
  assert.throws(() => parsePartitionValue("2024-13", "timestamp"), PartitionError);
  assert.equal(formatTimestampMicros(1714557600123456n), "2024-05-01T10:00:00.123456Z");
  assert.equal(formatTimestampMicros(-1n), "1969-12-31T23:59:59.999999Z");
});

Deno.test("splitByPartition groups rows, drops partition columns, keeps order and µs", () => {
  const schema = parseSchemaString(JSON.stringify({
    type: "struct",
    fields: [
      field("city", "string"),
      field("day", "date"),
      field("ts", "timestamp"),
      field("n", "long"),
    ],
  }));
  const cities = ["a b", "x%", null, "a b", "", "x%"];
  const days = [19844, 19844, 19845, 19844, 19845, 19844];
  const ts = [1n, 2n, 3n, 1714557600123456n, 5n, 6n];
  const ns = [1n, 2n, 3n, 4n, 5n, 6n];
  const t = new arrow.Table({
    city: arrow.makeVector(strings(cities)),
    day: arrow.makeVector(column(new arrow.DateDay(), days, Int32Array)),
    ts: arrow.makeVector(column(new arrow.TimestampMicrosecond("UTC"), ts, BigInt64Array)),
    n: arrow.makeVector(column(new arrow.Int64(), ns, BigInt64Array)),
  });
  const groups = splitByPartition(t, schema, ["city", "day"]);
  assert.deepEqual(groups.map((g) => g.values), [
    { city: "a b", day: "2024-05-01" },
    { city: "x%", day: "2024-05-01" },
    { city: null, day: "2024-05-02" },
  ]);
  assert.deepEqual(groups.map((g) => g.directory), [
    "city=a b/day=2024-05-01",
    "city=x%25/day=2024-05-01",
    "city=__HIVE_DEFAULT_PARTITION__/day=2024-05-02",
  ]);
  assert.deepEqual(groups.map((g) => g.table.schema.fields.map((f) => f.name)), [["ts", "n"], [
    "ts",
    "n",
  ], ["ts", "n"]]);
  assert.deepEqual(canonRows(groups[0].table), [{ ts: "1", n: "1" }, {
    ts: "1714557600123456",
    n: "4",
  }]);
  assert.deepEqual(canonRows(groups[2].table), [{ ts: "3", n: "3" }, { ts: "5", n: "5" }]);
  const total = groups.reduce((s, g) => s + g.table.numRows, 0);
  assert.equal(total, 6);
  // Unpartitioned: one group with the table itself.
  assert.equal(splitByPartition(t, schema, [])[0].table, t);
});

Deno.test("takeRows gathers many short runs of every type exactly", () => {
  const t = allTypesTable();
  const big = new arrow.Table(t.schema, Array.from({ length: 100 }, () => t.batches[0]));
  const rows = Array.from({ length: 400 }, (_, i) => i).filter((i) => i % 2 === 0);
  const taken = takeRows(big, rows);
  assert.equal(taken.numRows, 200);
  const expect = canonRows(
    new arrow.Table(
      t.schema,
      Array.from({ length: 100 }, () => t.slice(0, 1).batches[0]).concat(
        Array.from({ length: 100 }, () => t.slice(2, 3).batches[0]),
      ),
    ),
  );
  assert.deepEqual(canonRows(taken), expect);
});

Deno.test("partition columns must be primitive and exist", () => {
  assert.throws(() => validatePartitionColumns(ALL_TYPES_SCHEMA, ["st"]), /must be primitive/);
  assert.throws(
    () => validatePartitionColumns(ALL_TYPES_SCHEMA, ["zz"]),
    /not in the table schema/,
  );
  validatePartitionColumns(ALL_TYPES_SCHEMA, ["s", "dt"]);
});

Deno.test("constantVector builds typed columns for partition values, including null", () => {
  const v = constantVector("timestamp", 1714557600123456n, 3);
  assert.equal(String(v.type), "Timestamp<MICROSECOND, UTC>");
  assert.deepEqual(Array.from(v.data[0].values as BigInt64Array), [
    1714557600123456n,
    1714557600123456n,
    1714557600123456n,
  ]);
  const s = constantVector("string", "é", 2);
  assert.deepEqual(s.toArray(), ["é", "é"]);
  const n = constantVector("integer", null, 2);
  assert.equal(n.nullCount, 2);
  const d = constantVector("decimal(10,2)", -1250n, 1);
  assert.equal(String(d.get(0)), "-1250");
});
