import assert from "node:assert/strict";
import { append, createTable } from "../../lib/delta/table.ts";
import { deltalakeAvailable, pythonPath } from "../support/python.ts";
import * as arrow from "apache-arrow";
import { parseSchemaString, type StructType } from "../../lib/delta/schema.ts";
import {
  computeStats,
  formatTimestampMillis,
  statsOptionsFromConfiguration,
} from "../../lib/delta/stats.ts";
import {
  ALL_TYPES_SCHEMA,
  allTypesTable,
  bitmap,
  column,
  strings,
} from "../support/delta_fixtures.ts";

function schemaOf(fields: Array<[string, unknown]>): StructType {
  return parseSchemaString(JSON.stringify({
    type: "struct",
    fields: fields.map(([name, type]) => ({ name, type, nullable: true, metadata: {} })),
  }));
}

function tableOf(cols: Record<string, arrow.Data>): arrow.Table {
  return new arrow.Table(
    Object.fromEntries(Object.entries(cols).map(([k, d]) => [k, arrow.makeVector(d)])),
  );
}

Deno.test("stats of every type, exact text (longs beyond 2^53, ms timestamps, nested struct)", () => {
  const stats = computeStats(allTypesTable(), ALL_TYPES_SCHEMA);
  assert.equal(
    stats,
    '{"numRecords":4,' +
      '"minValues":{"l":-5,"i":-3,"d":-2.25,"f":-1,"s":"a","ts":"1969-12-31T23:59:59.999Z","dt":"1969-12-31","st":{"x":1,"y":"p"}},' +
      '"maxValues":{"l":9007199254740993,"i":2147483647,"d":1e+300,"f":3.25,"s":"é😀","ts":"2024-05-01T10:00:00.123Z","dt":"2024-05-01","st":{"x":4,"y":"q"}},' +
      '"nullCount":{"l":1,"i":1,"d":1,"f":1,"s":1,"b":1,"ts":1,"dt":1,"st":{"x":2,"y":2},"arr":1}}',
  );
  // It is the stats object itself as a JSON string (not nested one level deeper).
  assert.equal(JSON.parse(stats).numRecords, 4);
});

Deno.test("random data: stats equal an independent computation over the source values", () => {
  let seed = 42;
  const rnd = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
  const n = 5000;
  const ints = Array.from(
    { length: n },
    () => (rnd() < 0.1 ? null : Math.floor(rnd() * 2e9) - 1e9),
  );
  const dbls = Array.from({ length: n }, () => (rnd() < 0.1 ? null : (rnd() - 0.5) * 1e6));
  const strs = Array.from(
    { length: n },
    () =>
      rnd() < 0.1 ? null : Array.from(
        { length: 1 + Math.floor(rnd() * 10) },
        () => String.fromCharCode(97 + Math.floor(rnd() * 26)),
      ).join(""),
  );
  const longs = ints.map((v) => (v === null ? null : BigInt(v) * 1000003n));
  const t = tableOf({
    i: column(new arrow.Int32(), ints, Int32Array),
    d: column(new arrow.Float64(), dbls, Float64Array),
    s: strings(strs),
    l: column(new arrow.Int64(), longs, BigInt64Array),
  });
  // Split across batches too: stats must merge chunks.
  const chunked = new arrow.Table(t.schema, [
    ...t.slice(0, 1234).batches,
    ...t.slice(1234).batches,
  ]);
  const schema = schemaOf([["i", "integer"], ["d", "double"], ["s", "string"], ["l", "long"]]);
  const got = JSON.parse(computeStats(chunked, schema));
  const nn = <T>(a: Array<T | null>) => a.filter((v): v is T => v !== null);
  const sortedS = nn(strs).sort();
  const lmin = nn(longs).reduce((a, b) => (b < a ? b : a));
  const lmax = nn(longs).reduce((a, b) => (b > a ? b : a));
  assert.deepEqual(got, {
    numRecords: n,
    minValues: {
      i: Math.min(...nn(ints)),
      d: Math.min(...nn(dbls)),
      s: sortedS[0],
      l: Number(lmin),
    },
    maxValues: {
      i: Math.max(...nn(ints)),
      d: Math.max(...nn(dbls)),
      s: sortedS[sortedS.length - 1],
      l: Number(lmax),
    },
    nullCount: {
      i: ints.filter((v) => v === null).length,
      d: dbls.filter((v) => v === null).length,
      s: strs.filter((v) => v === null).length,
      l: longs.filter((v) => v === null).length,
    },
  });
  const text = computeStats(chunked, schema);
  assert.ok(
    text.includes(`"l":${lmin}`) && text.includes(`"l":${lmax}`),
    "longs written from exact digits",
  );
});

