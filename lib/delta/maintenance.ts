/**
 * Table maintenance for long-running writers (the streams run it between micro-batches):
 * auto-compaction, checkpoints every `delta.checkpointInterval` commits, and cleanup of expired
 * log files after each checkpoint. VACUUM stays a manual step (vacuum.ts).
 *
 * **Auto-compaction** (Delta's `delta.autoOptimize.autoCompact`): when a partition (the whole
 * table when unpartitioned) holds at least `minNumFiles` small files (smaller than
 * `minFileSize`, default half the target), they are bin-packed, smallest first, into files of
 * at most the target size and rewritten in one `OPTIMIZE` commit (`auto: "true"`) whose removes
 * and adds are all `dataChange: false` (optimize.ts {@link compactBins}). One run rewrites at most
 * `maxCompactBytes` (default: the target size), so a batch waits for at most one target file's
 * rewrite. The commit is an ordinary optimistic commit: a concurrent append does not conflict
 * (it lands above or below; its files are not touched), a concurrent removal of one of the
 * inputs fails the compaction (it is retried later on a fresh snapshot).
 *
 * With a `compactor` (the streams pass one that runs in a worker thread), compaction runs in the
 * background: a run that finds it due hands it over and goes on with checkpoints and cleanup, so
 * the writer's next batch does not wait for the rewrite. The compactor plans again from its own
 * view of the table ({@link TableMaintenance.compactNow}), so it never removes a file that is
 * already gone. One compaction per table runs at a time; its result is reported by the first run
 * after it ends (or by {@link TableMaintenance.settle}).
 *
 * **Checkpoints**: the library's writer checkpoints every version that is a multiple of
 * `delta.checkpointInterval` (table.ts); maintenance makes sure one exists at least every
 * `checkpointInterval` commits (a checkpoint that failed, a writer killed before it, or a
 * shorter interval asked for by the stream). Tombstones older than
 * `delta.deletedFileRetentionDuration` are left out (checkpoint.ts).
 *
 * **Log cleanup** (Delta's `delta.enableExpiredLogCleanup`, `delta.logRetentionDuration`): a log
 * file's age is its modification time, as Spark and delta-rs judge it (not commitInfo). The
 * cutoff is `now - retention` (Spark also truncates it to midnight UTC; we do not, so cleanup
 * happens after each checkpoint instead of once a day). The newest single-file checkpoint
 * (classic, or UUID-named V2) whose own commit (and every commit before it) is older than the
 * cutoff is kept, with its commit and everything after it; every log file of an older version
 * (commits, checkpoints of any form, `.crc`, compacted commits, and our temp files) is deleted,
 * oldest first, so that a crash at any point leaves a readable suffix. Every version from that
 * checkpoint on stays readable, and time travel to it works in us, delta-rs and Spark; older
 * versions are gone (they were all older than the retention). With no such checkpoint, nothing is
 * deleted.
 *
 * **Sidecars** (tables with `v2Checkpoint`): once the expired files are all gone, the
 * checkpoints still in `_delta_log` are read for the sidecars they reference; a file of
 * `_delta_log/_sidecars/` that none references and that is older than both the cutoff and one
 * day (a checkpoint being written has young sidecars) is deleted ({@link cleanupSidecars}). So a
 * sidecar goes only after every checkpoint that used it, and a checkpoint that cannot be read
 * stops the sweep (nothing is deleted).
 *
 * The first cleanup of a process lists `_delta_log` once; later ones know which checkpoints
 * exist and look only at the modification times of a few commits (no listing per batch). On
 * tables with `v2Checkpoint` every cleanup lists `_delta_log` (it runs after a checkpoint only),
 * since checkpoint names there are not known from their versions.
 *
 * Table properties honoured (the stream flags override them, see lib/engine/options.ts):
 *
 * | property | default |
 * | --- | --- |
 * | `delta.autoOptimize.autoCompact` | `true` in our streams (`false` turns it off) |
 * | `delta.autoCompact.minNumFiles` | 50 |
 * | `delta.autoCompact.maxFileSize` | 128 MiB (the target size) |
 * | `delta.autoCompact.minFileSize` | half the target size (at most half) |
 * | `delta.autoCompact.maxCompactBytes` | the target size (bytes rewritten per run) |
 * | `delta.checkpointInterval` | 10 |
 * | `delta.enableExpiredLogCleanup` | `true` |
 * | `delta.logRetentionDuration` | `interval 30 days` |
 * | `delta.deletedFileRetentionDuration` | `interval 1 week` (tombstones in checkpoints) |
 *
 * @module
 */
import type { FileInfo, Storage } from "../storage/storage.ts";
import type { AddAction } from "./actions.ts";
import {
  checkpointStateOf,
  DEFAULT_CHECKPOINT_INTERVAL,
  isSidecarFile,
  parseInterval,
  readCheckpoint,
  referencedSidecars,
  writeCheckpoint,
} from "./checkpoint.ts";
import {
  checkpointKind,
  checkpointPath,
  commitPath,
  listCheckpointsAt,
  LOG_DIR,
  readLastCheckpoint,
} from "./log.ts";
import { CorruptLogError } from "./errors.ts";
import {
  compactBins,
  compactionSkipReason,
  DEFAULT_TARGET_SIZE,
  type OptimizeResult,
  planBins,
} from "./optimize.ts";
import { advanceSnapshot, checkWritable, loadSnapshot, type Snapshot } from "./snapshot.ts";
import { partitionValueKeys } from "./column_mapping.ts";

