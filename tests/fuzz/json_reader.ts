/**
 * The fuzz oracle's own reader of record bytes: a strict UTF-8 check and a JSON parser over the
 * bytes, both written for the oracle (no TextDecoder, no JSON.parse), so the oracle does not share
 * a decoder or a parser with lib/orders/validate.ts.
 *
 * - UTF-8: the well-formed byte sequences of Unicode §3.9 table 3-7 (no overlongs, no surrogates,
 *   nothing above U+10FFFF, no truncated sequence). This is what a fatal WHATWG decoder accepts.
 * - JSON: RFC 8259 as ECMAScript's `JSON.parse` reads it: whitespace is only space, tab, LF and
 *   CR (not U+FEFF, not U+00A0); `\uXXXX` escapes may leave lone surrogates in a string; a
 *   repeated object key keeps its last value (as `JSON.parse` does).
 * - Numbers keep their source text ({@link JNumber}); the oracle decides what they mean.
 * - Iterative (an explicit stack), so any nesting depth parses; the deepest level is reported.
 * - Strings are checked while reading and decoded only when used ({@link JString}).
 *
 * @module
 */

/** A JSON number with its exact source text. */
export class JNumber {
  constructor(readonly src: string) {}
}

/**
 * A JSON string, decoded on first use (a record may hold megabytes of text the rules never read).
 */
export class JString {
  #text?: string;
  constructor(readonly bytes: Uint8Array, readonly start: number, readonly end: number) {}
  /** The decoded string (escapes resolved; lone surrogates kept, as `JSON.parse` does). */
  get value(): string {
    return this.#text ??= decodeString(this.bytes, this.start, this.end);
  }
}

/** A JSON object: keys in first-seen order, the last value of a repeated key. */
export class JObject {
  readonly map: Map<string, JValue> = new Map();
}

/** Any JSON value as the oracle reads it. */
export type JValue = null | boolean | JString | JNumber | JValue[] | JObject;

/** Index of the first byte that is not well-formed UTF-8, or -1 when all of it is. */
export function firstInvalidUtf8(b: Uint8Array): number {
  const n = b.length;
  let i = 0;
  while (i < n) {
    const c = b[i];
    if (c < 0x80) {
      i++;
      continue;
    }
    let need: number;
    let lo = 0x80;
    let hi = 0xbf;
    if (c >= 0xc2 && c <= 0xdf) need = 1;
    else if (c === 0xe0) [need, lo] = [2, 0xa0];
    else if ((c >= 0xe1 && c <= 0xec) || c === 0xee || c === 0xef) need = 2;
    else if (c === 0xed) [need, hi] = [2, 0x9f];
    else if (c === 0xf0) [need, lo] = [3, 0x90];
    else if (c >= 0xf1 && c <= 0xf3) need = 3;
    else if (c === 0xf4) [need, hi] = [3, 0x8f];
    else return i;
    const second = b[i + 1];
    if (second === undefined || second < lo || second > hi) return i;
    for (let k = 2; k <= need; k++) {
      const x = b[i + k];
      if (x === undefined || x < 0x80 || x > 0xbf) return i;
    }
    i += need + 1;
  }
  return -1;
}

/** Result of {@link parseJsonBytes}. */
export type ParseOutcome =
  | { ok: true; value: JValue; depth: number }
  | { ok: false; at: number; why: string };

/**
 * Containers nested deeper than this are read and checked but not kept (their parent holds an
 * empty container of the same kind): the rules look at most at root → line_items → item →
 * field value, and a 100,000-level extra field would otherwise cost 100,000 allocations.
 */
export const KEEP_DEPTH = 4;

const WS = new Uint8Array(256);
WS[0x20] =
  WS[0x09] =
  WS[0x0a] =
  WS[0x0d] =
    1;

class Fail {
  constructor(readonly at: number, readonly why: string) {}
}

/** An open container: an array or an object (with the key of the value being read). */
interface Frame {
  isArray: boolean;
  /** The container, or null when deeper than {@link KEEP_DEPTH}. */
  arr: JValue[] | null;
  obj: JObject | null;
  key: string;
}

/**
 * Parses JSON from well-formed UTF-8 bytes, starting at `start` (after a skipped BOM).
 * Never recurses; never throws.
 */
export function parseJsonBytes(b: Uint8Array, start = 0): ParseOutcome {
  try {
    return parse(b, start);
  } catch (e) {
    if (e instanceof Fail) return { ok: false, at: e.at, why: e.why };
    throw e;
  }
}

