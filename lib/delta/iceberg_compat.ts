/**
 * The Iceberg compatibility writer features (PROTOCOL.md "Iceberg Compatibility V1" and "V2",
 * the tables Databricks and Fabric make with UniForm): what a writer must keep true on a table
 * where `icebergCompatV1`/`icebergCompatV2` is in `writerFeatures` and its property
 * `delta.enableIcebergCompatV1`/`V2` is `true` (the feature is then active).
 *
 * Rules a table must already satisfy (checked by {@link checkIcebergCompat}; a table breaking one
 * is refused with a one-line error naming the feature and the rule):
 * - column mapping is on, mode `name` or `id`;
 * - V1: the `deletionVectors` feature is absent; V2: deletion vectors are not enabled, and V1 is
 *   not active at the same time;
 * - V1: no array, map or void types; V2: only byte, short, integer, long, float, double, decimal,
 *   string, binary, boolean, date, timestamp, timestamp_ntz, array, map and struct;
 * - V2: every array element and map key and value has an id in the nearest enclosing field's
 *   `delta.columnMapping.nested.ids` (unique, and none equal to a column id);
 * - type changes recorded by type widening (`delta.typeChanges`) are ones Iceberg allows.
 *
 * What our writes do on such tables: data files hold the partition columns too, after the data
 * columns ({@link withPartitionColumns}; appends and compaction); nested ids are written as
 * Parquet field ids (column_mapping.ts), and columns added by schema evolution get new ones
 * ({@link assignNestedIds}); every add carries `numRecords` in its stats ({@link checkNumRecords});
 * timestamps are INT64 microseconds (parquet.ts). Replacing the partitioning is not something
 * this writer does (overwrite keeps the table's partition columns).
 *
 * @module
 */
import * as arrow from "apache-arrow";
import { batchOf } from "../arrow/columns.ts";
import type { AddAction, Protocol } from "./actions.ts";
import { DeltaError, UnsupportedFeatureError } from "./errors.ts";
import { type DeltaType, type StructField, type StructType, toArrowType } from "./schema.ts";
import {
  columnMappingMode,
  eachField,
  NESTED_IDS_KEY,
  PHYSICAL_NAME_KEY,
} from "./column_mapping.ts";
import { constantVector, parsePartitionValue } from "./partition_value.ts";

/** The feature names, by compatibility version. */
export const ICEBERG_COMPAT_FEATURES = { 1: "icebergCompatV1", 2: "icebergCompatV2" } as const;

/**
 * The table property that enables a version.
 *
 * @example
 * ```ts
 * import { icebergCompatProperty } from "./iceberg_compat.ts";
 * icebergCompatProperty(2); // "delta.enableIcebergCompatV2"
 * ```
 */
export function icebergCompatProperty(version: 1 | 2): string {
  return `delta.enableIcebergCompatV${version}`;
}

/**
 * The Iceberg compatibility versions active on a table: the feature is in `writerFeatures` and
 * its property is `true` (a supported feature whose property is off asks nothing of writers).
 *
 * @example
 * ```ts
 * import { icebergCompatVersions } from "./iceberg_compat.ts";
 * const p = { minReaderVersion: 3, minWriterVersion: 7, writerFeatures: ["columnMapping", "icebergCompatV2"] };
 * icebergCompatVersions(p, { "delta.enableIcebergCompatV2": "true" }); // [2]
 * icebergCompatVersions(p, {}); // []
 * ```
 */
export function icebergCompatVersions(
  protocol: Protocol,
  configuration: Record<string, string>,
): (1 | 2)[] {
  const features = protocol.minWriterVersion === 7 ? protocol.writerFeatures ?? [] : [];
  return ([1, 2] as const).filter((v) =>
    features.includes(ICEBERG_COMPAT_FEATURES[v]) &&
    String(configuration[icebergCompatProperty(v)]).toLowerCase() === "true"
  );
}

/**
 * Whether data files of the table must hold its partition columns (any version active).
 *
 * @example
 * ```ts
 * import { materializesPartitions } from "./iceberg_compat.ts";
 * const p = { minReaderVersion: 2, minWriterVersion: 7, writerFeatures: ["columnMapping", "icebergCompatV1"] };
 * materializesPartitions(p, { "delta.enableIcebergCompatV1": "true" }); // true
 * ```
 */
export function materializesPartitions(
  protocol: Protocol,
  configuration: Record<string, string>,
): boolean {
  return icebergCompatVersions(protocol, configuration).length > 0;
}

