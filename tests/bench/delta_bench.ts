/**
 * Delta write/read figures. Full run (prints figures):
 *   deno run -A tests/bench/delta_bench.ts [--rows 1000000] [--commits 1000]
 * Under `deno bench` only small versions run (a 20k-row append, a 100-commit snapshot load).
 */
import * as arrow from "apache-arrow";
import { parseArgs } from "node:util";
import { createTable, snapshot } from "../../lib/delta/mod.ts";

/** Synthesize `n` flattened orders_cleaned rows. */
function ordersCleaned(n: number, start = 0): arrow.Table {
  const long = (f: (i: number) => number) => {
    const a = new BigInt64Array(n);
    for (let i = 0; i < n; i++) a[i] = BigInt(f(start + i));
    return arrow.makeVector(a);
  };
  const dbl = (f: (i: number) => number) => {
    const a = new Float64Array(n);
    for (let i = 0; i < n; i++) a[i] = f(start + i);
    return arrow.makeVector(a);
  };
  // Strings built straight into Utf8 buffers (cheap, so RSS figures reflect the writer).
  const enc = new TextEncoder();
  const str = (f: (i: number) => string) => {
    const offsets = new Int32Array(n + 1);
    const parts: Uint8Array[] = [];
    const cache = new Map<string, Uint8Array>();
    let len = 0;
    for (let i = 0; i < n; i++) {
      const s = f(start + i);
      let b = cache.get(s);
      if (!b) cache.set(s, b = enc.encode(s));
      parts.push(b);
      len += b.length;
      offsets[i + 1] = len;
    }
    const data = new Uint8Array(len);
    for (let i = 0; i < n; i++) data.set(parts[i], offsets[i]);
    return arrow.makeVector(
      arrow.makeData({
        type: new arrow.Utf8(),
        length: n,
        nullCount: 0,
        valueOffsets: offsets,
        data,
      }),
    );
  };
  const first = ["Mary", "John", "Ana", "Wei", "Olu", "Priya", "Lars", "Sofia"];
  const last = ["Smith", "Garcia", "Chen", "Okafor", "Patel", "Berg", "Rossi"];
  const cities = ["Chicago", "Brooklyn", "Caguas", "San Jose", "Houston", "Denver"];
  const states = ["IL", "NY", "PR", "CA", "TX", "CO"];
  return new arrow.Table({
    order_id: long((i) => Math.floor(i / 3)),
    customer_id: long((i) => (i * 7919) % 12435),
    customer_fname: str((i) => first[i % first.length]),
    customer_lname: str((i) => last[(i >> 3) % last.length]),
    city: str((i) => cities[i % cities.length]),
    state: str((i) => states[i % states.length]),
    pincode: long((i) => 60000 + (i % 900)),
    item_id: long((i) => i),
    product_id: long((i) => (i * 31) % 1345),
    quantity: long((i) => 1 + (i % 5)),
    price: dbl((i) => ((i * 13) % 50000) / 100),
    subtotal: dbl((i) => (((i * 13) % 50000) / 100) * (1 + (i % 5))),
  });
}

/** Reset the kernel's peak-RSS counter (Linux), so the next figure covers only what follows. */
function resetPeakRss(): void {
  try {
    Deno.writeTextFileSync("/proc/self/clear_refs", "5");
  } catch { /* not Linux, or not allowed: the figure then includes earlier peaks */ }
}

function peakRssMiB(): number {
  try {
    const m = /VmHWM:\s+(\d+) kB/.exec(Deno.readTextFileSync("/proc/self/status"));
    if (m) return Number(m[1]) / 1024;
  } catch { /* not Linux */ }
  return Deno.memoryUsage().rss / 1024 / 1024;
}

async function dirBytes(dir: string): Promise<{ data: number; log: number }> {
  let data = 0;
  let log = 0;
  const walk = async (d: string, inLog: boolean) => {
    for await (const e of Deno.readDir(d)) {
      const p = `${d}/${e.name}`;
      if (e.isDirectory) await walk(p, inLog || e.name === "_delta_log");
      else {
        const s = (await Deno.stat(p)).size;
        if (inLog) log += s;
        else data += s;
      }
    }
  };
  await walk(dir, false);
  return { data, log };
}

async function timeLoads(
  dir: string,
  times: number,
): Promise<{ ms: number; version: number; cp?: number }> {
  let best = Infinity;
  let version = -1;
  let cp: number | undefined;
  for (let i = 0; i < times; i++) {
    const t0 = performance.now();
    const s = await snapshot(dir);
    best = Math.min(best, performance.now() - t0);
    version = s.version;
    cp = s.checkpointVersion;
  }
  return { ms: best, version, cp };
}