/** Table property names maintenance reads. */
export const MAINTENANCE_PROPERTIES = {
  autoCompact: "delta.autoOptimize.autoCompact",
  minNumFiles: "delta.autoCompact.minNumFiles",
  maxFileSize: "delta.autoCompact.maxFileSize",
  minFileSize: "delta.autoCompact.minFileSize",
  maxCompactBytes: "delta.autoCompact.maxCompactBytes",
  checkpointInterval: "delta.checkpointInterval",
  enableExpiredLogCleanup: "delta.enableExpiredLogCleanup",
  logRetentionDuration: "delta.logRetentionDuration",
} as const;

/** Default minimum number of small files that makes a partition due for compaction. */
export const DEFAULT_COMPACT_MIN_FILES = 50;
/** Default target size of compacted files: 128 MiB. */
export const DEFAULT_COMPACT_TARGET_SIZE = DEFAULT_TARGET_SIZE;
/** Default `delta.logRetentionDuration`: 30 days, as Delta. */
export const DEFAULT_LOG_RETENTION_MS = 30 * 86_400_000;
/** Log files one cleanup run deletes at most (the rest go in the next runs). */
export const MAX_LOG_DELETES_PER_RUN = 1000;

/** What maintenance does, resolved from the stream's flags over the table's properties. */
export interface MaintenanceSettings {
  /** Auto-compaction on. */
  autoCompact: boolean;
  /** Compaction runs in the background when the writer gave a compactor (not a property). */
  compactInBackground: boolean;
  /** Small files in one partition that make it due. */
  compactMinFiles: number;
  /** Target (largest) size of a compacted file, bytes. */
  compactTargetSize: number;
  /** Files smaller than this are small, bytes (at most half the target). */
  compactMinFileSize: number;
  /** Bytes of small files one run rewrites at most. */
  compactMaxBytes: number;
  /** A checkpoint at least every this many commits. */
  checkpointInterval: number;
  /** Delete expired log files after checkpoints. */
  logCleanup: boolean;
  /** Log retention, ms. */
  logRetentionMs: number;
}

/** Settings a stream's flags force, whatever the table's properties say. */
export type MaintenanceOverrides = Partial<
  Pick<
    MaintenanceSettings,
    | "autoCompact"
    | "compactInBackground"
    | "compactMinFiles"
    | "compactTargetSize"
    | "checkpointInterval"
    | "logCleanup"
    | "logRetentionMs"
  >
>;

/**
 * Parse a byte size: `134217728`, `128MiB`, `128MB`, `64m`, `1g` (binary multiples, as Delta's
 * size settings); undefined when it is not one.
 *
 * @example
 * ```ts
 * import { parseByteSize } from "./maintenance.ts";
 * parseByteSize("128MB"); // 134217728
 * parseByteSize("1k"); // 1024
 * parseByteSize("lots"); // undefined
 * ```
 */
export function parseByteSize(text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  const m = /^\s*(\d+(?:\.\d+)?)\s*([kmgt]?)(i?b)?\s*$/i.exec(text);
  if (!m) return undefined;
  const mult: Record<string, number> = { "": 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3, t: 1024 ** 4 };
  const bytes = Math.round(Number(m[1]) * mult[m[2].toLowerCase()]);
  return bytes >= 1 && Number.isSafeInteger(bytes) ? bytes : undefined;
}

function positive(text: string | undefined): number | undefined {
  const n = Number(text);
  return text !== undefined && Number.isSafeInteger(n) && n > 0 ? n : undefined;
}

function flag(text: string | undefined): boolean | undefined {
  const t = text?.trim().toLowerCase();
  if (t === "false") return false;
  // Delta's values: true, auto and legacy all turn it on.
  if (t === "true" || t === "auto" || t === "legacy") return true;
  return undefined;
}

/**
 * The maintenance settings of a table: `overrides` (the stream's flags) win over the table's
 * properties, which win over the defaults (see the module doc). Unparseable property values fall
 * back to the defaults.
 *
 * @example
 * ```ts
 * import { maintenanceSettings } from "./maintenance.ts";
 * const s = maintenanceSettings({ "delta.autoCompact.minNumFiles": "20" }, { compactTargetSize: 1 << 20 });
 * s.compactMinFiles; // 20
 * s.compactMinFileSize; // 524288: half the target
 * s.logRetentionMs; // 2592000000: 30 days
 * ```
 */
export function maintenanceSettings(
  configuration: Record<string, string>,
  overrides: MaintenanceOverrides = {},
): MaintenanceSettings {
  const p = MAINTENANCE_PROPERTIES;
  const target = overrides.compactTargetSize ?? parseByteSize(configuration[p.maxFileSize]) ??
    DEFAULT_COMPACT_TARGET_SIZE;
  const half = Math.max(1, Math.floor(target / 2));
  const minFileSize = Math.min(half, parseByteSize(configuration[p.minFileSize]) ?? half);
  const maxCompactBytes = Math.max(
    target,
    parseByteSize(configuration[p.maxCompactBytes]) ?? target,
  );
  return {
    autoCompact: overrides.autoCompact ?? flag(configuration[p.autoCompact]) ?? true,
    compactInBackground: overrides.compactInBackground ?? true,
    compactMinFiles: overrides.compactMinFiles ?? positive(configuration[p.minNumFiles]) ??
      DEFAULT_COMPACT_MIN_FILES,
    compactTargetSize: target,
    compactMinFileSize: minFileSize,
    compactMaxBytes: maxCompactBytes,
    checkpointInterval: overrides.checkpointInterval ??
      positive(configuration[p.checkpointInterval]) ?? DEFAULT_CHECKPOINT_INTERVAL,
    logCleanup: overrides.logCleanup ?? flag(configuration[p.enableExpiredLogCleanup]) ?? true,
    logRetentionMs: overrides.logRetentionMs ??
      parseInterval(configuration[p.logRetentionDuration]) ?? DEFAULT_LOG_RETENTION_MS,
  };
}

