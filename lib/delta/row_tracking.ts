/**
 * Row tracking (PROTOCOL.md "Row Tracking"): while the `rowTracking` writer feature is supported
 * and not suspended (`delta.rowTrackingSuspended`), every `add` we commit gets fresh row ids, a
 * `baseRowId` above the table's row id high-water mark (consecutive files take consecutive
 * ranges of `numRecords` ids), and `defaultRowCommitVersion` = the version of the commit that
 * holds it; the commit carries the `delta.rowTracking` domain with the new
 * `rowIdHighWaterMark`. Both are assigned at each commit attempt (commit.ts), so a retry above a
 * concurrent writer's ids takes the next free range and its own version.
 *
 * When row tracking is enabled (`delta.enableRowTracking`), rows that compaction copies keep
 * their stable row ids and row commit versions: the rewritten files materialise them in the
 * columns the table's configuration names (`delta.rowTracking.materializedRowIdColumnName`,
 * `…materializedRowCommitVersionColumnName`; scan.ts reads them). A table without those names
 * is not compacted (optimize.ts says so in one line).
 *
 * @module
 */
import type { Action, AddAction, DomainMetadata, Long, Protocol, RemoveAction } from "./actions.ts";
import { toLong } from "./actions.ts";
import { DeltaError } from "./errors.ts";

/** The system domain holding the row id high-water mark. */
export const ROW_TRACKING_DOMAIN = "delta.rowTracking";
/** Table properties of row tracking. */
export const ENABLE_ROW_TRACKING = "delta.enableRowTracking";
export const ROW_TRACKING_SUSPENDED = "delta.rowTrackingSuspended";
export const MATERIALIZED_ROW_ID = "delta.rowTracking.materializedRowIdColumnName";
export const MATERIALIZED_ROW_COMMIT_VERSION =
  "delta.rowTracking.materializedRowCommitVersionColumnName";
/** commitInfo tag: every copied row kept its stable row id and commit version. */
export const ROW_TRACKING_PRESERVED_TAG = "delta.rowTracking.preserved";

/**
 * Whether our adds must carry row ids: `rowTracking` in writerFeatures and not suspended.
 *
 * @example
 * ```ts
 * import { rowTrackingSupported } from "./row_tracking.ts";
 * const p = { minReaderVersion: 1, minWriterVersion: 7, writerFeatures: ["domainMetadata", "rowTracking"] };
 * rowTrackingSupported(p, {}); // true
 * rowTrackingSupported(p, { "delta.rowTrackingSuspended": "true" }); // false
 * ```
 */
export function rowTrackingSupported(
  protocol: Protocol,
  configuration: Record<string, string>,
): boolean {
  return protocol.minWriterVersion === 7 &&
    (protocol.writerFeatures ?? []).includes("rowTracking") &&
    String(configuration[ROW_TRACKING_SUSPENDED]).toLowerCase() !== "true";
}

/** Whether rows copied by a rewrite must keep their ids (row tracking enabled). */
export function rowTrackingEnabled(
  protocol: Protocol,
  configuration: Record<string, string>,
): boolean {
  return rowTrackingSupported(protocol, configuration) &&
    String(configuration[ENABLE_ROW_TRACKING]).toLowerCase() === "true";
}

/** Names of the materialized row id and row commit version columns, when the table has both. */
export interface MaterializedColumns {
  rowId: string;
  commitVersion: string;
}

/** The table's materialized row tracking column names (configuration), or undefined. */
export function materializedColumns(
  configuration: Record<string, string>,
): MaterializedColumns | undefined {
  const rowId = configuration[MATERIALIZED_ROW_ID];
  const commitVersion = configuration[MATERIALIZED_ROW_COMMIT_VERSION];
  return rowId && commitVersion ? { rowId, commitVersion } : undefined;
}

/** `numRecords` of an add's stats, or undefined when the stats lack it. */
export function numRecordsOf(stats: string | null | undefined): bigint | undefined {
  if (typeof stats !== "string") return undefined;
  const m = /"numRecords"\s*:\s*(\d+)/.exec(stats);
  return m ? BigInt(m[1]) : undefined;
}