const V2_TYPES = new Set([
  "byte",
  "short",
  "integer",
  "long",
  "float",
  "double",
  "string",
  "binary",
  "boolean",
  "timestamp",
  "timestamp_ntz",
  "date",
]);

/** The paths of the types a version does not allow, with the type's name. */
function disallowedTypes(schema: StructType, version: 1 | 2): string[] {
  const out: string[] = [];
  const visit = (t: DeltaType, path: string) => {
    if (typeof t === "string") {
      const name = String(t);
      const ok = version === 1 ? name !== "void" : V2_TYPES.has(name) || /^decimal\(/.test(name);
      if (!ok) out.push(`${path} (${t})`);
      return;
    }
    if (t.type === "struct") {
      for (const f of t.fields) visit(f.type, path ? `${path}.${f.name}` : f.name);
    } else if (t.type === "array") {
      if (version === 1) out.push(`${path} (array)`);
      visit(t.elementType, `${path}.element`);
    } else {
      if (version === 1) out.push(`${path} (map)`);
      visit(t.keyType, `${path}.key`);
      visit(t.valueType, `${path}.value`);
    }
  };
  visit(schema, "");
  return out;
}

/** Integer of a metadata value (number or numeric string), else undefined. */
function intOf(v: unknown): number | undefined {
  const n = typeof v === "number" ? v : typeof v === "string" && v !== "" ? Number(v) : NaN;
  return Number.isInteger(n) ? n : undefined;
}

/** The nested-id keys a field needs: `<physical>.element`, `<physical>.key`, … (in depth order). */
function nestedIdPaths(t: DeltaType, prefix: string): string[] {
  if (typeof t === "string" || t.type === "struct") return [];
  if (t.type === "array") {
    const p = `${prefix}.element`;
    return [p, ...nestedIdPaths(t.elementType, p)];
  }
  const k = `${prefix}.key`;
  const v = `${prefix}.value`;
  return [k, ...nestedIdPaths(t.keyType, k), v, ...nestedIdPaths(t.valueType, v)];
}

/** Problems with the nested ids of a V2 table: missing keys, duplicates, clashes with column ids. */
function nestedIdProblems(schema: StructType): string[] {
  const columnIds = new Set<number>();
  eachField(schema, (f) => {
    const id = intOf(f.metadata?.["delta.columnMapping.id"]);
    if (id !== undefined) columnIds.add(id);
  });
  const seen = new Map<number, string>();
  const problems: string[] = [];
  eachField(schema, (f, path) => {
    const phys = String(f.metadata?.[PHYSICAL_NAME_KEY] ?? f.name);
    const ids = (f.metadata?.[NESTED_IDS_KEY] ?? {}) as Record<string, unknown>;
    for (const key of nestedIdPaths(f.type, phys)) {
      const id = intOf(ids[key]);
      const where = `${path}${key.slice(phys.length)}`;
      if (id === undefined) problems.push(`${where} has no id in ${NESTED_IDS_KEY}`);
      else if (columnIds.has(id)) problems.push(`${where} has id ${id}, also a column id`);
      else if (seen.has(id)) problems.push(`${where} has id ${id}, as ${seen.get(id)} has`);
      else seen.set(id, where);
    }
  });
  return problems;
}

const INTEGRAL = ["byte", "short", "integer", "long"];

/**
 * Whether Iceberg (V2 schema evolution) allows changing a column from one type to another.
 *
 * @example
 * ```ts
 * import { icebergTypeChangeAllowed } from "./iceberg_compat.ts";
 * icebergTypeChangeAllowed("integer", "long"); // true
 * icebergTypeChangeAllowed("integer", "double"); // false
 * ```
 */
export function icebergTypeChangeAllowed(from: string, to: string): boolean {
  const a = INTEGRAL.indexOf(from);
  const b = INTEGRAL.indexOf(to);
  if (a >= 0 && b >= 0) return a <= b;
  if (from === "float" && to === "double") return true;
  const d1 = /^decimal\((\d+),\s*(\d+)\)$/.exec(from);
  const d2 = /^decimal\((\d+),\s*(\d+)\)$/.exec(to);
  if (d1 && d2) return d1[2] === d2[2] && Number(d2[1]) >= Number(d1[1]);
  return from === to;
}

/** Type changes recorded on the schema (`delta.typeChanges`) that Iceberg does not allow. */
function badTypeChanges(schema: StructType): string[] {
  const out: string[] = [];
  eachField(schema, (f, path) => {
    const changes = f.metadata?.["delta.typeChanges"];
    if (!Array.isArray(changes)) return;
    for (const c of changes as { fromType?: unknown; toType?: unknown; fieldPath?: string }[]) {
      const from = String(c.fromType);
      const to = String(c.toType);
      if (!icebergTypeChangeAllowed(from, to)) {
        out.push(`${path}${c.fieldPath ? `.${c.fieldPath}` : ""} (${from} to ${to})`);
      }
    }
  });
  return out;
}

/**
 * Refuse, with one line naming the feature and the rule, to write a table whose active Iceberg
 * compatibility feature it breaks (the rules are listed in the module doc). Tables without an
 * active version pass.
 *
 * @example
 * ```ts
 * import { checkIcebergCompat } from "./iceberg_compat.ts";
 * const p = { minReaderVersion: 3, minWriterVersion: 7, readerFeatures: [], writerFeatures: ["icebergCompatV2"] };
 * const schema = { type: "struct" as const, fields: [] };
 * try {
 *   checkIcebergCompat(p, schema, { "delta.enableIcebergCompatV2": "true" }, "t");
 * } catch (e) {
 *   (e as Error).message; // "cannot write Delta table 't': it declares icebergCompatV2, which requires column mapping …"
 * }
 * ```
 */
export function checkIcebergCompat(
  protocol: Protocol,
  schema: StructType,
  configuration: Record<string, string>,
  table: string,
): void {
  const versions = icebergCompatVersions(protocol, configuration);
  for (const v of versions) {
    const feature = ICEBERG_COMPAT_FEATURES[v];
    const refuse = (rule: string): never => {
      throw new UnsupportedFeatureError(
        feature,
        "write",
        table,
        `cannot write Delta table '${table}': it declares ${feature} (` +
          `${icebergCompatProperty(v)}=true), which ${rule}; fix the table with Spark (or unset ` +
          `${icebergCompatProperty(v)})`,
      );
    };
    if (v === 2 && versions.includes(1)) {
      refuse("requires icebergCompatV1 to be off, but delta.enableIcebergCompatV1 is true too");
    }
    const mode = columnMappingMode(protocol, configuration, table);
    if (mode === "none") {
      refuse(
        "requires column mapping (delta.columnMapping.mode name or id), but the table has none",
      );
    }
    const dv = (protocol.writerFeatures ?? []).includes("deletionVectors");
    if (v === 1 && dv) {
      refuse("forbids deletion vectors, but the protocol has the deletionVectors feature");
    }
    if (v === 2 && dv && String(configuration["delta.enableDeletionVectors"]) === "true") {
      refuse("forbids deletion vectors, but delta.enableDeletionVectors is true");
    }
    const types = disallowedTypes(schema, v);
    if (types.length) {
      refuse(`does not allow the types of the columns ${types.join(", ")}`);
    }
    if (v === 2) {
      const problems = nestedIdProblems(schema);
      if (problems.length) {
        refuse(`requires ids for array elements and map keys and values: ${problems.join("; ")}`);
      }
    }
    const changes = badTypeChanges(schema);
    if (changes.length) {
      refuse(`allows only type changes Iceberg allows, not ${changes.join(", ")}`);
    }
  }
}

/**
 * Fields (new columns of schema evolution, with column mapping metadata already) with the nested
 * ids icebergCompatV2 asks for: each array element and map key and value gets the next id above
 * `maxId`. Returns the fields and the new largest id (the table's next
 * `delta.columnMapping.maxColumnId`).
 *
 * @example
 * ```ts
 * import { assignNestedIds } from "./iceberg_compat.ts";
 * const { fields, maxId } = assignNestedIds([{
 *   name: "tags",
 *   type: { type: "array", elementType: "string", containsNull: true },
 *   nullable: true,
 *   metadata: { "delta.columnMapping.id": 8, "delta.columnMapping.physicalName": "col-a" },
 * }], 8);
 * fields[0].metadata["delta.columnMapping.nested.ids"]; // { "col-a.element": 9 }
 * maxId; // 9
 * ```
 */
export function assignNestedIds(
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
    const phys = String(f.metadata?.[PHYSICAL_NAME_KEY] ?? f.name);
    const paths = nestedIdPaths(f.type, phys);
    const ids: Record<string, number> = {};
    for (const p of paths) ids[p] = ++next;
    return {
      ...f,
      type: type(f.type),
      metadata: paths.length ? { ...f.metadata, [NESTED_IDS_KEY]: ids } : f.metadata,
    };
  };
  const out = fields.map(field);
  return { fields: out, maxId: next };
}

