/**
 * Tables delta-rs writes with physical Arrow/Parquet types other than ours (large strings,
 * binaries and lists, views, dictionaries, fixed sizes, timestamps in s/ms/ns, decimal256, a
 * checkpoint of large strings and lists, a polars table) read by our reader with exact values,
 * compared with what delta-rs reads. Needs `.cache/venv` with deltalake and polars
 * (`deno task py:setup`); each test is ignored without what it needs.
 */
import assert from "node:assert/strict";
import { main as cli } from "../../lib/delta/cli.ts";
import { readCheckpoint } from "../../lib/delta/checkpoint.ts";
import { openStorage } from "../../lib/storage/mod.ts";
import { stableJson } from "../support/canon.ts";
import { deltalakeAvailable, pythonPath } from "../support/python.ts";
import { byId, deltaRsRows, ourRows, withTempDir, writeWithDeltaRs } from "./_deltalake.ts";

const available = await deltalakeAvailable().catch(() => false);
const polars = available &&
  (await new Deno.Command(pythonPath(), { args: ["-c", "import polars"] }).output()).code === 0;
if (available && !polars) {
  console.warn(
    "physical_types_test: no polars in .cache/venv (deno task py:setup); its test is ignored",
  );
}

const hex = (s: string) =>
  Array.from(new TextEncoder().encode(s), (b) => b.toString(16).padStart(2, "0")).join("");

function same(actual: unknown[], expected: unknown[], what: string) {
  assert.deepEqual(actual.map(stableJson), expected.map(stableJson), what);
}

Deno.test({
  name: "delta-rs table of large strings/binaries/lists, line items, dictionaries, maps, views",
  ignore: !available,
  fn: () =>
    withTempDir(async (dir) => {
      const w = await writeWithDeltaRs("large", dir);
      // One file in the large/view/dictionary layout, one in the plain layout.
      const layouts = w.fileSchemas!.map((s) => s.line_items + " | " + s.category + " | " + s.note)
        .sort();
      assert.deepEqual(layouts, [
        "large_list<item: struct<product_id: int64, product_name: large_string, quantity: int32, " +
        "price: double>> | dictionary<values=string, indices=int32, ordered=0> | string_view",
        "list<element: struct<product_id: int64, product_name: string, quantity: int32, " +
        "price: double>> | string | string",
      ]);
      const { snapshot, rows } = await ourRows(w.path);
      assert.equal(snapshot.version, 1);
      const row = (id: string) => ({
        id,
        name: "héllo wörld 東京",
        payload: "0001ff",
        tags: ["a", null, "ç"],
        line_items: [
          { product_id: "1001", product_name: "Chair", quantity: "2", price: 19.99 },
          { product_id: "1002", product_name: null, quantity: "1", price: 0.5 },
        ],
        category: "Furniture",
        city: "Chicago",
        attrs: [["k", "v"], ["é", null]],
        note: "a view value longer than twelve bytes",
        blob: "00" + hex("binary view value over 12 bytes"),
      });
      const nulls = (id: string) => ({
        id,
        name: null,
        payload: null,
        tags: null,
        line_items: [],
        category: null,
        city: "Chicago",
        attrs: null,
        note: "short",
        blob: "62",
      });
      const empties = (id: string) => ({
        id,
        name: "",
        payload: "",
        tags: [],
        line_items: null,
        category: "Furniture",
        city: null,
        attrs: [],
        note: null,
        blob: null,
      });
      const got = byId(rows);
      for (const [large, plain] of [["1", "11"], ["2", "12"], ["3", "13"]]) {
        const make = large === "1" ? row : large === "2" ? nulls : empties;
        assert.deepEqual(got.get(large), make(large), `row ${large} (large layout)`);
        assert.deepEqual(got.get(plain), make(plain), `row ${plain} (plain layout)`);
      }
      same(rows, await deltaRsRows(w.path), "our rows equal delta-rs's");
      // The CLI command of the issue (`deno task delta -- show`) prints the table.
      const out: string[] = [];
      const err: string[] = [];
      const code = await cli(["show", w.path], {
        out: (l) => out.push(l),
        err: (l) => err.push(l),
      });
      assert.equal(code, 0, err.join("\n"));
      assert.match(out.join("\n"), /héllo wörld 東京/);
      assert.match(out.join("\n"), /\(6 rows shown, version 1\)/);
    }),
});

