/**
 * A stream's progress in Jupyter: one display, updated in place after every micro-batch, with a
 * progress bar (records read against records read + lag), the last batch's figures and a
 * throughput chart per batch. Outside the kernel it hands each batch to the script's own
 * printer, so scripts keep their one-line-per-batch logs.
 *
 * @example
 * ```ts
 * import { liveStreamView } from "./stream_view.ts";
 * // A stream's onProgress: one live view in Jupyter, the script's own line per batch elsewhere.
 * const onProgress = liveStreamView(
 *   "orders_raw",
 *   (p) => console.log(`batch ${p.batchId}: ${p.numInputRows} records`),
 * );
 * ```
 *
 * @module
 */
import { columnChart, escapeXml, fmtNumber } from "../charts.ts";
import { inJupyter } from "../runtime.ts";
import { liveDisplay } from "./kernel.ts";
import type { BatchProgress } from "../engine/progress.ts";

/** One micro-batch as the view shows it. */
export interface StreamPoint {
  /** Batch id or number. */
  batch: number;
  /** Records read in the batch. */
  rows: number;
  /** Records per second of the batch. */
  rowsPerSecond: number;
  /** Offsets still to read after the batch. */
  lag: number;
  /** Rows written per output (table or topic) in the batch. */
  outputs: Record<string, number>;
}

/**
 * A chart point from a micro-batch's progress (every stream reports the same type): outputs
 * are the rows per table or topic.
 */
export function pointFromProgress(p: BatchProgress): StreamPoint {
  return {
    batch: p.batchId,
    rows: p.numInputRows,
    rowsPerSecond: p.processedRowsPerSecond,
    lag: Object.values(p.lag).reduce((a, b) => a + b, 0),
    outputs: Object.fromEntries(Object.entries(p.sink).map(([k, s]) => [k, s.rows])),
  };
}

/**
 * The view's HTML for the batches so far: title, progress bar, last batch, throughput chart.
 *
 * @example
 * ```ts
 * import { streamViewHtml } from "./stream_view.ts";
 * streamViewHtml("orders_raw", [{ batch: 0, rows: 6000, rowsPerSecond: 30000, lag: 0, outputs: {} }]);
 * ```
 */
export function streamViewHtml(title: string, points: readonly StreamPoint[]): string {
  const read = points.reduce((a, p) => a + p.rows, 0);
  const last = points.at(-1);
  const lag = last?.lag ?? 0;
  const done = read + lag > 0 ? read / (read + lag) : 1;
  const totals: Record<string, number> = {};
  for (const p of points) {
    for (const [k, v] of Object.entries(p.outputs)) totals[k] = (totals[k] ?? 0) + v;
  }
  const outs = Object.entries(totals).map(([k, v]) => `${escapeXml(k)} ${fmtNumber(v)}`).join(
    " · ",
  );
  const chart = points.length > 0
    ? columnChart({
      title: `${title}: throughput per micro-batch`,
      columns: points.map((p) => ({ label: String(p.batch), value: Math.round(p.rowsPerSecond) })),
      xLabel: "batch",
      yLabel: "records/s",
      height: 240,
    })
    : "";
  return `<div class="stream-view" style="font-family:system-ui,sans-serif;font-size:13px">` +
    `<div><b>${escapeXml(title)}</b>: ${points.length} batch${points.length === 1 ? "" : "es"}, ` +
    `${fmtNumber(read)} records read, lag ${fmtNumber(lag)}${outs ? ` · ${outs}` : ""}</div>` +
    `<div style="display:flex;align-items:center;gap:8px;margin:4px 0">` +
    `<progress value="${done.toFixed(4)}" max="1" style="width:360px"></progress>` +
    `<span>${(done * 100).toFixed(1)}%</span></div>` +
    (last
      ? `<div style="color:#7b8794">last batch ${last.batch}: ${fmtNumber(last.rows)} records, ` +
        `${fmtNumber(Math.round(last.rowsPerSecond))} records/s</div>`
      : "") +
    chart + `</div>`;
}

/**
 * A progress callback for a stream: in Jupyter it updates one live display (progress bar and
 * throughput chart); elsewhere it calls `fallback` (the script's text printer).
 */
export function liveStreamView<A extends unknown[]>(
  title: string,
  fallback: (p: BatchProgress, ...rest: A) => void,
): (p: BatchProgress, ...rest: A) => void {
  if (!inJupyter()) return fallback;
  const live = liveDisplay();
  const points: StreamPoint[] = [];
  let chain = Promise.resolve();
  return (p: BatchProgress, ..._rest: A) => {
    points.push(pointFromProgress(p));
    const html = streamViewHtml(title, points);
    const text = `${title}: ${points.length} batches, lag ${points.at(-1)!.lag}`;
    chain = chain.then(() => live.update({ "text/html": html, "text/plain": text })).catch(
      () => {},
    );
  };
}
