/**
 * The dashboard's sections as HTML, each made from one {@link DashboardView}: the sources'
 * status, key figures, the last hour per minute, state and city, products, categories and
 * departments, the city share and what the producer stream republished, the streams' lag and
 * throughput, dead letters. Charts are lib/charts.ts SVG; numbers a test or a reader looks for
 * carry `data-kpi` / `data-key` attributes. The page (page.ts) swaps a section's HTML when the
 * server sends a new one.
 *
 * @module
 */
import { barChart, columnChart, escapeXml, fmtNumber, shareDonut } from "../charts.ts";
import { shortLabel } from "../report/charts.ts";
import type { StreamView } from "./metrics.ts";
import type { RepublishedView } from "./republished.ts";
import type { DeadLetterView, GroupRow, OrderView } from "./state.ts";

/** How a table source stands. */
export interface SourceStatus {
  /** The table location. */
  location: string;
  /** `ok`, `empty` (no rows yet), `missing` (no table yet) or `error`. */
  state: "ok" | "empty" | "missing" | "error" | "starting";
  /** One line for the page; empty when all is well. */
  message: string;
  /** The version read. */
  version: number | null;
  /** That version's commit time (ms). */
  committedAt: number | null;
  /** When the last poll succeeded (ms). */
  lastOkAt: number | null;
}

/** Everything one update shows. */
export interface DashboardView {
  /** When it was made (ms). */
  updatedAt: number;
  /** Milliseconds between updates. */
  intervalMs: number;
  /** orders_cleaned's figures. */
  orders: OrderView;
  /** orders_cleaned's status. */
  cleaned: SourceStatus;
  /** orders_dead_letters' counts. */
  deadLetters: DeadLetterView;
  /** orders_dead_letters' status. */
  deadLettersSource: SourceStatus;
  /** The output topic, or null when not read. */
  republished: RepublishedView | null;
  /** The streams' metrics. */
  streams: StreamView[];
}

/** The ids of the page's sections, in page order. */
export const SECTION_IDS = [
  "status",
  "kpis",
  "timeline",
  "geo",
  "products",
  "categories",
  "share",
  "streams",
  "deadletters",
] as const;

/** A section id. */
export type SectionId = typeof SECTION_IDS[number];

const money = (v: number) =>
  `$${v.toLocaleString("en-US", { minimumFractionDigits: 2, maximumFractionDigits: 2 })}`;
const moneyShort = (v: number) => `$${fmtNumber(v, 0)}`;
const int = (v: number) => fmtNumber(v, 0);
const pct = (v: number) => `${(v * 100).toFixed(2)}%`;

/** hh:mm:ss of a time, local to the server (the laptop the page runs on). */
export function clock(ms: number): string {
  const d = new Date(ms);
  return [d.getHours(), d.getMinutes(), d.getSeconds()].map((n) => String(n).padStart(2, "0"))
    .join(":");
}

function note(kind: "ok" | "warn" | "error", text: string): string {
  return `<div class="note ${kind}">${escapeXml(text)}</div>`;
}

function table(head: string[], rows: { cells: (string | number)[]; key?: string }[]): string {
  return `<table><thead><tr>${head.map((h) => `<th>${escapeXml(h)}</th>`).join("")}</tr></thead>` +
    `<tbody>${
      rows.map((r) =>
        `<tr${r.key !== undefined ? ` data-key="${escapeXml(r.key)}"` : ""}>${
          r.cells.map((c) =>
            typeof c === "number"
              ? `<td class="n">${escapeXml(int(c))}</td>`
              : `<td>${escapeXml(c)}</td>`
          ).join("")
        }</tr>`
      ).join("")
    }</tbody></table>`;
}

function card(inner: string): string {
  return `<div class="card">${inner}</div>`;
}

/** A line for a table source that is not readable now, or "". */
function sourceNote(what: string, s: SourceStatus): string {
  switch (s.state) {
    case "missing":
      return note("warn", `${what}: ${s.message}`);
    case "error":
      return note(
        "error",
        `${what}: cannot be read: ${s.message}${
          s.lastOkAt !== null ? ` (figures below as of ${clock(s.lastOkAt)})` : ""
        }`,
      );
    case "empty":
      return note("warn", `${what}: the table has no rows yet`);
    case "starting":
      return note("warn", `${what}: reading…`);
    default:
      return "";
  }
}

