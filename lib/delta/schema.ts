/**
 * Delta table schemas: Spark's JSON schema (the `schemaString` of `metaData`) and its mapping to
 * Apache Arrow types.
 *
 * Spark parses a schema by matching each object's exact key set, so every type built or accepted
 * here has exactly the keys Spark expects: fields `{name,type,nullable,metadata}`, arrays
 * `{type,elementType,containsNull}`, maps `{type,keyType,valueType,valueContainsNull}`.
 *
 * @module
 */
import * as arrow from "apache-arrow";
import { DeltaError } from "./errors.ts";

/** A primitive Delta type name, e.g. `"long"` or `"decimal(10,2)"`. */
export type PrimitiveType =
  | "long"
  | "integer"
  | "short"
  | "byte"
  | "float"
  | "double"
  | "string"
  | "boolean"
  | "binary"
  | "date"
  | "timestamp"
  | "timestamp_ntz"
  | `decimal(${number},${number})`;

/** A Delta struct type: the table schema itself and nested records. */
export interface StructType {
  type: "struct";
  fields: StructField[];
}

/** One named field of a struct; `metadata` is kept as read (column mapping ids, comments…). */
export interface StructField {
  name: string;
  type: DeltaType;
  nullable: boolean;
  metadata: Record<string, unknown>;
}

/** A Delta array type. */
export interface ArrayType {
  type: "array";
  elementType: DeltaType;
  containsNull: boolean;
}

/** A Delta map type. */
export interface MapType {
  type: "map";
  keyType: DeltaType;
  valueType: DeltaType;
  valueContainsNull: boolean;
}

/** Any Delta data type. */
export type DeltaType = PrimitiveType | StructType | ArrayType | MapType;

/** Thrown when a schema (JSON or Arrow) cannot be used for a Delta table; the message names the column. */
export class SchemaError extends DeltaError {
  override name = "SchemaError";
}

const PRIMITIVES = new Set<string>([
  "long",
  "integer",
  "short",
  "byte",
  "float",
  "double",
  "string",
  "boolean",
  "binary",
  "date",
  "timestamp",
  "timestamp_ntz",
]);

const DECIMAL_RE = /^decimal\(\s*(\d+)\s*,\s*(-?\d+)\s*\)$/;

/** Characters Delta rejects in column names when column mapping is off. */
const INVALID_NAME_CHARS = /[ ,;{}()\n\t=]/;

/** Parse `decimal(p,s)` into precision and scale, or undefined when `t` is not a decimal. */
export function parseDecimal(t: string): { precision: number; scale: number } | undefined {
  if (t === "decimal") return { precision: 10, scale: 0 };
  const m = DECIMAL_RE.exec(t);
  if (!m) return undefined;
  return { precision: Number(m[1]), scale: Number(m[2]) };
}

function keysExactly(o: Record<string, unknown>, keys: string[], where: string): void {
  const got = Object.keys(o).sort();
  const want = [...keys].sort();
  if (got.length !== want.length || got.some((k, i) => k !== want[i])) {
    throw new SchemaError(
      `${where}: expected exactly the keys {${want.join(",")}} but found {${got.join(",")}}`,
    );
  }
}

function parseType(raw: unknown, where: string): DeltaType {
  if (typeof raw === "string") {
    if (PRIMITIVES.has(raw)) return raw as PrimitiveType;
    const dec = parseDecimal(raw);
    if (dec) {
      if (dec.precision < 1 || dec.precision > 38 || dec.scale < 0 || dec.scale > dec.precision) {
        throw new SchemaError(`${where}: invalid decimal precision/scale in '${raw}'`);
      }
      return `decimal(${dec.precision},${dec.scale})`;
    }
    throw new SchemaError(`${where}: unsupported Delta type '${raw}'`);
  }
  if (raw === null || typeof raw !== "object" || Array.isArray(raw)) {
    throw new SchemaError(`${where}: a type must be a string or an object`);
  }
  const o = raw as Record<string, unknown>;
  switch (o.type) {
    case "struct": {
      keysExactly(o, ["type", "fields"], where);
      if (!Array.isArray(o.fields)) throw new SchemaError(`${where}: 'fields' must be an array`);
      return {
        type: "struct",
        fields: o.fields.map((f, i) => parseField(f, `${where}.fields[${i}]`)),
      };
    }
    case "array":
      keysExactly(o, ["type", "elementType", "containsNull"], where);
      if (typeof o.containsNull !== "boolean") {
        throw new SchemaError(`${where}: 'containsNull' must be a boolean`);
      }
      return {
        type: "array",
        elementType: parseType(o.elementType, `${where}.elementType`),
        containsNull: o.containsNull,
      };
    case "map":
      keysExactly(o, ["type", "keyType", "valueType", "valueContainsNull"], where);
      if (typeof o.valueContainsNull !== "boolean") {
        throw new SchemaError(`${where}: 'valueContainsNull' must be a boolean`);
      }
      return {
        type: "map",
        keyType: parseType(o.keyType, `${where}.keyType`),
        valueType: parseType(o.valueType, `${where}.valueType`),
        valueContainsNull: o.valueContainsNull,
      };
    default:
      throw new SchemaError(`${where}: unsupported complex type '${String(o.type)}'`);
  }
}

