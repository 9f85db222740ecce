/**
 * The byte scanner of decode.ts: reads one order record's UTF-8 bytes in one pass, for the JSON
 * shape of lib/orders/schema.ts only, and says whether it is *sure* the record is a valid order
 * (see decode.ts for exactly when). When it is, {@link scanned} holds the order's values: longs
 * and money (price, subtotal) as the doubles JSON.parse reads, strings as UTF-8 byte ranges (of the record, or of
 * `unescaped` when they had escapes). State lives in module variables: one record at a time
 * (decoding is synchronous).
 * @module
 */

/** What the last record {@link scanOrder} was sure of holds (valid until the next call). */
export interface ScannedOrder {
  /** The record's bytes (until {@link endScan}). */
  bytes: Uint8Array;
  /** order_id, customer_id, pincode (safe integers). */
  orderId: number;
  customerId: number;
  pincode: number;
  /** pincode is null or absent. */
  pinNull: boolean;
  /** Per string field (fname, lname, city, state): 0 null, 1 bytes of `bytes`, 2 of `unescaped`. */
  strKind: Int32Array;
  /** The field's bytes are `[strStart, strEnd)` of its source. */
  strStart: Int32Array;
  strEnd: Int32Array;
  /** Strings that had escapes, decoded to UTF-8. */
  unescaped: Uint8Array;
  /** Line items. */
  items: number;
  /** Five values per line item: id, product id, quantity, price, subtotal. */
  itemValues: Float64Array;
}

const EMPTY = new Uint8Array(0);
/** The record's bytes, their length, the read position. */
let b: Uint8Array = EMPTY;
let n = 0;
let p = 0;

let orderId = 0;
let customerId = 0;
let pincode = 0;
let pinNull = true;
/** Per string field (fname, lname, city, state): 0 null, 1 bytes of b, 2 bytes of `unescaped`. */
const strKind = new Int32Array(4);
const strStart = new Int32Array(4);
const strEnd = new Int32Array(4);
/** Strings with escapes, decoded to UTF-8 (never longer than their JSON text). */
let unescaped = new Uint8Array(256);
let unescapedUsed = 0;
/** Line items read so far, five values each: id, product id, quantity, price, subtotal. */
let items = 0;
let itemValues = new Float64Array(5 * 8);

const MAX_SAFE = Number.MAX_SAFE_INTEGER;
/** Exact powers of ten (10^0 … 10^22 are doubles exactly). */
const POW10 = Float64Array.from({ length: 23 }, (_, k) => Number(`1e${k}`));
/** 10^(10 + k): the digits of an amount below 10^10 with k decimals are below it. */
const MONEY_DIGITS = [1e10, 1e11, 1e12];
/** validate.ts's tolerance for |subtotal − price × quantity| (same expression, same double). */
const CENT_TOLERANCE = 0.01 + 1e-9;

/** A key's length and its bytes as int32 words, little-endian; the last word ends at its end. */
interface Key {
  length: number;
  words: Int32Array;
}

function keyOf(name: string): Key {
  const bytes = new TextEncoder().encode(name);
  const word = (i: number) =>
    bytes[i] | (bytes[i + 1] << 8) | (bytes[i + 2] << 16) | (bytes[i + 3] << 24);
  const words = new Int32Array(Math.ceil(bytes.length / 4));
  for (let w = 0; w < words.length - 1; w++) words[w] = word(4 * w);
  words[words.length - 1] = word(bytes.length - 4);
  return { length: bytes.length, words };
}

const TOP_KEYS = [
  "order_id",
  "customer_id",
  "customer_fname",
  "customer_lname",
  "city",
  "state",
  "pincode",
  "line_items",
].map(keyOf);
const ITEM_KEYS = [
  "order_item_id",
  "order_item_product_id",
  "order_item_quantity",
  "order_item_product_price",
  "order_item_subtotal",
].map(keyOf);
/** order_id, customer_id and line_items. */
const REQUIRED = 0b10000011;
const ALL_ITEM_KEYS = 0b11111;

