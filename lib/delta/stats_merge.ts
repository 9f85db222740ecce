/**
 * The stats of a file made by concatenating other files' rows (compaction), from their
 * `add.stats` alone: numRecords and nullCount are summed, minValues/maxValues take the least and
 * the greatest, compared by the column's Delta type (integers and decimals exactly, from their
 * digits; strings by code point, as UTF-8 bytes order; dates and timestamps by their text, which
 * has one fixed width). The winning value's text is kept as written.
 *
 * A bound is kept only when every input speaks for it: each file either has the bound or holds
 * only nulls in that column (nullCount = numRecords). A nullCount is kept only when every file
 * has it. So a column one writer did not index, or whose bound it dropped (NaN), gets none.
 * `tightBounds: false` in any input carries over. No usable stats in an input (absent, not JSON,
 * no numRecords) → undefined: the caller computes them from the rows.
 *
 * @module
 */
import { type DeltaType, parseDecimal, type StructType } from "./schema.ts";

/** A stats node: a leaf's JSON text, or an object's members. */
type Node = string | Map<string, Node>;

interface Parsed {
  numRecords: bigint;
  min?: Map<string, Node>;
  max?: Map<string, Node>;
  nulls?: Map<string, Node>;
  tight?: string;
}

/**
 * Merged `add.stats` of files whose rows are concatenated, or undefined when an input has none
 * usable.
 *
 * @example
 * ```ts
 * import { mergeStats } from "./stats_merge.ts";
 * import type { StructType } from "./schema.ts";
 * const schema: StructType = { type: "struct", fields: [{ name: "id", type: "long", nullable: true, metadata: {} }] };
 * mergeStats([
 *   '{"numRecords":2,"minValues":{"id":5},"maxValues":{"id":9},"nullCount":{"id":0}}',
 *   '{"numRecords":1,"minValues":{"id":1},"maxValues":{"id":3},"nullCount":{"id":1}}',
 * ], schema); // {"numRecords":3,"minValues":{"id":1},"maxValues":{"id":9},"nullCount":{"id":1}}
 * ```
 */
export function mergeStats(
  inputs: readonly (string | null | undefined)[],
  schema: StructType,
): string | undefined {
  const parsed: Parsed[] = [];
  for (const text of inputs) {
    const p = typeof text === "string" ? parseStats(text) : undefined;
    if (!p) return undefined;
    parsed.push(p);
  }
  if (parsed.length === 0) return undefined;
  const numRecords = parsed.reduce((n, p) => n + p.numRecords, 0n);
  const nulls = mergeNulls(parsed.map((p) => p.nulls));
  const min = mergeBounds(parsed, "min", schema);
  const max = mergeBounds(parsed, "max", schema);
  let out = `{"numRecords":${numRecords}`;
  if (min && min.size) out += `,"minValues":${render(min)}`;
  if (max && max.size) out += `,"maxValues":${render(max)}`;
  if (nulls && nulls.size) out += `,"nullCount":${render(nulls)}`;
  if (parsed.some((p) => p.tight === "false")) out += `,"tightBounds":false`;
  return out + "}";
}

function parseStats(text: string): Parsed | undefined {
  let root: Node;
  try {
    root = new RawJson(text).value();
  } catch {
    return undefined;
  }
  if (!(root instanceof Map)) return undefined;
  const n = root.get("numRecords");
  if (typeof n !== "string" || !/^\d+$/.test(n)) return undefined;
  const obj = (k: string) => {
    const v = root.get(k);
    return v instanceof Map ? v : undefined;
  };
  const tight = root.get("tightBounds");
  return {
    numRecords: BigInt(n),
    min: obj("minValues"),
    max: obj("maxValues"),
    nulls: obj("nullCount"),
    tight: typeof tight === "string" ? tight : undefined,
  };
}

/** Sums nullCount trees; a path missing from any input is dropped. */
function mergeNulls(trees: (Map<string, Node> | undefined)[]): Map<string, Node> | undefined {
  if (trees.some((t) => t === undefined)) return undefined;
  const first = trees[0]!;
  const out = new Map<string, Node>();
  for (const [k, v] of first) {
    const vs = trees.map((t) => t!.get(k));
    if (typeof v === "string") {
      if (!vs.every((x) => typeof x === "string" && /^\d+$/.test(x))) continue;
      out.set(k, String(vs.reduce((n, x) => n + BigInt(x as string), 0n)));
    } else {
      if (!vs.every((x) => x instanceof Map)) continue;
      const sub = mergeNulls(vs as Map<string, Node>[]);
      if (sub && sub.size) out.set(k, sub);
    }
  }
  return out;
}

