/**
 * The `_delta_log` directory: file names, listing versions and checkpoints, reading commits and
 * `_last_checkpoint`, with errors that name the damaged file.
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

/** A log file found by {@link listLog}. */
export interface LogFile {
  version: number;
  file: FileInfo;
}

/** What `_delta_log` holds: commits and classic checkpoints, each ascending by version. */
export interface LogListing {
  commits: LogFile[];
  checkpoints: LogFile[];
}

const COMMIT_RE = /^(\d{20})\.json$/;
const CHECKPOINT_RE = /^(\d{20})\.checkpoint\.parquet$/;

/** List `_delta_log`: JSON commits and classic checkpoints (temp, .crc, multi-part and others ignored). */
export async function listLog(storage: Storage): Promise<LogListing> {
  const files = await storage.list(`${LOG_DIR}/`);
  const commits: LogFile[] = [];
  const checkpoints: LogFile[] = [];
  for (const f of files) {
    const name = f.path.slice(LOG_DIR.length + 1);
    let m = COMMIT_RE.exec(name);
    if (m) {
      commits.push({ version: Number(m[1]), file: f });
      continue;
    }
    m = CHECKPOINT_RE.exec(name);
    if (m) checkpoints.push({ version: Number(m[1]), file: f });
  }
  commits.sort((a, b) => a.version - b.version);
  checkpoints.sort((a, b) => a.version - b.version);
  return { commits, checkpoints };
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

/** Contents of `_delta_log/_last_checkpoint`. */
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
