import assert from "node:assert/strict";
import type { Storage } from "../../lib/storage/storage.ts";
import { openStorage } from "../../lib/storage/mod.ts";
import {
  commit,
  CommitRetriesExhaustedError,
  ConcurrentModificationError,
  createTable,
  makeCommitInfo,
  snapshot,
  TxnConflictError,
} from "../../lib/delta/mod.ts";
import { ids, orders, ordersSchema, withTempDir } from "./_core_fixtures.ts";

Deno.test("txn actions: latest version per appId, txn-only commits, exact int64", () =>
  withTempDir(async (dir) => {
    const t = await createTable(dir, ordersSchema());
    await t.append(orders(3), { txns: { "app-0": 10, "app-1": 4 } });
    await t.commitTxns({ "app-0": 11 });
    await t.commitTxns([{ appId: "big", version: 9_007_199_254_740_993n }]);
    const snap = await t.snapshot();
    assert.equal(snap.version, 3);
    assert.equal(snap.txnVersion("app-0"), 11);
    assert.equal(snap.txnVersion("app-1"), 4);
    assert.equal(snap.txnVersion("big"), 9_007_199_254_740_993n);
    assert.equal(snap.txnVersion("none"), undefined);
    assert.equal(snap.files.length, 1, "txn-only commits add no files");
    const line =
      new TextDecoder().decode(await openStorage(dir).get("_delta_log/00000000000000000002.json"))
        .split("\n")[1];
    const txn = JSON.parse(line).txn;
    assert.equal(txn.appId, "app-0");
    assert.equal(typeof txn.lastUpdated, "number");
    assert.equal((await t.history())[0].numOutputRows, 0);
  }));

Deno.test("expectedTxns: matching versions commit; a mismatch is a TxnConflictError naming appId", () =>
  withTempDir(async (dir) => {
    const t = await createTable(dir, ordersSchema());
    await t.append(orders(2), { txns: { q: 1 }, expectedTxns: { q: undefined } });
    await t.append(orders(2, 2), { txns: { q: 2 }, expectedTxns: { q: 1 } });
    await assert.rejects(
      () => t.append(orders(2, 4), { txns: { q: 3 }, expectedTxns: { q: 1 } }),
      (e: unknown) =>
        e instanceof TxnConflictError && e.appId === "q" && e.expected === 1 && e.found === 2,
    );
    await assert.rejects(
      () => t.commitTxns({ other: 0 }, { expectedTxns: { other: 5 } }),
      (e: unknown) => e instanceof TxnConflictError && e.found === undefined,
    );
    const snap = await t.snapshot();
    assert.equal(snap.version, 2);
    assert.deepEqual(ids(await t.read()), [0, 1, 2, 3]);
  }));

/** Storage whose first putIfAbsent lets a rival commit land first (a lost race, deterministic). */
function racingStorage(inner: Storage, rival: () => Promise<void>): Storage {
  let raced = false;
  return {
    ...inner,
    async putIfAbsent(path, data) {
      if (!raced && path.includes("_delta_log/") && path.endsWith(".json")) {
        raced = true;
        await rival();
      }
      return inner.putIfAbsent(path, data);
    },
  };
}

Deno.test("lost race with a winning txn for our appId: TxnConflictError after the re-read", () =>
  withTempDir(async (dir) => {
    await createTable(dir, ordersSchema());
    const s = racingStorage(openStorage(dir), async () => {
      await commit(
        openStorage(dir),
        0,
        [{ txn: { appId: "q", version: 1, lastUpdated: 1 } }],
        makeCommitInfo("WRITE", {}),
      );
    });
    const snap = await snapshot(s);
    await assert.rejects(
      () =>
        commit(
          s,
          snap.version,
          [{ txn: { appId: "q", version: 1, lastUpdated: 2 } }],
          makeCommitInfo("WRITE", {}),
          {
            expectedTxns: { q: undefined },
            currentTxns: snap.txns,
          },
        ),
      (e: unknown) => e instanceof TxnConflictError && e.appId === "q" && e.found === 1,
    );
  }));

