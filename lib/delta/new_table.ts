/**
 * What the properties of a table we create ask of its first version, as Spark does it on CREATE
 * TABLE: column mapping (`delta.columnMapping.mode` `name` or `id`: every field, nested ones too,
 * gets an id and a `col-<uuid>` physical name, and `delta.columnMapping.maxColumnId` is set), row
 * tracking (`delta.enableRowTracking=true`: the `rowTracking` and `domainMetadata` writer
 * features and the names of the materialized row id and commit version columns), and the Iceberg
 * compatibility features (`delta.enableIcebergCompatV1`/`V2=true`: the feature, column mapping
 * (mode `name` unless another is given), V2's nested ids; a schema the version does not allow is
 * refused, as any rule the table would break).
 *
 * @module
 */
import type { Protocol } from "./actions.ts";
import { DeltaError } from "./errors.ts";
import {
  assignColumnMapping,
  COLUMN_MAPPING_MAX_ID,
  COLUMN_MAPPING_MODE,
} from "./column_mapping.ts";
import {
  assignNestedIds,
  checkIcebergCompat,
  ICEBERG_COMPAT_FEATURES,
  icebergCompatProperty,
} from "./iceberg_compat.ts";
import {
  ENABLE_ROW_TRACKING,
  MATERIALIZED_ROW_COMMIT_VERSION,
  MATERIALIZED_ROW_ID,
} from "./row_tracking.ts";
import type { StructType } from "./schema.ts";

/** A new table's schema, properties and the table features they need. */
export interface NewTableLayout {
  /** The schema (with column mapping metadata when the mode asks for it). */
  schema: StructType;
  /** The properties, with the ones Spark adds (maxColumnId, materialized column names…). */
  configuration: Record<string, string>;
  /** Reader-writer features the properties need (in readerFeatures and writerFeatures). */
  readerWriter: string[];
  /** Writer-only features the properties need. */
  writerOnly: string[];
}

/**
 * The column mapping mode a new table's properties ask for (`none` when they ask for none;
 * `name` when they turn an Iceberg compatibility version on without a mode).
 *
 * @example
 * ```ts
 * import { requestedColumnMapping } from "./new_table.ts";
 * requestedColumnMapping({ "delta.enableIcebergCompatV2": "true" }); // "name"
 * requestedColumnMapping({}); // "none"
 * ```
 */
export function requestedColumnMapping(configuration: Record<string, string>): string {
  const icebergOn = ([1, 2] as const).some((v) =>
    String(configuration[icebergCompatProperty(v)]).toLowerCase() === "true"
  );
  const raw = configuration[COLUMN_MAPPING_MODE];
  return raw === undefined ? (icebergOn ? "name" : "none") : String(raw).toLowerCase();
}

/**
 * The {@link NewTableLayout} of a table created with `schema` and `configuration`.
 *
 * @example
 * ```ts
 * import { newTableLayout } from "./new_table.ts";
 * const schema = { type: "struct" as const, fields: [{ name: "id", type: "long" as const, nullable: true, metadata: {} }] };
 * const t = newTableLayout(schema, { "delta.columnMapping.mode": "name" }, "t");
 * t.readerWriter; // ["columnMapping"]
 * t.configuration["delta.columnMapping.maxColumnId"]; // "1"
 * t.schema.fields[0].metadata["delta.columnMapping.id"]; // 1
 * ```
 */
export function newTableLayout(
  schema: StructType,
  configuration: Record<string, string>,
  table: string,
): NewTableLayout {
  const config = { ...configuration };
  const readerWriter: string[] = [];
  const writerOnly: string[] = [];
  let out = schema;
  const mode = requestedColumnMapping(config);
  if (mode !== "none" && mode !== "name" && mode !== "id") {
    throw new DeltaError(
      `cannot create '${table}': ${COLUMN_MAPPING_MODE}='${config[COLUMN_MAPPING_MODE]}' is not ` +
        `a column mapping mode (none, name, id)`,
    );
  }
  const iceberg = ([1, 2] as const).filter((v) =>
    String(config[icebergCompatProperty(v)]).toLowerCase() === "true"
  );
  if (mode !== "none") {
    config[COLUMN_MAPPING_MODE] = mode;
    let assigned = assignColumnMapping(schema.fields, 0);
    if (iceberg.includes(2)) assigned = assignNestedIds(assigned.fields, assigned.maxId);
    out = { type: "struct", fields: assigned.fields };
    config[COLUMN_MAPPING_MAX_ID] = String(assigned.maxId);
    readerWriter.push("columnMapping");
  }
  if (String(config[ENABLE_ROW_TRACKING]).toLowerCase() === "true") {
    config[MATERIALIZED_ROW_ID] ??= `_row-id-col-${crypto.randomUUID()}`;
    config[MATERIALIZED_ROW_COMMIT_VERSION] ??= `_row-commit-version-col-${crypto.randomUUID()}`;
    writerOnly.push("domainMetadata", "rowTracking");
  }
  for (const v of iceberg) writerOnly.push(ICEBERG_COMPAT_FEATURES[v]);
  if (iceberg.length) {
    // The rules of the versions asked for, on the table as it would be.
    const protocol: Protocol = {
      minReaderVersion: 3,
      minWriterVersion: 7,
      readerFeatures: readerWriter,
      writerFeatures: [...readerWriter, ...writerOnly],
    };
    checkIcebergCompat(protocol, out, config, table);
  }
  return { schema: out, configuration: config, readerWriter, writerOnly };
}
