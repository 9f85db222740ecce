/**
 * The bronze table `orders_raw`: every Kafka record of the orders topic as one row, the seed's
 * `CAST(key AS STRING), CAST(value AS STRING)` plus Kafka metadata, and the exact bytes of any
 * key or value a string cannot hold: key string, value string, topic string, partition int,
 * offset long, timestamp timestamp, timestampType int, key_bytes binary, value_bytes binary.
 *
 * Key and value bytes are copied straight into the Arrow string buffers. A key or value that is
 * not valid UTF-8 is decoded with U+FFFD replacement in `key`/`value` (so the Parquet string
 * column is always valid UTF-8, as readers require), and its exact bytes go to `key_bytes` /
 * `value_bytes`, which are null for every other row. So a record's exact key is
 * `key_bytes ?? UTF-8(key)` (null when both are null), and the same for the value: anything can
 * be replayed from the table. The two binary columns came after the seed's seven, so a table
 * created before them gains them as a schema change when a sink opens it (see sinks.ts).
 *
 * @module
 */
import {
  Binary,
  type Data,
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
  binaryFromBytes,
  int32Data,
  int64Data,
  timestampFromMs,
  utf8FromBytes,
  utf8FromStrings,
  utf8Repeat,
} from "../arrow/columns.ts";
import type { RawChunk } from "../kafka/raw.ts";

/**
 * Arrow schema of `orders_raw`: the seed's Kafka source columns (key and value cast to string),
 * then the exact bytes of keys and values that are not valid UTF-8.
 */
export const rawSchema: Schema = new Schema([
  new Field("key", new Utf8(), true),
  new Field("value", new Utf8(), true),
  new Field("topic", new Utf8(), false),
  new Field("partition", new Int32(), false),
  new Field("offset", new Int64(), false),
  new Field("timestamp", new TimestampMicrosecond("UTC"), false),
  new Field("timestampType", new Int32(), false),
  new Field("key_bytes", new Binary(), true),
  new Field("value_bytes", new Binary(), true),
]);

/**
 * Builds the `orders_raw` rows of the given chunks, keeping only the messages `keep` accepts
 * (default all), in chunk order.
 *
 * @example
 * ```ts
 * import { rawTable } from "./raw.ts";
 * const value = new TextEncoder().encode('{"order_id":1}');
 * const bad = new Uint8Array([0x7b, 0xff]);
 * const messages = [
 *   { key: null, value, offset: "0", timestamp: "1700000000000" },
 *   { key: null, value: bad, offset: "1", timestamp: "1700000000000" },
 * ];
 * const table = rawTable([{ topic: "t", partition: 0, timestampType: 0, messages }]);
 * console.log(table.get(0)?.value, table.get(0)?.value_bytes); // {"order_id":1} null
 * console.log(table.get(1)?.value, table.get(1)?.value_bytes); // {\uFFFD Uint8Array(2) [ 123, 255 ]
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
  // The strict UTF-8 check the string columns make anyway names the rows whose bytes they lose.
  const badKeys: number[] = [];
  const badValues: number[] = [];
  const children: Data[] = [
    utf8FromBytes(keys, badKeys),
    utf8FromBytes(values, badValues),
    n > 0 && single ? utf8Repeat(topics[0], n) : utf8FromStrings(topics),
    int32Data(partitions),
    int64Data(BigInt64Array.from(offsets)),
    timestampFromMs(times),
    int32Data(types),
    binaryFromBytes(keys, badKeys),
    binaryFromBytes(values, badValues),
  ];
  const struct = makeData({
    type: new Struct(rawSchema.fields),
    length: n,
    nullCount: 0,
    children,
  });
  return new Table(rawSchema, [new RecordBatch(rawSchema, struct)]);
}