Deno.test("lost race with a winning txn for our appId and no expectedTxns: concurrent transaction", () =>
  withTempDir(async (dir) => {
    await createTable(dir, ordersSchema());
    const s = racingStorage(openStorage(dir), async () => {
      await commit(
        openStorage(dir),
        0,
        [{ txn: { appId: "q", version: 1, lastUpdated: 1 } }],
        makeCommitInfo("WRITE", {}),
      );
    });
    await assert.rejects(
      () =>
        commit(
          s,
          0,
          [{ txn: { appId: "q", version: 2, lastUpdated: 2 } }],
          makeCommitInfo("WRITE", {}),
        ),
      (e: unknown) => e instanceof ConcurrentModificationError && /appId 'q'/.test(e.message),
    );
  }));

Deno.test("blind appends retry past a winner; a metadata change conflicts", () =>
  withTempDir(async (dir) => {
    const t = await createTable(dir, ordersSchema());
    const s = racingStorage(openStorage(dir), async () => {
      await t.append(orders(1, 100));
    });
    const add = {
      path: "x.parquet",
      partitionValues: {},
      size: 1,
      modificationTime: 1,
      dataChange: true,
    };
    const r = await commit(s, 0, [{ add }], makeCommitInfo("WRITE", { mode: "Append" }), {
      baseDelayMs: 1,
    });
    assert.equal(r.version, 2);
    assert.equal(r.attempts, 2);
    const snap = await t.snapshot();
    const md = { ...snap.metadata, configuration: { "delta.appendOnly": "true" } };
    const s2 = racingStorage(openStorage(dir), async () => {
      await commit(
        openStorage(dir),
        2,
        [{ metaData: md }],
        makeCommitInfo("SET TBLPROPERTIES", {}),
      );
    });
    await assert.rejects(
      () => commit(s2, 2, [{ add: { ...add, path: "y.parquet" } }], makeCommitInfo("WRITE", {})),
      (e: unknown) => e instanceof ConcurrentModificationError && /metadata/.test(e.message),
    );
  }));

Deno.test("overwrite conflicts with a concurrent append and with a concurrent delete", () =>
  withTempDir(async (dir) => {
    const t = await createTable(dir, ordersSchema());
    await t.append(orders(5));
    const snap = await t.snapshot();
    const removes = snap.files.map((f) => ({
      remove: { path: f.path, deletionTimestamp: 1, dataChange: true },
    }));
    const s = racingStorage(openStorage(dir), async () => {
      await t.append(orders(1, 50));
    });
    await assert.rejects(
      () =>
        commit(s, snap.version, removes, makeCommitInfo("WRITE", { mode: "Overwrite" }), {
          readsWholeTable: true,
        }),
      (e: unknown) => e instanceof ConcurrentModificationError && /overwrit/.test(e.message),
    );
    const snap2 = await t.snapshot();
    const removes2 = snap2.files.map((f) => ({
      remove: { path: f.path, deletionTimestamp: 1, dataChange: false },
    }));
    const s2 = racingStorage(openStorage(dir), async () => {
      await t.overwrite(orders(1, 60));
    });
    await assert.rejects(
      () => commit(s2, snap2.version, removes2, makeCommitInfo("OPTIMIZE", {})),
      (e: unknown) =>
        e instanceof ConcurrentModificationError && /concurrent delete/.test(e.message),
    );
  }));

Deno.test("ambiguous put-if-absent: the version exists with our txnId, so the commit succeeded", () =>
  withTempDir(async (dir) => {
    await createTable(dir, ordersSchema());
    const inner = openStorage(dir);
    const s: Storage = {
      ...inner,
      async putIfAbsent(path, data) {
        await inner.putIfAbsent(path, data); // lands, but the response is "lost"
        return false;
      },
    };
    const r = await commit(
      s,
      0,
      [{ txn: { appId: "a", version: 1, lastUpdated: 1 } }],
      makeCommitInfo("WRITE", {}),
    );
    assert.equal(r.version, 1);
    assert.equal((await snapshot(dir)).version, 1, "exactly one commit written");
  }));

