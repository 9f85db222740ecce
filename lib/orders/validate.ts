/**
 * Parses and validates one order message (a Kafka record value) without ever throwing.
 *
 * Tolerance policy (what is accepted, what is dead-lettered):
 * - Input: bytes must be valid UTF-8 (a leading BOM in bytes is skipped); a null value is a tombstone
 *   (`null_value`); more than `maxBytes` bytes (default 1 MiB) is `too_large`; anything
 *   `JSON.parse` rejects is `not_json`; a JSON value that is not an object is `not_object`.
 * - Unknown extra fields, at the order level and in line items, are not checked here (for speed
 *   the parsed object is returned without a copy, so they remain on it): the cleaned sink reads
 *   the scalar ones for schema evolution (lib/orders/evolve.ts).
 * - Required, non-null: `order_id`, `customer_id`, `line_items`, and all five line-item fields.
 *   `customer_fname`, `customer_lname`, `city`, `state`, `pincode` may be absent or null
 *   (read as null) but must have the right type when present.
 * - Longs must be JSON numbers with an integral value in int64: numeric strings (`"3"`) are
 *   `wrong_type`, fractions (`3.5`) are `wrong_type`, beyond int64 is `out_of_range`.
 *   Integral-valued literals in any notation are accepted (`3.0`, `1e3`). Values beyond 2^53
 *   are re-read from the JSON source text and kept exact as `bigint`: the re-read scans only
 *   the order's own fields and its line items' fields, iteratively, so nesting depth never
 *   matters (a record whose extra field is nested 100,000 levels deep is judged the same with
 *   a small or a large id; `JSON.parse` itself has no depth limit).
 * - `pincode` is a long (the seed's zip `00725` is the number `725`); a string zip is
 *   `wrong_type`.
 * - Money (price, subtotal) is exact to the cent (money.ts): a JSON number that is a whole number
 *   of cents below 10^10, what a Delta `decimal(12,2)` holds. More than two decimals (`299.985`),
 *   10^10 or more, or not finite (`1e400`) is `out_of_range`, never rounded. The number is judged
 *   by the double it reads as: `299.980` and `2.9998e2` are 299.98.
 * - `line_items` absent, null or `[]` is `no_line_items`; not an array is `wrong_type`;
 *   an element that is not an object is `wrong_type` (null is `null_field`).
 * - Business rules, checked after types, line item by line item: quantity ≥ 1
 *   (`non_positive_quantity`), price ≥ 0 (`negative_price`; zero is allowed, the catalog has
 *   free products), |subtotal − price × quantity| ≤ one cent (`subtotal_mismatch`; exactly
 *   ≤ 0.01 + 1e-9 + |price × quantity| × 1e-15, for binary rounding). The arithmetic is IEEE
 *   double: when price × quantity, or subtotal − price × quantity, is not a finite number the
 *   line is `out_of_range` at its `order_item_subtotal` (e.g. quantity 10^10 × price 1e300).
 * - The first problem found is reported, in field order; the message names the field path,
 *   e.g. `line_items[2].order_item_quantity: expected a long, got string "3"`.
 * - `constraint_violated` is never parseOrder's verdict either: the cleaned sink gives it to a
 *   valid order whose rows violate a CHECK constraint of `orders_cleaned` (lib/orders/sinks.ts).
 * - `schema_mismatch` is never parseOrder's verdict either: the cleaned sink gives it to a valid
 *   order whose extra field does not fit its column in `orders_cleaned` (lib/orders/evolve.ts).
 * - `internal_error` is never a verdict on the input: it means validation itself threw (a bug),
 *   and the message carries the error. No known input produces it.
 *
 * The common valid path costs one `JSON.parse` plus a typeof check per field.
 * @module
 */

import { MONEY_LIMIT } from "./money.ts";
import {
  INT64_MAX,
  INT64_MIN,
  LINE_ITEM_FIELDS,
  type LineItem,
  type Long,
  type Order,
  ORDER_FIELDS,
} from "./schema.ts";

