/**
 * Delta table command line: `deno task delta -- <command> <table> [flags]`.
 *
 * - `history <table> [--limit N] [--json]`: one line per commit (version, time, operation, rows added).
 * - `show <table> [--version N | --timestamp T] [--limit N] [--columns a,b] [--json]`: rows; with
 *   `--json` one JSON object per row (longs as numbers when safe, else strings; timestamps ISO).
 * - `optimize <table> [--target-size 128MiB]`: compact small files.
 * - `vacuum <table> [--retain-hours H] [--dry-run | --no-dry-run] [--force]`: delete unreferenced
 *   files older than the retention (dry run by default).
 *
 * Errors print one line on stderr and exit with code 2 (missing table, damaged log, bad flags).
 *
 * @module
 */
import { parseArgs } from "node:util";
import * as arrow from "apache-arrow";
import { UserError } from "../errors.ts";
import { openStorage } from "../storage/mod.ts";
import { optimize } from "./optimize.ts";
import { formatTimestampMicros } from "./partition_value.ts";
import { scanFiles } from "./scan.ts";
import { loadSnapshot } from "./snapshot.ts";
import { decimalText, formatDate } from "./stats.ts";
import { history } from "./table.ts";
import { vacuum } from "./vacuum.ts";

/** Where the CLI writes (injectable for tests). */
export interface CliIO {
  out(line: string): void;
  err(line: string): void;
}

const USAGE = `usage: deno task delta -- <command> <table> [flags]
  history  <table> [--limit N] [--json]
  show     <table> [--version N | --timestamp T] [--limit N] [--columns a,b] [--json]
  optimize <table> [--target-size SIZE]           SIZE: bytes or 64MiB, 1GB…
  vacuum   <table> [--retain-hours H] [--dry-run | --no-dry-run] [--force]`;

/** A bad command line; printed with the usage hint. */
export class UsageError extends UserError {
  override name = "UsageError";
}

/** Parse a size like `134217728`, `128MiB`, `64MB`, `1g` into bytes. */
export function parseSize(text: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([kmgt]?)(i?b)?\s*$/i.exec(text);
  if (!m) throw new UsageError(`'${text}' is not a size (use bytes or e.g. 128MiB)`);
  const mult: Record<string, number> = { "": 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3, t: 1024 ** 4 };
  const bytes = Math.round(Number(m[1]) * mult[m[2].toLowerCase()]);
  if (bytes < 1) throw new UsageError(`size must be at least 1 byte, got '${text}'`);
  return bytes;
}

function intFlag(v: string | undefined, name: string): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) {
    throw new UsageError(`--${name} needs a non-negative integer, got '${v}'`);
  }
  return n;
}

/** A JSON-friendly value of row `i` of a column chunk (exact for longs, decimals and µs timestamps). */
export function jsonValue(d: arrow.Data, i: number): unknown {
  if (d.typeId === arrow.Type.Null) return null;
  if (d.nullBitmap && d.nullCount > 0) {
    const p = d.offset + i;
    if (((d.nullBitmap[p >> 3] >> (p & 7)) & 1) === 0) return null;
  }
  const t = d.type;
  if (arrow.DataType.isInt(t)) {
    const v = d.values[i];
    if (typeof v === "bigint") {
      return v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER)
        ? Number(v)
        : v.toString();
    }
    return v;
  }
  if (arrow.DataType.isFloat(t)) {
    const v = Number(d.values[i]);
    return Number.isFinite(v) ? v : String(v);
  }
  if (arrow.DataType.isBool(t)) {
    const p = d.offset + i;
    return ((d.values[p >> 3] >> (p & 7)) & 1) === 1;
  }
  if (arrow.DataType.isUtf8(t)) {
    const o = d.valueOffsets;
    return new TextDecoder().decode((d.values as Uint8Array).subarray(o[i], o[i + 1]));
  }
  if (arrow.DataType.isBinary(t)) {
    const o = d.valueOffsets;
    return btoa(String.fromCharCode(...(d.values as Uint8Array).subarray(o[i], o[i + 1])));
  }
  if (arrow.DataType.isDate(t)) return formatDate(d.values[i]);
  if (arrow.DataType.isTimestamp(t)) {
    const iso = formatTimestampMicros(d.values[i] as bigint);
    return t.timezone ? iso : iso.slice(0, -1);
  }
  if (arrow.DataType.isDecimal(t)) {
    const w = d.values as Uint32Array;
    const b = 4 * i;
    const u = (BigInt(w[b + 3]) << 96n) | (BigInt(w[b + 2]) << 64n) | (BigInt(w[b + 1]) << 32n) |
      BigInt(w[b]);
    return decimalText(BigInt.asIntN(128, u), t.scale);
  }
  if (arrow.DataType.isStruct(t)) {
    return Object.fromEntries(t.children.map((c, k) => [c.name, jsonValue(d.children[k], i)]));
  }
  if (arrow.DataType.isList(t)) {
    const o = d.valueOffsets;
    const out: unknown[] = [];
    for (let c = o[i]; c < o[i + 1]; c++) out.push(jsonValue(d.children[0], c));
    return out;
  }
  if (arrow.DataType.isMap(t)) {
    const o = d.valueOffsets;
    const e = d.children[0];
    const out: Record<string, unknown> = {};
    for (let c = o[i]; c < o[i + 1]; c++) {
      out[String(jsonValue(e.children[0], c))] = jsonValue(e.children[1], c);
    }
    return out;
  }
  return String(d.values?.[i]);
}