function partitionKey(f: AddAction, partitionColumns: string[]): string {
  return JSON.stringify(partitionColumns.map((c) => f.partitionValues?.[c] ?? null));
}

/**
 * The bins one auto-compaction run rewrites (empty = not due): partitions with at least
 * `compactMinFiles` small files, their small files bin-packed smallest first up to the target
 * size (bins of one file are dropped unless its deletion vector deletes rows: the rewrite drops
 * them), bins with the most files first, as many as fit in
 * `compactMaxBytes`. `partitionColumns` are the keys of `partitionValues` (physical names with
 * column mapping: column_mapping.ts `partitionValueKeys`).
 *
 * @example
 * ```ts
 * import { maintenanceSettings, planAutoCompaction } from "./maintenance.ts";
 * const file = (path: string, size: number) =>
 *   ({ path, size, partitionValues: {}, modificationTime: 0, dataChange: true });
 * const s = maintenanceSettings({}, { compactMinFiles: 3, compactTargetSize: 1000 });
 * planAutoCompaction([file("a", 10), file("b", 10)], [], s); // []: 2 small files, not due
 * planAutoCompaction([file("a", 10), file("b", 10), file("c", 10)], [], s).length; // 1 bin
 * ```
 */
export function planAutoCompaction(
  files: AddAction[],
  partitionColumns: string[],
  settings: MaintenanceSettings,
): AddAction[][] {
  const small = new Map<string, AddAction[]>();
  for (const f of files) {
    if (f.size >= settings.compactMinFileSize) continue;
    if (f.clusteringProvider) continue; // a clustering implementation's files are left to it
    const k = partitionKey(f, partitionColumns);
    const list = small.get(k) ?? [];
    list.push(f);
    small.set(k, list);
  }
  const due = [...small.values()].filter((l) => l.length >= settings.compactMinFiles).flat();
  if (due.length === 0) return [];
  const binCap = Math.min(settings.compactTargetSize, settings.compactMaxBytes);
  const bins = planBins(due, partitionColumns, binCap)
    .sort((a, b) => b.length - a.length);
  const chosen: AddAction[][] = [];
  let bytes = 0;
  for (const bin of bins) {
    const size = bin.reduce((s, f) => s + f.size, 0);
    if (bytes + size > settings.compactMaxBytes) continue;
    chosen.push(bin);
    bytes += size;
  }
  return chosen;
}

/** A `_delta_log` file name, parsed. */
export interface LogFileName {
  /** Version it belongs to (the first one for a compacted commit range). */
  version: number;
  /** Last version it covers (compacted commits); = version otherwise. */
  endVersion: number;
  /** What it is. */
  kind: "commit" | "checkpoint" | "crc" | "compacted" | "temp";
  /** A classic single-file checkpoint (`<v>.checkpoint.parquet`). */
  classicCheckpoint?: boolean;
  /** A UUID-named V2 checkpoint (`<v>.checkpoint.<uuid>.{json,parquet}`); set only when true. */
  uuidCheckpoint?: boolean;
}

/**
 * Parse a file name of `_delta_log` (no directory): commits, checkpoints of every form (classic,
 * multi-part, V2 UUID-named), `.crc`, compacted commits (`<a>.<b>.compacted.json`) and our own
 * temp files (`.<v>.json.<uuid>.tmp`); undefined for anything else (`_last_checkpoint`, …).
 */
export function parseLogFileName(name: string): LogFileName | undefined {
  let m = /^(\d{20})\.json$/.exec(name);
  if (m) return { version: Number(m[1]), endVersion: Number(m[1]), kind: "commit" };
  m = /^(\d{20})\.checkpoint(\.[^/]+)?\.(parquet|json)$/.exec(name);
  if (m) {
    return {
      version: Number(m[1]),
      endVersion: Number(m[1]),
      kind: "checkpoint",
      classicCheckpoint: m[2] === undefined && m[3] === "parquet",
      ...(checkpointKind(name)?.kind === "uuid" ? { uuidCheckpoint: true } : {}),
    };
  }
  m = /^(\d{20})\.crc$/.exec(name);
  if (m) return { version: Number(m[1]), endVersion: Number(m[1]), kind: "crc" };
  m = /^(\d{20})\.(\d{20})\.compacted\.json$/.exec(name);
  if (m) return { version: Number(m[1]), endVersion: Number(m[2]), kind: "compacted" };
  m = /^\.(\d{20})\.[^/]*\.tmp$/.exec(name);
  if (m) return { version: Number(m[1]), endVersion: Number(m[1]), kind: "temp" };
  return undefined;
}

/** What {@link planLogCleanup} decided. */
export interface LogCleanupPlan {
  /** Files older than this (ms since epoch) are expired. */
  cutoff: number;
  /** The checkpoint kept as the new start of the log (undefined: nothing to delete). */
  keepFrom: number | undefined;
  /** Files to delete (paths as listed), oldest version first. */
  files: FileInfo[];
  /** Versions of single-file checkpoints (classic or UUID-named) at or after `keepFrom`, ascending. */
  checkpoints: number[];
  /** Lowest version any listed log file belongs to (undefined: none). */
  earliest: number | undefined;
}

