import { openStorage } from "../../lib/storage/mod.ts";
import assert from "node:assert/strict";
import { CorruptLogError, createTable, read, snapshot } from "../../lib/delta/mod.ts";
import { orders, ordersSchema, withTempDir } from "./_core_fixtures.ts";

async function tableWithCommits(dir: string, n: number, interval = "10") {
  const t = await createTable(dir, ordersSchema(), {
    configuration: { "delta.checkpointInterval": interval },
  });
  for (let i = 0; i < n; i++) await t.append(orders(2, i * 2));
  return t;
}

function isCorrupt(file: string, pattern: RegExp) {
  return (e: unknown) =>
    e instanceof CorruptLogError && e.file === file && e.message.includes(file) &&
    pattern.test(e.message);
}

Deno.test("a truncated JSON line gives CorruptLogError naming the file", () =>
  withTempDir(async (dir) => {
    await tableWithCommits(dir, 3);
    const f = "_delta_log/00000000000000000002.json";
    const text = new TextDecoder().decode(await openStorage(dir).get(f));
    await openStorage(dir).put(
      f,
      new TextEncoder().encode(text.slice(0, Math.floor(text.length * 0.7))),
    );
    await assert.rejects(() => read(dir), isCorrupt(f, /line \d+: not valid JSON/));
    assert.equal((await snapshot(dir, { version: 1 })).version, 1, "versions before it still load");
  }));

Deno.test("a missing version (gap) gives CorruptLogError naming the missing file", () =>
  withTempDir(async (dir) => {
    await tableWithCommits(dir, 4);
    await openStorage(dir).delete("_delta_log/00000000000000000002.json");
    await assert.rejects(
      () => snapshot(dir),
      isCorrupt("_delta_log/00000000000000000002.json", /missing/),
    );
  }));

Deno.test("a checkpoint that does not parse is skipped while the commits before it are there; else CorruptLogError names it", () =>
  withTempDir(async (dir) => {
    await tableWithCommits(dir, 3, "2");
    const f = "_delta_log/00000000000000000002.checkpoint.parquet";
    const bytes = await openStorage(dir).get(f);
    await openStorage(dir).put(f, bytes.slice(0, bytes.length - 20));
    // As Spark does: an earlier start (here the commits from 0) replaces a damaged checkpoint.
    const s = await snapshot(dir);
    assert.equal(s.version, 3);
    assert.equal(s.checkpointVersion, undefined);
    assert.equal((await read(dir)).numRows, 6);
    // Without commit 0 there is nothing to fall back on.
    await openStorage(dir).delete("_delta_log/00000000000000000000.json");
    await assert.rejects(() => snapshot(dir), isCorrupt(f, /checkpoint cannot be read/));
    await openStorage(dir).put(f, new TextEncoder().encode("not parquet at all"));
    await assert.rejects(() => read(dir), isCorrupt(f, /checkpoint/));
  }));

Deno.test("_last_checkpoint pointing at nothing is ignored: the listing decides", () =>
  withTempDir(async (dir) => {
    await tableWithCommits(dir, 3, "2");
    await openStorage(dir).delete("_delta_log/00000000000000000002.checkpoint.parquet");
    const s = await snapshot(dir);
    assert.equal(s.version, 3);
    assert.equal(s.checkpointVersion, undefined);
    assert.equal((await read(dir)).numRows, 6);
  }));

Deno.test("an unparseable _last_checkpoint is ignored: replay finds the checkpoint by listing", () =>
  withTempDir(async (dir) => {
    await tableWithCommits(dir, 3, "2");
    await openStorage(dir).put(
      "_delta_log/_last_checkpoint",
      new TextEncoder().encode('{"version":2,"si'),
    );
    const s = await snapshot(dir);
    assert.equal(s.version, 3);
    assert.equal(s.checkpointVersion, 2);
    assert.equal((await read(dir)).numRows, 6);
  }));

Deno.test("a log without protocol/metaData gives CorruptLogError naming version 0", () =>
  withTempDir(async (dir) => {
    await tableWithCommits(dir, 1);
    await openStorage(dir).put(
      "_delta_log/00000000000000000000.json",
      new TextEncoder().encode('{"commitInfo":{}}\n'),
    );
    await assert.rejects(
      () => snapshot(dir),
      isCorrupt("_delta_log/00000000000000000000.json", /protocol/),
    );
  }));
