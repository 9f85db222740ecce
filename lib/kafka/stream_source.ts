/**
 * The one interface of a stream's Kafka source, which the micro-batch engine reads through.
 * Two sources implement it: the group source (lib/kafka/group_source.ts: partitions assigned
 * by the consumer group, so copies of a query share them) and the tail (lib/kafka/tail.ts:
 * every partition, one reader). A source hands out slices: per partition the offsets
 * `[start, end)` it covers (transaction markers and aborted records count) and the records in
 * them, with each trigger's limit divided across the partitions in proportion to what each has
 * left to read (lib/kafka/fair.ts), so event time moves forward on every partition together.
 *
 * Positions are the sink's business (Delta txns, a Kafka transaction's offsets): a partition
 * the source was just given (at start, after a rebalance, after {@link StreamSource.reset})
 * waits in {@link StreamSource.unpositioned} until the engine reads its position from the sink
 * and hands it over with {@link StreamSource.position}.
 *
 * @module
 */
import { UserError } from "../errors.ts";
import type { RawChunk } from "./raw.ts";

/** Offsets a query must read are gone (retention deleted them, or the topic was recreated). */
export class DataLossError extends UserError {
  override name = "DataLossError";
}

/** Where a source reports Kafka's answers and failures (the query's outage tracker). */
export interface KafkaHealth {
  /** Kafka answered. */
  answered(): void;
  /** Kafka failed with a transient error. */
  failed(error: unknown): void;
  /** Throws once Kafka has been silent for longer than the query allows. */
  check(): void;
}

/** One partition's part of a slice: the offsets `[start, end)` and the records among them. */
export interface PartitionSlice extends RawChunk {
  /** First offset covered. */
  start: bigint;
  /** Exclusive end: the next position of the partition. */
  end: bigint;
}

/** A cut of the stream, one entry per partition that moved. */
export interface SourceSlice {
  /** Per partition, in partition order. */
  partitions: PartitionSlice[];
  /** The latest offset known per assigned partition after the cut (high watermark or end). */
  latest: Map<number, bigint>;
}

/** Limits of one {@link StreamSource.next} call. */
export interface SliceLimits {
  /** At most this many offsets in the slice, divided fairly across partitions. */
  maxOffsets: number;
  /** After the first record is buffered, wait at most this long for a fuller slice, ms. */
  lingerMs: number;
  /** Ends the wait: next() then resolves undefined. */
  signal?: AbortSignal;
}

/** A stream's source of Kafka records. */
export interface StreamSource {
  /** The topic read. */
  readonly topic: string;
  /** 0 = CreateTime, 1 = LogAppendTime (the topic's message.timestamp.type). */
  readonly timestampType: number;
  /** Starts reading (joins the group, or opens the consumer); resolves once it runs. */
  start(): Promise<void>;
  /** Assigned partitions that wait for their position. */
  unpositioned(): number[];
  /** Sets the positions of waiting partitions; reading resumes from them. */
  position(starts: Map<number, bigint>): Promise<void>;
  /**
   * The next slice; undefined when stopped by the signal, when the assignment changed (see
   * {@link StreamSource.unpositioned}), or when {@link StreamSource.finished}.
   */
  next(limits: SliceLimits): Promise<SourceSlice | undefined>;
  /** With an end (available-now): every partition reached it and everything was handed out. */
  finished(): boolean;
  /** Forgets every buffer; every assigned partition waits for its position again. */
  reset(): void;
  /** The assigned partitions and their next positions (what was handed out so far). */
  positions(): Map<number, bigint>;
  /**
   * A batch up to these ends is committed: a group source commits them as the group's offsets
   * (only lag tools read them; positions come from the sink).
   */
  committed?(ends: Map<number, bigint>): Promise<void>;
  /** Throws what made the source fail (a consumer crash), if anything did. */
  check(): void;
  /** Stops reading. */
  close(): Promise<void>;
}
