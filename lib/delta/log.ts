/**
 * The `_delta_log` directory: file names, listing versions and checkpoints (classic
 * `<v>.checkpoint.parquet` and, on tables with the `v2Checkpoint` feature, UUID-named
 * `<v>.checkpoint.<uuid>.{json,parquet}` with their sidecars in `_delta_log/_sidecars/`), reading
 * commits and `_last_checkpoint`, with errors that name the damaged file.
 *
 * @module
 */
import { NotFoundError } from "../storage/errors.ts";
import type { FileInfo, Storage } from "../storage/storage.ts";
import {
  type Action,
  ActionParseError,
  type CommitInfo,
  type Long,
  parseActions,
  parseJsonLong,
  toLong,
} from "./actions.ts";
import { CorruptLogError } from "./errors.ts";

/** The log directory name under the table root. */
export const LOG_DIR = "_delta_log";
/** Path of the `_last_checkpoint` hint file. */
export const LAST_CHECKPOINT = `${LOG_DIR}/_last_checkpoint`;

/** Zero-pad a version to the 20 digits used in log file names. */
export function padVersion(version: number): string {
  return String(version).padStart(20, "0");
}

/** Path of the JSON commit file of `version`, e.g. `_delta_log/00000000000000000007.json`. */
export function commitPath(version: number): string {
  return `${LOG_DIR}/${padVersion(version)}.json`;
}

/** Path of the classic single-file checkpoint of `version`. */
export function checkpointPath(version: number): string {
  return `${LOG_DIR}/${padVersion(version)}.checkpoint.parquet`;
}

/** The directory of V2 checkpoint sidecar files. */
export const SIDECAR_DIR = `${LOG_DIR}/_sidecars`;

/**
 * Path of a UUID-named (V2) checkpoint of `version`, e.g.
 * `_delta_log/00000000000000000010.checkpoint.80a083e8-7026-4e79-81be-64bd76c43a11.parquet`.
 *
 * @example
 * ```ts
 * import { uuidCheckpointPath } from "./log.ts";
 * uuidCheckpointPath(10, "80a083e8-7026-4e79-81be-64bd76c43a11", "json");
 * // "_delta_log/00000000000000000010.checkpoint.80a083e8-7026-4e79-81be-64bd76c43a11.json"
 * ```
 */
export function uuidCheckpointPath(
  version: number,
  uuid: string,
  format: "json" | "parquet",
): string {
  return `${LOG_DIR}/${padVersion(version)}.checkpoint.${uuid}.${format}`;
}

/**
 * Path of the sidecar a checkpoint's `sidecar` action names: sidecars always live in
 * `_delta_log/_sidecars/`, so only the (URI-decoded) file name of `path` counts, whether the
 * action holds a bare name (as the protocol recommends) or a longer path or URI.
 *
 * @example
 * ```ts
 * import { sidecarPath } from "./log.ts";
 * sidecarPath("016ae953-37a9-438e-8683-9a9a4a79a395.parquet");
 * // "_delta_log/_sidecars/016ae953-37a9-438e-8683-9a9a4a79a395.parquet"
 * ```
 */
export function sidecarPath(path: string): string {
  const name = path.split("/").filter((s) => s !== "").at(-1) ?? path;
  let decoded = name;
  try {
    decoded = decodeURIComponent(name);
  } catch { /* not percent-encoded */ }
  return `${SIDECAR_DIR}/${decoded}`;
}

/** A log file found by {@link listLog}. */
export interface LogFile {
  version: number;
  file: FileInfo;
  /** Checkpoints only: UUID-named (V2 spec) or classic `<v>.checkpoint.parquet`. */
  checkpoint?: "classic" | "uuid";
}

/**
 * What `_delta_log` holds: commits and single-file checkpoints (classic and UUID-named), each
 * ascending by version; at one version a classic checkpoint comes before UUID-named ones.
 */
export interface LogListing {
  commits: LogFile[];
  checkpoints: LogFile[];
}

