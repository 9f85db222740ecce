/**
 * CHECK constraints (`delta.constraints.<name>` in the table configuration, writer feature
 * `checkConstraints` or legacy writer version 3+) and column invariants (`delta.invariants` in a
 * column's metadata, legacy writer version 2+): parsed from their SQL text, checked against the
 * table schema, and evaluated on the rows of a write.
 *
 * The SQL subset (anything else is refused when the table is opened for writing, with one line
 * that names the constraint and its text):
 * - literals: integers, decimals (`0.02`, exact) and `1e3` exponents (as doubles), `'strings'` (`''` and
 *   backslash escapes, or `"double quoted"`), `TRUE`, `FALSE`, `NULL`, `DATE 'yyyy-mm-dd'`,
 *   `TIMESTAMP 'yyyy-mm-dd[ hh:mm:ss[.ffffff]][zone]'` (no zone = UTC);
 * - columns: plain or `` `backticked` `` names, matched ignoring case as Spark resolves them,
 *   nested struct fields as `a.b`; primitive columns only (numbers, decimals, strings,
 *   booleans, dates, timestamps);
 * - `=` `==` `<>` `!=` `<` `<=` `>` `>=` `<=>`, `AND` `OR` `NOT` `!`, `IS [NOT] NULL`,
 *   `[NOT] IN (…)`, `[NOT] BETWEEN … AND …`, `+ - * / %`, unary minus, parentheses.
 *   Comparisons need both sides of one kind (numbers, strings, booleans, dates, timestamps); a
 *   string literal compared with a date or timestamp column is read as one.
 *
 * Three-valued logic as in SQL (`NULL AND FALSE` is false, `NULL OR TRUE` true, `x IN (1, NULL)`
 * is null unless x is 1). A row passes a constraint only when it evaluates to TRUE: FALSE **and
 * NULL** are violations, as in Delta on Spark (its `CheckDeltaInvariant` refuses a result that is
 * null or false; SQL's own CHECK would let NULL pass). Division or `%` by zero is NULL.
 * Arithmetic on longs is exact (no 64-bit overflow). Decimals are exact, as in Spark: decimal
 * columns and literals with a point (`0.02`) add, subtract, multiply, take `%` and compare
 * exactly with each other and with integers, so `subtotal = price * quantity` holds for 0.10 × 3
 * = 0.30; with a double (a float or double column, or `1e3`) they become doubles. `/` gives a
 * double. Strings compare by UTF-16 code units.
 *
 * @module
 */
import type * as arrow from "apache-arrow";
import { oneLine, UnsupportedConstraintError } from "./errors.ts";
import { type DeltaType, parseDecimal, type StructField, type StructType } from "./schema.ts";

/** The prefix of CHECK constraint keys in a table's configuration. */
export const CONSTRAINT_PREFIX = "delta.constraints.";

/** One constraint of a table, compiled against its schema. */
export interface TableConstraint {
  /** `check` (a CHECK constraint) or `invariant` (a column's `delta.invariants`). */
  kind: "check" | "invariant";
  /** The constraint's name; for an invariant, the column path. */
  name: string;
  /** Its SQL text, as stored in the table. */
  expression: string;
  /** The columns it reads, as the schema spells them (dotted for nested fields). */
  columns: string[];
  /** For one record batch: whether row `i` passes (the expression is TRUE). */
  bind(batch: arrow.RecordBatch): (row: number) => boolean;
  /** For one record batch: the values of {@link columns} in row `i`, as text. */
  values(batch: arrow.RecordBatch): (row: number) => string[];
}

/** A row that violates a constraint. */
export interface ConstraintViolation {
  /** Row index in the data checked (across its record batches). */
  row: number;
  /** The violated constraint. */
  constraint: TableConstraint;
  /** Spark's one-line description: `CHECK constraint <name> (<expr>) violated by row with values: …`. */
  message: string;
}

/**
 * The CHECK constraints and column invariants of a table, compiled against its schema (cached
 * per configuration object); throws {@link UnsupportedConstraintError} naming the first one
 * outside the subset. `table` names the table in errors.
 *
 * @example
 * ```ts
 * import { tableConstraints } from "./constraints.ts";
 * import type { StructType } from "./schema.ts";
 * const schema: StructType = {
 *   type: "struct",
 *   fields: [{ name: "quantity", type: "long", nullable: true, metadata: {} }],
 * };
 * const c = tableConstraints({ "delta.constraints.qty_positive": "quantity > 0" }, schema, "t");
 * c.map((x) => x.name); // ["qty_positive"]
 * ```
 */
