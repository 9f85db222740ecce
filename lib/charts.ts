/**
 * Charts as self-contained SVG strings (no script, no CDN, no fonts to fetch): horizontal bars,
 * columns, a histogram, a line chart and a share donut. They render the same in Jupyter, in a browser
 * from a file, and in a headless browser.
 *
 * @example
 * ```ts
 * import { barChart } from "./charts.ts";
 * const svg = barChart({ title: "Revenue by state", bars: [{ label: "CA", value: 1200.5 }] });
 * // an <svg> element: show it in Jupyter with showSvg, or put it in an HTML page
 * ```
 *
 * @module
 */

/** One bar: a label and a value; `highlight` draws it in the accent color. */
export interface Bar {
  /** Text left of the bar. */
  label: string;
  /** Length of the bar (≥ 0). */
  value: number;
  /** Draw in the accent color. */
  highlight?: boolean;
}

/** Options shared by every chart. */
export interface ChartBase {
  /** Title drawn at the top (also the SVG's accessible name). */
  title: string;
  /** Width in px (default 600). */
  width?: number;
}

/** Options for {@link barChart}. */
export interface BarChartOptions extends ChartBase {
  /** Bars, drawn top to bottom in the given order. */
  bars: Bar[];
  /** Value text right of each bar (default thousands-separated, 2 decimals at most). */
  format?: (v: number) => string;
  /** Height of one bar row in px (default 22). */
  rowHeight?: number;
}

/** One histogram bin: `[from, to)` and its count. */
export interface Bin {
  /** Lower edge (inclusive). */
  from: number;
  /** Upper edge (exclusive; inclusive for the last bin). */
  to: number;
  /** Values in the bin. */
  count: number;
}

/** Options for {@link histogram}. */
export interface HistogramOptions extends ChartBase {
  /** Bins in ascending order. */
  bins: Bin[];
  /** Label under the x axis. */
  xLabel?: string;
  /** Edge labels (default compact numbers). */
  format?: (v: number) => string;
  /** Height in px (default 320). */
  height?: number;
}

/** A point of a line series. */
export interface Point {
  /** Horizontal value. */
  x: number;
  /** Vertical value. */
  y: number;
}

/** A named line. */
export interface Series {
  /** Legend text. */
  name: string;
  /** Points in x order. */
  points: Point[];
}

/** Options for {@link lineChart}. */
export interface LineChartOptions extends ChartBase {
  /** One or more lines. */
  series: Series[];
  /** Label under the x axis. */
  xLabel?: string;
  /** Label of the y axis (drawn above it). */
  yLabel?: string;
  /** Height in px (default 300). */
  height?: number;
}

/** Options for {@link shareDonut}. */
export interface ShareOptions extends ChartBase {
  /** The part (e.g. Chicago orders). */
  part: number;
  /** The whole (e.g. all orders); the share is part / whole. */
  whole: number;
  /** Text under the percentage, e.g. "of orders". */
  caption: string;
}

const FONT = "font-family=\"system-ui,-apple-system,'Segoe UI',Roboto,Helvetica,Arial,sans-serif\"";
const INK = "#1f2933";
const MUTED = "#7b8794";
const GRID = "#e4e7eb";
const FILL = "#3e7cb1";
const ACCENT = "#e0603a";
const PALETTE = [FILL, ACCENT, "#2f9e77", "#8e6cc4", "#c49a2c"];

/** Escapes text for SVG/HTML. */
export function escapeXml(s: string): string {
  return s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(
    /"/g,
    "&quot;",
  );
}

/** A number with thousands separators and at most `digits` decimals. */
export function fmtNumber(v: number, digits = 2): string {
  return v.toLocaleString("en-US", { maximumFractionDigits: digits });
}

/** A compact number: 1.2k, 3.4M. */
export function fmtCompact(v: number): string {
  const a = Math.abs(v);
  if (a >= 1e6) return `${+(v / 1e6).toFixed(1)}M`;
  if (a >= 1e3) return `${+(v / 1e3).toFixed(1)}k`;
  return `${+v.toFixed(2)}`;
}

/** Round tick values covering [0, max]: 0 and up to about `count` steps of 1, 2 or 5 × 10ⁿ. */
export function niceTicks(max: number, count = 5): number[] {
  if (!(max > 0)) return [0, 1];
  const raw = max / count;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * mag).find((s) => s >= raw)!;
  const ticks: number[] = [];
  for (let t = 0; t < max + step * 0.999; t += step) ticks.push(+t.toPrecision(12));
  return ticks;
}

