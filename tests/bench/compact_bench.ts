/**
 * Compaction memory and CPU: builds an `orders_cleaned`-shaped table of many small files (one
 * per micro-batch of generated orders, flattened as the cleaned stream does), then runs
 * `lib/delta/cli.ts optimize` on a copy of it in a child process under
 * `/usr/bin/time -f '%e %U %S %M'`, and prints wall, CPU and peak RSS. Prints figures (a script,
 * not Deno.bench):
 *
 *   deno task bench:compact [-- --files 300 --orders-per-file 2000 --rounds 3 --other DIR]
 *
 * `--other DIR` is another checkout of this project (an older build): its optimize runs on its
 * own copy of the same table, alternating with this build's, for an A/B in one run. Each run
 * checks that the compacted table holds every row (row count from the commit's metrics).
 */
import { parseArgs } from "node:util";
import { join } from "node:path";
import { createTable } from "../../lib/delta/table.ts";
import { flattenOrders, type OrderRecord } from "../../lib/orders/flatten.ts";
import { parseOrder } from "../../lib/orders/validate.ts";
import { readLines } from "../../lib/orders/lines.ts";

const ROOT = new URL("../..", import.meta.url).pathname;
const { values } = parseArgs({
  args: Deno.args[0] === "--" ? Deno.args.slice(1) : Deno.args,
  options: {
    files: { type: "string", default: "300" },
    "orders-per-file": { type: "string", default: "2000" },
    rounds: { type: "string", default: "3" },
    other: { type: "string" },
  },
});
const files = Number(values.files);
const perFile = Number(values["orders-per-file"]);
const rounds = Number(values.rounds);

const work = await Deno.makeTempDir({ prefix: "compact-bench-" });
try {
  const data = join(work, "orders");
  const gen = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      "lib/orders/generate.ts",
      "--orders",
      String(files * perFile),
      "--out",
      data,
    ],
    cwd: ROOT,
    stdout: "null",
    stderr: "inherit",
  }).output();
  if (!gen.success) throw new Error("data generation failed");
  const source = join(work, "source");
  let table: Awaited<ReturnType<typeof createTable>> | undefined;
  let batch: OrderRecord[] = [];
  let offset = 0;
  let rows = 0;
  const names = [...Deno.readDirSync(data)].map((e) => join(data, e.name)).sort();
  for await (const line of readLines(names)) {
    const r = parseOrder(line.bytes);
    if (!r.ok) continue;
    batch.push({ order: r.order, partition: 0, offset: offset++, timestampMs: Date.now() });
    if (batch.length === perFile) {
      const t = flattenOrders(batch, Date.now());
      table ??= await createTable(source, t.schema);
      await table.append(t);
      rows += t.numRows;
      batch = [];
    }
  }
  const bytes = [...Deno.readDirSync(source)].filter((e) => e.name.endsWith(".parquet"))
    .reduce((n, e) => n + Deno.statSync(join(source, e.name)).size, 0);
  console.log(
    `table: ${files} files, ${rows.toLocaleString("en-US")} rows, ${
      (bytes / 2 ** 20).toFixed(1)
    } MiB of Parquet`,
  );

  const builds = [{ name: "this build", root: ROOT }];
  if (values.other) builds.push({ name: "other build", root: values.other });
  const results = new Map<string, { wall: number; cpu: number; rss: number }[]>();
  for (let round = 1; round <= rounds; round++) {
    for (const b of builds) {
      const copy = join(work, `copy-${round}-${b.name.replace(" ", "-")}`);
      await new Deno.Command("cp", { args: ["-r", source, copy] }).output();
      const timeFile = join(work, "time.txt");
      const o = await new Deno.Command("/usr/bin/time", {
        args: [
          "-f",
          "%e %U %S %M",
          "-o",
          timeFile,
          Deno.execPath(),
          "run",
          "-A",
          join(b.root, "lib/delta/cli.ts"),
          "optimize",
          copy,
        ],
        cwd: b.root,
        env: { DENO_NO_UPDATE_CHECK: "1" },
        stdout: "piped",
        stderr: "piped",
      }).output();
      const out = new TextDecoder().decode(o.stdout);
      if (!o.success || !/optimize: version/.test(out)) {
        throw new Error(`${b.name}: optimize failed\n${out}${new TextDecoder().decode(o.stderr)}`);
      }
      const [wall, user, sys, kb] = (await Deno.readTextFile(timeFile)).trim().split(/\s+/)
        .slice(-4).map(Number);
      const r = { wall, cpu: user + sys, rss: kb / 1024 };
      (results.get(b.name) ?? results.set(b.name, []).get(b.name)!).push(r);
      console.log(
        `round ${round}, ${b.name}: ${wall.toFixed(2)} s wall, ${
          r.cpu.toFixed(2)
        } s CPU, peak RSS ${r.rss.toFixed(0)} MiB (${out.trim().split("\n").at(-1)})`,
      );
      await Deno.remove(copy, { recursive: true });
    }
  }
  const median = (xs: number[]) => xs.sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  for (const [name, rs] of results) {
    console.log(
      `${name}: median ${median(rs.map((r) => r.cpu)).toFixed(2)} s CPU, peak RSS ${
        median(rs.map((r) => r.rss)).toFixed(0)
      } MiB over ${rs.length} runs`,
    );
  }
} finally {
  await Deno.remove(work, { recursive: true });
}