/** The high-water mark a `delta.rowTracking` domain configuration holds, or undefined. */
export function highWaterMarkOf(d: DomainMetadata | undefined): bigint | undefined {
  if (!d || d.removed) return undefined;
  const m = /"rowIdHighWaterMark"\s*:\s*(-?\d+)/.exec(d.configuration);
  return m ? BigInt(m[1]) : undefined;
}

/** The highest fresh row id of a file action (its baseRowId + numRecords − 1), if it has one. */
function lastRowId(a: AddAction | RemoveAction): bigint | undefined {
  if (a.baseRowId === undefined || a.baseRowId === null) return undefined;
  const n = numRecordsOf(a.stats);
  return BigInt(a.baseRowId) + (n === undefined ? 0n : n - 1n);
}

/**
 * The row id high-water mark of a table state: the `delta.rowTracking` domain's, raised to the
 * highest row id of any file still known (belt and braces); -1 when no row id was assigned.
 *
 * @example
 * ```ts
 * import { rowIdHighWaterMark } from "./row_tracking.ts";
 * const domain = { domain: "delta.rowTracking", configuration: '{"rowIdHighWaterMark":9}', removed: false };
 * rowIdHighWaterMark({ domainMetadata: new Map([["delta.rowTracking", domain]]), files: [], tombstones: [] }); // 9n
 * ```
 */
export function rowIdHighWaterMark(state: {
  domainMetadata: Map<string, DomainMetadata>;
  files: Iterable<AddAction>;
  tombstones: Iterable<RemoveAction>;
}): bigint {
  let hwm = highWaterMarkOf(state.domainMetadata.get(ROW_TRACKING_DOMAIN)) ?? -1n;
  for (const f of state.files) {
    const last = lastRowId(f);
    if (last !== undefined && last > hwm) hwm = last;
  }
  for (const t of state.tombstones) {
    const last = lastRowId(t);
    if (last !== undefined && last > hwm) hwm = last;
  }
  return hwm;
}

/** The high-water mark after a winning commit's actions (its domain, its adds' ids). */
export function highWaterMarkAfter(hwm: bigint, actions: Action[]): bigint {
  let out = hwm;
  for (const a of actions) {
    if ("domainMetadata" in a) {
      const d = a.domainMetadata as DomainMetadata;
      const v = d.domain === ROW_TRACKING_DOMAIN ? highWaterMarkOf(d) : undefined;
      if (v !== undefined && v > out) out = v;
    } else if ("add" in a) {
      const last = lastRowId(a.add as AddAction);
      if (last !== undefined && last > out) out = last;
    }
  }
  return out;
}

/**
 * Our actions as committed at `version` on top of high-water mark `hwm`: each add gets
 * `baseRowId` (the next free range of its `numRecords` ids) and `defaultRowCommitVersion`, and
 * a `delta.rowTracking` domain with the new high-water mark follows when ids were assigned.
 * The input actions are not changed.
 *
 * @example
 * ```ts
 * import { assignRowIds } from "./row_tracking.ts";
 * const add = (n: number) => ({ add: { path: `f${n}`, partitionValues: {}, size: 1, modificationTime: 0,
 *   dataChange: true, stats: `{"numRecords":${n}}` } });
 * const r = assignRowIds([add(3), add(2)], 5, 9n);
 * // adds: baseRowId 10 and 13, defaultRowCommitVersion 5; r.highWaterMark === 14n
 * ```
 */
export function assignRowIds(
  actions: Action[],
  version: number,
  hwm: bigint,
): { actions: Action[]; highWaterMark: bigint } {
  let next = hwm + 1n;
  const out: Action[] = [];
  for (const a of actions) {
    if (!("add" in a)) {
      out.push(a);
      continue;
    }
    const add = a.add as AddAction;
    const n = numRecordsOf(add.stats);
    if (n === undefined) {
      throw new DeltaError(
        `cannot assign row ids to '${add.path}': its stats have no numRecords (row tracking)`,
      );
    }
    out.push({
      add: { ...add, baseRowId: toLong(next), defaultRowCommitVersion: version as Long },
    });
    next += n;
  }
  const highWaterMark = next - 1n;
  if (highWaterMark > hwm) {
    out.push({
      domainMetadata: {
        domain: ROW_TRACKING_DOMAIN,
        configuration: `{"rowIdHighWaterMark":${highWaterMark}}`,
        removed: false,
      },
    });
  }
  return { actions: out, highWaterMark };
}
