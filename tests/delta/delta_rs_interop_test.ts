/**
 * Tables written by our writer read back by delta-rs (`deltalake` in .cache/venv, `deno task py:setup`):
 * same version, rows, txn versions (exact int64), time travel, and our checkpoint alone suffices.
 */
import { openStorage } from "../../lib/storage/mod.ts";
import { deltaRsStorageOptions } from "../support/storage_backends.ts";
import assert from "node:assert/strict";
import { createTable } from "../../lib/delta/mod.ts";
import { deltalakeAvailable, pythonPath } from "../support/python.ts";
import { orders, ordersSchema, withTempDir } from "./_core_fixtures.ts";

const available = await deltalakeAvailable();

const SCRIPT = `
import json, sys
from deltalake import DeltaTable
path = sys.argv[1]
opts = json.loads(sys.argv[3]) if len(sys.argv) > 3 else None
dt = DeltaTable(path, storage_options=opts)
t = dt.to_pyarrow_table()
old = DeltaTable(path, version=int(sys.argv[2]), storage_options=opts)
print(json.dumps({
  "version": dt.version(),
  "ids": sorted(t.column("order_id").to_pylist()),
  "states": sorted(set(t.column("state").to_pylist())),
  "stream": dt.transaction_version("stream"),
  "big": str(dt.transaction_version("big")),
  "old_rows": old.to_pyarrow_table().num_rows,
  "ts_type": str(t.schema.field("order_ts").type),
}))
sys.stdout.flush()
import os
os._exit(0)  # delta-rs's runtime threads sometimes abort at interpreter exit (as in deltalake_dump.py)
`;

async function deltaRs(path: string, oldVersion: number) {
  const out = await new Deno.Command(pythonPath(), {
    args: [
      "-c",
      SCRIPT,
      path,
      String(oldVersion),
      JSON.stringify(deltaRsStorageOptions(path) ?? null),
    ],
  })
    .output();
  assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
  return JSON.parse(new TextDecoder().decode(out.stdout));
}

Deno.test({
  name: "delta-rs reads our partitioned table with checkpoint, overwrite and txns",
  ignore: !available,
  fn: () =>
    withTempDir(async (dir) => {
      const t = await createTable(dir, ordersSchema(), { partitionColumns: ["state"] });
      for (let i = 1; i <= 12; i++) {
        if (i === 4) await t.overwrite(orders(3, 1000));
        else await t.append(orders(3, i * 3), { txns: { stream: i, big: 9_007_199_254_740_993n } });
      }
      const ours = await t.read();
      const expectIds = [...ours.getChild("order_id")!].map(Number).sort((a, b) => a - b);
      const r = await deltaRs(dir, 2);
      assert.equal(r.version, 12);
      assert.deepEqual(r.ids, expectIds);
      assert.deepEqual(r.states, ["CA", "IL", "NY"]);
      assert.equal(r.stream, 12);
      assert.equal(r.big, "9007199254740993");
      assert.equal(r.old_rows, 6);
      assert.equal(r.ts_type, "timestamp[us, tz=UTC]");
      // Drop the JSON commits the checkpoint covers: delta-rs must rebuild from our checkpoint.
      for (let v = 0; v <= 9; v++) {
        await openStorage(dir).delete(`_delta_log/${String(v).padStart(20, "0")}.json`);
      }
      const r2 = await deltaRs(dir, 10);
      assert.equal(r2.version, 12);
      assert.deepEqual(r2.ids, expectIds);
      assert.equal(r2.stream, 12);
      assert.equal(r2.big, "9007199254740993");
    }),
});
