/**
 * Table state at a version: replay from the newest checkpoint at or below it plus the JSON commits
 * after, with reader-feature checks that name what is unsupported. The log listing picks the
 * checkpoint (`_last_checkpoint` is not read: it is only a hint). A checkpoint that does not read
 * whole (truncated, unparseable, a sidecar missing) is skipped for the one before it, or for the
 * commits from 0, when every commit after that start is there, as Spark does; otherwise its
 * CorruptLogError stands.
 *
 * Commit times (for time travel by timestamp and for history), as Spark and PROTOCOL.md define
 * them: the commit's `commitInfo.inCommitTimestamp` for commits at or after the version where the
 * table enabled in-commit timestamps (`delta.enableInCommitTimestamps`, from
 * `delta.inCommitTimestampEnablementVersion`, or from version 0 when that is absent); else the
 * JSON commit file's modification time, made monotonic like Spark does (a time not above the
 * previous one becomes previous + 1 ms). `commitInfo.timestamp` (the writer's clock) is not used:
 * so copying a table without in-commit timestamps changes where timestamps travel to, as in Spark.
 * A snapshot's `commitTimestamps` follow the same rule, except that {@link advanceSnapshot} takes
 * `commitInfo.timestamp` for commits without an in-commit timestamp (no request per commit; they
 * are for display).
 *
 * @module
 */
import type { Storage } from "../storage/storage.ts";
import type {
  Action,
  AddAction,
  CommitInfo,
  DomainMetadata,
  Long,
  Metadata,
  Protocol,
  RemoveAction,
  Txn,
} from "./actions.ts";
import { parseInterval, readCheckpoint } from "./checkpoint.ts";
import {
  CorruptLogError,
  TableNotFoundError,
  UnsupportedFeatureError,
  VersionNotFoundError,
} from "./errors.ts";
import {
  commitPath,
  findCommitInfo,
  listLog,
  type LogFile,
  type LogListing,
  mapLimit,
  readCommit,
  readCommitsAfter,
} from "./log.ts";
import { parseSchemaString, type StructType } from "./schema.ts";
import { refuseComputedColumns, SUPPORTED_WRITER_FEATURES } from "./features.ts";
import { checkColumnMapping, columnMappingMode } from "./column_mapping.ts";
import { checkIcebergCompat } from "./iceberg_compat.ts";

/** Reader features this library implements. */
export const SUPPORTED_READER_FEATURES: ReadonlySet<string> = new Set([
  "timestampNtz",
  "vacuumProtocolCheck",
  // scan.ts applies deletion vectors and maps physical column names. Tables with either are
  // writable too (features.ts).
  "deletionVectors",
  "columnMapping",
  // UUID-named and classic V2 checkpoints with sidecars (checkpoint.ts).
  "v2Checkpoint",
  // Files written before a type change hold the narrower type: scan.ts castData widens them.
  "typeWidening",
]);
export { SUPPORTED_WRITER_FEATURES } from "./features.ts";

/** The state of a table at one version. */
export interface Snapshot {
  /** Storage of the table root. */
  readonly storage: Storage;
  /** Table version this snapshot reflects. */
  readonly version: number;
  /** The protocol action in force (reader/writer versions and features). */
  readonly protocol: Protocol;
  /** The metaData action in force. */
  readonly metadata: Metadata;
  /** Parsed table schema. */
  readonly schema: StructType;
  /** Partition column names (metaData.partitionColumns). */
  readonly partitionColumns: string[];
  /** Table properties (metaData.configuration). */
  readonly configuration: Record<string, string>;
  /** Live data files (adds not removed), in log order. */
  readonly files: AddAction[];
  /** Removed files still remembered as tombstones. */
  readonly tombstones: RemoveAction[];
  /** Latest txn per appId. */
  readonly txns: Map<string, Txn>;
  /** Live domain metadata (not removed), by domain (e.g. `delta.clustering`). */
  readonly domainMetadata: Map<string, DomainMetadata>;
  /**
   * Commit time (ms) of each JSON commit replayed into this snapshot, by version (after
   * {@link advanceSnapshot}, the last 1,000 at most).
   */
  readonly commitTimestamps: Map<number, number>;
  /** Checkpoint version the replay started from, if any. */
  readonly checkpointVersion: number | undefined;
  /** The latest txn version an application committed, or undefined. */
  txnVersion(appId: string): Long | undefined;
}