const KIND_ORDER: Record<LogFileName["kind"], number> = {
  commit: 0,
  crc: 1,
  compacted: 2,
  checkpoint: 3,
  temp: 4,
};

/**
 * Which log files may go, from a listing of `_delta_log` (the module doc has the rule): the
 * newest single-file checkpoint `C` (classic or UUID-named) whose commit and every earlier commit are older than
 * `now - retentionMs` is kept with everything after it; every file of a version below `C` goes
 * (temp files only once they are themselves expired).
 *
 * @example
 * ```ts
 * import { planLogCleanup } from "./maintenance.ts";
 * const day = 86_400_000, now = 100 * day;
 * const f = (name: string, age: number) =>
 *   ({ path: `_delta_log/${name}`, size: 1, lastModified: now - age * day });
 * const v = (n: number) => String(n).padStart(20, "0");
 * const listing = [
 *   f(`${v(0)}.json`, 40), f(`${v(1)}.json`, 35), f(`${v(1)}.checkpoint.parquet`, 35),
 *   f(`${v(2)}.json`, 10), f(`${v(2)}.checkpoint.parquet`, 10),
 * ];
 * const plan = planLogCleanup(listing, now, 30 * day);
 * plan.keepFrom; // 1
 * plan.files.map((x) => x.path); // ["_delta_log/00000000000000000000.json"]
 * ```
 */
export function planLogCleanup(
  listing: FileInfo[],
  now: number,
  retentionMs: number,
): LogCleanupPlan {
  const cutoff = now - retentionMs;
  const parsed: { file: FileInfo; name: LogFileName }[] = [];
  for (const file of listing) {
    const rel = file.path.startsWith(`${LOG_DIR}/`)
      ? file.path.slice(LOG_DIR.length + 1)
      : file.path;
    if (rel.includes("/")) continue;
    const name = parseLogFileName(rel);
    if (name) parsed.push({ file, name });
  }
  // A commit's time: the newest modification time of it and of every commit before it (Spark
  // makes commit times monotonic the same way), so nothing after a younger commit expires.
  const commits = parsed.filter((p) => p.name.kind === "commit")
    .sort((a, b) => a.name.version - b.name.version);
  const commitTime = new Map<number, number>();
  let newest = -Infinity;
  for (const c of commits) {
    newest = Math.max(newest, c.file.lastModified);
    commitTime.set(c.name.version, newest);
  }
  const classic = parsed.filter((p) => p.name.classicCheckpoint || p.name.uuidCheckpoint)
    .sort((a, b) => a.name.version - b.name.version);
  let keepFrom: number | undefined;
  for (const cp of classic) {
    const v = cp.name.version;
    // Without its commit (cleaned by another engine), the newest commit below, or the file.
    let t = commitTime.get(v);
    if (t === undefined) {
      const below = commits.filter((c) => c.name.version < v).at(-1);
      t = Math.max(cp.file.lastModified, below ? commitTime.get(below.name.version)! : -Infinity);
    }
    if (t < cutoff) keepFrom = v;
  }
  const files = keepFrom === undefined ? [] : parsed
    .filter((p) =>
      p.name.endVersion < keepFrom! &&
      (p.name.kind !== "temp" || p.file.lastModified < cutoff)
    )
    .sort((a, b) =>
      a.name.endVersion - b.name.endVersion || KIND_ORDER[a.name.kind] - KIND_ORDER[b.name.kind] ||
      (a.file.path < b.file.path ? -1 : 1)
    )
    .map((p) => p.file);
  const checkpoints = classic.map((c) => c.name.version)
    .filter((v) => keepFrom === undefined || v >= keepFrom);
  let earliest: number | undefined;
  for (const p of parsed) {
    if (earliest === undefined || p.name.version < earliest) earliest = p.name.version;
  }
  return { cutoff, keepFrom, files, checkpoints: [...new Set(checkpoints)], earliest };
}

/** What {@link cleanupExpiredLogs} deleted. */
export interface LogCleanupResult {
  /** The checkpoint the log now starts at (undefined: nothing was expired). */
  keepFrom: number | undefined;
  /** Files deleted (sidecars included). */
  deleted: number;
  /** Files still to delete (the run stopped at its limit). */
  remaining: number;
  /** Sidecar files deleted (none referenced by a remaining checkpoint). */
  sidecarsDeleted: number;
}

/** Sidecars younger than this are never deleted (a checkpoint may be being written). */
export const SIDECAR_MIN_AGE_MS = 86_400_000;

