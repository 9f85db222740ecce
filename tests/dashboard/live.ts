/**
 * Helpers of the dashboard's end-to-end test and benchmark: the pipeline's processes (the
 * cleaned stream, the producer stream, the dashboard) as children on a fresh topic and a temp
 * lakehouse, and the figures the page must show, computed from the produced JSON on their own
 * (JSON.parse, a regex over data/retail_db; no lib/dashboard, lib/report or Delta code).
 *
 * @module
 */
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { expectedCatalog, type ExpectedProduct } from "../report/fixture.ts";
import { bootstrapServers, freePort } from "../support/kafka.ts";

/** The repository root. */
export const ROOT = fileURLToPath(new URL("../../", import.meta.url));

/** A child process of the test, with its output collected. */
export interface Child {
  /** Its name, for messages. */
  name: string;
  /** The process. */
  process: Deno.ChildProcess;
  /** stdout + stderr so far. */
  output(): string;
  /** SIGTERM (the notebooks finish their batch), then the exit status. */
  stop(): Promise<Deno.CommandStatus>;
}

/** Starts `notebooks/<script>.ts` with args against the test broker. */
export function spawnScript(name: string, script: string, args: string[]): Child {
  const process = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", join(ROOT, script), ...args],
    cwd: ROOT,
    env: {
      KAFKA_BOOTSTRAP_SERVERS: bootstrapServers().join(","),
      KAFKAJS_NO_PARTITIONER_WARNING: "1",
      NO_COLOR: "1",
    },
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const chunks: string[] = [];
  const drain = async (s: ReadableStream<Uint8Array>) => {
    for await (const t of s.pipeThrough(new TextDecoderStream())) chunks.push(t);
  };
  const drained = Promise.all([drain(process.stdout), drain(process.stderr)]);
  let stopping: Promise<Deno.CommandStatus> | undefined;
  return {
    name,
    process,
    output: () => chunks.join(""),
    stop() {
      stopping ??= (async () => {
        try {
          process.kill("SIGTERM");
        } catch {
          // already gone
        }
        const timer = setTimeout(() => {
          try {
            process.kill("SIGKILL");
          } catch {
            // gone
          }
        }, 20_000);
        const status = await process.status;
        clearTimeout(timer);
        await drained;
        return status;
      })();
      return stopping;
    },
  };
}

/** Ports and names of one pipeline under test. */
export interface Pipeline {
  /** The cleaned stream, the producer stream, the dashboard. */
  children: Child[];
  /** The dashboard's URL. */
  url: string;
  /** Stops every child (in reverse order). */
  stop(): Promise<void>;
}

/**
 * Starts the cleaned stream, the producer stream (filter city = 'Chicago' to `output`) and the
 * dashboard on `topic` with tables under `lakehouse`, each stream with a metrics port.
 */
export function startPipeline(
  topic: string,
  output: string,
  lakehouse: string,
  opts: { interval?: string; extra?: string[]; streams?: boolean } = {},
): Pipeline {
  const servers = bootstrapServers().join(",");
  const cleanedPort = freePort();
  const producerPort = freePort();
  const dashboardPort = freePort();
  const children: Child[] = [];
  if (opts.streams ?? true) {
    children.push(
      spawnScript("cleaned stream", "notebooks/kafka-consumer-stream-cleaned.ts", [
        "--bootstrap-servers",
        servers,
        "--topic",
        topic,
        "--lakehouse",
        lakehouse,
        "--table",
        `${lakehouse}/orders_cleaned`,
        "--dead-letters",
        `${lakehouse}/orders_dead_letters`,
        "--metrics-port",
        String(cleanedPort),
      ]),
      spawnScript("producer stream", "notebooks/kafka-producer-stream.ts", [
        "--bootstrap-servers",
        servers,
        "--topic",
        topic,
        "--output-topic",
        output,
        "--query-name",
        `${output}-q`,
        "--metrics-port",
        String(producerPort),
      ]),
    );
  }
  children.push(
    spawnScript("dashboard", "notebooks/dashboard.ts", [
      "--bootstrap-servers",
      servers,
      "--lakehouse",
      lakehouse,
      "--output-topic",
      output,
      "--port",
      String(dashboardPort),
      "--interval",
      opts.interval ?? "500ms",
      "--metrics",
      `cleaned=${cleanedPort},producer=${producerPort}`,
      ...(opts.extra ?? []),
    ]),
  );
  return {
    children,
    url: `http://127.0.0.1:${dashboardPort}/`,
    async stop() {
      for (const c of [...children].reverse()) await c.stop();
    },
  };
}

/** Waits until the dashboard answers /healthz. */
export async function waitForServer(url: string, child: Child, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    try {
      const r = await fetch(new URL("/healthz", url));
      await r.body?.cancel();
      if (r.ok) return;
    } catch {
      // not yet
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`the dashboard did not start:\n${child.output()}`);
}