/** Every reason a record can be rejected, as a list (stable strings, used in dead letters). */
export const REASON_CODES = [
  "null_value",
  "invalid_utf8",
  "too_large",
  "not_json",
  "not_object",
  "missing_field",
  "null_field",
  "wrong_type",
  "out_of_range",
  "no_line_items",
  "non_positive_quantity",
  "negative_price",
  "subtotal_mismatch",
  "constraint_violated",
  "schema_mismatch",
  "internal_error",
] as const;

/** Why a record was rejected (one of {@link REASON_CODES}). */
export type ReasonCode = typeof REASON_CODES[number];

/** A record that parsed into a valid order. */
export interface ParseSuccess {
  /** Always true. */
  ok: true;
  /**
   * The order. On the common path it is the parsed object itself (no copy), so unknown extra
   * fields may remain on it; when a long needed a bigint it is a fresh object in seed order.
   */
  order: Order;
}

/** A rejected record: a stable reason code, the offending field path and a readable message. */
export interface ParseFailure {
  /** Always false. */
  ok: false;
  /** Machine-readable reason. */
  reason: ReasonCode;
  /** Human-readable message naming the field, e.g. `line_items[0].order_item_quantity: …`. */
  message: string;
  /** Field path of the problem (e.g. `line_items[2].order_item_subtotal`), absent for input-level reasons. */
  field?: string;
}

/** Result of {@link parseOrder}. */
export type ParseResult = ParseSuccess | ParseFailure;

/** Options for {@link parseOrder}. */
export interface ParseOptions {
  /** Largest accepted record in bytes (UTF-8); default {@link DEFAULT_MAX_BYTES}. */
  maxBytes?: number;
}

/** Default record size limit: 1 MiB. */
export const DEFAULT_MAX_BYTES = 1024 * 1024;

// Non-fatal decoding is ~3x faster than fatal; invalid UTF-8 always yields U+FFFD, so only a
// text containing U+FFFD is decoded again, fatally, to tell a real U+FFFD from bad bytes.
const decoder = new TextDecoder("utf-8");
const fatalDecoder = new TextDecoder("utf-8", { fatal: true });
const encoder = new TextEncoder();
const CENT_TOLERANCE = 0.01 + 1e-9;

/** A number whose value is not a safe integer, with its JSON source text (slow path only). */
class ExactNumber {
  constructor(readonly value: number, readonly source: string) {}
}

/** Result of a field check: OK, needs exact re-read, or a failure. */
const OK = 0;
const NEEDS_EXACT = 1;
type Check = typeof OK | typeof NEEDS_EXACT | ParseFailure;

function fail(reason: ReasonCode, field: string | undefined, detail: string): ParseFailure {
  return {
    ok: false,
    reason,
    field,
    message: field === undefined ? detail : `${field}: ${detail}`,
  };
}

function describe(v: unknown): string {
  if (v === null) return "null";
  if (v instanceof ExactNumber) return `number ${clip(v.source)}`;
  if (Array.isArray(v)) return "array";
  switch (typeof v) {
    case "string":
      return `string ${clip(JSON.stringify(v))}`;
    case "number":
    case "boolean":
      return `${typeof v} ${v}`;
    default:
      return typeof v;
  }
}

function clip(s: string): string {
  return s.length > 40 ? `${s.slice(0, 37)}...` : s;
}

function path(item: number, name: string): string {
  return item < 0 ? name : `line_items[${item}].${name}`;
}

/** Exact integer value of a JSON number literal, or a string saying why it is not one. */
function exactInteger(source: string): bigint | "fraction" | "huge" {
  const m = /^(-?)(\d+)(?:\.(\d+))?(?:[eE]([+-]?\d+))?$/.exec(source);
  if (m === null) return "fraction";
  const frac = m[3] ?? "";
  let digits = (m[2] + frac).replace(/^0+(?=\d)/, "");
  let exp = Number(m[4] ?? "0") - frac.length;
  if (/^0+$/.test(digits)) return 0n;
  while (exp < 0 && digits.endsWith("0")) {
    digits = digits.slice(0, -1);
    exp++;
  }
  if (exp < 0) return "fraction";
  if (digits.length + exp > 20) return "huge";
  const v = BigInt(digits) * 10n ** BigInt(exp);
  return m[1] === "-" ? -v : v;
}

