/**
 * Checks that an Arrow table fits a Delta table schema (names, types, nullability) and conforms it
 * to the schema's column order. Private to lib/delta.
 *
 * @module
 */
import * as arrow from "apache-arrow";
import { SchemaMismatchError } from "./errors.ts";
import { type DeltaType, type StructType, toArrowType } from "./schema.ts";

function isUtc(tz: string | null | undefined): boolean {
  return tz === "UTC" || tz === "+00:00" || tz === "Etc/UTC" || tz === "Z";
}

/** True when `actual` can be written as `expected` without conversion. */
export function sameType(actual: arrow.DataType, expected: arrow.DataType): boolean {
  if (actual.typeId !== expected.typeId) return false;
  const a = actual as unknown as Record<string, unknown>;
  const e = expected as unknown as Record<string, unknown>;
  if (arrow.DataType.isInt(actual)) return a.bitWidth === e.bitWidth && a.isSigned === e.isSigned;
  if (arrow.DataType.isFloat(actual)) return a.precision === e.precision;
  if (arrow.DataType.isDecimal(actual)) return a.scale === e.scale && a.precision === e.precision;
  if (arrow.DataType.isDate(actual)) return a.unit === e.unit;
  if (arrow.DataType.isTimestamp(actual)) {
    const ez = e.timezone as string | null;
    const az = a.timezone as string | null;
    return a.unit === e.unit && (ez ? isUtc(az) : !az);
  }
  if (arrow.DataType.isStruct(actual)) {
    const ac = actual.children;
    const ec = expected.children;
    return ac.length === ec.length &&
      ac.every((c, i) => c.name === ec[i].name && sameType(c.type, ec[i].type));
  }
  if (arrow.DataType.isList(actual)) {
    return sameType(actual.children[0].type, expected.children[0].type);
  }
  if (arrow.DataType.isMap(actual)) {
    const ak = actual.children[0].type.children;
    const ek = expected.children[0].type.children;
    return sameType(ak[0].type, ek[0].type) && sameType(ak[1].type, ek[1].type);
  }
  return true;
}

function firstNull(v: arrow.Vector, parentValid?: (i: number) => boolean): number {
  if (v.nullCount === 0) return -1;
  for (let i = 0; i < v.length; i++) {
    if (!v.isValid(i) && (!parentValid || parentValid(i))) return i;
  }
  return -1;
}

function checkNulls(
  v: arrow.Vector,
  t: DeltaType,
  nullable: boolean,
  path: string,
  parent?: (i: number) => boolean,
) {
  if (!nullable) {
    const row = firstNull(v, parent);
    if (row >= 0) {
      throw new SchemaMismatchError(
        path,
        `column '${path}' is not nullable, but row ${row} is null; fix or drop that row`,
        row,
      );
    }
  }
  if (typeof t !== "string" && t.type === "struct") {
    const valid = (i: number) => (!parent || parent(i)) && v.isValid(i);
    t.fields.forEach((f, idx) => {
      const child = (v as arrow.Vector<arrow.Struct>).getChildAt(idx);
      if (child) checkNulls(child, f.type, f.nullable, `${path}.${f.name}`, valid);
    });
  }
}

/**
 * Check `table` against `schema` and return it with the schema's column order; missing nullable
 * columns become all-null. Errors name the column (and the row for nulls).
 */
export function conformTable(table: arrow.Table, schema: StructType): arrow.Table {
  const names = new Set(schema.fields.map((f) => f.name));
  for (const f of table.schema.fields) {
    if (!names.has(f.name)) {
      throw new SchemaMismatchError(
        f.name,
        `column '${f.name}' is not in the table schema (columns: ${[...names].join(", ")}); ` +
          `drop it or evolve the schema`,
      );
    }
  }
  const cols: Record<string, arrow.Vector> = {};
  for (const f of schema.fields) {
    const expected = toArrowType(f.type);
    const v = table.getChild(f.name);
    if (!v) {
      if (!f.nullable) {
        throw new SchemaMismatchError(f.name, `column '${f.name}' is missing and is not nullable`);
      }
      cols[f.name] = arrow.vectorFromArray(new Array(table.numRows).fill(null), expected);
      continue;
    }
    if (!sameType(v.type, expected)) {
      throw new SchemaMismatchError(
        f.name,
        `column '${f.name}' has Arrow type ${v.type} but the table needs ${expected} ` +
          `(Delta '${typeof f.type === "string" ? f.type : f.type.type}'); convert the column`,
      );
    }
    checkNulls(v, f.type, f.nullable, f.name);
    cols[f.name] = v;
  }
  const fields = schema.fields.map((f) => {
    const v = cols[f.name];
    return new arrow.Field(f.name, v.type, true);
  });
  if (table.numRows === 0) return new arrow.Table(new arrow.Schema(fields));
  return new arrow.Table(cols);
}

/** Rough in-memory size of a table in bytes (Arrow buffers). */
export function arrowBytes(table: arrow.Table): number {
  let n = 0;
  for (const b of table.batches) n += b.data.byteLength;
  return n;
}
