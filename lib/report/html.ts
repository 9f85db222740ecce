/**
 * The orders report as one self-contained HTML page: key figures, every chart as inline SVG,
 * the top tables, and the figures as JSON in a `<script type="application/json">` block (data,
 * never executed) so tools and tests read the exact numbers shown. Nothing is fetched at view
 * time: no scripts, no fonts, no CDN.
 *
 * @module
 */
import { escapeXml, fmtNumber } from "../charts.ts";
import {
  chicagoShareCharts,
  linesPerOrderChart,
  ordersByCityChart,
  ordersByStateChart,
  orderSizeChart,
  revenueByCategoryChart,
  revenueByCityChart,
  revenueByDepartmentChart,
  revenueByStateChart,
  topProductsChart,
} from "./charts.ts";
import type { OrderFigures } from "./figures.ts";

/** Where the figures came from, shown in the page header. */
export interface ReportSource {
  /** Table location. */
  table: string;
  /** Table version read. */
  version: number;
  /** The version's commit time (ms since epoch), when known. */
  committedAt?: number;
  /** When the report was made (ms since epoch). */
  generatedAt: number;
}

/** The id of the JSON block holding the figures. */
export const FIGURES_ELEMENT_ID = "report-figures";

const money = (v: number, digits = 2) =>
  `$${v.toLocaleString("en-US", { minimumFractionDigits: digits, maximumFractionDigits: digits })}`;

/** Key figures as HTML tiles (also used by the notebook). */
export function kpiHtml(f: OrderFigures): string {
  const tiles: [string, string][] = [
    ["orders", fmtNumber(f.orders)],
    ["revenue", money(f.revenue)],
    ["average order", money(f.averageOrder)],
    ["line items", fmtNumber(f.lines)],
    ["customers", fmtNumber(f.customers)],
    [
      "Chicago orders",
      `${fmtNumber(f.chicago.orders)} (${(f.chicago.orderShare * 100).toFixed(2)}%)`,
    ],
  ];
  return `<div class="kpis" style="display:flex;flex-wrap:wrap;gap:10px;margin:8px 0">${
    tiles.map(([k, v]) =>
      `<div class="kpi" style="border:1px solid #e4e7eb;border-radius:6px;padding:8px 14px;min-width:120px">` +
      `<div style="font-size:12px;color:#7b8794">${escapeXml(k)}</div>` +
      `<div style="font-size:20px;font-weight:600;color:#1f2933" data-kpi="${escapeXml(k)}">${
        escapeXml(v)
      }</div></div>`
    ).join("")
  }</div>`;
}

function table(head: string[], rows: (string | number)[][]): string {
  return `<table><thead><tr>${
    head.map((h) => `<th>${escapeXml(h)}</th>`).join("")
  }</tr></thead><tbody>${
    rows.map((r) =>
      `<tr>${
        r.map((c) =>
          typeof c === "number"
            ? `<td class="n">${escapeXml(fmtNumber(c))}</td>`
            : `<td>${escapeXml(c)}</td>`
        ).join("")
      }</tr>`
    ).join("")
  }</tbody></table>`;
}

/**
 * The whole report page.
 *
 * @example
 * ```ts
 * import { orderFigures } from "./figures.ts";
 * import { reportHtml } from "./html.ts";
 * const figures = orderFigures([{ orderId: 1, customerId: 7, city: "Chicago", state: "IL",
 *   itemId: 1, productId: 957, quantity: 2, subtotal: 59.98 }]);
 * const src = { table: "lakehouse/orders_cleaned", version: 3, generatedAt: Date.now() };
 * const html = reportHtml(figures, src); // then e.g. Deno.writeTextFile("report.html", html)
 * ```
 */
export function reportHtml(f: OrderFigures, src: ReportSource): string {
  const [shareOrders, shareRevenue] = chicagoShareCharts(f);
  const when = (ms: number) => new Date(ms).toISOString().replace("T", " ").slice(0, 19) + " UTC";
  const dup = f.duplicateRows > 0
    ? `<p class="note">${
      fmtNumber(f.duplicateRows)
    } rows repeat a line item already read (the same ` +
      `order consumed more than once, e.g. produced twice); each line item is counted once.</p>`
    : "";
  const json = JSON.stringify(f).replace(/</g, "\\u003c");
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Retail orders report</title>
<style>
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,Helvetica,Arial,sans-serif;color:#1f2933;margin:20px auto;max-width:1280px;padding:0 12px;background:#f5f7fa}
h1{font-size:24px;margin:0 0 4px}
h2{font-size:17px;margin:28px 0 8px}
.meta{color:#7b8794;font-size:13px}
.grid{display:flex;flex-wrap:wrap;gap:16px;align-items:flex-start}
.card{background:#fff;border:1px solid #e4e7eb;border-radius:8px;padding:6px}
.kpis .kpi{background:#fff}
table{border-collapse:collapse;background:#fff;font-size:13px}
th,td{border:1px solid #e4e7eb;padding:4px 10px;text-align:left}
td.n{text-align:right;font-variant-numeric:tabular-nums}
.note{font-size:13px;color:#7b8794}
</style>
</head>
<body>
<h1>Retail orders</h1>
<p class="meta">Delta table <code>${escapeXml(src.table)}</code>, version ${src.version}${
    src.committedAt !== undefined ? ` (committed ${when(src.committedAt)})` : ""
  } · ${fmtNumber(f.rows)} rows · generated ${when(src.generatedAt)}</p>
${kpiHtml(f)}
${dup}
<h2>By state</h2>
<div class="grid"><div class="card">${revenueByStateChart(f)}</div><div class="card">${
    ordersByStateChart(f)
  }</div></div>
<h2>By city</h2>
<div class="grid"><div class="card">${revenueByCityChart(f)}</div><div class="card">${
    ordersByCityChart(f)
  }</div></div>
<h2>Top products</h2>
<div class="grid"><div class="card">${topProductsChart(f)}</div><div>${
    table(
      ["id", "product", "category", "department", "units", "orders", "revenue"],
      f.topProducts.map((p) => [
        String(p.productId),
        p.name,
        p.category,
        p.department,
        p.quantity,
        p.orders,
        money(p.revenue),
      ]),
    )
  }</div></div>
<h2>By category and department</h2>
<div class="grid"><div class="card">${revenueByCategoryChart(f)}</div><div class="card">${
    revenueByDepartmentChart(f)
  }</div></div>
<h2>Order size</h2>
<div class="grid"><div class="card">${orderSizeChart(f)}</div><div class="card">${
    linesPerOrderChart(f)
  }</div></div>
<h2>Chicago: what the producer stream republishes</h2>
<p class="note">The producer stream keeps <code>city = 'Chicago'</code> and republishes those orders to <code>processed_orders</code>.</p>
<div class="grid"><div class="card">${shareOrders}</div><div class="card">${shareRevenue}</div><div>${
    table(["", "orders", "revenue"], [
      ["Chicago", f.chicago.orders, money(f.chicago.revenue)],
      ["all", f.orders, money(f.revenue)],
    ])
  }</div></div>
<script type="application/json" id="${FIGURES_ELEMENT_ID}">${json}</script>
</body>
</html>
`;
}

/** Reads the figures back from a report page (the JSON block). */
export function figuresFromHtml(html: string): OrderFigures {
  const m = new RegExp(
    `<script type="application/json" id="${FIGURES_ELEMENT_ID}">([\\s\\S]*?)</script>`,
  )
    .exec(html);
  if (!m) throw new Error(`no #${FIGURES_ELEMENT_ID} block in the report`);
  return JSON.parse(m[1]) as OrderFigures;
}
