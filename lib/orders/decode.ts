/**
 * A schema-specialised order decoder for the cleaned stream: each record's UTF-8 bytes are read
 * once by a scanner that knows the order's JSON shape (lib/orders/schema.ts), and its rows go
 * straight into the cleaned table's column buffers (typed arrays, offsets + bytes): no decoded
 * text, no `JSON.parse` objects, no per-row strings.
 *
 * The decision and the rows are exactly those of `parseOrder` (validate.ts) and `flattenOrders`
 * (flatten.ts), which stay the reference. The scanner only ever *accepts*: it recognises
 * well-formed valid orders and hands every record it is not sure of to `parseOrder`, which then
 * decides as it always did (reason, message and field). It is sure of a record when all of this
 * holds, and falls back otherwise:
 * - bytes (not null), at most `maxBytes` of them; JSON whitespace (space, tab, CR, LF) around
 *   tokens, nothing else outside strings, so a BOM or any non-ASCII byte there falls back;
 * - one object holding only the order's eight keys, each at most once, written without escapes;
 *   `order_id`, `customer_id` and a non-empty `line_items` present; every line item an object
 *   with exactly its five keys, once each (unknown keys, allowed or not, fall back);
 * - longs written as plain integers (`-`? digits, no leading zero, no fraction or exponent) that
 *   are safe integers (|v| ≤ 2^53 − 1), so their value is exact; `pincode` may be `null`;
 * - money written as `-`? digits (`.` digits)? with at most two decimals (or trailing zeros) and
 *   below 10^10
 *   (money.ts): the value is `mantissa / 10^k` with both exactly representable, one correctly
 *   rounded division, the same double JSON.parse reads (no exponents: they fall back), and its
 *   cents `round(value × 100)` exactly;
 * - names, city and state are strings or `null`: well-formed UTF-8 (no overlong forms, no
 *   surrogates), no raw control characters, escapes `\" \\ \/ \b \f \n \r \t \uXXXX`; a pair of
 *   `\u` surrogates is one character, a lone one is U+FFFD (as `TextEncoder` writes it);
 * - the business rules of validate.ts hold with the same double arithmetic (quantity ≥ 1,
 *   price ≥ 0, subtotal within a cent of price × quantity, all finite).
 *
 * Rejections are rare, so the fallback costs little; `scanned` and `fellBack` count both paths.
 * @module
 */
import type { RecordBatch } from "apache-arrow";
import { CleanedColumns, offsetLong, put64 } from "./_cleaned_columns.ts";
import { endScan, scanned, scanOrder } from "./_scan.ts";
import { type CleanedMoney, DEFAULT_CLEANED_MONEY } from "./flatten.ts";
import { holdsAllMoney, moneyMisfit } from "./money.ts";
import type { LineItem, Order } from "./schema.ts";
import { DEFAULT_MAX_BYTES, type ParseFailure, parseOrder, type ParseResult } from "./validate.ts";

/** Options of {@link OrderDecoder}. */
export interface DecodeOptions {
  /** Largest accepted record in bytes, as parseOrder's `maxBytes` (default 1 MiB). */
  maxBytes?: number;
  /** Rows the column buffers have room for at first (default 8,192; they double when full). */
  firstRows?: number;
  /**
   * Judges a valid order parseOrder decoded (the fallback path: every record with unknown keys
   * takes it) before its rows are added from row `firstRow` of the batch being built: a failure
   * returned rejects the order instead (schema evolution, lib/orders/evolve.ts).
   */
  admit?: (order: Order, firstRow: number) => ParseFailure | undefined;
  /**
   * The table's money types (default `decimal(12,2)`): an order with an amount the type cannot
   * hold exactly is `out_of_range` (money.ts `moneyMisfit`), its rows not added.
   */
  money?: CleanedMoney;
}

/**
 * Decodes order records into rows of the cleaned table (flatten.ts `cleanedSchemaFor`, money in
 * the table's types), one per line item; records that are not valid orders come back as
 * parseOrder's failure.
 *
 * @example
 * ```ts
 * import { OrderDecoder } from "./decode.ts";
 * const decoder = new OrderDecoder(Date.now());
 * const value = new TextEncoder().encode(
 *   '{"order_id":1,"customer_id":11599,"line_items":[{"order_item_id":1,' +
 *     '"order_item_product_id":957,"order_item_quantity":1,"order_item_product_price":299.98,' +
 *     '"order_item_subtotal":299.98}]}',
 * );
 * decoder.decode(value, 0, "42", Date.now()); // undefined: accepted
 * decoder.decode(new TextEncoder().encode("{}"), 0, "43", Date.now())?.reason; // "missing_field"
 * decoder.take().numRows; // 1
 * ```
 */
