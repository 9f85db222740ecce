/**
 * What the batch consumer shows of a range it read, as Spark's `df.show()` and a
 * `groupBy("partition").count()` would: the range per partition, the first N records in the
 * Kafka source's columns, the count per partition, and the closing line (which says when some
 * offsets held no record: transaction markers or aborted records).
 *
 * @module
 */
import { fmtInt } from "../display.ts";
import type { Column } from "../display.ts";
import type { KafkaRecord, PartitionRange } from "./source.ts";

/**
 * The columns of a Kafka record as Spark's Kafka source shows them, with their Spark types
 * (the fields of record.ts `recordRow`).
 *
 * @example
 * ```ts
 * import { RECORD_COLUMNS } from "./batch_view.ts";
 * RECORD_COLUMNS.map((c) => c.name).join(", ");
 * // "key, value, topic, partition, offset, timestamp, timestampType"
 * ```
 */
export const RECORD_COLUMNS: Column[] = [
  { name: "key", type: "string" },
  { name: "value", type: "string" },
  { name: "topic", type: "string" },
  { name: "partition", type: "int" },
  { name: "offset", type: "long" },
  { name: "timestamp", type: "timestamp" },
  { name: "timestampType", type: "int" },
];

/**
 * The columns of {@link BatchTally.countRows}: partition and count.
 *
 * @example
 * ```ts
 * import { batchTally, COUNT_COLUMNS } from "./batch_view.ts";
 * import { textTable } from "../display.ts";
 * textTable(COUNT_COLUMNS, batchTally([{ partition: 0, start: 0n, end: 0n }], 0).countRows());
 * ```
 */
export const COUNT_COLUMNS: Column[] = [
  { name: "partition", type: "int" },
  { name: "count", type: "long" },
];

/**
 * The ranges as one log line, `p0 [0, 10)  p1 [3, 10)`.
 *
 * @example
 * ```ts
 * import { rangeText } from "./batch_view.ts";
 * rangeText([{ partition: 0, start: 0n, end: 10n }, { partition: 1, start: 3n, end: 10n }]);
 * // "p0 [0, 10)  p1 [3, 10)"
 * ```
 */
export function rangeText(ranges: readonly PartitionRange[]): string {
  return ranges.map((r) => `p${r.partition} [${r.start}, ${r.end})`).join("  ");
}

/** The first records of a read and the count per partition, filled by {@link batchTally}. */
export interface BatchTally {
  /** The first `limit` records, in the order they were read. */
  readonly shown: KafkaRecord[];
  /** Counts a record (and keeps it while fewer than `limit` are kept). */
  add(record: KafkaRecord): void;
  /** Records counted so far. */
  readonly read: number;
  /** Offsets in the ranges: records, transaction markers and aborted records. */
  readonly offsets: number;
  /** One row per partition of the ranges, `{ partition, count }`, for {@link COUNT_COLUMNS}. */
  countRows(): { partition: number; count: number }[];
}

/**
 * A tally for reading `ranges`, keeping the first `limit` records to show.
 *
 * @example
 * ```ts
 * import { batchTally } from "./batch_view.ts";
 * const tally = batchTally([{ partition: 0, start: 0n, end: 2n }], 1);
 * const record = { topic: "t", partition: 0, offset: "0", key: null, value: null, timestamp: 0,
 *   timestampType: 0 };
 * tally.add(record);
 * tally.add({ ...record, offset: "1" });
 * [tally.shown.length, tally.read, tally.countRows()]; // [1, 2, [{ partition: 0, count: 2 }]]
 * ```
 */
export function batchTally(ranges: readonly PartitionRange[], limit: number): BatchTally {
  const shown: KafkaRecord[] = [];
  const counts = new Map<number, number>(ranges.map((r) => [r.partition, 0]));
  const offsets = ranges.reduce((n, r) => n + Number(r.end - r.start), 0);
  let read = 0;
  return {
    shown,
    add(record) {
      read++;
      counts.set(record.partition, (counts.get(record.partition) ?? 0) + 1);
      if (shown.length < limit) shown.push(record);
    },
    get read() {
      return read;
    },
    offsets,
    countRows: () => [...counts].map(([partition, count]) => ({ partition, count })),
  };
}

/**
 * The line under the record table, as Spark prints it.
 *
 * @example
 * ```ts
 * import { shownText } from "./batch_view.ts";
 * shownText(20, 6000); // "only showing the first 20 of 6,000 rows"
 * ```
 */
export function shownText(limit: number, read: number): string {
  return `only showing the first ${Math.min(limit, read)} of ${fmtInt(read)} rows`;
}

/**
 * The closing line: records read, and how many offsets of the range were not records.
 *
 * @example
 * ```ts
 * import { batchDoneText } from "./batch_view.ts";
 * batchDoneText("retail-data-new", 6000, 6000); // "6,000 records read from retail-data-new"
 * batchDoneText("t", 8, 10);
 * // "8 records read from t (10 offsets in range: the rest are transaction markers or aborted)"
 * ```
 */
export function batchDoneText(topic: string, read: number, offsets: number): string {
  return `${fmtInt(read)} records read from ${topic}` +
    (read === offsets
      ? ""
      : ` (${fmtInt(offsets)} offsets in range: the rest are transaction markers or aborted)`);
}