export function tableConstraints(
  configuration: Record<string, string>,
  schema: StructType,
  table: string,
): TableConstraint[] {
  let bySchema = cache.get(configuration);
  if (!bySchema) cache.set(configuration, bySchema = new WeakMap());
  const hit = bySchema.get(schema);
  if (hit) return hit;
  const out: TableConstraint[] = [];
  for (const [key, text] of Object.entries(configuration)) {
    if (!key.startsWith(CONSTRAINT_PREFIX)) continue;
    out.push(compile("check", key.slice(CONSTRAINT_PREFIX.length), String(text), schema, table));
  }
  for (const inv of invariantsOf(schema)) {
    out.push(compile("invariant", inv.column, inv.expression, schema, table));
  }
  bySchema.set(schema, out);
  return out;
}
const cache = new WeakMap<object, WeakMap<StructType, TableConstraint[]>>();

/**
 * Every (row, constraint) violation in `data`, rows ascending (a row may violate several), or
 * the first `limit` of them.
 *
 * @example
 * ```ts
 * import * as arrow from "apache-arrow";
 * import { constraintViolations, tableConstraints } from "./constraints.ts";
 * import { toDeltaSchema } from "./schema.ts";
 * const data = arrow.tableFromArrays({ quantity: new BigInt64Array([3n, 0n]) });
 * const c = tableConstraints(
 *   { "delta.constraints.qty_positive": "quantity > 0" },
 *   toDeltaSchema(data.schema),
 *   "t",
 * );
 * constraintViolations(c, data).map((v) => v.row); // [1]
 * ```
 */
export function constraintViolations(
  constraints: readonly TableConstraint[],
  data: arrow.Table,
  limit = Infinity,
): ConstraintViolation[] {
  if (constraints.length === 0 || limit <= 0) return [];
  const out: ConstraintViolation[] = [];
  let base = 0;
  for (const batch of data.batches) {
    const tests = constraints.map((c) => c.bind(batch));
    for (let i = 0; i < batch.numRows; i++) {
      for (let k = 0; k < constraints.length; k++) {
        if (tests[k](i)) continue;
        const c = constraints[k];
        out.push({ row: base + i, constraint: c, message: describe(c, batch, i) });
        if (out.length >= limit) return out;
      }
    }
    base += batch.numRows;
  }
  return out;
}

/** Spark's description of a violation, on one line. */
function describe(c: TableConstraint, batch: arrow.RecordBatch, row: number): string {
  const values = c.values(batch)(row);
  const list = c.columns.map((col, i) => `${col} : ${values[i]}`).join(", ");
  return c.kind === "check"
    ? `CHECK constraint ${c.name} (${oneLine(c.expression)}) violated by row with values: ${list}`
    : `Invariant (${
      oneLine(c.expression)
    }) violated for column ${c.name} by row with values: ${list}`;
}

// ---------------------------------------------------------------------------------------------
// Invariants

/** `delta.invariants` of every column (nested ones dotted): `{"expression":{"expression":…}}`. */
function invariantsOf(schema: StructType): { column: string; expression: string }[] {
  const out: { column: string; expression: string }[] = [];
  const visit = (s: StructType, prefix: string) => {
    for (const f of s.fields) {
      const name = prefix ? `${prefix}.${f.name}` : f.name;
      const raw = f.metadata?.["delta.invariants"];
      if (raw !== undefined) {
        let expression = typeof raw === "string" ? raw : JSON.stringify(raw);
        try {
          const j = typeof raw === "string" ? JSON.parse(raw) : raw;
          if (typeof j?.expression?.expression === "string") expression = j.expression.expression;
        } catch { /* not JSON: the text itself, refused by the parser if it is not SQL */ }
        out.push({ column: name, expression });
      }
      if (typeof f.type === "object" && f.type.type === "struct") visit(f.type, name);
    }
  };
  visit(schema, "");
  return out;
}

// ---------------------------------------------------------------------------------------------
// Tokens

type Tok =
  | { t: "num"; text: string }
  | { t: "str"; v: string }
  | { t: "id"; v: string; quoted: boolean }
  | { t: "op"; v: string }
  | { t: "end" };

/** Refusal inside compilation: the reason only; {@link compile} adds the constraint. */
class Refused extends Error {}

const OPS = [
  "<=>",
  "<=",
  ">=",
  "<>",
  "!=",
  "==",
  "=",
  "<",
  ">",
  "+",
  "-",
  "*",
  "/",
  "%",
  "(",
  ")",
  ",",
  ".",
  "!",
];