/** The byte a one-character escape stands for (`\n` → 0x0a), or -1. */
const ESCAPES = new Int16Array(256).fill(-1);
for (
  const [e, v] of Object.entries({
    '"': 0x22,
    "\\": 0x5c,
    "/": 0x2f,
    b: 8,
    f: 12,
    n: 10,
    r: 13,
    t: 9,
  })
) {
  ESCAPES[e.charCodeAt(0)] = v;
}
/** A hex digit's value, or -1. */
const HEX = new Int8Array(256).fill(-1);
for (let d = 0; d < 16; d++) {
  HEX[d.toString(16).charCodeAt(0)] = d;
  HEX[d.toString(16).toUpperCase().charCodeAt(0)] = d;
}

/** The values of the last order the scanner was sure of. */
export const scanned: ScannedOrder = {
  bytes: EMPTY,
  orderId: 0,
  customerId: 0,
  pincode: 0,
  pinNull: true,
  strKind,
  strStart,
  strEnd,
  unescaped,
  items: 0,
  itemValues,
};

/**
 * True when the scanner is sure `value` is a valid order (its values are then in
 * {@link scanned}); false when it is not sure either way (parseOrder is to decide).
 *
 * @example
 * ```ts
 * import { endScan, scanned, scanOrder } from "./_scan.ts";
 * const text = '{"order_id":1,"customer_id":2,"line_items":[{"order_item_id":1,' +
 *   '"order_item_product_id":957,"order_item_quantity":1,"order_item_product_price":299.98,' +
 *   '"order_item_subtotal":299.98}]}';
 * if (scanOrder(new TextEncoder().encode(text))) console.log(scanned.items); // 1
 * endScan();
 * scanOrder(new TextEncoder().encode('{"order_id":1e3}')); // false: not sure (an exponent)
 * ```
 */
export function scanOrder(value: Uint8Array): boolean {
  b = value;
  n = value.length;
  p = 0;
  let sure: boolean;
  try {
    sure = order() && rulesHold();
  } catch {
    sure = false; // never expected; parseOrder decides whatever happened
  }
  b = EMPTY;
  if (!sure) return false;
  scanned.bytes = value;
  scanned.orderId = orderId;
  scanned.customerId = customerId;
  scanned.pincode = pincode;
  scanned.pinNull = pinNull;
  scanned.unescaped = unescaped;
  scanned.items = items;
  scanned.itemValues = itemValues;
  return true;
}

/** Lets go of the last record's bytes. */
export function endScan(): void {
  scanned.bytes = EMPTY;
}

function ws(): void {
  const buf = b;
  const end = n;
  let i = p;
  while (i < end) {
    const c = buf[i];
    if (c !== 0x20 && c !== 0x0a && c !== 0x0d && c !== 0x09) break;
    i++;
  }
  p = i;
}

/** The byte at p once whitespace is skipped (p moves past the whitespace). */
function next(): number {
  const c = b[p];
  if (c !== 0x20 && c !== 0x0a && c !== 0x0d && c !== 0x09) return c;
  ws();
  return b[p];
}

/** Past `:` and the whitespace around it. */
function colon(): boolean {
  if (next() !== 0x3a) return false;
  p++;
  next();
  return true;
}

/** True when the key text at s is exactly `key` (its bytes, then the closing quote). */
function keyAt(s: number, key: Key): boolean {
  const buf = b;
  const len = key.length;
  if (s + len >= n || buf[s + len] !== 0x22) return false;
  // Four bytes to a compare; the last word ends at the key's end (keys are ≥ 4 bytes long).
  const words = key.words;
  const last = words.length - 1;
  for (let w = 0, j = s; w < last; w++, j += 4) {
    if ((buf[j] | (buf[j + 1] << 8) | (buf[j + 2] << 16) | (buf[j + 3] << 24)) !== words[w]) {
      return false;
    }
  }
  const j = s + len - 4;
  return (buf[j] | (buf[j + 1] << 8) | (buf[j + 2] << 16) | (buf[j + 3] << 24)) === words[last];
}