/** Where to load a snapshot: latest (default), a version, or a timestamp (ms, Date or ISO text). */
export interface SnapshotAt {
  version?: number;
  timestamp?: number | Date | string;
  /** Start from the newest checkpoint (default true); false replays every JSON commit from 0. */
  useCheckpoints?: boolean;
}

/** Replay state, applied action by action. */
export class LogReplay {
  protocol?: Protocol;
  metadata?: Metadata;
  readonly files = new Map<string, AddAction>();
  readonly tombstones = new Map<string, RemoveAction>();
  readonly txns = new Map<string, Txn>();
  readonly domainMetadata = new Map<string, DomainMetadata>();

  /** Apply one action (commitInfo and unknown kinds are ignored). */
  apply(a: Action): void {
    if ("add" in a) {
      const add = a.add as AddAction;
      const k = replayKey(add);
      this.files.delete(k); // re-add moves it to the end (log order)
      this.files.set(k, add);
      this.tombstones.delete(k);
    } else if ("remove" in a) {
      const r = a.remove as RemoveAction;
      const k = replayKey(r);
      this.files.delete(k);
      this.tombstones.set(k, r);
    } else if ("txn" in a) {
      const t = a.txn as Txn;
      this.txns.set(t.appId, t);
    } else if ("domainMetadata" in a) {
      const d = a.domainMetadata as DomainMetadata;
      if (d.removed) this.domainMetadata.delete(d.domain);
      else this.domainMetadata.set(d.domain, d);
    } else if ("metaData" in a) {
      this.metadata = a.metaData as Metadata;
    } else if ("protocol" in a) {
      this.protocol = a.protocol as Protocol;
    }
  }
}

/** Key for a data file path: decoded once, so differently encoded spellings compare equal. */
export function fileKey(path: string): string {
  try {
    return decodeURIComponent(path);
  } catch {
    return path;
  }
}

/**
 * The protocol's key of a logical file: its decoded path plus the id of its deletion vector, so a
 * remove of (path, old DV) and an add of (path, new DV) in one commit leave the new one live.
 */
export function replayKey(action: { path: string; deletionVector?: unknown }): string {
  const dv = action.deletionVector as
    | { storageType?: string; pathOrInlineDv?: string; offset?: number }
    | null
    | undefined;
  const key = fileKey(action.path);
  return dv ? `${key}\u0000${dv.storageType}${dv.pathOrInlineDv}@${dv.offset ?? ""}` : key;
}

/** Refuse to read a table whose protocol needs reader features we lack (names the feature). */
export function checkReadable(protocol: Protocol, table: string): void {
  const r = protocol.minReaderVersion;
  // Reader version 2 means column mapping, which scan.ts reads.
  if (r > 3) throw new UnsupportedFeatureError(`readerVersion ${r}`, "read", table);
  if (r === 3) {
    for (const f of protocol.readerFeatures ?? []) {
      if (!SUPPORTED_READER_FEATURES.has(f)) throw new UnsupportedFeatureError(f, "read", table);
    }
  }
}

/**
 * Refuse to write a table whose protocol needs writer features we lack (names the feature).
 * CHECK constraints and column invariants are not judged here (OPTIMIZE and VACUUM write no new
 * rows): writes of rows compile them (constraints.ts `tableConstraints`), refusing the ones
 * outside the SQL subset by name, and check every row.
 */
