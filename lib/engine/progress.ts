/**
 * Query progress like Spark's StreamingQueryProgress, one type for every stream: one record per
 * micro-batch (batch id, records in, records/s, durations, start/end offsets, lag per
 * partition, rows out per table or topic, dead letters, and for windowed queries the event-time
 * state) and a final summary; printed as one text line or one JSON object each.
 *
 * @module
 */
import { emptyReport, type MaintenanceReport } from "../delta/maintenance.ts";
import { fmtInt } from "../display.ts";

/** Offsets per partition, as decimal strings keyed by partition number (Spark's JSON form). */
export type PartitionOffsets = Record<string, number>;

/** What one micro-batch did. */
export interface BatchProgress {
  /** Query name. */
  name: string;
  /** Micro-batch id (resumes from the table's last STREAMING UPDATE of this query). */
  batchId: number;
  /** When the batch started (ISO). */
  timestamp: string;
  /** Kafka records read in this batch. */
  numInputRows: number;
  /** numInputRows / duration. */
  processedRowsPerSecond: number;
  /**
   * Duration parts in ms and their total: a Delta sink reports build (parse, flatten) and write
   * (Parquet and commits); a Kafka sink wait, transform and commit.
   */
  durationMs: { total: number; [part: string]: number };
  /** The topic. */
  topic: string;
  /** First offset covered per partition (inclusive). */
  startOffset: PartitionOffsets;
  /** End offset per partition (exclusive: the next offset to read; the txn version). */
  endOffset: PartitionOffsets;
  /** Latest offset (high watermark) seen per assigned partition. */
  latestOffset: PartitionOffsets;
  /** latestOffset − committed end, per assigned partition. */
  lag: PartitionOffsets;
  /**
   * Rows written per table or topic (name → rows; 0 = txn-only commit, absent = no commit);
   * `version` is the Delta table version committed.
   */
  sink: Record<string, { rows: number; version?: number }>;
  /** Records the sink rejected (dead letters), when it has such a notion. */
  deadLetters?: number;
  /** Windowed queries: the event-time state after the batch. */
  eventTime?: EventTimeProgress;
  /** Delta sinks: the table maintenance run after the batch, when it did something. */
  maintenance?: MaintenanceProgress;
}

/**
 * Table maintenance of a Delta sink (summed over its tables): auto-compaction, checkpoints it
 * had to write, expired log files deleted, and failed steps (logged and retried later).
 */
export type MaintenanceProgress = MaintenanceReport;

/** The event-time state of a windowed query after a micro-batch. */
export interface EventTimeProgress {
  /** Watermark, ms since the epoch (null before the first event). */
  watermark: number | null;
  /** Late records still inside the watermark, accepted. */
  late: number;
  /** Records beyond the watermark, dropped (counted and logged). */
  dropped: number;
  /** Windows held in state. */
  windows: number;
}

/** The end-of-query summary. */
export interface QuerySummary {
  /** Query name. */
  name: string;
  /** Micro-batches committed. */
  batches: number;
  /** Kafka records read and committed. */
  records: number;
  /** Rows written per table. */
  rows: Record<string, number>;
  /** Dead letters written. */
  deadLetters: number;
  /** Batches dropped because another writer moved the offsets (rebalance, conflict). */
  droppedBatches: number;
  /** Wall time in seconds. */
  seconds: number;
  /** Records per second over the wall time. */
  recordsPerSecond: number;
  /** Peak resident set size seen at batch ends, in bytes. */
  peakRssBytes: number;
  /** How the query ended: finished (available-now), stopped (signal/abort). */
  ended: "finished" | "stopped";
  /** Dead letters by reason code, when the sink reports them. */
  deadLetterReasons?: Record<string, number>;
  /** Windowed queries: late records accepted. */
  late?: number;
  /** Windowed queries: records dropped beyond the watermark. */
  dropped?: number;
  /** Delta sinks: table maintenance over the whole run. */
  maintenance?: MaintenanceProgress;
  /** The next offset per partition at the end (decimal text). */
  positions: Record<string, string>;
}

function offsets(o: PartitionOffsets): string {
  return Object.entries(o).map(([p, v]) => `${p}:${v}`).join(" ");
}

/**
 * One text line for a batch.
 *
 * @example
 * ```ts
 * import { type BatchProgress, formatProgressText } from "./progress.ts";
 * const p: BatchProgress = {
 *   name: "orders_raw", batchId: 3, timestamp: "2024-01-01T00:00:00.000Z", numInputRows: 50_000,
 *   processedRowsPerSecond: 41_200, durationMs: { total: 1214 }, topic: "retail-data-new",
 *   startOffset: { "0": 0 }, endOffset: { "0": 50_000 }, latestOffset: { "0": 60_000 },
 *   lag: { "0": 10_000 }, sink: { orders_raw: { rows: 50_000, version: 4 } },
 * };
 * console.log(formatProgressText(p));
 * // batch 3  50,000 rows in  41,200 rows/s  1,214 ms  orders_raw +50,000 (v4)  end {0:50000}
 * //   lag 10,000 {0:10000}
 * ```
 */
