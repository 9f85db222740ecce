// Explore orders: the seed's Power BI step as a notebook. Reads the Delta table orders_cleaned
// through our own Delta reader (the latest version, or any earlier one), charts revenue and
// orders by state and city, the top products, the order-size distribution and the Chicago share
// that the producer stream republishes, and writes it all as one offline HTML page.
//
// Needs the table orders_cleaned (run kafka-consumer-stream-cleaned first); no Kafka broker.
//
//   deno task report                                     # writes test-output/report.html
//   deno task report -- --version 3 --out v3.html        # the table as it was at version 3
//   deno task report -- --table ./lakehouse/orders_cleaned --json > figures.json

// %% Setup: which table, which version (in Jupyter, set `version` below to time-travel)
import { COMMON_HELP, describeConfig, loadConfig } from "../lib/config.ts";
import { exitOnFailure, fmtInt, log } from "../lib/cli.ts";
import { type Column, showRows } from "../lib/display.ts";
import { history, read, snapshot } from "../lib/delta/table.ts";
import { show, showSvg } from "../lib/notebook/kernel.ts";
import { projectPath } from "../lib/runtime.ts";
import { requireTable } from "../lib/notebook/preflight.ts";
import {
  chicagoShareCharts,
  FIGURE_COLUMNS,
  kpiHtml,
  lineRows,
  linesPerOrderChart,
  orderFigures,
  ordersByCityChart,
  ordersByStateChart,
  orderSizeChart,
  reportHtml,
  revenueByCityChart,
  revenueByStateChart,
  topProductsChart,
} from "../lib/report/mod.ts";

exitOnFailure();

const USAGE = `Usage: deno task report [-- options]
Reads the Delta table orders_cleaned and writes an HTML report with charts (no CDN needed).

Options:
  --version N   read the table as of version N (default: the latest)
  --out FILE    where to write the report (default test-output/report.html)
  --json        print the report's figures as JSON on stdout
${COMMON_HELP}`;

const loaded = loadConfig({
  tableName: "orders_cleaned",
  options: {
    version: { type: "string" },
    out: { type: "string", default: "test-output/report.html" },
    json: { type: "boolean", default: false },
  },
});
const { config, flags } = loaded;
if (loaded.help) {
  console.log(USAGE);
  Deno.exit(0);
}
log("config", describeConfig(config).replaceAll("\n", "\n                   "));
const table = config.table!;
await requireTable(
  table,
  "this notebook reads orders_cleaned; run kafka-consumer-stream-cleaned first " +
    "(deno task consume:stream:cleaned -- --available-now), or give --table / LAKEHOUSE",
);
// undefined = the latest version; a number = that version of the table (time travel).
const version: number | undefined = flags.version === undefined ? undefined : Number(flags.version);

// %% The table's history: each streaming micro-batch is one commit (newest first)
const commits = await history(table, { limit: 12 });
await showRows(
  [
    { name: "version", type: "long" },
    { name: "timestamp", type: "timestamp" },
    { name: "operation", type: "string" },
    { name: "rows added", type: "long" },
  ],
  commits.map((c) => ({
    version: c.version,
    timestamp: new Date(c.timestamp),
    operation: c.operation ?? "",
    "rows added": c.numOutputRows ?? null,
  })),
);

// %% Read the table at that version through our Delta reader
const snap = await snapshot(table, version === undefined ? {} : { version });
const data = await read(table, { version: snap.version, columns: [...FIGURE_COLUMNS] });
log(
  "read",
  `${table} version ${snap.version}: ${fmtInt(data.numRows)} rows, ${snap.files.length} files`,
);
const columns: Column[] = snap.schema.fields
  .filter((f) => (FIGURE_COLUMNS as readonly string[]).includes(f.name))
  .map((f) => ({ name: f.name, type: typeof f.type === "string" ? f.type : f.type.type }));
await showRows(columns, data.slice(0, 5).toArray().map((r) => r.toJSON()));

// %% Key figures (each line item counted once, money exact to the cent)
const figures = orderFigures(lineRows(data));
await show({
  "text/html": kpiHtml(figures),
  "text/plain": `${fmtInt(figures.orders)} orders, revenue $${figures.revenue.toFixed(2)}, ` +
    `${fmtInt(figures.lines)} line items, ${fmtInt(figures.customers)} customers` +
    (figures.duplicateRows > 0 ? `, ${fmtInt(figures.duplicateRows)} duplicate rows ignored` : ""),
});

// %% Revenue and orders by state
const groupColumns = (key: string): Column[] => [
  { name: key, type: "string" },
  { name: "orders", type: "long" },
  { name: "revenue", type: "double" },
];
await showSvg(revenueByStateChart(figures));
await showSvg(ordersByStateChart(figures));
await showRows(
  groupColumns("state"),
  figures.byState.slice(0, 10).map((g) => ({ state: g.key, orders: g.orders, revenue: g.revenue })),
);

// %% Revenue and orders by city
await showSvg(revenueByCityChart(figures));
await showSvg(ordersByCityChart(figures));
await showRows(
  groupColumns("city"),
  figures.byCity.slice(0, 10).map((g) => ({ city: g.key, orders: g.orders, revenue: g.revenue })),
);

// %% Top products
await showSvg(topProductsChart(figures));
await showRows(
  [
    { name: "product", type: "long" },
    { name: "quantity", type: "long" },
    { name: "orders", type: "long" },
    { name: "revenue", type: "double" },
  ],
  figures.topProducts.map((p) => ({ product: p.productId, ...p })),
);

// %% Order size: totals per order and line items per order
await showSvg(orderSizeChart(figures));
await showSvg(linesPerOrderChart(figures));
await showRows(
  [{ name: "line items", type: "int" }, { name: "orders", type: "long" }],
  Object.entries(figures.linesPerOrder).map(([n, orders]) => ({ "line items": n, orders })),
);

// %% Chicago: the orders the producer stream republishes (city = 'Chicago')
for (const svg of chicagoShareCharts(figures)) await showSvg(svg);
log(
  "chicago",
  `${fmtInt(figures.chicago.orders)} of ${fmtInt(figures.orders)} orders ` +
    `(${(figures.chicago.orderShare * 100).toFixed(2)}%), $${figures.chicago.revenue.toFixed(2)} ` +
    `of revenue (${(figures.chicago.revenueShare * 100).toFixed(2)}%)`,
);

// %% Write the report: one HTML page, charts inline (opens offline)
const out = projectPath(flags.out);
await Deno.mkdir(out.replace(/[^/\\]*$/, "") || ".", { recursive: true });
await Deno.writeTextFile(
  out,
  reportHtml(figures, {
    table,
    version: snap.version,
    committedAt: snap.commitTimestamps.get(snap.version),
    generatedAt: Date.now(),
  }),
);
log("done", `report written to ${out}`);
if (flags.json) console.log(JSON.stringify({ version: snap.version, ...figures }));
