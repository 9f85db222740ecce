/**
 * Seeded mutations of valid orders, for the decoder's differential test (lib/orders/decode.ts
 * against parseOrder + flattenOrders, tests/orders/decode_test.ts). Where ./generate.ts makes
 * one realistic defect per record, these aim at a JSON scanner's edges, each record with one or
 * more {@link Mutation}s:
 * - structural ones that keep many records valid in unusual spellings: number forms (leading
 *   zeros, `-0`, exponents, 16 and 17 digits, 2^53 ± 1), string escapes and surrogates (pairs,
 *   lone, reversed, `\u0000`), whitespace between any tokens, key order, duplicate, unknown and
 *   escaped keys, wrong types, odd line-item arrays;
 * - byte-wise ones on the JSON text: bit flips, interesting bytes set, inserted or deleted,
 *   slices repeated or cut, invalid UTF-8, a BOM.
 *
 * Deterministic: record `i` of seed `s` depends only on (s, i).
 *
 * ```sh
 * deno run -A tests/fuzz/mutate.ts --seed 7 --count 20    # the records as JSON lines
 * ```
 * @module
 */
import { Rng, showBytes } from "./generate.ts";

/** The kinds of mutation. */
export const MUTATIONS = [
  "numbers",
  "strings",
  "whitespace",
  "keys",
  "types",
  "items",
  "bytes",
] as const;

/** One kind of mutation. */
export type Mutation = typeof MUTATIONS[number];

/** One mutated record value. */
export interface MutatedRecord {
  /** Position in the sequence. */
  index: number;
  /** The mutations applied, in order (none: the valid base order in one of its spellings). */
  kinds: Mutation[];
  /** What was done, for reports. */
  detail: string;
  /** The record value. */
  value: Uint8Array;
}

/** A JSON member as raw text: key text (with its quotes) and value text. */
type Member = [string, string];
/** An order being mutated: members as raw text; `line_items` is built from `items`. */
interface Draft {
  top: [string, string | Member[][]][];
  /** Applied last to the serialised text, when whitespace is wanted between tokens. */
  spaced: boolean;
  details: string[];
}

const q = (s: string) => JSON.stringify(s);

const NAMES = [
  "Mary",
  "David",
  "O'Brien",
  "Anne-Marie",
  "José",
  "Zoë",
  "Müller-Łukasz",
  "李",
  "Nguyễn",
  "🙂 Smile",
  "",
  "a\u2028b",
  "x".repeat(40),
  "Ω\uFFFD",
];
const CITIES = ["Chicago", "Hickory", "Santa Cruz", "Caguas", "São Paulo", "Zürich", "東京"];
const STATES = ["IL", "NC", "CA", "PR", "TX", "Ü"];

