/**
 * Dead letters: the Kafka records that are not valid orders, as rows of the Delta table
 * `orders_dead_letters`, one per record, with enough to replay or diagnose it: the exact key and
 * value, the Kafka coordinates, the validator's reason code, its message and the field path (or
 * `constraint_violated` and the violated CHECK constraint's one-line message, or
 * `schema_mismatch` and the extra field that does not fit its column, lib/orders/evolve.ts).
 *
 * Key and value are kept the same way: as text in `key` / `value` when the bytes are valid UTF-8,
 * otherwise as base64 of the exact bytes in `key_base64` / `value_base64` (and `key` / `value`
 * null). Both null means the record had no key / was a tombstone. `key_base64` came after the
 * other columns, so a table created before it gains it as a schema change when the sink opens it
 * (see sinks.ts).
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
import {
  int32Data,
  int64Data,
  isValidUtf8,
  timestampFromMs,
  utf8FromBytes,
  utf8FromStrings,
} from "../arrow/columns.ts";
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
  /**
   * Reason code: parseOrder's, `constraint_violated` (a CHECK constraint of the table) or
   * `schema_mismatch` (an extra field whose value does not fit its column, evolve.ts).
   */
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
  new Field("key_base64", new Utf8(), true),
]);

/**
 * Builds the dead-letter rows (schema {@link deadLetterSchema}) for rejected records.
 *
 * @example
 * ```ts
 * import { deadLetterTable } from "./dead_letters.ts";
 * import { parseOrder } from "./validate.ts";
 * const value = new TextEncoder().encode('{"order_id":1,"customer_id":2,"line_items":[]}');
 * const coords = { topic: "retail-data-new", partition: 0, offset: "17", timestampMs: Date.now() };
 * const r = parseOrder(value);
 * if (!r.ok) {
 *   const row = { ...coords, key: null, value, reason: r.reason, error: r.message, field: r.field };
 *   deadLetterTable([row], Date.now()); // one row of orders_dead_letters
 * }
 * ```
 */
export function deadLetterTable(rows: readonly DeadLetter[], deadLetteredAtMs: number): Table {
  const n = rows.length;
  const keys = textOrBase64(rows.map((r) => r.key));
  const values = textOrBase64(rows.map((r) => r.value));
  const children = [
    utf8FromBytes(keys.text),
    utf8FromBytes(values.text),
    utf8FromStrings(values.base64),
    utf8FromStrings(rows.map((r) => r.topic)),
    int32Data(rows.map((r) => r.partition)),
    int64Data(BigInt64Array.from(rows, (r) => BigInt(r.offset))),
    timestampFromMs(rows.map((r) => r.timestampMs)),
    utf8FromStrings(rows.map((r) => r.reason)),
    utf8FromStrings(rows.map((r) => r.error)),
    utf8FromStrings(rows.map((r) => r.field)),
    timestampFromMs(new Float64Array(n).fill(deadLetteredAtMs)),
    utf8FromStrings(keys.base64),
  ];
  const struct = makeData({
    type: new Struct(deadLetterSchema.fields),
    length: n,
    nullCount: 0,
    children,
  });
  return new Table(deadLetterSchema, [new RecordBatch(deadLetterSchema, struct)]);
}

/** Each value as UTF-8 text when it is valid UTF-8, else null with its bytes in base64 (null stays null). */
function textOrBase64(bytes: readonly (Uint8Array | null)[]): {
  text: (Uint8Array | null)[];
  base64: (string | null)[];
} {
  const text: (Uint8Array | null)[] = [];
  const base64: (string | null)[] = [];
  for (const b of bytes) {
    if (b !== null && !isValidUtf8(b)) {
      text.push(null);
      base64.push(Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString("base64"));
    } else {
      text.push(b);
      base64.push(null);
    }
  }
  return { text, base64 };
}