function statusSection(v: DashboardView): string {
  const lines: string[] = [];
  const ok = (what: string, s: SourceStatus) =>
    `${what}: version ${s.version ?? "?"}${
      s.committedAt !== null ? `, committed ${clock(s.committedAt)}` : ""
    }`;
  lines.push(
    sourceNote("orders_cleaned", v.cleaned) || note("ok", ok("orders_cleaned", v.cleaned)),
  );
  lines.push(
    sourceNote("orders_dead_letters", v.deadLettersSource) ||
      note("ok", ok("orders_dead_letters", v.deadLettersSource)),
  );
  const r = v.republished;
  if (r) {
    if (r.status === "ok") {
      lines.push(note("ok", `${r.topic}: reading (read_committed), ${int(r.records)} records`));
    } else if (r.status === "starting") lines.push(note("warn", `${r.topic}: connecting…`));
    else lines.push(note(r.status === "missing" ? "warn" : "error", r.message));
  }
  for (const s of v.streams) {
    if (!s.up) lines.push(note("error", `stream ${s.name} is down: ${s.message}`));
    else if (s.message) lines.push(note("warn", `stream ${s.name}: ${s.message}`));
    else lines.push(note("ok", `stream ${s.name} (${s.query}): healthy`));
  }
  return `<div class="notes">${lines.join("")}</div>`;
}

function kpi(name: string, label: string, value: string, sub = ""): string {
  return `<div class="kpi"><div class="k">${escapeXml(label)}</div>` +
    `<div class="v" data-kpi="${escapeXml(name)}">${escapeXml(value)}</div>` +
    (sub ? `<div class="s">${escapeXml(sub)}</div>` : "") + `</div>`;
}

function kpiSection(v: DashboardView): string {
  const o = v.orders;
  const r = v.republished;
  const lastMinute = o.perMinute.at(-2); // the last full minute
  const tiles = [
    kpi("orders", "orders", int(o.orders)),
    kpi("revenue", "revenue", money(o.revenue)),
    kpi("lines", "line items", int(o.lines)),
    kpi(
      "orders-last-minute",
      "orders, last full minute",
      lastMinute ? int(lastMinute.orders) : "0",
    ),
    kpi(
      "city-orders",
      `${o.city.name} orders`,
      int(o.city.orders),
      `${pct(o.city.orderShare)} of orders`,
    ),
    kpi(
      "republished",
      "republished",
      r && r.status !== "missing" ? int(r.records) : "—",
      r ? `to ${r.topic}` : "Kafka not read",
    ),
    kpi("dead-letters", "dead letters", int(v.deadLetters.total)),
  ];
  return `<div class="kpis">${tiles.join("")}</div>`;
}

function timelineSection(v: DashboardView): string {
  const pm = v.orders.perMinute;
  const label = (ms: number) => clock(ms).slice(0, 5);
  return sourceNote("orders_cleaned", v.cleaned) + `<div class="grid">${
    card(columnChart({
      title: "Orders per minute, last hour (Kafka time)",
      columns: pm.map((m) => ({ label: label(m.minute), value: m.orders })),
      yLabel: "orders",
      format: int,
      width: 620,
      height: 260,
    }))
  }${
    card(columnChart({
      title: "Revenue per minute, last hour (Kafka time)",
      columns: pm.map((m) => ({ label: label(m.minute), value: m.revenue })),
      yLabel: "revenue ($)",
      format: money,
      width: 620,
      height: 260,
    }))
  }</div>`;
}

function groupCards(title: string, rows: GroupRow[], keyName: string, highlight: string) {
  const top = rows.slice(0, 12);
  return card(barChart({
    title: `Revenue by ${title} (top ${top.length} of ${rows.length})`,
    bars: top.map((g) => ({
      label: shortLabel(g.key),
      value: g.revenue,
      highlight: g.key === highlight || g.key.startsWith(`${highlight}, `),
    })),
    format: moneyShort,
    width: 420,
  })) + card(table(
    [keyName, "orders", "revenue"],
    top.map((g) => ({ key: g.key, cells: [g.key, g.orders, money(g.revenue)] })),
  ));
}

function geoSection(v: DashboardView): string {
  const o = v.orders;
  return `<div class="grid" data-group="state">${
    groupCards("state", o.byState, "state", "IL")
  }</div><div class="grid" data-group="city">${
    groupCards("city", o.byCity, "city", o.city.name)
  }</div>`;
}

function productsSection(v: DashboardView): string {
  const p = v.orders.topProducts;
  return `<div class="grid">${
    card(barChart({
      title: `Top ${p.length} products by revenue`,
      bars: p.map((x) => ({ label: shortLabel(x.name), value: x.revenue })),
      format: moneyShort,
      width: 560,
    }))
  }${
    card(table(
      ["id", "product", "category", "department", "units", "orders", "revenue"],
      p.map((x) => ({
        key: String(x.productId),
        cells: [
          String(x.productId),
          x.name,
          x.category,
          x.department,
          x.quantity,
          x.orders,
          money(x.revenue),
        ],
      })),
    ))
  }</div>`;
}

function categoriesSection(v: DashboardView): string {
  const o = v.orders;
  return `<div class="grid" data-group="category">${
    card(barChart({
      title: `Revenue by category (top ${
        Math.min(12, o.byCategory.length)
      } of ${o.byCategory.length})`,
      bars: o.byCategory.slice(0, 12).map((g) => ({ label: shortLabel(g.key), value: g.revenue })),
      format: moneyShort,
      width: 520,
    }))
  }${
    card(barChart({
      title: `Revenue by department (${o.byDepartment.length})`,
      bars: o.byDepartment.map((g) => ({ label: shortLabel(g.key), value: g.revenue })),
      format: moneyShort,
      width: 460,
    }))
  }</div>`;
}