/**
 * The index in `keys` of the key whose opening quote is at p (p moves past it), or -1 for any
 * other key (unknown, or written with escapes). `expect` is tried first: keys usually come in
 * the seed's order.
 */
function key(keys: readonly Key[], expect: number): number {
  const s = p + 1;
  if (expect < keys.length && keyAt(s, keys[expect])) {
    p = s + keys[expect].length + 1;
    return expect;
  }
  for (let k = 0; k < keys.length; k++) {
    if (keyAt(s, keys[k])) {
      p = s + keys[k].length + 1;
      return k;
    }
  }
  return -1;
}

/** A plain integer literal that is a safe integer, or NaN (not sure). */
function long(): number {
  const buf = b;
  const end = n;
  let i = p;
  const neg = buf[i] === 0x2d;
  if (neg) i++;
  const s = i;
  let d = buf[i] - 0x30;
  if (!(d >= 0 && d <= 9)) return NaN;
  let v = d;
  i++;
  if (d !== 0) {
    while (i < end) {
      d = buf[i] - 0x30;
      if (d < 0 || d > 9) break;
      v = v * 10 + d;
      i++;
    }
  }
  // Below 2^53 every step was exact; at or past it v is at least 2^53 (rounding is monotonic).
  if (i - s > 16 || v > MAX_SAFE) return NaN;
  p = i;
  return neg ? -v : v;
}

/**
 * An amount of money: a decimal literal without exponent, at most two decimals, below 10^10
 * (money.ts); else NaN (not sure: validate.ts decides).
 */
function money(): number {
  const buf = b;
  const end = n;
  let i = p;
  const neg = buf[i] === 0x2d;
  if (neg) i++;
  let d = buf[i] - 0x30;
  if (!(d >= 0 && d <= 9)) return NaN;
  let m = d;
  i++;
  if (d !== 0) {
    while (i < end) {
      d = buf[i] - 0x30;
      if (d < 0 || d > 9) break;
      m = m * 10 + d;
      i++;
    }
  }
  let k = 0;
  if (buf[i] === 0x2e) {
    const f = ++i;
    while (i < end) {
      d = buf[i] - 0x30;
      if (d < 0 || d > 9) break;
      m = m * 10 + d;
      i++;
    }
    k = i - f;
    if (k === 0) return NaN;
  }
  // Money (money.ts): at most two decimals (more only as trailing zeros, `12.340`) and below
  // 10^10, else validate.ts decides.
  if (k > 2) {
    if (k > 16 || m > MAX_SAFE || m % POW10[k - 2] !== 0) return NaN;
    m /= POW10[k - 2];
    k = 2;
  }
  if (m >= MONEY_DIGITS[k]) return NaN;
  p = i;
  // m and 10^k are exact doubles, so one IEEE division rounds the decimal value correctly.
  const v = k === 0 ? m : m / POW10[k];
  return neg ? -v : v;
}

/** `null` at p (p moves past it). */
function nul(): boolean {
  if (b[p] === 0x6e && b[p + 1] === 0x75 && b[p + 2] === 0x6c && b[p + 3] === 0x6c) {
    p += 4;
    return true;
  }
  return false;
}