const SAFE_LONGS = [
  "0",
  "1",
  "-1",
  "7",
  "42",
  "28601",
  "2147483647",
  "2147483648",
  "-2147483649",
  "4294967296",
  "176500000000000",
  "882500000000000",
  "999999999999999",
  "1000000000000000",
  "1234567890123456",
  "9007199254740991",
  "-9007199254740991",
];
/** Long spellings parseOrder may accept or reject; the scanner must never differ. */
const ODD_LONGS = [
  "-0",
  "00",
  "01",
  "1.0",
  "1e0",
  "1E+0",
  "10e-1",
  "0.1e1",
  "1.5",
  "-",
  "+1",
  ".5",
  "1.",
  "1e",
  "--1",
  "0x1",
  "1_0",
  "Infinity",
  "NaN",
  "1e400",
  "-1e400",
  "1e-400",
  "3.0000000000000001",
  "9007199254740992",
  "9007199254740993",
  "-9007199254740993",
  "12345678901234567",
  "9223372036854775807",
  "9223372036854775808",
  "00000000000000001",
  "1 2",
];
/** Price spellings: some valid (within a cent of the rest), some not, some not JSON. */
const ODD_DOUBLES = [
  "0",
  "-0",
  "0.0",
  "-0.0",
  "0.1",
  "0.30000000000000004",
  "299.98",
  "299.980",
  "299.9800000000000",
  "299.98000000000000",
  "2.9998e2",
  "29998E-2",
  "1e-7",
  "123456789012345.6",
  "1234567890123456.7",
  "9007199254740991",
  "9007199254740993",
  "0.000000000000000000001",
  "0.0000000000000001",
  "1.7976931348623157e308",
  "5e-324",
  "1e400",
  "-1",
  "01.5",
  "1.",
  ".5",
  "1.5.5",
  "1e+",
];
const LITERALS = ["null", "true", "false", '"3"', '""', "[]", "{}", "[1]", '{"a":1}', "3.5"];
const ESCAPES = ['\\"', "\\\\", "\\/", "\\b", "\\f", "\\n", "\\r", "\\t", "\\u0000", "\\u001f"];
const ODD_ESCAPES = [
  "\\u00e9",
  "\\u00E9",
  "\\u20AC",
  "\\uFFFD",
  "\\uFEFF",
  "\\ud83d\\ude00",
  "\\uD83D\\uDE00",
  "\\ud800",
  "\\udfff",
  "\\ude00\\ud83d",
  "\\ud83d\\ud83d\\ude00",
  "\\ud83dx",
  "\\ud83d\\u0041",
  "\\ud83d\\n",
  "\\x41",
  "\\a",
  "\\'",
  "\\u00G1",
  "\\u12",
  "\\U00e9",
  "\t",
  "\n",
  "\u0001",
  "\u007f",
];
const JSON_WS = [" ", "\t", "\n", "\r", "\r\n", "  "];
const ODD_WS = ["\f", "\v", "\u00a0", "\u2028", "\uFEFF"];
/** Bytes that mean something to a JSON scanner. */
const INTERESTING = [
  ...'"\\,:{}[]-+.eE0123456789 \t\n\ru/nlx'.split("").map((c) => c.charCodeAt(0)),
  0x00,
  0x1f,
  0x7f,
  0x80,
  0xbf,
  0xc0,
  0xc3,
  0xe2,
  0xed,
  0xef,
  0xf0,
  0xf4,
  0xf5,
  0xff,
];
const INVALID_UTF8 = [
  [0x80],
  [0xc3],
  [0xc0, 0xaf],
  [0xe0, 0x80, 0xaf],
  [0xed, 0xa0, 0x80],
  [0xf4, 0x90, 0x80, 0x80],
  [0xf0, 0x9f, 0x98],
  [0xff],
];

function base(r: Rng, index: number): Draft {
  const long = () => r.chance(0.7) ? String(r.range(1, 99_999)) : r.pick(SAFE_LONGS);
  const optional = (name: string, value: () => string): [string, string][] =>
    r.chance(0.05) ? [] : [[q(name), r.chance(0.05) ? "null" : value()]];
  const items: Member[][] = [];
  const n = r.chance(0.03) ? r.range(6, 40) : r.range(1, 5);
  for (let k = 0; k < n; k++) {
    const cents = r.chance(0.05) ? 0 : r.range(1, 99_999);
    const qty = r.range(1, 5);
    const price = r.chance(0.8) ? String(cents / 100) : (cents / 100).toFixed(r.range(2, 6));
    items.push([
      [q("order_item_id"), r.chance(0.9) ? String(index * 5 + k + 1) : long()],
      [q("order_item_product_id"), String(r.range(1, 1345))],
      [q("order_item_quantity"), String(qty)],
      [q("order_item_product_price"), price],
      [q("order_item_subtotal"), String((cents * qty) / 100)],
    ]);
  }
  return {
    top: [
      [q("order_id"), r.chance(0.8) ? String(index + 1) : long()],
      [q("customer_id"), long()],
      ...optional("customer_fname", () => q(r.pick(NAMES))),
      ...optional("customer_lname", () => q(r.pick(NAMES))),
      ...optional("city", () => q(r.pick(CITIES))),
      ...optional("state", () => q(r.pick(STATES))),
      ...optional("pincode", () => r.pick(["28601", "725", "60625", "0", "99999"])),
      [q("line_items"), items],
    ],
    spaced: false,
    details: [],
  };
}

function itemsOf(d: Draft): Member[][] | undefined {
  const e = d.top.find(([k, v]) => k === q("line_items") && typeof v !== "string");
  return e?.[1] as Member[][] | undefined;
}

