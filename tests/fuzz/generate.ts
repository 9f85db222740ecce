/**
 * Seeded generator of fuzzed Kafka records for the orders pipeline (issue 20).
 *
 * Each record starts as a valid order shaped like data/file*.json (the seed's field order, 1–5
 * line items, prices in cents, subtotal = price × quantity, key = customer_id) and is then
 * mutated in exactly ONE way, of one {@link Kind}: byte flips, truncations, invalid UTF-8, BOMs,
 * UTF-16; NaN and Infinity, wrong types, integers past 2^53 and 2^63; 5,000 and 20,000 line items,
 * 10,000- and 100,000-level nesting in an extra field, 2 MB strings, records at the 1 MiB limit;
 * odd JSON keys, odd Kafka keys and headers; or left as it is (`valid`).
 *
 * Deterministic: record `i` of seed `s` depends only on (s, i) (and the kinds allowed), so any
 * record can be rebuilt alone: `deno run -A tests/fuzz/generate.ts --seed 7 --index 1234`.
 *
 * ```sh
 * deno run -A tests/fuzz/generate.ts --seed 7 --count 20            # JSON lines (base64 bytes)
 * deno run -A tests/fuzz/generate.ts --seed 7 --count 100000 --stats # kinds and sizes only
 * ```
 *
 * Also meant for the cost-per-order issue's differential decoder test: import
 * {@link fuzzRecords} and compare decoders on `record.value`.
 *
 * @module
 */

/** Every kind of mutation (one per record). */
export const KINDS = [
  "valid",
  "byte_flip",
  "truncate",
  "invalid_utf8",
  "bom",
  "utf16",
  "nan_infinity",
  "wrong_type",
  "big_int",
  "number_form",
  "rules",
  "json_keys",
  "exact_keys",
  "syntax",
  "not_object",
  "kafka_key",
  "headers",
  "items_5000",
  "items_20000",
  "nesting_10000",
  "nesting_100000",
  "string_2mb",
  "at_limit",
] as const;

/** One kind of mutation. */
export type Kind = typeof KINDS[number];

/** Kinds whose records are large (hundreds of kB to MBs). */
export const HEAVY_KINDS: readonly Kind[] = [
  "items_5000",
  "items_20000",
  "nesting_10000",
  "nesting_100000",
  "string_2mb",
  "at_limit",
];

/**
 * Relative weights per 100,000 records: the light kinds make up the bulk; the heavy ones are
 * rare but always present in a run of 100,000 (about 20–100 each).
 */
const WEIGHTS: Record<Kind, number> = {
  valid: 12_000,
  byte_flip: 10_000,
  truncate: 5_000,
  invalid_utf8: 5_000,
  bom: 4_000,
  utf16: 3_000,
  nan_infinity: 6_000,
  wrong_type: 11_000,
  big_int: 8_000,
  number_form: 6_000,
  rules: 9_000,
  json_keys: 6_000,
  exact_keys: 5_000,
  syntax: 5_000,
  not_object: 1_500,
  kafka_key: 4_000,
  headers: 3_500,
  items_5000: 25,
  items_20000: 10,
  nesting_10000: 80,
  nesting_100000: 25,
  string_2mb: 15,
  at_limit: 50,
};

/** One generated Kafka record. */
export interface FuzzRecord {
  /** Position in the generated sequence. */
  index: number;
  /** The one mutation applied. */
  kind: Kind;
  /** What exactly was done (for reports), e.g. `flip byte 37 ^ 0x20`. */
  detail: string;
  /** Key bytes, or null. */
  key: Uint8Array | null;
  /** Value bytes, or null (a tombstone). */
  value: Uint8Array | null;
  /** Kafka headers (kafkajs shape), when the kind adds some. */
  headers?: Record<string, Uint8Array | string | (Uint8Array | string)[]>;
}

/** Options of {@link fuzzRecord} and {@link fuzzRecords}. */
export interface GenerateOptions {
  /** Only these kinds (default: all, with the weights above). */
  kinds?: readonly Kind[];
}

// ---- a small seeded PRNG ------------------------------------------------------------------

