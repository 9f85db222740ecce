// Storage faults under the cleaned stream: the lakehouse is a small tmpfs of its own, which
// becomes read-only (remount ro: root cannot write either, unlike chmod 0555) or full while the
// stream runs. The stream must stop with one clear error (exit 2), leave both tables readable at
// their last good version, and a rerun after the fault is fixed must complete exactly once.
// Needs root and tmpfs mounts (skipped otherwise) and the shared broker.
import assert from "node:assert/strict";
import { join } from "node:path";
import { snapshot } from "../../lib/delta/table.ts";
import { StorageError } from "../../lib/storage/errors.ts";
import type { Storage } from "../../lib/storage/storage.ts";
import { parseStreamOptions, startDeltaQuery, type TableSink } from "../../lib/engine/mod.ts";
import { cleanedSink } from "../../lib/orders/sinks.ts";
import { deleteTopics, testKafka } from "../support/kafka.ts";
import {
  baseArgs,
  freshTopic,
  produce,
  runNotebook,
  storedOffsets,
  tableRows,
} from "../support/stream.ts";
import { assertExactlyOnce, endsWithOneError, faultData, watchCleaned } from "./_support.ts";

async function sh(cmd: string[]): Promise<{ code: number; text: string }> {
  const out = await new Deno.Command(cmd[0], {
    args: cmd.slice(1),
    stdout: "piped",
    stderr: "piped",
  })
    .output();
  const dec = new TextDecoder();
  return { code: out.code, text: dec.decode(out.stdout) + dec.decode(out.stderr) };
}

