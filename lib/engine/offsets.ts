/**
 * Offsets of a streaming query, kept only in its Delta tables: each commit carries one `txn`
 * per Kafka partition, appId `<query>-<topic>-<partition>`, version = the next offset to read
 * (the exclusive end of what the table holds). Resuming reads those versions back; a partition
 * the table has never seen starts from `--starting-offsets`/`--starting-timestamp`.
 *
 * @module
 */
import type { Admin } from "kafkajs";
import type { Long } from "../delta/actions.ts";
import type { Snapshot } from "../delta/snapshot.ts";
import { type OffsetSpec, resolveRange } from "../kafka/source.ts";
import { DataLossError } from "../kafka/stream_source.ts";

export { DataLossError };

/**
 * The Delta txn appId of one partition of a query.
 *
 * @example
 * ```ts
 * appIdFor("orders_raw", "retail-data-new", 3); // "orders_raw-retail-data-new-3"
 * ```
 */
export function appIdFor(query: string, topic: string, partition: number): string {
  return `${query}-${topic}-${partition}`;
}

/** The stored next offset of a partition in a table snapshot, or undefined. */
export function storedOffset(
  snap: Snapshot,
  query: string,
  topic: string,
  partition: number,
): bigint | undefined {
  const v: Long | undefined = snap.txnVersion(appIdFor(query, topic, partition));
  return v === undefined ? undefined : BigInt(v);
}

/** Low (log start) and high watermarks of every partition of a topic. */
export async function watermarks(
  admin: Admin,
  topic: string,
): Promise<Map<number, { low: bigint; high: bigint }>> {
  const offsets = await admin.fetchTopicOffsets(topic);
  return new Map(offsets.map((o) => [o.partition, { low: BigInt(o.low), high: BigInt(o.high) }]));
}

/** Where each partition starts under a starting spec (clamped to what the partitions hold). */
export async function startingOffsets(
  admin: Admin,
  topic: string,
  spec: OffsetSpec,
): Promise<Map<number, bigint>> {
  const ranges = await resolveRange(admin, topic, spec, { kind: "latest" });
  return new Map(ranges.map((r) => [r.partition, r.start]));
}

/** What to do about a resume offset outside [low, high]: the offset to use, or a DataLossError. */
export function checkDataLoss(
  topic: string,
  partition: number,
  resume: bigint,
  marks: { low: bigint; high: bigint } | undefined,
  failOnDataLoss: boolean,
  log: (message: string) => void,
): bigint {
  if (!marks) return resume;
  if (resume < marks.low) {
    const msg = `${topic}/${partition}: offsets ${resume}..${
      marks.low - 1n
    } are gone (the earliest offset is ${marks.low}: retention deleted them)`;
    if (failOnDataLoss) {
      throw new DataLossError(
        `${msg}; rerun with --fail-on-data-loss false to skip them and continue from ${marks.low}`,
      );
    }
    log(`${msg}; skipping to ${marks.low} (--fail-on-data-loss false)`);
    return marks.low;
  }
  if (resume > marks.high) {
    const msg = `${topic}/${partition}: the query resumes at offset ${resume} but the partition ` +
      `ends at ${marks.high} (was the topic deleted and recreated?)`;
    if (failOnDataLoss) {
      throw new DataLossError(
        `${msg}; use a new --query-name or table, or --fail-on-data-loss false to wait for offset ${resume}`,
      );
    }
    log(`${msg}; waiting for offset ${resume} (--fail-on-data-loss false)`);
  }
  return resume;
}
