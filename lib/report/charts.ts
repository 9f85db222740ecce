/**
 * The report's charts, each an SVG string made from {@link OrderFigures}; the notebook shows
 * them one per cell and the HTML report puts them all on one page.
 *
 * @module
 */
import { barChart, fmtNumber, histogram, shareDonut } from "../charts.ts";
import type { OrderFigures } from "./figures.ts";

const money = (v: number) => `$${fmtNumber(v, 0)}`;

/** Revenue per state (the top `n`, default 15). */
export function revenueByStateChart(f: OrderFigures, n = 15): string {
  return barChart({
    title: `Revenue by state (top ${Math.min(n, f.byState.length)} of ${f.byState.length})`,
    bars: f.byState.slice(0, n).map((g) => ({
      label: g.key,
      value: g.revenue,
      highlight: g.key === "IL",
    })),
    format: money,
  });
}

/** Orders per state (the top `n` by orders, default 15). */
export function ordersByStateChart(f: OrderFigures, n = 15): string {
  const top = [...f.byState].sort((a, b) => b.orders - a.orders || (a.key < b.key ? -1 : 1)).slice(
    0,
    n,
  );
  return barChart({
    title: `Orders by state (top ${top.length} of ${f.byState.length})`,
    bars: top.map((g) => ({ label: g.key, value: g.orders, highlight: g.key === "IL" })),
    format: (v) => fmtNumber(v, 0),
  });
}

/** Revenue per city, Chicago highlighted (the top `n`, default 15). */
export function revenueByCityChart(f: OrderFigures, n = 15, city = "Chicago"): string {
  return barChart({
    title: `Revenue by city (top ${Math.min(n, f.byCity.length)} of ${f.byCity.length})`,
    bars: f.byCity.slice(0, n).map((g) => ({
      label: g.key,
      value: g.revenue,
      highlight: g.key.startsWith(`${city}, `),
    })),
    format: money,
  });
}

/** Orders per city (the top `n` by orders, default 15). */
export function ordersByCityChart(f: OrderFigures, n = 15, city = "Chicago"): string {
  const top = [...f.byCity].sort((a, b) => b.orders - a.orders || (a.key < b.key ? -1 : 1)).slice(
    0,
    n,
  );
  return barChart({
    title: `Orders by city (top ${top.length} of ${f.byCity.length})`,
    bars: top.map((g) => ({
      label: g.key,
      value: g.orders,
      highlight: g.key.startsWith(`${city}, `),
    })),
    format: (v) => fmtNumber(v, 0),
  });
}

/** A label cut to `n` characters (with an ellipsis), so it fits a bar chart's label column. */
export function shortLabel(text: string, n = 27): string {
  return text.length <= n ? text : `${text.slice(0, n - 1).trimEnd()}…`;
}

/** Top products by revenue, by name (cut to fit; the tables give the full name). */
export function topProductsChart(f: OrderFigures): string {
  return barChart({
    title: `Top ${f.topProducts.length} products by revenue`,
    bars: f.topProducts.map((p) => ({ label: shortLabel(p.name), value: p.revenue })),
    format: money,
    width: 640,
  });
}

/** Revenue per product category (the top `n`, default 15); needs figures made with a catalog. */
export function revenueByCategoryChart(f: OrderFigures, n = 15): string {
  return barChart({
    title: `Revenue by category (top ${
      Math.min(n, f.byCategory.length)
    } of ${f.byCategory.length})`,
    bars: f.byCategory.slice(0, n).map((g) => ({ label: shortLabel(g.key), value: g.revenue })),
    format: money,
  });
}

/** Revenue per department; needs figures made with a catalog. */
export function revenueByDepartmentChart(f: OrderFigures): string {
  return barChart({
    title: `Revenue by department (${f.byDepartment.length})`,
    bars: f.byDepartment.map((g) => ({ label: shortLabel(g.key), value: g.revenue })),
    format: money,
  });
}

/** Distribution of order totals. */
export function orderSizeChart(f: OrderFigures): string {
  return histogram({
    title: `Order size: orders by order total ($${f.orderSizeBin} bins)`,
    bins: f.orderTotals,
    xLabel: "order total ($)",
    format: (v) => fmtNumber(v, 0),
  });
}

/** Orders by number of line items. */
export function linesPerOrderChart(f: OrderFigures): string {
  return barChart({
    title: "Orders by number of line items",
    bars: Object.entries(f.linesPerOrder).sort(([a], [b]) => Number(a) - Number(b))
      .map(([n, count]) => ({ label: `${n} item${n === "1" ? "" : "s"}`, value: count })),
    format: (v) => fmtNumber(v, 0),
  });
}

/** Chicago's share of orders and of revenue, side by side. */
export function chicagoShareCharts(f: OrderFigures, city = "Chicago"): [string, string] {
  return [
    shareDonut({
      title: `${city}: share of orders`,
      part: f.chicago.orders,
      whole: f.orders,
      caption: `${fmtNumber(f.chicago.orders)} of ${fmtNumber(f.orders)} orders`,
    }),
    shareDonut({
      title: `${city}: share of revenue`,
      part: f.chicago.revenue,
      whole: f.revenue,
      caption: `${money(f.chicago.revenue)} of ${money(f.revenue)}`,
    }),
  ];
}