function tokenize(src: string): Tok[] {
  const out: Tok[] = [];
  let i = 0;
  while (i < src.length) {
    const ch = src[i];
    if (/\s/.test(ch)) {
      i++;
      continue;
    }
    if (/[0-9]/.test(ch) || (ch === "." && /[0-9]/.test(src[i + 1] ?? ""))) {
      const m = /^(\d*\.?\d*(?:[eE][+-]?\d+)?)([A-Za-z_]*)/.exec(src.slice(i))!;
      if (m[2] && !/^[lL]$/.test(m[2])) {
        throw new Refused(`the literal '${m[0]}' (only plain numbers, or a long with L)`);
      }
      out.push({ t: "num", text: m[2] ? `${m[1]}L` : m[1] });
      i += m[0].length;
      continue;
    }
    if (ch === "'" || ch === '"') {
      let v = "";
      let j = i + 1;
      for (;;) {
        if (j >= src.length) throw new Refused("an unterminated string literal");
        const c = src[j];
        if (c === "\\" && j + 1 < src.length) {
          const e = src[j + 1];
          v += ({ n: "\n", t: "\t", r: "\r", "0": "\0", b: "\b" } as Record<string, string>)[e] ??
            e;
          j += 2;
        } else if (c === ch && src[j + 1] === ch) {
          v += ch;
          j += 2;
        } else if (c === ch) {
          j++;
          break;
        } else {
          v += c;
          j++;
        }
      }
      out.push({ t: "str", v });
      i = j;
      continue;
    }
    if (ch === "`") {
      let v = "";
      let j = i + 1;
      for (;;) {
        if (j >= src.length) throw new Refused("an unterminated `quoted` name");
        if (src[j] === "`" && src[j + 1] === "`") {
          v += "`";
          j += 2;
        } else if (src[j] === "`") {
          j++;
          break;
        } else v += src[j++];
      }
      out.push({ t: "id", v, quoted: true });
      i = j;
      continue;
    }
    if (/[A-Za-z_]/.test(ch)) {
      const m = /^[A-Za-z_][A-Za-z0-9_]*/.exec(src.slice(i))!;
      out.push({ t: "id", v: m[0], quoted: false });
      i += m[0].length;
      continue;
    }
    const op = OPS.find((o) => src.startsWith(o, i));
    if (!op) throw new Refused(`the character '${ch}'`);
    out.push({ t: "op", v: op });
    i += op.length;
  }
  out.push({ t: "end" });
  return out;
}

// ---------------------------------------------------------------------------------------------
// Syntax tree

type Cmp = "=" | "<>" | "<" | "<=" | ">" | ">=" | "<=>";
type Node =
  | { k: "lit"; v: Value; cat: Cat }
  | { k: "col"; path: string[] }
  | { k: "not"; e: Node }
  | { k: "and" | "or"; l: Node; r: Node }
  | { k: "cmp"; op: Cmp; l: Node; r: Node }
  | { k: "isnull"; e: Node; neg: boolean }
  | { k: "in"; e: Node; list: Node[]; neg: boolean }
  | { k: "between"; e: Node; lo: Node; hi: Node; neg: boolean }
  | { k: "arith"; op: "+" | "-" | "*" | "/" | "%"; l: Node; r: Node }
  | { k: "neg"; e: Node };

/**
 * Value kinds: numbers (number, bigint or an exact {@link Dec}), strings, booleans, dates (days),
 * timestamps (µs).
 */
type Cat = "num" | "str" | "bool" | "date" | "ts" | "null";
type Value = number | bigint | Dec | string | boolean | null;

/** An exact decimal: `u / 10^s` (decimal columns and literals such as `0.02`, as in Spark). */
class Dec {
  constructor(readonly u: bigint, readonly s: number) {}
  /** This value at scale `s` (≥ its own). */
  at(s: number): bigint {
    return this.u * 10n ** BigInt(s - this.s);
  }
  /** The nearest double. */
  toNumber(): number {
    return Number(decimalString(this.u, this.s));
  }
  /** Plain text with all `s` decimals, as Spark prints a decimal (`1.50`). */
  toString(): string {
    return decimalString(this.u, this.s);
  }
}

function decimalString(u: bigint, s: number): string {
  const neg = u < 0n;
  const digits = (neg ? -u : u).toString().padStart(s + 1, "0");
  const text = s === 0 ? digits : `${digits.slice(0, -s)}.${digits.slice(-s)}`;
  return neg ? `-${text}` : text;
}

/** An exact number as a Dec (integers at scale 0), or undefined for a double. */
function exact(v: number | bigint | Dec): Dec | undefined {
  if (v instanceof Dec) return v;
  if (typeof v === "bigint") return new Dec(v, 0);
  return Number.isSafeInteger(v) ? new Dec(BigInt(v), 0) : undefined;
}

