/**
 * Signals for every stream: the first SIGINT/SIGTERM finishes the micro-batch in progress (or
 * stops between batches) and says which; a second one abandons it at once (nothing half-done
 * counts: an uncommitted batch is read again on restart).
 *
 * @module
 */
import { log as cliLog } from "../cli.ts";
import type { QuerySummary } from "./progress.ts";

/** What the write loop is doing (for shutdown messages). */
export type QueryPhase = "starting" | "waiting" | "building" | "writing" | "stopped";

/** A running query of either sink kind. */
export interface StreamQuery<S = QuerySummary> {
  /** Resolves with the summary when the query ends; rejects on a fatal error. */
  readonly done: Promise<S>;
  /** Asks the query to stop after the current micro-batch (idempotent). */
  stop(): void;
  /** Current phase and micro-batch id. */
  status(): { phase: QueryPhase; batchId: number };
}

/**
 * Stops the query on SIGINT/SIGTERM: the first signal finishes the current micro-batch (or
 * stops between batches) and says which; a second one abandons it at once. Returns a function
 * removing the listeners.
 *
 * @example
 * ```ts
 * import { stopOnSignals } from "./signals.ts";
 * let stopped = false;
 * const remove = stopOnSignals({
 *   stop: () => (stopped = true),
 *   status: () => ({ phase: "waiting", batchId: 0 }),
 * });
 * remove();
 * ```
 */
export function stopOnSignals(
  query: Pick<StreamQuery<unknown>, "stop" | "status">,
  log: (tag: string, message: string) => void = cliLog,
): () => void {
  let signals = 0;
  const handler = () => {
    signals++;
    const { phase, batchId } = query.status();
    if (signals === 1) {
      log(
        "signal",
        phase === "building" || phase === "writing"
          ? `finishing batch ${batchId} before stopping (signal again to abandon it)`
          : `stopping between batches (after batch ${batchId - 1})`,
      );
      query.stop();
    } else {
      log(
        "signal",
        phase === "writing"
          ? `abandoning batch ${batchId} mid-write: whatever it did not commit is read again on restart`
          : `abandoning batch ${batchId}: nothing of it was committed`,
      );
      Deno.exit(130);
    }
  };
  const sigs: Deno.Signal[] = Deno.build.os === "windows" ? ["SIGINT"] : ["SIGINT", "SIGTERM"];
  for (const s of sigs) Deno.addSignalListener(s, handler);
  return () => {
    for (const s of sigs) Deno.removeSignalListener(s, handler);
  };
}