function parseField(raw: unknown, where: string): StructField {
  if (raw === null || typeof raw !== "object" || Array.isArray(raw)) {
    throw new SchemaError(`${where}: a field must be an object`);
  }
  const o = raw as Record<string, unknown>;
  keysExactly(o, ["name", "type", "nullable", "metadata"], where);
  if (typeof o.name !== "string") throw new SchemaError(`${where}: 'name' must be a string`);
  if (typeof o.nullable !== "boolean") {
    throw new SchemaError(`${where} ('${o.name}'): 'nullable' must be a boolean`);
  }
  if (o.metadata === null || typeof o.metadata !== "object" || Array.isArray(o.metadata)) {
    throw new SchemaError(`${where} ('${o.name}'): 'metadata' must be an object`);
  }
  return {
    name: o.name,
    type: parseType(o.type, `column '${o.name}'`),
    nullable: o.nullable,
    metadata: o.metadata as Record<string, unknown>,
  };
}

/**
 * Parse a `schemaString` (Spark JSON schema) into a {@link StructType}, checking exact key sets.
 *
 * @example
 * ```ts
 * import { parseSchemaString } from "./schema.ts";
 * const s = parseSchemaString('{"type":"struct","fields":[{"name":"id","type":"long","nullable":false,"metadata":{}}]}');
 * s.fields[0].type; // "long"
 * ```
 */
export function parseSchemaString(schemaString: string): StructType {
  let raw: unknown;
  try {
    raw = JSON.parse(schemaString);
  } catch (e) {
    throw new SchemaError(`schemaString is not valid JSON: ${(e as Error).message}`);
  }
  const t = parseType(raw, "schema");
  if (typeof t === "string" || t.type !== "struct") {
    throw new SchemaError("schema: the top-level type must be a struct");
  }
  return t;
}

/** Serialize a {@link StructType} to the `schemaString` JSON Spark expects (keys in Spark's order). */
export function schemaToString(schema: StructType): string {
  return JSON.stringify(normalizeType(schema));
}

function normalizeType(t: DeltaType): unknown {
  if (typeof t === "string") return t;
  switch (t.type) {
    case "struct":
      return {
        type: "struct",
        fields: t.fields.map((f) => ({
          name: f.name,
          type: normalizeType(f.type),
          nullable: f.nullable,
          metadata: f.metadata ?? {},
        })),
      };
    case "array":
      return {
        type: "array",
        elementType: normalizeType(t.elementType),
        containsNull: t.containsNull,
      };
    case "map":
      return {
        type: "map",
        keyType: normalizeType(t.keyType),
        valueType: normalizeType(t.valueType),
        valueContainsNull: t.valueContainsNull,
      };
  }
}

/**
 * The name a field has in data files and `partitionValues`: its column-mapping physical name
 * (`delta.columnMapping.physicalName` in the field metadata) when the table uses column mapping,
 * else its logical name.
 */
export function physicalName(f: StructField): string {
  const p = f.metadata?.["delta.columnMapping.physicalName"];
  return typeof p === "string" && p.length > 0 ? p : f.name;
}

/** True when `t` is a primitive (non-nested) Delta type. */
export function isPrimitive(t: DeltaType): t is PrimitiveType {
  return typeof t === "string";
}

/**
 * Table features a schema needs beyond protocol (1,2): `timestampNtz` when any column (nested too)
 * is `timestamp_ntz`. A table with such a column must use protocol (3,7) with the feature listed
 * in both `readerFeatures` and `writerFeatures`.
 */
export function schemaFeatures(schema: StructType): string[] {
  let ntz = false;
  const visit = (t: DeltaType): void => {
    if (typeof t === "string") {
      if (t === "timestamp_ntz") ntz = true;
      return;
    }
    if (t.type === "struct") t.fields.forEach((f) => visit(f.type));
    else if (t.type === "array") visit(t.elementType);
    else {
      visit(t.keyType);
      visit(t.valueType);
    }
  };
  visit(schema);
  return ntz ? ["timestampNtz"] : [];
}

