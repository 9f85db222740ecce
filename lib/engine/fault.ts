/**
 * TEST HOOK for crash tests: `STREAM_FAULT=<point>:<n>` makes the process kill itself with
 * SIGKILL (a real `kill -9`, no cleanup, no finally blocks) at a precise point of its n-th
 * micro-batch (1-based, counted in this process). Never set it in production.
 *
 * Points of a Delta sink, in the order a micro-batch passes them:
 * - `before-parquet`: rows built, nothing written;
 * - `during-parquet`: half of the first data file written in place (a torn, uncommitted file);
 * - `after-parquet`: data files written, the Delta commit not yet attempted;
 * - `between-tables`: the first table committed, the next (dead letters) not;
 * - `after-commit`: every table committed, before progress and consumer-group offsets.
 *
 * Points of a Delta sink's table maintenance (after the batch's commits), which fire the first
 * time the point is reached in batch n **or later** (maintenance is not due in every batch):
 * - `before-compaction-commit`: the compacted files written, the OPTIMIZE commit not attempted;
 * - `after-compaction-commit`: the OPTIMIZE commit landed, before its checkpoint;
 * - `during-log-cleanup`: the first expired log file deleted, the others not.
 *
 * Points of a Kafka-transaction sink:
 * - `before-send`: the batch's records built, the transaction not begun;
 * - `after-send`: records sent inside the open transaction, offsets not yet sent;
 * - `before-commit`: records and offsets sent, the transaction not committed;
 * - `after-commit`: the transaction committed, before progress.
 *
 * @module
 */
import type { Storage } from "../storage/storage.ts";

/** Where a Delta sink's micro-batch can be killed, in the order it passes them. */
export const DELTA_FAULT_POINTS = [
  "before-parquet",
  "during-parquet",
  "after-parquet",
  "between-tables",
  "after-commit",
] as const;

/** Where a Delta sink's table maintenance can be killed (at batch n or the first one after). */
export const DELTA_MAINTENANCE_FAULT_POINTS = [
  "before-compaction-commit",
  "after-compaction-commit",
  "during-log-cleanup",
] as const;

/** Where a Kafka sink's micro-batch can be killed, in the order it passes them. */
export const KAFKA_FAULT_POINTS = [
  "before-send",
  "after-send",
  "before-commit",
  "after-commit",
] as const;

/** Every point where a micro-batch can be killed. */
export const FAULT_POINTS = [
  ...DELTA_FAULT_POINTS,
  ...DELTA_MAINTENANCE_FAULT_POINTS,
  ...KAFKA_FAULT_POINTS.filter((p) => p !== "after-commit"),
] as readonly (
  | typeof DELTA_FAULT_POINTS[number]
  | typeof DELTA_MAINTENANCE_FAULT_POINTS[number]
  | typeof KAFKA_FAULT_POINTS[number]
)[];

/** One of {@link FAULT_POINTS}. */
export type FaultPoint = typeof FAULT_POINTS[number];

/** A planned crash: the point and the 1-based micro-batch number of this process. */
export interface Fault {
  /** Where to die. */
  point: FaultPoint;
  /** In which micro-batch of this process (1 = the first). */
  batch: number;
}

/**
 * Reads `STREAM_FAULT` (e.g. `after-parquet:2`); undefined when unset.
 *
 * @example
 * ```ts
 * import { faultFromEnv, parseFault } from "./fault.ts";
 * const fault = faultFromEnv(); // undefined unless a crash test set STREAM_FAULT
 * parseFault("after-send:3"); // { point: "after-send", batch: 3 }
 * ```
 */
export function faultFromEnv(): Fault | undefined {
  let text: string | undefined;
  try {
    text = Deno.env.get("STREAM_FAULT");
  } catch {
    return undefined;
  }
  return parseFault(text);
}

/** Parses a `STREAM_FAULT` value, `<point>:<batch>`; undefined for an empty one. */
export function parseFault(text: string | undefined): Fault | undefined {
  if (!text) return undefined;
  const [point, n] = text.trim().split(":");
  if (!(FAULT_POINTS as readonly string[]).includes(point) || !/^\d+$/.test(n ?? "")) {
    throw new Error(
      `STREAM_FAULT='${text}' is not <point>:<batch> with point one of ${FAULT_POINTS.join(", ")}`,
    );
  }
  return { point: point as FaultPoint, batch: Number(n) };
}

/** Kills this process with SIGKILL, as `kill -9` would. */
export function killNow(): never {
  console.error(`STREAM_FAULT ${Deno.env.get("STREAM_FAULT")}: killing this process (test hook)`);
  Deno.kill(Deno.pid, "SIGKILL");
  // SIGKILL is not deliverable late; this only satisfies the type checker.
  throw new Error("unreachable");
}

/** Kills the process if the fault is planned at this point of this batch. */
export function maybeFault(fault: Fault | undefined, point: FaultPoint, batch: number): void {
  if (fault && fault.point === point && fault.batch === batch) killNow();
}

/** Kills the process if the fault is planned at this point of this batch or an earlier one. */
export function maybeFaultFrom(fault: Fault | undefined, point: FaultPoint, batch: number): void {
  if (fault && fault.point === point && batch >= fault.batch) killNow();
}

/**
 * Wraps a table's storage so `during-parquet` and `after-parquet` faults fire inside the
 * Delta write: data-file puts (outside `_delta_log/`) and the commit's put-if-absent.
 */
export function faultStorage(
  inner: Storage,
  fault: Fault | undefined,
  batch: () => number,
): Storage {
  if (!fault || (fault.point !== "during-parquet" && fault.point !== "after-parquet")) return inner;
  const isLog = (p: string) => p.startsWith("_delta_log/");
  return {
    url: inner.url,
    get: (p) => inner.get(p),
    getRange: (p, s, e) => inner.getRange(p, s, e),
    head: (p) => inner.head(p),
    list: (p) => inner.list(p),
    delete: (p) => inner.delete(p),
    async put(p, data) {
      if (!isLog(p) && fault.point === "during-parquet" && fault.batch === batch()) {
        await inner.put(p, data.subarray(0, data.length >> 1));
        killNow();
      }
      await inner.put(p, data);
    },
    putIfAbsent(p, data) {
      if (isLog(p) && /^_delta_log\/\d{20}\.json$/.test(p)) {
        maybeFault(fault, "after-parquet", batch());
      }
      return inner.putIfAbsent(p, data);
    },
  };
}
