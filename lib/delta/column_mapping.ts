/**
 * Writing tables with column mapping (PROTOCOL.md "Column Mapping", modes `name` and `id`): data
 * files name every column, nested ones too, by its physical name
 * (`delta.columnMapping.physicalName`) and carry its id (`delta.columnMapping.id`) as the Parquet
 * `field_id` (Arrow field metadata `PARQUET:field_id`, which parquet-wasm writes into the Parquet
 * schema); `add.partitionValues` and `add.stats` are keyed by physical names. Columns our writer
 * adds (schema evolution) get a fresh id above `delta.columnMapping.maxColumnId` and a
 * `col-<uuid>` physical name, and the property moves on.
 *
 * Ids of array elements and map keys and values (`delta.columnMapping.nested.ids`, which only
 * icebergCompatV2 asks for) are written when the schema has them.
 *
 * @module
 */
import * as arrow from "apache-arrow";
import type { Protocol } from "./actions.ts";
import { UnsupportedFeatureError } from "./errors.ts";
import {
  type DeltaType,
  physicalName,
  type StructField,
  type StructType,
  toArrowType,
} from "./schema.ts";
import { parseColumnPath, type StatsOptions } from "./stats.ts";

/** Column mapping mode of a table: `none`, or data files use physical names (`name`, `id`). */
export type ColumnMappingMode = "none" | "name" | "id";

/** Table property that sets the mode. */
export const COLUMN_MAPPING_MODE = "delta.columnMapping.mode";
/** Table property holding the largest column id assigned so far. */
export const COLUMN_MAPPING_MAX_ID = "delta.columnMapping.maxColumnId";
/** Field metadata keys. */
export const PHYSICAL_NAME_KEY = "delta.columnMapping.physicalName";
export const COLUMN_ID_KEY = "delta.columnMapping.id";
export const NESTED_IDS_KEY = "delta.columnMapping.nested.ids";
/** Arrow field metadata key parquet-wasm (arrow-rs) writes as the Parquet field_id. */
export const PARQUET_FIELD_ID = "PARQUET:field_id";

/** Whether the protocol supports column mapping (reader 2, writer 5/6, or the table feature). */
export function columnMappingSupported(protocol: Protocol): boolean {
  const w = protocol.minWriterVersion;
  if (w === 5 || w === 6) return true;
  if (w === 7) return (protocol.writerFeatures ?? []).includes("columnMapping");
  return false;
}

/**
 * The column mapping mode a writer must honour: `delta.columnMapping.mode` when the protocol
 * supports the feature (PROTOCOL.md: the property is honoured only then), else `none`. An unknown
 * mode is refused naming it.
 *
 * @example
 * ```ts
 * import { columnMappingMode } from "./column_mapping.ts";
 * const p = { minReaderVersion: 2, minWriterVersion: 5 };
 * columnMappingMode(p, { "delta.columnMapping.mode": "name" }, "t"); // "name"
 * columnMappingMode(p, {}, "t"); // "none"
 * ```
 */
export function columnMappingMode(
  protocol: Protocol,
  configuration: Record<string, string>,
  table: string,
): ColumnMappingMode {
  const raw = configuration[COLUMN_MAPPING_MODE];
  if (raw === undefined || raw === null || !columnMappingSupported(protocol)) return "none";
  const mode = String(raw).toLowerCase();
  if (mode === "none" || mode === "name" || mode === "id") return mode;
  throw new UnsupportedFeatureError(
    `columnMapping mode '${raw}'`,
    "write",
    table,
    `table '${table}' has ${COLUMN_MAPPING_MODE}='${raw}', which is not a column mapping mode ` +
      `this writer knows (none, name, id); write it with Spark`,
  );
}

/**
 * The keys of `add.partitionValues` for a table's partition columns, in order: their physical
 * names when the table uses column mapping, else the names themselves.
 */
