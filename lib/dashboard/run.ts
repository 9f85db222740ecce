/**
 * The live dashboard, wired: every interval it reads the new commits of orders_cleaned and
 * orders_dead_letters (tail.ts), scrapes the streams' metrics (metrics.ts), takes what the
 * output-topic reader has counted (republished.ts), makes one {@link DashboardView} and sends it
 * to every open page (server.ts). Each source's trouble is a status line on the page; the loop
 * itself never stops on one.
 *
 * @module
 */
import type { KafkaSettings } from "../config.ts";
import type { ProductCatalog } from "../orders/catalog.ts";
import { downView, StreamScraper, type StreamView } from "./metrics.ts";
import type { DashboardOptions } from "./options.ts";
import { RepublishedReader } from "./republished.ts";
import { serveDashboard } from "./server.ts";
import { DeadLetterCounts, LIVE_COLUMNS, LiveOrders } from "./state.ts";
import { TableTail, type TailPoll } from "./tail.ts";
import type { DashboardView, SourceStatus } from "./view.ts";

/** What {@link startDashboard} needs. */
export interface DashboardSetup extends DashboardOptions {
  /** orders_cleaned's location. */
  table: string;
  /** Product names, categories and departments. */
  catalog: ProductCatalog;
  /** Kafka settings (for the output topic), unless `kafka` is false. */
  settings?: KafkaSettings;
  /** The output topic of the producer stream. */
  outputTopic: string;
  /** One-line events (status changes). */
  log?: (tag: string, message: string) => void;
}

/** A running dashboard. */
export interface Dashboard {
  /** The page's URL (127.0.0.1). */
  readonly url: string;
  /** The last view sent. */
  view(): DashboardView;
  /** Resolves after the next update was sent. */
  nextUpdate(): Promise<DashboardView>;
  /** Stops the loop, the Kafka reader and the server. */
  close(): Promise<void>;
}

function source(location: string): SourceStatus {
  return {
    location,
    state: "starting",
    message: "",
    version: null,
    committedAt: null,
    lastOkAt: null,
  };
}

/** Applies a poll to a status and the figures it feeds; returns the new status. */
function apply(
  poll: TailPoll,
  prev: SourceStatus,
  rowsRead: number,
  sink: { reset(): void; add(t: import("apache-arrow").Table): void },
  missingHint: string,
  now: number,
): SourceStatus {
  if (poll.kind === "missing") {
    sink.reset();
    return {
      ...prev,
      state: "missing",
      message: `${poll.message}: ${missingHint}`,
      version: null,
      committedAt: null,
    };
  }
  if (poll.kind === "error") return { ...prev, state: "error", message: poll.message };
  if (poll.kind === "reset") sink.reset();
  for (const t of poll.tables) sink.add(t);
  return {
    ...prev,
    state: rowsRead === 0 ? "empty" : "ok",
    message: "",
    version: poll.version,
    committedAt: poll.committedAt ?? (poll.commits === 0 ? prev.committedAt : null),
    lastOkAt: now,
  };
}

/**
 * Starts the dashboard: serves the page at once (sources "reading…"), then updates it every
 * `intervalMs`.
 *
 * @example
 * ```ts
 * import { loadProductCatalog } from "../orders/catalog.ts";
 * import { startDashboard } from "./run.ts";
 * const dir = await Deno.makeTempDir();
 * const dashboard = await startDashboard({
 *   table: `${dir}/orders_cleaned`, deadLetters: `${dir}/orders_dead_letters`,
 *   catalog: await loadProductCatalog(), outputTopic: "processed_orders", kafka: false,
 *   port: 0, intervalMs: 200, metrics: [], city: "Chicago",
 * });
 * (await dashboard.nextUpdate()).cleaned.state; // "missing": no table yet
 * await dashboard.close();
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export function startDashboard(setup: DashboardSetup): Promise<Dashboard> {
  const log = setup.log ?? (() => {});
  const orders = new LiveOrders(setup.catalog, { city: setup.city });
  const deadLetters = new DeadLetterCounts();
  const cleanedTail = new TableTail(setup.table, LIVE_COLUMNS);
  const deadTail = new TableTail(setup.deadLetters, ["reason"]);
  const scraper = new StreamScraper(setup.metrics);
  const republished = setup.kafka && setup.settings
    ? new RepublishedReader(setup.settings, setup.outputTopic, { log })
    : undefined;
  let cleaned = source(setup.table);
  let dead = source(setup.deadLetters);
  let streams: StreamView[] = setup.metrics.map((e) => downView(e, "not scraped yet", 0));
  const make = (now: number): DashboardView => ({
    updatedAt: now,
    intervalMs: setup.intervalMs,
    orders: orders.view(now),
    cleaned,
    deadLetters: deadLetters.view(),
    deadLettersSource: dead,
    republished: republished?.view() ?? null,
    streams,
  });
  let view = make(Date.now());
  const server = serveDashboard(setup.port, view);
  republished?.start();
  let waiters: ((v: DashboardView) => void)[] = [];
  let stopped = false;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const said = new Map<string, string>();
  const say = (what: string, s: { state?: string; message: string; up?: boolean }) => {
    const line = s.message || (s.up === false ? "down" : s.state ?? "ok");
    if (said.get(what) !== line) log(what, line);
    said.set(what, line);
  };

  const update = async () => {
    const [cp, dp, sv] = await Promise.all([
      cleanedTail.poll(),
      deadTail.poll(),
      scraper.scrape(),
    ]);
    const now = Date.now();
    cleaned = apply(
      cp,
      cleaned,
      cleanedTail.status().rows,
      orders,
      "start the cleaned stream (deno task consume:stream:cleaned)",
      now,
    );
    dead = apply(
      dp,
      dead,
      deadTail.status().rows,
      deadLetters,
      "the cleaned stream creates it with orders_cleaned",
      now,
    );
    streams = sv;
    say("orders_cleaned", cleaned);
    say("dead letters", dead);
    for (const s of sv) say(`stream ${s.name}`, s);
    view = make(now);
    server.publish(view);
    const w = waiters;
    waiters = [];
    for (const f of w) f(view);
  };
  let running: Promise<void> = Promise.resolve();
  const loop = () => {
    if (stopped) return;
    const t0 = performance.now();
    running = update().catch((e) => log("error", `update failed: ${(e as Error)?.message ?? e}`))
      .finally(() => {
        if (stopped) return;
        timer = setTimeout(loop, Math.max(0, setup.intervalMs - (performance.now() - t0)));
      });
  };
  loop();
  return Promise.resolve({
    url: server.url,
    view: () => view,
    nextUpdate: () => new Promise((resolve) => waiters.push(resolve)),
    async close() {
      stopped = true;
      clearTimeout(timer);
      await running;
      await republished?.close();
      await server.close();
    },
  });
}
