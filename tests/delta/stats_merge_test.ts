import assert from "node:assert/strict";
import * as arrow from "apache-arrow";
import { parseSchemaString, type StructType } from "../../lib/delta/schema.ts";
import { computeStats } from "../../lib/delta/stats.ts";
import { mergeStats } from "../../lib/delta/stats_merge.ts";
import { ALL_TYPES_SCHEMA, allTypesTable } from "../support/delta_fixtures.ts";
import { openStorage } from "../../lib/storage/mod.ts";
import { createTable } from "../../lib/delta/table.ts";
import { loadSnapshot } from "../../lib/delta/snapshot.ts";
import { optimize } from "../../lib/delta/optimize.ts";
import { scanFiles } from "../../lib/delta/scan.ts";
import { canonRows } from "../support/canon.ts";
import { encodeParquet } from "../../lib/delta/parquet.ts";
import { commit, makeCommitInfo } from "../../lib/delta/commit.ts";

function timestamps(type: arrow.Timestamp, values: bigint[]): arrow.Vector {
  return arrow.makeVector(
    arrow.makeData({ type, length: values.length, data: BigInt64Array.from(values) } as never),
  );
}

function schemaOf(fields: Array<[string, unknown]>): StructType {
  return parseSchemaString(JSON.stringify({
    type: "struct",
    fields: fields.map(([name, type]) => ({ name, type, nullable: true, metadata: {} })),
  }));
}

Deno.test("merged stats of a table's slices equal the stats of the whole table", () => {
  const t = allTypesTable();
  // Every split of the four rows into consecutive files.
  for (const cuts of [[1], [2], [3], [1, 2], [1, 3], [2, 3], [1, 2, 3]]) {
    const bounds = [0, ...cuts, t.numRows];
    const parts = bounds.slice(1).map((end, i) => t.slice(bounds[i], end));
    const merged = mergeStats(
      parts.map((p) => computeStats(p, ALL_TYPES_SCHEMA)),
      ALL_TYPES_SCHEMA,
    );
    assert.equal(merged, computeStats(t, ALL_TYPES_SCHEMA), `cuts ${cuts}`);
  }
});

Deno.test("merge compares exactly: longs beyond 2^53, decimals by digits, strings by code point", () => {
  const schema = schemaOf([["l", "long"], ["d", "decimal(38,2)"], ["s", "string"]]);
  const a = '{"numRecords":1,"minValues":{"l":9007199254740993,"d":12345678901234567890.11,' +
    '"s":"\uffff"},"maxValues":{"l":9007199254740993,"d":12345678901234567890.11,"s":"\uffff"},' +
    '"nullCount":{"l":0,"d":0,"s":0}}';
  const b = '{"numRecords":1,"minValues":{"l":9007199254740992,"d":12345678901234567890.1,' +
    '"s":"😀"},"maxValues":{"l":9007199254740992,"d":12345678901234567890.1,"s":"😀"},' +
    '"nullCount":{"l":0,"d":0,"s":0}}';
  // As doubles the longs and decimals tie; as UTF-16 units "😀" (D83D) sorts before U+FFFF.
  assert.equal(
    mergeStats([a, b], schema),
    '{"numRecords":2,"minValues":{"l":9007199254740992,"d":12345678901234567890.1,"s":"\uffff"},' +
      '"maxValues":{"l":9007199254740993,"d":12345678901234567890.11,"s":"😀"},' +
      '"nullCount":{"l":0,"d":0,"s":0}}',
  );
});

Deno.test("a bound is kept only when every file has it or holds only nulls there; tightBounds=false carries over", () => {
  const schema = schemaOf([["x", "integer"], ["y", "integer"], ["st", {
    type: "struct",
    fields: [{ name: "z", type: "string", nullable: true, metadata: {} }],
  }]]);
  const a =
    '{"numRecords":2,"minValues":{"x":5,"y":1,"st":{"z":"b"}},"maxValues":{"x":9,"y":1,"st":{"z":"c"}},' +
    '"nullCount":{"x":0,"y":0,"st":{"z":0}}}';
  // x all null here (no bound: fine); y not indexed (no bound, not all null: y loses its bounds).
  const b = '{"numRecords":3,"minValues":{"st":{"z":"a"}},"maxValues":{"st":{"z":"a"}},' +
    '"nullCount":{"x":3,"y":1,"st":{"z":0}},"tightBounds":false}';
  assert.equal(
    mergeStats([a, b], schema),
    '{"numRecords":5,"minValues":{"x":5,"st":{"z":"a"}},"maxValues":{"x":9,"st":{"z":"c"}},' +
      '"nullCount":{"x":3,"y":1,"st":{"z":0}},"tightBounds":false}',
  );
  // A file without nullCount: no nullCount, and bounds only where every file has one.
  assert.equal(
    mergeStats([a, '{"numRecords":1,"minValues":{"x":1},"maxValues":{"x":2}}'], schema),
    '{"numRecords":3,"minValues":{"x":1},"maxValues":{"x":9}}',
  );
});