async function buildCommits(dir: string, commits: number, interval: number) {
  const t = await createTable(dir, ordersCleaned(0).schema, {
    configuration: { "delta.checkpointInterval": String(interval) },
  });
  for (let c = 1; c <= commits; c++) {
    await t.append(ordersCleaned(10, c * 10), { txns: { "bench-stream": c } });
  }
}

async function main() {
  const { values } = parseArgs({
    options: { rows: { type: "string" }, commits: { type: "string" } },
  });
  const rows = Number(values.rows ?? 1_000_000);
  const commits = Number(values.commits ?? 1000);
  const root = await Deno.makeTempDir({ prefix: "delta-bench-" });
  try {
    console.log(
      `# delta bench: ${rows} rows append, ${commits}-commit snapshot load (Deno ${Deno.version.deno})`,
    );
    let t0 = performance.now();
    if (rows > 0) {
      const data = ordersCleaned(rows);
      console.log(
        `synthesised ${rows} rows in ${((performance.now() - t0) / 1000).toFixed(2)} s ` +
          `(not part of the figures); peak RSS so far ${peakRssMiB().toFixed(0)} MiB`,
      );
      const tableDir = `${root}/orders_cleaned`;
      const table = await createTable(tableDir, data.schema);
      resetPeakRss();
      t0 = performance.now();
      const r = await table.append(data);
      const secs = (performance.now() - t0) / 1000;
      const bytes = await dirBytes(tableDir);
      console.log(
        `append: ${rows} rows in ${secs.toFixed(2)} s = ${
          Math.round(rows / secs).toLocaleString("en-US")
        } rows/s; ` +
          `${r.files.length} file(s); data ${(bytes.data / 1048576).toFixed(1)} MiB, log ${
            (bytes.log / 1024).toFixed(1)
          } KiB; ` +
          `peak RSS ${peakRssMiB().toFixed(0)} MiB`,
      );
      t0 = performance.now();
      const back = await table.read();
      const rs = (performance.now() - t0) / 1000;
      console.log(
        `read back: ${back.numRows} rows in ${rs.toFixed(2)} s = ${
          Math.round(back.numRows / rs).toLocaleString("en-US")
        } rows/s`,
      );
    }
    const withCp = `${root}/commits_cp`;
    t0 = performance.now();
    await buildCommits(withCp, commits, 10);
    console.log(
      `built ${commits} small commits (10 rows each, checkpoint every 10) in ${
        ((performance.now() - t0) / 1000).toFixed(1)
      } s`,
    );
    const noCp = `${root}/commits_nocp`;
    await Deno.mkdir(noCp);
    await Deno.mkdir(`${noCp}/_delta_log`);
    for await (const e of Deno.readDir(`${withCp}/_delta_log`)) {
      if (e.name.endsWith(".json")) {
        await Deno.copyFile(`${withCp}/_delta_log/${e.name}`, `${noCp}/_delta_log/${e.name}`);
      }
    }
    const a = await timeLoads(withCp, 5);
    const b = await timeLoads(noCp, 5);
    console.log(
      `snapshot load, ${a.version} commits, from checkpoint ${a.cp}: ${
        a.ms.toFixed(1)
      } ms (best of 5)`,
    );
    console.log(
      `snapshot load, ${b.version} commits, no checkpoint (JSON replay): ${
        b.ms.toFixed(1)
      } ms (best of 5)`,
    );
    console.log(`peak RSS overall ${peakRssMiB().toFixed(0)} MiB`);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
}

if (import.meta.main) {
  await main();
} else {
  const root = Deno.makeTempDirSync({ prefix: "delta-bench-" });
  const small = ordersCleaned(20_000);
  let n = 0;
  Deno.bench("append 20k orders_cleaned rows", { n: 3, warmup: 0 }, async () => {
    const t = await createTable(`${root}/a${n++}`, small.schema);
    await t.append(small);
  });
  let built = false;
  Deno.bench("snapshot load, 100 commits with checkpoints", { n: 5, warmup: 0 }, async () => {
    if (!built) {
      await buildCommits(`${root}/c`, 100, 10);
      built = true;
    }
    await snapshot(`${root}/c`);
  });
  globalThis.addEventListener("unload", () => Deno.removeSync(root, { recursive: true }));
}
