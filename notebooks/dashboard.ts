// Dashboard: the pipeline, live, in the browser. A page on 127.0.0.1 that updates itself (server-
// sent events, no reload) from orders_cleaned (only the commits after the last one read), the
// dead letters, processed_orders (read_committed) and the streams' metrics endpoints: orders
// and revenue per minute, by state and city, products by name with their category and
// department, the Chicago share and what the producer stream republished, lag and throughput
// per partition, dead letters by reason. Everything is served from here: it works offline.
//
//   deno task dashboard                       # http://127.0.0.1:8050/
//   deno task dashboard -- --port 9000 --metrics cleaned=9102,producer=9103
//   deno task demo -- --live                  # broker, live feed, the three streams and this

// %% Setup: configuration from flags, env and .env
import { log } from "../lib/cli.ts";
import {
  DASHBOARD_HELP,
  DASHBOARD_OPTIONS,
  parseDashboardOptions,
} from "../lib/dashboard/options.ts";
import { startDashboard } from "../lib/dashboard/run.ts";
import { setupNotebook } from "../lib/notebook/setup.ts";
import { loadProductCatalog } from "../lib/orders/catalog.ts";

const { config, flags } = await setupNotebook({
  usage: `Usage: deno task dashboard [-- options]
Serves a live page of the pipeline on 127.0.0.1 (no network needed); Ctrl-C stops it.

${DASHBOARD_HELP}`,
  tableName: "orders_cleaned",
  options: DASHBOARD_OPTIONS,
  // Kafka may be down: the page says so, and picks it up when it answers.
  needsBroker: false,
});
const options = parseDashboardOptions(flags, config.lakehouse);

// %% Start: products named from data/retail_db/, then serve and update every --interval
const dashboard = await startDashboard({
  ...options,
  table: config.table!,
  catalog: await loadProductCatalog(),
  settings: config.kafka,
  outputTopic: config.outputTopic,
  log,
});
log("dashboard", `open ${dashboard.url} (Ctrl-C stops it)`);

// %% Run until Ctrl-C / SIGTERM
await new Promise<void>((resolve) => {
  const stop = () => resolve();
  Deno.addSignalListener("SIGINT", stop);
  if (Deno.build.os !== "windows") Deno.addSignalListener("SIGTERM", stop);
});
await dashboard.close();
log("done", "dashboard stopped");
Deno.exit(0);
