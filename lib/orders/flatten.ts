/**
 * Explodes validated orders into the cleaned (silver) rows, one per line item, as an Arrow
 * table with Kafka lineage columns.
 *
 * Built for speed with the column builders of lib/arrow/columns.ts: numbers go straight into
 * typed arrays (Int64 as two int32 halves, no BigInt per value), each Utf8 column is one
 * `TextEncoder` pass into offsets + bytes, and the table is assembled with `makeData` (no
 * builders, no dictionary inference).
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
  int64Values,
  setInt64,
  timestampData,
  utf8FromStrings,
} from "../arrow/columns.ts";
import type { Long, Order } from "./schema.ts";
import {
  DEFAULT_MONEY,
  moneyArrowType,
  moneyData,
  type MoneyType,
  moneyTypeName,
} from "./money.ts";

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

/** The money types of the cleaned table's two money columns (money.ts). */
export interface CleanedMoney {
  /** Type of `price`. */
  price: MoneyType;
  /** Type of `subtotal`. */
  subtotal: MoneyType;
}

/** The money of new cleaned tables: `decimal(12,2)` for both price and subtotal. */
export const DEFAULT_CLEANED_MONEY: CleanedMoney = {
  price: DEFAULT_MONEY,
  subtotal: DEFAULT_MONEY,
};

const schemas = new Map<string, Schema>();

/**
 * Arrow schema of the cleaned rows with money in the given types (default: `decimal(12,2)`, the
 * type of new tables; an older table's `double` money, or a user's own decimal, is kept when the
 * stream appends to it). Ids, line-item values and lineage are never null; the customer's names,
 * city, state and pincode are nullable (the validator lets them be null).
 *
 * @example
 * ```ts
 * import { cleanedSchemaFor } from "./flatten.ts";
 * import { DOUBLE_MONEY } from "./money.ts";
 * String(cleanedSchemaFor().fields[10].type); // "Decimal[12e+2]"
 * String(cleanedSchemaFor({ price: DOUBLE_MONEY, subtotal: DOUBLE_MONEY }).fields[10].type); // "Float64"
 * ```
 */
export function cleanedSchemaFor(money: CleanedMoney = DEFAULT_CLEANED_MONEY): Schema {
  const key = `${moneyTypeName(money.price)} ${moneyTypeName(money.subtotal)}`;
  let schema = schemas.get(key);
  if (schema === undefined) {
    schema = new Schema([
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
      new Field("price", moneyArrowType(money.price), false),
      new Field("subtotal", moneyArrowType(money.subtotal), false),
      new Field("kafka_partition", new Int32(), false),
      new Field("kafka_offset", new Int64(), false),
      new Field("kafka_timestamp", new TimestampMicrosecond("UTC"), false),
      new Field("ingested_at", new TimestampMicrosecond("UTC"), false),
    ]);
    schemas.set(key, schema);
  }
  return schema;
}

/** Arrow schema of the cleaned rows of a new table (money as `decimal(12,2)`): {@link cleanedSchemaFor}. */
export const cleanedSchema: Schema = cleanedSchemaFor();

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

function offsetToLong(o: bigint | string | number): Long {
  if (typeof o === "string") {
    const n = Number(o);
    return Number.isSafeInteger(n) ? n : BigInt(o);
  }
  return o;
}

/**
 * Flattens orders into one Arrow row per line item, in input order, with lineage columns;
 * the schema is {@link cleanedSchemaFor}`(money)`. Money must fit its type (money.ts
 * `moneyMisfit`); the validator's amounts always fit the default `decimal(12,2)` and `double`.
 *
 * @example
 * ```ts
 * import { flattenOrders } from "./flatten.ts";
 * import { parseOrder } from "./validate.ts";
 * const text = '{"order_id":1,"customer_id":11599,"line_items":[{"order_item_id":1,' +
 *   '"order_item_product_id":957,"order_item_quantity":1,"order_item_product_price":299.98,' +
 *   '"order_item_subtotal":299.98}]}';
 * const r = parseOrder(text);
 * if (r.ok) {
 *   const record = { order: r.order, partition: 0, offset: "42", timestampMs: Date.now() };
 *   const table = flattenOrders([record], Date.now());
 *   table.numRows; // = r.order.line_items.length
 * }
 * ```
 */
export function flattenOrders(
  records: readonly OrderRecord[],
  ingestedAtMs: number,
  money: CleanedMoney = DEFAULT_CLEANED_MONEY,
): Table {
  let n = 0;
  for (let j = 0; j < records.length; j++) n += records[j].order.line_items.length;

  const orderId = int64Values(n);
  const customerId = int64Values(n);
  const pincode = int64Values(n);
  const itemId = int64Values(n);
  const productId = int64Values(n);
  const quantity = int64Values(n);
  const kafkaOffset = int64Values(n);
  const kafkaTs = int64Values(n);
  const ingestedAt = int64Values(n);
  // Money as whole cents (exact: validated amounts are doubles nearest to a number of cents).
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
      setInt64(orderId, r, o.order_id);
      setInt64(customerId, r, o.customer_id);
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
        setInt64(pincode, r, o.pincode);
      }
      setInt64(itemId, r, it.order_item_id);
      setInt64(productId, r, it.order_item_product_id);
      setInt64(quantity, r, it.order_item_quantity);
      price[r] = Math.round(it.order_item_product_price * 100);
      subtotal[r] = Math.round(it.order_item_subtotal * 100);
      partition[r] = rec.partition;
      setInt64(kafkaOffset, r, off);
      setInt64(kafkaTs, r, tsUs);
      setInt64(ingestedAt, r, ingestedUs);
    }
  }

  if (pinValidity !== undefined && (n & 7) !== 0) pinValidity[n >> 3] &= (1 << (n & 7)) - 1;

  const children = [
    int64Data(orderId),
    int64Data(customerId),
    utf8FromStrings(fname),
    utf8FromStrings(lname),
    utf8FromStrings(city),
    utf8FromStrings(state),
    int64Data(pincode, pinValidity, pinNulls),
    int64Data(itemId),
    int64Data(productId),
    int64Data(quantity),
    moneyData(price, n, money.price),
    moneyData(subtotal, n, money.subtotal),
    int32Data(partition),
    int64Data(kafkaOffset),
    timestampData(kafkaTs),
    timestampData(ingestedAt),
  ];
  const schema = cleanedSchemaFor(money);
  const struct = makeData({ type: new Struct(schema.fields), length: n, nullCount: 0, children });
  return new Table(schema, [new RecordBatch(schema, struct)]);
}
