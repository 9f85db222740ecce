/**
 * Dead letters: the Kafka records that are not valid orders, as rows of the Delta table
 * `orders_dead_letters`, one per record, with enough to replay or diagnose it: the raw key and
 * value (value as UTF-8 text when valid, otherwise base64 in `value_base64`), the Kafka
 * coordinates, the validator's reason code, its message and the field path.
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
import { Buffer } from "node:buffer";
import { isValidUtf8, utf8FromBytes } from "../kafka/raw.ts";
import type { ReasonCode } from "./validate.ts";

/** One rejected record. */
export interface DeadLetter {
  /** Key bytes, or null. */
  key: Uint8Array | null;
  /** Value bytes, or null (tombstone). */
  value: Uint8Array | null;
  /** Topic. */
  topic: string;
  /** Partition. */
  partition: number;
  /** Offset (decimal text or bigint). */
  offset: string | bigint;
  /** Kafka timestamp, ms since the epoch. */
  timestampMs: number;
  /** Reason code from parseOrder. */
  reason: ReasonCode;
  /** The validator's message. */
  error: string;
  /** Field path of the problem, when there is one. */
  field?: string;
}

/** Arrow schema of `orders_dead_letters`. */
export const deadLetterSchema: Schema = new Schema([
  new Field("key", new Utf8(), true),
  new Field("value", new Utf8(), true),
  new Field("value_base64", new Utf8(), true),
  new Field("topic", new Utf8(), false),
  new Field("partition", new Int32(), false),
  new Field("offset", new Int64(), false),
  new Field("timestamp", new TimestampMicrosecond("UTC"), false),
  new Field("reason", new Utf8(), false),
  new Field("error", new Utf8(), false),
  new Field("field", new Utf8(), true),
  new Field("dead_lettered_at", new TimestampMicrosecond("UTC"), false),
]);

const encoder = new TextEncoder();

function text(values: (string | null | undefined)[]) {
  return utf8FromBytes(
    values.map((v) => (v === null || v === undefined ? null : encoder.encode(v))),
  );
}

/**
 * Builds the dead-letter rows (schema {@link deadLetterSchema}) for rejected records.
 *
 * @example
 * ```ts
 * const r = parseOrder(message.value);
 * if (!r.ok) deadLetterTable([{ ...coords, reason: r.reason, error: r.message, field: r.field }], Date.now());
 * ```
 */
export function deadLetterTable(rows: readonly DeadLetter[], deadLetteredAtMs: number): Table {
  const n = rows.length;
  const values: (Uint8Array | null)[] = [];
  const base64: (string | null)[] = [];
  for (const r of rows) {
    if (r.value !== null && !isValidUtf8(r.value)) {
      values.push(null);
      base64.push(
        Buffer.from(r.value.buffer, r.value.byteOffset, r.value.byteLength).toString("base64"),
      );
    } else {
      values.push(r.value);
      base64.push(null);
    }
  }
  const ts = new BigInt64Array(n);
  const at = new BigInt64Array(n).fill(BigInt(Math.round(deadLetteredAtMs * 1000)));
  rows.forEach((r, i) => (ts[i] = BigInt(Math.round(r.timestampMs * 1000))));
  const children = [
    utf8FromBytes(rows.map((r) => r.key)),
    utf8FromBytes(values),
    text(base64),
    text(rows.map((r) => r.topic)),
    makeData({ type: new Int32(), length: n, data: Int32Array.from(rows.map((r) => r.partition)) }),
    makeData({
      type: new Int64(),
      length: n,
      data: BigInt64Array.from(rows.map((r) => BigInt(r.offset))),
    }),
    makeData({ type: new TimestampMicrosecond("UTC"), length: n, data: ts }),
    text(rows.map((r) => r.reason)),
    text(rows.map((r) => r.error)),
    text(rows.map((r) => r.field ?? null)),
    makeData({ type: new TimestampMicrosecond("UTC"), length: n, data: at }),
  ];
  const struct = makeData({
    type: new Struct(deadLetterSchema.fields),
    length: n,
    nullCount: 0,
    children,
  });
  return new Table(deadLetterSchema, [new RecordBatch(deadLetterSchema, struct)]);
}