function checkLong(v: unknown, item: number, name: string): Check {
  if (typeof v === "number") {
    if (Number.isSafeInteger(v)) return OK;
    if (!Number.isFinite(v)) {
      return fail("out_of_range", path(item, name), `expected a long in int64, got ${v}`);
    }
    if (!Number.isInteger(v)) {
      return fail("wrong_type", path(item, name), `expected a long, got fractional number ${v}`);
    }
    return NEEDS_EXACT;
  }
  if (v instanceof ExactNumber) {
    const exact = exactInteger(v.source);
    if (exact === "fraction") {
      return fail(
        "wrong_type",
        path(item, name),
        `expected a long, got fractional number ${clip(v.source)}`,
      );
    }
    if (exact === "huge" || exact < INT64_MIN || exact > INT64_MAX) {
      return fail(
        "out_of_range",
        path(item, name),
        `expected a long in int64, got ${clip(v.source)}`,
      );
    }
    return OK;
  }
  if (v === undefined) return fail("missing_field", path(item, name), "required field is missing");
  if (v === null) return fail("null_field", path(item, name), "required field is null");
  return fail("wrong_type", path(item, name), `expected a long, got ${describe(v)}`);
}

function checkMoney(v: unknown, item: number, name: string): Check {
  if (typeof v === "number") {
    // Whole cents below 10^10: round(v × 100) / 100 is v exactly when v is the double nearest
    // to a number of cents (one correctly rounded division), so the check is exact.
    if (v < MONEY_LIMIT && v > -MONEY_LIMIT && Math.round(v * 100) / 100 === v) return OK;
    return moneyFailure(v, item, name);
  }
  if (v instanceof ExactNumber) return moneyFailure(v.value, item, name);
  if (v === undefined) return fail("missing_field", path(item, name), "required field is missing");
  if (v === null) return fail("null_field", path(item, name), "required field is null");
  return fail("wrong_type", path(item, name), `expected a double, got ${describe(v)}`);
}

function moneyFailure(v: number, item: number, name: string): ParseFailure {
  const detail = !Number.isFinite(v)
    ? `expected a finite amount, got ${v}`
    : Math.abs(v) >= MONEY_LIMIT
    ? `${v} is beyond decimal(12,2): money must be below 10^10`
    : `${v} has more than two decimals: money is exact to the cent, never rounded`;
  return fail("out_of_range", path(item, name), detail);
}

function checkOptString(v: unknown, name: string): Check {
  if (typeof v === "string" || v === null || v === undefined) return OK;
  return fail("wrong_type", name, `expected a string or null, got ${describe(v)}`);
}

function toLong(v: unknown): Long {
  if (v instanceof ExactNumber) {
    const exact = exactInteger(v.source) as bigint;
    return exact >= -9007199254740991n && exact <= 9007199254740991n ? Number(exact) : exact;
  }
  return v as number;
}

function toDouble(v: unknown): number {
  return v instanceof ExactNumber ? v.value : v as number;
}

/** On the first pass a failure after an unsafe integer is deferred to the exact pass, so the first problem wins. */
function firstOf(exact: boolean, exactPass: boolean, c: Check): Check {
  return exact && !exactPass ? NEEDS_EXACT : c;
}