export function formatProgressText(p: BatchProgress): string {
  const sinks = Object.entries(p.sink).map(([name, s]) =>
    `${name} +${fmtInt(s.rows)}` + (s.version !== undefined ? ` (v${s.version})` : "")
  )
    .join(", ");
  const totalLag = Object.values(p.lag).reduce((a, b) => a + b, 0);
  return `batch ${p.batchId}  ${fmtInt(p.numInputRows)} rows in  ${
    fmtInt(Math.round(p.processedRowsPerSecond))
  } rows/s  ${fmtInt(Math.round(p.durationMs.total))} ms  ${sinks}` +
    (p.deadLetters !== undefined ? `  dead letters ${fmtInt(p.deadLetters)}` : "") +
    (p.eventTime ? `  ${formatEventTime(p.eventTime)}` : "") +
    (p.maintenance && formatMaintenance(p.maintenance)
      ? `  ${formatMaintenance(p.maintenance)}`
      : "") +
    `  end {${offsets(p.endOffset)}}  lag ${fmtInt(totalLag)} {${offsets(p.lag)}}`;
}

/**
 * Table maintenance in words (only what happened; "" when nothing did).
 *
 * @example
 * ```ts
 * import { formatMaintenance } from "./progress.ts";
 * formatMaintenance({ compactions: 1, filesCompacted: 50, filesWritten: 1, bytesCompacted: 0,
 *   checkpoints: 0, logFilesRemoved: 12, failures: 0 });
 * // "compacted 50 → 1 files, 12 log files removed"
 * ```
 */
export function formatMaintenance(m: MaintenanceProgress): string {
  const parts: string[] = [];
  if (m.compactions > 0) {
    parts.push(`compacted ${fmtInt(m.filesCompacted)} → ${fmtInt(m.filesWritten)} files`);
  }
  if (m.checkpoints > 0) parts.push(`${fmtInt(m.checkpoints)} checkpoint(s)`);
  if (m.logFilesRemoved > 0) parts.push(`${fmtInt(m.logFilesRemoved)} log files removed`);
  if (m.failures > 0) parts.push(`${fmtInt(m.failures)} maintenance failure(s)`);
  return parts.join(", ");
}

/** Adds one batch's maintenance into a running total (the query summary's). */
export function addMaintenance(
  into: MaintenanceProgress | undefined,
  m: MaintenanceProgress,
): MaintenanceProgress {
  const sum = into ?? emptyReport();
  for (const k of Object.keys(sum) as (keyof MaintenanceProgress)[]) sum[k] += m[k] ?? 0;
  return sum;
}

/** The event-time state in words: late, dropped, windows, watermark. */
export function formatEventTime(e: EventTimeProgress): string {
  return `${fmtInt(e.late)} late, ${fmtInt(e.dropped)} dropped, ${fmtInt(e.windows)} windows, ` +
    `watermark ${e.watermark === null ? "-" : new Date(e.watermark).toISOString()}`;
}

/** One JSON line for a batch (Spark-like field names). */
export function formatProgressJson(p: BatchProgress): string {
  return JSON.stringify({
    name: p.name,
    batchId: p.batchId,
    timestamp: p.timestamp,
    numInputRows: p.numInputRows,
    processedRowsPerSecond: Math.round(p.processedRowsPerSecond * 10) / 10,
    durationMs: p.durationMs,
    sources: [{
      description: `Kafka[Subscribe[${p.topic}]]`,
      startOffset: { [p.topic]: p.startOffset },
      endOffset: { [p.topic]: p.endOffset },
      latestOffset: { [p.topic]: p.latestOffset },
      lag: { [p.topic]: p.lag },
    }],
    sink: p.sink,
    ...(p.deadLetters !== undefined ? { deadLetters: p.deadLetters } : {}),
    ...(p.eventTime ? { eventTime: p.eventTime } : {}),
    ...(p.maintenance ? { maintenance: p.maintenance } : {}),
  });
}

/** The summary as one text line. */
export function formatSummaryText(s: QuerySummary): string {
  const rows = Object.entries(s.rows).map(([t, n]) => `${t} ${fmtInt(n)} rows`).join(", ");
  return `${s.name} ${s.ended}: ${fmtInt(s.batches)} batches, ${fmtInt(s.records)} records` +
    (rows ? ` → ${rows}` : "") + `, ${fmtInt(s.deadLetters)} dead letters, ` +
    `${s.seconds.toFixed(2)} s, ${fmtInt(Math.round(s.recordsPerSecond))} records/s, ` +
    `peak RSS ${Math.round(s.peakRssBytes / 1e6)} MB` +
    (s.droppedBatches > 0 ? `, ${s.droppedBatches} batches dropped and re-read` : "") +
    (s.maintenance && formatMaintenance(s.maintenance)
      ? `; maintenance: ${formatMaintenance(s.maintenance)}`
      : "");
}

/** The summary as one JSON line. */
export function formatSummaryJson(s: QuerySummary): string {
  return JSON.stringify({ summary: s });
}

/**
 * A progress callback printing each batch on stdout in the given format (none prints nothing).
 *
 * @example
 * ```ts
 * import type { Kafka } from "kafkajs";
 * import { rawSink } from "../orders/sinks.ts";
 * import { parseStreamOptions } from "./options.ts";
 * import { progressPrinter } from "./progress.ts";
 * import { startDeltaQuery } from "./query.ts";
 * const options = parseStreamOptions({ progress: "json" }, "orders_raw");
 * const onProgress = progressPrinter(options.progress); // one JSON line per batch
 * // Needs a broker, so the doc test only type-checks it:
 * async function run(kafka: Kafka) {
 *   const sink = await rawSink("./lakehouse/orders_raw");
 *   return startDeltaQuery({ kafka, topic: "retail-data-new", sink, options, onProgress });
 * }
 * ```
 */
export function progressPrinter(format: "text" | "json" | "none"): (p: BatchProgress) => void {
  if (format === "none") return () => {};
  return (p) => console.log(format === "json" ? formatProgressJson(p) : formatProgressText(p));
}