/** Length of the well-formed UTF-8 character at i (its lead byte ≥ 0x80), or 0. */
function utf8Char(i: number): number {
  const c = b[i];
  if (c < 0xc2) return 0; // a continuation byte, or an overlong 2-byte lead
  if (c < 0xe0) return i + 1 < n && (b[i + 1] & 0xc0) === 0x80 ? 2 : 0;
  if (c < 0xf0) {
    if (i + 2 >= n) return 0;
    const c1 = b[i + 1];
    if ((c1 & 0xc0) !== 0x80 || (b[i + 2] & 0xc0) !== 0x80) return 0;
    if ((c === 0xe0 && c1 < 0xa0) || (c === 0xed && c1 > 0x9f)) return 0; // overlong, surrogate
    return 3;
  }
  if (c < 0xf5) {
    if (i + 3 >= n) return 0;
    const c1 = b[i + 1];
    if ((c1 & 0xc0) !== 0x80 || (b[i + 2] & 0xc0) !== 0x80 || (b[i + 3] & 0xc0) !== 0x80) {
      return 0;
    }
    if ((c === 0xf0 && c1 < 0x90) || (c === 0xf4 && c1 > 0x8f)) return 0; // overlong, > U+10FFFF
    return 4;
  }
  return 0;
}

/** The string at p into string slot `k` (p moves past it). */
function str(k: number): boolean {
  const s = p + 1;
  let i = s;
  while (i < n) {
    const c = b[i];
    if (c === 0x22) {
      strKind[k] = 1;
      strStart[k] = s;
      strEnd[k] = i;
      p = i + 1;
      return true;
    }
    if (c === 0x5c) return unescape(k, s);
    if (c < 0x20) return false;
    if (c < 0x80) i++;
    else {
      const len = utf8Char(i);
      if (len === 0) return false;
      i += len;
    }
  }
  return false;
}

/** Four hex digits at i as a number, or -1. */
function hex4(i: number): number {
  if (i + 4 > n) return -1;
  let v = 0;
  for (let j = i; j < i + 4; j++) {
    const h = HEX[b[j]];
    if (h < 0) return -1;
    v = (v << 4) | h;
  }
  return v;
}

/** A string with escapes from its first byte `s`, decoded into `unescaped`, into slot `k`. */
function unescape(k: number, s: number): boolean {
  if (unescaped.length < unescapedUsed + (n - s)) {
    const more = new Uint8Array(Math.max(unescaped.length * 2, unescapedUsed + (n - s)));
    more.set(unescaped.subarray(0, unescapedUsed));
    unescaped = more;
  }
  const out = unescaped;
  const start = unescapedUsed;
  let o = start;
  let i = s;
  while (i < n) {
    const c = b[i];
    if (c === 0x22) {
      strKind[k] = 2;
      strStart[k] = start;
      strEnd[k] = o;
      unescapedUsed = o;
      p = i + 1;
      return true;
    }
    if (c === 0x5c) {
      if (i + 1 >= n) return false;
      const e = b[i + 1];
      if (e !== 0x75) {
        const v = ESCAPES[e];
        if (v < 0) return false;
        out[o++] = v;
        i += 2;
        continue;
      }
      let cp = hex4(i + 2);
      if (cp < 0) return false;
      i += 6;
      if (cp >= 0xd800 && cp <= 0xdfff) {
        // A high surrogate followed by an escaped low one is one character; any other is lone.
        const lo = cp <= 0xdbff && b[i] === 0x5c && b[i + 1] === 0x75 ? hex4(i + 2) : -1;
        if (lo >= 0xdc00 && lo <= 0xdfff) {
          cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
          i += 6;
        } else cp = 0xfffd;
      }
      if (cp < 0x80) out[o++] = cp;
      else if (cp < 0x800) {
        out[o++] = 0xc0 | (cp >> 6);
        out[o++] = 0x80 | (cp & 0x3f);
      } else if (cp < 0x10000) {
        out[o++] = 0xe0 | (cp >> 12);
        out[o++] = 0x80 | ((cp >> 6) & 0x3f);
        out[o++] = 0x80 | (cp & 0x3f);
      } else {
        out[o++] = 0xf0 | (cp >> 18);
        out[o++] = 0x80 | ((cp >> 12) & 0x3f);
        out[o++] = 0x80 | ((cp >> 6) & 0x3f);
        out[o++] = 0x80 | (cp & 0x3f);
      }
      continue;
    }
    if (c < 0x20) return false;
    if (c < 0x80) {
      out[o++] = c;
      i++;
      continue;
    }
    const len = utf8Char(i);
    if (len === 0) return false;
    for (let j = 0; j < len; j++) out[o++] = b[i + j];
    i += len;
  }
  return false;
}

