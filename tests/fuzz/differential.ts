/**
 * The differential run: generated records through `parseOrder` (lib/orders/validate.ts) and
 * through the independent oracle (./oracle.ts); every disagreement on valid/invalid, on the
 * reason code, on the field path, or (for valid orders) on a parsed value is counted in a
 * category, with the smallest record of each category kept as its example.
 *
 * Used by tests/fuzz/differential_test.ts (100,000 records) and by `deno task fuzz` (any seed and
 * count; prints the figures).
 *
 * @module
 */
import { parseOrder, type ParseResult } from "../../lib/orders/validate.ts";
import { type FuzzRecord, fuzzRecords, type Kind, showBytes } from "./generate.ts";
import { judge, type OracleOrder, type Outcome, type Verdict } from "./oracle.ts";

/** The two issue-20 holes a colleague is fixing, recognised so the report names them. */
export type KnownHole = "non_finite" | "deep_nesting";

/** One disagreement category, with its smallest record. */
export interface Category {
  /** `oracle <outcome>@<field> [rule] / lib <outcome>@<field>` with indices shown as [i]. */
  key: string;
  /** When the category is one of the two holes of issue 20 (see {@link KnownHole}). */
  hole?: KnownHole;
  /** How many records fell in it. */
  count: number;
  /** Generator kinds seen in it. */
  kinds: Set<Kind>;
  /** Field paths the oracle named in it (indices as [i]). */
  fields: Set<string>;
  /** The smallest record of the category. */
  example: Example;
}

/** A record that disagrees, as reported. */
export interface Example {
  /** Generator index (rebuild with `generate.ts --seed S --index I`). */
  index: number;
  /** Generator kind and detail. */
  kind: Kind;
  /** What the mutation did. */
  detail: string;
  /** Value size in bytes. */
  size: number;
  /** The value (text, or base64), clipped. */
  value: string;
  /** The oracle's decision. */
  oracle: string;
  /** parseOrder's decision. */
  lib: string;
}

/** Figures of one run. */
export interface DiffSummary {
  /** Seed. */
  seed: number;
  /** Records compared. */
  count: number;
  /** Size limit used for both. */
  maxBytes: number;
  /** Records per generator kind. */
  kinds: Map<Kind, number>;
  /** Records per oracle outcome. */
  outcomes: Map<Outcome, number>;
  /** Records the oracle leaves open (more than one acceptable outcome). */
  open: number;
  /** Records where both agree. */
  agreed: number;
  /** Disagreement categories. */
  categories: Map<string, Category>;
  /** Milliseconds spent generating, in parseOrder and in the oracle. */
  ms: { generate: number; lib: number; oracle: number };
  /** Largest nesting depth seen. */
  maxDepth: number;
  /** Records per oracle rule (the rule that decided; digits shown as N). */
  rules: Map<string, number>;
  /** Records nested 10,000 levels or more. */
  deep: number;
}

/** Options of {@link runDifferential}. */
export interface DiffOptions {
  /** Seed of the generator. */
  seed: number;
  /** How many records. */
  count: number;
  /** First index (default 0). */
  from?: number;
  /** Only these generator kinds. */
  kinds?: readonly Kind[];
  /** Size limit for both (default 1 MiB). */
  maxBytes?: number;
  /** Called every `every` records (progress). */
  onProgress?: (done: number) => void;
}

const norm = (f: string | undefined) => f === undefined ? "" : `@${f.replace(/\[\d+\]/g, "[i]")}`;

/** parseOrder's decision as text (for reports). */
export function describeLib(r: ParseResult): string {
  return r.ok ? "ok" : `${r.reason}${r.field ? `@${r.field}` : ""}`;
}

/** The oracle's decision as text (for reports). */
export function describeVerdict(v: Verdict): string {
  const alts = v.accept.length > 1 ? ` (or ${v.accept.filter((a) => a !== v.outcome)})` : "";
  return `${v.outcome}${v.field ? `@${v.field}` : ""}${alts} [${v.rule}]`;
}

