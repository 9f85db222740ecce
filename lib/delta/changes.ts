/**
 * What a table's commits after a known version changed, read the way {@link advanceSnapshot}
 * reads them: `version + 1`, `+ 2`, … until one is missing (no `_delta_log` listing), so a
 * reader that follows a table as it grows pays per new commit, not per log size.
 *
 * A commit's data changes are its `add` and `remove` actions with `dataChange` true; the
 * rewrites of compaction (`dataChange: false`) carry rows already seen and are kept apart, so a
 * follower that reads the added files of every data change sees each row exactly once.
 *
 * @module
 */
import type { Storage } from "../storage/storage.ts";
import type { AddAction, Metadata, Protocol, RemoveAction } from "./actions.ts";
import { findCommitInfo, readCommitsAfter } from "./log.ts";

/** One commit's changes. */
export interface CommitChanges {
  /** The commit's version. */
  version: number;
  /** commitInfo.timestamp (ms), when the commit has one. */
  timestamp: number | undefined;
  /** Files added with new rows (`dataChange` true). */
  added: AddAction[];
  /** Files removed as a data change (a delete or overwrite), `dataChange` true. */
  removed: RemoveAction[];
  /** Files added or removed by a rewrite (compaction: `dataChange` false). */
  rearranged: number;
  /** A new metaData action (schema or properties changed), if any. */
  metadata?: Metadata;
  /** A new protocol action, if any. */
  protocol?: Protocol;
}

/**
 * The changes of every commit after `version`, in order, until the first missing one (at most
 * `limit` commits, default 1,000, so a reader far behind catches up in steps).
 *
 * @example
 * ```ts
 * import * as arrow from "apache-arrow";
 * import { commitsAfter } from "./changes.ts";
 * import { createTable } from "./table.ts";
 * const dir = await Deno.makeTempDir();
 * const rows = arrow.tableFromArrays({ id: new BigInt64Array([1n]) });
 * const t = await createTable(dir, rows.schema); // version 0
 * await t.append(rows); // version 1
 * const changes = await commitsAfter(t.storage, 0);
 * changes.map((c) => [c.version, c.added.length]); // [[1, 1]]
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export async function commitsAfter(
  storage: Storage,
  version: number,
  limit = 1000,
): Promise<CommitChanges[]> {
  const out: CommitChanges[] = [];
  for (const { version: v, actions } of await readCommitsAfter(storage, version, limit)) {
    const c: CommitChanges = {
      version: v,
      timestamp: findCommitInfo(actions)?.timestamp as number | undefined,
      added: [],
      removed: [],
      rearranged: 0,
    };
    for (const a of actions) {
      if ("add" in a) {
        const add = a.add as AddAction;
        if (add.dataChange === false) c.rearranged++;
        else c.added.push(add);
      } else if ("remove" in a) {
        const r = a.remove as RemoveAction;
        if (r.dataChange === false) c.rearranged++;
        else c.removed.push(r);
      } else if ("metaData" in a) c.metadata = a.metaData as Metadata;
      else if ("protocol" in a) c.protocol = a.protocol as Protocol;
    }
    out.push(c);
  }
  return out;
}
