/**
 * The cleaned table's column buffers, filled row by row and handed over as one Arrow
 * `RecordBatch` of the cleaned schema: int64 columns as 32-bit halves (a `BigInt64Array` over
 * the same memory takes the rare bigint), money as integer cents and the partition in typed
 * arrays (money takes the table's type, decimal or double, in `take`), each Utf8
 * column as offsets + bytes + validity bits. Private to lib/orders: decode.ts writes the buffers
 * directly; {@link CleanedColumns.addOrder} adds an already parsed order (its fallback path).
 *
 * The values are the ones flattenOrders (flatten.ts) writes for the same records: the same
 * lineage arithmetic, strings as `TextEncoder` bytes of each value, the same nulls.
 * @module
 */
import { makeData, RecordBatch, Struct, Utf8 } from "apache-arrow";
import { int32Data, int64Data, timestampData } from "../arrow/columns.ts";
import { type CleanedMoney, cleanedSchemaFor, DEFAULT_CLEANED_MONEY } from "./flatten.ts";
import { moneyData } from "./money.ts";
import type { Long, Order } from "./schema.ts";

const TWO32 = 4294967296;
const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;
const MAX_BYTES = 0x7fffffff;
const encoder = new TextEncoder();

/** One int64 column: the values, and the same memory as 32-bit halves. */
export interface Int64Column {
  /** The values. */
  big: BigInt64Array;
  /** The same memory as int32 halves (low word first on little-endian machines). */
  halves: Int32Array;
}

/** One nullable Utf8 column: offsets, bytes (`used` of them filled), validity bits. */
export interface Utf8Column {
  /** Row r's value is `bytes[offsets[r], offsets[r + 1])`. */
  offsets: Int32Array;
  /** The values' bytes. */
  bytes: Uint8Array;
  /** Bytes filled. */
  used: number;
  /** Bit r set: row r is not null. */
  valid: Uint8Array;
  /** Null rows. */
  nulls: number;
}

function int64Column(rows: number): Int64Column {
  const big = new BigInt64Array(rows);
  return { big, halves: new Int32Array(big.buffer) };
}

function grow64(c: Int64Column, rows: number, cap: number): Int64Column {
  const next = int64Column(cap);
  next.big.set(c.big.subarray(0, rows));
  return next;
}

function growTyped<T extends Float64Array | Int32Array | Uint8Array>(
  a: T,
  used: number,
  size: number,
): T {
  const next = new (a.constructor as new (n: number) => T)(size);
  next.set(a.subarray(0, used));
  return next;
}

function utf8Column(rows: number, bytes: number): Utf8Column {
  return {
    offsets: new Int32Array(rows + 1),
    bytes: new Uint8Array(bytes),
    used: 0,
    valid: new Uint8Array((rows + 7) >> 3),
    nulls: 0,
  };
}

/**
 * Stores integer `v` at row `r`: a safe integer as two int32 halves, anything else through
 * `BigInt` (which throws a RangeError for a fraction or NaN, as flatten's `setInt64` does).
 */
export function put64(c: Int64Column, r: number, v: Long): void {
  if (typeof v === "number" && LITTLE_ENDIAN && v >= 0 && v < 2147483648) {
    c.halves[2 * r] = v;
    c.halves[2 * r + 1] = 0;
  } else if (typeof v === "number" && LITTLE_ENDIAN && Number.isSafeInteger(v)) {
    const hi = Math.floor(v / TWO32);
    c.halves[2 * r] = (v - hi * TWO32) | 0;
    c.halves[2 * r + 1] = hi;
  } else {
    c.big[r] = BigInt(v);
  }
}

/** A Kafka offset as a long: kafkajs gives a decimal string (as flatten.ts reads it). */
export function offsetLong(o: bigint | string | number): Long {
  if (typeof o === "string") {
    const n = Number(o);
    return Number.isSafeInteger(n) ? n : BigInt(o);
  }
  return o;
}

/**
 * Growable buffers of the cleaned table's columns; {@link CleanedColumns.take} hands the rows
 * over as a RecordBatch and starts again empty.
 *
 * @example
 * ```ts
 * import { CleanedColumns } from "./_cleaned_columns.ts";
 * const cols = new CleanedColumns(Date.now());
 * cols.addOrder({
 *   order_id: 1, customer_id: 11599, customer_fname: "Mary", customer_lname: null, city: null,
 *   state: null, pincode: null,
 *   line_items: [{ order_item_id: 1, order_item_product_id: 957, order_item_quantity: 1,
 *     order_item_product_price: 299.98, order_item_subtotal: 299.98 }],
 * }, 0, "42", Date.now());
 * cols.take().numRows; // 1
 * ```
 */
