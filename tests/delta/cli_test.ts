import { openStorage } from "../../lib/storage/mod.ts";
import { tempTableLocation } from "../support/storage_backends.ts";
import assert from "node:assert/strict";
import { join } from "node:path";
import * as arrow from "apache-arrow";
import { jsonValue, main, parseSize } from "../../lib/delta/cli.ts";
import { append, createTable } from "../../lib/delta/table.ts";
import { column, strings } from "../support/delta_fixtures.ts";
import { REPO_ROOT } from "../support/python.ts";

const SCHEMA = new arrow.Schema([
  new arrow.Field("id", new arrow.Int64(), true),
  new arrow.Field("name", new arrow.Utf8(), true),
  new arrow.Field("ts", new arrow.TimestampMicrosecond("UTC"), true),
]);

function rows(idList: bigint[], names: Array<string | null>, ts: bigint[]): arrow.Table {
  return new arrow.Table(SCHEMA, [
    new arrow.RecordBatch(
      SCHEMA,
      arrow.makeData({
        type: new arrow.Struct(SCHEMA.fields),
        length: idList.length,
        nullCount: 0,
        children: [
          column(new arrow.Int64(), idList, BigInt64Array),
          strings(names),
          column(new arrow.TimestampMicrosecond("UTC"), ts, BigInt64Array),
        ],
      }),
    ),
  ]);
}

async function run(args: string[]) {
  const out: string[] = [];
  const err: string[] = [];
  const code = await main(args, { out: (l) => out.push(l), err: (l) => err.push(l) });
  return { code, out, err };
}

async function withTable(fn: (dir: string) => Promise<void>) {
  const tmp = await tempTableLocation("cli");
  const dir = tmp.location;
  try {
    await createTable(dir, SCHEMA);
    await append(dir, rows([1n, 9007199254740993n], ["a", null], [1714557600123456n, 0n]));
    await append(dir, rows([3n], ["c"], [-1n]));
    await fn(dir);
  } finally {
    await tmp.cleanup();
  }
}

Deno.test("history prints one line per commit, newest first, with rows added", async () => {
  await withTable(async (dir) => {
    const r = await run(["history", dir]);
    assert.equal(r.code, 0, r.err.join("\n"));
    assert.equal(r.out.length, 3);
    assert.match(r.out[0], /^\s+2\s+\d{4}-\d\d-\d\dT[\d:.]+Z\s+WRITE\s+1 rows$/);
    assert.match(r.out[1], /^\s+1\s+.*WRITE\s+2 rows$/);
    assert.match(r.out[2], /^\s+0\s+.*CREATE TABLE/);
    const j = await run(["--", "history", dir, "--json", "--limit", "1"]);
    assert.equal(j.out.length, 1);
    assert.deepEqual(
      {
        ...JSON.parse(j.out[0]),
        timestamp: undefined,
        operationParameters: undefined,
        operationMetrics: undefined,
      },
      {
        version: 2,
        timestamp: undefined,
        operation: "WRITE",
        rowsAdded: 1,
        operationParameters: undefined,
        operationMetrics: undefined,
      },
    );
  });
});

Deno.test("show --json: one object per row, exact longs, ISO timestamps; --version time travels", async () => {
  await withTable(async (dir) => {
    const r = await run(["show", dir, "--json"]);
    assert.equal(r.code, 0, r.err.join("\n"));
    const got = r.out.map((l) => JSON.parse(l)).sort((a, b) =>
      String(a.id).localeCompare(String(b.id))
    );
    assert.deepEqual(got, [
      { id: 1, name: "a", ts: "2024-05-01T10:00:00.123456Z" },
      { id: 3, name: "c", ts: "1969-12-31T23:59:59.999999Z" },
      { id: "9007199254740993", name: null, ts: "1970-01-01T00:00:00.000000Z" },
    ]);
    const v1 = await run(["show", dir, "--version", "1", "--json", "--columns", "id"]);
    assert.deepEqual(v1.out.map((l) => JSON.parse(l)).map((o) => o.id).sort(), [
      1,
      "9007199254740993",
    ]);
    const h = (await run(["history", dir, "--json"])).out.map((l) => JSON.parse(l));
    const t1 = h.find((e) => e.version === 1).timestamp as string;
    const byTime = await run(["show", dir, "--timestamp", t1, "--json", "--columns", "id"]);
    assert.equal(byTime.code, 0, byTime.err.join("\n"));
    assert.deepEqual(byTime.out.map((l) => JSON.parse(l).id).sort(), [1, "9007199254740993"]);
    const both = await run(["show", dir, "--timestamp", t1, "--version", "1"]);
    assert.equal(both.code, 2);
    const lim = await run(["show", dir, "--limit", "1"]);
    assert.equal(lim.code, 0);
    assert.match(lim.out[0], /^id\s+\| name \| ts/);
    assert.equal(lim.out.at(-1), "(1 row shown, version 2)");
  });
});

