/**
 * The fuzz oracle: from a Kafka record value's bytes, decides whether it is a valid order and, if
 * not, the reason code, from the documented rules only (README "Raw and cleaned streams" and
 * "Bad input", issue 20). It is written independently of lib/orders/validate.ts and imports
 * nothing from lib/: it has its own UTF-8 check and JSON reader (./json_reader.ts), which keeps
 * every number's source text, so longs beyond 2^53 are judged on their exact digits.
 *
 * The rules, in the order the oracle applies them (the first that fails decides):
 *
 * 1. `null_value`: no value (a tombstone).
 * 2. `too_large`: more than `maxBytes` bytes (default 1 MiB = 1,048,576), BOM included.
 * 3. `invalid_utf8`: the bytes are not well-formed UTF-8.
 * 4. One leading UTF-8 BOM (EF BB BF) is skipped; a second one is a character, not whitespace.
 * 5. `not_json`: not one JSON text (RFC 8259, as `JSON.parse` reads it).
 * 6. `not_object`: valid JSON but not an object.
 * 7. Types and presence, field by field in the seed's order: `order_id`, `customer_id`,
 *    `customer_fname`, `customer_lname`, `city`, `state`, `pincode`, `line_items`, then each line
 *    item in index order, its fields in the seed's order: `order_item_id`,
 *    `order_item_product_id`, `order_item_quantity`, `order_item_product_price`,
 *    `order_item_subtotal`.
 *    - a long: a JSON number. README: "Longs are judged on the number JSON.parse reads: a safe
 *      integer (|v| ≤ 2^53 − 1) is taken as it is, in any notation; only beyond 2^53 do the
 *      literal's exact digits decide". So the literal is rounded to a double (the number a JSON
 *      reader reads); if that double is a safe integer, it is the value; if it is a safe
 *      non-integer, `wrong_type`; if it is ±Infinity, `out_of_range`; otherwise the literal's
 *      exact decimal value must be an integer (else `wrong_type`) in int64 (else
 *      `out_of_range`). Absent = `missing_field`, null = `null_field`, not a number =
 *      `wrong_type`;
 *    - money (price, subtotal): a JSON number whose double is finite (`1e400` = `out_of_range`),
 *      below 10^10 in magnitude and whose shortest decimal text has no exponent and at most two
 *      digits after the point (else `out_of_range`: money is exact to the cent); else as a long;
 *    - names, city, state: a string, null or absent, else `wrong_type`; `pincode`: a long,
 *      null or absent;
 *    - `line_items`: absent, null or `[]` = `no_line_items`; not an array = `wrong_type`;
 *      an element null = `null_field`, an element that is not an object = `wrong_type` (field
 *      `line_items[i]`).
 * 8. Business rules, only once every type is right, line item by line item, in field order, in
 *    IEEE doubles (price and subtotal as read, quantity rounded to the nearest double):
 *    quantity ≤ 0 = `non_positive_quantity`; price < 0 = `negative_price`; price × quantity or
 *    subtotal − price × quantity not finite = `out_of_range` at `order_item_subtotal` (rule (a)
 *    of issue 20); |subtotal − price × quantity| > 0.01 + 1e-9 + |price × quantity| × 1e-15 =
 *    `subtotal_mismatch` (the README's tolerance, evaluated as written, left to right).
 *
 * Unknown fields are never looked at, whatever they hold (deep nesting, `1e400`, 2 MB strings).
 * `internal_error` is never an expected outcome. There is no depth limit (rule (b) of issue 20).
 *
 * ## Cases the README settles, and the ones the oracle decides itself
 *
 * Settled by README "Bad input" (the oracle follows it): the order of the input checks (null,
 * size, UTF-8, JSON, object) and that the size counts every byte, a leading BOM included; types
 * before rules, and the first field in the seed's order wins (not the order of keys in the text:
 * the outcome must not depend on how a producer ordered its keys); a repeated key keeps its last
 * value; safe longs are judged on their double (so `3.0000000000000001` is 3 and `1e-400` is 0);
 * the subtotal tolerance and that it is computed in doubles; the field of a non-finite
 * subtotal check.
 *
 * Decided here, where the README is silent:
 * - **Escaped key names are names** (`"order\u005fid"` is `order_id`) and `__proto__` is an
 *   ordinary unknown key: JSON defines a key by its decoded string, and the README defines
 *   `not_json` by `JSON.parse`, which reads them so.
 * - **A number both fractional and outside int64** (`123456789012345678901.5`): `wrong_type`. It
 *   is not a long at all, whatever its size ("not integral" comes before "outside int64" in the
 *   definition of a long: a range only applies to integers).
 * - **Doubles are judged as doubles**: `-0`, `-0.0` and `-1e-400` (read as −0) are not negative
 *   prices ("Prices and subtotals are doubles").
 * - **Lone surrogates** (`"\ud800"`) are valid in a JSON string and so in a name; what a table
 *   stores for them is not the validator's business (the stream test compares well-formed text).
 *
 * @module
 */
