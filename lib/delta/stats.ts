/**
 * Per-file statistics for Delta `add.stats`, computed from the Arrow columns in JavaScript (never
 * from Parquet footers): `numRecords`, `minValues`, `maxValues`, `nullCount`.
 *
 * Rules (as Spark collects them): min/max only for numeric, decimal, date, timestamp and string
 * columns; never for boolean, binary, arrays or maps; nested structs mirror the schema; nullCount
 * for every indexed leaf (an array/map counts null arrays/maps; a null parent struct makes its
 * children null). Only the first `delta.dataSkippingNumIndexedCols` (default 32) leaf columns, or
 * the columns of `delta.dataSkippingStatsColumns`, get stats. Strings: min is the first 32 code
 * points; a longer max becomes its 32-code-point prefix plus U+007F when the next code point is
 * below U+007F, otherwise it is omitted. Timestamps: UTC truncated down to milliseconds,
 * `YYYY-MM-DDTHH:MM:SS.mmmZ` (timestamp_ntz without `Z`). Longs and decimals are written from
 * their exact digits. NaN/±Infinity in a float column drop that column's min/max for the file.
 * A column whose values are all null gets nullCount only.
 *
 * @module
 */
import * as arrow from "apache-arrow";
import { type DeltaType, parseDecimal, type StructType } from "./schema.ts";

/** Options for {@link computeStats}. */
export interface StatsOptions {
  /** `delta.dataSkippingNumIndexedCols`: leaf columns with stats, -1 for all (default 32). */
  numIndexedCols?: number;
  /** `delta.dataSkippingStatsColumns`: explicit column list (dotted paths); overrides numIndexedCols. */
  statsColumns?: string[];
  /** Partition columns: never part of file stats (and not counted). */
  partitionColumns?: string[];
}

/** Characters of a string stat prefix (Spark's `delta.dataSkippingStringPrefixLength` default). */
export const STRING_PREFIX_LENGTH = 32;

/**
 * Read the stats options from a table's `configuration` map.
 *
 * @example
 * ```ts
 * import { statsOptionsFromConfiguration } from "./stats.ts";
 * statsOptionsFromConfiguration({ "delta.dataSkippingNumIndexedCols": "5" }); // { numIndexedCols: 5 }
 * ```
 */
export function statsOptionsFromConfiguration(
  configuration: Record<string, string | null | undefined>,
): StatsOptions {
  const out: StatsOptions = {};
  const n = configuration["delta.dataSkippingNumIndexedCols"];
  if (n !== undefined && n !== null && n.trim() !== "") {
    const v = Number(n);
    if (Number.isInteger(v) && v >= -1) out.numIndexedCols = v;
  }
  const cols = configuration["delta.dataSkippingStatsColumns"];
  if (cols !== undefined && cols !== null && cols.trim() !== "") {
    out.statsColumns = splitTopLevel(cols, ",").map((c) => c.trim()).filter((c) => c.length > 0);
  }
  return out;
}

function splitTopLevel(s: string, sep: string): string[] {
  const out: string[] = [];
  let cur = "";
  let quoted = false;
  for (const ch of s) {
    if (ch === "`") quoted = !quoted;
    if (ch === sep && !quoted) {
      out.push(cur);
      cur = "";
    } else cur += ch;
  }
  out.push(cur);
  return out;
}

/** Split a dotted column path (backticks quote a part, as in `delta.dataSkippingStatsColumns`). */
export function parseColumnPath(name: string): string[] {
  return splitTopLevel(name, ".").map((p) =>
    p.trim().replace(/^`(.*)`$/, "$1").replace(/``/g, "`")
  );
}

/** A node of the stats tree: JSON text for a leaf, or a nested object. */
type Node = string | Map<string, Node>;

interface Acc {
  min: Map<string, Node>;
  max: Map<string, Node>;
  nulls: Map<string, Node>;
}

/** What is collected for one field: a leaf's running stats, or a struct's children. */
type Plan =
  | { name: string; index: number; stats: LeafStats }
  | { name: string; index: number; children: Plan[] };

/**
 * Compute the `add.stats` JSON string for one data file's rows.
 *
 * `table` holds the file's columns (named as in `schema`; columns of the schema missing from the
 * table, e.g. partition columns, are skipped and not counted).
 *
 * @example
 * ```ts
 * import * as arrow from "apache-arrow";
 * import { toDeltaSchema } from "./schema.ts";
 * import { computeStats } from "./stats.ts";
 * const t = arrow.tableFromArrays({ id: new BigInt64Array([3n, 1n]) });
 * computeStats(t, toDeltaSchema(t.schema)); // {"numRecords":2,"minValues":{"id":1},"maxValues":{"id":3},"nullCount":{"id":0}}
 * ```
 */