/** Checks types of one parsed object; returns OK, NEEDS_EXACT (re-read exactly), or the first failure. */
function checkTypes(o: Record<string, unknown>, exactPass: boolean): Check {
  let exact = false;
  let c: Check;
  if ((c = checkLong(o.order_id, -1, "order_id")) !== OK) {
    if (c !== NEEDS_EXACT) return firstOf(exact, exactPass, c);
    exact = true;
  }
  if ((c = checkLong(o.customer_id, -1, "customer_id")) !== OK) {
    if (c !== NEEDS_EXACT) return firstOf(exact, exactPass, c);
    exact = true;
  }
  if ((c = checkOptString(o.customer_fname, "customer_fname")) !== OK) {
    return firstOf(exact, exactPass, c);
  }
  if ((c = checkOptString(o.customer_lname, "customer_lname")) !== OK) {
    return firstOf(exact, exactPass, c);
  }
  if ((c = checkOptString(o.city, "city")) !== OK) return firstOf(exact, exactPass, c);
  if ((c = checkOptString(o.state, "state")) !== OK) return firstOf(exact, exactPass, c);
  const pin = o.pincode;
  if (pin !== null && pin !== undefined && (c = checkLong(pin, -1, "pincode")) !== OK) {
    if (c !== NEEDS_EXACT) return firstOf(exact, exactPass, c);
    exact = true;
  }
  const items = o.line_items;
  if (items === undefined || items === null) {
    return firstOf(
      exact,
      exactPass,
      fail(
        "no_line_items",
        "line_items",
        `an order needs at least one line item, got ${items === null ? "null" : "none"}`,
      ),
    );
  }
  if (!Array.isArray(items)) {
    return firstOf(
      exact,
      exactPass,
      fail("wrong_type", "line_items", `expected an array of line items, got ${describe(items)}`),
    );
  }
  if (items.length === 0) {
    return firstOf(
      exact,
      exactPass,
      fail("no_line_items", "line_items", "an order needs at least one line item, got []"),
    );
  }
  for (let i = 0; i < items.length; i++) {
    const it = items[i];
    if (typeof it !== "object" || it === null || Array.isArray(it)) {
      return firstOf(
        exact,
        exactPass,
        it === null ? fail("null_field", `line_items[${i}]`, "line item is null") : fail(
          "wrong_type",
          `line_items[${i}]`,
          `expected a line item object, got ${describe(it)}`,
        ),
      );
    }
    if ((c = checkLong(it.order_item_id, i, "order_item_id")) !== OK) {
      if (c !== NEEDS_EXACT) return firstOf(exact, exactPass, c);
      exact = true;
    }
    if ((c = checkLong(it.order_item_product_id, i, "order_item_product_id")) !== OK) {
      if (c !== NEEDS_EXACT) return firstOf(exact, exactPass, c);
      exact = true;
    }
    if ((c = checkLong(it.order_item_quantity, i, "order_item_quantity")) !== OK) {
      if (c !== NEEDS_EXACT) return firstOf(exact, exactPass, c);
      exact = true;
    }
    if ((c = checkMoney(it.order_item_product_price, i, "order_item_product_price")) !== OK) {
      return firstOf(exact, exactPass, c);
    }
    if ((c = checkMoney(it.order_item_subtotal, i, "order_item_subtotal")) !== OK) {
      return firstOf(exact, exactPass, c);
    }
  }
  return exact ? NEEDS_EXACT : OK;
}

/** Checks the business rules of a typed order; returns the first failure or undefined. */
function checkRules(order: Order): ParseFailure | undefined {
  const items = order.line_items;
  for (let i = 0; i < items.length; i++) {
    const it = items[i];
    const q = it.order_item_quantity;
    if (q <= 0) {
      return fail(
        "non_positive_quantity",
        path(i, "order_item_quantity"),
        `quantity must be at least 1, got ${q}`,
      );
    }
    const price = it.order_item_product_price;
    if (price < 0) {
      return fail(
        "negative_price",
        path(i, "order_item_product_price"),
        `price must not be negative, got ${price}`,
      );
    }
    const expected = price * Number(q);
    const sub = it.order_item_subtotal;
    if (!Number.isFinite(expected)) {
      return fail(
        "out_of_range",
        path(i, "order_item_subtotal"),
        `price × quantity = ${price} × ${q} is not a finite number`,
      );
    }
    const diff = Math.abs(sub - expected);
    if (!Number.isFinite(diff)) {
      return fail(
        "out_of_range",
        path(i, "order_item_subtotal"),
        `subtotal − price × quantity = ${sub} − ${expected} is not a finite number`,
      );
    }
    if (!(diff <= CENT_TOLERANCE + Math.abs(expected) * 1e-15)) {
      return fail(
        "subtotal_mismatch",
        path(i, "order_item_subtotal"),
        `subtotal ${sub} differs from price × quantity = ${price} × ${q} = ${
          Math.round(expected * 100) / 100
        } by more than one cent`,
      );
    }
  }
  return undefined;
}