Deno.test("gives up after maxAttempts with a clear error", () =>
  withTempDir(async (dir) => {
    await createTable(dir, ordersSchema());
    const inner = openStorage(dir);
    let n = 0;
    const s: Storage = {
      ...inner,
      async putIfAbsent(path, data) {
        // Before each attempt a rival blind append takes the version.
        const v = Number(path.match(/(\d{20})\.json$/)![1]);
        await commit(inner, v - 1, [], makeCommitInfo("WRITE", { rival: String(n++) }));
        return inner.putIfAbsent(path, data);
      },
    };
    await assert.rejects(
      () => commit(s, 0, [], makeCommitInfo("WRITE", {}), { maxAttempts: 3, baseDelayMs: 1 }),
      (e: unknown) => e instanceof CommitRetriesExhaustedError && /3 attempts/.test(e.message),
    );
    assert.equal(n, 3);
  }));

Deno.test("concurrent in-process appends: contiguous versions, every row once", () =>
  withTempDir(async (dir) => {
    const t = await createTable(dir, ordersSchema());
    const results = await Promise.all(
      Array.from({ length: 8 }, (_, i) => t.append(orders(10, i * 10), { checkpoint: false })),
    );
    assert.deepEqual(results.map((r) => r.version).sort((a, b) => a - b), [1, 2, 3, 4, 5, 6, 7, 8]);
    assert.deepEqual(ids(await t.read()), Array.from({ length: 80 }, (_, i) => i));
  }));

Deno.test("several processes appending to one table at once: contiguous versions, every row once", () =>
  withTempDir(async (dir) => {
    const tableDir = `${dir}/t`;
    const scripts = await Deno.makeTempDir();
    await createTable(tableDir, ordersSchema());
    const script = `${scripts}/writer.ts`;
    const lib = new URL("../../lib/delta/mod.ts", import.meta.url).href;
    const helpers = new URL("./_core_fixtures.ts", import.meta.url).href;
    await Deno.writeTextFile(
      script,
      `import { append } from ${JSON.stringify(lib)};
       import { orders } from ${JSON.stringify(helpers)};
       const [table, proc, batches] = [Deno.args[0], Number(Deno.args[1]), Number(Deno.args[2])];
       const versions = [];
       for (let b = 0; b < batches; b++) {
         const r = await append(table, orders(5, (proc * batches + b) * 5), {
           txns: { ["writer-" + proc]: b }, expectedTxns: { ["writer-" + proc]: b === 0 ? undefined : b - 1 },
         });
         versions.push(r.version);
       }
       console.log(JSON.stringify(versions));`,
    );
    const procs = 4;
    const batches = 6;
    const outs = await Promise.all(
      Array.from({ length: procs }, (_, p) =>
        new Deno.Command(Deno.execPath(), {
          args: [
            "run",
            "-A",
            "--config",
            new URL("../../deno.json", import.meta.url).pathname,
            script,
            tableDir,
            String(p),
            String(batches),
          ],
        }).output()),
    );
    const versions: number[] = [];
    for (const o of outs) {
      assert.equal(o.code, 0, new TextDecoder().decode(o.stderr));
      versions.push(...JSON.parse(new TextDecoder().decode(o.stdout)));
    }
    const n = procs * batches;
    assert.deepEqual(versions.sort((a, b) => a - b), Array.from({ length: n }, (_, i) => i + 1));
    const t = await snapshot(tableDir);
    assert.equal(t.version, n);
    for (let p = 0; p < procs; p++) assert.equal(t.txnVersion(`writer-${p}`), batches - 1);
    const { read } = await import("../../lib/delta/mod.ts");
    assert.deepEqual(ids(await read(tableDir)), Array.from({ length: n * 5 }, (_, i) => i));
    assert.equal(
      (await openStorage(tableDir).head("_delta_log/00000000000000000020.checkpoint.parquet")) !==
        undefined,
      true,
    );
    await Deno.remove(scripts, { recursive: true });
  }));