/** Every member holding a value (top-level ones except line_items, and the items' ones). */
function slots(d: Draft): { path: string; member: Member }[] {
  const out: { path: string; member: Member }[] = [];
  for (const m of d.top) {
    if (typeof m[1] === "string") out.push({ path: m[0], member: m as Member });
  }
  itemsOf(d)?.forEach((it, i) => it.forEach((m) => out.push({ path: `[${i}]${m[0]}`, member: m })));
  return out;
}

function shuffle<T>(r: Rng, xs: T[]): void {
  for (let k = xs.length - 1; k > 0; k--) {
    const m = r.int(k + 1);
    [xs[k], xs[m]] = [xs[m], xs[k]];
  }
}

/** A string literal with escapes and odd characters spliced in. */
function oddString(r: Rng): string {
  let body = q(r.pick(NAMES)).slice(1, -1);
  const times = r.range(1, 3);
  for (let t = 0; t < times; t++) {
    const at = r.int(body.length + 1);
    // Never split an escape or a surrogate pair of the body.
    if (body[at - 1] === "\\" || /[\uDC00-\uDFFF]/.test(body[at] ?? "")) continue;
    const piece = r.chance(0.6) ? r.pick(ESCAPES) : r.pick(ODD_ESCAPES);
    body = body.slice(0, at) + piece + body.slice(at);
  }
  return `"${body}"`;
}