function cellText(v: unknown): string {
  if (v === null || v === undefined) return "null";
  return typeof v === "string" ? v : JSON.stringify(v);
}

async function cmdHistory(table: string, flags: Flags, io: CliIO): Promise<void> {
  const storage = openStorage(table);
  await loadSnapshot(storage); // a clear error for a missing table or a damaged log
  const entries = await history(storage, { limit: intFlag(flags.limit, "limit") });
  for (const e of entries) {
    if (flags.json) {
      io.out(JSON.stringify({
        version: e.version,
        timestamp: new Date(e.timestamp).toISOString(),
        operation: e.operation ?? null,
        rowsAdded: e.numOutputRows ?? null,
        operationParameters: e.operationParameters,
        operationMetrics: e.operationMetrics,
      }));
    } else {
      io.out(
        [
          String(e.version).padStart(6),
          new Date(e.timestamp).toISOString(),
          (e.operation ?? "?").padEnd(17),
          e.numOutputRows === undefined ? "-" : `${e.numOutputRows} rows`,
        ].join("  "),
      );
    }
  }
}

async function cmdShow(table: string, flags: Flags, io: CliIO): Promise<void> {
  if (flags.version !== undefined && flags.timestamp !== undefined) {
    throw new UsageError("give --version or --timestamp, not both");
  }
  const storage = openStorage(table);
  const at = flags.version !== undefined
    ? { version: intFlag(flags.version, "version") }
    : flags.timestamp !== undefined
    ? { timestamp: /^\d+$/.test(flags.timestamp) ? Number(flags.timestamp) : flags.timestamp }
    : {};
  const snap = await loadSnapshot(storage, at);
  const limit = intFlag(flags.limit, "limit") ?? (flags.json ? Number.POSITIVE_INFINITY : 20);
  const columns = flags.columns?.split(",").map((c) => c.trim()).filter(Boolean);
  const names = columns ?? snap.schema.fields.map((f) => f.name);
  const rows: unknown[][] = [];
  let shown = 0;
  outer: for await (
    const t of scanFiles(storage, snap.files, snap.schema, snap.partitionColumns, { columns })
  ) {
    for (const b of t.batches) {
      for (let i = 0; i < b.numRows; i++) {
        if (shown >= limit) break outer;
        const values = b.data.children.map((d) => jsonValue(d, i));
        if (flags.json) {
          io.out(JSON.stringify(Object.fromEntries(names.map((n, k) => [n, values[k]]))));
        } else rows.push(values);
        shown++;
      }
    }
  }
  if (flags.json) return;
  const cells = [names, ...rows.map((r) => r.map(cellText))];
  const widths = names.map((_, k) => Math.min(40, Math.max(...cells.map((r) => r[k].length))));
  const fmt = (r: string[]) =>
    r.map((c, k) => (c.length > widths[k] ? c.slice(0, widths[k] - 1) + "…" : c.padEnd(widths[k])))
      .join(" | ");
  io.out(fmt(names));
  io.out(widths.map((w) => "-".repeat(w)).join("-+-"));
  for (const r of cells.slice(1)) io.out(fmt(r));
  io.out(`(${shown} row${shown === 1 ? "" : "s"} shown, version ${snap.version})`);
}

