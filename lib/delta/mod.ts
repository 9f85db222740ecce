/**
 * Delta Lake tables in TypeScript: create, append, overwrite, read, time travel, history.
 *
 * @example
 * ```ts
 * import * as arrow from "apache-arrow";
 * import { createTable } from "./mod.ts";
 * const rows = arrow.tableFromArrays({ order_id: new BigInt64Array([1n, 2n]) });
 * const dir = await Deno.makeTempDir();
 * const t = await createTable(`${dir}/orders`, rows.schema, { ifNotExists: true });
 * await t.append(rows);
 * (await t.read()).numRows; // 2
 * await Deno.remove(dir, { recursive: true });
 * ```
 *
 * @module
 */
export * from "./actions.ts";
export * from "./errors.ts";
export * from "./constraints.ts";
export * from "./log.ts";
export * from "./snapshot.ts";
export * from "./commit.ts";
export * from "./checkpoint.ts";
export * from "./table.ts";
export * from "./schema.ts";
export * from "./parquet.ts";
export * from "./stats.ts";
export * from "./partition.ts";
export * from "./partition_value.ts";
export * from "./physical.ts";
export * from "./scan.ts";
export * from "./optimize.ts";
export * from "./vacuum.ts";
export * from "./maintenance.ts";
export * from "./iceberg_compat.ts";