function mergeBounds(
  parsed: Parsed[],
  side: "min" | "max",
  schema: StructType,
): Map<string, Node> {
  const walk = (
    type: StructType,
    trees: (Map<string, Node> | undefined)[],
    nullTrees: (Map<string, Node> | undefined)[],
  ): Map<string, Node> => {
    const out = new Map<string, Node>();
    // In schema order, as computeStats writes them.
    for (const field of type.fields) {
      const k = field.name;
      if (!trees.some((t) => t?.has(k))) continue;
      const sub = trees.map((t) => t?.get(k));
      const subNulls = nullTrees.map((t) => t?.get(k));
      if (typeof field.type !== "string" && field.type.type === "struct") {
        if (sub.some((x) => x !== undefined && !(x instanceof Map))) continue;
        const m = walk(
          field.type,
          sub as (Map<string, Node> | undefined)[],
          subNulls.map((x) => (x instanceof Map ? x : undefined)),
        );
        if (m.size) out.set(k, m);
        continue;
      }
      let best: string | undefined;
      let ok = true;
      for (let i = 0; i < parsed.length; i++) {
        const v = sub[i];
        if (typeof v === "string") {
          if (best === undefined || better(v, best, field.type, side)) best = v;
          continue;
        }
        // No bound: fine only when that file's column is all null.
        const n = subNulls[i];
        if (!(typeof n === "string" && BigInt(n) === parsed[i].numRecords)) {
          ok = false;
          break;
        }
      }
      if (ok && best !== undefined) out.set(k, best);
    }
    return out;
  };
  return walk(
    schema,
    parsed.map((p) => p[side]),
    parsed.map((p) => p.nulls),
  );
}

/** Whether `a` is a better `side` bound than `b` for a column of `type`. */
function better(a: string, b: string, type: DeltaType, side: "min" | "max"): boolean {
  const c = compare(a, b, type);
  return side === "min" ? c < 0 : c > 0;
}

function compare(a: string, b: string, type: DeltaType): number {
  if (typeof type === "string") {
    switch (type) {
      case "byte":
      case "short":
      case "integer":
      case "long":
        if (/^-?\d+$/.test(a) && /^-?\d+$/.test(b)) return cmpBig(BigInt(a), BigInt(b));
        return Number(a) - Number(b);
      case "float":
      case "double":
        return Number(a) - Number(b);
      case "string":
      case "date":
      case "timestamp":
      case "timestamp_ntz":
        return cmpCodePoints(JSON.parse(a), JSON.parse(b));
    }
    const d = parseDecimal(type);
    if (d) return cmpDecimal(a, b, d.scale);
  }
  return 0;
}

function cmpBig(a: bigint, b: bigint): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Decimal texts compared exactly at `scale` digits (a bound written with an exponent: as a double). */
function cmpDecimal(a: string, b: string, scale: number): number {
  const exact = (s: string): bigint | undefined => {
    const m = /^(-?)(\d+)(?:\.(\d+))?$/.exec(s);
    if (!m) return undefined;
    const frac = (m[3] ?? "").padEnd(scale, "0");
    if (frac.length > scale) return undefined;
    const v = BigInt(m[2] + frac);
    return m[1] ? -v : v;
  };
  const x = exact(a);
  const y = exact(b);
  if (x !== undefined && y !== undefined) return cmpBig(x, y);
  return Number(a) - Number(b);
}

/** Code point order (= UTF-8 byte order), unlike `<` on UTF-16 code units. */
function cmpCodePoints(a: string, b: string): number {
  const ia = a[Symbol.iterator]();
  const ib = b[Symbol.iterator]();
  for (;;) {
    const x = ia.next();
    const y = ib.next();
    if (x.done || y.done) return x.done ? (y.done ? 0 : -1) : 1;
    const d = x.value.codePointAt(0)! - y.value.codePointAt(0)!;
    if (d !== 0) return d;
  }
}

function render(m: Map<string, Node>): string {
  const parts: string[] = [];
  for (const [k, v] of m) {
    parts.push(`${JSON.stringify(k)}:${typeof v === "string" ? v : render(v)}`);
  }
  return `{${parts.join(",")}}`;
}

/** A JSON reader that keeps every scalar's text as written (exact digits of longs, decimals). */
class RawJson {
  private i = 0;
  constructor(private s: string) {}

  value(): Node {
    const v = this.any();
    this.ws();
    if (this.i !== this.s.length) throw new SyntaxError("trailing text");
    return v;
  }

  private ws(): void {
    while (this.i < this.s.length && " \t\n\r".includes(this.s[this.i])) this.i++;
  }

  private any(): Node {
    this.ws();
    const c = this.s[this.i];
    if (c === "{") return this.object();
    if (c === "[") throw new SyntaxError("arrays are not stats");
    const start = this.i;
    if (c === '"') {
      this.i++;
      while (this.i < this.s.length && this.s[this.i] !== '"') {
        if (this.s[this.i] === "\\") this.i++;
        this.i++;
      }
      if (this.i >= this.s.length) throw new SyntaxError("unterminated string");
      this.i++;
    } else {
      while (this.i < this.s.length && !",}] \t\n\r".includes(this.s[this.i])) this.i++;
    }
    const text = this.s.slice(start, this.i);
    JSON.parse(text); // a valid scalar, or a SyntaxError
    return text;
  }

  private object(): Map<string, Node> {
    const out = new Map<string, Node>();
    this.i++;
    this.ws();
    if (this.s[this.i] === "}") {
      this.i++;
      return out;
    }
    for (;;) {
      const key = this.any();
      if (typeof key !== "string" || !key.startsWith('"')) throw new SyntaxError("bad key");
      this.ws();
      if (this.s[this.i++] !== ":") throw new SyntaxError("expected ':'");
      out.set(JSON.parse(key), this.any());
      this.ws();
      const c = this.s[this.i++];
      if (c === "}") return out;
      if (c !== ",") throw new SyntaxError("expected ',' or '}'");
    }
  }
}