const COMMIT_RE = /^(\d{20})\.json$/;
const CHECKPOINT_RE = /^(\d{20})\.checkpoint\.parquet$/;
const UUID_CHECKPOINT_RE =
  /^(\d{20})\.checkpoint\.[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\.(?:json|parquet)$/;

/**
 * What a `_delta_log` file name is, for the checkpoints a reader can use: a classic single-file
 * checkpoint or a UUID-named V2 checkpoint (multi-part checkpoints and other files: undefined).
 *
 * @example
 * ```ts
 * import { checkpointKind } from "./log.ts";
 * checkpointKind("00000000000000000002.checkpoint.parquet"); // { version: 2, kind: "classic" }
 * checkpointKind("00000000000000000002.checkpoint.3a0d65cd-4056-49b8-937b-95f9e3ee90e5.json");
 * // { version: 2, kind: "uuid" }
 * ```
 */
export function checkpointKind(
  name: string,
): { version: number; kind: "classic" | "uuid" } | undefined {
  let m = CHECKPOINT_RE.exec(name);
  if (m) return { version: Number(m[1]), kind: "classic" };
  m = UUID_CHECKPOINT_RE.exec(name);
  if (m) return { version: Number(m[1]), kind: "uuid" };
  return undefined;
}

/**
 * List `_delta_log`: JSON commits and single-file checkpoints, classic and UUID-named (temp,
 * .crc, multi-part, sidecars and others ignored).
 */
export async function listLog(storage: Storage): Promise<LogListing> {
  const files = await storage.list(`${LOG_DIR}/`);
  const commits: LogFile[] = [];
  const checkpoints: LogFile[] = [];
  for (const f of files) {
    const name = f.path.slice(LOG_DIR.length + 1);
    const m = COMMIT_RE.exec(name);
    if (m) {
      commits.push({ version: Number(m[1]), file: f });
      continue;
    }
    const cp = checkpointKind(name);
    if (cp) checkpoints.push({ version: cp.version, file: f, checkpoint: cp.kind });
  }
  commits.sort((a, b) => a.version - b.version);
  const rank = (c: LogFile) => (c.checkpoint === "classic" ? 0 : 1);
  checkpoints.sort((a, b) =>
    a.version - b.version || rank(a) - rank(b) || (a.file.path < b.file.path ? -1 : 1)
  );
  return { commits, checkpoints };
}

/**
 * The single-file checkpoints (classic and UUID-named) of one version, found by listing only the
 * names that start with it.
 *
 * @example
 * ```ts
 * import * as arrow from "apache-arrow";
 * import { listCheckpointsAt } from "./log.ts";
 * import { createTable } from "./table.ts";
 * const dir = await Deno.makeTempDir();
 * const t = await createTable(dir, new arrow.Schema([new arrow.Field("id", new arrow.Int64())]));
 * (await listCheckpointsAt(t.storage, 0)).length; // 0: no checkpoint yet
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export async function listCheckpointsAt(storage: Storage, version: number): Promise<LogFile[]> {
  const files = await storage.list(`${LOG_DIR}/${padVersion(version)}.checkpoint.`);
  const out: LogFile[] = [];
  for (const f of files) {
    const cp = checkpointKind(f.path.slice(LOG_DIR.length + 1));
    if (cp && cp.version === version) out.push({ version, file: f, checkpoint: cp.kind });
  }
  return out;
}

/** Read and parse the commit of `version`; a missing or damaged file is a CorruptLogError naming it. */
export async function readCommit(storage: Storage, version: number): Promise<Action[]> {
  const path = commitPath(version);
  let bytes: Uint8Array;
  try {
    bytes = await storage.get(path);
  } catch (e) {
    if (e instanceof NotFoundError) {
      throw new CorruptLogError(
        path,
        "the commit file is missing (version gap or concurrent cleanup)",
        {
          cause: e,
        },
      );
    }
    throw e;
  }
  return parseCommitBytes(path, bytes);
}

/**
 * The commits after `version`, read one by one until the first that does not exist (no listing),
 * at most `limit` of them: how a reader follows a table it already knows.
 */
export async function readCommitsAfter(
  storage: Storage,
  version: number,
  limit = Infinity,
): Promise<{ version: number; actions: Action[] }[]> {
  const out: { version: number; actions: Action[] }[] = [];
  for (let v = version + 1; out.length < limit; v++) {
    let bytes: Uint8Array;
    try {
      bytes = await storage.get(commitPath(v));
    } catch (e) {
      if (e instanceof NotFoundError) break;
      throw e;
    }
    out.push({ version: v, actions: parseCommitBytes(commitPath(v), bytes) });
  }
  return out;
}

/** Parse commit bytes read from `path`; errors name the file and line. */
export function parseCommitBytes(path: string, bytes: Uint8Array): Action[] {
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch (e) {
    throw new CorruptLogError(path, "not UTF-8 text", { cause: e });
  }
  try {
    return parseActions(text);
  } catch (e) {
    if (e instanceof ActionParseError) throw new CorruptLogError(path, e.message, { cause: e });
    throw e;
  }
}

/**
 * Contents of `_delta_log/_last_checkpoint`. Other engines may add `checkpointSchema`, `tags`,
 * `checksum` and, for V2 checkpoints, `v2Checkpoint` (the checkpoint's file name and, below a
 * threshold, its non-file actions and sidecars); readers here use only `version` and find the
 * checkpoint file itself by listing.
 */
export interface LastCheckpoint {
  version: number;
  size: Long;
  parts?: number;
  sizeInBytes?: Long;
  numOfAddFiles?: Long;
  [key: string]: unknown;
}

/**
 * Read `_last_checkpoint`: undefined when absent or not a valid hint (unparseable JSON, no integer
 * version), in which case readers fall back to listing the log.
 */
export async function readLastCheckpoint(storage: Storage): Promise<LastCheckpoint | undefined> {
  let bytes: Uint8Array;
  try {
    bytes = await storage.get(LAST_CHECKPOINT);
  } catch (e) {
    if (e instanceof NotFoundError) return undefined;
    throw e;
  }
  let v: unknown;
  try {
    v = parseJsonLong(new TextDecoder().decode(bytes));
  } catch {
    return undefined;
  }
  const o = v as LastCheckpoint | null;
  const valid = !!o && typeof o === "object" && typeof o.version === "number" &&
    Number.isInteger(o.version);
  return valid ? o! : undefined;
}

/** Write `_last_checkpoint` (atomic replace). */
export async function writeLastCheckpoint(storage: Storage, info: LastCheckpoint): Promise<void> {
  const body: Record<string, unknown> = { ...info, size: toLong(info.size) };
  await storage.put(
    LAST_CHECKPOINT,
    new TextEncoder().encode(
      JSON.stringify(body, (_k, v) => (typeof v === "bigint" ? Number(v) : v)),
    ),
  );
}

/** The commitInfo action of a commit, if it has one. */
export function findCommitInfo(actions: Action[]): CommitInfo | undefined {
  for (const a of actions) {
    if ("commitInfo" in a) return (a as { commitInfo: CommitInfo }).commitInfo;
  }
  return undefined;
}

/** Run `fn` over `items` with at most `limit` promises in flight; results keep input order. */
export async function mapLimit<T, R>(
  items: T[],
  limit: number,
  fn: (item: T, index: number) => Promise<R>,
): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i], i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}