const STRUCTURAL: Record<Exclude<Mutation, "bytes">, (r: Rng, d: Draft) => void> = {
  numbers: (r, d) => {
    const numeric = slots(d).filter((s) => /^-?[0-9]/.test(s.member[1]) || s.member[1] === "null");
    if (numeric.length === 0) return;
    const s = r.pick(numeric);
    const isDouble = /price|subtotal/.test(s.path);
    const v = r.chance(0.5) ? r.pick(isDouble ? ODD_DOUBLES : ODD_LONGS) : r.pick(SAFE_LONGS);
    s.member[1] = v;
    if (/price/.test(s.path) && r.chance(0.6)) {
      // Keep the line consistent where possible: quantity 1, subtotal the same literal.
      const it = itemsOf(d)!.find((i) => i.includes(s.member))!;
      const qty = it.find((m) => m[0] === q("order_item_quantity"));
      const sub = it.find((m) => m[0] === q("order_item_subtotal"));
      if (qty) qty[1] = "1";
      if (sub) sub[1] = v;
    }
    d.details.push(`${s.path} = ${v}`);
  },
  strings: (r, d) => {
    const strings = d.top.filter(([k]) => /fname|lname|city|state/.test(k));
    if (strings.length === 0) return;
    const m = r.pick(strings);
    m[1] = oddString(r);
    d.details.push(`${m[0]} = ${m[1]}`);
  },
  whitespace: (_r, d) => {
    d.spaced = true;
    d.details.push("whitespace between tokens");
  },
  keys: (r, d) => {
    const its = itemsOf(d);
    const target: Member[] | typeof d.top = its && r.chance(0.4) ? r.pick(its) : d.top;
    const v = r.int(8);
    const where = target === d.top ? "order" : "item";
    if (v === 0) {
      shuffle(r, target as Member[]);
      d.details.push(`${where} keys shuffled`);
    } else if (v === 1) {
      const m = r.pick(target as Member[]);
      const value = typeof m[1] === "string" && r.chance(0.5) ? m[1] : r.pick(LITERALS);
      (target as Member[]).splice(r.int(target.length + 1), 0, [m[0], value]);
      d.details.push(`${where} key ${m[0]} twice (${value})`);
    } else if (v === 2) {
      const k = r.int(target.length);
      d.details.push(`${where} key ${target[k][0]} dropped`);
      target.splice(k, 1);
    } else if (v === 3) {
      const extra: Member = [
        q(r.pick(["note", "__proto__", "constructor", "", "order_id ", "Order_Id", "ü"])),
        r.pick([...LITERALS, '[{"x":[1,{"y":null}]}]', "1e400", q("\\u0000")]),
      ];
      (target as Member[]).splice(r.int(target.length + 1), 0, extra);
      d.details.push(`${where} extra ${extra[0]}: ${extra[1]}`);
    } else if (v === 4) {
      const m = r.pick(target as Member[]);
      const name = /^"[a-z_]+"$/.test(m[0]) ? m[0].slice(1, -1) : "";
      if (name === "") return;
      const at = r.int(name.length);
      const code = name.charCodeAt(at).toString(16).padStart(4, "0");
      m[0] = `"${name.slice(0, at)}\\u${code}${name.slice(at + 1)}"`;
      d.details.push(`${where} key escaped: ${m[0]}`);
    } else if (v === 5) {
      const m = r.pick(target as Member[]);
      m[0] = m[0].toUpperCase();
      d.details.push(`${where} key ${m[0]}`);
    } else if (v === 6) {
      const m = r.pick(target as Member[]);
      m[0] = `${m[0].slice(0, -1)}x"`;
      d.details.push(`${where} key ${m[0]}`);
    } else {
      const m = r.pick(target as Member[]);
      m[0] = `'${m[0].slice(1, -1)}'`;
      d.details.push(`${where} key in single quotes`);
    }
  },
  types: (r, d) => {
    const all = slots(d);
    if (all.length === 0) return;
    const s = r.pick(all);
    s.member[1] = r.pick(LITERALS);
    d.details.push(`${s.path} = ${s.member[1]}`);
  },
  items: (r, d) => {
    const e = d.top.find(([k]) => k === q("line_items"));
    const its = itemsOf(d);
    if (e === undefined || its === undefined) return;
    const v = r.int(7);
    if (v === 0) {
      e[1] = r.pick(["[]", "null", "{}", "[null]", "[1]", "[[]]", '"[]"', "[{}]"]);
      d.details.push(`line_items = ${e[1]}`);
    } else if (v === 1) {
      its.push(its[r.int(its.length)].map((m) => [...m] as Member));
      d.details.push("a line item repeated");
    } else if (v === 2) {
      const text = `[${its.map((it) => `{${it.map(([k, x]) => `${k}:${x}`).join(",")}}`)}]`;
      e[1] = r.pick([text.slice(0, -1) + ",]", text.replace("},{", "}{"), `[${text}]`, text + "]"]);
      d.details.push(`line_items = ${e[1].slice(0, 40)}`);
    } else if (v === 3) {
      its.splice(0, its.length);
      for (let k = 0; k < r.range(50, 300); k++) {
        its.push([
          [q("order_item_id"), String(k + 1)],
          [q("order_item_product_id"), "957"],
          [q("order_item_quantity"), String(r.range(1, 5))],
          [q("order_item_product_price"), "0"],
          [q("order_item_subtotal"), "0"],
        ]);
      }
      d.details.push(`${its.length} line items`);
    } else if (v === 4) {
      const it = r.pick(its);
      const qty = it.find((m) => m[0] === q("order_item_quantity"));
      if (qty === undefined) return;
      qty[1] = r.pick(["0", "-1", "-0", "9007199254740991"]);
      d.details.push(`quantity ${qty[1]}`);
    } else if (v === 5) {
      const it = r.pick(its);
      const sub = it.find((m) => m[0] === q("order_item_subtotal"));
      if (sub === undefined) return;
      const x = Number(sub[1]);
      sub[1] = String(x + r.pick([0.01, -0.01, 0.009, 0.011, 0.02, 1e-9, 0.0100000001]));
      d.details.push(`subtotal ${sub[1]}`);
    } else {
      e[0] = r.pick(['"line_items "', '"Line_items"', '"line_item"']);
      d.details.push(`line_items key ${e[0]}`);
    }
  },
};

function serialise(r: Rng, d: Draft): string {
  const sp = () =>
    !d.spaced || !r.chance(0.5) ? "" : r.chance(0.97) ? r.pick(JSON_WS) : r.pick(ODD_WS);
  const obj = (ms: [string, string | Member[][]][]): string =>
    `{${sp()}${
      ms.map(([k, v]) =>
        `${k}${sp()}:${sp()}${
          typeof v === "string"
            ? v
            : `[${sp()}${v.map((it) => obj(it)).join(`${sp()},${sp()}`)}${sp()}]`
        }`
      ).join(`${sp()},${sp()}`)
    }${sp()}}`;
  return `${sp()}${obj(d.top)}${sp()}`;
}