export function checkWritable(
  protocol: Protocol,
  schema: StructType,
  table: string,
  configuration: Record<string, string> = {},
): void {
  checkReadable(protocol, table);
  const w = protocol.minWriterVersion;
  if (w > 7) throw new UnsupportedFeatureError(`writerVersion ${w}`, "write", table);
  refuseComputedColumns(protocol, schema, table);
  // Writer versions 3 (CHECK constraints), 4 (change data feed, without generated columns) and
  // 5 (column mapping) are enforced or honoured by appends (constraints.ts, column_mapping.ts).
  if (w === 6) throw new UnsupportedFeatureError("identityColumns", "write", table);
  if (w === 7) {
    for (const f of protocol.writerFeatures ?? []) {
      if (!SUPPORTED_WRITER_FEATURES.has(f)) throw new UnsupportedFeatureError(f, "write", table);
    }
  }
  checkColumnMapping(schema, columnMappingMode(protocol, configuration, table), table);
  checkIcebergCompat(protocol, schema, configuration, table);
}

/** Make commit times monotonic the way Spark does: a time ≤ the previous becomes previous + 1 ms. */
export function monotonic(times: number[]): number[] {
  const out: number[] = [];
  for (const t of times) {
    out.push(out.length && t <= out[out.length - 1] ? out[out.length - 1] + 1 : t);
  }
  return out;
}

/**
 * The first version whose commit time is its in-commit timestamp, by a table configuration:
 * undefined when in-commit timestamps are off, else `delta.inCommitTimestampEnablementVersion`
 * (set when they were enabled after the table was created), else 0.
 *
 * @example
 * ```ts
 * import { inCommitTimestampsFrom } from "./snapshot.ts";
 * inCommitTimestampsFrom({}); // undefined
 * inCommitTimestampsFrom({ "delta.enableInCommitTimestamps": "true" }); // 0
 * inCommitTimestampsFrom({
 *   "delta.enableInCommitTimestamps": "true",
 *   "delta.inCommitTimestampEnablementVersion": "3",
 * }); // 3
 * ```
 */
export function inCommitTimestampsFrom(
  configuration: Record<string, string> | undefined,
): number | undefined {
  if (configuration?.["delta.enableInCommitTimestamps"] !== "true") return undefined;
  const v = Number(configuration["delta.inCommitTimestampEnablementVersion"] ?? 0);
  return Number.isInteger(v) && v >= 0 ? v : 0;
}

/**
 * Time of one commit (before the monotonic adjustment): its `commitInfo.inCommitTimestamp` when
 * the commit is at or after `ictFrom` (see {@link inCommitTimestampsFrom}), else the commit
 * file's mtime.
 *
 * @example
 * ```ts
 * import { commitTime } from "./snapshot.ts";
 * const file = {
 *   version: 4,
 *   file: { path: "_delta_log/00000000000000000004.json", size: 1, lastModified: 5000 },
 * };
 * commitTime({ timestamp: 1000, inCommitTimestamp: 2000 }, file, 3); // 2000
 * commitTime({ timestamp: 1000, inCommitTimestamp: 2000 }, file, undefined); // 5000
 * ```
 */
export function commitTime(
  info: CommitInfo | undefined,
  file: LogFile,
  ictFrom: number | undefined,
): number {
  const ict = info?.inCommitTimestamp;
  if (ictFrom !== undefined && file.version >= ictFrom && typeof ict === "number") return ict;
  return file.file.lastModified;
}

/** One retained commit with its (monotonic) time and commitInfo. */
export interface CommitEntry {
  version: number;
  timestamp: number;
  commitInfo: CommitInfo | undefined;
}

/**
 * Read the commitInfo and monotonic time of every retained JSON commit (ascending). Whether
 * in-commit timestamps are on comes from the newest metaData among those commits; when the
 * retained commits hold none (it is in a checkpoint), a commit's in-commit timestamp counts
 * wherever it has one (writers only write it while the feature is on).
 */