/** The line item object at p, into item slot `items`. */
function item(): boolean {
  p++;
  if (5 * items + 5 > itemValues.length) {
    const more = new Float64Array(itemValues.length * 2);
    more.set(itemValues);
    itemValues = more;
  }
  const at = 5 * items;
  let seen = 0;
  let last = -1;
  let c = next();
  for (;;) {
    if (c !== 0x22) return false;
    const k = key(ITEM_KEYS, last + 1);
    if (k < 0 || (seen & (1 << k)) !== 0) return false;
    last = k;
    seen |= 1 << k;
    if (!colon()) return false;
    const v = k < 3 ? long() : money();
    if (v !== v) return false;
    itemValues[at + k] = v;
    c = next();
    if (c === 0x2c) {
      p++;
      c = next();
    } else if (c === 0x7d) {
      p++;
      break;
    } else return false;
  }
  if (seen !== ALL_ITEM_KEYS) return false;
  items++;
  return true;
}

/** The non-empty array of line item objects at p. */
function lineItems(): boolean {
  if (b[p] !== 0x5b) return false;
  p++;
  let c = next();
  for (;;) {
    if (c !== 0x7b || !item()) return false; // `[]` too: no_line_items is parseOrder's
    c = next();
    if (c === 0x2c) {
      p++;
      c = next();
    } else if (c === 0x5d) {
      p++;
      return true;
    } else return false;
  }
}

/** The whole record: one order object and nothing but whitespace around it. */
function order(): boolean {
  if (next() !== 0x7b) return false;
  p++;
  strKind[0] =
    strKind[1] =
    strKind[2] =
    strKind[3] =
      0;
  pinNull = true;
  items = 0;
  unescapedUsed = 0;
  let seen = 0;
  let last = -1;
  let c = next();
  for (;;) {
    if (c !== 0x22) return false;
    const k = key(TOP_KEYS, last + 1);
    if (k < 0 || (seen & (1 << k)) !== 0) return false;
    last = k;
    seen |= 1 << k;
    if (!colon()) return false;
    if (k <= 1) {
      const v = long();
      if (v !== v) return false;
      if (k === 0) orderId = v;
      else customerId = v;
    } else if (k <= 5) {
      if (b[p] === 0x22) {
        if (!str(k - 2)) return false;
      } else if (!nul()) return false;
    } else if (k === 6) {
      if (b[p] === 0x6e) {
        if (!nul()) return false;
      } else {
        const v = long();
        if (v !== v) return false;
        pincode = v;
        pinNull = false;
      }
    } else if (!lineItems()) return false;
    c = next();
    if (c === 0x2c) {
      p++;
      c = next();
    } else if (c === 0x7d) {
      p++;
      break;
    } else return false;
  }
  if ((seen & REQUIRED) !== REQUIRED) return false;
  if (p < n) ws();
  return p === n;
}

/** validate.ts's business rules, line item by line item, with the same arithmetic. */
function rulesHold(): boolean {
  for (let j = 0; j < items; j++) {
    const q = itemValues[5 * j + 2];
    const price = itemValues[5 * j + 3];
    const sub = itemValues[5 * j + 4];
    if (q <= 0 || price < 0) return false;
    const expected = price * q;
    if (!Number.isFinite(expected)) return false;
    const diff = Math.abs(sub - expected);
    if (!Number.isFinite(diff)) return false;
    if (!(diff <= CENT_TOLERANCE + Math.abs(expected) * 1e-15)) return false;
  }
  return true;
}