function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

function byteMutation(r: Rng, b: Uint8Array): { value: Uint8Array; detail: string } {
  const v = r.int(9);
  const at = r.int(b.length);
  const hex = (x: number) => `0x${x.toString(16).padStart(2, "0")}`;
  if (v === 0) {
    const x = 1 << r.int(8);
    const out = b.slice();
    out[at] ^= x;
    return { value: out, detail: `flip byte ${at} ^ ${hex(x)}` };
  }
  if (v === 1) {
    const x = r.pick(INTERESTING);
    const out = b.slice();
    out[at] = x;
    return { value: out, detail: `byte ${at} = ${hex(x)}` };
  }
  if (v === 2) {
    const x = r.pick(INTERESTING);
    return {
      value: concat(b.subarray(0, at), new Uint8Array([x]), b.subarray(at)),
      detail: `insert ${hex(x)} at ${at}`,
    };
  }
  if (v === 3) {
    const len = r.range(1, 4);
    return {
      value: concat(b.subarray(0, at), b.subarray(at + len)),
      detail: `delete ${len} at ${at}`,
    };
  }
  if (v === 4) {
    const len = r.range(1, 12);
    return {
      value: concat(b.subarray(0, at + len), b.subarray(at, at + len), b.subarray(at + len)),
      detail: `repeat ${len} at ${at}`,
    };
  }
  if (v === 5) return { value: b.slice(0, at), detail: `cut at ${at}` };
  if (v === 6) {
    const seq = new Uint8Array(r.pick(INVALID_UTF8));
    return {
      value: concat(b.subarray(0, at), seq, b.subarray(at)),
      detail: `insert ${[...seq].map(hex).join(" ")} at ${at}`,
    };
  }
  if (v === 7) {
    return { value: concat(new Uint8Array([0xef, 0xbb, 0xbf]), b), detail: "BOM prefix" };
  }
  // A digit changed into another: values change, the record usually stays valid.
  const digits = [...b.keys()].filter((i) => b[i] >= 0x30 && b[i] <= 0x39);
  if (digits.length === 0) return { value: b, detail: "no digit to change" };
  const i = r.pick(digits);
  const out = b.slice();
  out[i] = 0x30 + r.int(10);
  return { value: out, detail: `digit ${i} = ${String.fromCharCode(out[i])}` };
}

const encoder = new TextEncoder();

/** Record `index` of the sequence of `seed`. */
export function mutatedRecord(seed: number, index: number): MutatedRecord {
  const r = new Rng(seed ^ 0x5eed, index);
  const d = base(r, index);
  const kinds: Mutation[] = [];
  const count = r.chance(0.08) ? 0 : r.chance(0.7) ? 1 : r.range(2, 3);
  for (let k = 0; k < count; k++) kinds.push(r.pick(MUTATIONS));
  // Structural mutations first (in any order), byte-wise ones on the final text.
  for (const kind of kinds) if (kind !== "bytes") STRUCTURAL[kind](r, d);
  let value: Uint8Array = encoder.encode(serialise(r, d));
  for (const kind of kinds) {
    if (kind !== "bytes") continue;
    const m = byteMutation(r, value);
    value = m.value;
    d.details.push(m.detail);
  }
  return { index, kinds, detail: d.details.join("; ") || "unmutated", value };
}

/** Records `from` … `from + count − 1` of the sequence of `seed`. */
export function* mutatedRecords(
  seed: number,
  count: number,
  from = 0,
): Generator<MutatedRecord> {
  for (let i = from; i < from + count; i++) yield mutatedRecord(seed, i);
}

if (import.meta.main) {
  const flag = (name: string) => {
    const i = Deno.args.indexOf(`--${name}`);
    return i >= 0 ? Deno.args[i + 1] : undefined;
  };
  const seed = Number(flag("seed") ?? 1);
  const count = Number(flag("count") ?? 10);
  for (const rec of mutatedRecords(seed, count, Number(flag("from") ?? 0))) {
    console.log(JSON.stringify({
      index: rec.index,
      kinds: rec.kinds,
      detail: rec.detail,
      value: showBytes(rec.value),
    }));
  }
}