async function cmdOptimize(table: string, flags: Flags, io: CliIO): Promise<void> {
  const targetSize = flags["target-size"] ? parseSize(flags["target-size"]) : undefined;
  const r = await optimize(openStorage(table), { targetSize });
  if (r.skipped) io.out(`optimize: ${r.skipped}`);
  else if (r.version === undefined) {
    io.out("optimize: nothing to compact (no partition has two or more small files)");
  } else {
    io.out(
      `optimize: version ${r.version}: ${r.numFilesRemoved} files (${r.numBytesRemoved} bytes) → ` +
        `${r.numFilesAdded} files (${r.numBytesAdded} bytes), ${r.numRows} rows, ` +
        `${r.numPartitionsOptimized} partition(s)`,
    );
  }
}

async function cmdVacuum(table: string, flags: Flags, io: CliIO): Promise<void> {
  if (flags["dry-run"] && flags["no-dry-run"]) {
    throw new UsageError("give --dry-run or --no-dry-run, not both");
  }
  let retentionHours: number | undefined;
  if (flags["retain-hours"] !== undefined) {
    retentionHours = Number(flags["retain-hours"]);
    if (!(retentionHours >= 0)) {
      throw new UsageError(`--retain-hours needs a number ≥ 0, got '${flags["retain-hours"]}'`);
    }
  }
  const r = await vacuum(openStorage(table), {
    retentionHours,
    dryRun: !flags["no-dry-run"],
    force: flags.force,
  });
  for (const f of r.files) io.out(`${r.dryRun ? "would delete" : "deleted"} ${f}`);
  io.out(
    r.dryRun
      ? `vacuum (dry run, retention ${r.retentionHours} h): ${r.files.length} files, ${r.bytes} bytes would be deleted; rerun with --no-dry-run to delete`
      : `vacuum (retention ${r.retentionHours} h): deleted ${r.deleted} files, ${r.bytes} bytes`,
  );
}

interface Flags {
  limit?: string;
  json?: boolean;
  version?: string;
  timestamp?: string;
  columns?: string;
  "target-size"?: string;
  "retain-hours"?: string;
  "dry-run"?: boolean;
  "no-dry-run"?: boolean;
  force?: boolean;
  help?: boolean;
}

/**
 * Run the CLI with arguments; returns the exit code (0 ok, 2 error).
 *
 * @example
 * ```ts
 * import * as arrow from "apache-arrow";
 * import { createTable } from "./table.ts";
 * import { main } from "./cli.ts";
 * const dir = await Deno.makeTempDir();
 * await createTable(dir, new arrow.Schema([new arrow.Field("id", new arrow.Int64())]));
 * const code = await main(["history", dir]); // prints one line per commit; 0 = ok, 2 = error
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export async function main(
  args: string[],
  io: CliIO = { out: (l) => console.log(l), err: (l) => console.error(l) },
): Promise<number> {
  let command = "delta";
  try {
    const { values, positionals } = parseArgs({
      args: args[0] === "--" ? args.slice(1) : args,
      allowPositionals: true,
      strict: true,
      options: {
        limit: { type: "string" },
        json: { type: "boolean" },
        version: { type: "string" },
        timestamp: { type: "string" },
        columns: { type: "string" },
        "target-size": { type: "string" },
        "retain-hours": { type: "string" },
        "dry-run": { type: "boolean" },
        "no-dry-run": { type: "boolean" },
        force: { type: "boolean" },
        help: { type: "boolean", short: "h" },
      },
    });
    const flags = values as Flags;
    if (flags.help) {
      io.out(USAGE);
      return 0;
    }
    const [cmd, table, ...rest] = positionals;
    if (!cmd) throw new UsageError("missing command");
    command = cmd;
    if (!table) throw new UsageError(`${cmd}: missing <table> (a path or file:// URL)`);
    if (rest.length) throw new UsageError(`unexpected argument '${rest[0]}'`);
    switch (cmd) {
      case "history":
        await cmdHistory(table, flags, io);
        break;
      case "show":
        await cmdShow(table, flags, io);
        break;
      case "optimize":
        await cmdOptimize(table, flags, io);
        break;
      case "vacuum":
        await cmdVacuum(table, flags, io);
        break;
      default:
        throw new UsageError(`unknown command '${cmd}'`);
    }
    return 0;
  } catch (e) {
    const err = e as Error;
    const msg = `delta ${command}: ${err.name}: ${String(err.message).split("\n")[0]}`;
    io.err(
      e instanceof UsageError || err.name === "TypeError" && /option|argument/i.test(err.message)
        ? `${msg}\n${USAGE}`
        : msg,
    );
    return 2;
  }
}

if (import.meta.main) {
  Deno.exit(await main(Deno.args));
}