/**
 * Rows of one partition (data columns only) with the partition columns after them, each the
 * constant its `partitionValues` string stands for (logical names and the table's types), as
 * the Iceberg compatibility features want data files.
 *
 * @example
 * ```ts
 * import * as arrow from "apache-arrow";
 * import { withPartitionColumns } from "./iceberg_compat.ts";
 * const rows = arrow.tableFromArrays({ id: new BigInt64Array([1n, 2n]) });
 * const schema = { type: "struct" as const, fields: [
 *   { name: "id", type: "long" as const, nullable: true, metadata: {} },
 *   { name: "state", type: "string" as const, nullable: true, metadata: {} },
 * ] };
 * const t = withPartitionColumns(rows, schema, ["state"], { state: "CA" });
 * t.getChild("state")?.get(1); // "CA"
 * ```
 */
export function withPartitionColumns(
  rows: arrow.Table,
  schema: StructType,
  partitionColumns: string[],
  values: Record<string, string | null>,
): arrow.Table {
  if (partitionColumns.length === 0) return rows;
  const fields = partitionColumns.map((c) => {
    const f = schema.fields.find((x) => x.name === c);
    if (!f) throw new DeltaError(`partition column '${c}' is not in the table schema`);
    return f;
  });
  const vectors = fields.map((f) => (n: number) =>
    constantVector(f.type, parsePartitionValue(values[f.name] ?? null, f.type), n)
  );
  const arrowFields = fields.map((f) => new arrow.Field(f.name, toArrowType(f.type), f.nullable));
  const out = new arrow.Schema([...rows.schema.fields, ...arrowFields]);
  const batches = rows.batches.map((b) =>
    batchOf(out, b.numRows, [
      ...b.data.children,
      ...vectors.map((make) => make(b.numRows).data[0]),
    ])
  );
  return new arrow.Table(out, batches);
}

