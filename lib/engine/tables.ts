/**
 * What a Delta stream writes: a table sink names its Delta tables (targets, committed in order)
 * and turns a batch of Kafka records into one Arrow table per target; the engine's Delta sink
 * (lib/engine/delta_sink.ts) commits them with the batch's offsets (txn actions). The domain's
 * sinks (lib/orders/sinks.ts: raw, cleaned + dead letters) implement it. A table sink is opened
 * again inside the engine's offload worker from its {@link TableSinkSpec}, which names the
 * module that builds it, so the engine never imports the domain.
 *
 * @module
 */
import type { Table } from "apache-arrow";
import type { TableConstraint } from "../delta/constraints.ts";
import type { Snapshot } from "../delta/snapshot.ts";
import type { DeltaTable } from "../delta/table.ts";
import type { RawChunk } from "../kafka/raw.ts";

/** One Delta table a sink writes. */
export interface TableTarget {
  /** Short name for logs and progress (e.g. `orders_raw`). */
  name: string;
  /** The opened table. */
  table: DeltaTable;
  /**
   * Append with Delta's `mergeSchema` (lib/delta/table.ts): new nullable columns of the rows are
   * added, and columns widened where the table has `typeWidening`, in the same commit as the rows.
   */
  mergeSchema?: boolean;
}

/** What a sink built for one batch. */
export interface TableOutput {
  /** One Arrow table per target, in target order. */
  tables: Table[];
  /** Records the sink rejected into a dead-letter target (undefined when it has none). */
  deadLetters?: number;
}

/**
 * How to open a sink again (inside the sink worker): the URL of a module exporting
 * `openSink(spec)`, and whatever that module needs (kind, table locations).
 */
export interface TableSinkSpec {
  /** URL of the module whose `openSink(spec)` opens this sink. */
  module: string;
  /** The sink's own settings (JSON-cloneable). */
  [setting: string]: unknown;
}

/**
 * Turns batches of records into per-table rows. `from(target, partition)` is the first offset
 * that target still needs for that partition: records below it are already in that table.
 * `constraints(target)` are that table's CHECK constraints and column invariants as of the
 * batch (lib/delta/constraints.ts): a sink with a dead-letter target routes the records whose
 * rows would violate one there; rows left violating one fail the table's commit.
 * `snapshot(target)` is that table's snapshot as of the batch (its schema, protocol and
 * properties), for a sink that builds its rows against the table's current schema.
 */
export interface TableSink {
  /** How to open this sink again elsewhere (the engine's worker does). */
  spec: TableSinkSpec;
  /** Tables, committed in this order for each batch. */
  targets: TableTarget[];
  /** Builds the rows of a batch. */
  build(
    chunks: readonly RawChunk[],
    from: (target: number, partition: number) => number,
    constraints?: (target: number) => readonly TableConstraint[],
    snapshot?: (target: number) => Snapshot,
  ): TableOutput;
}

/**
 * Opens the sink a {@link TableSinkSpec} describes, by importing the module it names.
 *
 * @example
 * ```ts
 * import { rawSink } from "../orders/sinks.ts";
 * import { openTableSink } from "./tables.ts";
 * const dir = await Deno.makeTempDir();
 * const sink = await rawSink(`${dir}/orders_raw`);
 * const again = await openTableSink(sink.spec); // the same table, opened again (as a worker does)
 * console.log(again.targets.map((t) => t.name)); // [ "orders_raw" ]
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export async function openTableSink(spec: TableSinkSpec): Promise<TableSink> {
  const mod = await import(spec.module) as {
    openSink?: (spec: TableSinkSpec) => Promise<TableSink>;
  };
  if (typeof mod.openSink !== "function") {
    throw new TypeError(`sink module ${spec.module} does not export openSink(spec)`);
  }
  return mod.openSink(spec);
}
