/**
 * Schema evolution of the orders on the cleaned stream (`--merge-schema`): the scalar fields an
 * order carries beyond the known ones (parseOrder leaves them on the parsed object) become
 * nullable columns of `orders_cleaned`.
 *
 * What counts, and how it is named:
 * - Unknown keys of the order object, and of each line item, whose value is a string, a number
 *   or a boolean. `null` carries no type: it is a null (no column is created for it). Objects
 *   and arrays are ignored (not flattened). A key whose column name Delta would refuse (empty,
 *   or holding one of ` ,;{}()=`, tab, newline) is ignored too.
 * - Types are inferred from JSON: string → `string`, a number with a safe integer value (any
 *   notation: `3`, `3.0`, `3e0`) → `long`, any other number → `double`, boolean → `boolean`.
 *   Within one batch a new column seen with both longs and doubles becomes `double`.
 * - Column names: an order-level field keeps its name (`order_status`); a line-item field drops
 *   the `order_item_` prefix, as the standard line-item columns do (`discount` stays `discount`,
 *   `order_item_discount` becomes `discount`). A name that is one of the standard columns
 *   (`price`, `kafka_offset`, …) gets a prefix instead: `order_` at the order level
 *   (`order_price`), `item_` in a line item (`item_city`). Names match ignoring case, as Delta's
 *   do; a column the table already has keeps its spelling.
 * - The same name at both levels is one column: the rows are the order's line items, so the
 *   order's value is every row's value, and a line item's own value replaces it on its row.
 *
 * Values and columns:
 * - A value fits a column when it is exact in it: a string in `string`; a boolean in `boolean`;
 *   an integral number in `byte`/`short`/`integer`/`long` within its range; any number in
 *   `double`; a number in `float` when `Math.fround` keeps it. Other types (decimal, date, …)
 *   take no values from JSON.
 * - A value that does not fit is a clash: the whole order (its one Kafka record) becomes a dead
 *   letter with reason `schema_mismatch` and a message naming the field, the value's type and
 *   the column's, e.g. `line_items[0].discount: string "ten" does not fit column 'discount'
 *   (long)`. A fraction in an integral column, text in a number column, … are clashes.
 * - Type widening: an integral value beyond an integral column's range needs `long`; a value a
 *   `float` column cannot hold exactly needs `double`. With `--merge-schema` on a table with the
 *   Delta feature `typeWidening` enabled (`delta.enableTypeWidening=true`) the column is widened
 *   in the same commit as the rows (lib/delta/widening.ts); otherwise it is a clash.
 * - With `--merge-schema` a new field becomes a new nullable column, added by the metaData
 *   action of the commit that brings its first rows (lib/delta/table.ts `mergeSchema`); the
 *   rows written before read it as null. Without the flag, new fields are ignored, as before;
 *   columns the table already has beyond the standard ones (added by an earlier run with the
 *   flag, or by Spark) are still filled, and values must fit them (no widening without the flag).
 * - Extras columns are sparse: rows of orders without extra fields (all those the fast scanner
 *   of decode.ts takes) are null in them.
 * - An order holding a long beyond 2^53 is rebuilt by parseOrder (exact bigints); its extra
 *   fields are carried over as JSON.parse read them, so they are seen as on the common path.
 *
 * Every batch starts from the table's schema as of that batch, so what a batch decides (new
 * columns, widenings, clashes) is what its commit does, and a batch replayed after a crash
 * decides the same.
 * @module
 */
import * as arrow from "apache-arrow";
import type { DeltaType, StructType } from "../delta/schema.ts";
import { toArrowType } from "../delta/schema.ts";
import { canWiden } from "../delta/widening.ts";
import type { Order } from "./schema.ts";
import type { ParseFailure } from "./validate.ts";

/** A JSON scalar an extra field holds. */
export type Scalar = string | number | boolean;

/** The Delta types inferred from JSON values. */
export type InferredType = "string" | "long" | "double" | "boolean";

const ORDER_KEYS = new Set([
  "order_id",
  "customer_id",
  "customer_fname",
  "customer_lname",
  "city",
  "state",
  "pincode",
  "line_items",
]);
const ITEM_KEYS = new Set([
  "order_item_id",
  "order_item_product_id",
  "order_item_quantity",
  "order_item_product_price",
  "order_item_subtotal",
]);
const BAD_NAME = /[ ,;{}()\n\t=]/;
const RANGES: Record<string, number> = { byte: 2 ** 7, short: 2 ** 15, integer: 2 ** 31 };