/** A Dec's or a number's double. */
function toDouble(v: number | bigint | Dec): number {
  return v instanceof Dec ? v.toNumber() : Number(v);
}

/** Words that start an expression form outside the subset (refused where a value is expected). */
const FORMS_REFUSED = new Set(["CASE", "CAST", "TRY_CAST", "EXISTS", "SELECT", "INTERVAL"]);
/** Operators outside the subset (refused where an operator is expected). */
const OPERATORS_REFUSED = new Set([
  "LIKE",
  "ILIKE",
  "RLIKE",
  "REGEXP",
  "SIMILAR",
  "DIV",
  "ANY",
  "ALL",
]);

function parse(src: string): Node {
  const toks = tokenize(src);
  let p = 0;
  const peek = () => toks[p];
  const kw = (word: string, at = 0) => {
    const t = toks[p + at];
    return t.t === "id" && !t.quoted && t.v.toUpperCase() === word;
  };
  const isOp = (v: string) => {
    const t = peek();
    return t.t === "op" && t.v === v;
  };
  const show = (t: Tok) =>
    t.t === "end"
      ? "the end of the expression"
      : t.t === "num"
      ? `'${t.text}'`
      : t.t === "str"
      ? `'${t.v}'`
      : `'${t.v}'`;
  const expectOp = (v: string) => {
    if (!isOp(v)) throw new Refused(`expected '${v}' but found ${show(peek())}`);
    p++;
  };
  const unexpected = (): never => {
    const t = peek();
    const word = t.t === "id" && !t.quoted ? t.v.toUpperCase() : "";
    if (FORMS_REFUSED.has(word) || OPERATORS_REFUSED.has(word)) {
      throw new Refused(`${word} is not supported`);
    }
    throw new Refused(`unexpected ${show(t)}`);
  };

  const or = (): Node => {
    let l = and();
    while (kw("OR")) {
      p++;
      l = { k: "or", l, r: and() };
    }
    return l;
  };
  const and = (): Node => {
    let l = not();
    while (kw("AND")) {
      p++;
      l = { k: "and", l, r: not() };
    }
    return l;
  };
  const not = (): Node => {
    if (kw("NOT") || isOp("!")) {
      p++;
      return { k: "not", e: not() };
    }
    return predicate();
  };
  const predicate = (): Node => {
    const e = comparison();
    if (kw("IS")) {
      p++;
      const neg = kw("NOT");
      if (neg) p++;
      if (!kw("NULL")) throw new Refused(`IS ${neg ? "NOT " : ""}${show(peek())} is not supported`);
      p++;
      return { k: "isnull", e, neg };
    }
    const neg = kw("NOT") && (kw("IN", 1) || kw("BETWEEN", 1));
    if (neg) p++;
    if (kw("IN")) {
      p++;
      expectOp("(");
      if (kw("SELECT")) unexpected();
      const list = [or()];
      while (isOp(",")) {
        p++;
        list.push(or());
      }
      expectOp(")");
      return { k: "in", e, list, neg };
    }
    if (kw("BETWEEN")) {
      p++;
      const lo = additive();
      if (!kw("AND")) throw new Refused(`expected AND in BETWEEN but found ${show(peek())}`);
      p++;
      return { k: "between", e, lo, hi: additive(), neg };
    }
    if (neg) unexpected();
    return e;
  };
  const comparison = (): Node => {
    let l = additive();
    for (;;) {
      const t = peek();
      if (t.t !== "op" || !["=", "==", "<>", "!=", "<", "<=", ">", ">=", "<=>"].includes(t.v)) {
        return l;
      }
      p++;
      const op = (t.v === "==" ? "=" : t.v === "!=" ? "<>" : t.v) as Cmp;
      l = { k: "cmp", op, l, r: additive() };
    }
  };
  const additive = (): Node => {
    let l = multiplicative();
    while (isOp("+") || isOp("-")) {
      const op = (peek() as { v: "+" | "-" }).v;
      p++;
      l = { k: "arith", op, l, r: multiplicative() };
    }
    return l;
  };
  const multiplicative = (): Node => {
    let l = unary();
    while (isOp("*") || isOp("/") || isOp("%")) {
      const op = (peek() as { v: "*" | "/" | "%" }).v;
      p++;
      l = { k: "arith", op, l, r: unary() };
    }
    return l;
  };
  const unary = (): Node => {
    if (isOp("-")) {
      p++;
      return { k: "neg", e: unary() };
    }
    if (isOp("+")) {
      p++;
      return unary();
    }
    return primary();
  };
  const primary = (): Node => {
    const t = peek();
    if (t.t === "num") {
      p++;
      const long = t.text.endsWith("L");
      return { k: "lit", v: numberLiteral(long ? t.text.slice(0, -1) : t.text, long), cat: "num" };
    }
    if (t.t === "str") {
      p++;
      return { k: "lit", v: t.v, cat: "str" };
    }
    if (isOp("(")) {
      p++;
      if (kw("SELECT")) unexpected();
      const e = or();
      expectOp(")");
      return e;
    }
    if (t.t !== "id") return unexpected();
    const word = t.quoted ? "" : t.v.toUpperCase();
    if (word === "TRUE" || word === "FALSE") {
      p++;
      return { k: "lit", v: word === "TRUE", cat: "bool" };
    }
    if (word === "NULL") {
      p++;
      return { k: "lit", v: null, cat: "null" };
    }
    if ((word === "DATE" || word === "TIMESTAMP") && toks[p + 1].t === "str") {
      const text = (toks[p + 1] as { v: string }).v;
      p += 2;
      return word === "DATE"
        ? { k: "lit", v: parseDate(text), cat: "date" }
        : { k: "lit", v: parseTimestamp(text), cat: "ts" };
    }
    if (FORMS_REFUSED.has(word)) unexpected();
    const path = [t.v];
    p++;
    if (isOp("(")) throw new Refused(`the function call ${t.v}(…) (functions are not supported)`);
    while (isOp(".")) {
      p++;
      const n = peek();
      if (n.t !== "id") throw new Refused(`expected a field name after '.' but found ${show(n)}`);
      path.push(n.v);
      p++;
    }
    return { k: "col", path };
  };

  const tree = or();
  if (peek().t !== "end") unexpected();
  return tree;
}

