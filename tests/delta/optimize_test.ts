import assert from "node:assert/strict";
import { join } from "node:path";
import * as arrow from "apache-arrow";
import { readCommit } from "../../lib/delta/log.ts";
import { optimize, planBins } from "../../lib/delta/optimize.ts";
import type { AddAction } from "../../lib/delta/actions.ts";
import { append, createTable, read, snapshot } from "../../lib/delta/table.ts";
import { canonRows, sortRows, stableJson } from "../support/canon.ts";
import { column, strings } from "../support/delta_fixtures.ts";
import { deltalakeAvailable, pythonPath, REPO_ROOT } from "../support/python.ts";

const SCHEMA = new arrow.Schema([
  new arrow.Field("id", new arrow.Int64(), true),
  new arrow.Field("city", new arrow.Utf8(), true),
  new arrow.Field("amount", new arrow.Float64(), true),
]);

function batch(ids: number[], city: string | null): arrow.Table {
  return new arrow.Table(SCHEMA, [
    new arrow.RecordBatch(
      SCHEMA,
      arrow.makeData({
        type: new arrow.Struct(SCHEMA.fields),
        length: ids.length,
        nullCount: 0,
        children: [
          column(new arrow.Int64(), ids.map(BigInt), BigInt64Array),
          strings(ids.map(() => city)),
          column(new arrow.Float64(), ids.map((i) => (i % 7 === 0 ? null : i * 1.5)), Float64Array),
        ],
      }),
    ),
  ]);
}

async function withTable(fn: (dir: string) => Promise<void>) {
  const dir = await Deno.makeTempDir();
  try {
    await createTable(dir, SCHEMA, { partitionColumns: ["city"] });
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("optimize compacts each partition's small files with dataChange=false and keeps every row", async () => {
  await withTable(async (dir) => {
    for (let k = 0; k < 5; k++) {
      await append(dir, batch([k * 10, k * 10 + 1, k * 10 + 2], "a b"));
      await append(dir, batch([100 + k], null));
    }
    const before = await snapshot(dir);
    assert.equal(before.files.length, 10);
    const rowsBefore = canonRows(await read(dir));
    const r = await optimize(dir);
    assert.equal(r.version, before.version + 1);
    assert.equal(r.numFilesRemoved, 10);
    assert.equal(r.numFilesAdded, 2);
    assert.equal(r.numPartitionsOptimized, 2);
    assert.equal(r.numRows, 20);
    const after = await snapshot(dir);
    assert.equal(after.files.length, 2);
    assert.deepEqual(canonRows(await read(dir)), rowsBefore);
    // New files carry stats that count every row.
    const counts = after.files.map((f) => JSON.parse(f.stats!).numRecords).sort((a, b) => a - b);
    assert.deepEqual(counts, [5, 15]);
    const actions = await readCommit(after.storage, r.version!);
    const info = (actions.find((a) => "commitInfo" in a) as Record<string, Record<string, unknown>>)
      .commitInfo;
    assert.equal(info.operation, "OPTIMIZE");
    assert.equal(info.isBlindAppend, false);
    for (const v of Object.values(info.operationMetrics as object)) {
      assert.equal(typeof v, "string");
    }
    for (const v of Object.values(info.operationParameters as object)) {
      assert.equal(typeof v, "string");
    }
    const data = actions.filter((a) => "add" in a || "remove" in a);
    assert.equal(data.length, 12);
    for (const a of data) {
      const x = (a as Record<string, { dataChange: boolean }>)["add" in a ? "add" : "remove"];
      assert.equal(x.dataChange, false);
    }
    // Nothing left to compact: no commit.
    const again = await optimize(dir);
    assert.equal(again.version, undefined);
    assert.equal((await snapshot(dir)).version, after.version);
  });
});

Deno.test("planBins packs small files per partition up to the target and skips lone files", () => {
  const f = (path: string, size: number, city: string | null): AddAction => ({
    path,
    size,
    partitionValues: { city },
    modificationTime: 0,
    dataChange: true,
  });
  const files = [
    f("a1", 10, "a"),
    f("a2", 10, "a"),
    f("a3", 10, "a"),
    f("a4", 100, "a"),
    f("b1", 10, "b"),
    f("n1", 5, null),
    f("n2", 5, null),
  ];
  const bins = planBins(files, ["city"], 25);
  assert.deepEqual(bins.map((b) => b.map((x) => x.path)), [["a1", "a2"], ["n1", "n2"]]);
  const big = planBins(files, ["city"], 1000);
  assert.deepEqual(big.map((b) => b.map((x) => x.path).sort()), [["a1", "a2", "a3", "a4"], [
    "n1",
    "n2",
  ]]);
});

Deno.test({
  name: "delta-rs reads the compacted table with the same rows",
  ignore: !(await deltalakeAvailable().catch(() => false)),
  async fn() {
    await withTable(async (dir) => {
      for (let k = 0; k < 3; k++) await append(dir, batch([k, k + 50], k % 2 ? "x" : "y"));
      const r = await optimize(dir);
      assert.ok(r.version !== undefined);
      const out = await new Deno.Command(pythonPath(), {
        args: [join(REPO_ROOT, "tests", "interop", "deltalake_dump.py"), dir, String(r.version)],
        stdout: "piped",
      }).output();
      const v = JSON.parse(new TextDecoder().decode(out.stdout)).versions[0];
      assert.equal(v.error, undefined, v.error);
      assert.equal(v.files.length, (await snapshot(dir)).files.length);
      assert.deepEqual(
        sortRows(v.rows).map(stableJson),
        canonRows(await read(dir)).map(stableJson),
      );
    });
  },
});
