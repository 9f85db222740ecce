/**
 * Parses and validates one order message (a Kafka record value) without ever throwing.
 *
 * Tolerance policy (what is accepted, what is dead-lettered):
 * - Input: bytes must be valid UTF-8 (a leading BOM in bytes is skipped); a null value is a tombstone
 *   (`null_value`); more than `maxBytes` bytes (default 1 MiB) is `too_large`; anything
 *   `JSON.parse` rejects is `not_json`; a JSON value that is not an object is `not_object`.
 * - Unknown extra fields, at the order level and in line items, are ignored: never checked,
 *   never read (for speed the parsed object is returned without a copy, so they may remain on it).
 * - Required, non-null: `order_id`, `customer_id`, `line_items`, and all five line-item fields.
 *   `customer_fname`, `customer_lname`, `city`, `state`, `pincode` may be absent or null
 *   (read as null) but must have the right type when present.
 * - Longs must be JSON numbers with an integral value in int64: numeric strings (`"3"`) are
 *   `wrong_type`, fractions (`3.5`) are `wrong_type`, beyond int64 is `out_of_range`.
 *   Integral-valued literals in any notation are accepted (`3.0`, `1e3`). Values beyond 2^53
 *   are re-read from the JSON source text and kept exact as `bigint`.
 * - `pincode` is a long (the seed's zip `00725` is the number `725`); a string zip is
 *   `wrong_type`.
 * - Doubles (price, subtotal) must be finite JSON numbers (`1e400` is `out_of_range`).
 * - `line_items` absent, null or `[]` is `no_line_items`; not an array is `wrong_type`;
 *   an element that is not an object is `wrong_type` (null is `null_field`).
 * - Business rules, checked after types: quantity ≥ 1 (`non_positive_quantity`),
 *   price ≥ 0 (`negative_price`; zero is allowed, the catalog has free products),
 *   |subtotal − price × quantity| ≤ one cent (`subtotal_mismatch`).
 * - The first problem found is reported, in field order; the message names the field path,
 *   e.g. `line_items[2].order_item_quantity: expected a long, got string "3"`.
 *
 * The common valid path costs one `JSON.parse` plus a typeof check per field.
 * @module
 */

import { INT64_MAX, INT64_MIN, type LineItem, type Long, type Order } from "./schema.ts";

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

function checkDouble(v: unknown, item: number, name: string): Check {
  if (typeof v === "number") {
    return Number.isFinite(v)
      ? OK
      : fail("out_of_range", path(item, name), `expected a finite double, got ${v}`);
  }
  if (v instanceof ExactNumber) return OK;
  if (v === undefined) return fail("missing_field", path(item, name), "required field is missing");
  if (v === null) return fail("null_field", path(item, name), "required field is null");
  return fail("wrong_type", path(item, name), `expected a double, got ${describe(v)}`);
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
    if ((c = checkDouble(it.order_item_product_price, i, "order_item_product_price")) !== OK) {
      return firstOf(exact, exactPass, c);
    }
    if ((c = checkDouble(it.order_item_subtotal, i, "order_item_subtotal")) !== OK) {
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
    if (!(Math.abs(sub - expected) <= CENT_TOLERANCE + Math.abs(expected) * 1e-15)) {
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

/** Copies an exactly re-read object into an Order (slow path: longs beyond 2^53 become bigints). */
function build(o: Record<string, unknown>): Order {
  const raw = o.line_items as Record<string, unknown>[];
  const items: LineItem[] = raw.map((it) => ({
    order_item_id: toLong(it.order_item_id),
    order_item_product_id: toLong(it.order_item_product_id),
    order_item_quantity: toLong(it.order_item_quantity),
    order_item_product_price: toDouble(it.order_item_product_price),
    order_item_subtotal: toDouble(it.order_item_subtotal),
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
  };
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

function exactReviver(this: unknown, _key: string, value: unknown, context?: { source?: string }) {
  if (
    typeof value === "number" && Number.isInteger(value) && !Number.isSafeInteger(value) &&
    context?.source !== undefined
  ) {
    return new ExactNumber(value, context.source);
  }
  return value;
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
    // Defensive: no known input reaches here; keep the promise of never throwing.
    return fail("not_json", undefined, `could not read the record: ${(e as Error)?.message ?? e}`);
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
      } catch {
        return fail("invalid_utf8", undefined, "record value is not valid UTF-8");
      }
    }
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (e) {
    return fail("not_json", undefined, `record value is not JSON: ${(e as Error).message}`);
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
    return fail("not_object", undefined, `expected a JSON object, got ${describe(parsed)}`);
  }
  let obj = parsed as Record<string, unknown>;
  let c = checkTypes(obj, false);
  let exact = false;
  if (c === NEEDS_EXACT) {
    // Rare: a long beyond 2^53. Re-read with the source text of each number to keep it exact.
    obj = JSON.parse(text, exactReviver as (k: string, v: unknown) => unknown);
    c = checkTypes(obj, true);
    exact = true;
  }
  if (c !== OK && c !== NEEDS_EXACT) return c;
  const order = exact ? build(obj) : normalize(obj);
  const rule = checkRules(order);
  return rule === undefined ? { ok: true, order } : rule;
}