/**
 * Which files of `_delta_log/_sidecars/` may go: those no checkpoint in `listing` (a listing of
 * `_delta_log/`) references and older than both `cutoff` and {@link SIDECAR_MIN_AGE_MS}. Reads the
 * `sidecar` actions of every listed single-file checkpoint; a checkpoint that cannot be read
 * throws (the caller deletes nothing).
 *
 * @example
 * ```ts
 * import { openStorage } from "../storage/mod.ts";
 * import { planSidecarCleanup } from "./maintenance.ts";
 * const dir = await Deno.makeTempDir();
 * const now = Date.now();
 * const listing = [{ path: "_delta_log/_sidecars/old.parquet", size: 1, lastModified: now - 3 * 86_400_000 }];
 * const doomed = await planSidecarCleanup(openStorage(dir), listing, now, now);
 * doomed.map((f) => f.path); // ["_delta_log/_sidecars/old.parquet"]: no checkpoint uses it
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export async function planSidecarCleanup(
  storage: Storage,
  listing: FileInfo[],
  now: number,
  cutoff: number,
): Promise<FileInfo[]> {
  const sidecars = listing.filter((f) => isSidecarFile(f.path));
  if (sidecars.length === 0) return [];
  const used = new Set<string>();
  for (const f of listing) {
    const rel = f.path.slice(LOG_DIR.length + 1);
    if (!f.path.startsWith(`${LOG_DIR}/`) || rel.includes("/") || !checkpointKind(rel)) continue;
    let refs: string[];
    try {
      refs = await referencedSidecars(storage, f.path);
    } catch (e) {
      // Deleted since the listing (another cleanup): it no longer needs its sidecars.
      if (e instanceof CorruptLogError && !(await storage.head(f.path))) continue;
      throw e;
    }
    for (const p of refs) used.add(p);
  }
  const before = Math.min(cutoff, now - SIDECAR_MIN_AGE_MS);
  return sidecars.filter((f) => !used.has(f.path) && f.lastModified < before);
}

/**
 * Delete the sidecars no checkpoint of the table references any more ({@link planSidecarCleanup}
 * over a fresh listing); returns how many went. Call it once the expired checkpoints are gone.
 *
 * @example
 * ```ts
 * import * as arrow from "apache-arrow";
 * import { cleanupSidecars } from "./maintenance.ts";
 * import { createTable } from "./table.ts";
 * const dir = await Deno.makeTempDir();
 * const t = await createTable(dir, new arrow.Schema([new arrow.Field("id", new arrow.Int64())]));
 * await cleanupSidecars(t.storage, { cutoff: Date.now() }); // 0: no sidecars
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export async function cleanupSidecars(
  storage: Storage,
  opts: { now?: number; cutoff: number },
): Promise<number> {
  const now = opts.now ?? Date.now();
  const doomed = await planSidecarCleanup(
    storage,
    await storage.list(`${LOG_DIR}/`),
    now,
    opts.cutoff,
  );
  for (const f of doomed) await storage.delete(f.path);
  return doomed.length;
}

/**
 * Delete the expired log files of a table now ({@link planLogCleanup} over a listing), oldest
 * first, at most `maxFiles` (default all). `afterFirstDelete` is a crash-test hook.
 *
 * @example
 * ```ts
 * import * as arrow from "apache-arrow";
 * import { cleanupExpiredLogs } from "./maintenance.ts";
 * import { createTable } from "./table.ts";
 * const dir = await Deno.makeTempDir();
 * const rows = arrow.tableFromArrays({ id: new BigInt64Array([1n]) });
 * const t = await createTable(dir, rows.schema, { configuration: { "delta.checkpointInterval": "2" } });
 * for (let i = 0; i < 4; i++) await t.append(rows); // checkpoints at 2 and 4
 * const r = await cleanupExpiredLogs(t.storage, { retentionMs: 0, now: Date.now() + 1000 });
 * r.keepFrom; // 4: versions 0..3 are gone (a retention of 0 expires everything)
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export async function cleanupExpiredLogs(
  storage: Storage,
  opts: {
    retentionMs?: number;
    now?: number;
    maxFiles?: number;
    afterFirstDelete?: () => void;
  } = {},
): Promise<LogCleanupResult> {
  let retentionMs = opts.retentionMs;
  if (retentionMs === undefined) {
    const snap = await loadSnapshot(storage);
    retentionMs = maintenanceSettings(snap.configuration).logRetentionMs;
  }
  const listed = await storage.list(`${LOG_DIR}/`);
  const plan = planLogCleanup(listed, opts.now ?? Date.now(), retentionMs);
  // The log will start at checkpoint keepFrom: it must read whole before anything below goes.
  if (plan.files.length > 0) await assertReadableCheckpoint(storage, listed, plan.keepFrom!);
  const todo = plan.files.slice(0, opts.maxFiles ?? plan.files.length);
  let deleted = 0;
  for (const f of todo) {
    await storage.delete(f.path);
    if (deleted++ === 0) opts.afterFirstDelete?.();
  }
  const remaining = plan.files.length - deleted;
  // Sidecars only once every expired checkpoint (that may use them) is gone.
  const sidecarsDeleted = remaining === 0 && listed.some((f) => isSidecarFile(f.path))
    ? await cleanupSidecars(storage, { now: opts.now, cutoff: plan.cutoff })
    : 0;
  return {
    keepFrom: plan.keepFrom,
    deleted: deleted + sidecarsDeleted,
    remaining,
    sidecarsDeleted,
  };
}

/**
 * Throws CorruptLogError unless a single-file checkpoint of `version` among `listed` reads whole
 * (sidecars included) with the table's protocol and metaData: log cleanup deletes the commits
 * below it only then, so a damaged checkpoint never becomes the only way into the table.
 */
async function assertReadableCheckpoint(
  storage: Storage,
  listed: FileInfo[],
  version: number,
): Promise<void> {
  const candidates = listed.filter((f) => {
    const name = parseLogFileName(f.path.slice(f.path.lastIndexOf("/") + 1));
    return name?.version === version && (name.classicCheckpoint || name.uuidCheckpoint);
  });
  let why = "it is not listed";
  for (const f of candidates) {
    try {
      const actions = await readCheckpoint(storage, version, f.path);
      if (actions.some((a) => "protocol" in a) && actions.some((a) => "metaData" in a)) return;
      why = "it holds no protocol or metaData action";
    } catch (e) {
      why = (e as Error).message;
    }
  }
  throw new CorruptLogError(
    candidates[0]?.path ?? checkpointPath(version),
    `log cleanup kept every file: the checkpoint the log would start at cannot be read (${why}); ` +
      "cleanup goes on from the next checkpoint the writer makes, or once the damaged file is removed",
  );
}