export async function readTimeline(storage: Storage, listing?: LogListing): Promise<CommitEntry[]> {
  const l = listing ?? await listLog(storage);
  let config: { version: number; configuration: Record<string, string> } | undefined;
  const infos = await mapLimit(
    l.commits,
    16,
    async (c) => {
      const actions = await readCommit(storage, c.version);
      for (const a of actions) {
        if ("metaData" in a && (!config || c.version > config.version)) {
          config = {
            version: c.version,
            configuration: (a.metaData as Metadata).configuration ?? {},
          };
        }
      }
      return findCommitInfo(actions);
    },
  );
  const ictFrom = config ? inCommitTimestampsFrom(config.configuration) : 0;
  const times = monotonic(l.commits.map((c, i) => commitTime(infos[i], c, ictFrom)));
  return l.commits.map((c, i) => ({
    version: c.version,
    timestamp: times[i],
    commitInfo: infos[i],
  }));
}

function toMillis(t: number | Date | string): number {
  if (typeof t === "number") return t;
  const ms = t instanceof Date ? t.getTime() : Date.parse(t);
  if (Number.isNaN(ms)) {
    throw new VersionNotFoundError(`'${t}' is not a valid timestamp; use ISO 8601`);
  }
  return ms;
}

/** The latest version committed at or before `timestamp`; error before the first retained commit. */
export async function versionAtTimestamp(
  storage: Storage,
  timestamp: number | Date | string,
  listing?: LogListing,
): Promise<number> {
  const ms = toMillis(timestamp);
  const timeline = await readTimeline(storage, listing);
  if (timeline.length === 0) throw new TableNotFoundError(`no Delta table at '${storage.url}'`);
  let found: number | undefined;
  for (const e of timeline) if (e.timestamp <= ms) found = e.version;
  if (found === undefined) {
    throw new VersionNotFoundError(
      `timestamp ${new Date(ms).toISOString()} is before the first retained commit ` +
        `(version ${timeline[0].version} at ${new Date(timeline[0].timestamp).toISOString()})`,
    );
  }
  return found;
}