/**
 * The largest nested id (`delta.columnMapping.nested.ids`) of a schema, 0 when it has none: new
 * column ids must stay above it as well as above `delta.columnMapping.maxColumnId`.
 *
 * @example
 * ```ts
 * import { maxNestedId } from "./iceberg_compat.ts";
 * maxNestedId({ type: "struct", fields: [{ name: "a", type: { type: "array", elementType: "long", containsNull: true },
 *   nullable: true, metadata: { "delta.columnMapping.nested.ids": { "col-a.element": 12 } } }] }); // 12
 * ```
 */
export function maxNestedId(schema: StructType): number {
  let max = 0;
  eachField(schema, (f) => {
    const ids = f.metadata?.[NESTED_IDS_KEY];
    if (!ids || typeof ids !== "object") return;
    for (const v of Object.values(ids as Record<string, unknown>)) {
      const id = intOf(v);
      if (id !== undefined && id > max) max = id;
    }
  });
  return max;
}

/**
 * Refuse a commit whose adds lack `numRecords` in their stats on a table with an active Iceberg
 * compatibility feature (every add must have it). Our stats always have it: a guard.
 *
 * @example
 * ```ts
 * import { checkNumRecords } from "./iceberg_compat.ts";
 * const p = { minReaderVersion: 2, minWriterVersion: 7, writerFeatures: ["columnMapping", "icebergCompatV2"] };
 * const add = { path: "a.parquet", partitionValues: {}, size: 1, modificationTime: 0, dataChange: true, stats: '{"numRecords":3}' };
 * checkNumRecords([add], p, { "delta.enableIcebergCompatV2": "true" }, "t"); // passes
 * ```
 */
export function checkNumRecords(
  adds: AddAction[],
  protocol: Protocol,
  configuration: Record<string, string>,
  table: string,
): void {
  const versions = icebergCompatVersions(protocol, configuration);
  if (!versions.length) return;
  const bad = adds.find((a) => !/"numRecords":\d/.test(a.stats ?? ""));
  if (bad) {
    throw new DeltaError(
      `cannot commit to '${table}': ${
        ICEBERG_COMPAT_FEATURES[versions.at(-1)!]
      } requires numRecords in every add's stats, and '${bad.path}' has none`,
    );
  }
}