export class OrderDecoder {
  /** Records the scanner decoded by itself (valid orders). */
  scanned = 0;
  /** Records handed to parseOrder (invalid ones, and valid ones the scanner was not sure of). */
  fellBack = 0;
  readonly #cols: CleanedColumns;
  readonly #maxBytes: number;
  /** The money types, when one of them cannot hold every valid amount (else undefined). */
  readonly #narrow: CleanedMoney | undefined;
  readonly #admit: DecodeOptions["admit"];

  /**
   * @param ingestedAtMs the `ingested_at` of every row (epoch ms).
   * @param opts size limit and first buffer size.
   */
  constructor(ingestedAtMs: number, opts: DecodeOptions = {}) {
    const money = opts.money ?? DEFAULT_CLEANED_MONEY;
    this.#cols = new CleanedColumns(ingestedAtMs, opts.firstRows, money);
    this.#maxBytes = opts.maxBytes ?? DEFAULT_MAX_BYTES;
    this.#narrow = holdsAllMoney(money.price) && holdsAllMoney(money.subtotal) ? undefined : money;
    this.#admit = opts.admit;
  }

  /** Orders in the batch being built. */
  get orders(): number {
    return this.#cols.orders;
  }

  /** Rows in the batch being built. */
  get rows(): number {
    return this.#cols.rows;
  }