/** True when this process can mount a tmpfs (root, with the capability). */
async function canMount(): Promise<boolean> {
  const dir = await Deno.makeTempDir({ prefix: "faults-probe-" });
  try {
    const m = await sh(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", dir]);
    if (m.code !== 0) return false;
    await sh(["umount", dir]);
    return true;
  } catch {
    return false;
  } finally {
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
}

const mountable = await canMount();

/**
 * Both tables agree with the offsets they hold: no row at or past its table's offset, and every
 * record below both offsets is in exactly one of the two tables.
 */
function assertConsistent(
  rows: Record<string, unknown>[],
  dl: Record<string, unknown>[],
  c: (number | undefined)[],
  d: (number | undefined)[],
) {
  const low = c.map((v, p) => Math.min(v ?? 0, d[p] ?? 0));
  const orders = new Set<string>();
  for (const x of rows) {
    const [p, o] = [Number(x.kafka_partition), Number(x.kafka_offset)];
    assert.ok(o < (c[p] ?? 0), `cleaned row ${p}:${o} past the stored offset ${c[p]}`);
    if (o < low[p]) orders.add(`${p}:${o}`);
  }
  let bad = 0;
  for (const x of dl) {
    const [p, o] = [Number(x.partition), Number(x.offset)];
    assert.ok(o < (d[p] ?? 0), `dead letter ${p}:${o} past the stored offset ${d[p]}`);
    if (o < low[p]) bad++;
  }
  assert.equal(orders.size + bad, low.reduce((a, b) => a + b, 0), "each record in one table");
}

async function scenario(
  name: string,
  sizeMb: number,
  fault: (lake: string) => Promise<void>,
  fix: (lake: string) => Promise<void>,
  expectError: RegExp,
) {
  const topic = await freshTopic("faults-storage", 3);
  const lake = await Deno.makeTempDir({ prefix: "faults-storage-" });
  const mounted = await sh(["mount", "-t", "tmpfs", "-o", `size=${sizeMb}m`, "tmpfs", lake]);
  assert.equal(mounted.code, 0, mounted.text);
  try {
    const data = await faultData(3000);
    await produce(topic, data.records);
    const cleaned = join(lake, "orders_cleaned");
    const dead = join(lake, "orders_dead_letters");
    const query = `faults_${name}`;
    const args = [
      ...baseArgs(topic),
      "--table",
      cleaned,
      "--dead-letters",
      dead,
      "--progress",
      "json",
      "--max-offsets-per-trigger",
      "150",
      "--trigger-interval",
      "500ms",
      "--query-name",
      query,
    ];
    const w = watchCleaned(args);
    const { error } = await endsWithOneError(w, () => fault(lake));
    assert.match(error, expectError);
    console.log(`${name}: ${error}`);

    // Readable at the last good version: the offsets both tables hold match their rows and
    // what the stream reported as committed.
    await fix(lake);
    const before = [(await snapshot(cleaned)).version, (await snapshot(dead)).version];
    const rows = await tableRows(cleaned);
    const dl = await tableRows(dead);
    const c = await storedOffsets(cleaned, query, topic, 3);
    const d = await storedOffsets(dead, query, topic, 3);
    assertConsistent(rows, dl, c, d);
    const held = c.reduce((n: number, v) => n + (v ?? 0), 0);
    assert.ok(held >= w.committed(), "every reported batch is in the table");
    assert.ok(held < data.records.length, "the fault interrupted the stream");
    console.log(
      `${name}: tables at versions ${before.join("/")}, ${w.committed()} records committed`,
    );

    const rerun = await runNotebook("cleaned", [...args, "--available-now"]);
    assert.equal(rerun.code, 0, rerun.stderr.slice(-3000));
    await assertExactlyOnce(cleaned, dead, data);
  } finally {
    await sh(["umount", "-l", lake]);
    await Deno.remove(lake, { recursive: true }).catch(() => {});
    await deleteTopics(testKafka(), [topic]);
  }
}

Deno.test({
  name:
    "storage fault (tmpfs remounted read-only mid-run): exit 2, tables readable, rerun exactly once",
  ignore: !mountable,
  fn: () =>
    scenario(
      "readonly",
      64,
      async (lake) => {
        const m = await sh(["mount", "-o", "remount,ro", lake]);
        assert.equal(m.code, 0, m.text);
      },
      async (lake) => {
        const m = await sh(["mount", "-o", "remount,rw", lake]);
        assert.equal(m.code, 0, m.text);
      },
      /^error: cannot write .* under .*: the file system is read-only; make the folder writable/,
    ),
});

Deno.test({
  name:
    "storage fault (disk full: tmpfs filled mid-run): exit 2, tables readable, rerun exactly once",
  ignore: !mountable,
  fn: () =>
    scenario(
      "diskfull",
      16,
      async (lake) => {
        // Fill what is left (dd stops at ENOSPC).
        await sh(["dd", "if=/dev/zero", `of=${join(lake, "filler")}`, "bs=64k"]);
      },
      async (lake) => {
        await Deno.remove(join(lake, "filler"));
      },
      /^error: cannot write .* under .*: the disk is full; make the folder writable \(and free some space\)/,
    ),
});

/** Storage whose writes under `_delta_log/` fail with EACCES while `readOnly()` says so. */
function readOnlyLog(inner: Storage, readOnly: () => boolean): Storage {
  const deny = (p: string) => {
    if (readOnly() && p.startsWith("_delta_log/")) {
      throw new StorageError(
        `storage operation on '${p}' under '${inner.url}' failed: PermissionDenied: ` +
          "Permission denied (os error 13)",
      );
    }
  };
  return {
    url: inner.url,
    get: (p) => inner.get(p),
    getRange: (p, s, e) => inner.getRange(p, s, e),
    head: (p) => inner.head(p),
    list: (p) => inner.list(p),
    delete: (p) => inner.delete(p),
    put: (p, d) => Promise.resolve().then(() => deny(p)).then(() => inner.put(p, d)),
    putIfAbsent: (p, d) =>
      Promise.resolve().then(() => deny(p)).then(() => inner.putIfAbsent(p, d)),
  };
}

Deno.test("storage fault (injected failing storage): dead letters' _delta_log read-only mid-run: clear error, tables readable, rerun exactly once", async () => {
  const topic = await freshTopic("faults-storage", 3);
  const lake = await Deno.makeTempDir({ prefix: "faults-storage-" });
  const cleaned = join(lake, "orders_cleaned");
  const dead = join(lake, "orders_dead_letters");
  const query = "faults_injected";
  try {
    const data = await faultData(3000);
    await produce(topic, data.records);
    const flags = {
      "max-offsets-per-trigger": "150",
      "trigger-interval": "200ms",
      "query-name": query,
      "session-timeout-ms": "6000",
    };
    const real = await cleanedSink(cleaned, dead);
    let readOnly = false;
    // Only the second table (dead letters) goes read-only: the first one commits, the second
    // fails, the worst place for a batch to stop.
    const sink: TableSink = {
      ...real,
      targets: real.targets.map((t, i) => ({
        name: t.name,
        table: i === 0
          ? t.table
          : { ...t.table, storage: readOnlyLog(t.table.storage, () => readOnly) },
      })),
    };
    const lines: string[] = [];
    let batches = 0;
    let committed = 0;
    const q = startDeltaQuery({
      kafka: testKafka(),
      topic,
      sink,
      options: parseStreamOptions(flags, query),
      log: (tag, m) => lines.push(`${tag} ${m}`),
      onProgress: (p) => {
        committed += p.numInputRows;
        if (++batches === 2) readOnly = true;
      },
    });
    const error = await q.done.then(() => undefined, (e) => e as Error);
    assert.ok(error instanceof StorageError, `failed with a StorageError, got ${error}`);
    assert.match(error.message, /_delta_log\/\d{20}\.json.*Permission denied/);
    assert.equal(error.message.split("\n").length, 1);
    assert.equal(
      lines.filter((l) => l.startsWith("retry")).length,
      0,
      "no retry of a storage error",
    );
    console.log(`injected: ${error.name}: ${error.message}`);

    // The cleaned table moved one batch past the dead letters; both are readable and agree with
    // the offsets they hold.
    const c = await storedOffsets(cleaned, query, topic, 3);
    const d = await storedOffsets(dead, query, topic, 3);
    assertConsistent(await tableRows(cleaned), await tableRows(dead), c, d);
    const sum = (xs: (number | undefined)[]) => xs.reduce((n: number, v) => n + (v ?? 0), 0);
    assert.equal(sum(d), committed, "dead letters at the last reported batch");
    assert.ok(sum(c) > sum(d), "cleaned one batch ahead");

    // Fixed: a rerun (the notebook, real storage) completes exactly once.
    const rerun = await runNotebook("cleaned", [
      ...baseArgs(topic),
      "--table",
      cleaned,
      "--dead-letters",
      dead,
      "--available-now",
      "--query-name",
      query,
    ]);
    assert.equal(rerun.code, 0, rerun.stderr.slice(-3000));
    await assertExactlyOnce(cleaned, dead, data);
  } finally {
    await Deno.remove(lake, { recursive: true }).catch(() => {});
    await deleteTopics(testKafka(), [topic]);
  }
});