function numberLiteral(text: string, long: boolean): number | bigint | Dec {
  if (/^\d+$/.test(text)) {
    const n = Number(text);
    return long || !Number.isSafeInteger(n) ? BigInt(text) : n;
  }
  if (long) throw new Refused(`the literal '${text}L'`);
  // `1.50` is an exact decimal literal in Spark SQL; `1.5e0` a double.
  const dec = /^(\d*)\.(\d*)$/.exec(text);
  if (dec) return new Dec(BigInt(`${dec[1]}${dec[2]}` || "0"), dec[2].length);
  const n = Number(text);
  if (!Number.isFinite(n)) throw new Refused(`the literal '${text}'`);
  return n;
}

/** Days since the epoch of `yyyy-mm-dd`. */
function parseDate(text: string): number {
  const m = /^\s*(\d{4})-(\d{1,2})-(\d{1,2})\s*$/.exec(text);
  const ms = m ? Date.UTC(+m[1], +m[2] - 1, +m[3]) : NaN;
  if (!m || Number.isNaN(ms) || new Date(ms).getUTCDate() !== +m[3]) {
    throw new Refused(`the date '${text}' (use DATE 'yyyy-mm-dd')`);
  }
  return ms / 86_400_000;
}

/** Microseconds since the epoch of `yyyy-mm-dd[ hh:mm:ss[.ffffff]][Z|±hh:mm]` (no zone: UTC). */
function parseTimestamp(text: string): bigint {
  const m =
    /^\s*(\d{4})-(\d{1,2})-(\d{1,2})(?:[ T](\d{1,2}):(\d{2})(?::(\d{2})(?:\.(\d{1,6}))?)?)?\s*(Z|UTC|[+-]\d{2}:?\d{2})?\s*$/i
      .exec(text);
  if (!m) {
    throw new Refused(`the timestamp '${text}' (use TIMESTAMP 'yyyy-mm-dd hh:mm:ss[.ffffff]')`);
  }
  let ms = Date.UTC(+m[1], +m[2] - 1, +m[3], +(m[4] ?? 0), +(m[5] ?? 0), +(m[6] ?? 0));
  const zone = m[8]?.toUpperCase();
  if (zone && zone !== "Z" && zone !== "UTC") {
    const z = /([+-])(\d{2}):?(\d{2})/.exec(zone)!;
    ms -= (z[1] === "-" ? -1 : 1) * (+z[2] * 60 + +z[3]) * 60_000;
  }
  if (Number.isNaN(ms)) throw new Refused(`the timestamp '${text}'`);
  return BigInt(ms) * 1000n + BigInt((m[7] ?? "").padEnd(6, "0"));
}

// ---------------------------------------------------------------------------------------------
// Compilation: resolve columns, check kinds, build evaluators

type Reader = (row: number) => Value;
type Build = (batch: arrow.RecordBatch) => Reader;
interface Typed {
  cat: Cat;
  build: Build;
  /** Set on literals (for string → date/timestamp coercion). */
  lit?: { v: Value };
}

