/**
 * Raw Kafka records as the Arrow rows of the bronze table `orders_raw`, the seed's
 * `CAST(key AS STRING), CAST(value AS STRING)` plus Kafka metadata: key string, value string,
 * topic string, partition int, offset long, timestamp timestamp, timestampType int.
 *
 * Key and value bytes are copied straight into the Arrow string buffers; a value that is not
 * valid UTF-8 is decoded with U+FFFD replacement first (as {@link bytesToString} shows it), so
 * the Parquet string column is always valid UTF-8.
 *
 * @module
 */
import {
  Field,
  Int32,
  Int64,
  makeData,
  RecordBatch,
  Schema,
  Struct,
  Table,
  TimestampMicrosecond,
  Utf8,
} from "apache-arrow";
import {
  int32Data,
  int64Data,
  timestampFromMs,
  utf8FromBytes,
  utf8FromStrings,
  utf8Repeat,
} from "../arrow/columns.ts";

/** A Kafka message as kafkajs hands it over (Buffers are Uint8Arrays), the fields we read. */
export interface RawMessage {
  /** Key bytes, or null. */
  key: Uint8Array | null;
  /** Value bytes, or null (tombstone). */
  value: Uint8Array | null;
  /** Offset as decimal text. */
  offset: string;
  /** Timestamp in ms since the epoch: decimal text (kafkajs) or a number. */
  timestamp: string | number;
}

/** The records of one partition, in offset order. */
export interface RawChunk {
  /** Topic name. */
  topic: string;
  /** Partition number. */
  partition: number;
  /** 0 = CreateTime, 1 = LogAppendTime. */
  timestampType: number;
  /** The messages, in offset order. */
  messages: readonly RawMessage[];
}

/** Arrow schema of `orders_raw` (the seed's Kafka source columns, key and value cast to string). */
export const rawSchema: Schema = new Schema([
  new Field("key", new Utf8(), true),
  new Field("value", new Utf8(), true),
  new Field("topic", new Utf8(), false),
  new Field("partition", new Int32(), false),
  new Field("offset", new Int64(), false),
  new Field("timestamp", new TimestampMicrosecond("UTC"), false),
  new Field("timestampType", new Int32(), false),
]);

/**
 * Builds the `orders_raw` rows of the given chunks, keeping only the messages `keep` accepts
 * (default all), in chunk order.
 *
 * @example
 * ```ts
 * import { rawTable } from "./raw.ts";
 * const value = new TextEncoder().encode('{"order_id":1}');
 * const messages = [{ key: null, value, offset: "0", timestamp: "1700000000000" }];
 * const table = rawTable([{ topic: "t", partition: 0, timestampType: 0, messages }]);
 * console.log(table.numRows, table.get(0)?.value); // 1 {"order_id":1}
 * ```
 */
export function rawTable(
  chunks: readonly RawChunk[],
  keep?: (chunk: RawChunk, offset: bigint) => boolean,
): Table {
  const keys: (Uint8Array | null)[] = [];
  const values: (Uint8Array | null)[] = [];
  const topics: string[] = [];
  const partitions: number[] = [];
  const offsets: bigint[] = [];
  const times: number[] = [];
  const types: number[] = [];
  for (const c of chunks) {
    for (const m of c.messages) {
      const off = BigInt(m.offset);
      if (keep && !keep(c, off)) continue;
      keys.push(m.key ?? null);
      values.push(m.value ?? null);
      topics.push(c.topic);
      partitions.push(c.partition);
      offsets.push(off);
      times.push(Number(m.timestamp));
      types.push(c.timestampType);
    }
  }
  const n = keys.length;
  const single = topics.every((t) => t === topics[0]);
  const children = [
    utf8FromBytes(keys),
    utf8FromBytes(values),
    n > 0 && single ? utf8Repeat(topics[0], n) : utf8FromStrings(topics),
    int32Data(partitions),
    int64Data(BigInt64Array.from(offsets)),
    timestampFromMs(times),
    int32Data(types),
  ];
  const struct = makeData({
    type: new Struct(rawSchema.fields),
    length: n,
    nullCount: 0,
    children,
  });
  return new Table(rawSchema, [new RecordBatch(rawSchema, struct)]);
}