/**
 * Copies an exactly re-read object into an Order (slow path: longs beyond 2^53 become bigints),
 * the Order's fields in seed order, then the unknown extra fields as JSON.parse read them (so
 * schema evolution, lib/orders/evolve.ts, sees them on this path too).
 */
function build(o: Record<string, unknown>): Order {
  const raw = o.line_items as Record<string, unknown>[];
  const items: LineItem[] = raw.map((it) => ({
    order_item_id: toLong(it.order_item_id),
    order_item_product_id: toLong(it.order_item_product_id),
    order_item_quantity: toLong(it.order_item_quantity),
    order_item_product_price: toDouble(it.order_item_product_price),
    order_item_subtotal: toDouble(it.order_item_subtotal),
    ...unknownFields(it, LINE_ITEM_KEYS),
  }));
  const pin = o.pincode;
  return {
    order_id: toLong(o.order_id),
    customer_id: toLong(o.customer_id),
    customer_fname: (o.customer_fname ?? null) as string | null,
    customer_lname: (o.customer_lname ?? null) as string | null,
    city: (o.city ?? null) as string | null,
    state: (o.state ?? null) as string | null,
    pincode: pin === undefined || pin === null ? null : toLong(pin),
    line_items: items,
    ...unknownFields(o, ORDER_KEYS),
  };
}

const ORDER_KEYS: ReadonlySet<string> = new Set(ORDER_FIELDS);
const LINE_ITEM_KEYS: ReadonlySet<string> = new Set(LINE_ITEM_FIELDS);

/** The fields of `o` that are not in `known`. */
function unknownFields(o: Record<string, unknown>, known: ReadonlySet<string>) {
  const out: Record<string, unknown> = {};
  for (const k of Object.keys(o)) if (!known.has(k)) out[k] = o[k];
  return out;
}

/**
 * Fast path: the parsed object already has the Order's types, so it is returned as is (no
 * copy); absent optional fields are set to null. Unknown extra fields are left on the object
 * but never read (flatten and the sinks only read the Order's fields).
 */
function normalize(o: Record<string, unknown>): Order {
  if (o.customer_fname === undefined) o.customer_fname = null;
  if (o.customer_lname === undefined) o.customer_lname = null;
  if (o.city === undefined) o.city = null;
  if (o.state === undefined) o.state = null;
  if (o.pincode === undefined) o.pincode = null;
  return o as unknown as Order;
}

// The exact re-read (a long beyond 2^53): the parsed object is kept, and the source text of the
// numbers in the order's own fields and in its line items' fields is found by scanning the JSON
// text (already accepted by JSON.parse) without recursion: whatever else is in the record is
// skipped with a depth counter, so no depth of nesting can overflow the stack.

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const COMMA = 0x2c;
const LBRACE = 0x7b;
const RBRACE = 0x7d;
const LBRACKET = 0x5b;
const RBRACKET = 0x5d;
const MINUS = 0x2d;

/** The source text of the numbers among an object's members, by key (the last member wins, as in JSON.parse). */
type NumberSources = Map<string, string>;

function skipWs(text: string, i: number): number {
  for (;;) {
    const c = text.charCodeAt(i);
    if (c !== 0x20 && c !== 0x0a && c !== 0x0d && c !== 0x09) return i;
    i++;
  }
}

/** Index just past the string literal whose opening quote is at `i`. */
function stringEnd(text: string, i: number): number {
  let from = i + 1;
  for (;;) {
    const q = text.indexOf('"', from);
    if (q < 0) throw new Error(`exact re-read: unterminated string at ${i}`);
    let b = q - 1;
    while (text.charCodeAt(b) === BACKSLASH) b--;
    if ((q - 1 - b) % 2 === 0) return q + 1; // an even run of backslashes: the quote is real
    from = q + 1;
  }
}

