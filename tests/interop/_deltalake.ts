/**
 * Helpers for the interop tests with tables delta-rs writes: run tests/interop/deltalake_write.py
 * (write one kind of table) and deltalake_dump.py (what delta-rs reads), and read a table with
 * our reader in the same canonical form (tests/support/canon.ts).
 *
 * @module
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { loadSnapshot, type Snapshot } from "../../lib/delta/snapshot.ts";
import { scanFiles } from "../../lib/delta/scan.ts";
import { openStorage } from "../../lib/storage/mod.ts";
import { canonRows, sortRows } from "../support/canon.ts";
import { pythonPath, REPO_ROOT } from "../support/python.ts";

const WRITE = join(REPO_ROOT, "tests", "interop", "deltalake_write.py");
const DUMP = join(REPO_ROOT, "tests", "interop", "deltalake_dump.py");

async function python(args: string[]): Promise<unknown> {
  const out = await new Deno.Command(pythonPath(), { args, stdout: "piped", stderr: "piped" })
    .output();
  const text = new TextDecoder().decode(out.stdout).trim();
  if (out.code !== 0 || !text.startsWith("{")) {
    throw new Error(
      `${args[0]} failed (exit ${out.code}): ${new TextDecoder().decode(out.stderr).slice(-2000)}`,
    );
  }
  return JSON.parse(text.split("\n").at(-1)!);
}

/** What deltalake_write.py reports about the table it wrote. */
export interface Written {
  path: string;
  /** Per data file: column → pyarrow type of the file (to show which layouts the test covers). */
  fileSchemas?: Array<Record<string, string>>;
  checkpointSchema?: Record<string, string>;
  adds?: Array<{ path: string; partitionValues: Record<string, string | null> }>;
  polars?: string;
}

/** Write one kind of table into `root` with delta-rs; fails the test on a writer error. */
export async function writeWithDeltaRs(kind: string, root: string): Promise<Written> {
  const r = await python([WRITE, kind, root]) as Written & { error?: string; skipped?: string };
  assert.equal(r.error, undefined, `deltalake_write.py ${kind}: ${r.error}`);
  assert.equal(r.skipped, undefined, `deltalake_write.py ${kind}: ${r.skipped}`);
  return r;
}

/** The rows delta-rs reads at the latest version (canonical, sorted). */
export async function deltaRsRows(path: string): Promise<unknown[]> {
  const r = await python([DUMP, path]) as {
    error?: string;
    versions: Array<{ rows?: unknown[]; rowsError?: string; error?: string }>;
  };
  assert.equal(r.error, undefined, `delta-rs cannot open ${path}: ${r.error}`);
  const v = r.versions.at(-1)!;
  assert.equal(v.error ?? v.rowsError, undefined, `delta-rs cannot read ${path}`);
  return sortRows(v.rows!);
}

/** Our reader: the latest snapshot and its rows (canonical, sorted). */
export async function ourRows(path: string): Promise<{ snapshot: Snapshot; rows: unknown[] }> {
  const storage = openStorage(path);
  const snapshot = await loadSnapshot(storage);
  const rows: unknown[] = [];
  for await (
    const t of scanFiles(storage, snapshot.files, snapshot.schema, snapshot.partitionColumns)
  ) {
    rows.push(...canonRows(t));
  }
  return { snapshot, rows: sortRows(rows) };
}

/** Rows keyed by their `id` (a canonical string), for per-row assertions. */
export function byId(rows: unknown[]): Map<string, Record<string, unknown>> {
  return new Map(
    (rows as Array<Record<string, unknown>>).map((r) => [String(r.id), r]),
  );
}

/** A temporary directory for the duration of `fn`. */
export async function withTempDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "interop-" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}