  /**
   * Decodes one record value: a valid order's rows are added to the batch (and undefined is
   * returned); anything else adds nothing and returns parseOrder's failure.
   */
  decode(
    value: Uint8Array | null | undefined,
    partition: number,
    offset: bigint | string | number,
    timestampMs: number,
  ): ParseFailure | undefined {
    if (value !== null && value !== undefined && value.length <= this.#maxBytes) {
      const r = scanInto(value, this.#cols, partition, offset, timestampMs, this.#narrow);
      if (r !== false) {
        this.scanned++;
        return r === true ? undefined : r;
      }
    }
    this.fellBack++;
    const r = parseOrder(value, { maxBytes: this.#maxBytes });
    if (!r.ok) return r;
    const misfit = this.#narrow && itemsMisfit(r.order.line_items, this.#narrow);
    if (misfit) return misfit;
    const refused = this.#admit?.(r.order, this.#cols.rows);
    if (refused !== undefined) return refused;
    this.#cols.addOrder(r.order, partition, offset, timestampMs);
    return undefined;
  }

  /**
   * The verdict on one record value without adding its rows: parseOrder's, and `out_of_range`
   * for an amount the table's money types cannot hold (as {@link OrderDecoder.decode} judges).
   */
  verdict(value: Uint8Array | null | undefined): ParseResult {
    const r = parseOrder(value, { maxBytes: this.#maxBytes });
    if (!r.ok || this.#narrow === undefined) return r;
    return itemsMisfit(r.order.line_items, this.#narrow) ?? r;
  }

  /** The rows decoded so far as a RecordBatch of the cleaned schema; the next batch starts empty. */
  take(): RecordBatch {
    return this.#cols.take();
  }
}

/**
 * When the scanner is sure `value` is a valid order, adds its rows to `cols` and returns true
 * (or, when an amount does not fit the `narrow` money types, adds nothing and returns that
 * `out_of_range` failure); else adds nothing and returns false.
 */
function scanInto(
  value: Uint8Array,
  cols: CleanedColumns,
  partition: number,
  offset: bigint | string | number,
  timestampMs: number,
  narrow: CleanedMoney | undefined,
): boolean | ParseFailure {
  if (!scanOrder(value)) return false;
  try {
    const misfit = narrow && scannedMisfit(narrow);
    if (misfit) return misfit;
    commit(cols, partition, offsetLong(offset), timestampMs);
  } finally {
    endScan(); // hold no record
  }
  return true;
}

/** The `out_of_range` failure of the first amount `money` cannot hold, or undefined. */
function misfitAt(
  item: number,
  priceCents: number,
  subtotalCents: number,
  money: CleanedMoney,
): ParseFailure | undefined {
  for (
    const [name, cents, type] of [
      ["order_item_product_price", priceCents, money.price],
      ["order_item_subtotal", subtotalCents, money.subtotal],
    ] as const
  ) {
    const why = moneyMisfit(cents, type);
    if (why !== undefined) {
      const field = `line_items[${item}].${name}`;
      return { ok: false, reason: "out_of_range", field, message: `${field}: ${why}` };
    }
  }
  return undefined;
}

/** {@link misfitAt} over the scanned order's line items. */
function scannedMisfit(money: CleanedMoney): ParseFailure | undefined {
  const vals = scanned.itemValues;
  for (let j = 0; j < scanned.items; j++) {
    const f = misfitAt(
      j,
      Math.round(vals[5 * j + 3] * 100),
      Math.round(vals[5 * j + 4] * 100),
      money,
    );
    if (f) return f;
  }
  return undefined;
}

/** {@link misfitAt} over a parsed order's line items. */
function itemsMisfit(items: readonly LineItem[], money: CleanedMoney): ParseFailure | undefined {
  for (let j = 0; j < items.length; j++) {
    const it = items[j];
    const f = misfitAt(
      j,
      Math.round(it.order_item_product_price * 100),
      Math.round(it.order_item_subtotal * 100),
      money,
    );
    if (f) return f;
  }
  return undefined;
}

const TWO32 = 4294967296;
const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** The high int32 half of a safe integer (two's complement int64). */
function hi32(v: number): number {
  return (v | 0) === v ? (v < 0 ? -1 : 0) : Math.floor(v / TWO32);
}

/** The low int32 half of a safe integer. */
function lo32(v: number): number {
  return (v | 0) === v ? v : (v - Math.floor(v / TWO32) * TWO32) | 0;
}

/** Writes the scanned order's rows (one per line item) into the columns. */
function commit(
  cols: CleanedColumns,
  partition: number,
  offset: number | bigint,
  timestampMs: number,
): void {
  const o = scanned;
  const m = o.items;
  cols.reserve(m);
  const from = cols.rows;
  const to = from + m;
  const tsUs = Math.round(timestampMs * 1000);
  const vals = o.itemValues;
  if (LITTLE_ENDIAN && typeof offset === "number" && Number.isSafeInteger(tsUs)) {
    // The common case: every int64 as two int32 halves, the order's own ones split once.
    const oid = cols.orderId.halves;
    const cid = cols.customerId.halves;
    const iid = cols.itemId.halves;
    const pid = cols.productId.halves;
    const qty = cols.quantity.halves;
    const off = cols.kafkaOffset.halves;
    const ts = cols.kafkaTs.halves;
    const price = cols.price;
    const subtotal = cols.subtotal;
    const part = cols.partition;
    const oLo = lo32(o.orderId), oHi = hi32(o.orderId);
    const cLo = lo32(o.customerId), cHi = hi32(o.customerId);
    const fLo = lo32(offset), fHi = hi32(offset);
    const tLo = lo32(tsUs), tHi = hi32(tsUs);
    for (let r = from, at = 0; r < to; r++, at += 5) {
      const h = 2 * r;
      oid[h] = oLo;
      oid[h + 1] = oHi;
      cid[h] = cLo;
      cid[h + 1] = cHi;
      let v = vals[at];
      iid[h] = lo32(v);
      iid[h + 1] = hi32(v);
      v = vals[at + 1];
      pid[h] = lo32(v);
      pid[h + 1] = hi32(v);
      v = vals[at + 2];
      qty[h] = lo32(v);
      qty[h + 1] = hi32(v);
      // Money as whole cents: exact, the amounts are doubles nearest to a number of cents.
      price[r] = Math.round(vals[at + 3] * 100);
      subtotal[r] = Math.round(vals[at + 4] * 100);
      part[r] = partition;
      off[h] = fLo;
      off[h + 1] = fHi;
      ts[h] = tLo;
      ts[h + 1] = tHi;
    }
  } else {
    for (let r = from, at = 0; r < to; r++, at += 5) {
      put64(cols.orderId, r, o.orderId);
      put64(cols.customerId, r, o.customerId);
      put64(cols.itemId, r, vals[at]);
      put64(cols.productId, r, vals[at + 1]);
      put64(cols.quantity, r, vals[at + 2]);
      cols.price[r] = Math.round(vals[at + 3] * 100);
      cols.subtotal[r] = Math.round(vals[at + 4] * 100);
    }
    cols.lineage(from, to, partition, offset, timestampMs);
  }
  if (o.pinNull) cols.pinNulls += m;
  else {
    for (let r = from; r < to; r++) {
      put64(cols.pincode, r, o.pincode);
      cols.pinValid[r >> 3] |= 1 << (r & 7);
    }
  }
  for (let k = 0; k < 4; k++) {
    const s = cols.strings[k];
    const kind = o.strKind[k];
    if (kind === 0) {
      for (let r = from; r < to; r++) s.offsets[r + 1] = s.used;
      s.nulls += m;
      continue;
    }
    const src = kind === 1 ? o.bytes : o.unescaped;
    const start = o.strStart[k];
    const end = o.strEnd[k];
    cols.reserveBytes(s, (end - start) * m);
    const out = s.bytes;
    const offsets = s.offsets;
    const valid = s.valid;
    let u = s.used;
    for (let r = from; r < to; r++) {
      if (end - start > 32) {
        out.set(src.subarray(start, end), u);
        u += end - start;
      } else for (let j = start; j < end; j++) out[u++] = src[j];
      offsets[r + 1] = u;
      valid[r >> 3] |= 1 << (r & 7);
    }
    s.used = u;
  }
  cols.rows = to;
  cols.orders++;
}
