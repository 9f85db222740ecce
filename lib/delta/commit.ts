/**
 * Atomic, optimistic commits: write `<readVersion+1>.json` with put-if-absent; on a lost race
 * read the winning commits, fail on real conflicts, otherwise retry at the next free version with
 * exponential backoff and jitter.
 *
 * @module
 */
import { backoffDelay, sleep } from "../backoff.ts";
import type { Storage } from "../storage/storage.ts";
import {
  type Action,
  type AddAction,
  type CommitInfo,
  ENGINE_INFO,
  type Long,
  type RemoveAction,
  sameLong,
  serializeActions,
  type Txn,
} from "./actions.ts";
import {
  CommitRetriesExhaustedError,
  ConcurrentModificationError,
  TableExistsError,
  TxnConflictError,
} from "./errors.ts";
import { commitPath, findCommitInfo, listLog, readCommit } from "./log.ts";
import { fileKey } from "./snapshot.ts";
import { nextInCommitTimestamp } from "./features.ts";
import { assignRowIds, highWaterMarkAfter } from "./row_tracking.ts";

/** Options for {@link commit}. */
export interface CommitOptions {
  /** Attempts before giving up (default 15). */
  maxAttempts?: number;
  /** First backoff delay in ms (default 25); doubles per attempt, with jitter. */
  baseDelayMs?: number;
  /** Longest backoff delay in ms (default 2000). */
  maxDelayMs?: number;
  /**
   * Exactly-once check: for each appId, the txn version the writer read (undefined = none).
   * If the table's version differs at commit time, the commit fails with TxnConflictError.
   */
  expectedTxns?: Record<string, Long | undefined>;
  /** Current txn versions of the table at `readVersion` (for the expectedTxns check). */
  currentTxns?: Map<string, Txn>;
  /**
   * True when the commit depends on the whole table as read (overwrite): any concurrent data
   * change conflicts. False for blind appends and compaction.
   */
  readsWholeTable?: boolean;
  /**
   * The table has in-commit timestamps (`delta.enableInCommitTimestamps`): each attempt writes
   * `commitInfo.inCommitTimestamp` = max(now, the previous commit's + 1 ms), the previous commit
   * being re-read on every retry.
   */
  inCommitTimestamps?: boolean;
  /**
   * The table has row tracking (row_tracking.ts): the row id high-water mark at `readVersion`.
   * Each attempt gives our adds fresh row ids above it and its own version as
   * `defaultRowCommitVersion`, and commits the new mark (`delta.rowTracking` domain); a lost race
   * moves the mark past the winners' ids.
   */
  rowIdHighWaterMark?: bigint;
}

/** Outcome of a successful commit. */
export interface CommitResult {
  /** Version the commit landed at. */
  version: number;
  /** Attempts it took (1 = no race). */
  attempts: number;
  /** The commitInfo written. */
  commitInfo: CommitInfo;
  /** The actions committed after the commitInfo (row tracking assigns ids to the adds). */
  actions: Action[];
}

/** Build a commitInfo with the fields every commit of ours carries. */
export function makeCommitInfo(
  operation: string,
  operationParameters: Record<string, string>,
  extra: Partial<CommitInfo> = {},
): CommitInfo {
  return {
    timestamp: Date.now(),
    operation,
    operationParameters,
    ...extra,
    engineInfo: ENGINE_INFO,
    txnId: extra.txnId ?? crypto.randomUUID(),
  };
}

function expectedMismatch(
  expected: Record<string, Long | undefined>,
  txns: Map<string, Txn>,
): TxnConflictError | undefined {
  for (const appId of Object.keys(expected)) {
    const found = txns.get(appId)?.version;
    if (!sameLong(expected[appId], found)) {
      return new TxnConflictError(appId, expected[appId], found);
    }
  }
  return undefined;
}

/** Check one winning commit against ours; throws the conflict, if any. */
function checkConflict(
  winner: Action[],
  winnerVersion: number,
  ours: Action[],
  readVersion: number,
  opts: CommitOptions,
  txnsNow: Map<string, Txn>,
): void {
  if (readVersion < 0) {
    throw new TableExistsError(
      `another writer created the table first (version ${winnerVersion} exists)`,
    );
  }
  const ourTxnApps = new Set<string>();
  const ourRemoves = new Set<string>();
  for (const a of ours) {
    if ("txn" in a) ourTxnApps.add((a.txn as Txn).appId);
    if ("remove" in a) ourRemoves.add(fileKey((a.remove as RemoveAction).path));
  }
  for (const a of winner) {
    if ("protocol" in a) {
      throw new ConcurrentModificationError(
        "the table protocol was changed concurrently",
        winnerVersion,
      );
    }
    if ("metaData" in a) {
      throw new ConcurrentModificationError(
        "the table metadata (schema or properties) was changed concurrently",
        winnerVersion,
      );
    }
    if ("txn" in a) {
      const t = a.txn as Txn;
      txnsNow.set(t.appId, t);
      if (ourTxnApps.has(t.appId) && !(opts.expectedTxns && t.appId in opts.expectedTxns)) {
        throw new ConcurrentModificationError(
          `a concurrent transaction for appId '${t.appId}' committed (version ${t.version})`,
          winnerVersion,
        );
      }
    }
    if ("remove" in a && ourRemoves.has(fileKey((a.remove as RemoveAction).path))) {
      throw new ConcurrentModificationError(
        `concurrent delete: file '${(a.remove as RemoveAction).path}' was already removed`,
        winnerVersion,
      );
    }
    if (
      opts.readsWholeTable && (("add" in a && (a.add as AddAction).dataChange !== false) ||
        ("remove" in a && (a.remove as RemoveAction).dataChange !== false))
    ) {
      throw new ConcurrentModificationError(
        "concurrent append or delete while overwriting the table",
        winnerVersion,
      );
    }
  }
  if (opts.expectedTxns) {
    const err = expectedMismatch(opts.expectedTxns, txnsNow);
    if (err) throw err;
  }
}

