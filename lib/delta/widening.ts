/**
 * Type widening (Delta table feature `typeWidening`, reader + writer): a column's type may change
 * to a wider one without rewriting the files written before. Where the table lists the feature in
 * its reader and writer features and has `delta.enableTypeWidening=true`, an append with
 * `mergeSchema` whose data needs a wider type for an existing top-level column changes that
 * column's type in the same commit as the data (lib/delta/table.ts), recording the change in the
 * column's metadata as the protocol asks: `delta.typeChanges`, a list of
 * `{"fromType": …, "toType": …}` appended to any already there. Without the feature (or with the
 * property not `true`) such a write is refused with SchemaMismatchError.
 *
 * Changes accepted (the protocol's integer and floating-point widenings): `byte` → `short` →
 * `integer` → `long`, `float` → `double`, and `byte`/`short`/`integer` → `double`. Decimal and
 * date widenings are not offered by our writer. Reading: files written before a change hold the
 * narrower Parquet type; scan.ts `castData` reads them as the wider type (exact values).
 *
 * @module
 */
import type { Protocol } from "./actions.ts";
import type { DeltaType, StructField } from "./schema.ts";

/** The table property that turns type widening on (the feature must be in the protocol too). */
export const TYPE_WIDENING_PROPERTY = "delta.enableTypeWidening";

/** The column metadata key holding a column's type-change history. */
export const TYPE_CHANGES_KEY = "delta.typeChanges";

const INTEGERS = ["byte", "short", "integer", "long"];

/**
 * Whether a table may widen column types now: `typeWidening` in its reader and writer features
 * and `delta.enableTypeWidening=true`.
 *
 * @example
 * ```ts
 * import { typeWideningEnabled } from "./widening.ts";
 * const protocol = { minReaderVersion: 3, minWriterVersion: 7,
 *   readerFeatures: ["typeWidening"], writerFeatures: ["typeWidening"] };
 * typeWideningEnabled(protocol, { "delta.enableTypeWidening": "true" }); // true
 * typeWideningEnabled(protocol, {}); // false
 * ```
 */
export function typeWideningEnabled(
  protocol: Protocol,
  configuration: Record<string, string>,
): boolean {
  return (protocol.readerFeatures ?? []).includes("typeWidening") &&
    (protocol.writerFeatures ?? []).includes("typeWidening") &&
    configuration[TYPE_WIDENING_PROPERTY]?.toLowerCase() === "true";
}

/**
 * Whether `from` → `to` is a widening our writer applies (integers to a wider integer, float to
 * double, byte/short/integer to double); equal types are not a change.
 *
 * @example
 * ```ts
 * import { canWiden } from "./widening.ts";
 * canWiden("integer", "long"); // true
 * canWiden("float", "double"); // true
 * canWiden("long", "double"); // false: not in the protocol's list
 * ```
 */
export function canWiden(from: DeltaType, to: DeltaType): boolean {
  if (typeof from !== "string" || typeof to !== "string" || from === to) return false;
  const a = INTEGERS.indexOf(from);
  if (a >= 0 && INTEGERS.indexOf(to) > a) return true;
  if (from === "float" && to === "double") return true;
  return to === "double" && a >= 0 && from !== "long";
}

/**
 * `field` with type `to` and the change appended to its `delta.typeChanges` metadata.
 *
 * @example
 * ```ts
 * import { widenedField } from "./widening.ts";
 * const f = widenedField({ name: "n", type: "integer", nullable: true, metadata: {} }, "long");
 * f.type; // "long"
 * f.metadata["delta.typeChanges"]; // [{ fromType: "integer", toType: "long" }]
 * ```
 */
export function widenedField(field: StructField, to: DeltaType): StructField {
  const before = field.metadata[TYPE_CHANGES_KEY];
  const history = Array.isArray(before) ? before : [];
  return {
    ...field,
    type: to,
    metadata: {
      ...field.metadata,
      [TYPE_CHANGES_KEY]: [...history, { fromType: field.type, toType: to }],
    },
  };
}