interface ResolvedColumn {
  /** Field names from the top, as the schema spells them. */
  path: string[];
  type: DeltaType;
  cat: Cat;
}

function compile(
  kind: "check" | "invariant",
  name: string,
  expression: string,
  schema: StructType,
  table: string,
): TableConstraint {
  const columns: ResolvedColumn[] = [];
  let top: Typed;
  try {
    const tree = parse(expression);
    top = typed(tree, schema, columns);
    if (top.cat !== "bool" && top.cat !== "null") {
      throw new Refused("it is not a boolean condition");
    }
  } catch (e) {
    if (e instanceof Refused) {
      throw new UnsupportedConstraintError(
        table,
        kind === "check" ? name : `(invariant on column ${name})`,
        expression,
        e.message,
      );
    }
    throw e;
  }
  const build = top.build;
  const shown = columns.map((c) => c.path.join("."));
  return {
    kind,
    name,
    expression,
    columns: shown,
    bind(batch) {
      const r = build(batch);
      return (i) => r(i) === true;
    },
    values(batch) {
      const readers = columns.map((c) => ({ read: columnReader(c, batch), cat: c.cat, c }));
      return (i) => readers.map((r) => format(r.read(i), r.cat, r.c.type));
    },
  };
}

function numericCat(t: DeltaType): Cat | undefined {
  if (typeof t !== "string") return undefined;
  if (["long", "integer", "short", "byte", "float", "double"].includes(t)) return "num";
  if (parseDecimal(t)) return "num";
  if (t === "string") return "str";
  if (t === "boolean") return "bool";
  if (t === "date") return "date";
  if (t === "timestamp" || t === "timestamp_ntz") return "ts";
  return undefined;
}

function resolve(path: string[], schema: StructType): ResolvedColumn {
  let fields: StructType["fields"] | undefined = schema.fields;
  const out: string[] = [];
  let type: DeltaType = schema;
  for (const part of path) {
    if (!fields) {
      throw new Refused(`'${out.join(".")}' is not a struct, so '${part}' is not a field`);
    }
    const matches: StructField[] = fields.filter((f) =>
      f.name.toLowerCase() === part.toLowerCase()
    );
    if (matches.length === 0) {
      throw new Refused(`no column '${[...out, part].join(".")}' in the table schema`);
    }
    const f: StructField = matches.find((x) => x.name === part) ?? matches[0];
    out.push(f.name);
    type = f.type;
    fields = typeof type === "object" && type.type === "struct" ? type.fields : undefined;
  }
  const cat = numericCat(type);
  if (!cat) {
    const shown = typeof type === "string" ? type : type.type;
    throw new Refused(`column '${out.join(".")}' is of type ${shown}; only primitive columns`);
  }
  return { path: out, type, cat };
}

const CAT_NAMES: Record<Cat, string> = {
  num: "a number",
  str: "a string",
  bool: "a boolean",
  date: "a date",
  ts: "a timestamp",
  null: "NULL",
};

/** Coerce a string literal to the date/timestamp kind of the other side, when that is one. */
function unify(a: Typed, b: Typed, what: string): [Typed, Typed] {
  const fix = (lit: Typed, to: Cat): Typed => {
    const v = lit.lit!.v as string;
    const value = to === "date" ? parseDate(v) : parseTimestamp(v);
    return { cat: to, build: () => () => value, lit: { v: value } };
  };
  if (a.cat === "str" && a.lit && (b.cat === "date" || b.cat === "ts")) a = fix(a, b.cat);
  if (b.cat === "str" && b.lit && (a.cat === "date" || a.cat === "ts")) b = fix(b, a.cat);
  if (a.cat !== b.cat && a.cat !== "null" && b.cat !== "null") {
    throw new Refused(`${what} compares ${CAT_NAMES[a.cat]} with ${CAT_NAMES[b.cat]}`);
  }
  return [a, b];
}