function shareSection(v: DashboardView): string {
  const c = v.orders.city;
  const r = v.republished;
  const rows: { cells: (string | number)[]; key?: string }[] = [
    { key: "city", cells: [`${c.name} orders in orders_cleaned`, c.orders, money(c.revenue)] },
    {
      key: "all",
      cells: ["all orders in orders_cleaned", v.orders.orders, money(v.orders.revenue)],
    },
  ];
  if (r && r.status !== "missing") {
    rows.push({
      key: "republished",
      cells: [`orders republished to ${r.topic}`, r.orders, money(r.revenue)],
    });
    if (r.records !== r.orders) {
      rows.push({ key: "records", cells: [`records in ${r.topic}`, r.records, ""] });
    }
  }
  const rnote = !r
    ? note("warn", "the output topic is not read (--no-kafka)")
    : r.status === "ok" || r.status === "starting"
    ? ""
    : note(r.status === "missing" ? "warn" : "error", r.message);
  return rnote + `<div class="grid">${
    card(shareDonut({
      title: `${c.name}: share of orders`,
      part: c.orders,
      whole: v.orders.orders,
      caption: `${int(c.orders)} of ${int(v.orders.orders)} orders`,
    }))
  }${
    card(shareDonut({
      title: `${c.name}: share of revenue`,
      part: c.revenue,
      whole: v.orders.revenue,
      caption: `${moneyShort(c.revenue)} of ${moneyShort(v.orders.revenue)}`,
    }))
  }${card(table(["", "orders", "revenue"], rows))}</div>`;
}

function streamsSection(v: DashboardView): string {
  if (v.streams.length === 0) {
    return note("warn", "no stream metrics endpoints given (--metrics name=PORT,…)");
  }
  return `<div class="grid">${
    v.streams.map((s) => {
      const head = `<h3>${escapeXml(s.name)}${
        s.query ? ` <small>${escapeXml(s.query)}</small>` : ""
      }</h3>`;
      if (!s.up) return card(head + note("error", `down: ${s.message}`));
      const rate = s.recordsPerSecond === null ? "…" : `${int(s.recordsPerSecond)} records/s`;
      return card(
        head + (s.message ? note("warn", s.message) : "") +
          `<div class="meta" data-stream="${escapeXml(s.name)}">${rate} · lag ${
            int(s.lag)
          } records · ${int(s.records)} records in all</div>` +
          table(
            ["partition", "lag", "committed offset", "offsets/s"],
            s.partitions.map((p) => ({
              key: String(p.partition),
              cells: [String(p.partition), p.lag, p.committed, p.rate === null ? "…" : int(p.rate)],
            })),
          ),
      );
    }).join("")
  }</div>`;
}

function deadLettersSection(v: DashboardView): string {
  const d = v.deadLetters;
  const fromStreams = v.streams.filter((s) => s.up && Object.keys(s.deadLetters).length > 0);
  return sourceNote("orders_dead_letters", v.deadLettersSource) +
    `<div class="grid">${
      card(barChart({
        title: `Dead letters by reason (orders_dead_letters: ${int(d.total)})`,
        bars: d.byReason.map((r) => ({ label: r.reason, value: r.count })),
        format: int,
        width: 520,
      }))
    }${
      fromStreams.length
        ? card(table(
          ["reason", ...fromStreams.map((s) => `${s.name} stream`)],
          [...new Set(fromStreams.flatMap((s) => Object.keys(s.deadLetters)))].sort().map((r) => ({
            key: r,
            cells: [r, ...fromStreams.map((s) => s.deadLetters[r] ?? 0)],
          })),
        ))
        : ""
    }</div>`;
}

/**
 * Every section's HTML for one view.
 *
 * @example
 * ```ts
 * import { productCatalog } from "../orders/catalog.ts";
 * import { DeadLetterCounts, LiveOrders } from "./state.ts";
 * import { renderSections } from "./view.ts";
 * const source = { location: "lakehouse/orders_cleaned", state: "missing" as const,
 *   message: "no Delta table yet", version: null, committedAt: null, lastOkAt: null };
 * const sections = renderSections({
 *   updatedAt: Date.now(), intervalMs: 1000,
 *   orders: new LiveOrders(productCatalog([], [], [])).view(Date.now()), cleaned: source,
 *   deadLetters: new DeadLetterCounts().view(), deadLettersSource: source,
 *   republished: null, streams: [],
 * });
 * sections.status.includes("no Delta table yet"); // true
 * ```
 */
export function renderSections(v: DashboardView): Record<SectionId, string> {
  return {
    status: statusSection(v),
    kpis: kpiSection(v),
    timeline: timelineSection(v),
    geo: geoSection(v),
    products: productsSection(v),
    categories: categoriesSection(v),
    share: shareSection(v),
    streams: streamsSection(v),
    deadletters: deadLettersSection(v),
  };
}