/** Where a crash test may kill maintenance. */
export type MaintenancePoint =
  | "before-compaction-commit"
  | "after-compaction-commit"
  | "during-log-cleanup";

/** What one maintenance run did to a table. */
export interface MaintenanceReport {
  /** Compaction commits. */
  compactions: number;
  /** Small files they replaced. */
  filesCompacted: number;
  /** Files they wrote. */
  filesWritten: number;
  /** Bytes of the files they replaced. */
  bytesCompacted: number;
  /** Checkpoints maintenance wrote (besides the ones the writer wrote). */
  checkpoints: number;
  /** Expired log files deleted. */
  logFilesRemoved: number;
  /** Steps that failed (logged; retried later). */
  failures: number;
}

/** An empty report. */
export function emptyReport(): MaintenanceReport {
  return {
    compactions: 0,
    filesCompacted: 0,
    filesWritten: 0,
    bytesCompacted: 0,
    checkpoints: 0,
    logFilesRemoved: 0,
    failures: 0,
  };
}

/** Settings of a {@link TableMaintenance}. */
export interface TableMaintenanceOptions {
  /** Name for log lines (e.g. `orders_raw`). */
  name?: string;
  /** Flags that override the table's properties. */
  overrides?: MaintenanceOverrides;
  /** One line per event: tag (`compact`, `checkpoint`, `cleanup`, `maintenance`) and text. */
  log?: (tag: string, message: string) => void;
  /** Crash-test hook, called at each {@link MaintenancePoint} reached. */
  hook?: (point: MaintenancePoint) => void;
  /** Clock (ms), for tests. */
  now?: () => number;
  /**
   * Runs auto-compaction elsewhere (in the background): called with the settings when a run
   * finds compaction due; it must plan again from its own, newer view of the table (as
   * {@link TableMaintenance.compactNow} does) and resolve with what it did (undefined: nothing
   * was due any more). Default: compaction runs inside {@link TableMaintenance.run}.
   */
  compactor?: (settings: MaintenanceSettings) => Promise<OptimizeResult | undefined>;
}

/** Failures in a row → runs to skip before the next try: 1, 2, 4 … 64. */
function backoffRuns(failures: number): number {
  return Math.min(64, 2 ** Math.max(0, failures - 1));
}

/** The steps of a run, each with its own retry state. */
type StepName = "compaction" | "checkpoint" | "cleanup";

/** One step's retry state. */
interface Retry {
  failures: number;
  skip: number;
}

