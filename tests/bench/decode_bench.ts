/**
 * Decoder figures (a script that prints figures, not a test): CPU µs per order of the cleaned
 * sink's two ways from record bytes to Arrow rows, over N generated orders (default 200,000,
 * the lines `deno task data:generate -- --orders N` writes):
 * - `parseOrder + flattenOrders`: the reference (JSON.parse + validation, then the flatten),
 *   flattened every 2,048 orders as the sink did;
 * - `OrderDecoder`: lib/orders/decode.ts, a batch taken every 2,048 orders as the sink does.
 *
 * CPU is `process.cpuUsage()` (user + system, GC included) around each pass. Each way runs in a
 * process of its own (with this process's V8 flags, so neither pays for the other's garbage):
 * one warm-up pass, then `--rounds` measured passes; the median and the best are printed. The
 * orders are written once to a temporary JSON-lines file (generate.ts's `writeOrderFiles`), or
 * read from `--file`. Run it under both V8 settings the project uses:
 *
 *   deno run -A tests/bench/decode_bench.ts [--orders 200000] [--rounds 7] [--file JSONL]
 *   deno run -A --v8-flags=--liftoff-only tests/bench/decode_bench.ts
 */
import { parseArgs } from "node:util";
import { cpuMicros, median, v8Flags } from "./_figures.ts";
import { type RecordBatch, Table } from "apache-arrow";
import { OrderDecoder } from "../../lib/orders/decode.ts";
import { cleanedSchema, flattenOrders, type OrderRecord } from "../../lib/orders/flatten.ts";
import { loadRetailDb, writeOrderFiles } from "../../lib/orders/generate.ts";
import { readLines } from "../../lib/orders/lines.ts";
import { parseOrder } from "../../lib/orders/validate.ts";

const BATCH = 2048;
const TIMESTAMP_MS = 1_765_000_000_000;

/** The reference: parseOrder per record, flattenOrders every BATCH orders. */
function reference(values: readonly Uint8Array[]): Table {
  const now = Date.now();
  const batches: RecordBatch[] = [];
  let good: OrderRecord[] = [];
  for (let i = 0; i < values.length; i++) {
    const r = parseOrder(values[i]);
    if (!r.ok) continue;
    good.push({ order: r.order, partition: 0, offset: String(i), timestampMs: TIMESTAMP_MS + i });
    if (good.length >= BATCH) {
      batches.push(...flattenOrders(good, now).batches);
      good = [];
    }
  }
  if (good.length > 0) batches.push(...flattenOrders(good, now).batches);
  return new Table(cleanedSchema, batches);
}

/** The decoder, a batch every BATCH orders. */
function decoded(values: readonly Uint8Array[], counts: { fellBack: number }): Table {
  const decoder = new OrderDecoder(Date.now());
  const batches: RecordBatch[] = [];
  for (let i = 0; i < values.length; i++) {
    decoder.decode(values[i], 0, String(i), TIMESTAMP_MS + i);
    if (decoder.orders >= BATCH) batches.push(decoder.take());
  }
  if (decoder.orders > 0) batches.push(decoder.take());
  counts.fellBack = decoder.fellBack;
  return new Table(cleanedSchema, batches);
}

type Way = "reference" | "decoder";

/** In a child process: one way, a warm-up pass, then `rounds` measured passes (µs per order). */
async function child(way: Way, file: string, rounds: number): Promise<void> {
  const values: Uint8Array[] = [];
  for await (const l of readLines([file])) values.push(l.bytes);
  const counts = { fellBack: 0 };
  const pass = () => way === "reference" ? reference(values) : decoded(values, counts);
  const rows = pass().numRows;
  const perOrder: number[] = [];
  for (let r = 0; r < rounds; r++) {
    const t0 = cpuMicros();
    pass();
    perOrder.push((cpuMicros() - t0) / values.length);
  }
  console.log(JSON.stringify({ way, orders: values.length, rows, perOrder, ...counts }));
}

async function main(): Promise<void> {
  const { values: flags } = parseArgs({
    args: Deno.args,
    options: {
      orders: { type: "string", default: "200000" },
      rounds: { type: "string", default: "7" },
      file: { type: "string" },
      child: { type: "string" },
      "retail-db": { type: "string", default: "../shared/data/retail_db" },
    },
  });
  const rounds = Number(flags.rounds);
  if (flags.child !== undefined) return await child(flags.child as Way, flags.file!, rounds);

  // The orders as JSON lines, the same lines `lib/orders/generate.ts --orders N --out DIR` writes.
  const dir = await Deno.makeTempDir({ prefix: "decode_bench_" });
  try {
    let file = flags.file;
    if (file === undefined) {
      const db = await loadRetailDb(flags["retail-db"]!);
      file = (await writeOrderFiles(db, dir, Number(flags.orders), 1)).files[0];
    }
    const v8 = v8Flags();
    console.log(`decode_bench: ${file}, V8 flags: ${v8 ?? "default"}, ${rounds} rounds each`);
    // Each way in a process of its own (same V8 flags), so neither pays for the other's garbage.
    const results: Record<
      string,
      { orders: number; rows: number; perOrder: number[]; fellBack: number }
    > = {};
    for (const way of ["reference", "decoder"] as const) {
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
          "--rounds",
          String(rounds),
        ],
        stdout: "piped",
        stderr: "inherit",
      }).output();
      if (!out.success) throw new Error(`the ${way} run failed`);
      results[way] = JSON.parse(new TextDecoder().decode(out.stdout).trim().split("\n").at(-1)!);
    }
    const ref = results.reference;
    const dec = results.decoder;
    if (ref.rows !== dec.rows) {
      throw new Error(`rows differ: reference ${ref.rows}, decoder ${dec.rows}`);
    }
    console.log(
      `${ref.orders} orders, ${ref.rows} rows; the decoder's scanner took ` +
        `${ref.orders - dec.fellBack} of them (${dec.fellBack} fell back to parseOrder)`,
    );
    const line = (name: string, xs: number[]) =>
      `${name.padEnd(28)} ${median(xs).toFixed(2).padStart(5)} µs CPU/order median, ` +
      `${Math.min(...xs).toFixed(2)} best (rounds: ${xs.map((x) => x.toFixed(2)).join(" ")})`;
    console.log(line("parseOrder + flattenOrders", ref.perOrder));
    console.log(line("OrderDecoder", dec.perOrder));
    const a = median(ref.perOrder);
    const b = median(dec.perOrder);
    console.log(`saving: ${(a - b).toFixed(2)} µs CPU/order (${(a / b).toFixed(1)}× less)`);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

// A script (deno run), not a Deno.bench: `deno bench tests/bench/` only loads it.
if (import.meta.main) await main();