Deno.test("NaN/Infinity drop min/max for that column; all-null columns get nullCount only", () => {
  const t = tableOf({
    a: column(new arrow.Float64(), [1, NaN, 3], Float64Array),
    b: column(new arrow.Float64(), [1, Infinity, 3], Float64Array),
    c: column(new arrow.Int32(), [null, null, null], Int32Array),
    e: column(new arrow.Float64(), [2, null, -1], Float64Array),
  });
  const s = JSON.parse(
    computeStats(
      t,
      schemaOf([["a", "double"], ["b", "double"], ["c", "integer"], ["e", "double"]]),
    ),
  );
  assert.deepEqual(s, {
    numRecords: 3,
    minValues: { e: -1 },
    maxValues: { e: 2 },
    nullCount: { a: 0, b: 0, c: 3, e: 1 },
  });
});

Deno.test("strings: min truncated to 32 code points, max gets the U+007F tie-breaker or is omitted", () => {
  const long = "x".repeat(40);
  const emoji = "😀".repeat(40); // surrogate pairs must not be split
  const t1 = tableOf({ s: strings([long, "y"]) });
  const s1 = JSON.parse(computeStats(t1, schemaOf([["s", "string"]])));
  assert.equal(s1.minValues.s, "x".repeat(32));
  assert.equal(s1.maxValues.s, "y");
  const t2 = tableOf({ s: strings(["a", long]) });
  const s2 = JSON.parse(computeStats(t2, schemaOf([["s", "string"]])));
  assert.equal(s2.maxValues.s, "x".repeat(32) + "\u007f");
  assert.ok(s2.maxValues.s > long);
  const t3 = tableOf({ s: strings([emoji, "😀"]) });
  const s3 = JSON.parse(computeStats(t3, schemaOf([["s", "string"]])));
  assert.equal(s3.minValues.s, "😀");
  assert.equal(s3.maxValues, undefined, "max omitted: next char is not below U+007F");
  const t4 = tableOf({ s: strings([emoji + "z"]) });
  const s4 = JSON.parse(computeStats(t4, schemaOf([["s", "string"]])));
  assert.equal(Array.from(s4.minValues.s).length, 32);
  assert.equal(s4.minValues.s, "😀".repeat(32));
  // Byte (code point) order, not UTF-16 order: U+FFFD < U+1F600.
  const t5 = tableOf({ s: strings(["\ufffd", "😀"]) });
  const s5 = JSON.parse(computeStats(t5, schemaOf([["s", "string"]])));
  assert.equal(s5.minValues.s, "\ufffd");
  assert.equal(s5.maxValues.s, "😀");
});

Deno.test("dataSkippingNumIndexedCols counts leaf columns; dataSkippingStatsColumns picks columns", () => {
  const opts = statsOptionsFromConfiguration({ "delta.dataSkippingNumIndexedCols": "3" });
  assert.deepEqual(opts, { numIndexedCols: 3 });
  const s = JSON.parse(computeStats(allTypesTable(), ALL_TYPES_SCHEMA, opts));
  assert.deepEqual(Object.keys(s.nullCount), ["l", "i", "d"]);
  const s0 = JSON.parse(computeStats(allTypesTable(), ALL_TYPES_SCHEMA, { numIndexedCols: 0 }));
  assert.deepEqual(s0, { numRecords: 4, nullCount: {} });
  const picked = statsOptionsFromConfiguration({ "delta.dataSkippingStatsColumns": "s, st.y" });
  const s2 = JSON.parse(computeStats(allTypesTable(), ALL_TYPES_SCHEMA, picked));
  assert.deepEqual(s2.nullCount, { s: 1, st: { y: 2 } });
  assert.deepEqual(s2.minValues, { s: "a", st: { y: "p" } });
  // Leaf counting goes through structs: 9 leaves before st.y.
  const s3 = JSON.parse(computeStats(allTypesTable(), ALL_TYPES_SCHEMA, { numIndexedCols: 9 }));
  assert.deepEqual(s3.nullCount.st, { x: 2 });
  // Partition columns are excluded and not counted.
  const s4 = JSON.parse(
    computeStats(allTypesTable(), ALL_TYPES_SCHEMA, { numIndexedCols: 1, partitionColumns: ["l"] }),
  );
  assert.deepEqual(Object.keys(s4.nullCount), ["i"]);
});