/**
 * The Delta type of a JSON value, or undefined when it has none (null, objects, arrays).
 *
 * @example
 * ```ts
 * import { inferType } from "./evolve.ts";
 * inferType("paid"); // "string"
 * inferType(3); // "long"
 * inferType(2.5); // "double"
 * inferType(null); // undefined
 * ```
 */
export function inferType(value: unknown): InferredType | undefined {
  switch (typeof value) {
    case "string":
      return "string";
    case "boolean":
      return "boolean";
    case "number":
      return Number.isSafeInteger(value) ? "long" : "double";
    default:
      return undefined;
  }
}

/**
 * The column name of an order-level field: its own name, or `order_<name>` when that is a
 * standard column (compared ignoring case).
 *
 * @example
 * ```ts
 * import { orderColumn } from "./evolve.ts";
 * const standard = new Set(["price", "city"]);
 * orderColumn("order_status", standard); // "order_status"
 * orderColumn("price", standard); // "order_price"
 * ```
 */
export function orderColumn(key: string, standard: ReadonlySet<string>): string {
  return standard.has(key.toLowerCase()) ? `order_${key}` : key;
}

/**
 * The column name of a line-item field: without its `order_item_` prefix, or `item_<name>` when
 * that is a standard column (compared ignoring case).
 *
 * @example
 * ```ts
 * import { itemColumn } from "./evolve.ts";
 * const standard = new Set(["price", "city"]);
 * itemColumn("discount", standard); // "discount"
 * itemColumn("order_item_discount", standard); // "discount"
 * itemColumn("city", standard); // "item_city"
 * ```
 */
export function itemColumn(key: string, standard: ReadonlySet<string>): string {
  const name = key.startsWith("order_item_") && key.length > 11 ? key.slice(11) : key;
  return standard.has(name.toLowerCase()) ? `item_${name}` : name;
}

/** The extra scalar fields of one order, by column name. */
export interface OrderExtras {
  /** Order-level fields: column name → [field path, value]. */
  order: Map<string, [string, Scalar | null]>;
  /** Per line item: column name → [field path, value]. */
  items: Map<string, [string, Scalar | null]>[];
}

function usable(name: string): boolean {
  return name.length > 0 && !BAD_NAME.test(name);
}

function isScalarOrNull(v: unknown): v is Scalar | null {
  return v === null || typeof v === "string" || typeof v === "number" || typeof v === "boolean";
}

/**
 * The unknown scalar fields of a parsed order (objects and arrays left out), at the order level
 * and per line item, under their column names.
 *
 * @example
 * ```ts
 * import { orderExtras } from "./evolve.ts";
 * const order = { order_id: 1, customer_id: 2, customer_fname: null, customer_lname: null,
 *   city: null, state: null, pincode: null, order_status: "paid", tags: ["a"],
 *   line_items: [{ order_item_id: 1, order_item_product_id: 3, order_item_quantity: 1,
 *     order_item_product_price: 5, order_item_subtotal: 5, discount: 0.5 }] };
 * const x = orderExtras(order, new Set(["price"]));
 * [...x.order.keys()]; // ["order_status"]
 * x.items[0].get("discount"); // ["line_items[0].discount", 0.5]
 * ```
 */
export function orderExtras(order: Order, standard: ReadonlySet<string>): OrderExtras {
  const top = new Map<string, [string, Scalar | null]>();
  for (const [k, v] of Object.entries(order)) {
    if (ORDER_KEYS.has(k) || !isScalarOrNull(v)) continue;
    const name = orderColumn(k, standard);
    if (usable(name)) top.set(name, [k, v]);
  }
  const items = order.line_items.map((it, i) => {
    const m = new Map<string, [string, Scalar | null]>();
    for (const [k, v] of Object.entries(it)) {
      if (ITEM_KEYS.has(k) || !isScalarOrNull(v)) continue;
      const name = itemColumn(k, standard);
      if (usable(name)) m.set(name, [`line_items[${i}].${k}`, v]);
    }
    return m;
  });
  return { order: top, items };
}

/** How a value sits in a column of type `column`: fits, needs a wider type, or clashes. */
export type Fit = "fits" | "clash" | { widen: DeltaType };

/**
 * Whether `value` fits a column of type `column` exactly, needs the column widened (integral
 * beyond its integral range → `long`; not exact in `float` → `double`), or clashes.
 *
 * @example
 * ```ts
 * import { fitValue } from "./evolve.ts";
 * fitValue(7, "long"); // "fits"
 * fitValue(3_000_000_000, "integer"); // { widen: "long" }
 * fitValue(0.1, "float"); // { widen: "double" }
 * fitValue(2.5, "long"); // "clash": a fraction in an integral column
 * fitValue("paid", "long"); // "clash"
 * ```
 */