/**
 * Commit `actions` on top of `readVersion` (-1 creates the table); `commitInfo` is written first.
 * Retries lost races with backoff; throws typed conflicts, TableExistsError (create) or
 * CommitRetriesExhaustedError.
 *
 * @example
 * ```ts
 * import * as arrow from "apache-arrow";
 * import { commit, makeCommitInfo } from "./commit.ts";
 * import { createTable } from "./table.ts";
 * const dir = await Deno.makeTempDir();
 * const t = await createTable(dir, new arrow.Schema([new arrow.Field("id", new arrow.Int64())]));
 * const snap = await t.snapshot();
 * const txn = { appId: "query-1", version: 42 };
 * const info = makeCommitInfo("WRITE", { mode: "Append" });
 * const r = await commit(t.storage, snap.version, [{ txn }], info); // r.version === 1
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export async function commit(
  storage: Storage,
  readVersion: number,
  actions: Action[],
  commitInfo: CommitInfo,
  opts: CommitOptions = {},
): Promise<CommitResult> {
  const maxAttempts = opts.maxAttempts ?? 15;
  const base = opts.baseDelayMs ?? 25;
  const maxDelay = opts.maxDelayMs ?? 2000;
  const txnId = commitInfo.txnId ?? crypto.randomUUID();
  const txnsNow = new Map(opts.currentTxns ?? []);
  if (opts.expectedTxns) {
    const err = expectedMismatch(opts.expectedTxns, txnsNow);
    if (err) throw err;
  }
  let rv = readVersion;
  // The in-commit timestamp of commit `rv` (tables with in-commit timestamps), once read.
  let previousIct: number | undefined;
  let previousIctOf = -1;
  let hwm = opts.rowIdHighWaterMark;
  for (let attempt = 1; attempt <= maxAttempts; attempt++) {
    const version = rv + 1;
    const info: CommitInfo = {
      ...commitInfo,
      txnId,
      timestamp: commitInfo.timestamp ?? Date.now(),
    };
    if (rv >= 0) info.readVersion = readVersion;
    if (opts.inCommitTimestamps) {
      if (rv >= 0 && previousIctOf !== rv) {
        previousIct = ictOf(findCommitInfo(await readCommit(storage, rv)));
        previousIctOf = rv;
      }
      // commitInfo is the first line of every commit we write, as the feature requires.
      info.inCommitTimestamp = nextInCommitTimestamp(previousIct, Date.now());
      info.timestamp = info.inCommitTimestamp;
    }
    const ours = hwm === undefined ? actions : assignRowIds(actions, version, hwm).actions;
    const bytes = new TextEncoder().encode(serializeActions([{ commitInfo: info }, ...ours]));
    if (await storage.putIfAbsent(commitPath(version), bytes)) {
      return { version, attempts: attempt, commitInfo: info, actions: ours };
    }
    // Lost the race (or an ambiguous earlier success): read every commit from `version` on.
    const listing = await listLog(storage);
    const latest = listing.commits.at(-1)?.version ?? version;
    for (let v = version; v <= Math.max(latest, version); v++) {
      const winner = await readCommit(storage, v);
      if (findCommitInfo(winner)?.txnId === txnId) {
        return {
          version: v,
          attempts: attempt,
          commitInfo: findCommitInfo(winner)!,
          actions: winner.filter((a) => !("commitInfo" in a)),
        };
      }
      checkConflict(winner, v, actions, rv, opts, txnsNow);
      if (hwm !== undefined) hwm = highWaterMarkAfter(hwm, winner);
      rv = v;
      previousIct = ictOf(findCommitInfo(winner));
      previousIctOf = v;
    }
    if (attempt < maxAttempts) {
      await sleep(backoffDelay({ baseMs: base, maxMs: maxDelay, jitter: "equal" }, attempt));
    }
  }
  throw new CommitRetriesExhaustedError(
    `gave up committing to '${storage.url}' after ${maxAttempts} attempts (last tried version ` +
      `${rv + 1}); the table is under heavy write contention — retry later or raise maxAttempts`,
  );
}

/** The in-commit timestamp of a commit, else its commitInfo.timestamp (before enablement). */
function ictOf(info: CommitInfo | undefined): number | undefined {
  const t = info?.inCommitTimestamp ?? info?.timestamp;
  return typeof t === "number" ? t : undefined;
}