/** Index just past the closing quote of the string whose opening quote is at `i`. */
function scanString(b: Uint8Array, i: number): number {
  const n = b.length;
  i++;
  for (;;) {
    if (i >= n) throw new Fail(i, "unterminated string");
    const c = b[i];
    if (c === 0x22) return i + 1;
    if (c < 0x20) throw new Fail(i, "control character in a string");
    if (c === 0x5c) {
      const e = b[i + 1];
      if (e === 0x75) {
        for (let k = 2; k < 6; k++) if (hex(b[i + k]) < 0) throw new Fail(i + k, "bad \\u escape");
        i += 6;
      } else if (
        e === 0x22 || e === 0x5c || e === 0x2f || e === 0x62 || e === 0x66 || e === 0x6e ||
        e === 0x72 || e === 0x74
      ) i += 2;
      else throw new Fail(i, "bad escape");
    } else i++;
  }
}

const ESCAPES: Record<number, number> = {
  0x22: 0x22,
  0x5c: 0x5c,
  0x2f: 0x2f,
  0x62: 0x08,
  0x66: 0x0c,
  0x6e: 0x0a,
  0x72: 0x0d,
  0x74: 0x09,
};

/** Decodes the content bytes [s, e) of a string already checked by {@link scanString}. */
function decodeString(b: Uint8Array, s: number, e: number): string {
  // Fast path: short ASCII text without escapes (keys, names, most values).
  if (e - s <= 64) {
    let plain = true;
    for (let k = s; k < e && plain; k++) plain = b[k] < 0x80 && b[k] !== 0x5c;
    if (plain) return String.fromCharCode.apply(null, b.subarray(s, e) as unknown as number[]);
  }
  const units: number[] = [];
  let out = "";
  let i = s;
  while (i < e) {
    const c = b[i];
    if (c === 0x5c) {
      const x = b[i + 1];
      if (x === 0x75) {
        units.push(hex(b[i + 2]) * 4096 + hex(b[i + 3]) * 256 + hex(b[i + 4]) * 16 + hex(b[i + 5]));
        i += 6;
      } else {
        units.push(ESCAPES[x]);
        i += 2;
      }
    } else if (c < 0x80) {
      units.push(c);
      i++;
    } else {
      // Well-formed UTF-8 (checked before parsing): one scalar value.
      let cp: number;
      if (c < 0xe0) {
        cp = ((c & 0x1f) << 6) | (b[i + 1] & 0x3f);
        i += 2;
      } else if (c < 0xf0) {
        cp = ((c & 0x0f) << 12) | ((b[i + 1] & 0x3f) << 6) | (b[i + 2] & 0x3f);
        i += 3;
      } else {
        cp = ((c & 0x07) << 18) | ((b[i + 1] & 0x3f) << 12) | ((b[i + 2] & 0x3f) << 6) |
          (b[i + 3] & 0x3f);
        i += 4;
      }
      if (cp >= 0x10000) {
        cp -= 0x10000;
        units.push(0xd800 + (cp >> 10), 0xdc00 + (cp & 0x3ff));
      } else units.push(cp);
    }
    if (units.length >= 8192) {
      out += String.fromCharCode(...units);
      units.length = 0;
    }
  }
  return out + String.fromCharCode(...units);
}

function parse(b: Uint8Array, start: number): ParseOutcome {
  return new Parser(b, start).run();
}

/** The parser's state: position, open containers, deepest level. */
class Parser {
  i: number;
  depth = 0;
  readonly stack: Frame[] = [];
  constructor(readonly b: Uint8Array, start: number) {
    this.i = start;
  }

  skipWs(): void {
    const b = this.b;
    let i = this.i;
    while (WS[b[i]] === 1) i++;
    this.i = i;
  }

  /** Reads `"key" :` (decoding the key only when the container is kept). */
  readKey(keep: boolean): string {
    this.skipWs();
    const b = this.b;
    const s = this.i;
    if (b[s] !== 0x22) throw new Fail(s, "expected a key string");
    const e = scanString(b, s);
    const key = keep ? decodeString(b, s + 1, e - 1) : "";
    this.i = e;
    this.skipWs();
    if (b[this.i] !== 0x3a) throw new Fail(this.i, "expected ':'");
    this.i++;
    return key;
  }