export class CleanedColumns {
  /** Rows filled. */
  rows = 0;
  /** Orders whose rows are in. */
  orders = 0;
  /** Rows there is room for. */
  cap = 0;
  orderId!: Int64Column;
  customerId!: Int64Column;
  pincode!: Int64Column;
  /** Bit r set: row r's pincode is not null. */
  pinValid!: Uint8Array;
  pinNulls = 0;
  itemId!: Int64Column;
  productId!: Int64Column;
  quantity!: Int64Column;
  /** Price in whole cents (an integer-valued double). */
  price!: Float64Array;
  /** Subtotal in whole cents. */
  subtotal!: Float64Array;
  partition!: Int32Array;
  kafkaOffset!: Int64Column;
  kafkaTs!: Int64Column;
  /** customer_fname, customer_lname, city, state. */
  strings!: Utf8Column[];
  readonly #ingestedUs: number;
  readonly #money: CleanedMoney;
  /** Room for the next batch's rows: at first the constructor's, then the last batch's + 1/8. */
  #nextRows: number;

  /**
   * @param ingestedAtMs the `ingested_at` of every row (epoch ms).
   * @param firstRows room for this many rows at first (the buffers double when full); later
   *   batches start with room for the last batch's rows and an eighth more.
   * @param money the table's money types (default `decimal(12,2)`).
   */
  constructor(
    ingestedAtMs: number,
    firstRows = 8192,
    money: CleanedMoney = DEFAULT_CLEANED_MONEY,
  ) {
    this.#ingestedUs = Math.round(ingestedAtMs * 1000);
    this.#money = money;
    this.#nextRows = Math.max(8, firstRows);
  }