/** What the page must show for a set of produced values. */
export interface Expected {
  orders: number;
  lines: number;
  cents: number;
  byState: [string, { orders: number; cents: number }][];
  byCity: [string, { orders: number; cents: number }][];
  products: { id: number; info: ExpectedProduct; units: number; orders: number; cents: number }[];
  chicagoOrders: number;
  chicagoCents: number;
  deadLetters: number;
  /** Dead letters by reason (from what each bad record was made to be). */
  deadByReason: Record<string, number>;
}

function sortGroups(m: Map<string, { orders: number; cents: number }>) {
  return [...m].sort((a, b) => b[1].cents - a[1].cents || (a[0] < b[0] ? -1 : 1));
}

/**
 * The figures of `values` (each a record's value as produced; `valid` says which are orders),
 * computed from the JSON: every valid record is one order.
 */
export async function expected(
  values: { value: string | Uint8Array; valid: boolean; reason?: string }[],
): Promise<Expected> {
  const deadByReason: Record<string, number> = {};
  const catalog = await expectedCatalog();
  const byState = new Map<string, { orders: number; cents: number }>();
  const byCity = new Map<string, { orders: number; cents: number }>();
  const products = new Map<number, { units: number; orders: number; cents: number }>();
  let orders = 0, lines = 0, cents = 0, chicagoOrders = 0, chicagoCents = 0, dead = 0;
  for (const { value, valid, reason } of values) {
    if (!valid) {
      dead++;
      deadByReason[reason ?? "?"] = (deadByReason[reason ?? "?"] ?? 0) + 1;
      continue;
    }
    const o = JSON.parse(typeof value === "string" ? value : new TextDecoder().decode(value));
    let c = 0;
    const seen = new Set<number>();
    for (const li of o.line_items) {
      const lc = Math.round(li.order_item_subtotal * 100);
      c += lc;
      lines++;
      const p = products.get(li.order_item_product_id) ?? { units: 0, orders: 0, cents: 0 };
      p.units += li.order_item_quantity;
      p.cents += lc;
      if (!seen.has(li.order_item_product_id)) p.orders++;
      seen.add(li.order_item_product_id);
      products.set(li.order_item_product_id, p);
    }
    orders++;
    cents += c;
    for (const [m, k] of [[byState, o.state], [byCity, `${o.city}, ${o.state}`]] as const) {
      const g = m.get(k) ?? { orders: 0, cents: 0 };
      g.orders++;
      g.cents += c;
      m.set(k, g);
    }
    if (o.city === "Chicago") {
      chicagoOrders++;
      chicagoCents += c;
    }
  }
  return {
    orders,
    lines,
    cents,
    byState: sortGroups(byState),
    byCity: sortGroups(byCity),
    products: [...products].sort((a, b) => b[1].cents - a[1].cents || a[0] - b[0])
      .map(([id, p]) => ({ id, info: catalog.get(id)!, ...p })),
    chicagoOrders,
    chicagoCents,
    deadLetters: dead,
    deadByReason,
  };
}

/** 1234 → "1,234". */
export const int = (n: number) => n.toLocaleString("en-US");
/** cents → "$1,234.56". */
export const dollars = (cents: number) =>
  `$${
    (cents / 100).toLocaleString("en-US", { minimumFractionDigits: 2, maximumFractionDigits: 2 })
  }`;

/** The expression that reads the page's numbers (the DOM, as a reader sees it). */
export const READ_PAGE = `(() => {
  const text = (el) => el ? el.textContent.trim() : null;
  const kpis = {};
  for (const el of document.querySelectorAll("[data-kpi]")) kpis[el.dataset.kpi] = text(el);
  const rows = (sel) => [...document.querySelectorAll(sel)].map((tr) =>
    [...tr.cells].map((c) => c.textContent.trim()));
  return JSON.stringify({
    kpis,
    states: rows("#geo [data-group=state] tr[data-key]"),
    cities: rows("#geo [data-group=city] tr[data-key]"),
    products: rows("#products tr[data-key]"),
    share: rows("#share tr[data-key]"),
    status: text(document.getElementById("status")),
    streams: text(document.getElementById("streams")),
    deadletters: [...document.querySelectorAll("#deadletters svg rect > title")]
      .map((t) => t.textContent),
    lagMs: Number(document.getElementById("lag").dataset.lagMs ?? NaN),
    stale: document.body.classList.contains("stale"),
    banner: document.getElementById("banner").hidden ? "" : text(document.getElementById("banner")),
    updates: Number(document.body.dataset.updates || 0),
  });
})()`;

/** What {@link READ_PAGE} returns. */
export interface PageNumbers {
  kpis: Record<string, string>;
  states: string[][];
  cities: string[][];
  products: string[][];
  share: string[][];
  status: string;
  streams: string;
  deadletters: string[];
  lagMs: number;
  stale: boolean;
  banner: string;
  updates: number;
}

/** Lines of data/fileN.json. */
export async function dataLinesOf(n: number): Promise<string[]> {
  const text = await Deno.readTextFile(join(ROOT, "data", `file${n}.json`));
  return text.split("\n").filter((l) => l.trim() !== "");
}
