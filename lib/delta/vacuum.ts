/**
 * VACUUM: delete data files the current snapshot no longer references once they are older than
 * the retention (default `delta.deletedFileRetentionDuration`, 7 days = 168 h).
 *
 * As Spark does: a file is kept when a live `add` references it, when its tombstone is younger
 * than the retention, or when its modification time is within the retention (a writer may be
 * about to commit it). `_delta_log` and every path with a segment starting with `_` or `.` are
 * never touched (partition directories `col=…` of a partition column are looked into). Dry run
 * by default: it lists what it would delete. A retention below the table's (168 h by default) is
 * refused unless forced, because concurrent readers and writers may still need those files.
 * A real run logs `VACUUM START` / `VACUUM END` commits (commitInfo only), like Spark.
 *
 * @module
 */
import type { Storage } from "../storage/storage.ts";
import { openStorage } from "../storage/mod.ts";
import { parseInterval } from "./checkpoint.ts";
import { commit, makeCommitInfo } from "./commit.ts";
import { DeltaError } from "./errors.ts";
import { inCommitTimestampsEnabled } from "./features.ts";
import { LOG_DIR } from "./log.ts";
import { resolveDataPath } from "./scan.ts";
import { deletionVectorFile } from "./_deletion_vector.ts";
import { checkWritable, fileKey, loadSnapshot } from "./snapshot.ts";

/** Default retention: 7 days. */
export const DEFAULT_RETENTION_HOURS = 168;

/** Options for {@link vacuum}. */
export interface VacuumOptions {
  /** Retention in hours (default: the table's deletedFileRetentionDuration, else 168). */
  retentionHours?: number;
  /** Only list the files (default true). */
  dryRun?: boolean;
  /** Allow a retention below the table's minimum. */
  force?: boolean;
  /** Clock, for tests (ms since epoch). */
  now?: number;
}

/** What VACUUM found (and deleted unless dry run). */
export interface VacuumResult {
  dryRun: boolean;
  retentionHours: number;
  /** Paths relative to the table root (decoded), sorted. */
  files: string[];
  /** Total bytes of those files. */
  bytes: number;
  /** Files actually deleted (0 on a dry run). */
  deleted: number;
}

/** A retention below the safety minimum was asked for without `force`. */
export class RetentionTooShortError extends DeltaError {
  override name = "RetentionTooShortError";
}

function isHidden(path: string, partitionColumns: string[]): boolean {
  return path.split("/").some((seg) =>
    (seg.startsWith("_") || seg.startsWith(".")) &&
    !partitionColumns.some((c) => seg.startsWith(`${c}=`))
  );
}

/**
 * Find (and, with `dryRun: false`, delete) unreferenced data files older than the retention.
 *
 * @example
 * ```ts
 * import * as arrow from "apache-arrow";
 * import { createTable } from "./table.ts";
 * import { vacuum } from "./vacuum.ts";
 * const dir = await Deno.makeTempDir();
 * const rows = arrow.tableFromArrays({ id: new BigInt64Array([1n]) });
 * const t = await createTable(dir, rows.schema);
 * await t.append(rows);
 * await t.overwrite(rows); // the first data file is no longer referenced
 * const plan = await vacuum(dir, { retentionHours: 0, force: true }); // dry run: plan.files lists it
 * await vacuum(dir, { retentionHours: 0, force: true, dryRun: false }); // deletes it
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export async function vacuum(
  location: string | Storage,
  opts: VacuumOptions = {},
): Promise<VacuumResult> {
  const storage = typeof location === "string" ? openStorage(location) : location;
  const snap = await loadSnapshot(storage);
  checkWritable(snap.protocol, snap.schema, storage.url, snap.configuration);
  const tableRetentionMs =
    parseInterval(snap.configuration["delta.deletedFileRetentionDuration"]) ??
      DEFAULT_RETENTION_HOURS * 3_600_000;
  const minimumHours = Math.max(tableRetentionMs / 3_600_000, 0);
  const retentionHours = opts.retentionHours ?? tableRetentionMs / 3_600_000;
  if (!(retentionHours >= 0) || !Number.isFinite(retentionHours)) {
    throw new RangeError(
      `retention hours must be a non-negative number, got ${opts.retentionHours}`,
    );
  }
  if (retentionHours < minimumHours && !opts.force) {
    throw new RetentionTooShortError(
      `refusing to vacuum '${storage.url}' with a retention of ${retentionHours} h: below the ` +
        `table's ${minimumHours} h, readers or writers may still need those files; pass force ` +
        `(--force) if you are sure nothing reads older versions`,
    );
  }
  const dryRun = opts.dryRun ?? true;
  const now = opts.now ?? Date.now();
  const cutoff = now - retentionHours * 3_600_000;

  const keep = new Set<string>();
  const keepFile = (a: { path: string; deletionVector?: unknown }) => {
    keep.add(fileKey(a.path));
    // The deletion vector file of a live or still-retained file is kept with it.
    const dv = deletionVectorFile(a.deletionVector, (p) => resolveDataPath(storage, p));
    if (dv) keep.add(dv);
  };
  for (const f of snap.files) keepFile(f);
  for (const t of snap.tombstones) {
    if ((t.deletionTimestamp ?? 0) >= cutoff) keepFile(t);
  }
  const listed = await storage.list("");
  const doomed = listed.filter((f) =>
    // The log (commits, checkpoints, _sidecars/) is log cleanup's, never VACUUM's.
    !f.path.startsWith(`${LOG_DIR}/`) &&
    !isHidden(f.path, snap.partitionColumns) && !keep.has(f.path) && f.lastModified < cutoff
  ).sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  const result: VacuumResult = {
    dryRun,
    retentionHours,
    files: doomed.map((f) => f.path),
    bytes: doomed.reduce((s, f) => s + f.size, 0),
    deleted: 0,
  };
  if (dryRun) return result;

  const params = {
    retentionCheckEnabled: String(!opts.force),
    defaultRetentionMillis: String(tableRetentionMs),
    specifiedRetentionMillis: String(Math.round(retentionHours * 3_600_000)),
  };
  const ict = { inCommitTimestamps: inCommitTimestampsEnabled(snap.configuration) };
  const start = await commit(
    storage,
    snap.version,
    [],
    makeCommitInfo("VACUUM START", params, {
      isBlindAppend: true,
      operationMetrics: {
        numFilesToDelete: String(doomed.length),
        sizeOfDataToDelete: String(result.bytes),
      },
    }),
    ict,
  );
  for (const f of doomed) {
    await storage.delete(f.path);
    result.deleted++;
  }
  await commit(
    storage,
    start.version,
    [],
    makeCommitInfo("VACUUM END", { status: "COMPLETED" }, {
      isBlindAppend: true,
      operationMetrics: { numDeletedFiles: String(result.deleted), numVacuumedDirectories: "0" },
    }),
    ict,
  );
  return result;
}