Deno.test("unusable stats in any input give undefined (the caller computes them from rows)", () => {
  const schema = schemaOf([["x", "integer"]]);
  const ok = '{"numRecords":1,"minValues":{"x":1},"maxValues":{"x":1},"nullCount":{"x":0}}';
  for (
    const bad of [undefined, null, "", "not json", '{"minValues":{}}', '{"numRecords":-1}', "[1]"]
  ) {
    assert.equal(mergeStats([ok, bad], schema), undefined, String(bad));
  }
  assert.equal(mergeStats([], schema), undefined);
});

Deno.test("optimize rewrites our own files without reading their rows: same rows, stats equal the rows' stats", async () => {
  const dir = await Deno.makeTempDir({ prefix: "merge-opt-" });
  try {
    const t = allTypesTable();
    const table = await createTable(dir, t.schema);
    for (let i = 0; i < 4; i++) await table.append(t.slice(i, i + 1));
    await table.append(t);
    const r = await optimize(dir, { targetSize: 64 * 1024 * 1024 });
    assert.equal(r.numFilesRemoved, 5);
    assert.equal(r.numFilesAdded, 1);
    assert.equal(r.numRows, 8);
    const storage = openStorage(dir);
    const snap = await loadSnapshot(storage);
    assert.equal(snap.files.length, 1);
    const rows: arrow.Table[] = [];
    for await (const part of scanFiles(storage, snap.files, snap.schema, [])) rows.push(part);
    const back = new arrow.Table(rows[0].schema, rows.flatMap((x) => x.batches));
    const whole = new arrow.Table(t.schema, [...t.batches, ...t.batches]);
    assert.deepEqual(canonRows(back), canonRows(whole));
    assert.equal(snap.files[0].stats, computeStats(whole, ALL_TYPES_SCHEMA));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("optimize reads the rows of a file another writer made (other column types) and keeps every value", async () => {
  const dir = await Deno.makeTempDir({ prefix: "merge-opt-foreign-" });
  try {
    const micros = [1_714_557_600_123_000n, -1_000n];
    const ours = new arrow.Table({
      id: arrow.vectorFromArray([1n, 2n], new arrow.Int64()),
      ts: timestamps(new arrow.TimestampMicrosecond("UTC"), micros),
    });
    const table = await createTable(dir, ours.schema);
    await table.append(ours);
    // A second file with the same column in milliseconds, as another writer may store it.
    const theirs = new arrow.Table({
      id: arrow.vectorFromArray([3n], new arrow.Int64()),
      ts: timestamps(new arrow.TimestampMillisecond("UTC"), [5_000n]),
    });
    const bytes = encodeParquet(theirs);
    const storage = openStorage(dir);
    await storage.put("foreign.parquet", bytes);
    const snap = await loadSnapshot(storage);
    await commit(storage, snap.version, [{
      add: {
        path: "foreign.parquet",
        partitionValues: {},
        size: bytes.length,
        modificationTime: Date.now(),
        dataChange: true,
        stats: '{"numRecords":1,"nullCount":{"id":0,"ts":0}}',
      },
    }], makeCommitInfo("WRITE", { mode: "Append" }));
    const r = await optimize(dir);
    assert.equal(r.numFilesRemoved, 2);
    assert.equal(r.numRows, 3);
    const after = await loadSnapshot(storage);
    const parts: arrow.Table[] = [];
    for await (const p of scanFiles(storage, after.files, after.schema, [])) parts.push(p);
    // The raw µs values (Vector.get gives milliseconds).
    const ts = parts.flatMap((p) =>
      p.getChild("ts")!.data.flatMap((
        d,
      ) => [...(d.values as BigInt64Array).subarray(d.offset, d.offset + d.length)])
    );
    assert.deepEqual(ts.sort((a, b) => (a < b ? -1 : 1)), [
      -1_000n,
      5_000_000n,
      1_714_557_600_123_000n,
    ]);
    // Stats computed from the rows (the foreign file had no bounds).
    assert.match(after.files[0].stats!, /"minValues":\{"id":1,"ts":"1969-12-31T23:59:59.999Z"\}/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
