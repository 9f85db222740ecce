/**
 * The orders report: figures from the cleaned table, SVG charts of them, one HTML page.
 *
 * @example
 * ```ts
 * import { lineRows, orderFigures, reportHtml } from "./lib/report/mod.ts";
 * const figures = orderFigures(lineRows(table));
 * await Deno.writeTextFile("report.html", reportHtml(figures, { table: "t", version: 3, generatedAt: Date.now() }));
 * ```
 *
 * @module
 */
export * from "./figures.ts";
export * from "./charts.ts";
export * from "./html.ts";