/**
 * Load the snapshot of a table at the latest version, a version, or a timestamp.
 *
 * @example
 * ```ts
 * import * as arrow from "apache-arrow";
 * import { openStorage } from "../storage/mod.ts";
 * import { loadSnapshot } from "./snapshot.ts";
 * import { createTable } from "./table.ts";
 * const dir = await Deno.makeTempDir();
 * await createTable(dir, new arrow.Schema([new arrow.Field("id", new arrow.Int64())]));
 * const snap = await loadSnapshot(openStorage(dir), { version: 0 });
 * snap.files.length; // 0
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export async function loadSnapshot(storage: Storage, at: SnapshotAt = {}): Promise<Snapshot> {
  // The listing decides where to start; `_last_checkpoint` is not read (it is only a hint, and
  // one naming a checkpoint that is gone, after a crash or a cleanup, must not fail a read).
  const listing = await listLog(storage);
  if (listing.commits.length === 0 && listing.checkpoints.length === 0) {
    throw new TableNotFoundError(
      `no Delta table at '${storage.url}' (no _delta_log/*.json); create it with createTable`,
    );
  }
  const latest = Math.max(
    listing.commits.at(-1)?.version ?? -1,
    listing.checkpoints.at(-1)?.version ?? -1,
  );
  let target = latest;
  if (at.version !== undefined) {
    if (!Number.isInteger(at.version) || at.version < 0 || at.version > latest) {
      throw new VersionNotFoundError(
        `version ${at.version} does not exist in '${storage.url}' (latest is ${latest})`,
      );
    }
    target = at.version;
  } else if (at.timestamp !== undefined) {
    target = await versionAtTimestamp(storage, at.timestamp, listing);
  }

  const byVersion = new Map(listing.commits.map((c) => [c.version, c]));
  /** The first version in [from, target] without a commit file, or undefined. */
  const gapFrom = (from: number) => {
    for (let v = from; v <= target; v++) if (!byVersion.has(v)) return v;
    return undefined;
  };
  // The newest checkpoint at or below the target that reads whole; a damaged one (truncated,
  // unreadable, a sidecar missing) falls back to the one before it, or to the commits from 0,
  // as long as the commits after it are all there.
  const candidates = at.useCheckpoints === false
    ? []
    : listing.checkpoints.filter((c) => c.version <= target);
  let cp: (typeof candidates)[number] | undefined;
  let cpActions: Action[] = [];
  let damaged: unknown;
  for (let k = candidates.length - 1; k >= 0; k--) {
    if (damaged !== undefined && gapFrom(candidates[k].version + 1) !== undefined) break;
    try {
      cpActions = await readCheckpoint(storage, candidates[k].version, candidates[k].file.path);
      cp = candidates[k];
      break;
    } catch (e) {
      damaged ??= e;
    }
  }
  if (damaged !== undefined && !cp && gapFrom(0) !== undefined) throw damaged;
  const start = cp ? cp.version + 1 : 0;
  const needed: LogFile[] = [];
  for (let v = start; v <= target; v++) {
    const c = byVersion.get(v);
    if (!c) {
      const earliest = listing.commits[0]?.version;
      if (!cp && earliest !== undefined && v === 0 && earliest > 0) {
        throw new VersionNotFoundError(
          `version ${target} cannot be rebuilt: commits before ${earliest} were cleaned up and no ` +
            `checkpoint at or below ${target} exists`,
        );
      }
      throw new CorruptLogError(commitPath(v), "is missing: version gap in the log");
    }
    needed.push(c);
  }
  const replay = new LogReplay();
  for (const a of cpActions) replay.apply(a);
  const commits = await mapLimit(needed, 16, (c) => readCommit(storage, c.version));
  for (const actions of commits) for (const a of actions) replay.apply(a);
  const ictFrom = inCommitTimestampsFrom(replay.metadata?.configuration);
  const times = monotonic(
    commits.map((actions, i) => commitTime(findCommitInfo(actions), needed[i], ictFrom)),
  );
  const commitTimestamps = new Map(needed.map((c, i) => [c.version, times[i]]));
  const firstFile = cp ? cp.file.path : commitPath(0);
  return fromReplay(storage, replay, target, commitTimestamps, cp?.version, firstFile);
}

/** The snapshot a finished replay describes (checks that the table is readable). */
function fromReplay(
  storage: Storage,
  replay: LogReplay,
  version: number,
  commitTimestamps: Map<number, number>,
  checkpointVersion: number | undefined,
  firstFile: string,
): Snapshot {
  if (!replay.protocol) throw new CorruptLogError(firstFile, "no protocol action found in the log");
  if (!replay.metadata) throw new CorruptLogError(firstFile, "no metaData action found in the log");
  checkReadable(replay.protocol, storage.url);
  let schema: StructType;
  try {
    schema = parseSchemaString(replay.metadata.schemaString);
  } catch (e) {
    throw new CorruptLogError(firstFile, `metaData.schemaString: ${(e as Error).message}`, {
      cause: e,
    });
  }
  const txns = replay.txns;
  return {
    storage,
    version,
    protocol: replay.protocol,
    metadata: replay.metadata,
    schema,
    partitionColumns: replay.metadata.partitionColumns ?? [],
    configuration: replay.metadata.configuration ?? {},
    files: [...replay.files.values()],
    tombstones: [...replay.tombstones.values()],
    txns,
    domainMetadata: replay.domainMetadata,
    commitTimestamps,
    checkpointVersion,
    txnVersion: (appId: string) => txns.get(appId)?.version,
  };
}

/** Default `delta.deletedFileRetentionDuration`: 1 week, as Delta. */
export const DEFAULT_DELETED_FILE_RETENTION_MS = 7 * 86_400_000;