/**
 * Compares one parseOrder result with the oracle's verdict; undefined when they agree, else a
 * category key.
 */
export function compare(v: Verdict, r: ParseResult): string | undefined {
  const libOutcome: Outcome | string = r.ok ? "ok" : r.reason;
  const mismatch = (withFields: boolean) =>
    `oracle ${v.outcome}${withFields ? norm(v.field) : ""} [${v.rule.replace(/\d+/g, "N")}] / ` +
    `lib ${libOutcome}${r.ok || !withFields ? "" : norm(r.field)}`;
  if (!v.accept.includes(libOutcome as Outcome)) return mismatch(false);
  if (!r.ok) {
    const fields = v.fields ?? (v.field === undefined ? [] : [v.field]);
    if (fields.length === 0 ? r.field !== undefined : !fields.includes(r.field ?? "")) {
      return `field: ${mismatch(true)}`;
    }
    return undefined;
  }
  const diff = orderDiff(v.order!, r.order);
  return diff === undefined ? undefined : `value: ${diff}`;
}

/** The first field whose parsed value differs, or undefined. */
export function orderDiff(o: OracleOrder, l: import("../../lib/orders/schema.ts").Order) {
  const long = (x: unknown) => (typeof x === "bigint" || typeof x === "number" ? BigInt(x) : x);
  if (long(l.order_id) !== o.orderId) return "order_id";
  if (long(l.customer_id) !== o.customerId) return "customer_id";
  if (l.customer_fname !== o.fname) return "customer_fname";
  if (l.customer_lname !== o.lname) return "customer_lname";
  if (l.city !== o.city) return "city";
  if (l.state !== o.state) return "state";
  if ((l.pincode === null ? null : long(l.pincode)) !== o.pincode) return "pincode";
  if (l.line_items.length !== o.items.length) return "line_items.length";
  for (let i = 0; i < o.items.length; i++) {
    const a = l.line_items[i];
    const b = o.items[i];
    if (long(a.order_item_id) !== b.id) return "line_items[i].order_item_id";
    if (long(a.order_item_product_id) !== b.productId) return "line_items[i].order_item_product_id";
    if (long(a.order_item_quantity) !== b.quantity) return "line_items[i].order_item_quantity";
    if (!Object.is(a.order_item_product_price, b.price)) {
      return "line_items[i].order_item_product_price";
    }
    if (!Object.is(a.order_item_subtotal, b.subtotal)) return "line_items[i].order_item_subtotal";
  }
  return undefined;
}

/** Which known hole of issue 20 a disagreement is, if any. */
export function knownHole(v: Verdict, r: ParseResult): KnownHole | undefined {
  if (v.rule.startsWith("rule: non-finite") && (r.ok || r.reason !== "out_of_range")) {
    return "non_finite";
  }
  if (
    v.depth >= 1000 && !r.ok &&
    (r.reason === "not_json" || r.reason as string === "internal_error") &&
    v.outcome !== "not_json"
  ) return "deep_nesting";
  return undefined;
}

/** Runs the differential comparison over generated records. */
export function runDifferential(opts: DiffOptions): DiffSummary {
  const maxBytes = opts.maxBytes ?? 1024 * 1024;
  const s: DiffSummary = {
    seed: opts.seed,
    count: 0,
    maxBytes,
    kinds: new Map(),
    outcomes: new Map(),
    open: 0,
    agreed: 0,
    categories: new Map(),
    ms: { generate: 0, lib: 0, oracle: 0 },
    maxDepth: 0,
    rules: new Map(),
    deep: 0,
  };
  let t = performance.now();
  for (const rec of fuzzRecords(opts.seed, opts.count, { from: opts.from, kinds: opts.kinds })) {
    const t1 = performance.now();
    s.ms.generate += t1 - t;
    const r = parseOrder(rec.value, { maxBytes });
    const t2 = performance.now();
    const v = judge(rec.value, { maxBytes });
    t = performance.now();
    s.ms.lib += t2 - t1;
    s.ms.oracle += t - t2;
    tally(s, rec, v, r);
    if (opts.onProgress && s.count % 10_000 === 0) opts.onProgress(s.count);
  }
  return s;
}