  readNumber(keep: boolean): JNumber | null {
    const b = this.b;
    const s = this.i;
    let i = s;
    if (b[i] === 0x2d) i++;
    if (b[i] === 0x30) i++;
    else if (b[i] >= 0x31 && b[i] <= 0x39) { while (b[i] >= 0x30 && b[i] <= 0x39) i++; }
    else throw new Fail(i, "bad number");
    if (b[i] === 0x2e) {
      i++;
      if (!(b[i] >= 0x30 && b[i] <= 0x39)) throw new Fail(i, "bad fraction");
      while (b[i] >= 0x30 && b[i] <= 0x39) i++;
    }
    if (b[i] === 0x65 || b[i] === 0x45) {
      i++;
      if (b[i] === 0x2b || b[i] === 0x2d) i++;
      if (!(b[i] >= 0x30 && b[i] <= 0x39)) throw new Fail(i, "bad exponent");
      while (b[i] >= 0x30 && b[i] <= 0x39) i++;
    }
    this.i = i;
    if (!keep) return null;
    return new JNumber(String.fromCharCode.apply(null, b.subarray(s, i) as unknown as number[]));
  }

  literal(word: string, v: JValue): JValue {
    const i = this.i;
    for (let k = 0; k < word.length; k++) {
      if (this.b[i + k] !== word.charCodeAt(k)) throw new Fail(i, "bad literal");
    }
    this.i = i + word.length;
    return v;
  }

  open(isArray: boolean): Frame {
    const keep = this.stack.length < KEEP_DEPTH;
    const f: Frame = {
      isArray,
      arr: isArray && keep ? [] : null,
      obj: !isArray && keep ? new JObject() : null,
      key: "",
    };
    this.stack.push(f);
    if (this.stack.length > this.depth) this.depth = this.stack.length;
    return f;
  }

  run(): ParseOutcome {
    const b = this.b;
    const n = b.length;
    const stack = this.stack;
    for (;;) {
      // A value starts at i.
      this.skipWs();
      let value: JValue;
      const keep = stack.length <= KEEP_DEPTH;
      const c = b[this.i];
      if (c === 0x7b) {
        this.i++;
        this.skipWs();
        if (b[this.i] === 0x7d) {
          this.i++;
          value = new JObject();
          if (stack.length + 1 > this.depth) this.depth = stack.length + 1;
        } else {
          const f = this.open(false);
          f.key = this.readKey(f.obj !== null);
          continue;
        }
      } else if (c === 0x5b) {
        this.i++;
        this.skipWs();
        if (b[this.i] === 0x5d) {
          this.i++;
          value = [];
          if (stack.length + 1 > this.depth) this.depth = stack.length + 1;
        } else {
          this.open(true);
          continue;
        }
      } else if (c === 0x22) {
        const s = this.i;
        this.i = scanString(b, s);
        value = keep ? new JString(b, s + 1, this.i - 1) : null;
      } else if (c === 0x2d || (c >= 0x30 && c <= 0x39)) value = this.readNumber(keep);
      else if (c === 0x74) value = this.literal("true", true);
      else if (c === 0x66) value = this.literal("false", false);
      else if (c === 0x6e) value = this.literal("null", null);
      else throw new Fail(this.i, this.i >= n ? "unexpected end" : "unexpected byte");

      // The value is complete: hand it to the enclosing containers, closing them as they end.
      for (;;) {
        const top = stack[stack.length - 1];
        this.skipWs();
        if (top === undefined) {
          if (this.i !== n) throw new Fail(this.i, "data after the JSON value");
          return { ok: true, value, depth: this.depth };
        }
        const d = b[this.i];
        if (top.isArray) {
          top.arr?.push(value);
          if (d === 0x2c) {
            this.i++;
            break;
          }
          if (d !== 0x5d) throw new Fail(this.i, "expected ',' or ']'");
          this.i++;
          value = top.arr ?? [];
        } else {
          top.obj?.map.set(top.key, value);
          if (d === 0x2c) {
            this.i++;
            top.key = this.readKey(top.obj !== null);
            break;
          }
          if (d !== 0x7d) throw new Fail(this.i, "expected ',' or '}'");
          this.i++;
          value = top.obj ?? new JObject();
        }
        stack.pop();
      }
    }
  }
}

function hex(c: number | undefined): number {
  if (c === undefined) return -1;
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  if (c >= 0x61 && c <= 0x66) return c - 0x57;
  if (c >= 0x41 && c <= 0x46) return c - 0x37;
  return -1;
}