/** sfc32, seeded from (seed, index) through a murmur3-style mix. */
export class Rng {
  #a: number;
  #b: number;
  #c: number;
  #d: number;
  constructor(seed: number, index: number) {
    const mix = (h: number) => {
      h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
      h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
      return (h ^ (h >>> 16)) >>> 0;
    };
    const s = mix(seed >>> 0 ^ 0x9e3779b9);
    const hi = mix(Math.floor(seed / 2 ** 32) ^ 0x7f4a7c15);
    this.#a = mix(s ^ Math.imul(index | 0, 0x27d4eb2f));
    this.#b = mix(hi ^ Math.floor(index / 2 ** 32) ^ 0x165667b1);
    this.#c = mix(this.#a ^ 0xd3a2646c);
    this.#d = 1;
    for (let i = 0; i < 12; i++) this.next();
  }
  /** A uniform 32-bit unsigned integer. */
  next(): number {
    const t = (((this.#a + this.#b) | 0) + this.#d) | 0;
    this.#d = (this.#d + 1) | 0;
    this.#a = this.#b ^ (this.#b >>> 9);
    this.#b = (this.#c + (this.#c << 3)) | 0;
    this.#c = (this.#c << 21) | (this.#c >>> 11);
    this.#c = (this.#c + t) | 0;
    return t >>> 0;
  }
  /** A float in [0, 1). */
  float(): number {
    return this.next() / 2 ** 32;
  }
  /** An integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.float() * n);
  }
  /** An integer in [lo, hi]. */
  range(lo: number, hi: number): number {
    return lo + this.int(hi - lo + 1);
  }
  /** True with probability p. */
  chance(p: number): boolean {
    return this.float() < p;
  }
  /** One element. */
  pick<T>(xs: readonly T[]): T {
    return xs[this.int(xs.length)];
  }
}

// ---- orders as editable JSON text trees ---------------------------------------------------

/** A JSON value as text pieces: raw literal text, an object (raw key text → value), an array. */
type J = string | JObj | JArr;
class JObj {
  constructor(public entries: [string, J][]) {}
}
class JArr {
  constructor(public items: J[]) {}
}

const q = (s: string) => JSON.stringify(s);

function text(j: J): string {
  if (typeof j === "string") return j;
  if (j instanceof JArr) return `[${j.items.map(text).join(",")}]`;
  return `{${j.entries.map(([k, v]) => `${k}:${text(v)}`).join(",")}}`;
}

function getField(o: JObj, name: string): J | undefined {
  return o.entries.find(([k]) => k === q(name))?.[1];
}

function setField(o: JObj, name: string, v: J): void {
  const e = o.entries.find(([k]) => k === q(name));
  if (e) e[1] = v;
  else o.entries.push([q(name), v]);
}

function dropField(o: JObj, name: string): void {
  o.entries = o.entries.filter(([k]) => k !== q(name));
}

const FIRST = [
  "Mary",
  "David",
  "Amber",
  "Brian",
  "José",
  "Zoë",
  "李",
  "Ørjan",
  "O'Brien",
  "Anne-Marie",
];
const LAST = ["Malone", "Rodriguez", "Franco", "Wilson", "Müller-Łukasz", "Smith", "Nguyễn", "Ω"];
const PLACES: [string, string, number][] = [
  ["Chicago", "IL", 60625],
  ["Hickory", "NC", 28601],
  ["Santa Cruz", "CA", 95060],
  ["San Antonio", "TX", 78240],
  ["Caguas", "PR", 725],
  ["Brooklyn", "NY", 11220],
  ["Los Angeles", "CA", 90016],
  ["Chicago", "IL", 60601],
];

const ORDER_LONGS = ["order_id", "customer_id", "pincode"];
const ITEM_LONGS = ["order_item_id", "order_item_product_id", "order_item_quantity"];
const ITEM_DOUBLES = ["order_item_product_price", "order_item_subtotal"];
const ORDER_STRINGS = ["customer_fname", "customer_lname", "city", "state"];

/** A line item with cents kept for exact arithmetic. */
function item(r: Rng, id: number): { j: JObj; cents: number; qty: number } {
  const cents = r.chance(0.04)
    ? 0
    : r.pick([r.range(100, 50_000), r.range(1, 99_999), 12999, 2199]);
  const qty = r.range(1, 5);
  return {
    j: new JObj([
      [q("order_item_id"), String(id)],
      [q("order_item_product_id"), String(r.range(1, 1345))],
      [q("order_item_quantity"), String(qty)],
      [q("order_item_product_price"), String(cents / 100)],
      [q("order_item_subtotal"), String((cents * qty) / 100)],
    ]),
    cents,
    qty,
  };
}

/** A line item as raw JSON text (fast, for orders of thousands of lines). */
function itemText(r: Rng, id: number): string {
  const cents = r.chance(0.04) ? 0 : r.range(1, 99_999);
  const qty = r.range(1, 5);
  return `{"order_item_id":${id},"order_item_product_id":${r.range(1, 1345)},` +
    `"order_item_quantity":${qty},"order_item_product_price":${cents / 100},` +
    `"order_item_subtotal":${(cents * qty) / 100}}`;
}

/** A valid order as the producer sends it (the seed's field order). */
function baseOrder(r: Rng, index: number, items = r.range(1, 5)): JObj {
  const [city, state, pin] = r.pick(PLACES);
  const customer = r.range(1, 12_435);
  const firstItem = index * 5 + 1;
  const o = new JObj([
    [q("order_id"), String(index + 1)],
    [q("customer_id"), String(customer)],
    [q("customer_fname"), r.chance(0.03) ? "null" : q(r.pick(FIRST))],
    [q("customer_lname"), q(r.pick(LAST))],
    [q("city"), q(city)],
    [q("state"), q(state)],
    [q("pincode"), r.chance(0.03) ? "null" : String(pin)],
    [q("line_items"), new JArr(Array.from({ length: items }, (_, k) => item(r, firstItem + k).j))],
  ]);
  if (r.chance(0.02)) dropField(o, "customer_lname"); // absent optional field
  return o;
}

/** The field twice: `first` as the object's first key, `last` as its last. */
function twice(o: JObj, name: string, first: J, last: J): void {
  dropField(o, name);
  o.entries.unshift([q(name), first]);
  o.entries.push([q(name), last]);
}

function items(o: JObj): JObj[] {
  return (getField(o, "line_items") as JArr).items as JObj[];
}

const enc = new TextEncoder();
const bytes = (s: string) => enc.encode(s);

function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

function hexByte(n: number): string {
  return `0x${n.toString(16).padStart(2, "0")}`;
}

/** A record under construction: the order (or final bytes) plus key and headers. */
interface Draft {
  order: JObj;
  key: Uint8Array | null;
  value?: Uint8Array | null; // set when the mutation works on bytes
  headers?: FuzzRecord["headers"];
  detail: string;
}

/** A field path of a long or double, with a setter. */
function numericSlot(r: Rng, o: JObj): { path: string; set: (v: J) => void; long: boolean } {
  const its = items(o);
  if (r.chance(0.3)) {
    const f = r.pick(ORDER_LONGS);
    return { path: f, set: (v) => setField(o, f, v), long: true };
  }
  const i = r.int(its.length);
  const f = r.pick([...ITEM_LONGS, ...ITEM_DOUBLES]);
  return {
    path: `line_items[${i}].${f}`,
    set: (v) => setField(its[i], f, v),
    long: ITEM_LONGS.includes(f),
  };
}

/** A field path of any known field, with a setter and a remover. */
function anySlot(r: Rng, o: JObj): { path: string; set: (v: J) => void; drop: () => void } {
  const its = items(o);
  if (r.chance(0.45)) {
    const f = r.pick([...ORDER_LONGS, ...ORDER_STRINGS, "line_items"]);
    return { path: f, set: (v) => setField(o, f, v), drop: () => dropField(o, f) };
  }
  const i = r.int(its.length);
  const f = r.pick([...ITEM_LONGS, ...ITEM_DOUBLES]);
  return {
    path: `line_items[${i}].${f}`,
    set: (v) => setField(its[i], f, v),
    drop: () => dropField(its[i], f),
  };
}

const BIG_INTS = [
  "9007199254740992", // 2^53
  "9007199254740993", // 2^53 + 1 (not a double)
  "-9007199254740993",
  "9223372036854775807", // int64 max
  "-9223372036854775808", // int64 min
  "9223372036854775808", // int64 max + 1
  "-9223372036854775809",
  "18446744073709551615", // 2^64 − 1
  "18446744073709551616",
  "10000000000000000000", // 10^19
  "99999999999999999999999999999999",
  "9.007199254740993e15",
  "9223372036854775807.0",
  "9223372036854775807e0",
  "92233720368547758070e-1",
  "9.223372036854775808e18",
  "1e19",
  "1e18",
  "-1e18",
];

function randomBigInt(r: Rng): string {
  // A random integer in (2^53, 2^63), or just outside int64.
  const digits = r.range(16, 20);
  let s = String(r.range(1, 9));
  for (let i = 1; i < digits; i++) s += String(r.int(10));
  return (r.chance(0.2) ? "-" : "") + s;
}

// ---- the mutations ------------------------------------------------------------------------

type Mutation = (r: Rng, d: Draft, index: number) => void;

const INVALID_SEQUENCES = [
  [0x80],
  [0xbf],
  [0xc0, 0xaf],
  [0xc1, 0x81],
  [0xe0, 0x80, 0xaf],
  [0xed, 0xa0, 0x80],
  [0xed, 0xbf, 0xbf],
  [0xf4, 0x90, 0x80, 0x80],
  [0xf5, 0x80, 0x80, 0x80],
  [0xf8, 0x88, 0x80, 0x80, 0x80],
  [0xfe],
  [0xff],
  [0xc3],
  [0xe2, 0x82],
  [0xf0, 0x9f, 0x98],
];

function utf16(s: string, bigEndian: boolean): Uint8Array {
  const out = new Uint8Array(s.length * 2);
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    out[2 * i + (bigEndian ? 0 : 1)] = c >> 8;
    out[2 * i + (bigEndian ? 1 : 0)] = c & 0xff;
  }
  return out;
}

/** A big extra field built as text (no recursion anywhere). */
function nested(r: Rng, depth: number, balanced = true): string {
  const shape = r.int(3);
  let s: string;
  if (shape === 0) s = "[".repeat(depth) + "]".repeat(depth);
  else if (shape === 1) s = '{"a":'.repeat(depth) + "1" + "}".repeat(depth);
  else s = '[{"k":'.repeat(depth >> 1) + "[]" + "}]".repeat(depth >> 1);
  return balanced ? s : s.slice(0, -1);
}

/** Pads an order with an extra string field so its text is exactly `size` bytes. */
function padTo(o: JObj, size: number, unit: string): string {
  const head = text(o);
  // head ends with "}": insert `,"pad":"…"` before it.
  const overhead = bytes(head).length + bytes(',"pad":""').length;
  const unitBytes = bytes(unit).length;
  let room = size - overhead;
  let pad = unit.repeat(Math.max(0, Math.floor(room / unitBytes)));
  room -= bytes(pad).length;
  pad += "x".repeat(Math.max(0, room));
  return `${head.slice(0, -1)},"pad":${q(pad)}}`;
}

const MUTATIONS: Record<Kind, Mutation> = {
  valid: (_r, d) => {
    d.detail = "unmutated";
  },
  byte_flip: (r, d) => {
    const b = bytes(text(d.order));
    const p = r.int(b.length);
    const x = r.chance(0.5) ? 1 << r.int(8) : r.range(1, 255);
    b[p] ^= x;
    d.value = b;
    d.detail = `flip byte ${p} ^ ${hexByte(x)}`;
  },
  truncate: (r, d) => {
    const b = bytes(text(d.order));
    const n = r.chance(0.05) ? 0 : r.int(b.length);
    d.value = b.slice(0, n);
    d.detail = `truncate to ${n} of ${b.length} bytes`;
  },
  invalid_utf8: (r, d) => {
    const seq = new Uint8Array(r.pick(INVALID_SEQUENCES));
    const t = text(d.order);
    // Inside a name most of the time (a plausible corruption), else anywhere.
    let p: number;
    const name = t.indexOf('"customer_lname":"');
    if (name >= 0 && r.chance(0.7)) p = bytes(t.slice(0, name + 19)).length + r.int(2);
    else p = r.int(bytes(t).length + 1);
    const b = bytes(t);
    d.value = concat(b.subarray(0, p), seq, b.subarray(p));
    d.detail = `insert ${[...seq].map(hexByte).join(" ")} at ${p}`;
  },
  bom: (r, d) => {
    const bom = new Uint8Array([0xef, 0xbb, 0xbf]);
    const b = bytes(text(d.order));
    const v = r.int(6);
    if (v === 0 || v === 1) {
      d.value = concat(bom, b);
      d.detail = "BOM prefix";
    } else if (v === 2) {
      d.value = concat(bom, bom, b);
      d.detail = "two BOMs";
    } else if (v === 3) {
      d.value = concat(bytes(" "), bom, b);
      d.detail = "space then BOM";
    } else if (v === 4) {
      d.value = concat(b, bom);
      d.detail = "BOM suffix";
    } else {
      setField(d.order, "customer_fname", q("\uFEFFMary"));
      d.detail = "BOM inside a name";
    }
  },
  utf16: (r, d) => {
    const t = text(d.order);
    const be = r.chance(0.5);
    const withBom = r.chance(0.5);
    const body = utf16(t, be);
    d.value = withBom ? concat(new Uint8Array(be ? [0xfe, 0xff] : [0xff, 0xfe]), body) : body;
    d.detail = `UTF-16${be ? "BE" : "LE"}${withBom ? " with BOM" : ""}`;
  },
  nan_infinity: (r, d) => {
    const v = r.int(10);
    const its = items(d.order);
    const i = r.int(its.length);
    const it = its[i];
    if (v <= 3) {
      const s = numericSlot(r, d.order);
      const lit = r.pick([
        "NaN",
        "Infinity",
        "-Infinity",
        "nan",
        "inf",
        "1e400",
        "-1e400",
        "2e308",
      ]);
      s.set(lit);
      d.detail = `${s.path} = ${lit}`;
    } else if (v <= 5) {
      // price × quantity overflows a double (issue 20, defect 1).
      const [price, qty, sub] = r.pick([
        ["1e300", "10000000000", "5.0"],
        ["1e300", "10000000000", "1e308"],
        ["1.7976931348623157e308", "2", "1.7976931348623157e308"],
        ["1e200", "9223372036854775807", "0"],
      ]);
      setField(it, "order_item_product_price", price);
      setField(it, "order_item_quantity", qty);
      setField(it, "order_item_subtotal", sub);
      d.detail = `line_items[${i}]: price ${price} × quantity ${qty}, subtotal ${sub}`;
    } else if (v === 6) {
      // subtotal − price × quantity overflows.
      setField(it, "order_item_product_price", "1.7976931348623157e308");
      setField(it, "order_item_quantity", "1");
      setField(it, "order_item_subtotal", "-1.7976931348623157e308");
      d.detail = `line_items[${i}]: subtotal −max − price max (difference overflows)`;
    } else if (v === 7) {
      // Finite but enormous, and consistent: valid.
      setField(it, "order_item_product_price", "1e308");
      setField(it, "order_item_quantity", "1");
      setField(it, "order_item_subtotal", "1e308");
      d.detail = `line_items[${i}]: price = subtotal = 1e308, quantity 1`;
    } else {
      // Non-finite values in an unknown field are ignored.
      d.order.entries.push([q("extra"), r.pick(["1e400", "-1e999", '[1e400,{"x":-1e400}]'])]);
      d.detail = "overflowing number in an extra field";
    }
  },
  wrong_type: (r, d) => {
    const s = anySlot(r, d.order);
    const v = r.int(14);
    if (v === 0) {
      s.drop();
      d.detail = `${s.path} removed`;
      return;
    }
    const lit = [
      "null",
      q("3"),
      q("abc"),
      "true",
      "false",
      "{}",
      "[]",
      "[1]",
      "3.5",
      q(""),
      "42",
      '{"order_item_id":1}',
      "-0.5",
    ][v - 1];
    s.set(lit);
    d.detail = `${s.path} = ${lit}`;
  },
  big_int: (r, d) => {
    const v = r.int(5);
    if (v === 4) {
      // A huge quantity at price 0: valid while it is in int64.
      const its = items(d.order);
      const i = r.int(its.length);
      const n = r.chance(0.5) ? r.pick(BIG_INTS) : randomBigInt(r);
      setField(its[i], "order_item_quantity", n);
      setField(its[i], "order_item_product_price", "0");
      setField(its[i], "order_item_subtotal", "0");
      d.detail = `line_items[${i}]: quantity ${n} at price 0`;
      return;
    }
    const slots = ["order_id", "customer_id", "pincode", "order_item_id", "order_item_product_id"];
    const f = r.pick(slots);
    const n = r.chance(0.6) ? r.pick(BIG_INTS) : randomBigInt(r);
    if (f.startsWith("order_item")) {
      const its = items(d.order);
      const i = r.int(its.length);
      setField(its[i], f, n);
      d.detail = `line_items[${i}].${f} = ${n}`;
    } else {
      setField(d.order, f, n);
      d.detail = `${f} = ${n}`;
    }
    if (r.chance(0.2)) {
      d.order.entries.push([q("big_extra"), randomBigInt(r)]);
      d.detail += " (+ big int in an extra field)";
    }
  },
  number_form: (r, d) => {
    const its = items(d.order);
    const i = r.int(its.length);
    const v = r.int(4);
    if (v <= 1) {
      // A long written another way (some are not integers, some are not JSON).
      const forms = [
        "3.0",
        "3e0",
        "0.3e1",
        "30e-1",
        "3E+0",
        "300e-2",
        "3.0000000000000001", // a fraction a double cannot see
        "2.9999999999999999",
        "3.5e0",
        "1e-400",
        "-0",
        "-0.0",
        "0.0000000000000000000003e22",
        "03",
        "+3",
        ".3e1",
        "3.",
        "0x3",
        "3_0",
        "1e",
      ];
      const lit = r.pick(forms);
      const f = r.pick(["order_id", "customer_id", "pincode", ...ITEM_LONGS]);
      if (ITEM_LONGS.includes(f)) {
        setField(its[i], f, lit);
        if (f === "order_item_quantity") {
          // keep the subtotal consistent with a quantity of 3
          const price = Number(getField(its[i], "order_item_product_price"));
          setField(its[i], "order_item_subtotal", String(Math.round(price * 300) / 100));
        }
        d.detail = `line_items[${i}].${f} = ${lit}`;
      } else {
        setField(d.order, f, lit);
        d.detail = `${f} = ${lit}`;
      }
    } else if (v === 2) {
      // A price written another way, subtotal kept for quantity 1.
      const [price, sub] = r.pick([
        ["2.9998e2", "299.98"],
        ["-0", "0"],
        ["-0.0", "0"],
        ["-1e-400", "0"],
        ["1e-400", "0"],
        ["0.1", "0.1"],
        ["1E2", "100"],
        ["100.000000000000000000001", "100"],
      ]);
      setField(its[i], "order_item_quantity", "1");
      setField(its[i], "order_item_product_price", price);
      setField(its[i], "order_item_subtotal", sub);
      d.detail = `line_items[${i}]: price ${price}, subtotal ${sub}, quantity 1`;
    } else {
      // Whitespace allowed by JSON, and pretty printing.
      const t = text(d.order);
      const pretty = JSON.stringify(JSON.parse(t), null, r.pick([1, 2, "\t"]));
      d.value = bytes(r.chance(0.5) ? pretty : ` \t\r\n${t}\n\r\t `);
      d.detail = "JSON whitespace";
    }
  },
  rules: (r, d) => {
    const its = items(d.order);
    const i = r.int(its.length);
    const it = its[i];
    const cents = Math.round(Number(getField(it, "order_item_product_price")) * 100);
    const qty = Number(getField(it, "order_item_quantity"));
    const v = r.int(12);
    if (v === 0) {
      const n = r.pick(["0", "-1", "-9223372036854775808"]);
      setField(it, "order_item_quantity", n);
      d.detail = `line_items[${i}].order_item_quantity = ${n}`;
    } else if (v === 1) {
      const p = r.pick(["-0.01", "-1", "-299.98"]);
      setField(it, "order_item_product_price", p);
      d.detail = `line_items[${i}].order_item_product_price = ${p}`;
    } else if (v <= 6) {
      // Subtotal off by an amount around a cent (±0.01 is valid, as documented).
      const off = r.pick([0.01, -0.01, 0.02, -0.02, 0.011, -0.011, 0.0100005, 0.009, 1, 1000]);
      const sub = ((cents * qty) / 100 + off).toFixed(7).replace(/0+$/, "").replace(/\.$/, "");
      setField(it, "order_item_subtotal", sub);
      d.detail = `line_items[${i}].order_item_subtotal off by ${off}`;
    } else if (v === 7) {
      setField(d.order, "line_items", r.pick(["[]", "null"]));
      d.detail = "no line items";
    } else if (v === 8) {
      dropField(d.order, "line_items");
      d.detail = "line_items removed";
    } else if (v === 9) {
      // Large amounts, where a cent is below a double's resolution.
      const price = r.pick(["1e15", "123456789012.34", "4503599627370496", "1e17"]);
      const n = r.range(1, 3);
      const exact = Number(price) * n;
      const off = r.pick([0, 0.01, 0.5, 4, 1000, 1e6]);
      setField(it, "order_item_product_price", price);
      setField(it, "order_item_quantity", String(n));
      setField(it, "order_item_subtotal", String(exact + off));
      d.detail = `line_items[${i}]: price ${price} × ${n}, subtotal + ${off}`;
    } else if (v === 10) {
      // Two failures: a rule in an early item, a type in a later one (types win).
      setField(its[0], "order_item_quantity", "0");
      const last = its[its.length - 1];
      setField(last, "order_item_subtotal", q("1"));
      d.detail = "quantity 0 in line_items[0], string subtotal in the last item";
    } else {
      // Two rules in one item: quantity first.
      setField(it, "order_item_quantity", "-2");
      setField(it, "order_item_product_price", "-5");
      d.detail = `line_items[${i}]: quantity -2 and price -5`;
    }
  },
  json_keys: (r, d) => {
    const o = d.order;
    const its = items(o);
    const v = r.int(12);
    if (v === 0) {
      o.entries.unshift([q("order_id"), q("not a number")]);
      d.detail = "order_id twice: a bad first, a good last (the last counts)";
    } else if (v === 1) {
      o.entries.push([q("customer_id"), q("oops")]);
      d.detail = "customer_id twice: a good first, a bad last";
    } else if (v === 2) {
      o.entries[0][0] = '"order\\u005fid"';
      d.detail = "escaped key name order\\u005fid";
    } else if (v === 3) {
      o.entries[0][0] = q("Order_Id");
      d.detail = "key Order_Id (case differs)";
    } else if (v === 4) {
      o.entries.push([q("__proto__"), '{"order_id":"x","line_items":null}']);
      d.detail = "__proto__ extra field";
    } else if (v === 5) {
      const f = r.pick(["order_id", "line_items", "customer_id"]);
      const value = getField(o, f)!;
      dropField(o, f);
      o.entries.push([q("__proto__"), new JObj([[q(f), value]])]);
      d.detail = `${f} moved under __proto__`;
    } else if (v === 6) {
      for (const k of ["constructor", "toString", "", "\u0000", "🙂", "hasOwnProperty"]) {
        o.entries.push([q(k), q("x")]);
      }
      d.detail = "odd extra keys";
    } else if (v === 7) {
      // Shuffle the keys of the order and of every item: still valid.
      const shuffle = (e: [string, J][]) => {
        for (let k = e.length - 1; k > 0; k--) {
          const m = r.int(k + 1);
          [e[k], e[m]] = [e[m], e[k]];
        }
      };
      shuffle(o.entries);
      for (const it of its) shuffle(it.entries);
      d.detail = "keys in another order";
    } else if (v === 8) {
      o.entries.push([q("k".repeat(10_000)), "1"]);
      for (let k = 0; k < 1000; k++) o.entries.push([q(`extra_${k}`), String(k)]);
      d.detail = "1,000 extra keys and a 10,000-character key";
    } else if (v === 9) {
      const i = r.int(its.length);
      its[i].entries.push([q("order_item_quantity"), "0"]);
      d.detail = `line_items[${i}].order_item_quantity twice, the last 0`;
    } else if (v === 10) {
      // Wrong field order in the text, two bad fields: the schema's first one is reported.
      setField(o, "state", "1");
      setField(o, "customer_id", "true");
      o.entries.reverse();
      d.detail = "bad customer_id and state, keys reversed";
    } else {
      o.entries.push([q("line_items "), "[]"]);
      d.detail = "a key with a trailing space";
    }
  },
  exact_keys: (r, d) => {
    // Odd keys around integers past 2^53: such records take the exact re-read, which finds the
    // order's fields in the text by itself; each variant is one key oddity.
    const o = d.order;
    const its = items(o);
    const it = its[r.int(its.length)];
    const big = r.pick(["9007199254740993", "9223372036854775807", "-9223372036854775808"]);
    const v = r.int(16);
    const details = [
      "order_id twice, both past 2^53 (the last counts)",
      "order_id twice: beyond int64 first, past 2^53 last",
      "order_id twice: past 2^53 first, a string last",
      "escaped key order\\u005fid past 2^53",
      "escaped line-item key order_item_\\u0069d past 2^53",
      "decoy {order_id} in an extra object before the real one",
      'decoy \\"order_id\\": inside a name before the real one',
      "pretty-printed, ids past 2^53",
      "__proto__ holding order_id, the real one past 2^53",
      "line-item quantity twice: beyond int64 first, 1 last",
      "line-item id past 2^53 in other notations, key repeated",
      "customer_id also inside a line item",
      "unicode and escaped-quote keys before ids past 2^53",
      "beyond int64 inside an extra array",
      "line_items twice: [] first, the real one last",
      "line_items twice: the real one first, null last",
    ];
    d.detail = details[v];
    if (v === 0) {
      twice(o, "order_id", "9007199254740995", big);
    } else if (v === 1) {
      twice(o, "order_id", "9223372036854775808", big);
    } else if (v === 2) {
      setField(o, "order_id", big);
      o.entries.push([q("order_id"), q("x")]);
    } else if (v === 3) {
      setField(o, "order_id", big);
      o.entries[0][0] = '"order\\u005fid"';
    } else if (v === 4) {
      setField(it, "order_item_id", big);
      it.entries[0][0] = '"order_item_\\u0069d"';
    } else if (v === 5) {
      o.entries.unshift([q("x"), '{"order_id":9223372036854775808,"customer_id":"s"}']);
      setField(o, "customer_id", big);
    } else if (v === 6) {
      o.entries.unshift([q("note"), q('"order_id":9223372036854775808,"line_items":[]')]);
      setField(o, "order_id", big);
    } else if (v === 7) {
      setField(o, "order_id", big);
      setField(it, "order_item_product_id", "9007199254740993");
      d.value = bytes(
        text(o).replace(/([:,{\[])/g, (m) => `${m}\n\t `).replace(/:/g, " :"),
      );
    } else if (v === 8) {
      o.entries.unshift([q("__proto__"), `{"order_id":9223372036854775808}`]);
      setField(o, "order_id", big);
    } else if (v === 9) {
      setField(o, "order_id", big);
      twice(it, "order_item_quantity", "9223372036854775808", "1");
      setField(it, "order_item_subtotal", getField(it, "order_item_product_price")!);
    } else if (v === 10) {
      it.entries.push([q("order_item_id"), r.pick(["9007199254740993.0", "9.007199254740993e15"])]);
    } else if (v === 11) {
      setField(o, "customer_id", big);
      it.entries.push([q("customer_id"), "9223372036854775808"]);
    } else if (v === 12) {
      o.entries.unshift([q("ключ"), "1"], ['"a\\"order_id"', "9223372036854775808"]);
      setField(o, "order_id", big);
    } else if (v === 13) {
      o.entries.unshift([q("arr"), "[9223372036854775808,-9223372036854775809]"]);
      setField(o, "customer_id", big);
    } else if (v === 14) {
      setField(o, "order_id", big);
      twice(o, "line_items", "[]", getField(o, "line_items")!);
    } else {
      setField(o, "order_id", big);
      o.entries.push([q("line_items"), "null"]);
    }
  },
  syntax: (r, d) => {
    const t = text(d.order);
    const v = r.int(16);
    const cases: [string, string][] = [
      [t.slice(0, -1) + ",}", "trailing comma"],
      [t.replaceAll('"', "'"), "single quotes"],
      [`/* c */${t}`, "a comment"],
      [t + t, "two objects"],
      [t + "x", "trailing garbage"],
      ["\u00a0" + t, "leading no-break space"],
      [t.replace('"Mary"', '"Ma\nry"').replace('"David"', '"Da\tvid"'), "raw control in a string"],
      [t.replace(/"customer_lname":"[^"]*"/, '"customer_lname":"a\\u0000b\\n\\"c\\\\"'), "escapes"],
      [
        t.replace(/"customer_lname":"[^"]*"/, '"customer_lname":"\\ud800x\\udfff"'),
        "lone surrogates",
      ],
      [t.replace(/"customer_lname":"[^"]*"/, '"customer_lname":"\\uD83D\\uDE00 \\u00E9"'), "pair"],
      [t.replace(/"customer_lname":"[^"]*"/, '"customer_lname":"\\x41"'), "bad escape"],
      [t.replace(/"customer_lname":"[^"]*"/, '"customer_lname":"\\u00G1"'), "bad \\u"],
      [t.slice(0, t.lastIndexOf("]")), "unterminated"],
      ["", "empty value"],
      [" \n\t", "whitespace only"],
      ["{}", "empty object"],
    ];
    const [value, detail] = cases[v];
    d.value = bytes(value);
    d.detail = detail;
  },
  not_object: (r, d) => {
    const v = r.int(8);
    if (v === 0) {
      d.value = null;
      d.detail = "tombstone";
      return;
    }
    const lit = ["null", "[]", "1", '"{}"', "true", `[${text(d.order)}]`, "-0"][v - 1];
    d.value = bytes(lit);
    d.detail = `top-level ${lit.slice(0, 20)}`;
  },
  kafka_key: (r, d) => {
    const v = r.int(9);
    const keys: [Uint8Array | null, string][] = [
      [null, "null key"],
      [new Uint8Array(0), "empty key"],
      [new Uint8Array([0xff, 0xfe, 0x41, 0x80]), "invalid UTF-8 key"],
      [new Uint8Array([0x00, 0x01, 0x02, 0xc3, 0x28]), "binary key"],
      [bytes("k".repeat(10_000)), "10,000-byte key"],
      [concat(new Uint8Array([0xef, 0xbb, 0xbf]), bytes("42")), "key with a BOM"],
      [bytes("\uFFFD"), "key holding a real U+FFFD"],
      [new Uint8Array([0xed, 0xa0, 0x80]), "surrogate key bytes"],
      [bytes('{"customer_id":1}'), "JSON key"],
    ];
    [d.key, d.detail] = keys[v];
  },
  headers: (r, d) => {
    const v = r.int(6);
    const h: NonNullable<FuzzRecord["headers"]> = {};
    if (v === 0) {
      h[""] = "empty name";
      d.detail = "header with an empty name";
    } else if (v === 1) {
      h["bin"] = new Uint8Array([0xff, 0x00, 0xfe]);
      d.detail = "binary header value";
    } else if (v === 2) {
      h["dup"] = ["a", "b", new Uint8Array([0x80])];
      d.detail = "repeated header";
    } else if (v === 3) {
      for (let k = 0; k < 50; k++) h[`h${k}`] = String(k);
      d.detail = "50 headers";
    } else if (v === 4) {
      h["dlq.reason"] = "forged";
      h["dlq.offset"] = "-1";
      d.detail = "forged dlq.* headers";
    } else {
      h["ünïcødé"] = "";
      d.detail = "unicode header name, empty value";
    }
    d.headers = h;
  },
  items_5000: (r, d, index) => {
    const o = baseOrder(r, index, 0);
    const arr = getField(o, "line_items") as JArr;
    for (let k = 0; k < 4999; k++) arr.items.push(itemText(r, k + 1));
    const last = item(r, 5000).j;
    arr.items.push(last);
    if (r.chance(0.3)) {
      setField(last, "order_item_quantity", "0");
      d.detail = "5,000 line items, the last with quantity 0";
    } else d.detail = "5,000 line items";
    d.order = o;
  },
  items_20000: (r, d, index) => {
    const o = baseOrder(r, index, 0);
    const arr = getField(o, "line_items") as JArr;
    for (let k = 0; k < 20_000; k++) arr.items.push(itemText(r, k + 1));
    d.order = o;
    d.detail = "20,000 line items";
  },
  nesting_10000: (r, d) => nest(r, d, 10_000),
  nesting_100000: (r, d) => nest(r, d, 100_000),
  string_2mb: (r, d) => {
    const s = r.chance(0.5) ? "x".repeat(2 * 1024 * 1024) : "é".repeat(1024 * 1024);
    if (r.chance(0.5)) {
      setField(d.order, "customer_fname", q(s));
      d.detail = "2 MB customer_fname";
    } else {
      d.order.entries.push([q("notes"), q(s)]);
      d.detail = "2 MB extra field";
    }
  },
  at_limit: (r, d) => {
    const limit = 1024 * 1024;
    const size = r.pick([limit, limit, limit - 1, limit + 1]);
    const unit = r.pick(["x", "é", "€", "🙂"]);
    const bom = r.chance(0.15);
    const t = padTo(d.order, bom ? size - 3 : size, unit);
    d.value = bom ? concat(new Uint8Array([0xef, 0xbb, 0xbf]), bytes(t)) : bytes(t);
    d.detail = `${d.value.length} bytes (limit ${limit})${
      bom ? " with a BOM" : ""
    }, padded with ${unit}`;
  },
};

function nest(r: Rng, d: Draft, depth: number): void {
  const balanced = !r.chance(0.1);
  const big = r.chance(0.5);
  if (big) setField(d.order, "order_id", r.pick(["9007199254740993", "9223372036854775807"]));
  const where = r.chance(0.8) ? "order" : "item";
  const value = nested(r, depth, balanced);
  if (where === "order") d.order.entries.push([q("extra"), value]);
  else items(d.order)[0].entries.push([q("extra"), value]);
  d.detail = `${depth}-level nesting in an extra field of the ${where}` +
    (big ? ", order_id past 2^53" : "") + (balanced ? "" : ", one bracket missing");
}

// ---- the public API -----------------------------------------------------------------------

function chooseKind(r: Rng, kinds: readonly Kind[]): Kind {
  let total = 0;
  for (const k of kinds) total += WEIGHTS[k];
  let x = r.float() * total;
  for (const k of kinds) {
    x -= WEIGHTS[k];
    if (x < 0) return k;
  }
  return kinds[kinds.length - 1];
}

/** Record `index` of the sequence of `seed` (deterministic). */
export function fuzzRecord(seed: number, index: number, opts: GenerateOptions = {}): FuzzRecord {
  const r = new Rng(seed, index);
  const kind = chooseKind(r, opts.kinds ?? KINDS);
  const order = baseOrder(r, index);
  const key = bytes(String(JSON.parse(text(getField(order, "customer_id")!))));
  const d: Draft = { order, key, detail: "" };
  MUTATIONS[kind](r, d, index);
  return {
    index,
    kind,
    detail: d.detail,
    key: d.key,
    value: d.value === undefined ? bytes(text(d.order)) : d.value,
    ...(d.headers ? { headers: d.headers } : {}),
  };
}

/** Records `from` … `from + count − 1` of the sequence of `seed`. */
export function* fuzzRecords(
  seed: number,
  count: number,
  opts: GenerateOptions & { from?: number } = {},
): Generator<FuzzRecord> {
  const from = opts.from ?? 0;
  for (let i = from; i < from + count; i++) yield fuzzRecord(seed, i, opts);
}

/** Bytes as JSON-friendly text: the UTF-8 text when it is exactly that, else base64. */
export function showBytes(b: Uint8Array | null, max = 400): string {
  if (b === null) return "null";
  let t: string | undefined;
  try {
    t = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true }).decode(b);
  } catch {
    t = undefined;
  }
  if (t !== undefined) {
    const s = JSON.stringify(t);
    return s.length > max ? `${s.slice(0, max)}… (${b.length} bytes)` : s;
  }
  let bin = "";
  for (const x of b.subarray(0, max)) bin += String.fromCharCode(x);
  return `base64:${btoa(bin)}${b.length > max ? `… (${b.length} bytes)` : ""}`;
}

function flag(args: string[], name: string): string | undefined {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : undefined;
}

if (import.meta.main) {
  const args = Deno.args[0] === "--" ? Deno.args.slice(1) : Deno.args;
  const seed = Number(flag(args, "seed") ?? 1);
  const only = flag(args, "kinds")?.split(",") as Kind[] | undefined;
  const index = flag(args, "index");
  const count = index !== undefined ? 1 : Number(flag(args, "count") ?? 10);
  const from = index !== undefined ? Number(index) : Number(flag(args, "from") ?? 0);
  const stats = args.includes("--stats");
  const perKind = new Map<string, { n: number; bytes: number }>();
  for (const rec of fuzzRecords(seed, count, { from, kinds: only })) {
    if (stats) {
      const s = perKind.get(rec.kind) ?? { n: 0, bytes: 0 };
      s.n++;
      s.bytes += rec.value?.length ?? 0;
      perKind.set(rec.kind, s);
      continue;
    }
    const b64 = (b: Uint8Array) => {
      let bin = "";
      for (const x of b) bin += String.fromCharCode(x);
      return btoa(bin);
    };
    console.log(JSON.stringify({
      index: rec.index,
      kind: rec.kind,
      detail: rec.detail,
      key: showBytes(rec.key, 80),
      value: showBytes(rec.value),
      ...(rec.value !== null && rec.value.length <= 1 << 16
        ? { value_base64: b64(rec.value) }
        : {}),
    }));
  }
  if (stats) {
    for (const [k, s] of [...perKind].sort()) {
      console.log(`${k.padEnd(16)} ${s.n} records, ${s.bytes} bytes`);
    }
  }
}