export function computeStats(
  table: arrow.Table,
  schema: StructType,
  opts: StatsOptions = {},
): string {
  const collector = new StatsCollector(schema, opts);
  collector.add(table);
  return collector.json();
}

/**
 * The stats of one data file whose rows arrive in parts (compaction writes a file from many):
 * {@link computeStats} of all the parts together, without holding them. Every part has the
 * first part's columns.
 *
 * @example
 * ```ts
 * import * as arrow from "apache-arrow";
 * import { toDeltaSchema } from "./schema.ts";
 * import { StatsCollector } from "./stats.ts";
 * const a = arrow.tableFromArrays({ id: new BigInt64Array([3n]) });
 * const c = new StatsCollector(toDeltaSchema(a.schema));
 * c.add(a);
 * c.add(arrow.tableFromArrays({ id: new BigInt64Array([1n]) }));
 * c.json(); // {"numRecords":2,"minValues":{"id":1},"maxValues":{"id":3},"nullCount":{"id":0}}
 * ```
 */
export class StatsCollector {
  #plan: Plan[] | undefined;
  #rows = 0;

  constructor(private schema: StructType, private opts: StatsOptions = {}) {}

  /** Adds a part's rows. */
  add(table: arrow.Table): void {
    this.#plan ??= planFields(this.schema, table.schema, this.opts);
    this.#rows += table.numRows;
    for (const batch of table.batches) {
      for (const p of this.#plan) collect(p, [batch.data.children[p.index]]);
    }
  }

  /** The `add.stats` JSON of every row added so far. */
  json(): string {
    const acc: Acc = { min: new Map(), max: new Map(), nulls: new Map() };
    for (const p of this.#plan ?? []) renderPlan(p, acc);
    let out = `{"numRecords":${this.#rows}`;
    if (acc.min.size) out += `,"minValues":${render(acc.min)}`;
    if (acc.max.size) out += `,"maxValues":${render(acc.max)}`;
    out += `,"nullCount":${render(acc.nulls)}}`;
    return out;
  }
}

/** The fields that get stats (indexed leaves, in schema order), located in the Arrow schema. */
function planFields(schema: StructType, arrowSchema: arrow.Schema, opts: StatsOptions): Plan[] {
  const parts = new Set(opts.partitionColumns ?? []);
  const present = new Map(arrowSchema.fields.map((f, i) => [f.name, i]));
  const wanted = opts.statsColumns?.map((c) => parseColumnPath(c).map((p) => p.toLowerCase()));
  let budget = opts.numIndexedCols ?? 32;
  if (budget < 0) budget = Number.POSITIVE_INFINITY;
  const selected = (path: string[]): boolean => {
    if (wanted) {
      const lower = path.map((p) => p.toLowerCase());
      return wanted.some((w) => w.length <= lower.length && w.every((p, i) => p === lower[i]));
    }
    if (budget <= 0) return false;
    budget--;
    return true;
  };
  const plan = (
    name: string,
    type: DeltaType,
    path: string[],
    index: number,
    arrowType: arrow.DataType,
  ): Plan | undefined => {
    if (typeof type !== "string" && type.type === "struct") {
      const children: Plan[] = [];
      const arrowChildren = (arrowType as arrow.Struct).children ?? [];
      for (const f of type.fields) {
        const i = arrowChildren.findIndex((c) => c.name === f.name);
        if (i < 0) continue;
        const c = plan(f.name, f.type, [...path, f.name], i, arrowChildren[i].type);
        if (c) children.push(c);
      }
      return { name, index, children };
    }
    if (!selected(path)) return undefined;
    return { name, index, stats: new LeafStats(type) };
  };
  const out: Plan[] = [];
  for (const field of schema.fields) {
    if (parts.has(field.name)) continue;
    const idx = present.get(field.name);
    if (idx === undefined) continue;
    const p = plan(field.name, field.type, [field.name], idx, arrowSchema.fields[idx].type);
    if (p) out.push(p);
  }
  return out;
}

/** Adds one batch's data to a plan; `chain` runs from the top-level column down to `p`'s data. */
function collect(p: Plan, chain: arrow.Data[]): void {
  if ("stats" in p) {
    p.stats.add(chain);
    return;
  }
  const leaf = chain[chain.length - 1];
  for (const c of p.children) collect(c, [...chain, leaf.children[c.index]]);
}

function renderPlan(p: Plan, acc: Acc): void {
  if ("children" in p) {
    const sub: Acc = {
      min: childMap(acc.min, p.name),
      max: childMap(acc.max, p.name),
      nulls: childMap(acc.nulls, p.name),
    };
    for (const c of p.children) renderPlan(c, sub);
    pruneEmpty(acc.min, p.name);
    pruneEmpty(acc.max, p.name);
    pruneEmpty(acc.nulls, p.name);
    return;
  }
  acc.nulls.set(p.name, String(p.stats.nullCount));
  if (p.stats.hasMinMax()) {
    const max = p.stats.maxText() ?? "";
    acc.min.set(p.name, p.stats.minText());
    if (max !== "") acc.max.set(p.name, max);
  }
}

function render(m: Map<string, Node>): string {
  const parts: string[] = [];
  for (const [k, v] of m) {
    const text = typeof v === "string" ? v : render(v);
    parts.push(`${JSON.stringify(k)}:${text}`);
  }
  return `{${parts.join(",")}}`;
}

function childMap(m: Map<string, Node>, name: string): Map<string, Node> {
  let c = m.get(name);
  if (!(c instanceof Map)) {
    c = new Map();
    m.set(name, c);
  }
  return c;
}

function pruneEmpty(m: Map<string, Node>, name: string): void {
  const c = m.get(name);
  if (c instanceof Map && c.size === 0) m.delete(name);
}

/** Build a byte-per-row validity mask (1 = valid) from a chain of Data, or null if all valid. */
function validity(chain: arrow.Data[]): Uint8Array | null {
  const len = chain[chain.length - 1].length;
  let mask: Uint8Array | null = null;
  for (const d of chain) {
    if (d.typeId === arrow.Type.Null) return new Uint8Array(len);
    if (!d.nullBitmap || d.nullCount === 0) continue;
    if (!mask) mask = new Uint8Array(len).fill(1);
    const bm = d.nullBitmap;
    const off = d.offset;
    for (let i = 0; i < len; i++) {
      const pos = off + i;
      if (((bm[pos >> 3] >> (pos & 7)) & 1) === 0) mask[i] = 0;
    }
  }
  return mask;
}

type Kind =
  | "int"
  | "float"
  | "float32"
  | "bigint"
  | "decimal"
  | "date"
  | "ts"
  | "tsntz"
  | "string"
  | "none";

function kindOf(t: DeltaType): Kind {
  if (typeof t !== "string") return "none";
  switch (t) {
    case "byte":
    case "short":
    case "integer":
      return "int";
    case "long":
      return "bigint";
    case "double":
      return "float";
    case "float":
      return "float32";
    case "date":
      return "date";
    case "timestamp":
      return "ts";
    case "timestamp_ntz":
      return "tsntz";
    case "string":
      return "string";
    default:
      return parseDecimal(t) ? "decimal" : "none";
  }
}

const utf8 = new TextDecoder();

/** Accumulates null count and min/max for one leaf column over record batches. */
class LeafStats {
  nullCount = 0;
  private kind: Kind;
  private scale = 0;
  private precision = 0;
  private seen = false;
  private poisoned = false;
  private minN = 0;
  private maxN = 0;
  private minB = 0n;
  private maxB = 0n;
  private minS: Uint8Array | null = null;
  private maxS: Uint8Array | null = null;

  constructor(type: DeltaType) {
    this.kind = kindOf(type);
    if (this.kind === "decimal") {
      const d = parseDecimal(type as string)!;
      this.scale = d.scale;
      this.precision = d.precision;
    }
  }

  add(chain: arrow.Data[]): void {
    const data = chain[chain.length - 1];
    const len = data.length;
    const mask = validity(chain);
    let nulls = 0;
    if (mask) { for (let i = 0; i < len; i++) nulls += mask[i] ^ 1; }
    this.nullCount += nulls;
    if (this.kind === "none" || this.poisoned || nulls === len) return;
    const t = data.type;
    switch (this.kind) {
      case "int":
      case "date": {
        if (!(arrow.DataType.isInt(t) || arrow.DataType.isDate(t))) break;
        if (arrow.DataType.isDate(t) && t.unit !== arrow.DateUnit.DAY) return this.poison();
        if (arrow.DataType.isInt(t) && t.bitWidth === 64) return this.poison();
        this.numeric(data.values as Int32Array, mask, len, false);
        return;
      }
      case "float":
      case "float32":
        if (!arrow.DataType.isFloat(t) || t.precision === arrow.Precision.HALF) {
          return this.poison();
        }
        this.numeric(data.values as Float64Array, mask, len, true);
        return;
      case "bigint":
      case "ts":
      case "tsntz": {
        if (arrow.DataType.isTimestamp(t) && t.unit !== arrow.TimeUnit.MICROSECOND) {
          return this.poison();
        }
        if (!(arrow.DataType.isTimestamp(t) || (arrow.DataType.isInt(t) && t.bitWidth === 64))) {
          return this.poison();
        }
        this.bigints(data.values as BigInt64Array, mask, len);
        return;
      }
      case "decimal":
        if (!arrow.DataType.isDecimal(t) || t.bitWidth !== 128) return this.poison();
        this.decimals(data.values as Uint32Array, mask, len);
        return;
      case "string":
        if (!arrow.DataType.isUtf8(t)) return this.poison();
        this.strings(data.values as Uint8Array, data.valueOffsets as Int32Array, mask, len);
        return;
    }
    this.poison();
  }

  private poison(): void {
    this.poisoned = true;
  }

  private numeric(
    v: Int32Array | Float64Array,
    mask: Uint8Array | null,
    len: number,
    isFloat: boolean,
  ): void {
    let lo = Number.POSITIVE_INFINITY;
    let hi = Number.NEGATIVE_INFINITY;
    let any = false;
    for (let i = 0; i < len; i++) {
      if (mask && mask[i] === 0) continue;
      const x = v[i];
      if (x < lo) lo = x;
      if (x > hi) hi = x;
      any = true;
      if (isFloat && !Number.isFinite(x)) return this.poison();
    }
    if (!any) return;
    if (!this.seen) {
      this.minN = lo;
      this.maxN = hi;
      this.seen = true;
    } else {
      if (lo < this.minN) this.minN = lo;
      if (hi > this.maxN) this.maxN = hi;
    }
  }

  private bigints(v: BigInt64Array, mask: Uint8Array | null, len: number): void {
    let lo = 0n;
    let hi = 0n;
    let any = false;
    for (let i = 0; i < len; i++) {
      if (mask && mask[i] === 0) continue;
      const x = v[i];
      if (!any) {
        lo = x;
        hi = x;
        any = true;
      } else if (x < lo) lo = x;
      else if (x > hi) hi = x;
    }
    if (any) this.mergeBig(lo, hi);
  }

  private mergeBig(lo: bigint, hi: bigint): void {
    if (!this.seen) {
      this.minB = lo;
      this.maxB = hi;
      this.seen = true;
    } else {
      if (lo < this.minB) this.minB = lo;
      if (hi > this.maxB) this.maxB = hi;
    }
  }

  private decimals(words: Uint32Array, mask: Uint8Array | null, len: number): void {
    if (this.precision <= 18 && words.byteOffset % 8 === 0) {
      // The value fits in the low 64 bits (two's complement), little-endian.
      const v = new BigInt64Array(words.buffer, words.byteOffset, len * 2);
      let lo = 0n;
      let hi = 0n;
      let any = false;
      for (let i = 0; i < len; i++) {
        if (mask && mask[i] === 0) continue;
        const x = v[2 * i];
        if (!any) {
          lo = x;
          hi = x;
          any = true;
        } else if (x < lo) lo = x;
        else if (x > hi) hi = x;
      }
      if (any) this.mergeBig(lo, hi);
      return;
    }
    let lo = 0n;
    let hi = 0n;
    let any = false;
    for (let i = 0; i < len; i++) {
      if (mask && mask[i] === 0) continue;
      const x = int128(words, i);
      if (!any) {
        lo = x;
        hi = x;
        any = true;
      } else if (x < lo) lo = x;
      else if (x > hi) hi = x;
    }
    if (any) this.mergeBig(lo, hi);
  }

  private strings(bytes: Uint8Array, offsets: Int32Array, mask: Uint8Array | null, len: number) {
    let loI = -1;
    let hiI = -1;
    for (let i = 0; i < len; i++) {
      if (mask && mask[i] === 0) continue;
      if (loI < 0) {
        loI = hiI = i;
        continue;
      }
      if (cmpBytes(bytes, offsets[i], offsets[i + 1], offsets[loI], offsets[loI + 1]) < 0) loI = i;
      else if (cmpBytes(bytes, offsets[i], offsets[i + 1], offsets[hiI], offsets[hiI + 1]) > 0) {
        hiI = i;
      }
    }
    if (loI < 0) return;
    const lo = bytes.slice(offsets[loI], offsets[loI + 1]);
    const hi = bytes.slice(offsets[hiI], offsets[hiI + 1]);
    if (!this.seen) {
      this.minS = lo;
      this.maxS = hi;
      this.seen = true;
    } else {
      if (cmpBytes2(lo, this.minS!) < 0) this.minS = lo;
      if (cmpBytes2(hi, this.maxS!) > 0) this.maxS = hi;
    }
  }

  hasMinMax(): boolean {
    return this.seen && !this.poisoned && this.kind !== "none";
  }

  minText(): string {
    return this.text(true)!;
  }

  /** JSON text of the max, or undefined when it must be omitted (long strings). */
  maxText(): string | undefined {
    return this.text(false);
  }

  private text(isMin: boolean): string | undefined {
    switch (this.kind) {
      case "int":
        return String(isMin ? this.minN : this.maxN);
      case "float":
        return String(isMin ? this.minN : this.maxN);
      case "float32":
        return float32Text(isMin ? this.minN : this.maxN);
      case "date":
        return JSON.stringify(formatDate(isMin ? this.minN : this.maxN));
      case "bigint":
        return (isMin ? this.minB : this.maxB).toString();
      case "decimal":
        return decimalText(isMin ? this.minB : this.maxB, this.scale);
      case "ts":
      case "tsntz": {
        const iso = formatTimestampMillis(isMin ? this.minB : this.maxB);
        return JSON.stringify(this.kind === "ts" ? iso : iso.slice(0, -1));
      }
      case "string": {
        const s = utf8.decode(isMin ? this.minS! : this.maxS!);
        const cps = Array.from(s);
        if (cps.length <= STRING_PREFIX_LENGTH) return JSON.stringify(s);
        const prefix = cps.slice(0, STRING_PREFIX_LENGTH).join("");
        if (isMin) return JSON.stringify(prefix);
        const next = cps[STRING_PREFIX_LENGTH].codePointAt(0)!;
        return next < 0x7f ? JSON.stringify(prefix + "\u007f") : undefined;
      }
      default:
        return undefined;
    }
  }
}

function int128(words: Uint32Array, i: number): bigint {
  const b = 4 * i;
  const u = (BigInt(words[b + 3]) << 96n) | (BigInt(words[b + 2]) << 64n) |
    (BigInt(words[b + 1]) << 32n) | BigInt(words[b]);
  return BigInt.asIntN(128, u);
}

function cmpBytes(b: Uint8Array, aS: number, aE: number, cS: number, cE: number): number {
  const n = Math.min(aE - aS, cE - cS);
  for (let k = 0; k < n; k++) {
    const d = b[aS + k] - b[cS + k];
    if (d !== 0) return d;
  }
  return (aE - aS) - (cE - cS);
}

function cmpBytes2(a: Uint8Array, c: Uint8Array): number {
  const n = Math.min(a.length, c.length);
  for (let k = 0; k < n; k++) {
    const d = a[k] - c[k];
    if (d !== 0) return d;
  }
  return a.length - c.length;
}

/** Shortest decimal text that reads back as the same float32. */
function float32Text(v: number): string {
  if (Number.isInteger(v)) return String(v);
  for (let p = 1; p <= 9; p++) {
    const s = v.toPrecision(p);
    if (Math.fround(Number(s)) === v) return String(Number(s));
  }
  return String(v);
}

/** Format an unscaled decimal as JSON number text with `scale` fraction digits. */
export function decimalText(unscaled: bigint, scale: number): string {
  const neg = unscaled < 0n;
  let digits = (neg ? -unscaled : unscaled).toString();
  if (scale > 0) {
    digits = digits.padStart(scale + 1, "0");
    digits = `${digits.slice(0, -scale)}.${digits.slice(-scale)}`;
  }
  return neg ? `-${digits}` : digits;
}

/** Format days since epoch as `YYYY-MM-DD`. */
export function formatDate(days: number): string {
  return new Date(days * 86_400_000).toISOString().slice(0, 10);
}

/** Format µs since epoch as ISO UTC truncated down to milliseconds: `YYYY-MM-DDTHH:MM:SS.mmmZ`. */
export function formatTimestampMillis(micros: bigint): string {
  let ms = micros / 1000n;
  if (micros % 1000n !== 0n && micros < 0n) ms -= 1n;
  return new Date(Number(ms)).toISOString();
}