import {
  firstInvalidUtf8,
  JNumber,
  JObject,
  JString,
  type JValue,
  parseJsonBytes,
} from "./json_reader.ts";

/** The reason codes of the README (plus `internal_error`, which the oracle never expects). */
export const ORACLE_REASONS = [
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

/** One reason code. */
export type OracleReason = typeof ORACLE_REASONS[number];

/** An outcome: a valid order or a reason. */
export type Outcome = "ok" | OracleReason;

/** A line item as a cleaned row must hold it. */
export interface OracleItem {
  /** order_item_id, exact. */
  id: bigint;
  /** order_item_product_id, exact. */
  productId: bigint;
  /** order_item_quantity, exact. */
  quantity: bigint;
  /** order_item_product_price as a double. */
  price: number;
  /** order_item_subtotal as a double. */
  subtotal: number;
}

/** A valid order's values, as the oracle read them. */
export interface OracleOrder {
  /** order_id, exact. */
  orderId: bigint;
  /** customer_id, exact. */
  customerId: bigint;
  /** customer_fname or null. */
  fname: string | null;
  /** customer_lname or null. */
  lname: string | null;
  /** city or null. */
  city: string | null;
  /** state or null. */
  state: string | null;
  /** pincode or null, exact. */
  pincode: bigint | null;
  /** The line items, in order. */
  items: OracleItem[];
}

/** The oracle's decision on one record. */
export interface Verdict {
  /** The oracle's answer. */
  outcome: Outcome;
  /**
   * Every acceptable answer. With the README's rules it is always `[outcome]`; kept so a case the
   * rules leave open can accept more than one (the comparisons honour it).
   */
  accept: readonly Outcome[];
  /** The field path the failure names; undefined for input-level reasons. */
  field?: string;
  /** Acceptable field paths when the rules leave the field open (else just `field`; unused now). */
  fields?: readonly string[];
  /** Which rule decided (a short tag, used to group disagreements). */
  rule: string;
  /** The order, when the record is valid. */
  order?: OracleOrder;
  /** Deepest nesting of the JSON (0 when it did not parse). */
  depth: number;
}

/** Options of {@link judge}. */
export interface JudgeOptions {
  /** Largest valid record in bytes; default 1 MiB. */
  maxBytes?: number;
}

/** The documented default size limit: 1 MiB. */
export const ORACLE_MAX_BYTES = 1024 * 1024;

const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;

function fail(outcome: OracleReason, rule: string, field?: string, depth = 0): Verdict {
  return { outcome, accept: [outcome], field, rule, depth };
}

/** Decides one record value (bytes, or null for a tombstone). */
export function judge(value: Uint8Array | null, opts: JudgeOptions = {}): Verdict {
  const maxBytes = opts.maxBytes ?? ORACLE_MAX_BYTES;
  if (value === null) return fail("null_value", "tombstone");
  if (value.length > maxBytes) return fail("too_large", "size");
  if (firstInvalidUtf8(value) >= 0) return fail("invalid_utf8", "utf8");
  const start = value[0] === 0xef && value[1] === 0xbb && value[2] === 0xbf ? 3 : 0;
  const parsed = parseJsonBytes(value, start);
  if (!parsed.ok) return fail("not_json", `json: ${parsed.why}`);
  const depth = parsed.depth;
  const root = parsed.value;
  if (!(root instanceof JObject)) return fail("not_object", "root", undefined, depth);
  const v = checkOrder(root);
  v.depth = depth;
  return v;
}

// ---- exact numbers ----------------------------------------------------------------------

/** A decimal m × 10^e, exact. */
interface Decimal {
  m: bigint;
  e: number;
}

/** The exact value of a JSON number literal; exponents beyond ±1e6 are clamped (see below). */
function decimalOf(src: string): Decimal {
  const match = /^(-?)(\d+)(?:\.(\d+))?(?:[eE]([+-]?\d+))?$/.exec(src)!;
  const frac = match[3] ?? "";
  const digits = (match[2] + frac).replace(/^0+(?=\d)/, "");
  // A literal's exponent can have any number of digits; a value of 10^±1,000,000 is far beyond
  // every limit here, so clamping it keeps the arithmetic finite without changing a decision.
  const expText = match[4] ?? "0";
  let exp = expText.replace(/^[+-]?0*/, "").length > 7
    ? (expText.startsWith("-") ? -1e7 : 1e7)
    : Number(expText);
  exp -= frac.length;
  let m = BigInt(digits);
  if (m === 0n) return { m: 0n, e: 0 };
  // Normalise: strip trailing zeros into the exponent.
  let s = digits;
  while (s.endsWith("0")) {
    s = s.slice(0, -1);
    exp++;
  }
  m = BigInt(s);
  return { m: match[1] === "-" ? -m : m, e: exp };
}

const PLAIN_LONG = /^-?(0|[1-9]\d{0,14})$/;

type LongResult = { ok: true; value: bigint } | { ok: false; reason: OracleReason; rule: string };

/** A long, as the README defines it (see the module doc, point 7). */
function longOf(v: JValue | undefined): LongResult {
  if (v === undefined) return { ok: false, reason: "missing_field", rule: "missing" };
  if (v === null) return { ok: false, reason: "null_field", rule: "null" };
  if (!(v instanceof JNumber)) {
    return { ok: false, reason: "wrong_type", rule: `long: ${kindOf(v)}` };
  }
  // Fast path: plain digits, at most 15 of them, are a safe integer exactly.
  if (PLAIN_LONG.test(v.src)) return { ok: true, value: BigInt(Number(v.src)) };
  // The number a JSON reader reads: ECMAScript StringToNumber of the literal, correctly rounded.
  const read = Number(v.src);
  if (!Number.isFinite(read)) {
    return { ok: false, reason: "out_of_range", rule: "long: not finite" };
  }
  if (Math.abs(read) <= Number.MAX_SAFE_INTEGER) {
    return Number.isInteger(read)
      ? { ok: true, value: BigInt(read) }
      : { ok: false, reason: "wrong_type", rule: "long: fraction" };
  }
  // Beyond 2^53: the literal's exact digits.
  const d = decimalOf(v.src);
  if (d.e < 0) return { ok: false, reason: "wrong_type", rule: "long: fraction (exact digits)" };
  const digits = (d.m < 0n ? -d.m : d.m).toString().length;
  if (digits + d.e > 20) return { ok: false, reason: "out_of_range", rule: "long: beyond int64" };
  const value = d.m * 10n ** BigInt(d.e);
  if (value < INT64_MIN || value > INT64_MAX) {
    return { ok: false, reason: "out_of_range", rule: "long: beyond int64" };
  }
  return { ok: true, value };
}

type DoubleResult =
  | { ok: true; value: number }
  | { ok: false; reason: OracleReason; rule: string };

/** A double: a JSON number finite once rounded to a double. */
function doubleOf(v: JValue | undefined): DoubleResult {
  if (v === undefined) return { ok: false, reason: "missing_field", rule: "missing" };
  if (v === null) return { ok: false, reason: "null_field", rule: "null" };
  if (!(v instanceof JNumber)) {
    return { ok: false, reason: "wrong_type", rule: `double: ${kindOf(v)}` };
  }
  // Number() of a JSON number literal is the correctly rounded double (ECMAScript
  // StringToNumber), the same value any JSON reader must produce.
  const value = Number(v.src);
  if (!Number.isFinite(value)) {
    return { ok: false, reason: "out_of_range", rule: "double: not finite" };
  }
  // Money is whole cents below 10^10 (decimal(12,2)), judged on the double's shortest text:
  // no exponent, at most two digits after the point.
  if (Math.abs(value) >= 1e10) {
    return { ok: false, reason: "out_of_range", rule: "money: 10^10 or more" };
  }
  const text = String(Math.abs(value));
  const point = text.indexOf(".");
  if (text.includes("e") || (point >= 0 && text.length - point - 1 > 2)) {
    return { ok: false, reason: "out_of_range", rule: "money: more than two decimals" };
  }
  return { ok: true, value };
}

function kindOf(v: JValue): string {
  if (v === null) return "null";
  if (Array.isArray(v)) return "array";
  if (v instanceof JObject) return "object";
  if (v instanceof JNumber) return "number";
  if (v instanceof JString) return "string";
  return typeof v;
}

// ---- the order --------------------------------------------------------------------------

const ITEM = (i: number, f: string) => `line_items[${i}].${f}`;

function checkOrder(o: JObject): Verdict {
  const get = (k: string) => o.map.get(k);
  const orderId = longOf(get("order_id"));
  if (!orderId.ok) return fail(orderId.reason, orderId.rule, "order_id");
  const customerId = longOf(get("customer_id"));
  if (!customerId.ok) return fail(customerId.reason, customerId.rule, "customer_id");
  const strings: (string | null)[] = [];
  for (const f of ["customer_fname", "customer_lname", "city", "state"]) {
    const v = get(f);
    if (v === undefined || v === null) strings.push(null);
    else if (v instanceof JString) strings.push(v.value);
    else return fail("wrong_type", `string: ${kindOf(v)}`, f);
  }
  let pincode: bigint | null = null;
  const pin = get("pincode");
  if (pin !== undefined && pin !== null) {
    const p = longOf(pin);
    if (!p.ok) return fail(p.reason, p.rule, "pincode");
    pincode = p.value;
  }
  const li = get("line_items");
  if (li === undefined || li === null) return fail("no_line_items", "items: none", "line_items");
  if (!Array.isArray(li)) return fail("wrong_type", `items: ${kindOf(li)}`, "line_items");
  if (li.length === 0) return fail("no_line_items", "items: empty", "line_items");

  const items: OracleItem[] = [];
  for (let i = 0; i < li.length; i++) {
    const it = li[i];
    if (it === null) return fail("null_field", "item: null", `line_items[${i}]`);
    if (!(it instanceof JObject)) {
      return fail("wrong_type", `item: ${kindOf(it)}`, `line_items[${i}]`);
    }
    const longs: bigint[] = [];
    for (const f of ["order_item_id", "order_item_product_id", "order_item_quantity"]) {
      const r = longOf(it.map.get(f));
      if (!r.ok) return fail(r.reason, r.rule, ITEM(i, f));
      longs.push(r.value);
    }
    const price = doubleOf(it.map.get("order_item_product_price"));
    if (!price.ok) return fail(price.reason, price.rule, ITEM(i, "order_item_product_price"));
    const sub = doubleOf(it.map.get("order_item_subtotal"));
    if (!sub.ok) return fail(sub.reason, sub.rule, ITEM(i, "order_item_subtotal"));
    items.push({
      id: longs[0],
      productId: longs[1],
      quantity: longs[2],
      price: price.value,
      subtotal: sub.value,
    });
  }

  // Business rules, line item by line item, in IEEE doubles as the README writes them.
  for (let i = 0; i < items.length; i++) {
    const it = items[i];
    if (it.quantity <= 0n) {
      return fail("non_positive_quantity", "rule: quantity", ITEM(i, "order_item_quantity"));
    }
    if (it.price < 0) {
      return fail("negative_price", "rule: price", ITEM(i, "order_item_product_price"));
    }
    const product = it.price * Number(it.quantity);
    const diff = it.subtotal - product;
    if (!Number.isFinite(product) || !Number.isFinite(diff)) {
      return fail(
        "out_of_range",
        Number.isFinite(product) ? "rule: non-finite difference" : "rule: non-finite product",
        ITEM(i, "order_item_subtotal"),
      );
    }
    if (Math.abs(diff) > 0.01 + 1e-9 + Math.abs(product) * 1e-15) {
      return fail("subtotal_mismatch", "rule: subtotal", ITEM(i, "order_item_subtotal"));
    }
  }
  return {
    outcome: "ok",
    accept: ["ok"],
    rule: "valid",
    depth: 0,
    order: {
      orderId: orderId.value,
      customerId: customerId.value,
      fname: strings[0],
      lname: strings[1],
      city: strings[2],
      state: strings[3],
      pincode,
      items,
    },
  };
}