export function fitValue(value: Scalar, column: DeltaType): Fit {
  if (typeof value === "string") return column === "string" ? "fits" : "clash";
  if (typeof value === "boolean") return column === "boolean" ? "fits" : "clash";
  switch (column) {
    case "double":
      return "fits";
    case "float":
      return Math.fround(value) === value || !Number.isFinite(value) ? "fits" : { widen: "double" };
    case "long":
      return Number.isSafeInteger(value) ? "fits" : "clash";
    case "byte":
    case "short":
    case "integer": {
      if (!Number.isSafeInteger(value)) return "clash";
      const r = RANGES[column];
      return value >= -r && value < r ? "fits" : { widen: "long" };
    }
    default:
      return "clash";
  }
}

function describe(v: Scalar): string {
  if (typeof v === "string") {
    const s = JSON.stringify(v);
    return `string ${s.length > 40 ? `${s.slice(0, 37)}...` : s}`;
  }
  return typeof v === "number" ? `${inferType(v)} ${v}` : `boolean ${v}`;
}

function typeName(t: DeltaType): string {
  return typeof t === "string" ? t : t.type;
}

/** One extras column as the batch being built sees it. */
interface Column {
  /** Its name (the table's spelling when the table has it). */
  name: string;
  /** Its type now (after any widening this batch decided). */
  type: DeltaType;
  /** Whether the table has it (else this batch adds it). */
  inTable: boolean;
}

/** Options of {@link Evolution}. */
export interface EvolutionOptions {
  /** `--merge-schema`: add new columns and widen where the table allows it. */
  mergeSchema: boolean;
  /** Whether the table has `typeWidening` enabled (lib/delta/widening.ts typeWideningEnabled). */
  typeWidening: boolean;
}

/**
 * One batch's decisions on extra fields against the table's schema: which orders clash
 * (`schema_mismatch`), which columns are added or widened, and each row's values; then the
 * record batches with the extras columns appended.
 *
 * @example
 * ```ts
 * import { Evolution } from "./evolve.ts";
 * import { cleanedSchema } from "./flatten.ts";
 * import { toDeltaSchema } from "../delta/schema.ts";
 * const ev = new Evolution(toDeltaSchema(cleanedSchema), cleanedSchema.fields.map((f) => f.name),
 *   { mergeSchema: true, typeWidening: false });
 * const order = { order_id: 1, customer_id: 2, customer_fname: null, customer_lname: null,
 *   city: null, state: null, pincode: null, order_status: "paid",
 *   line_items: [{ order_item_id: 1, order_item_product_id: 3, order_item_quantity: 1,
 *     order_item_product_price: 5, order_item_subtotal: 5 }] };
 * ev.admit(order, 0); // undefined: fits (a new string column)
 * const clash = { ...order, order_status: 3 }; // a long where the batch made a string column
 * ev.admit(clash, 1)?.reason; // "schema_mismatch"
 * ```
 */
export class Evolution {
  /** Extras columns by lowercase name: the table's beyond the standard ones, then new ones. */
  readonly #columns = new Map<string, Column>();
  readonly #standard: ReadonlySet<string>;
  readonly #opts: EvolutionOptions;
  /** Values of the batch being built: row, column key, value. */
  #rows: number[] = [];
  #keys: string[] = [];
  #values: Scalar[] = [];
  /** Finished record-batch segments: their row counts and values. */
  readonly #segments: { rows: number; at: number[]; keys: string[]; values: Scalar[] }[] = [];