function isNumberStart(c: number): boolean {
  return c === MINUS || (c >= 0x30 && c <= 0x39);
}

/** Index just past the number literal at `i`. */
function numberEnd(text: string, i: number): number {
  for (;;) {
    const c = text.charCodeAt(++i);
    // digits, '+', '-', '.', 'e', 'E'
    if (
      !((c >= 0x30 && c <= 0x39) || c === 0x2b || c === MINUS || c === 0x2e || (c | 0x20) === 0x65)
    ) {
      return i;
    }
  }
}

/** Index just past the JSON value at `i` (objects and arrays by depth counting, not recursion). */
function valueEnd(text: string, i: number): number {
  const c = text.charCodeAt(i);
  if (c === QUOTE) return stringEnd(text, i);
  if (c === LBRACE || c === LBRACKET) {
    let depth = 0;
    for (let j = i; j < text.length; j++) {
      const d = text.charCodeAt(j);
      if (d === QUOTE) j = stringEnd(text, j) - 1;
      else if (d === LBRACE || d === LBRACKET) depth++;
      else if ((d === RBRACE || d === RBRACKET) && --depth === 0) return j + 1;
    }
    throw new Error(`exact re-read: unterminated value at ${i}`);
  }
  if (isNumberStart(c)) return numberEnd(text, i);
  // true, false, null
  let j = i;
  while (text.charCodeAt(j) >= 0x61 && text.charCodeAt(j) <= 0x7a) j++;
  if (j === i) throw new Error(`exact re-read: unexpected character at ${i}`);
  return j;
}

/**
 * Walks the members of the object at `i`: `member(key, valueStart)` returns the index just past
 * the member's value. Returns the index just past the object.
 */
function members(text: string, i: number, member: (key: string, at: number) => number): number {
  i = skipWs(text, i + 1);
  if (text.charCodeAt(i) === RBRACE) return i + 1;
  for (;;) {
    const end = stringEnd(text, i);
    const raw = text.slice(i + 1, end - 1);
    const key = raw.includes("\\") ? JSON.parse(text.slice(i, end)) as string : raw;
    i = skipWs(text, skipWs(text, end) + 1); // past ':'
    i = skipWs(text, member(key, i));
    if (text.charCodeAt(i) !== COMMA) return i + 1; // '}'
    i = skipWs(text, i + 1);
  }
}

/** A member handler that records number literals in `into` and skips every other value. */
function recordNumbers(text: string, into: NumberSources) {
  return (key: string, at: number): number => {
    if (isNumberStart(text.charCodeAt(at))) {
      const end = numberEnd(text, at);
      into.set(key, text.slice(at, end));
      return end;
    }
    into.delete(key);
    return valueEnd(text, at);
  };
}

/** Number sources of the top-level object and of each element of its (last) `line_items` array. */
function exactSources(text: string): { top: NumberSources; items: (NumberSources | null)[] } {
  const top: NumberSources = new Map();
  let items: (NumberSources | null)[] = [];
  const topNumber = recordNumbers(text, top);
  members(text, skipWs(text, 0), (key, at) => {
    if (key !== "line_items") return topNumber(key, at);
    items = [];
    if (text.charCodeAt(at) !== LBRACKET) return topNumber(key, at);
    top.delete(key);
    let i = skipWs(text, at + 1);
    if (text.charCodeAt(i) === RBRACKET) return i + 1;
    for (;;) {
      if (text.charCodeAt(i) === LBRACE) {
        const m: NumberSources = new Map();
        i = members(text, i, recordNumbers(text, m));
        items.push(m);
      } else {
        items.push(null);
        i = valueEnd(text, i);
      }
      i = skipWs(text, i);
      if (text.charCodeAt(i) !== COMMA) return i + 1; // ']'
      i = skipWs(text, i + 1);
    }
  });
  return { top, items };
}

const TOP_LONGS = ["order_id", "customer_id", "pincode"] as const;
const ITEM_LONGS = ["order_item_id", "order_item_product_id", "order_item_quantity"] as const;

