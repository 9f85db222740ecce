/**
 * TableTail on real Delta tables written by lib/delta: the first poll reads the snapshot, later
 * polls only the files of the commits after the last one read (each row once), compaction is
 * skipped, a table that is missing, deleted or overwritten says so or is read again.
 */
import assert from "node:assert/strict";
import * as arrow from "apache-arrow";
import { commitsAfter } from "../../lib/delta/changes.ts";
import { optimize } from "../../lib/delta/optimize.ts";
import { append, createTable, overwrite } from "../../lib/delta/table.ts";
import { openStorage } from "../../lib/storage/mod.ts";
import { TableTail, type TailPoll } from "../../lib/dashboard/tail.ts";

const rows = (...ids: number[]) =>
  arrow.tableFromArrays({ id: BigInt64Array.from(ids.map(BigInt)) });

function ids(p: TailPoll): number[] {
  assert.ok(p.kind === "rows" || p.kind === "reset", `poll: ${p.kind}`);
  return p.tables.flatMap((t) => [...t.getChild("id")!.toArray()].map(Number)).sort((a, b) =>
    a - b
  );
}

Deno.test("tail: snapshot first, then only new commits; compaction skipped; missing, deleted, overwritten", async () => {
  const dir = await Deno.makeTempDir({ prefix: "tail-" });
  const loc = `${dir}/t`;
  try {
    const tail = new TableTail(loc, ["id"]);
    const missing = await tail.poll();
    assert.equal(missing.kind, "missing");
    assert.match((missing as { message: string }).message, /no Delta table at .*\/t yet/);

    await createTable(loc, rows(0).schema);
    await append(loc, rows(1, 2));
    await append(loc, rows(3));
    const first = await tail.poll();
    assert.equal(first.kind, "reset");
    assert.deepEqual(ids(first), [1, 2, 3]);
    assert.equal((first as { version: number }).version, 2);

    const idle = await tail.poll();
    assert.deepEqual([idle.kind, ids(idle)], ["rows", []]);

    await append(loc, rows(4));
    await append(loc, rows(5, 6));
    const next = await tail.poll();
    assert.equal(next.kind, "rows");
    assert.deepEqual(ids(next), [4, 5, 6]);
    assert.equal((next as { commits: number }).commits, 2);

    // Compaction rewrites the small files (dataChange false): nothing new to read.
    const before = (await commitsAfter(openStorage(loc), 4)).length;
    assert.equal(before, 0);
    await optimize(loc);
    const changes = await commitsAfter(openStorage(loc), 4);
    assert.ok(changes.length === 1 && changes[0].rearranged > 0 && changes[0].added.length === 0);
    await append(loc, rows(7));
    assert.deepEqual(ids(await tail.poll()), [7]);
    assert.equal(tail.status().rows, 7);

    // An overwrite removes rows (dataChange true): the table is read again from its snapshot.
    await overwrite(loc, rows(10, 11));
    const again = await tail.poll();
    assert.equal(again.kind, "reset");
    assert.deepEqual(ids(again), [10, 11]);

    // Deleted: missing again.
    await Deno.remove(loc, { recursive: true });
    assert.equal((await tail.poll()).kind, "missing");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("tail: a table without the columns asked for is an error line, not a throw", async () => {
  const dir = await Deno.makeTempDir({ prefix: "tail-cols-" });
  try {
    await createTable(`${dir}/t`, rows(0).schema);
    const p = await new TableTail(`${dir}/t`, ["reason"]).poll();
    assert.equal(p.kind, "error");
    assert.match((p as { message: string }).message, /column 'reason' is not in the table schema/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
