/**
 * The dashboard page: an HTML shell with every section already rendered (it reads fine before
 * any script runs), its stylesheet, and a small script of our own that listens to the server's
 * events (`/events`, server-sent events) and swaps each section's HTML when a new one arrives.
 * Nothing comes from elsewhere: no CDN, no fonts, no images but inline SVG.
 *
 * The script also keeps two figures current between updates: the time of the last update (and
 * how long ago it was) and the lag, from the newest order's Kafka timestamp to now. When no
 * update arrived for three intervals, or the connection is lost, a banner says the numbers are
 * not live and the page is greyed.
 *
 * @module
 */
import { escapeXml } from "../charts.ts";
import { clock, type DashboardView, renderSections, SECTION_IDS } from "./view.ts";

const TITLES: Record<(typeof SECTION_IDS)[number], string> = {
  status: "Sources",
  kpis: "Key figures",
  timeline: "The last hour",
  geo: "By state and city",
  products: "Top products",
  categories: "By category and department",
  share: "Chicago, and what the producer stream republished",
  streams: "Streams: lag and throughput per partition",
  deadletters: "Dead letters by reason",
};

/** The stylesheet (served as /dashboard.css). */
export const DASHBOARD_CSS = `
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,Helvetica,Arial,sans-serif;color:#1f2933;margin:0;background:#f5f7fa}
header{position:sticky;top:0;z-index:2;background:#1f2933;color:#fff;padding:10px 20px;display:flex;flex-wrap:wrap;gap:18px;align-items:baseline}
header h1{font-size:20px;margin:0}
header .live{font-size:14px;color:#cbd2d9}
header .live b{color:#fff;font-variant-numeric:tabular-nums}
main{max-width:1320px;margin:0 auto;padding:0 16px 40px}
h2{font-size:17px;margin:24px 0 8px}
h3{font-size:15px;margin:4px 6px}
h3 small{color:#7b8794;font-weight:400}
#banner{background:#e0603a;color:#fff;padding:8px 20px;font-weight:600}
body.stale main{opacity:.55}
.grid{display:flex;flex-wrap:wrap;gap:14px;align-items:flex-start;margin-bottom:12px}
.card{background:#fff;border:1px solid #e4e7eb;border-radius:8px;padding:6px}
.kpis{display:flex;flex-wrap:wrap;gap:10px}
.kpi{background:#fff;border:1px solid #e4e7eb;border-radius:6px;padding:8px 14px;min-width:130px}
.kpi .k,.kpi .s{font-size:12px;color:#7b8794}
.kpi .v{font-size:22px;font-weight:600;font-variant-numeric:tabular-nums}
.notes{display:flex;flex-direction:column;gap:4px}
.note{font-size:13px;padding:5px 10px;border-radius:5px;border-left:4px solid}
.note.ok{background:#eef6f1;border-color:#2f9e77}
.note.warn{background:#fdf6e3;border-color:#c49a2c;margin-bottom:6px}
.note.error{background:#fbeae5;border-color:#e0603a;margin-bottom:6px}
.meta{font-size:13px;color:#52606d;margin:2px 6px 6px}
table{border-collapse:collapse;background:#fff;font-size:13px}
th,td{border:1px solid #e4e7eb;padding:3px 9px;text-align:left}
td.n{text-align:right;font-variant-numeric:tabular-nums}
`;