  /**
   * @param table the table's schema as of the batch.
   * @param standard the standard columns' names (flatten.ts cleanedSchema).
   * @param opts merge-schema flag and whether the table allows widening.
   */
  constructor(table: StructType, standard: readonly string[], opts: EvolutionOptions) {
    this.#standard = new Set(standard.map((s) => s.toLowerCase()));
    this.#opts = opts;
    for (const f of table.fields) {
      if (this.#standard.has(f.name.toLowerCase())) continue;
      this.#columns.set(f.name.toLowerCase(), { name: f.name, type: f.type, inTable: true });
    }
  }

  /** The standard columns' names, lowercase. */
  get standard(): ReadonlySet<string> {
    return this.#standard;
  }

  /**
   * Judges one valid order's extra fields: undefined when they all fit (the decisions are
   * kept, and with `firstRow` its rows' values are recorded from that row of the batch being
   * built), else the `schema_mismatch` failure of its first clash (nothing kept).
   */
  admit(order: Order, firstRow?: number): ParseFailure | undefined {
    const extras = orderExtras(order, this.#standard);
    if (extras.order.size === 0 && extras.items.every((m) => m.size === 0)) return undefined;
    // Decide on a copy of the columns touched, so a clash leaves nothing behind.
    const touched = new Map<string, Column>();
    const judge = (name: string, path: string, v: Scalar | null): ParseFailure | undefined => {
      const key = name.toLowerCase();
      const col = touched.get(key) ?? this.#columns.get(key);
      const inferred = inferType(v);
      if (inferred === undefined || v === null) return undefined;
      if (col === undefined) {
        if (this.#opts.mergeSchema) touched.set(key, { name, type: inferred, inTable: false });
        return undefined;
      }
      const fit = fitValue(v, col.type);
      if (fit === "fits") return undefined;
      if (!col.inTable && col.type === "long" && inferred === "double") {
        touched.set(key, { ...col, type: "double" }); // a new column: longs and doubles → double
        return undefined;
      }
      if (fit !== "clash") {
        if (this.#opts.mergeSchema && this.#opts.typeWidening && canWiden(col.type, fit.widen)) {
          touched.set(key, { ...col, type: fit.widen });
          return undefined;
        }
        return mismatch(
          path,
          `${describe(v)} needs column '${col.name}' (${typeName(col.type)}) widened to ` +
            `${typeName(fit.widen)}, and ${
              this.#opts.mergeSchema
                ? "the table does not allow type widening (delta.enableTypeWidening)"
                : "columns are only widened with --merge-schema"
            }`,
        );
      }
      return mismatch(
        path,
        `${describe(v)} does not fit column '${col.name}' (${typeName(col.type)})`,
      );
    };
    for (const [name, [path, v]] of extras.order) {
      const f = judge(name, path, v);
      if (f) return f;
    }
    for (const m of extras.items) {
      for (const [name, [path, v]] of m) {
        const f = judge(name, path, v);
        if (f) return f;
      }
    }
    for (const [key, col] of touched) this.#columns.set(key, col);
    if (firstRow === undefined) return undefined;
    for (let i = 0; i < extras.items.length; i++) {
      const row = firstRow + i;
      const record = (name: string, v: Scalar | null) => {
        const key = name.toLowerCase();
        if (v === null || !this.#columns.has(key)) return; // null, or new without the flag
        this.#rows.push(row);
        this.#keys.push(key);
        this.#values.push(v);
      };
      for (const [name, [, v]] of extras.order) {
        if (!extras.items[i].has(name)) record(name, v);
      }
      for (const [name, [, v]] of extras.items[i]) record(name, v);
    }
    return undefined;
  }

  /**
   * Closes the record batch being built, of `rows` rows (rows recorded by {@link admit} are
   * relative to it); the next one starts at row 0.
   */
  cut(rows: number): void {
    this.#segments.push({ rows, at: this.#rows, keys: this.#keys, values: this.#values });
    this.#rows = [];
    this.#keys = [];
    this.#values = [];
  }

  /**
   * `batches` (one per {@link cut}, in order) with every extras column that has a value in this
   * build appended, in the same order and with the same types in all of them (null where a row
   * has no value).
   */
  finish(batches: readonly arrow.RecordBatch[]): arrow.RecordBatch[] {
    if (batches.length !== this.#segments.length) {
      throw new Error(`evolve: ${batches.length} batches but ${this.#segments.length} cuts`);
    }
    const used = new Set<string>();
    for (const s of this.#segments) for (const k of s.keys) used.add(k);
    if (used.size === 0) return [...batches];
    const cols = [...this.#columns.entries()].filter(([k]) => used.has(k));
    const fields = cols.map(([, c]) => new arrow.Field(c.name, toArrowType(c.type), true));
    const schema = new arrow.Schema([...batches[0].schema.fields, ...fields]);
    return batches.map((b, i) => {
      const s = this.#segments[i];
      const children = cols.map(([key, c], j) => {
        const values: (Scalar | bigint | null)[] = new Array(b.numRows).fill(null);
        const big = c.type === "long";
        for (let e = 0; e < s.keys.length; e++) {
          if (s.keys[e] !== key) continue;
          const v = s.values[e];
          values[s.at[e]] = big ? BigInt(v as number) : v;
        }
        return arrow.vectorFromArray(values, fields[j].type).data[0];
      });
      const struct = arrow.makeData({
        type: new arrow.Struct(schema.fields),
        length: b.numRows,
        nullCount: 0,
        children: [...b.data.children, ...children],
      });
      return new arrow.RecordBatch(schema, struct);
    });
  }
}

function mismatch(field: string, detail: string): ParseFailure {
  return { ok: false, reason: "schema_mismatch", field, message: `${field}: ${detail}` };
}