/**
 * The maintenance of one table by one writer, run after each of its commits ({@link run}): it
 * follows the table through the commits since its last run (no listing), compacts when due,
 * checkpoints when one is missing, and deletes expired log files after each new checkpoint. A
 * failed step is logged in one line and retried after 1, 2, 4 … 64 runs; a run never throws.
 *
 * @example
 * ```ts
 * import * as arrow from "apache-arrow";
 * import { TableMaintenance } from "./maintenance.ts";
 * import { createTable } from "./table.ts";
 * const dir = await Deno.makeTempDir();
 * const rows = arrow.tableFromArrays({ id: new BigInt64Array([1n, 2n]) });
 * const t = await createTable(dir, rows.schema);
 * const m = new TableMaintenance(t.storage, { overrides: { compactMinFiles: 3 } });
 * for (let i = 0; i < 3; i++) await t.append(rows);
 * const r = await m.run(); // r.compactions === 1, r.filesCompacted === 3
 * (await t.snapshot()).files.length; // 1
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export class TableMaintenance {
  readonly storage: Storage;
  readonly #opts: TableMaintenanceOptions;
  #snap: Snapshot | undefined;
  /** Newest checkpoint known to exist. */
  #lastCheckpoint: number | undefined;
  /** Classic checkpoints known to exist at or above the log's start, ascending. */
  #checkpoints: number[] = [];
  /** Lowest version that may still have log files (undefined: not listed yet). */
  #floor: number | undefined;
  /** Files of a listing's plan still to delete. */
  #queue: string[] = [];
  #queueAt = 0;
  #cleanupDue = true;
  #retry: Record<StepName, Retry> = {
    compaction: { failures: 0, skip: 0 },
    checkpoint: { failures: 0, skip: 0 },
    cleanup: { failures: 0, skip: 0 },
  };
  /** The background compaction running (with a compactor). */
  #compacting: Promise<void> | undefined;
  /** What background compactions did since the last report. */
  #finished: MaintenanceReport = emptyReport();
  /** The settings of the last run. */
  #settings: MaintenanceSettings | undefined;
  /** Whether the reason compaction leaves this table alone was logged. */
  #skipLogged = false;

  constructor(storage: Storage, opts: TableMaintenanceOptions = {}) {
    this.storage = storage;
    this.#opts = opts;
  }

  get #name(): string {
    return this.#opts.name ?? this.storage.url;
  }

  #now(): number {
    return this.#opts.now?.() ?? Date.now();
  }

  #log(tag: string, message: string): void {
    this.#opts.log?.(tag, `${this.#name}: ${message}`);
  }

  /** The table's latest state, read from the commits since the last run. */
  async #advance(): Promise<Snapshot> {
    const s = this.#snap
      ? await advanceSnapshot(this.#snap, this.storage)
      : await loadSnapshot(this.storage);
    // Tombstones are not needed here (checkpoints load their own state): keep only live files.
    this.#snap = s.tombstones.length > 0 ? { ...s, tombstones: [] } : s;
    return this.#snap;
  }

  /** A failed step: counted, backed off, logged in one line. */
  #failed(which: StepName, what: string, report: MaintenanceReport, e: unknown): void {
    const r = this.#retry[which];
    r.failures++;
    r.skip = backoffRuns(r.failures);
    report.failures++;
    const msg = String((e as Error)?.message ?? e).split("\n")[0];
    this.#log(
      "maintenance",
      `${what} failed (${msg}); ingestion goes on, retrying after ${r.skip} more commit(s)`,
    );
  }

  /** Runs `step` unless it is backing off; a failure is logged and counted, never thrown. */
  async #step(
    which: StepName,
    what: string,
    report: MaintenanceReport,
    step: () => Promise<void>,
  ): Promise<void> {
    const r = this.#retry[which];
    if (r.skip > 0) {
      r.skip--;
      return;
    }
    try {
      await step();
      r.failures = 0;
    } catch (e) {
      this.#failed(which, what, report, e);
    }
  }

  /**
   * One maintenance run (after a commit): compaction when due, a checkpoint when one is missing,
   * log cleanup after a new checkpoint (or to continue an unfinished one). Never throws.
   */
  async run(): Promise<MaintenanceReport> {
    const report = this.#takeFinished();
    let settings: MaintenanceSettings;
    try {
      const snap = await this.#advance();
      checkWritable(snap.protocol, snap.schema, this.storage.url, snap.configuration);
      settings = maintenanceSettings(snap.configuration, this.#opts.overrides);
    } catch (e) {
      report.failures++;
      this.#log("maintenance", `cannot read the table (${(e as Error).message.split("\n")[0]})`);
      return report;
    }
    this.#settings = settings;
    const skip = settings.autoCompact ? compactionSkipReason(this.#snap!) : undefined;
    if (skip) {
      // Row tracking without materialized column names: the table is left alone (one line).
      if (!this.#skipLogged) this.#log("compact", skip);
      this.#skipLogged = true;
    } else if (this.#background(settings)) this.#startCompaction(settings);
    else if (settings.autoCompact) {
      await this.#step(
        "compaction",
        "auto-compaction",
        report,
        () => this.#compact(settings, report),
      );
    }
    await this.#step("checkpoint", "checkpoint", report, () => this.#checkpoint(settings, report));
    if (settings.logCleanup && this.#cleanupDue) {
      await this.#step("cleanup", "log cleanup", report, () => this.#cleanup(settings, report));
    }
    return report;
  }

  /**
   * Waits for the background compaction, if one runs, and returns what background compactions
   * did since the last report (a writer calls it before it stops). With `final` (the writer is
   * done, as at the end of an available-now run), one more compaction runs if the table is due,
   * so that the table it leaves is compacted as inline compaction would leave it.
   */
  async settle(opts: { final?: boolean } = {}): Promise<MaintenanceReport> {
    while (this.#compacting) await this.#compacting;
    const settings = this.#settings;
    if (opts.final && settings && this.#background(settings)) {
      try {
        await this.#advance();
        this.#startCompaction(settings);
      } catch (e) {
        this.#failed("compaction", "auto-compaction", this.#finished, e);
      }
      while (this.#compacting) await this.#compacting;
    }
    return this.#takeFinished();
  }

  #background(settings: MaintenanceSettings): boolean {
    return settings.autoCompact && settings.compactInBackground && !!this.#opts.compactor;
  }

  /** What background compactions did since the last report (and a fresh total). */
  #takeFinished(): MaintenanceReport {
    const r = this.#finished;
    this.#finished = emptyReport();
    return r;
  }

  /** Hands a due compaction to the compactor, unless one runs or the step is backing off. */
  #startCompaction(settings: MaintenanceSettings): void {
    if (this.#compacting) return;
    const r = this.#retry.compaction;
    if (r.skip > 0) {
      r.skip--;
      return;
    }
    const snap = this.#snap!;
    const keys = partitionValueKeys(snap, this.storage.url);
    if (planAutoCompaction(snap.files, keys, settings).length === 0) return;
    this.#compacting = this.#opts.compactor!(settings).then(
      (result) => {
        r.failures = 0;
        if (result) this.#record(result, this.#finished);
      },
      (e) => this.#failed("compaction", "auto-compaction", this.#finished, e),
    ).finally(() => this.#compacting = undefined);
  }

  /**
   * Compacts now if compaction is due on the table as it is now (the compactor's side of a
   * background compaction): plans from the latest commits, rewrites, commits. Undefined when
   * nothing was due; a failure throws.
   */
  async compactNow(settings: MaintenanceSettings): Promise<OptimizeResult | undefined> {
    const snap = await this.#advance();
    if (compactionSkipReason(snap)) return undefined;
    const bins = planAutoCompaction(
      snap.files,
      partitionValueKeys(snap, this.storage.url),
      settings,
    );
    if (bins.length === 0) return undefined;
    const hook = this.#opts.hook;
    const r = await compactBins(this.storage, snap, bins, {
      targetSize: settings.compactTargetSize,
      auto: true,
      beforeCommit: () => hook?.("before-compaction-commit"),
      afterCommit: () => hook?.("after-compaction-commit"),
    });
    await this.#advance();
    return r;
  }

  async #compact(settings: MaintenanceSettings, report: MaintenanceReport): Promise<void> {
    const r = await this.compactNow(settings);
    if (r) this.#record(r, report);
  }

  /** A compaction's result, counted and logged. */
  #record(r: OptimizeResult, report: MaintenanceReport): void {
    report.compactions++;
    report.filesCompacted += r.numFilesRemoved;
    report.filesWritten += r.numFilesAdded;
    report.bytesCompacted += r.numBytesRemoved;
    this.#log(
      "compact",
      `${r.numFilesRemoved} small files (${mb(r.numBytesRemoved)}) → ${r.numFilesAdded} ` +
        `(${mb(r.numBytesAdded)}), ${r.numRows} rows, version ${r.version}`,
    );
  }

  async #checkpoint(settings: MaintenanceSettings, report: MaintenanceReport): Promise<void> {
    const version = this.#snap!.version;
    if (this.#lastCheckpoint === undefined) this.#learnCheckpoint(-1);
    const known = () => Math.max(0, this.#lastCheckpoint ?? 0);
    if (version - known() < settings.checkpointInterval) return;
    // The writer may have written one since (at multiples of delta.checkpointInterval).
    const hint = await readLastCheckpoint(this.storage);
    if (
      hint && ((await this.storage.head(checkpointPath(hint.version))) ||
        (await listCheckpointsAt(this.storage, hint.version)).length > 0)
    ) {
      this.#learnCheckpoint(hint.version);
    }
    if (version - known() < settings.checkpointInterval) return;
    const s = await loadSnapshot(this.storage, { version });
    await writeCheckpoint(this.storage, checkpointStateOf(s), this.#now());
    this.#learnCheckpoint(version);
    report.checkpoints++;
    this.#log("checkpoint", `version ${version} (${s.files.length} files)`);
  }

  #learnCheckpoint(version: number): void {
    if (version > (this.#lastCheckpoint ?? -1)) {
      this.#lastCheckpoint = version;
      if (version >= 0) {
        this.#checkpoints.push(version);
        this.#cleanupDue = true;
      }
    }
  }

  async #cleanup(settings: MaintenanceSettings, report: MaintenanceReport): Promise<void> {
    const hook = this.#opts.hook;
    let deleted = 0;
    const remove = async (path: string) => {
      await this.storage.delete(path);
      if (deleted++ === 0) hook?.("during-log-cleanup");
    };
    const now = this.#now();
    // V2 checkpoint names are not known from their versions: list each time (after checkpoints).
    const v2 = (this.#snap?.protocol.writerFeatures ?? []).includes("v2Checkpoint");
    let sweep = false;
    if (this.#floor === undefined || v2) {
      // First cleanup of this process: one listing tells where the log starts and which
      // checkpoints exist.
      const listed = await this.storage.list(`${LOG_DIR}/`);
      const plan = planLogCleanup(listed, now, settings.logRetentionMs);
      sweep = listed.some((f) => isSidecarFile(f.path));
      this.#queue = plan.files.map((f) => f.path);
      this.#queueAt = 0;
      const known = new Set([...this.#checkpoints, ...plan.checkpoints]);
      this.#checkpoints = [...known].sort((a, b) => a - b);
      if (this.#checkpoints.length) this.#learnCheckpoint(this.#checkpoints.at(-1)!);
      this.#floor = plan.keepFrom ?? plan.earliest ?? 0;
      if (plan.keepFrom !== undefined) {
        this.#checkpoints = this.#checkpoints.filter((v) => v >= plan.keepFrom!);
      }
    } else {
      const keep = await this.#expiredCheckpoint(now - settings.logRetentionMs);
      if (keep !== undefined && keep > this.#floor) {
        const cps = new Set(this.#checkpoints);
        for (let v = this.#floor; v < keep; v++) {
          this.#queue.push(commitPath(v));
          if (cps.has(v)) this.#queue.push(checkpointPath(v));
        }
        this.#floor = keep;
        this.#checkpoints = this.#checkpoints.filter((v) => v >= keep);
      }
    }
    while (this.#queueAt < this.#queue.length && deleted < MAX_LOG_DELETES_PER_RUN) {
      await remove(this.#queue[this.#queueAt]);
      this.#queueAt++;
    }
    const left = this.#queue.length - this.#queueAt;
    if (left === 0) {
      this.#queue = [];
      this.#queueAt = 0;
      // Sidecars only once every expired checkpoint (that may use them) is gone.
      if (sweep) {
        const n = await cleanupSidecars(this.storage, {
          now,
          cutoff: now - settings.logRetentionMs,
        });
        deleted += n;
        if (n > 0) this.#log("cleanup", `${n} unreferenced checkpoint sidecars deleted`);
      }
    }
    report.logFilesRemoved += deleted;
    // Done until the next checkpoint, unless the limit left files for the next run.
    this.#cleanupDue = left > 0;
    if (deleted > 0) {
      this.#log(
        "cleanup",
        `${deleted} expired log files deleted; the log starts at version ${this.#floor}` +
          (left ? ` (${left} more next time)` : ""),
      );
    }
  }

  /**
   * The newest known checkpoint whose commit is older than `cutoff` (commit times grow with
   * versions, so a binary search over the known checkpoints reads a few file times only).
   */
  async #expiredCheckpoint(cutoff: number): Promise<number | undefined> {
    const cps = this.#checkpoints;
    let lo = 0, hi = cps.length - 1, found: number | undefined;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      const info = await this.storage.head(commitPath(cps[mid])) ??
        await this.storage.head(checkpointPath(cps[mid]));
      if (info && info.lastModified < cutoff) {
        found = cps[mid];
        lo = mid + 1;
      } else hi = mid - 1;
    }
    return found;
  }
}

function mb(bytes: number): string {
  return bytes >= 1e6 ? `${(bytes / 1e6).toFixed(1)} MB` : `${(bytes / 1e3).toFixed(1)} kB`;
}