/** The page's script (served as /dashboard.js): events in, sections swapped, clocks ticking. */
export const DASHBOARD_JS = `"use strict";
(() => {
  const $ = (id) => document.getElementById(id);
  const body = document.body;
  let updatedAt = Number(body.dataset.updatedAt) || 0;
  let newest = Number(body.dataset.newest) || 0;
  let interval = Number(body.dataset.interval) || 1000;
  let connected = false;
  let lostAt = 0;
  const pad = (n) => String(n).padStart(2, "0");
  const clock = (ms) => {
    const d = new Date(ms);
    return pad(d.getHours()) + ":" + pad(d.getMinutes()) + ":" + pad(d.getSeconds());
  };
  const secs = (ms) => (ms / 1000).toFixed(1) + " s";
  function tick() {
    const now = Date.now();
    const age = now - updatedAt;
    const stale = !connected || !updatedAt || age > 3 * interval + 2000;
    body.classList.toggle("stale", stale);
    $("updated").textContent = updatedAt ? clock(updatedAt) + " (" + secs(age) + " ago)" : "not yet";
    const lag = $("lag");
    if (newest) {
      const l = Math.max(0, now - newest);
      lag.textContent = secs(l);
      lag.dataset.lagMs = String(l);
    } else {
      lag.textContent = "no orders yet";
      delete lag.dataset.lagMs;
    }
    const banner = $("banner");
    banner.hidden = !stale;
    if (stale) {
      const from = updatedAt ? clock(updatedAt) : "before any update";
      banner.textContent = connected
        ? "No update for " + secs(age) + ": the numbers below are from " + from + ", not live."
        : "The connection to the dashboard server is lost" + (lostAt ? " since " + clock(lostAt) : "") +
          " (retrying): the numbers below are from " + from + ", not live.";
    }
  }
  const events = new EventSource("/events");
  events.addEventListener("update", (e) => {
    const u = JSON.parse(e.data);
    connected = true;
    updatedAt = u.updatedAt;
    newest = u.newestEventMs || 0;
    interval = u.intervalMs;
    for (const [id, html] of Object.entries(u.sections)) {
      const el = $(id);
      if (el) el.innerHTML = html;
    }
    body.dataset.updatedAt = String(updatedAt);
    body.dataset.updates = String(Number(body.dataset.updates || "0") + 1);
    tick();
  });
  events.onopen = () => {
    connected = true;
    tick();
  };
  events.onerror = () => {
    if (connected) lostAt = Date.now();
    connected = false;
    tick();
  };
  setInterval(tick, 250);
  tick();
})();
`;

/** A small SVG icon (served as /favicon.svg), so the browser asks for nothing else. */
export const FAVICON_SVG = `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 16 16">` +
  `<rect width="16" height="16" rx="3" fill="#3e7cb1"/><path d="M3 12l3-4 3 2 4-6" ` +
  `stroke="#fff" stroke-width="2" fill="none"/></svg>`;

/**
 * The whole page for a view (every section rendered, so it shows without the script).
 *
 * @example
 * ```ts
 * import { productCatalog } from "../orders/catalog.ts";
 * import { DeadLetterCounts, LiveOrders } from "./state.ts";
 * import { pageHtml } from "./page.ts";
 * const source = { location: "lakehouse/orders_cleaned", state: "starting" as const,
 *   message: "", version: null, committedAt: null, lastOkAt: null };
 * const html = pageHtml({
 *   updatedAt: Date.now(), intervalMs: 1000,
 *   orders: new LiveOrders(productCatalog([], [], [])).view(Date.now()), cleaned: source,
 *   deadLetters: new DeadLetterCounts().view(), deadLettersSource: source,
 *   republished: null, streams: [],
 * });
 * html.startsWith("<!doctype html>"); // true
 * ```
 */
export function pageHtml(v: DashboardView): string {
  const sections = renderSections(v);
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Retail orders, live</title>
<link rel="icon" href="/favicon.svg" type="image/svg+xml">
<link rel="stylesheet" href="/dashboard.css">
<script src="/dashboard.js" defer></script>
</head>
<body data-updated-at="${v.updatedAt}" data-newest="${
    v.orders.newestEventMs ?? 0
  }" data-interval="${v.intervalMs}">
<header><h1>Retail orders, live</h1>
<span class="live">updated <b id="updated">${escapeXml(clock(v.updatedAt))}</b></span>
<span class="live">lag (newest order's Kafka time to now) <b id="lag">…</b></span>
<span class="live">source <b>${escapeXml(v.cleaned.location)}</b></span></header>
<div id="banner" hidden></div>
<main>
${
    SECTION_IDS.map((id) =>
      `<section><h2>${escapeXml(TITLES[id])}</h2><div id="${id}">${sections[id]}</div></section>`
    ).join("\n")
  }
</main>
</body>
</html>
`;
}
