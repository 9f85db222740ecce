/**
 * Parquet encoding figures for the cleaned stream's rows (a script that prints figures, not a
 * test): CPU µs per order of each way from a batch of cleaned Arrow rows to Parquet bytes.
 *
 *   deno run -A tests/bench/encode_bench.ts [--orders 200000] [--batch 20000] [--rounds 5]
 *   deno run -A --v8-flags=--liftoff-only tests/bench/encode_bench.ts   (as the streams run)
 *
 * The orders are generated from retail_db (generate.ts), decoded by the cleaned stream's decoder
 * (lib/orders/decode.ts) into batches of `--batch` orders, and each way encodes every batch:
 * - `today`: `encodeParquet` as the Delta writer calls it (Snappy, dictionary off for
 *   near-unique columns, page statistics: arrow-rs's default);
 * - `ipc only`: the Arrow JS → IPC stream step alone (what the hand-over to wasm costs in JS);
 * - `chunk stats`: today's settings with column-chunk statistics only (no page index);
 * - `no stats`: today's settings without Parquet statistics (Delta keeps its own in `add.stats`);
 * - `uncompressed`: today's settings without Snappy;
 * - `hyparquet-writer`: the pure-JS writer (npm:hyparquet-writer), Snappy, with statistics,
 *   given the same columns (typed arrays for numbers, JS strings for text, as it takes them).
 *
 * Each way runs in a process of its own (one warm-up pass, then `--rounds` passes; median and
 * best printed), so neither pays for another's garbage; bytes per order are printed beside CPU.
 * Every way's output of the first batch is read back by parquet-wasm and compared, row count
 * and the first and last order id, so a way that writes a wrong file is seen.
 */
import { parseArgs } from "node:util";
import { cpuMicros, median, v8Flags } from "./_figures.ts";
import * as arrow from "apache-arrow";
import {
  Compression,
  EnabledStatistics,
  Table as WasmTable,
  writeParquet,
  WriterPropertiesBuilder,
} from "parquet-wasm";
import { parquetWriteBuffer } from "hyparquet-writer";
import { centsOf } from "../../lib/orders/money.ts";
import { decodeParquet, encodeParquet } from "../../lib/delta/parquet.ts";
import { OrderDecoder } from "../../lib/orders/decode.ts";
import { loadRetailDb, writeOrderFiles } from "../../lib/orders/generate.ts";
import { readLines } from "../../lib/orders/lines.ts";

const WAYS = [
  "today",
  "ipc only",
  "chunk stats",
  "no stats",
  "uncompressed",
  "hyparquet-writer",
] as const;
type Way = typeof WAYS[number];

/** parquet-wasm with today's writer settings changed by `tune`. */
function wasmWith(t: arrow.Table, tune: (b: WriterPropertiesBuilder) => WriterPropertiesBuilder) {
  let b = new WriterPropertiesBuilder().setCompression(Compression.SNAPPY);
  for (const name of ["order_id", "item_id", "kafka_offset", "kafka_timestamp", "ingested_at"]) {
    b = b.setColumnDictionaryEnabled(name, false);
  }
  const wasm = WasmTable.fromIPCStream(arrow.tableToIPC(t, "stream"));
  return writeParquet(wasm, tune(b).build());
}

/** The columns as hyparquet-writer takes them. */
function hyparquet(t: arrow.Table): Uint8Array {
  const columnData = t.schema.fields.map((f, i) => {
    const v = t.getChildAt(i)!;
    const id = f.type.typeId;
    if (id === arrow.Type.Utf8) {
      return { name: f.name, data: v.toArray() as unknown as string[], type: "STRING" as const };
    }
    if (id === arrow.Type.Float) {
      return { name: f.name, data: v.toArray() as Float64Array, type: "DOUBLE" as const };
    }
    if (id === arrow.Type.Decimal) {
      // Money, decimal(12,2): its unscaled cents as INT64, the physical type of such a decimal.
      const data = BigInt64Array.from(centsOf(v), (c) => BigInt(c));
      return { name: f.name, data, type: "INT64" as const };
    }
    if (id === arrow.Type.Int && (f.type as arrow.Int).bitWidth === 32) {
      return { name: f.name, data: v.toArray() as Int32Array, type: "INT32" as const };
    }
    return { name: f.name, data: v.toArray() as BigInt64Array, type: "INT64" as const };
  });
  return new Uint8Array(
    parquetWriteBuffer({ columnData, rowGroupSize: 128 * 1024, createdBy: "encode_bench" }),
  );
}