/** Adds one compared record to a summary. */
export function tally(s: DiffSummary, rec: FuzzRecord, v: Verdict, r: ParseResult): void {
  s.count++;
  s.kinds.set(rec.kind, (s.kinds.get(rec.kind) ?? 0) + 1);
  s.outcomes.set(v.outcome, (s.outcomes.get(v.outcome) ?? 0) + 1);
  if (v.accept.length > 1) s.open++;
  if (v.depth > s.maxDepth) s.maxDepth = v.depth;
  if (v.depth >= 10_000) s.deep++;
  s.rules.set(v.rule, (s.rules.get(v.rule) ?? 0) + 1);
  const key = compare(v, r);
  if (key === undefined) {
    s.agreed++;
    return;
  }
  const size = rec.value?.length ?? 0;
  let c = s.categories.get(key);
  if (!c) {
    c = {
      key,
      hole: knownHole(v, r),
      count: 0,
      kinds: new Set(),
      fields: new Set(),
      example: example(rec, v, r),
    };
    s.categories.set(key, c);
  } else if (size < c.example.size) c.example = example(rec, v, r);
  c.count++;
  c.kinds.add(rec.kind);
  if (v.field !== undefined) c.fields.add(norm(v.field).slice(1));
}

function example(rec: FuzzRecord, v: Verdict, r: ParseResult): Example {
  return {
    index: rec.index,
    kind: rec.kind,
    detail: rec.detail,
    size: rec.value?.length ?? 0,
    value: showBytes(rec.value, 600),
    oracle: describeVerdict(v),
    lib: describeLib(r),
  };
}

/** The summary as text lines (figures, then every category with its example). */
export function report(s: DiffSummary): string[] {
  const lines: string[] = [];
  const rate = (ms: number) => Math.round(s.count / (ms / 1000)).toLocaleString("en-US");
  lines.push(
    `seed ${s.seed}: ${s.count.toLocaleString("en-US")} records, ${
      s.agreed.toLocaleString("en-US")
    } agree, ` +
      `${
        (s.count - s.agreed).toLocaleString("en-US")
      } disagree in ${s.categories.size} categories; ` +
      `${s.open} left open by the rules (either outcome accepted); deepest nesting ${s.maxDepth}`,
  );
  lines.push(
    `time: generate ${Math.round(s.ms.generate)} ms, parseOrder ${Math.round(s.ms.lib)} ms (${
      rate(s.ms.lib)
    }/s), oracle ${Math.round(s.ms.oracle)} ms (${rate(s.ms.oracle)}/s)`,
  );
  lines.push(
    "kinds: " +
      [...s.kinds].sort(([a], [b]) => a.localeCompare(b)).map(([k, n]) => `${k} ${n}`).join(", "),
  );
  lines.push(
    "oracle outcomes: " +
      [...s.outcomes].sort(([, a], [, b]) => b - a).map(([k, n]) => `${k} ${n}`).join(", "),
  );
  for (const c of [...s.categories.values()].sort((a, b) => b.count - a.count)) {
    lines.push("");
    lines.push(
      `DISAGREEMENT ${c.hole ? `[known hole: ${c.hole}] ` : ""}${c.key}: ${c.count} records (${
        [...c.kinds].join(", ")
      }${c.fields.size > 0 ? `; fields ${[...c.fields].join(", ")}` : ""})`,
    );
    const e = c.example;
    lines.push(`  smallest: index ${e.index} (${e.kind}: ${e.detail}), ${e.size} bytes`);
    lines.push(`  oracle: ${e.oracle}`);
    lines.push(`  lib:    ${e.lib}`);
    lines.push(`  value:  ${e.value}`);
  }
  return lines;
}
