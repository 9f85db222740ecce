/**
 * The orders report: figures from the cleaned table, SVG charts of them, one HTML page.
 *
 * @example
 * ```ts
 * import { createTable } from "../delta/table.ts";
 * import { cleanedSchema } from "../orders/flatten.ts";
 * import { FIGURE_COLUMNS, lineRows, orderFigures, reportHtml } from "./mod.ts";
 * const dir = await Deno.makeTempDir();
 * const table = await createTable(`${dir}/orders_cleaned`, cleanedSchema); // the streams fill it
 * const figures = orderFigures(lineRows(await table.read({ columns: [...FIGURE_COLUMNS] })));
 * const html = reportHtml(figures, { table: table.location, version: 0, generatedAt: Date.now() });
 * await Deno.writeTextFile(`${dir}/report.html`, html);
 * await Deno.remove(dir, { recursive: true });
 * ```
 *
 * @module
 */
export * from "./figures.ts";
export * from "./charts.ts";
export * from "./html.ts";