function encode(way: Way, t: arrow.Table): Uint8Array {
  switch (way) {
    case "today":
      return encodeParquet(t);
    case "ipc only":
      return arrow.tableToIPC(t, "stream");
    case "chunk stats":
      return wasmWith(t, (b) => b.setStatisticsEnabled(EnabledStatistics.Chunk));
    case "no stats":
      return wasmWith(t, (b) => b.setStatisticsEnabled(EnabledStatistics.None));
    case "uncompressed":
      return wasmWith(t, (b) => b.setCompression(Compression.UNCOMPRESSED));
    case "hyparquet-writer":
      return hyparquet(t);
  }
}

async function child(way: Way, file: string, batch: number, rounds: number): Promise<void> {
  const decoder = new OrderDecoder(Date.now());
  const batches: arrow.Table[] = [];
  let orders = 0;
  let offset = 0;
  for await (const l of readLines([file])) {
    decoder.decode(l.bytes, 0, String(offset++), 1_765_000_000_000 + offset);
    if (decoder.orders >= batch) {
      orders += decoder.orders;
      batches.push(new arrow.Table([decoder.take()]));
    }
  }
  if (decoder.orders > 0) {
    orders += decoder.orders;
    batches.push(new arrow.Table([decoder.take()]));
  }
  // Checked once: the first batch read back.
  let check = "";
  if (way !== "ipc only") {
    const back = decodeParquet(encode(way, batches[0]));
    const ids = back.getChild("order_id")!;
    const want = batches[0].getChild("order_id")!;
    const same = back.numRows === batches[0].numRows && ids.get(0) === want.get(0) &&
      ids.get(back.numRows - 1) === want.get(want.length - 1);
    check = same ? "read back: same rows" : "read back: DIFFERENT";
  }
  let bytes = 0;
  for (const t of batches) bytes += encode(way, t).length; // warm-up
  const perOrder: number[] = [];
  for (let r = 0; r < rounds; r++) {
    const t0 = cpuMicros();
    for (const t of batches) encode(way, t);
    perOrder.push((cpuMicros() - t0) / orders);
  }
  const rows = batches.reduce((n, t) => n + t.numRows, 0);
  console.log(JSON.stringify({ way, orders, rows, bytes, perOrder, check }));
}

async function main(): Promise<void> {
  const { values: flags } = parseArgs({
    args: Deno.args,
    options: {
      orders: { type: "string", default: "200000" },
      batch: { type: "string", default: "20000" },
      rounds: { type: "string", default: "5" },
      ways: { type: "string", default: WAYS.join(",") },
      file: { type: "string" },
      child: { type: "string" },
      "retail-db": { type: "string", default: "../shared/data/retail_db" },
    },
  });
  const rounds = Number(flags.rounds);
  const batch = Number(flags.batch);
  if (flags.child !== undefined) {
    return await child(flags.child as Way, flags.file!, batch, rounds);
  }
  const dir = await Deno.makeTempDir({ prefix: "encode_bench_" });
  try {
    const db = await loadRetailDb(flags["retail-db"]!);
    const file = flags.file ?? (await writeOrderFiles(db, dir, Number(flags.orders), 1)).files[0];
    const v8 = v8Flags();
    console.log(
      `encode_bench: ${file}, batches of ${batch} orders, ${rounds} rounds each, ` +
        `V8 flags: ${v8 ?? "default"}`,
    );
    console.log("way                 µs/order median  best   bytes/order  check");
    for (const way of flags.ways!.split(",") as Way[]) {
      const out = await new Deno.Command(Deno.execPath(), {
        args: [
          "run",
          "-A",
          ...(v8 === undefined ? [] : [`--v8-flags=${v8}`]),
          new URL(import.meta.url).pathname,
          "--child",
          way,
          "--file",
          file,
          "--batch",
          String(batch),
          "--rounds",
          String(rounds),
        ],
        stderr: "inherit",
      }).output();
      const line = new TextDecoder().decode(out.stdout).trim().split("\n").pop() ?? "";
      if (!out.success || !line.startsWith("{")) {
        console.log(`${way.padEnd(20)}failed`);
        continue;
      }
      const r = JSON.parse(line) as {
        orders: number;
        bytes: number;
        perOrder: number[];
        check: string;
      };
      console.log(
        `${way.padEnd(20)}${median(r.perOrder).toFixed(2).padStart(15)}  ${
          Math.min(...r.perOrder).toFixed(2).padStart(5)
        }  ${(r.bytes / r.orders).toFixed(1).padStart(11)}  ${r.check}`,
      );
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

if (import.meta.main) await main();