export function partitionValueKeys(
  snap: {
    protocol: Protocol;
    configuration: Record<string, string>;
    schema: StructType;
    partitionColumns: string[];
  },
  table = "",
): string[] {
  if (columnMappingMode(snap.protocol, snap.configuration, table) === "none") {
    return snap.partitionColumns;
  }
  return snap.partitionColumns.map((c) => {
    const f = snap.schema.fields.find((x) => x.name === c);
    return f ? physicalName(f) : c;
  });
}

/** The column id of a field (`delta.columnMapping.id`), when it has one. */
export function columnId(f: StructField): number | undefined {
  const v = f.metadata?.[COLUMN_ID_KEY];
  const n = typeof v === "number" ? v : typeof v === "string" ? Number(v) : NaN;
  return Number.isInteger(n) ? n : undefined;
}

/**
 * Visits every struct field of a schema, nested ones (in structs, arrays, maps) included, with
 * its dotted logical path.
 *
 * @example
 * ```ts
 * import { eachField } from "./column_mapping.ts";
 * const paths: string[] = [];
 * eachField({ type: "struct", fields: [{ name: "a", type: { type: "struct", fields: [
 *   { name: "b", type: "long", nullable: true, metadata: {} }] }, nullable: true, metadata: {} }] },
 *   (_f, path) => paths.push(path));
 * paths; // ["a", "a.b"]
 * ```
 */
export function eachField(schema: StructType, visit: (f: StructField, path: string) => void): void {
  const walk = (t: DeltaType, prefix: string) => {
    if (typeof t === "string") return;
    if (t.type === "struct") {
      for (const f of t.fields) {
        const p = prefix ? `${prefix}.${f.name}` : f.name;
        visit(f, p);
        walk(f.type, p);
      }
    } else if (t.type === "array") walk(t.elementType, prefix);
    else {
      walk(t.keyType, prefix);
      walk(t.valueType, prefix);
    }
  };
  walk(schema, "");
}

/**
 * Refuse, naming `columnMapping`, a column-mapped table whose schema this writer cannot write
 * faithfully: a field without a physical name, or (id mode) without a column id.
 */
export function checkColumnMapping(
  schema: StructType,
  mode: ColumnMappingMode,
  table: string,
): void {
  if (mode === "none") return;
  const missing: string[] = [];
  eachField(schema, (f, path) => {
    const p = f.metadata?.[PHYSICAL_NAME_KEY];
    if (typeof p !== "string" || p.length === 0 || (mode === "id" && columnId(f) === undefined)) {
      missing.push(path);
    }
  });
  if (missing.length) {
    throw new UnsupportedFeatureError(
      "columnMapping",
      "write",
      table,
      `table '${table}' uses column mapping ('${mode}') but the columns ${missing.join(", ")} ` +
        `have no ${mode === "id" ? "column id or " : ""}physical name in the schema; ` +
        `write it with Spark`,
    );
  }
}

/** The largest column id in use: `delta.columnMapping.maxColumnId` or the schema's ids. */
export function maxColumnId(schema: StructType, configuration: Record<string, string>): number {
  let max = Number(configuration[COLUMN_MAPPING_MAX_ID] ?? 0);
  if (!Number.isInteger(max)) max = 0;
  eachField(schema, (f) => {
    const id = columnId(f);
    if (id !== undefined && id > max) max = id;
  });
  return max;
}

/**
 * New fields (schema evolution) with column mapping metadata: each field, nested ones too, gets
 * the next id above `maxId` and a `col-<uuid>` physical name. Returns the fields and the new
 * largest id (the table's next `delta.columnMapping.maxColumnId`).
 *
 * @example
 * ```ts
 * import { assignColumnMapping } from "./column_mapping.ts";
 * const { fields, maxId } = assignColumnMapping(
 *   [{ name: "note", type: "string", nullable: true, metadata: {} }],
 *   7,
 * );
 * fields[0].metadata["delta.columnMapping.id"]; // 8
 * maxId; // 8
 * ```
 */