  /** Fresh buffers for `cap` rows (the first reserve after a take). */
  #alloc(cap: number): void {
    this.cap = cap;
    this.orderId = int64Column(cap);
    this.customerId = int64Column(cap);
    this.pincode = int64Column(cap);
    this.pinValid = new Uint8Array((cap + 7) >> 3);
    this.pinNulls = 0;
    this.itemId = int64Column(cap);
    this.productId = int64Column(cap);
    this.quantity = int64Column(cap);
    this.price = new Float64Array(cap);
    this.subtotal = new Float64Array(cap);
    this.partition = new Int32Array(cap);
    this.kafkaOffset = int64Column(cap);
    this.kafkaTs = int64Column(cap);
    this.strings = [0, 1, 2, 3].map(() => utf8Column(cap, cap * 12));
  }

  /** Makes room for `more` rows. */
  reserve(more: number): void {
    const need = this.rows + more;
    if (need <= this.cap) return;
    if (this.cap === 0) return this.#alloc(Math.max(this.#nextRows, need));
    let cap = this.cap * 2;
    while (cap < need) cap *= 2;
    const n = this.rows;
    this.orderId = grow64(this.orderId, n, cap);
    this.customerId = grow64(this.customerId, n, cap);
    this.pincode = grow64(this.pincode, n, cap);
    this.pinValid = growTyped(this.pinValid, (n + 7) >> 3, (cap + 7) >> 3);
    this.itemId = grow64(this.itemId, n, cap);
    this.productId = grow64(this.productId, n, cap);
    this.quantity = grow64(this.quantity, n, cap);
    this.price = growTyped(this.price, n, cap);
    this.subtotal = growTyped(this.subtotal, n, cap);
    this.partition = growTyped(this.partition, n, cap);
    this.kafkaOffset = grow64(this.kafkaOffset, n, cap);
    this.kafkaTs = grow64(this.kafkaTs, n, cap);
    for (const s of this.strings) {
      s.offsets = growTyped(s.offsets, n + 1, cap + 1);
      s.valid = growTyped(s.valid, (n + 7) >> 3, (cap + 7) >> 3);
    }
    this.cap = cap;
  }

  /** Makes room for `more` bytes in string column `s`. */
  reserveBytes(s: Utf8Column, more: number): void {
    const need = s.used + more;
    if (need <= s.bytes.length) return;
    if (need > MAX_BYTES) {
      throw new RangeError(
        `a column of ${need} bytes is over Arrow's 2 GiB limit for Utf8; build smaller batches`,
      );
    }
    s.bytes = growTyped(s.bytes, s.used, Math.min(MAX_BYTES, Math.max(need, s.bytes.length * 2)));
  }

  /**
   * Writes the lineage of rows `[from, to)`: the Kafka partition, offset and timestamp.
   */
  lineage(from: number, to: number, partition: number, offset: Long, timestampMs: number): void {
    const tsUs = Math.round(timestampMs * 1000);
    for (let r = from; r < to; r++) {
      this.partition[r] = partition;
      put64(this.kafkaOffset, r, offset);
      put64(this.kafkaTs, r, tsUs);
    }
  }

  /**
   * Adds the rows of an order parsed by `parseOrder` (one per line item), as flattenOrders
   * writes them.
   */
  addOrder(
    order: Order,
    partition: number,
    offset: bigint | string | number,
    timestampMs: number,
  ): void {
    const items = order.line_items;
    const n = items.length;
    this.reserve(n);
    const from = this.rows;
    for (let k = 0; k < n; k++) {
      const r = from + k;
      const it = items[k];
      put64(this.orderId, r, order.order_id);
      put64(this.customerId, r, order.customer_id);
      if (order.pincode === null) this.pinNulls++;
      else {
        put64(this.pincode, r, order.pincode);
        this.pinValid[r >> 3] |= 1 << (r & 7);
      }
      put64(this.itemId, r, it.order_item_id);
      put64(this.productId, r, it.order_item_product_id);
      put64(this.quantity, r, it.order_item_quantity);
      this.price[r] = Math.round(it.order_item_product_price * 100);
      this.subtotal[r] = Math.round(it.order_item_subtotal * 100);
    }
    const values = [order.customer_fname, order.customer_lname, order.city, order.state];
    for (let c = 0; c < 4; c++) {
      const s = this.strings[c];
      const v = values[c];
      if (v === null) {
        for (let r = from; r < from + n; r++) s.offsets[r + 1] = s.used;
        s.nulls += n;
        continue;
      }
      // The first row's bytes are encoded in place, the other rows copy them.
      this.reserveBytes(s, v.length * 3);
      const start = s.used;
      const len = encoder.encodeInto(v, s.bytes.subarray(start)).written;
      s.used += len;
      this.reserveBytes(s, len * (n - 1));
      for (let r = from; r < from + n; r++) {
        if (r > from) {
          s.bytes.copyWithin(s.used, start, start + len);
          s.used += len;
        }
        s.offsets[r + 1] = s.used;
        s.valid[r >> 3] |= 1 << (r & 7);
      }
    }
    this.lineage(from, from + n, partition, offsetLong(offset), timestampMs);
    this.rows = from + n;
    this.orders++;
  }

  /** The rows so far as a RecordBatch of the cleaned schema; the buffers start again empty. */
  take(): RecordBatch {
    if (this.cap === 0) this.#alloc(8); // nothing was added: an empty batch
    const n = this.rows;
    const int64 = (c: Int64Column, valid?: Uint8Array, nulls?: number) =>
      int64Data(c.big.subarray(0, n), valid, nulls);
    const ingested = new BigInt64Array(n).fill(BigInt(this.#ingestedUs));
    const utf8 = (s: Utf8Column) =>
      makeData({
        type: new Utf8(),
        length: n,
        nullCount: s.nulls,
        nullBitmap: s.nulls > 0 ? s.valid.subarray(0, (n + 7) >> 3) : undefined,
        valueOffsets: s.offsets.subarray(0, n + 1),
        data: s.bytes.subarray(0, s.used),
      });
    const [fname, lname, city, state] = this.strings;
    const children = [
      int64(this.orderId),
      int64(this.customerId),
      utf8(fname),
      utf8(lname),
      utf8(city),
      utf8(state),
      this.pinNulls > 0
        ? int64(this.pincode, this.pinValid.subarray(0, (n + 7) >> 3), this.pinNulls)
        : int64(this.pincode),
      int64(this.itemId),
      int64(this.productId),
      int64(this.quantity),
      moneyData(this.price, n, this.#money.price),
      moneyData(this.subtotal, n, this.#money.subtotal),
      int32Data(this.partition.subarray(0, n)),
      int64(this.kafkaOffset),
      timestampData(this.kafkaTs.big.subarray(0, n)),
      timestampData(ingested),
    ];
    const schema = cleanedSchemaFor(this.#money);
    const struct = makeData({
      type: new Struct(schema.fields),
      length: n,
      nullCount: 0,
      children,
    });
    this.rows = 0;
    this.orders = 0;
    this.cap = 0; // new buffers on the next reserve: the batch keeps these
    if (n > 0) this.#nextRows = Math.max(8, n + (n >> 3));
    return new RecordBatch(schema, struct);
  }
}
