/**
 * Background auto-compaction for the Delta sink: the rewrite of small files runs in a worker
 * thread of its own, so a stream's next micro-batch never waits for it (before, one compaction
 * of 30 small files held the batch loop for 0.8–2.8 s at 2,000 orders/s). A worker starts when a
 * compaction is due and stops when none is left (so its memory does not stay with the stream
 * between compactions); it opens the sink's tables from its spec, and keeps one
 * {@link TableMaintenance} per table, which plans again from the table's latest commits before
 * it rewrites (lib/delta/maintenance.ts `compactNow`). Requests are handled one at a time.
 *
 * @module
 */
import type { MaintenanceSettings, TableMaintenanceOptions } from "../delta/maintenance.ts";
import { TableMaintenance } from "../delta/maintenance.ts";
import type { OptimizeResult } from "../delta/optimize.ts";
import { faultFromEnv, maybeFaultFrom } from "./fault.ts";
import { type Offload, startOffload } from "./offload.ts";
import type { Reply } from "./offload.ts";
import { openTableSink, type TableSinkSpec } from "./tables.ts";

/** One compaction request: the table (its target name), the settings and the batch number. */
export interface CompactRequest {
  /** The table's name among the sink's targets. */
  table: string;
  /** Maintenance settings resolved by the stream's thread. */
  settings: MaintenanceSettings;
  /** The batch it follows (for the STREAM_FAULT maintenance points). */
  seq: number;
}

/** Compacts the sink's tables in a worker thread, started when first needed. */
export interface Compactor {
  /** Compacts `table` if it is due on its latest commits; undefined when it was not. */
  compact(request: CompactRequest): Promise<OptimizeResult | undefined>;
  /** Stops the worker (pending compactions reject; their files are never committed). */
  close(): void;
}

/**
 * A compactor for the tables of `spec`; the worker starts on the first call.
 *
 * @example
 * ```ts
 * import { rawSink } from "../orders/sinks.ts";
 * import { maintenanceSettings } from "../delta/maintenance.ts";
 * import { startCompactor } from "./compactor.ts";
 * const dir = await Deno.makeTempDir();
 * const sink = await rawSink(`${dir}/orders_raw`);
 * const compactor = startCompactor(sink.spec);
 * const settings = maintenanceSettings({}, { compactMinFiles: 3 });
 * await compactor.compact({ table: "orders_raw", settings, seq: 1 }); // undefined: not due
 * compactor.close();
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export function startCompactor(spec: TableSinkSpec): Compactor {
  let worker: Promise<Offload<CompactRequest, OptimizeResult | undefined>> | undefined;
  let closed = false;
  let pending = 0;
  return {
    async compact(request) {
      if (closed) throw new Error("the compactor was stopped");
      const w = worker ??= startOffload(new URL("./compactor.ts", import.meta.url).href, spec);
      pending++;
      try {
        return await (await w).call(request);
      } finally {
        // Idle: the worker goes, with its heap and its Parquet module's memory (which never
        // shrinks); the next compaction, tens of batches later, starts a new one.
        if (--pending === 0 && worker === w) {
          worker = undefined;
          w.then((x) => x.close(), () => {});
        }
      }
    },
    close() {
      closed = true;
      worker?.then((w) => w.close(), () => {});
    },
  };
}

/**
 * The worker's side (lib/engine/offload.ts): opens the tables of `spec` and compacts the one
 * each request names.
 */
export async function serve(
  spec: TableSinkSpec,
): Promise<(request: CompactRequest) => Promise<Reply<OptimizeResult | undefined>>> {
  const sink = await openTableSink(spec);
  const fault = faultFromEnv();
  let seq = 0;
  const hook: TableMaintenanceOptions["hook"] = (point) => maybeFaultFrom(fault, point, seq);
  const keepers = new Map(
    sink.targets.map((
      t,
    ) => [t.name, new TableMaintenance(t.table.storage, { name: t.name, hook })]),
  );
  return async (request) => {
    const keeper = keepers.get(request.table);
    if (!keeper) throw new Error(`no table ${request.table} in this sink`);
    seq = request.seq;
    return { value: await keeper.compactNow(request.settings) };
  };
}