export function assignColumnMapping(
  fields: StructField[],
  maxId: number,
): { fields: StructField[]; maxId: number } {
  let next = maxId;
  const type = (t: DeltaType): DeltaType => {
    if (typeof t === "string") return t;
    if (t.type === "struct") return { type: "struct", fields: t.fields.map(field) };
    if (t.type === "array") return { ...t, elementType: type(t.elementType) };
    return { ...t, keyType: type(t.keyType), valueType: type(t.valueType) };
  };
  const field = (f: StructField): StructField => {
    const id = ++next;
    return {
      name: f.name,
      type: type(f.type),
      nullable: f.nullable,
      metadata: {
        ...f.metadata,
        [COLUMN_ID_KEY]: id,
        [PHYSICAL_NAME_KEY]: `col-${crypto.randomUUID()}`,
      },
    };
  };
  const out = fields.map(field);
  return { fields: out, maxId: next };
}

/** A schema with every field (nested too) renamed to its physical name; metadata kept. */
export function physicalSchema(schema: StructType): StructType {
  const type = (t: DeltaType): DeltaType => {
    if (typeof t === "string") return t;
    if (t.type === "struct") {
      return {
        type: "struct",
        fields: t.fields.map((f) => ({ ...f, name: physicalName(f), type: type(f.type) })),
      };
    }
    if (t.type === "array") return { ...t, elementType: type(t.elementType) };
    return { ...t, keyType: type(t.keyType), valueType: type(t.valueType) };
  };
  return type(schema) as StructType;
}

function idMetadata(id: number | undefined): Map<string, string> | undefined {
  return id === undefined ? undefined : new Map([[PARQUET_FIELD_ID, String(id)]]);
}

/**
 * The Arrow field a data file holds for `f`: its physical name, the table's Arrow type with
 * physical names inside, and the column id as `PARQUET:field_id` (nested fields and, with
 * `delta.columnMapping.nested.ids`, array elements and map keys and values too).
 */
export function physicalArrowField(f: StructField): arrow.Field {
  const phys = physicalName(f);
  const nested = (f.metadata?.[NESTED_IDS_KEY] ?? {}) as Record<string, unknown>;
  const nestedId = (path: string): number | undefined => {
    const v = nested[path];
    const n = typeof v === "number" ? v : typeof v === "string" ? Number(v) : NaN;
    return Number.isInteger(n) ? n : undefined;
  };
  const type = (t: DeltaType, path: string): arrow.DataType => {
    if (typeof t === "string") return toArrowType(t);
    if (t.type === "struct") return new arrow.Struct(t.fields.map(physicalArrowField));
    if (t.type === "array") {
      const p = `${path}.element`;
      return new arrow.List(
        new arrow.Field("element", type(t.elementType, p), t.containsNull, idMetadata(nestedId(p))),
      );
    }
    const kp = `${path}.key`;
    const vp = `${path}.value`;
    return new arrow.Map_(
      new arrow.Field(
        "entries",
        new arrow.Struct<{ key: arrow.DataType; value: arrow.DataType }>([
          new arrow.Field("key", type(t.keyType, kp), false, idMetadata(nestedId(kp))),
          new arrow.Field(
            "value",
            type(t.valueType, vp),
            t.valueContainsNull,
            idMetadata(nestedId(vp)),
          ),
        ] as arrow.Field[]),
        false,
      ),
    );
  };
  return new arrow.Field(phys, type(f.type, phys), f.nullable, idMetadata(columnId(f)));
}

/** The same buffers under another (equal in layout) type: names and field metadata change. */
function relabel(d: arrow.Data, t: arrow.DataType): arrow.Data {
  const kids = t.children ?? [];
  const children = d.children.map((c, i) => (kids[i] ? relabel(c, kids[i].type) : c));
  return d.clone(t, d.offset, d.length, d.nullCount, d.buffers, children);
}

/**
 * How a column-mapped table's rows are written: its physical schema, partition columns and stats
 * options, and the conversion of rows (logical names, the table's Arrow types) to the data files'
 * columns. Undefined for tables without column mapping (names are used as they are).
 */
