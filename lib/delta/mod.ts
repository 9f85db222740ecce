/**
 * Delta Lake tables in TypeScript: create, append, overwrite, read, time travel, history.
 *
 * @example
 * ```ts
 * import { createTable } from "./lib/delta/mod.ts";
 * const t = await createTable("./lakehouse/orders", schema, { ifNotExists: true });
 * await t.append(rows);
 * ```
 *
 * @module
 */
export * from "./actions.ts";
export * from "./errors.ts";
export * from "./log.ts";
export * from "./snapshot.ts";
export * from "./commit.ts";
export * from "./checkpoint.ts";
export * from "./table.ts";
export * from "./schema.ts";
export * from "./parquet.ts";
export * from "./stats.ts";
export * from "./partition.ts";
export * from "./scan.ts";
export * from "./optimize.ts";
export * from "./vacuum.ts";