Deno.test("decimals, timestamp_ntz, nulls inherited from a null parent struct", () => {
  const words = new Uint32Array(12);
  const set = (i: number, v: bigint) => {
    const u = BigInt.asUintN(128, v);
    for (let k = 0; k < 4; k++) words[4 * i + k] = Number((u >> BigInt(32 * k)) & 0xffffffffn);
  };
  set(0, 12345n);
  set(1, -5n);
  set(2, 99999999999999999999n); // needs more than 64 bits
  const dec = arrow.makeData({
    type: new arrow.Decimal(2, 22, 128),
    length: 3,
    nullCount: 0,
    data: words,
  });
  const ntz = column(new arrow.TimestampMicrosecond(), [1_000_999n, 5n, null], BigInt64Array);
  // A struct whose child slot holds a value where the parent is null: that row must count as null.
  const child = column(new arrow.Int32(), [5, 100, 7], Int32Array);
  const st = arrow.makeData({
    type: new arrow.Struct([new arrow.Field("v", new arrow.Int32())]),
    length: 3,
    nullCount: 1,
    nullBitmap: bitmap([false, true, false]),
    children: [child],
  });
  const t = tableOf({ dec, ntz, st });
  const schema = schemaOf([
    ["dec", "decimal(22,2)"],
    ["ntz", "timestamp_ntz"],
    ["st", {
      type: "struct",
      fields: [{ name: "v", type: "integer", nullable: true, metadata: {} }],
    }],
  ]);
  assert.equal(
    computeStats(t, schema),
    '{"numRecords":3,"minValues":{"dec":-0.05,"ntz":"1970-01-01T00:00:00.000","st":{"v":5}},' +
      '"maxValues":{"dec":999999999999999999.99,"ntz":"1970-01-01T00:00:01.000","st":{"v":7}},' +
      '"nullCount":{"dec":0,"ntz":1,"st":{"v":1}}}',
  );
  assert.equal(formatTimestampMillis(-1n), "1969-12-31T23:59:59.999Z");
  assert.equal(formatTimestampMillis(1_999n), "1970-01-01T00:00:00.001Z");
});

Deno.test("1M-row typed columns give exact stats", () => {
  const n = 1_000_000;
  const l = new BigInt64Array(n);
  const d = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    l[i] = BigInt(i) - 500_000n;
    d[i] = i / 3;
  }
  const t = new arrow.Table({ l: arrow.makeVector(l), d: arrow.makeVector(d) });
  const s = JSON.parse(computeStats(t, schemaOf([["l", "long"], ["d", "double"]])));
  assert.deepEqual(s, {
    numRecords: n,
    minValues: { l: -500000, d: 0 },
    maxValues: { l: 499999, d: (n - 1) / 3 },
    nullCount: { l: 0, d: 0 },
  });
});

Deno.test("sliced tables (non-zero offsets, as writers split files) give the same stats as copies", () => {
  const t = allTypesTable();
  const big = new arrow.Table(t.schema, Array.from({ length: 5 }, () => t.batches[0]));
  for (const [s, e] of [[1, 3], [2, 4], [3, 11], [5, 6], [0, 20]]) {
    const slice = big.slice(s, e);
    const copy = arrow.tableFromIPC(arrow.tableToIPC(slice, "stream"));
    assert.equal(copy.batches.every((b) => b.data.children.every((c) => c.offset === 0)), true);
    assert.equal(
      computeStats(slice, ALL_TYPES_SCHEMA),
      computeStats(copy, ALL_TYPES_SCHEMA),
      `slice ${s}..${e}`,
    );
  }
  const one = JSON.parse(computeStats(big.slice(1, 3), ALL_TYPES_SCHEMA));
  assert.deepEqual(one.nullCount.st, { x: 2, y: 1 });
  assert.equal(one.minValues.s, "a");
  assert.equal(one.maxValues.s, "a");
});

Deno.test({
  name: "delta-rs parses the stats we write to the same values",
  ignore: !(await deltalakeAvailable().catch(() => false)),
  async fn() {
    const dir = await Deno.makeTempDir();
    try {
      const t = allTypesTable();
      await createTable(dir, t.schema);
      await append(dir, t);
      const script = [
        "import sys, json, pyarrow as pa",
        "from deltalake import DeltaTable",
        "t = pa.table(DeltaTable(sys.argv[1]).get_add_actions(flatten=True))",
        "print(json.dumps({c: str(t[c][0].as_py()) for c in t.column_names if c.startswith(('min.', 'max.', 'null_count.', 'num_records'))}))",
      ].join("\n");
      const out = await new Deno.Command(pythonPath(), {
        args: ["-c", script, dir],
        stdout: "piped",
      }).output();
      const got = JSON.parse(new TextDecoder().decode(out.stdout));
      assert.equal(got["num_records"], "4");
      assert.equal(got["min.l"], "-5");
      assert.equal(got["max.l"], "9007199254740993");
      assert.equal(got["max.i"], "2147483647");
      assert.equal(got["max.d"], "1e+300");
      assert.equal(got["min.s"], "a");
      assert.equal(got["max.s"], "é😀");
      assert.equal(got["min.ts"], "1969-12-31 23:59:59.999000+00:00");
      assert.equal(got["max.ts"], "2024-05-01 10:00:00.123000+00:00");
      assert.equal(got["max.dt"], "2024-05-01");
      assert.equal(got["min.st.x"], "1");
      assert.equal(got["null_count.st.x"], "2");
      assert.equal(got["null_count.arr"], "1");
      assert.equal(got["min.b"], "None");
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});