function typed(n: Node, schema: StructType, columns: ResolvedColumn[]): Typed {
  const sub = (x: Node) => typed(x, schema, columns);
  const bool = (x: Node, what: string): Typed => {
    const t = sub(x);
    if (t.cat !== "bool" && t.cat !== "null") {
      throw new Refused(`${what} needs a boolean operand, not ${CAT_NAMES[t.cat]}`);
    }
    return t;
  };
  switch (n.k) {
    case "lit": {
      const v = n.v;
      return { cat: n.cat, build: () => () => v, lit: { v } };
    }
    case "col": {
      const c = resolve(n.path, schema);
      const key = c.path.join(".");
      if (!columns.some((x) => x.path.join(".") === key)) columns.push(c);
      return { cat: c.cat, build: (batch) => columnReader(c, batch) };
    }
    case "not": {
      const e = bool(n.e, "NOT").build;
      return { cat: "bool", build: (b) => notOf(e(b)) };
    }
    case "and":
    case "or": {
      const word = n.k.toUpperCase();
      const l = bool(n.l, word).build;
      const r = bool(n.r, word).build;
      const and = n.k === "and";
      return {
        cat: "bool",
        build: (b) => {
          const x = l(b);
          const y = r(b);
          return and
            ? (i) => {
              const u = x(i);
              if (u === false) return false;
              const v = y(i);
              if (v === false) return false;
              return u === null || v === null ? null : true;
            }
            : (i) => {
              const u = x(i);
              if (u === true) return true;
              const v = y(i);
              if (v === true) return true;
              return u === null || v === null ? null : false;
            };
        },
      };
    }
    case "cmp": {
      const [l, r] = unify(sub(n.l), sub(n.r), `'${n.op}'`);
      const op = n.op;
      return {
        cat: "bool",
        build: (b) => {
          const x = l.build(b);
          const y = r.build(b);
          return (i) => {
            const u = x(i);
            const v = y(i);
            if (op === "<=>") return u === null || v === null ? u === v : compare(u, v) === 0;
            if (u === null || v === null) return null;
            const c = compare(u, v);
            switch (op) {
              case "=":
                return c === 0;
              case "<>":
                return c !== 0;
              case "<":
                return c < 0;
              case "<=":
                return c <= 0;
              case ">":
                return c > 0;
              default:
                return c >= 0;
            }
          };
        },
      };
    }
    case "isnull": {
      const e = sub(n.e).build;
      const neg = n.neg;
      return { cat: "bool", build: (b) => ((r) => (i: number) => (r(i) === null) !== neg)(e(b)) };
    }
    case "in": {
      let e = sub(n.e);
      const list = n.list.map((x) => {
        const [a, t] = unify(e, sub(x), "IN");
        e = a;
        return t;
      });
      const neg = n.neg;
      const item = e.build;
      return {
        cat: "bool",
        build: (b) => {
          const x = item(b);
          const ys = list.map((t) => t.build(b));
          const inOf = (i: number): boolean | null => {
            const u = x(i);
            if (u === null) return null;
            let sawNull = false;
            for (const y of ys) {
              const v = y(i);
              if (v === null) sawNull = true;
              else if (compare(u, v) === 0) return true;
            }
            return sawNull ? null : false;
          };
          return neg ? notOf(inOf) : inOf;
        },
      };
    }
    case "between": {
      // e BETWEEN lo AND hi is e >= lo AND e <= hi.
      const ge: Node = { k: "cmp", op: ">=", l: n.e, r: n.lo };
      const le: Node = { k: "cmp", op: "<=", l: n.e, r: n.hi };
      const both = sub({ k: "and", l: ge, r: le });
      return n.neg ? { cat: "bool", build: (b) => notOf(both.build(b)) } : both;
    }
    case "neg": {
      const e = sub(n.e);
      if (e.cat !== "num" && e.cat !== "null") {
        throw new Refused(`unary minus needs a number, not ${CAT_NAMES[e.cat]}`);
      }
      return {
        cat: e.cat,
        build: (b) => {
          const r = e.build(b);
          return (i) => {
            const v = r(i);
            if (v === null) return null;
            if (v instanceof Dec) return new Dec(-v.u, v.s);
            return typeof v === "bigint" ? -v : -(v as number);
          };
        },
      };
    }
    case "arith": {
      const l = sub(n.l);
      const r = sub(n.r);
      for (const t of [l, r]) {
        if (t.cat !== "num" && t.cat !== "null") {
          throw new Refused(`'${n.op}' needs numbers, not ${CAT_NAMES[t.cat]}`);
        }
      }
      const op = n.op;
      return {
        cat: l.cat === "null" && r.cat === "null" ? "null" : "num",
        build: (b) => {
          const x = l.build(b);
          const y = r.build(b);
          return (i) => arith(op, x(i), y(i));
        },
      };
    }
  }
}

function notOf(r: Reader): Reader {
  return (i) => {
    const v = r(i);
    return v === null ? null : !v;
  };
}

/**
 * Order of two non-null values of one kind (numbers may mix number, bigint and Dec: exactly when
 * neither is a double, else as doubles, as Spark compares a decimal with a double); NaN is largest.
 */
