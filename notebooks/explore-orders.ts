// Explore orders: the seed's Power BI step as a notebook. Reads the Delta table orders_cleaned
// through our own Delta reader (the latest version, or any earlier one), charts revenue and
// orders by state and city, the top products by name (with their category and department, from
// data/retail_db/), revenue per category and department, the order-size distribution and the
// Chicago share that the producer stream republishes, and writes it all as one offline HTML page.
//
// Needs the table orders_cleaned (run kafka-consumer-stream-cleaned first); no Kafka broker.
//
//   deno task report                                     # writes test-output/report.html
//   deno task report -- --version 3 --out v3.html        # the table as it was at version 3
//   deno task report -- --table ./lakehouse/orders_cleaned --json > figures.json

// %% Setup: which table, which version (in Jupyter, set `version` below to time-travel)
import { dirname } from "node:path";
import { log } from "../lib/cli.ts";
import { fmtInt } from "../lib/display.ts";
import { showRows } from "../lib/display.ts";
import { history, read, snapshot } from "../lib/delta/table.ts";
import { show, showSvg } from "../lib/notebook/kernel.ts";
import { requireTable } from "../lib/notebook/preflight.ts";
import { loadProductCatalog } from "../lib/orders/catalog.ts";
import { setupNotebook } from "../lib/notebook/setup.ts";
import * as report from "../lib/report/mod.ts";
import { parseReportOptions, REPORT_HELP, REPORT_OPTIONS } from "../lib/report/options.ts";
import * as tables from "../lib/report/tables.ts";
import { chicagoText, kpiText } from "../lib/report/text.ts";

const { config, flags } = await setupNotebook({
  usage: `Usage: deno task report [-- options]
Reads the Delta table orders_cleaned and writes an HTML report with charts (no CDN needed).

${REPORT_HELP}`,
  tableName: "orders_cleaned",
  options: REPORT_OPTIONS,
  needsBroker: false,
});
const options = parseReportOptions(flags);
const table = config.table!;
await requireTable(
  table,
  "this notebook reads orders_cleaned; run kafka-consumer-stream-cleaned first " +
    "(deno task consume:stream:cleaned -- --available-now), or give --table / LAKEHOUSE",
);
// undefined = the latest version; a number = that version of the table (time travel).
const version: number | undefined = options.version;

// %% The table's history: each streaming micro-batch is one commit (newest first)
await showRows(...tables.historyTable(await history(table, { limit: 12 })));

// %% Read the table at that version through our Delta reader
const snap = await snapshot(table, version === undefined ? {} : { version });
const data = await read(table, { version: snap.version, columns: [...report.FIGURE_COLUMNS] });
log(
  "read",
  `${table} version ${snap.version}: ${fmtInt(data.numRows)} rows, ${snap.files.length} files`,
);
await showRows(...tables.sampleTable(snap.schema, data));

// %% Key figures (each line item counted once, money exact to the cent); products named from
// data/retail_db/ (products ▶ categories ▶ departments)
const catalog = await loadProductCatalog();
const figures = report.orderFigures(report.lineRows(data), { catalog });
await show({ "text/html": report.kpiHtml(figures), "text/plain": kpiText(figures) });

// %% Revenue and orders by state
await showSvg(report.revenueByStateChart(figures));
await showSvg(report.ordersByStateChart(figures));
await showRows(...tables.groupTable(figures.byState, "state"));

// %% Revenue and orders by city
await showSvg(report.revenueByCityChart(figures));
await showSvg(report.ordersByCityChart(figures));
await showRows(...tables.groupTable(figures.byCity, "city"));

// %% Top products, by name, with their category and department
await showSvg(report.topProductsChart(figures));
await showRows(...tables.productTable(figures));

// %% Revenue per category and per department
await showSvg(report.revenueByCategoryChart(figures));
await showSvg(report.revenueByDepartmentChart(figures));
await showRows(...tables.groupTable(figures.byCategory, "category"));
await showRows(...tables.groupTable(figures.byDepartment, "department"));

// %% Order size: totals per order and line items per order
await showSvg(report.orderSizeChart(figures));
await showSvg(report.linesPerOrderChart(figures));
await showRows(...tables.linesPerOrderTable(figures));

// %% Chicago: the orders the producer stream republishes (city = 'Chicago')
for (const svg of report.chicagoShareCharts(figures)) await showSvg(svg);
log("chicago", chicagoText(figures));

// %% Write the report: one HTML page, charts inline (opens offline)
await Deno.mkdir(dirname(options.out), { recursive: true });
await Deno.writeTextFile(
  options.out,
  report.reportHtml(figures, {
    table,
    version: snap.version,
    committedAt: snap.commitTimestamps.get(snap.version),
    generatedAt: Date.now(),
  }),
);
log("done", `report written to ${options.out}`);
if (options.json) console.log(JSON.stringify({ version: snap.version, ...figures }));
