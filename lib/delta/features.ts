/**
 * Writer table features: which ones this library honours, what each asks of our commits
 * (in-commit timestamps), and a clear refusal for the ones it cannot honour (generated and
 * identity columns, whose values a writer must compute).
 *
 * What our writer does on tables with the features it accepts:
 * - `deletionVectors`: appends add plain files (no DV); OPTIMIZE rewrites a file with a DV
 *   without its deleted rows; removes keep the DV descriptor of the file they remove.
 * - `changeDataFeed`: appends and dataChange=false compactions need no CDC files (readers derive
 *   inserts from the adds); an overwrite's removes read as deletes of the removed rows.
 * - `inCommitTimestamp`: every commit carries `commitInfo.inCommitTimestamp`, strictly greater
 *   than the previous commit's (commit.ts).
 * - `checkConstraints`, `invariants`: every row an append or overwrite writes is checked
 *   (constraints.ts); a violating row fails the write, naming the constraint.
 * - `domainMetadata`, `clustering`: domains are replayed and kept in checkpoints; our files are
 *   unclustered (no `clusteringProvider`), and compaction leaves clustered files alone.
 * - `v2Checkpoint`: with `delta.checkpointPolicy=v2` our checkpoints are UUID-named V2 ones
 *   (checkpoint.ts); log cleanup deletes sidecars no retained checkpoint references
 *   (maintenance.ts). A table created with that property gets the feature.
 * - `columnMapping` (modes `name` and `id`, also legacy writer version 5): data files name columns
 *   by physical name with their ids as Parquet field ids; partition values and stats are keyed
 *   by physical names; columns we add get new ids and physical names (column_mapping.ts).
 * - `rowTracking`: our adds carry `baseRowId` and `defaultRowCommitVersion`, and the commit the
 *   new `delta.rowTracking` high-water mark; compaction materialises the rows' stable ids and
 *   commit versions, and leaves a table alone when its materialized column names are missing
 *   (row_tracking.ts).
 * - `icebergCompatV1`, `icebergCompatV2` (UniForm): a table breaking a rule it declares (column
 *   mapping off, deletion vectors, types, V2's nested ids) is refused naming the rule; our data
 *   files hold the partition columns after the data columns, adds have `numRecords`, columns we
 *   add get nested ids (iceberg_compat.ts).
 * - `typeWidening`: with `delta.enableTypeWidening=true`, a `mergeSchema` append may widen a
 *   column (integers to a wider integer or double, float to double) in the same commit as its
 *   data, recording `delta.typeChanges` (widening.ts); without the property it is refused.
 *
 * @module
 */
import type { Protocol } from "./actions.ts";
import { UnsupportedFeatureError } from "./errors.ts";
import type { DeltaType, StructType } from "./schema.ts";

/**
 * Writer features this library implements (appendOnly is honoured; CHECK constraints and column
 * invariants are enforced on every row written when their SQL is in the subset of constraints.ts).
 */
export const SUPPORTED_WRITER_FEATURES: ReadonlySet<string> = new Set([
  "appendOnly",
  "invariants",
  "checkConstraints",
  "timestampNtz",
  "vacuumProtocolCheck",
  "deletionVectors",
  "changeDataFeed",
  "inCommitTimestamp",
  "domainMetadata",
  "clustering",
  "v2Checkpoint",
  "columnMapping",
  "rowTracking",
  "icebergCompatV1",
  "icebergCompatV2",
  // Columns widened by mergeSchema appends record `delta.typeChanges` (widening.ts).
  "typeWidening",
]);

/**
 * Reader-writer features a new table needs for its properties: `v2Checkpoint` for
 * `delta.checkpointPolicy=v2`, `typeWidening` for `delta.enableTypeWidening=true` (as Spark adds
 * them).
 *
 * @example
 * ```ts
 * import { propertyFeatures } from "./features.ts";
 * propertyFeatures({ "delta.checkpointPolicy": "v2" }); // ["v2Checkpoint"]
 * propertyFeatures({ "delta.enableTypeWidening": "true" }); // ["typeWidening"]
 * propertyFeatures({}); // []
 * ```
 */
export function propertyFeatures(configuration: Record<string, string>): string[] {
  return [
    ...(configuration["delta.checkpointPolicy"]?.toLowerCase() === "v2" ? ["v2Checkpoint"] : []),
    ...(configuration["delta.enableTypeWidening"]?.toLowerCase() === "true"
      ? ["typeWidening"]
      : []),
  ];
}

/**
 * Whether commits to a table must carry `commitInfo.inCommitTimestamp`: the property
 * `delta.enableInCommitTimestamps` is true (the feature is then in writerFeatures).
 *
 * @example
 * ```ts
 * import { inCommitTimestampsEnabled } from "./features.ts";
 * inCommitTimestampsEnabled({ "delta.enableInCommitTimestamps": "true" }); // true
 * inCommitTimestampsEnabled({}); // false
 * ```
 */