/** How long tombstones are kept: `delta.deletedFileRetentionDuration`, default 1 week. */
export function tombstoneRetentionMs(configuration: Record<string, string> | undefined): number {
  return parseInterval(configuration?.["delta.deletedFileRetentionDuration"]) ??
    DEFAULT_DELETED_FILE_RETENTION_MS;
}

/** Commit times an advanced snapshot keeps. */
const MAX_ADVANCED_TIMESTAMPS = 1000;

/**
 * The latest snapshot, reached from an earlier one of the same table by reading only the commits
 * after it (`version + 1`, `+ 2`, … until one is missing): no listing of `_delta_log`, so a
 * long-running writer's cost per commit stays flat however long the log grows (on ADLS a listing
 * is a paged request per 5,000 files). When no newer commit exists, the earlier snapshot's own
 * commit must still be there (else the table was replaced or its log cleaned: a full load).
 * `storage` defaults to the earlier snapshot's; the result is a new snapshot (`prev` is untouched).
 *
 * @example
 * ```ts
 * import * as arrow from "apache-arrow";
 * import { advanceSnapshot, loadSnapshot } from "./snapshot.ts";
 * import { createTable } from "./table.ts";
 * const dir = await Deno.makeTempDir();
 * const rows = arrow.tableFromArrays({ id: new BigInt64Array([1n]) });
 * const t = await createTable(dir, rows.schema);
 * let snap = await loadSnapshot(t.storage); // version 0
 * await t.append(rows); // another writer commits version 1
 * snap = await advanceSnapshot(snap); // snap.version === 1
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export async function advanceSnapshot(prev: Snapshot, storage?: Storage): Promise<Snapshot> {
  const st = storage ?? prev.storage;
  const news = await readCommitsAfter(st, prev.version);
  if (news.length === 0) {
    if (!(await st.head(commitPath(prev.version)))) return loadSnapshot(st);
    return prev;
  }
  const replay = new LogReplay();
  replay.protocol = prev.protocol;
  replay.metadata = prev.metadata;
  for (const f of prev.files) replay.files.set(replayKey(f), f);
  for (const [k, t] of prev.txns) replay.txns.set(k, t);
  for (const [k, d] of prev.domainMetadata) replay.domainMetadata.set(k, d);
  // Tombstones past delta.deletedFileRetentionDuration are dropped, as a checkpoint drops them:
  // a long-running writer that compacts (one tombstone per file it replaces) stays bounded.
  const horizon = Date.now() - tombstoneRetentionMs(prev.configuration);
  for (const t of prev.tombstones) {
    if ((t.deletionTimestamp ?? 0) > horizon) replay.tombstones.set(replayKey(t), t);
  }
  const timestamps = new Map(prev.commitTimestamps);
  let last = Math.max(-Infinity, ...prev.commitTimestamps.values());
  for (const c of news) for (const a of c.actions) replay.apply(a);
  const ictFrom = inCommitTimestampsFrom(replay.metadata?.configuration);
  for (const c of news) {
    const info = findCommitInfo(c.actions);
    const ict = ictFrom !== undefined && c.version >= ictFrom ? info?.inCommitTimestamp : undefined;
    let t = ict ?? info?.timestamp;
    if (typeof t !== "number") t = (await st.head(commitPath(c.version)))?.lastModified ?? last;
    // Monotonic, as loadSnapshot makes them.
    last = t <= last ? last + 1 : t;
    timestamps.set(c.version, last);
  }
  // A long-running writer advances forever: keep the newest times only.
  for (const v of timestamps.keys()) {
    if (timestamps.size <= MAX_ADVANCED_TIMESTAMPS) break;
    timestamps.delete(v);
  }
  return fromReplay(
    st,
    replay,
    news.at(-1)!.version,
    timestamps,
    prev.checkpointVersion,
    commitPath(news[0].version),
  );
}