/** Options of {@link validateSchema} and {@link toDeltaSchema}. */
export interface SchemaValidation {
  /** The table uses column mapping: any non-empty name is allowed (still unique ignoring case). */
  columnMapping?: boolean;
}

/**
 * Check the column names of a schema (nested too) the way Delta does without column mapping:
 * no space `,` `;` `{` `}` `(` `)` newline tab `=`, non-empty, unique ignoring case per struct.
 * With column mapping only the last two rules hold.
 */
export function validateSchema(schema: StructType, opts: SchemaValidation = {}): void {
  const visit = (t: DeltaType, path: string): void => {
    if (typeof t === "string") return;
    if (t.type === "array") return visit(t.elementType, `${path}.element`);
    if (t.type === "map") {
      visit(t.keyType, `${path}.key`);
      return visit(t.valueType, `${path}.value`);
    }
    const seen = new Map<string, string>();
    for (const f of t.fields) {
      const full = path ? `${path}.${f.name}` : f.name;
      if (f.name.length === 0) {
        throw new SchemaError(`a column under '${path || "<root>"}' has an empty name`);
      }
      if (!opts.columnMapping && INVALID_NAME_CHARS.test(f.name)) {
        throw new SchemaError(
          `column '${full}': names may not contain space , ; { } ( ) newline tab or = ` +
            `(Delta needs column mapping for those); rename the column`,
        );
      }
      const lower = f.name.toLowerCase();
      const prev = seen.get(lower);
      if (prev !== undefined) {
        throw new SchemaError(
          `columns '${prev}' and '${f.name}' under '${path || "<root>"}' differ only by case; ` +
            `Delta column names must be unique ignoring case`,
        );
      }
      seen.set(lower, f.name);
      visit(f.type, full);
    }
  };
  visit(schema, "");
}

/** The Arrow type used for a Delta type (timestamps are µs; `timestamp` is UTC). */
export function toArrowType(t: DeltaType): arrow.DataType {
  if (typeof t === "string") {
    switch (t) {
      case "long":
        return new arrow.Int64();
      case "integer":
        return new arrow.Int32();
      case "short":
        return new arrow.Int16();
      case "byte":
        return new arrow.Int8();
      case "double":
        return new arrow.Float64();
      case "float":
        return new arrow.Float32();
      case "string":
        return new arrow.Utf8();
      case "boolean":
        return new arrow.Bool();
      case "binary":
        return new arrow.Binary();
      case "date":
        return new arrow.DateDay();
      case "timestamp":
        return new arrow.TimestampMicrosecond("UTC");
      case "timestamp_ntz":
        return new arrow.TimestampMicrosecond();
      default: {
        const dec = parseDecimal(t);
        if (dec) return new arrow.Decimal(dec.scale, dec.precision, 128);
        throw new SchemaError(`unsupported Delta type '${t}'`);
      }
    }
  }
  switch (t.type) {
    case "struct":
      return new arrow.Struct(t.fields.map(toArrowField));
    case "array":
      return new arrow.List(new arrow.Field("element", toArrowType(t.elementType), t.containsNull));
    case "map":
      return new arrow.Map_(
        new arrow.Field(
          "entries",
          new arrow.Struct<{ key: arrow.DataType; value: arrow.DataType }>([
            new arrow.Field("key", toArrowType(t.keyType), false),
            new arrow.Field("value", toArrowType(t.valueType), t.valueContainsNull),
          ] as arrow.Field[]),
          false,
        ),
      );
  }
}

/** The Arrow field for a Delta field (same name and nullability). */
export function toArrowField(f: StructField): arrow.Field {
  return new arrow.Field(f.name, toArrowType(f.type), f.nullable);
}

/**
 * Convert a Delta schema to an Arrow schema.
 *
 * @example
 * ```ts
 * import { toArrowSchema } from "./schema.ts";
 * const a = toArrowSchema({ type: "struct", fields: [
 *   { name: "id", type: "long", nullable: false, metadata: {} },
 *   { name: "ts", type: "timestamp", nullable: true, metadata: {} },
 * ] });
 * a.fields.map((f) => String(f.type)); // ["Int64", "Timestamp<MICROSECOND, UTC>"]
 * ```
 */
export function toArrowSchema(schema: StructType): arrow.Schema {
  return new arrow.Schema(schema.fields.map(toArrowField));
}