export function inCommitTimestampsEnabled(configuration: Record<string, string>): boolean {
  return configuration["delta.enableInCommitTimestamps"] === "true";
}

/**
 * The in-commit timestamp of a commit attempted at `now` after a commit whose in-commit
 * timestamp was `previous`: the larger of now and previous + 1 ms (PROTOCOL.md).
 *
 * @example
 * ```ts
 * import { nextInCommitTimestamp } from "./features.ts";
 * nextInCommitTimestamp(1000, 5000); // 5000
 * nextInCommitTimestamp(5000, 5000); // 5001
 * ```
 */
export function nextInCommitTimestamp(previous: number | undefined, now: number): number {
  return previous === undefined || now > previous ? now : previous + 1;
}

/** Names of columns (nested ones dotted) whose field metadata has one of `keys`. */
function columnsWith(schema: StructType, keys: string[]): string[] {
  const out: string[] = [];
  const visit = (type: DeltaType, prefix: string) => {
    if (typeof type !== "object" || type === null) return;
    if (type.type === "struct") {
      for (const f of type.fields) {
        const name = prefix ? `${prefix}.${f.name}` : f.name;
        if (keys.some((k) => k in (f.metadata ?? {}))) out.push(name);
        visit(f.type, name);
      }
    } else if (type.type === "array") visit(type.elementType, prefix);
    else if (type.type === "map") visit(type.valueType, prefix);
  };
  visit(schema, "");
  return out;
}

/**
 * Columns whose values a writer would have to compute: generated columns
 * (`delta.generationExpression`) and identity columns (`delta.identity.*`).
 *
 * @example
 * ```ts
 * import { computedColumns } from "./features.ts";
 * import type { StructType } from "./schema.ts";
 * const schema: StructType = {
 *   type: "struct",
 *   fields: [{ name: "day", type: "date", nullable: true, metadata: { "delta.generationExpression": "CAST(ts AS DATE)" } }],
 * };
 * computedColumns(schema); // { generated: ["day"], identity: [] }
 * ```
 */
export function computedColumns(schema: StructType): { generated: string[]; identity: string[] } {
  return {
    generated: columnsWith(schema, ["delta.generationExpression"]),
    identity: columnsWith(schema, ["delta.identity.start", "delta.identity.step"]),
  };
}

/**
 * Refuse, with one line that says what the table would need, to write a table whose protocol
 * has generated or identity columns (writer features, or legacy writer versions 4 and 6 with such
 * columns in the schema).
 */
export function refuseComputedColumns(
  protocol: Protocol,
  schema: StructType,
  table: string,
): void {
  const w = protocol.minWriterVersion;
  const features = w === 7 ? protocol.writerFeatures ?? [] : [];
  const { generated, identity } = computedColumns(schema);
  const list = (cols: string[]) => (cols.length ? ` (${cols.join(", ")})` : "");
  if (features.includes("generatedColumns") || (w >= 4 && w < 7 && generated.length)) {
    throw new UnsupportedFeatureError(
      "generatedColumns",
      "write",
      table,
      `table '${table}' uses generated columns${
        list(generated)
      }; this writer does not compute them: write it with Spark, or drop the feature ` +
        `(ALTER TABLE … DROP FEATURE generatedColumns, after removing the generation expressions)`,
    );
  }
  if (features.includes("identityColumns") || (w === 6 && identity.length)) {
    throw new UnsupportedFeatureError(
      "identityColumns",
      "write",
      table,
      `table '${table}' uses identity columns${
        list(identity)
      }; this writer does not assign their values: write it with Spark, or drop the feature ` +
        `(ALTER TABLE … DROP FEATURE identityColumns, after dropping the identity columns)`,
    );
  }
}

/**
 * Stats of a file we add (no deletion vector: its bounds are exact) as a table with deletion
 * vectors wants them: with `"tightBounds":true`, as Spark writes them; unchanged elsewhere.
 *
 * @example
 * ```ts
 * import { withTightBounds } from "./features.ts";
 * const p = { minReaderVersion: 3, minWriterVersion: 7, readerFeatures: ["deletionVectors"], writerFeatures: ["deletionVectors"] };
 * withTightBounds('{"numRecords":2}', p); // '{"numRecords":2,"tightBounds":true}'
 * ```
 */
export function withTightBounds(stats: string, protocol: Protocol): string {
  if (!(protocol.writerFeatures ?? []).includes("deletionVectors")) return stats;
  if (!stats.endsWith("}") || stats.includes('"tightBounds"')) return stats;
  return stats === "{}" ? '{"tightBounds":true}' : `${stats.slice(0, -1)},"tightBounds":true}`;
}
