/**
 * Explodes validated orders into the cleaned (silver) rows, one per line item, as an Arrow
 * table with Kafka lineage columns.
 *
 * Built for speed: numbers go straight into typed arrays (Int64 as two int32 halves, no
 * BigInt per value), each Utf8 column is one `TextEncoder` pass into offsets + bytes, and
 * the table is assembled with `makeData` (no builders, no dictionary inference).
 * @module
 */

import {
  Field,
  Float64,
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
import type { Long, Order } from "./schema.ts";

/** Column names of the cleaned table, in order. */
export const CLEANED_COLUMNS = [
  "order_id",
  "customer_id",
  "customer_fname",
  "customer_lname",
  "city",
  "state",
  "pincode",
  "item_id",
  "product_id",
  "quantity",
  "price",
  "subtotal",
  "kafka_partition",
  "kafka_offset",
  "kafka_timestamp",
  "ingested_at",
] as const;

/**
 * Arrow schema of the cleaned rows. Ids, line-item values and lineage are never null; the
 * customer's names, city, state and pincode are nullable (the validator lets them be null).
 */
export const cleanedSchema: Schema = new Schema([
  new Field("order_id", new Int64(), false),
  new Field("customer_id", new Int64(), false),
  new Field("customer_fname", new Utf8(), true),
  new Field("customer_lname", new Utf8(), true),
  new Field("city", new Utf8(), true),
  new Field("state", new Utf8(), true),
  new Field("pincode", new Int64(), true),
  new Field("item_id", new Int64(), false),
  new Field("product_id", new Int64(), false),
  new Field("quantity", new Int64(), false),
  new Field("price", new Float64(), false),
  new Field("subtotal", new Float64(), false),
  new Field("kafka_partition", new Int32(), false),
  new Field("kafka_offset", new Int64(), false),
  new Field("kafka_timestamp", new TimestampMicrosecond("UTC"), false),
  new Field("ingested_at", new TimestampMicrosecond("UTC"), false),
]);

/** One validated order with the Kafka coordinates it was read from. */
export interface OrderRecord {
  /** The validated order (from `parseOrder`). */
  order: Order;
  /** Kafka partition. */
  partition: number;
  /** Kafka offset (kafkajs gives a decimal string). */
  offset: bigint | string | number;
  /** Kafka record timestamp in epoch milliseconds. */
  timestampMs: number;
}

const TWO32 = 4294967296;
const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;
const encoder = new TextEncoder();

/** An int64 column being filled: a BigInt64Array and an Int32Array over the same bytes. */
interface LongColumn {
  big: BigInt64Array;
  i32: Int32Array;
}

function longColumn(n: number): LongColumn {
  const big = new BigInt64Array(n);
  return { big, i32: new Int32Array(big.buffer) };
}

/** Stores a safe integer (or bigint) at row i without allocating a BigInt on the common path. */
function setLong(col: LongColumn, i: number, v: Long): void {
  if (typeof v === "number" && LITTLE_ENDIAN) {
    const hi = Math.floor(v / TWO32);
    col.i32[2 * i] = (v - hi * TWO32) | 0;
    col.i32[2 * i + 1] = hi;
  } else {
    col.big[i] = BigInt(v);
  }
}

function offsetToLong(o: bigint | string | number): Long {
  if (typeof o === "string") {
    const n = Number(o);
    return Number.isSafeInteger(n) ? n : BigInt(o);
  }
  return o;
}

/** Builds a Utf8 column from row strings (null = null) with one TextEncoder pass. */
function utf8Data(values: (string | null)[], nullable: boolean) {
  const n = values.length;
  const offsets = new Int32Array(n + 1);
  let nulls = 0;
  let validity: Uint8Array | undefined;
  if (nullable) {
    for (let i = 0; i < n; i++) if (values[i] === null) nulls++;
    if (nulls > 0) {
      validity = new Uint8Array((n + 7) >> 3);
      for (let i = 0; i < n; i++) {
        if (values[i] !== null) validity[i >> 3] |= 1 << (i & 7);
        else values[i] = "";
      }
    }
  }
  const joined = (values as string[]).join("");
  let bytes = encoder.encode(joined);
  if (bytes.length === joined.length) {
    // All ASCII: byte offsets equal character offsets.
    let pos = 0;
    for (let i = 0; i < n; i++) {
      pos += (values[i] as string).length;
      offsets[i + 1] = pos;
    }
  } else {
    let pos = 0;
    for (let i = 0; i < n; i++) {
      pos += encoder.encodeInto(values[i] as string, bytes.subarray(pos)).written;
      offsets[i + 1] = pos;
    }
    bytes = bytes.subarray(0, pos);
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

/**
 * Flattens orders into one Arrow row per line item, in input order, with lineage columns;
 * the schema is {@link cleanedSchema}.
 *
 * @example
 * ```ts
 * const r = parseOrder(text);
 * if (r.ok) {
 *   const table = flattenOrders([{ order: r.order, partition: 0, offset: "42", timestampMs: Date.now() }], Date.now());
 *   table.numRows; // = r.order.line_items.length
 * }
 * ```
 */
export function flattenOrders(records: readonly OrderRecord[], ingestedAtMs: number): Table {
  let n = 0;
  for (let j = 0; j < records.length; j++) n += records[j].order.line_items.length;

  const orderId = longColumn(n);
  const customerId = longColumn(n);
  const pincode = longColumn(n);
  const itemId = longColumn(n);
  const productId = longColumn(n);
  const quantity = longColumn(n);
  const kafkaOffset = longColumn(n);
  const kafkaTs = longColumn(n);
  const ingestedAt = longColumn(n);
  const price = new Float64Array(n);
  const subtotal = new Float64Array(n);
  const partition = new Int32Array(n);
  const fname: (string | null)[] = new Array(n);
  const lname: (string | null)[] = new Array(n);
  const city: (string | null)[] = new Array(n);
  const state: (string | null)[] = new Array(n);
  let pinNulls = 0;
  let pinValidity: Uint8Array | undefined;

  const ingestedUs = Math.round(ingestedAtMs * 1000);
  let r = 0;
  for (let j = 0; j < records.length; j++) {
    const rec = records[j];
    const o = rec.order;
    const items = o.line_items;
    const off = offsetToLong(rec.offset);
    const tsUs = Math.round(rec.timestampMs * 1000);
    for (let k = 0; k < items.length; k++, r++) {
      const it = items[k];
      setLong(orderId, r, o.order_id);
      setLong(customerId, r, o.customer_id);
      fname[r] = o.customer_fname;
      lname[r] = o.customer_lname;
      city[r] = o.city;
      state[r] = o.state;
      if (o.pincode === null) {
        if (pinValidity === undefined) {
          pinValidity = new Uint8Array((n + 7) >> 3).fill(0xff);
        }
        pinValidity[r >> 3] &= ~(1 << (r & 7));
        pinNulls++;
      } else {
        setLong(pincode, r, o.pincode);
      }
      setLong(itemId, r, it.order_item_id);
      setLong(productId, r, it.order_item_product_id);
      setLong(quantity, r, it.order_item_quantity);
      price[r] = it.order_item_product_price;
      subtotal[r] = it.order_item_subtotal;
      partition[r] = rec.partition;
      setLong(kafkaOffset, r, off);
      setLong(kafkaTs, r, tsUs);
      setLong(ingestedAt, r, ingestedUs);
    }
  }

  if (pinValidity !== undefined && (n & 7) !== 0) pinValidity[n >> 3] &= (1 << (n & 7)) - 1;

  const int64 = (c: LongColumn) => makeData({ type: new Int64(), length: n, data: c.big });
  const ts = (c: LongColumn) =>
    makeData({ type: new TimestampMicrosecond("UTC"), length: n, data: c.big });
  const children = [
    int64(orderId),
    int64(customerId),
    utf8Data(fname, true),
    utf8Data(lname, true),
    utf8Data(city, true),
    utf8Data(state, true),
    makeData({
      type: new Int64(),
      length: n,
      data: pincode.big,
      nullCount: pinNulls,
      nullBitmap: pinValidity,
    }),
    int64(itemId),
    int64(productId),
    int64(quantity),
    makeData({ type: new Float64(), length: n, data: price }),
    makeData({ type: new Float64(), length: n, data: subtotal }),
    makeData({ type: new Int32(), length: n, data: partition }),
    int64(kafkaOffset),
    ts(kafkaTs),
    ts(ingestedAt),
  ];
  const struct = makeData({
    type: new Struct(cleanedSchema.fields),
    length: n,
    nullCount: 0,
    children,
  });
  return new Table(cleanedSchema, [new RecordBatch(cleanedSchema, struct)]);
}