function compare(a: Value, b: Value): number {
  if (a instanceof Dec || b instanceof Dec) {
    const x = exact(a as number | bigint | Dec);
    const y = exact(b as number | bigint | Dec);
    if (x && y) {
      const s = Math.max(x.s, y.s);
      const d = x.at(s) - y.at(s);
      return d < 0n ? -1 : d > 0n ? 1 : 0;
    }
    a = toDouble(a as number | bigint | Dec);
    b = toDouble(b as number | bigint | Dec);
  }
  const an = typeof a === "number" && Number.isNaN(a);
  const bn = typeof b === "number" && Number.isNaN(b);
  if (an || bn) return an && bn ? 0 : an ? 1 : -1;
  // deno-lint-ignore no-explicit-any
  return (a as any) < (b as any) ? -1 : (a as any) > (b as any) ? 1 : 0;
}

function arith(op: "+" | "-" | "*" | "/" | "%", a: Value, b: Value): Value {
  if (a === null || b === null) return null;
  if (op === "/") {
    const d = toDouble(b as number);
    return d === 0 ? null : toDouble(a as number) / d;
  }
  if (a instanceof Dec || b instanceof Dec) {
    // Exact unless a double is involved (then a double, as Spark's decimal-with-double).
    const x = exact(a as number | bigint | Dec);
    const y = exact(b as number | bigint | Dec);
    if (x && y) {
      if (op === "*") return new Dec(x.u * y.u, x.s + y.s);
      const s = Math.max(x.s, y.s);
      const [u, v] = [x.at(s), y.at(s)];
      if (op === "%") return v === 0n ? null : new Dec(u % v, s);
      return new Dec(op === "+" ? u + v : u - v, s);
    }
    a = toDouble(a as number | bigint | Dec);
    b = toDouble(b as number | bigint | Dec);
  }
  if (typeof a === "bigint" && typeof b === "bigint") {
    if (op === "%") return b === 0n ? null : a % b;
    return op === "+" ? a + b : op === "-" ? a - b : a * b;
  }
  const x = Number(a);
  const y = Number(b);
  if (op === "%") return y === 0 ? null : x % y;
  return op === "+" ? x + y : op === "-" ? x - y : x * y;
}

// ---------------------------------------------------------------------------------------------
// Reading values from Arrow

const TIME_UNIT_TO_MICROS = [1_000_000n, 1_000n, 1n, 0n]; // second, milli, micro, (nano: divide)

function columnReader(c: ResolvedColumn, batch: arrow.RecordBatch): Reader {
  // The vectors along the path (a nested field is null when any parent is).
  const top = batch.schema.fields.findIndex((f) => f.name === c.path[0]);
  if (top < 0) return () => null; // a nullable column the data does not have
  const chain: arrow.Vector[] = [batch.getChildAt(top)!];
  for (const name of c.path.slice(1)) {
    const parent = chain[chain.length - 1];
    const idx = (parent.type.children ?? []).findIndex((f: arrow.Field) => f.name === name);
    if (idx < 0) return () => null;
    chain.push(parent.getChildAt(idx)!);
  }
  const leaf = chain[chain.length - 1];
  const parents = chain.slice(0, -1);
  const valid = (i: number) => parents.every((v) => v.isValid(i)) && leaf.isValid(i);
  const t = leaf.type as arrow.DataType & { scale?: number; unit?: number };
  let get: (i: number) => Value;
  if (c.cat === "ts") {
    const data = leaf.data[0];
    const values = data.values as BigInt64Array;
    const unit = t.unit ?? 2;
    get = (i) => {
      const raw = values[data.offset + i];
      return unit === 3 ? raw / 1000n : raw * TIME_UNIT_TO_MICROS[unit];
    };
  } else if (c.cat === "date") {
    get = (i) => Math.round((leaf.get(i) as number) / 86_400_000);
  } else if (typeof c.type === "string" && parseDecimal(c.type)) {
    // Exact: Arrow JS prints a Decimal128 value as its unscaled digits.
    const scale = t.scale ?? parseDecimal(c.type)!.scale;
    get = (i) => new Dec(BigInt(String(leaf.get(i))), scale);
  } else {
    get = (i) => leaf.get(i) as Value;
  }
  return (i) => (valid(i) ? get(i) : null);
}

function format(v: Value, cat: Cat, type: DeltaType): string {
  if (v === null) return "null";
  if (cat === "date") return new Date(Number(v) * 86_400_000).toISOString().slice(0, 10);
  if (cat === "ts") {
    const us = v as bigint;
    const ms = us / 1000n;
    const iso = new Date(Number(ms)).toISOString();
    const frac = String(((us % 1_000_000n) + 1_000_000n) % 1_000_000n).padStart(6, "0");
    return `${iso.slice(0, 19)}.${frac}${type === "timestamp_ntz" ? "" : "Z"}`;
  }
  return String(v);
}