/** The y axis: an optional label, then a grid line and a value label per tick. */
function yAxis(
  ticks: number[],
  y: (v: number) => number,
  left: number,
  right: number,
  label?: string,
): string[] {
  const parts: string[] = [];
  if (label) {
    parts.push(`<text x="12" y="42" font-size="12" fill="${INK}">${escapeXml(label)}</text>`);
  }
  for (const t of ticks) {
    parts.push(
      `<line x1="${left}" x2="${right}" y1="${r1(y(t))}" y2="${r1(y(t))}" stroke="${GRID}"/>`,
      `<text x="${left - 6}" y="${r1(y(t) + 4)}" font-size="11" text-anchor="end" ` +
        `fill="${MUTED}">${escapeXml(fmtCompact(t))}</text>`,
    );
  }
  return parts;
}

function svgOpen(width: number, height: number, title: string): string {
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" ` +
    `viewBox="0 0 ${width} ${height}" role="img" aria-label="${escapeXml(title)}" ${FONT}>` +
    `<title>${escapeXml(title)}</title>` +
    `<rect width="${width}" height="${height}" fill="#ffffff"/>` +
    `<text x="12" y="22" font-size="15" font-weight="600" fill="${INK}">${escapeXml(title)}</text>`;
}

function r1(v: number): string {
  return (Math.round(v * 10) / 10).toString();
}

/**
 * Horizontal bar chart: labels on the left, values at the bar ends.
 *
 * @example
 * ```ts
 * import { barChart } from "./charts.ts";
 * barChart({ title: "Orders by state", bars: [{ label: "PR", value: 2271 }, { label: "CA", value: 960 }] });
 * ```
 */
export function barChart(o: BarChartOptions): string {
  const width = o.width ?? 600;
  const row = o.rowHeight ?? 22;
  const format = o.format ?? ((v: number) => fmtNumber(v));
  const labelW = Math.min(200, 14 + 7 * Math.max(4, ...o.bars.map((b) => b.label.length)));
  const valueW = 12 + 7 * Math.max(4, ...o.bars.map((b) => format(b.value).length));
  const top = 36;
  const height = top + o.bars.length * row + 12;
  const plotW = Math.max(40, width - labelW - valueW - 12);
  const max = Math.max(0, ...o.bars.map((b) => b.value));
  const parts = [svgOpen(width, height, o.title)];
  o.bars.forEach((b, i) => {
    const y = top + i * row;
    const w = max > 0 ? Math.max(1, (b.value / max) * plotW) : 1;
    parts.push(
      `<text x="${labelW - 8}" y="${r1(y + row * 0.68)}" font-size="12" text-anchor="end" ` +
        `fill="${INK}">${escapeXml(b.label)}</text>`,
      `<rect x="${labelW}" y="${r1(y + 3)}" width="${r1(w)}" height="${r1(row - 6)}" rx="2" ` +
        `fill="${b.highlight ? ACCENT : FILL}"><title>${
          escapeXml(`${b.label}: ${format(b.value)}`)
        }</title></rect>`,
      `<text x="${r1(labelW + w + 6)}" y="${r1(y + row * 0.68)}" font-size="12" fill="${MUTED}">` +
        `${escapeXml(format(b.value))}</text>`,
    );
  });
  parts.push("</svg>");
  return parts.join("");
}

/**
 * Equal-width bins over `values` from 0 (or the minimum, if negative) to the maximum.
 *
 * @example
 * ```ts
 * import { histogramBins } from "./charts.ts";
 * histogramBins([5, 12, 48, 51], 50); // [{from:0,to:50,count:3},{from:50,to:100,count:1}]
 * ```
 */