export interface PhysicalLayout {
  mode: "name" | "id";
  /** The table schema under physical names (stats are computed against it). */
  schema: StructType;
  /** Partition columns by physical name (keys of `partitionValues`, partition directories). */
  partitionColumns: string[];
  /** Physical name of each top-level logical column. */
  names: Map<string, string>;
  /** Stats options of the table with `delta.dataSkippingStatsColumns` in physical names. */
  statsOptions(opts: StatsOptions): StatsOptions;
  /** Rows (logical column names, conformed to the table) as the data file's columns. */
  toPhysical(table: arrow.Table): arrow.Table;
  /** `partitionValues` keyed by physical names. */
  partitionValues(values: Record<string, string | null>): Record<string, string | null>;
}

/**
 * The {@link PhysicalLayout} of a table, or undefined when it does not use column mapping.
 *
 * @example
 * ```ts
 * import * as arrow from "apache-arrow";
 * import { physicalLayout } from "./column_mapping.ts";
 * const schema = { type: "struct" as const, fields: [{ name: "id", type: "long" as const, nullable: true,
 *   metadata: { "delta.columnMapping.id": 1, "delta.columnMapping.physicalName": "col-1" } }] };
 * const layout = physicalLayout("name", schema, [])!;
 * const rows = layout.toPhysical(arrow.tableFromArrays({ id: new BigInt64Array([1n]) }));
 * rows.schema.fields[0].name; // "col-1"
 * rows.schema.fields[0].metadata.get("PARQUET:field_id"); // "1"
 * ```
 */
export function physicalLayout(
  mode: ColumnMappingMode,
  schema: StructType,
  partitionColumns: string[],
): PhysicalLayout | undefined {
  if (mode === "none") return undefined;
  const byName = new Map(schema.fields.map((f) => [f.name, f]));
  const names = new Map(schema.fields.map((f) => [f.name, physicalName(f)]));
  const arrowFields = new Map(schema.fields.map((f) => [f.name, physicalArrowField(f)]));
  const phys = physicalSchema(schema);
  /** A dotted logical path (stats columns) in physical names, as `delta.dataSkippingStatsColumns` wants. */
  const physicalPath = (column: string): string => {
    const parts = parseColumnPath(column);
    let fields: StructField[] | undefined = schema.fields;
    const out: string[] = [];
    for (const p of parts) {
      const f: StructField | undefined = fields?.find((x) => x.name === p) ??
        fields?.find((x) => x.name.toLowerCase() === p.toLowerCase());
      if (!f) return column; // not a column: stays as given (it matches nothing)
      out.push(physicalName(f));
      fields = typeof f.type !== "string" && f.type.type === "struct" ? f.type.fields : undefined;
    }
    return out.map((p) => "`" + p.replace(/`/g, "``") + "`").join(".");
  };
  return {
    mode,
    schema: phys,
    partitionColumns: partitionColumns.map((c) => names.get(c) ?? c),
    names,
    statsOptions(opts) {
      return {
        ...opts,
        ...(opts.statsColumns ? { statsColumns: opts.statsColumns.map(physicalPath) } : {}),
        ...(opts.partitionColumns
          ? { partitionColumns: opts.partitionColumns.map((c) => names.get(c) ?? c) }
          : {}),
      };
    },
    toPhysical(table) {
      const fields = table.schema.fields.map((f) => {
        const pf = arrowFields.get(f.name);
        if (!pf || !byName.has(f.name)) {
          throw new Error(`column '${f.name}' is not in the table schema`);
        }
        return pf;
      });
      const schemaOut = new arrow.Schema(fields);
      const type = new arrow.Struct(fields);
      const batches = table.batches.map((b) =>
        new arrow.RecordBatch(
          schemaOut,
          arrow.makeData({
            type,
            length: b.numRows,
            nullCount: 0,
            children: b.data.children.map((c, i) => relabel(c, fields[i].type)),
          }),
        )
      );
      return new arrow.Table(schemaOut, batches);
    },
    partitionValues(values) {
      const out: Record<string, string | null> = {};
      for (const [k, v] of Object.entries(values)) out[names.get(k) ?? k] = v;
      return out;
    },
  };
}