Deno.test("optimize and vacuum commands", async () => {
  await withTable(async (dir) => {
    const o = await run(["optimize", dir, "--target-size", "64MiB"]);
    assert.equal(o.code, 0, o.err.join("\n"));
    assert.match(o.out[0], /^optimize: version 3: 2 files .* → 1 files .*, 3 rows/);
    const again = await run(["optimize", dir]);
    assert.match(again.out[0], /nothing to compact/);
    const v = await run(["vacuum", dir]);
    assert.equal(v.code, 0, v.err.join("\n"));
    assert.match(v.out.at(-1)!, /dry run, retention 168 h\): 0 files/);
    const refused = await run(["vacuum", dir, "--retain-hours", "0", "--no-dry-run"]);
    assert.equal(refused.code, 2);
    assert.match(refused.err[0], /RetentionTooShortError: .*--force/);
    const forced = await run(["vacuum", dir, "--retain-hours", "0", "--force", "--dry-run"]);
    assert.equal(forced.code, 0);
    assert.equal(forced.out.filter((l) => l.startsWith("would delete")).length, 2);
  });
});

Deno.test("errors are one line with exit code 2: missing table, damaged log, bad flags", async () => {
  const tmp = await tempTableLocation("cli");
  const dir = tmp.location;
  try {
    const missing = await run(["show", `${dir}/nope`]);
    assert.equal(missing.code, 2);
    assert.equal(missing.err.length, 1);
    assert.match(missing.err[0], /^delta show: TableNotFoundError: no Delta table at/);
    await openStorage(`${dir}/bad`).put(
      "_delta_log/00000000000000000000.json",
      new TextEncoder().encode('{"protocol":{"minRe'),
    );
    const bad = await run(["history", `${dir}/bad`]);
    assert.equal(bad.code, 2);
    assert.match(
      bad.err[0],
      /CorruptLogError: damaged Delta log file '_delta_log\/00000000000000000000.json'/,
    );
    const flag = await run(["show", dir, "--bogus"]);
    assert.equal(flag.code, 2);
    const cmd = await run(["frobnicate", dir]);
    assert.equal(cmd.code, 2);
    assert.match(cmd.err[0], /unknown command 'frobnicate'/);
    // Through the real entry point (the deno task), exit status 2.
    const deno = Deno.execPath();
    const p = await new Deno.Command(deno, {
      args: [
        "run",
        "-A",
        join(REPO_ROOT, "lib", "delta", "cli.ts"),
        "--",
        "history",
        `${dir}/nope`,
      ],
      stdout: "piped",
      stderr: "piped",
      cwd: REPO_ROOT,
    }).output();
    assert.equal(p.code, 2);
    assert.match(new TextDecoder().decode(p.stderr), /TableNotFoundError/);
  } finally {
    await tmp.cleanup();
  }
});

Deno.test("parseSize and jsonValue helpers", () => {
  assert.equal(parseSize("134217728"), 134217728);
  assert.equal(parseSize("128MiB"), 134217728);
  assert.equal(parseSize("1g"), 1024 ** 3);
  assert.throws(() => parseSize("lots"));
  const d = column(new arrow.Int64(), [-9007199254740993n, 5n, null], BigInt64Array);
  assert.deepEqual([0, 1, 2].map((i) => jsonValue(d, i)), ["-9007199254740993", 5, null]);
});
