/**
 * The one interface every sink of the engine implements. The engine's loop hands a sink each
 * slice of the source twice: `prepare` (in batch order; state such as windows advances here)
 * and `commit` (the output and the slice's offsets in one atomic step, so that a batch is
 * either wholly in the output with its offsets or not at all). Positions are the sink's: a
 * partition's next offset is read back from where the output is (Delta txns, a Kafka
 * transaction's offsets and changelog), never from a second store.
 *
 * Two sinks implement it: the Delta sink (lib/engine/delta_sink.ts: txn offsets,
 * `expectedTxns`, conflict reset) and the Kafka transactional sink
 * (lib/engine/kafka_sink.ts: transactions, changelog and window state).
 *
 * @module
 */
import type { OffsetSpec } from "../kafka/source.ts";
import type { SourceSlice } from "../kafka/stream_source.ts";
import type { EventTimeProgress, MaintenanceProgress } from "./progress.ts";

/** Which batch the engine hands over. */
export interface BatchInfo {
  /** Micro-batch id (progress and commit metadata). */
  id: number;
  /** 1-based number of this batch in this process (the STREAM_FAULT hook counts these). */
  seq: number;
}

/** What a committed batch wrote. */
export interface Committed {
  /** The batch is in the output with its offsets. */
  ok: true;
  /** Rows per table or topic (version = the Delta version committed). */
  sink: Record<string, { rows: number; version?: number }>;
  /** Records rejected with a reason, when the sink has dead letters. */
  deadLetters?: number;
  /** Dead letters by reason code. */
  deadLetterReasons?: Record<string, number>;
  /** Windowed sinks: their event-time state after the batch. */
  eventTime?: EventTimeProgress;
  /** Delta sinks: the table maintenance run after the batch (summed over its tables). */
  maintenance?: MaintenanceProgress;
  /** Time spent per part, ms (e.g. build and write, or transform and commit). */
  durationMs: Record<string, number>;
  /** Delta sinks: data files added and their bytes, per table (metrics). */
  written?: Record<string, { files: number; bytes: number }>;
  /** Kafka sinks: records sent to the output topic, without dead letters and changelog. */
  output?: { topic: string; records: number };
}

/** A batch the sink refused because another writer moved its partitions' offsets. */
export interface Conflicted {
  /** Not committed: the engine forgets its buffers and reads the positions again. */
  ok: false;
  /** Why, in one line. */
  conflict: string;
  /** Rows per table written before the conflict (a multi-table sink). */
  sink: Record<string, { rows: number; version?: number }>;
  /**
   * A sink that commits each partition on its own: the partitions whose part of the batch did
   * commit (they stand; their records are counted), with their dead letters.
   */
  committed?: {
    partitions: number[];
    deadLetters: number;
    deadLetterReasons: Record<string, number>;
  };
}

/** A sink of micro-batches. */
export interface Sink<P = unknown> {
  /** Where the committed batches are, for messages ("the tables", "topic x (exactly once)"). */
  readonly committedTo: string;
  /** Batches that may be committing at once (later ones are prepared meanwhile). */
  readonly depth: number;
  /** Each batch is one Kafka transaction (metrics count them committed and aborted). */
  readonly transactional?: boolean;
  /** Opens the output (creates what is missing, fences older writers, restores state). */
  open(): Promise<void>;
  /**
   * The next offset to read for each partition as the output holds it (a sink with several
   * tables: the lowest of them), undefined for a partition the output has never seen.
   */
  stored(partitions: number[]): Promise<Map<number, bigint | undefined>>;
  /**
   * The stored offsets of partitions this copy does not hold, read without taking them over
   * (available-now checks what other copies still have to do); default {@link stored}.
   */
  observe?(partitions: number[]): Promise<Map<number, bigint | undefined>>;
  /**
   * The engine settled where the partitions resume (`fresh` ones from the starting-offsets
   * spec, none of them past what the log still holds); the sink records the starts of fresh
   * partitions if a restart must not resolve them again, and takes the positions. False: another
   * copy recorded them first; the engine reads the positions again.
   */
  begin(resume: Map<number, bigint>, fresh: number[], spec: OffsetSpec): Promise<boolean>;
  /** Turns a slice into what `commit` writes; called in batch order. */
  prepare(slice: SourceSlice, batch: BatchInfo): Promise<P>;
  /** Commits a prepared batch with the slice's offsets. */
  commit(prepared: P, batch: BatchInfo): Promise<Committed | Conflicted>;
  /** The micro-batch id to start from (resuming the output's numbering), default 0. */
  firstBatchId?(): Promise<number>;
  /**
   * Waits for background work the commits started (a Delta sink's auto-compaction) and returns
   * what it did since the last batch reported; called before a query that ends well stops.
   * `final`: the query finished (available-now), so last work may be done (a due compaction).
   */
  settle?(opts: { final?: boolean }): Promise<MaintenanceProgress | undefined>;
  /** Releases everything (idempotent). */
  close(): Promise<void>;
}