export function histogramBins(values: readonly number[], binWidth: number): Bin[] {
  if (!(binWidth > 0)) throw new RangeError("histogramBins: binWidth must be > 0");
  if (values.length === 0) return [];
  let lo = Infinity;
  let hi = -Infinity;
  for (const v of values) {
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  const start = Math.min(0, Math.floor(lo / binWidth) * binWidth);
  const n = Math.max(1, Math.floor((hi - start) / binWidth) + 1);
  const bins: Bin[] = Array.from({ length: n }, (_, i) => ({
    from: start + i * binWidth,
    to: start + (i + 1) * binWidth,
    count: 0,
  }));
  for (const v of values) bins[Math.min(n - 1, Math.floor((v - start) / binWidth))].count++;
  return bins;
}

/** One column of {@link columnChart}: its label and value. */
export interface ColumnValue {
  /** Text under the column (thinned out when columns are narrow). */
  label: string;
  /** Height of the column (≥ 0). */
  value: number;
}

/** Options for {@link columnChart}. */
export interface ColumnChartOptions extends ChartBase {
  /** Columns, left to right. */
  columns: ColumnValue[];
  /** Label under the x axis. */
  xLabel?: string;
  /** Label of the y axis (drawn above it). */
  yLabel?: string;
  /** Value text in tooltips (default thousands-separated). */
  format?: (v: number) => string;
  /** Height in px (default 300). */
  height?: number;
}

interface ColumnItem {
  value: number;
  tip: string;
  /** Text under the column, or undefined for none. */
  label: string | undefined;
  /** Where the label sits: under the column's left edge (bin edges) or its middle. */
  at: "edge" | "middle";
}

function columnsSvg(
  o: ChartBase & { xLabel?: string; yLabel?: string; height?: number },
  items: ColumnItem[],
): string {
  const width = o.width ?? 600;
  const height = o.height ?? 320;
  const left = 56;
  const right = 16;
  const top = o.yLabel ? 56 : 40;
  const bottom = o.xLabel ? 52 : 34;
  const plotW = width - left - right;
  const plotH = height - top - bottom;
  const ticks = niceTicks(Math.max(0, ...items.map((c) => c.value)));
  const yMax = ticks.at(-1)!;
  const y = (v: number) => top + plotH - (v / yMax) * plotH;
  const parts = [svgOpen(width, height, o.title)];
  parts.push(...yAxis(ticks, y, left, width - right, o.yLabel));
  // Columns at most 60 px wide, so one or two batches do not fill the whole plot.
  const bw = items.length > 0 ? Math.min(60, plotW / items.length) : plotW;
  items.forEach((c, i) => {
    const x = left + i * bw;
    parts.push(
      `<rect x="${r1(x + 1)}" y="${r1(y(c.value))}" width="${r1(Math.max(1, bw - 2))}" ` +
        `height="${r1(top + plotH - y(c.value))}" fill="${FILL}"><title>${
          escapeXml(c.tip)
        }</title></rect>`,
    );
    if (c.label !== undefined) {
      parts.push(
        `<text x="${r1(c.at === "edge" ? x : x + bw / 2)}" y="${
          top + plotH + 16
        }" font-size="11" ` +
          `text-anchor="middle" fill="${MUTED}">${escapeXml(c.label)}</text>`,
      );
    }
  });
  if (o.xLabel) {
    parts.push(
      `<text x="${left + plotW / 2}" y="${height - 10}" font-size="12" text-anchor="middle" ` +
        `fill="${INK}">${escapeXml(o.xLabel)}</text>`,
    );
  }
  parts.push("</svg>");
  return parts.join("");
}

/** Vertical histogram with count ticks and round bin edges under the columns. */
export function histogram(o: HistogramOptions): string {
  const format = o.format ?? fmtCompact;
  const plotW = (o.width ?? 600) - 72;
  // Label the bin edges that fall on round values (0, 1,000, 2,000 …), at most one per ~48 px.
  const lastEdge = o.bins.at(-1)?.to ?? 1;
  const labelStep = niceTicks(lastEdge, Math.max(1, Math.floor(plotW / 48)))[1];
  const onStep = (v: number) => Math.abs(v / labelStep - Math.round(v / labelStep)) < 1e-9;
  return columnsSvg(
    o,
    o.bins.map((b) => ({
      value: b.count,
      tip: `${format(b.from)}–${format(b.to)}: ${fmtNumber(b.count)}`,
      label: onStep(b.from) ? format(b.from) : undefined,
      at: "edge",
    })),
  );
}

/**
 * Vertical columns, one per entry (e.g. throughput per micro-batch); labels are thinned out
 * when the columns are narrow.
 *
 * @example
 * ```ts
 * import { columnChart } from "./charts.ts";
 * columnChart({ title: "Throughput per batch", yLabel: "records/s",
 *   columns: [{ label: "0", value: 41000 }, { label: "1", value: 52000 }] });
 * ```
 */
export function columnChart(o: ColumnChartOptions): string {
  const format = o.format ?? ((v: number) => fmtNumber(v));
  const plotW = (o.width ?? 600) - 72;
  const every = Math.max(1, Math.ceil(o.columns.length / Math.max(1, Math.floor(plotW / 40))));
  return columnsSvg(
    { height: 300, ...o },
    o.columns.map((c, i) => ({
      value: c.value,
      tip: `${c.label}: ${format(c.value)}`,
      label: i % every === 0 ? c.label : undefined,
      at: "middle",
    })),
  );
}

/**
 * Line chart of one or more series on shared axes (y from 0), with a legend when there are
 * several series.
 *
 * @example
 * ```ts
 * import { lineChart } from "./charts.ts";
 * lineChart({ title: "Throughput per batch", yLabel: "rows/s",
 *   series: [{ name: "orders_raw", points: [{ x: 0, y: 41000 }, { x: 1, y: 52000 }] }] });
 * ```
 */
export function lineChart(o: LineChartOptions): string {
  const width = o.width ?? 600;
  const height = o.height ?? 300;
  const left = 60;
  const right = 16;
  const top = o.yLabel ? 56 : 40;
  const bottom = o.xLabel ? 50 : 32;
  const plotW = width - left - right;
  const plotH = height - top - bottom;
  const pts = o.series.flatMap((s) => s.points);
  const xMin = Math.min(...pts.map((p) => p.x), 0);
  const xMaxRaw = Math.max(...pts.map((p) => p.x), xMin + 1);
  const yTicks = niceTicks(Math.max(0, ...pts.map((p) => p.y)));
  const yMax = yTicks.at(-1)!;
  const x = (v: number) => left + ((v - xMin) / (xMaxRaw - xMin)) * plotW;
  const y = (v: number) => top + plotH - (v / yMax) * plotH;
  const parts = [svgOpen(width, height, o.title)];
  parts.push(...yAxis(yTicks, y, left, width - right, o.yLabel));
  const integral = pts.every((p) => Number.isInteger(p.x));
  const xTicks = niceTicks(xMaxRaw - xMin, 8).map((t) => t + xMin)
    .filter((t) => t <= xMaxRaw && (!integral || Number.isInteger(t)));
  for (const t of xTicks) {
    parts.push(
      `<text x="${r1(x(t))}" y="${top + plotH + 16}" font-size="11" text-anchor="middle" ` +
        `fill="${MUTED}">${escapeXml(fmtCompact(t))}</text>`,
    );
  }
  o.series.forEach((s, i) => {
    const color = PALETTE[i % PALETTE.length];
    const d = s.points.map((p, j) => `${j === 0 ? "M" : "L"}${r1(x(p.x))},${r1(y(p.y))}`).join("");
    parts.push(`<path d="${d}" fill="none" stroke="${color}" stroke-width="2"/>`);
    for (const p of s.points) {
      parts.push(
        `<circle cx="${r1(x(p.x))}" cy="${r1(y(p.y))}" r="3" fill="${color}">` +
          `<title>${escapeXml(`${s.name} ${fmtNumber(p.x)}: ${fmtNumber(p.y)}`)}</title></circle>`,
      );
    }
    if (o.series.length > 1) {
      const lx = width - right - 150;
      const ly = 14 + i * 16;
      parts.push(
        `<rect x="${lx}" y="${ly - 9}" width="10" height="10" fill="${color}"/>`,
        `<text x="${lx + 14}" y="${ly}" font-size="11" fill="${INK}">${escapeXml(s.name)}</text>`,
      );
    }
  });
  if (o.xLabel) {
    parts.push(
      `<text x="${left + plotW / 2}" y="${height - 10}" font-size="12" text-anchor="middle" ` +
        `fill="${INK}">${escapeXml(o.xLabel)}</text>`,
    );
  }
  parts.push("</svg>");
  return parts.join("");
}

/**
 * A donut showing part / whole as a percentage, with the caption under it.
 *
 * @example
 * ```ts
 * import { shareDonut } from "./charts.ts";
 * shareDonut({ title: "Chicago", part: 145, whole: 6000, caption: "of orders" });
 * ```
 */
export function shareDonut(o: ShareOptions): string {
  const width = o.width ?? 300;
  const height = 240;
  const share = o.whole > 0 ? o.part / o.whole : 0;
  const cx = width / 2;
  const cy = 116;
  const r = 64;
  const c = 2 * Math.PI * r;
  const parts = [
    svgOpen(width, height, o.title),
    `<circle cx="${cx}" cy="${cy}" r="${r}" fill="none" stroke="${GRID}" stroke-width="22"/>`,
    `<circle cx="${cx}" cy="${cy}" r="${r}" fill="none" stroke="${ACCENT}" stroke-width="22" ` +
    `stroke-dasharray="${r1(share * c)} ${r1(c)}" transform="rotate(-90 ${cx} ${cy})"/>`,
    `<text x="${cx}" y="${cy + 2}" font-size="24" font-weight="600" text-anchor="middle" ` +
    `fill="${INK}">${(share * 100).toFixed(2)}%</text>`,
    `<text x="${cx}" y="${cy + r + 30}" font-size="12" text-anchor="middle" fill="${MUTED}">` +
    `${escapeXml(o.caption)}</text>`,
    "</svg>",
  ];
  return parts.join("");
}