function isUnsafeInteger(v: unknown): v is number {
  return typeof v === "number" && Number.isInteger(v) && !Number.isSafeInteger(v);
}

/** Replaces, in place, each long field beyond 2^53 with its value and exact source text. */
function attachSources(o: Record<string, unknown>, text: string): void {
  const sources = exactSources(text);
  const exact = (target: Record<string, unknown>, key: string, from: NumberSources | null) => {
    const v = target[key];
    if (!isUnsafeInteger(v)) return;
    const source = from?.get(key);
    if (source === undefined) throw new Error(`exact re-read: no source text for ${key}`);
    target[key] = new ExactNumber(v, source);
  };
  for (const k of TOP_LONGS) exact(o, k, sources.top);
  const items = o.line_items;
  if (!Array.isArray(items)) return;
  for (let i = 0; i < items.length; i++) {
    const it = items[i];
    if (typeof it !== "object" || it === null || Array.isArray(it)) continue;
    for (const k of ITEM_LONGS) exact(it, k, sources.items[i] ?? null);
  }
}

function utf8Length(s: string): number {
  return encoder.encode(s).length;
}

/**
 * Parses one record value into a validated {@link Order}, or says precisely why not; never
 * throws. See the module doc for the tolerance policy.
 *
 * @example
 * ```ts
 * import { parseOrder } from "./validate.ts";
 * const r = parseOrder('{"order_id":1,"customer_id":2,"line_items":[]}');
 * if (!r.ok) console.log(r.reason, r.message); // no_line_items line_items: an order needs …
 * ```
 */
export function parseOrder(
  input: string | Uint8Array | null | undefined,
  opts?: ParseOptions,
): ParseResult {
  try {
    return parseUnsafe(input, opts?.maxBytes ?? DEFAULT_MAX_BYTES);
  } catch (e) {
    // No known input reaches here: a throw is a bug of ours, never a verdict on the record.
    return fail(
      "internal_error",
      undefined,
      `validation failed with an internal error (not a problem of the record): ${
        e instanceof Error ? `${e.name}: ${e.message}` : String(e)
      }`,
    );
  }
}

function parseUnsafe(input: string | Uint8Array | null | undefined, maxBytes: number): ParseResult {
  if (input === null || input === undefined) {
    return fail("null_value", undefined, "record value is null (a tombstone), not an order");
  }
  let text: string;
  if (typeof input === "string") {
    if (input.length > maxBytes || (input.length * 3 > maxBytes && utf8Length(input) > maxBytes)) {
      return fail("too_large", undefined, `record is larger than the ${maxBytes}-byte limit`);
    }
    text = input;
  } else {
    if (input.byteLength > maxBytes) {
      return fail(
        "too_large",
        undefined,
        `record is ${input.byteLength} bytes, larger than the ${maxBytes}-byte limit`,
      );
    }
    text = decoder.decode(input);
    if (text.includes("\uFFFD")) {
      try {
        fatalDecoder.decode(input);
      } catch (e) {
        if (!(e instanceof TypeError)) throw e; // only a decoding error says the bytes are bad
        return fail("invalid_utf8", undefined, "record value is not valid UTF-8");
      }
    }
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (e) {
    if (!(e instanceof SyntaxError)) throw e; // only a syntax error says the text is not JSON
    return fail("not_json", undefined, `record value is not JSON: ${e.message}`);
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
    return fail("not_object", undefined, `expected a JSON object, got ${describe(parsed)}`);
  }
  const obj = parsed as Record<string, unknown>;
  let c = checkTypes(obj, false);
  let exact = false;
  if (c === NEEDS_EXACT) {
    // Rare: a long beyond 2^53. Attach the source text of each such number to keep it exact.
    attachSources(obj, text);
    c = checkTypes(obj, true);
    exact = true;
  }
  if (c !== OK && c !== NEEDS_EXACT) return c;
  const order = exact ? build(obj) : normalize(obj);
  const rule = checkRules(order);
  return rule === undefined ? { ok: true, order } : rule;
}