Deno.test({
  name: "Parquet timestamps in s/ms/µs/ns (± zone), date64, fixed sizes, decimal256, dictionary",
  ignore: !available,
  fn: () =>
    withTempDir(async (dir) => {
      const w = await writeWithDeltaRs("units", dir);
      const file = w.fileSchemas![0];
      assert.equal(file.ts_ns, "timestamp[ns, tz=UTC]");
      assert.equal(file.ntz_ns, "timestamp[ns]");
      assert.equal(file.ts_ms, "timestamp[ms, tz=UTC]");
      assert.equal(file.ts_ny, "timestamp[ms, tz=America/New_York]");
      assert.equal(file.code, "fixed_size_binary[3]");
      assert.equal(file.pair, "fixed_size_list<element: int32>[2]");
      assert.equal(file.amount, "decimal256(12, 2)");
      const { snapshot, rows } = await ourRows(w.path);
      assert.deepEqual(snapshot.protocol.readerFeatures, ["timestampNtz"]);
      const got = byId(rows);
      assert.deepEqual(got.get("1"), {
        id: "1",
        ts_s: "1714557600000000",
        ts_ms: "1714557600123000",
        ts_us: "1714557600123456",
        ts_ns: "1714557600123456", // …123456789 ns floored to µs
        ts_ny: "1714557600123000", // an instant: the zone is only a label
        ntz_s: "1714557600000000",
        ntz_ms: "1714557600123000",
        ntz_ns: "1714557600123456",
        day: "2024-05-01",
        code: "000102",
        pair: ["1", "2"],
        amount: "1234567890.12",
        label: "x",
      });
      assert.deepEqual(got.get("2"), {
        id: "2",
        ts_s: "-1000000",
        ts_ms: "-1000",
        ts_us: "-1",
        ts_ns: "-1", // -1 ns is 1969-12-31T23:59:59.999999999: floored, one µs before the epoch
        ts_ny: "0",
        ntz_s: "-1000000",
        ntz_ms: "-1000",
        ntz_ns: "-1",
        day: "1969-12-31",
        code: "616263",
        pair: [null, "-3"],
        amount: "-0.05",
        label: null,
      });
      assert.deepEqual(got.get("3"), {
        id: "3",
        ts_s: null,
        ts_ms: null,
        ts_us: null,
        ts_ns: null,
        ts_ny: null,
        ntz_s: null,
        ntz_ms: null,
        ntz_ns: null,
        day: null,
        code: null,
        pair: null,
        amount: null,
        label: "x",
      });
      // delta-rs agrees except on -1 ns, which it truncates toward zero (to the epoch).
      const theirs = byId(await deltaRsRows(w.path));
      assert.deepEqual(theirs.get("2"), { ...got.get("2"), ts_ns: "0", ntz_ns: "0" });
      assert.deepEqual(theirs.get("1"), got.get("1"));
      assert.deepEqual(theirs.get("3"), got.get("3"));
    }),
});

Deno.test({
  name: "a checkpoint written with large_string, large_list and string_view columns loads",
  ignore: !available,
  fn: () =>
    withTempDir(async (dir) => {
      const w = await writeWithDeltaRs("checkpoint", dir);
      assert.match(
        w.checkpointSchema!.add,
        /^struct<path: large_string not null, partitionValues: map<large_string, large_string>/,
      );
      assert.match(
        w.checkpointSchema!.metaData,
        /partitionColumns: large_list<element: string_view/,
      );
      const actions = await readCheckpoint(openStorage(w.path), 2);
      const meta = actions.find((a) => "metaData" in a) as {
        metaData: { partitionColumns: string[] };
      };
      assert.deepEqual(meta.metaData.partitionColumns, ["state"]);
      const adds = actions.flatMap((a) =>
        "add" in a ? [(a as { add: { partitionValues: Record<string, string> } }).add] : []
      );
      assert.deepEqual(adds.map((a) => a.partitionValues.state).sort(), ["IL", "NY", "a b/c"]);
      const { snapshot, rows } = await ourRows(w.path);
      assert.equal(snapshot.version, 3);
      assert.equal(snapshot.checkpointVersion, 2, "read from the checkpoint (JSON 0–2 deleted)");
      assert.equal(String(snapshot.txnVersion("app")), "7");
      assert.equal(snapshot.files.length, 4);
      same(rows, [
        { id: "1", name: "n1", state: "IL" },
        { id: "2", name: "n2", state: "IL" },
        { id: "3", name: "n3", state: "NY" },
        { id: "4", name: "n4", state: "a b/c" },
        { id: "5", name: "n5", state: "IL" },
      ], "rows");
      same(rows, await deltaRsRows(w.path), "our rows equal delta-rs's");
    }),
});

Deno.test({
  name: "a polars-written table (write_delta: string views, large lists, ms/ns timestamps)",
  ignore: !polars,
  fn: () =>
    withTempDir(async (dir) => {
      const w = await writeWithDeltaRs("polars", dir);
      assert.match(w.fileSchemas![0].line_items, /^large_list</);
      const { rows } = await ourRows(w.path);
      same(rows, [
        {
          id: "1",
          name: "héllo 東京",
          payload: "0001",
          line_items: [{ product_id: "1001", product_name: "Chair", quantity: "2" }],
          ts_ms: "1714557600123000",
          ts_ns: "1714557600123456",
        },
        { id: "2", name: null, payload: null, line_items: [], ts_ms: null, ts_ns: null },
        // delta-rs casts polars' -1 ns to 0 µs when it writes the file.
        { id: "3", name: "", payload: "", line_items: null, ts_ms: "-1000", ts_ns: "0" },
      ], "rows");
      same(rows, await deltaRsRows(w.path), "our rows equal delta-rs's");
    }),
});
