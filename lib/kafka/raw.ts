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

/** A Kafka message as kafkajs hands it over (Buffers are Uint8Arrays), the fields we read. */
export interface RawMessage {
  /** Key bytes, or null. */
  key: Uint8Array | null;
  /** Value bytes, or null (tombstone). */
  value: Uint8Array | null;
  /** Offset as decimal text. */
  offset: string;
  /** Timestamp in ms since the epoch, as decimal text. */
  timestamp: string;
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

const encoder = new TextEncoder();
const decoder = new TextDecoder();
const fatal = new TextDecoder("utf-8", { fatal: true });

/** True when the bytes are valid UTF-8 (ASCII fast path, then a strict decode). */
export function isValidUtf8(b: Uint8Array): boolean {
  for (let i = 0; i < b.length; i++) {
    if (b[i] >= 0x80) {
      try {
        fatal.decode(b);
        return true;
      } catch {
        return false;
      }
    }
  }
  return true;
}

/**
 * A Utf8 column from byte strings (null = null): valid UTF-8 is copied as is, invalid bytes
 * are replaced with U+FFFD.
 */
export function utf8FromBytes(values: readonly (Uint8Array | null)[]): Data<Utf8> {
  const n = values.length;
  const fixed: (Uint8Array | null)[] = new Array(n);
  let total = 0;
  let nulls = 0;
  for (let i = 0; i < n; i++) {
    const v = values[i];
    if (v === null || v === undefined) {
      fixed[i] = null;
      nulls++;
      continue;
    }
    const ok = isValidUtf8(v) ? v : encoder.encode(decoder.decode(v));
    fixed[i] = ok;
    total += ok.length;
  }
  const offsets = new Int32Array(n + 1);
  const bytes = new Uint8Array(total);
  const validity = nulls > 0 ? new Uint8Array((n + 7) >> 3) : undefined;
  let pos = 0;
  for (let i = 0; i < n; i++) {
    const v = fixed[i];
    if (v !== null) {
      bytes.set(v, pos);
      pos += v.length;
      if (validity) validity[i >> 3] |= 1 << (i & 7);
    }
    offsets[i + 1] = pos;
  }
  return makeData({
    type: new Utf8(),
    length: n,
    nullCount: nulls,
    nullBitmap: validity,
    valueOffsets: offsets,
    data: bytes,
  });
}

/** A Utf8 column holding the same non-null string n times. */
export function utf8Repeat(s: string, n: number): Data<Utf8> {
  const one = encoder.encode(s);
  const bytes = new Uint8Array(one.length * n);
  const offsets = new Int32Array(n + 1);
  for (let i = 0; i < n; i++) {
    bytes.set(one, i * one.length);
    offsets[i + 1] = (i + 1) * one.length;
  }
  return makeData({ type: new Utf8(), length: n, valueOffsets: offsets, data: bytes });
}

/**
 * Builds the `orders_raw` rows of the given chunks, keeping only the messages `keep` accepts
 * (default all), in chunk order.
 *
 * @example
 * ```ts
 * const table = rawTable([{ topic: "t", partition: 0, timestampType: 0, messages }]);
 * table.numRows; // = messages.length
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
  const topicData = n > 0 && single
    ? utf8Repeat(topics[0], n)
    : utf8FromBytes(topics.map((t) => encoder.encode(t)));
  const ts = new BigInt64Array(n);
  for (let i = 0; i < n; i++) ts[i] = BigInt(Math.round(times[i] * 1000));
  const children = [
    utf8FromBytes(keys),
    utf8FromBytes(values),
    topicData,
    makeData({ type: new Int32(), length: n, data: Int32Array.from(partitions) }),
    makeData({ type: new Int64(), length: n, data: BigInt64Array.from(offsets) }),
    makeData({ type: new TimestampMicrosecond("UTC"), length: n, data: ts }),
    makeData({ type: new Int32(), length: n, data: Int32Array.from(types) }),
  ];
  const struct = makeData({
    type: new Struct(rawSchema.fields),
    length: n,
    nullCount: 0,
    children,
  });
  return new Table(rawSchema, [new RecordBatch(rawSchema, struct)]);
}