function fromArrowType(t: arrow.DataType, column: string): DeltaType {
  const unsupported = (hint: string): never => {
    throw new SchemaError(`column '${column}': Arrow type ${String(t)} is not supported; ${hint}`);
  };
  switch (t.typeId) {
    case arrow.Type.Int: {
      const it = t as arrow.Int;
      if (!it.isSigned) return unsupported("widen unsigned integers to a signed type (e.g. Int64)");
      return ({ 8: "byte", 16: "short", 32: "integer", 64: "long" } as const)[it.bitWidth];
    }
    case arrow.Type.Float: {
      const ft = t as arrow.Float;
      if (ft.precision === arrow.Precision.DOUBLE) return "double";
      if (ft.precision === arrow.Precision.SINGLE) return "float";
      return unsupported("convert Float16 to Float32");
    }
    case arrow.Type.Utf8:
      return "string";
    case arrow.Type.Bool:
      return "boolean";
    case arrow.Type.Binary:
      return "binary";
    case arrow.Type.Date: {
      if ((t as arrow.Date_).unit !== arrow.DateUnit.DAY) {
        return unsupported("use DateDay (days since epoch)");
      }
      return "date";
    }
    case arrow.Type.Timestamp: {
      const ts = t as arrow.Timestamp;
      if (ts.unit !== arrow.TimeUnit.MICROSECOND) {
        return unsupported('convert timestamps to TimestampMicrosecond("UTC")');
      }
      return ts.timezone ? "timestamp" : "timestamp_ntz";
    }
    case arrow.Type.Decimal: {
      const d = t as arrow.Decimal;
      if (d.precision > 38 || d.bitWidth !== 128) {
        return unsupported("Delta decimals have precision ≤ 38 (Decimal128)");
      }
      return `decimal(${d.precision},${d.scale})`;
    }
    case arrow.Type.Struct:
      return {
        type: "struct",
        fields: (t as arrow.Struct).children.map((c) => fromArrowField(c, `${column}.${c.name}`)),
      };
    case arrow.Type.List: {
      const child = (t as arrow.List).children[0];
      return {
        type: "array",
        elementType: fromArrowType(child.type, `${column}.element`),
        containsNull: child.nullable,
      };
    }
    case arrow.Type.Map: {
      const m = t as arrow.Map_;
      const [k, v] = m.children[0].type.children;
      return {
        type: "map",
        keyType: fromArrowType(k.type, `${column}.key`),
        valueType: fromArrowType(v.type, `${column}.value`),
        valueContainsNull: v.nullable,
      };
    }
    case arrow.Type.Dictionary:
      return unsupported(
        "build string columns as plain Utf8 (pass `new Utf8()`), not dictionaries",
      );
    default:
      return unsupported("Delta has no matching type");
  }
}

function fromArrowField(f: arrow.Field, column: string): StructField {
  return { name: f.name, type: fromArrowType(f.type, column), nullable: f.nullable, metadata: {} };
}

/**
 * Convert an Arrow schema to a Delta schema, rejecting types Delta cannot hold and column names
 * Delta rejects (see {@link validateSchema}). A tz-less µs timestamp becomes `timestamp_ntz`,
 * which needs the `timestampNtz` table feature (see {@link schemaFeatures}).
 *
 * @example
 * ```ts
 * import * as arrow from "apache-arrow";
 * import { schemaToString, toDeltaSchema } from "./schema.ts";
 * const s = toDeltaSchema(new arrow.Schema([new arrow.Field("id", new arrow.Int64(), false)]));
 * schemaToString(s); // {"type":"struct","fields":[{"name":"id","type":"long","nullable":false,"metadata":{}}]}
 * ```
 */
export function toDeltaSchema(schema: arrow.Schema, opts: SchemaValidation = {}): StructType {
  const s: StructType = {
    type: "struct",
    fields: schema.fields.map((f) => fromArrowField(f, f.name)),
  };
  validateSchema(s, opts);
  return s;
}

/** A leaf column of a schema: its path of field names and its type (arrays/maps are leaves). */
export interface LeafColumn {
  path: string[];
  type: DeltaType;
}

/** The leaf columns of a schema in order, descending into structs only. */
export function leafColumns(schema: StructType): LeafColumn[] {
  const out: LeafColumn[] = [];
  const visit = (s: StructType, prefix: string[]): void => {
    for (const f of s.fields) {
      const p = [...prefix, f.name];
      if (typeof f.type !== "string" && f.type.type === "struct") visit(f.type, p);
      else out.push({ path: p, type: f.type });
    }
  };
  visit(schema, []);
  return out;
}
