/**
 * The live dashboard end to end, in headless Chromium: a fresh topic, the real cleaned stream
 * and producer stream (with their metrics endpoints) and `notebooks/dashboard.ts`. The page
 * loads with no console error; its numbers equal an independent computation over the produced
 * orders (JSON.parse, the retail_db CSVs by regex); after more orders are produced they change,
 * without a reload, to the new computation. Screenshot: test-output/dashboard.png.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { feedIds, loadFeedCatalog, OrderFeed } from "../../lib/orders/feed.ts";
import { FEED_REASONS } from "../../lib/orders/feed.ts";
import { chromiumPath } from "../support/jupyter.ts";
import { deleteTopics, testKafka, uniqueName, withAdmin } from "../support/kafka.ts";
import { freshTopic, produce } from "../support/stream.ts";
import { openPage } from "./browser.ts";
import {
  dollars,
  type Expected,
  expected,
  int,
  type PageNumbers,
  READ_PAGE,
  ROOT,
  startPipeline,
  waitForServer,
} from "./live.ts";

const OUTPUT = join(ROOT, "test-output");

/** Orders of the live feed (seeded), 4% malformed (never too_large), as produced records. */
async function feedRecords(seed: number, n: number, startMs: number) {
  const feed = new OrderFeed(await loadFeedCatalog(), {
    seed,
    badRate: 0.04,
    reasons: FEED_REASONS.filter((r) => r !== "too_large"),
    ...feedIds(startMs),
  });
  const out: { key: string; value: Uint8Array; valid: boolean; reason: string }[] = [];
  for (let i = 0; i < n; i++) {
    const r = feed.next();
    if (r.value === null) continue; // tombstones: counted by neither side's orders
    out.push({
      key: r.key,
      value: r.value, // bytes as they are (some are not UTF-8 on purpose)
      valid: r.intended === "ok",
      reason: r.intended,
    });
  }
  return out;
}

function assertPage(p: PageNumbers, e: Expected, what: string): void {
  assert.equal(p.kpis.orders, int(e.orders), `${what}: orders`);
  assert.equal(p.kpis.revenue, dollars(e.cents), `${what}: revenue`);
  assert.equal(p.kpis.lines, int(e.lines), `${what}: line items`);
  assert.equal(p.kpis["city-orders"], int(e.chicagoOrders), `${what}: Chicago orders`);
  assert.equal(p.kpis.republished, int(e.chicagoOrders), `${what}: republished`);
  assert.equal(p.kpis["dead-letters"], int(e.deadLetters), `${what}: dead letters`);
  assert.deepEqual(
    p.states,
    e.byState.slice(0, 12).map(([k, g]) => [k, int(g.orders), dollars(g.cents)]),
    `${what}: states`,
  );
  assert.deepEqual(
    p.cities,
    e.byCity.slice(0, 12).map(([k, g]) => [k, int(g.orders), dollars(g.cents)]),
    `${what}: cities`,
  );
  assert.deepEqual(
    p.products,
    e.products.slice(0, 10).map((x) => [
      String(x.id),
      x.info.name,
      x.info.category,
      x.info.department,
      int(x.units),
      int(x.orders),
      dollars(x.cents),
    ]),
    `${what}: top products`,
  );
  const republished = p.share.find((r) => r[0].startsWith("orders republished"));
  assert.deepEqual(
    republished?.slice(1),
    [int(e.chicagoOrders), dollars(e.chicagoCents)],
    `${what}: republished orders and revenue`,
  );
  const byReason = Object.fromEntries(p.deadletters.map((t) => {
    const [reason, n] = t.split(": ");
    return [reason, Number(n.replace(/,/g, ""))];
  }));
  assert.deepEqual(byReason, e.deadByReason, `${what}: dead letters by reason`);
}

Deno.test("dashboard: live numbers in Chromium equal an independent computation, before and after more orders", async () => {
  const chromium = await chromiumPath();
  if (!chromium) {
    if (Deno.env.get("CI")) assert.fail("chromium is missing: run deno task jupyter:setup");
    console.warn("chromium not installed (deno task jupyter:setup): dashboard test skipped");
    return;
  }
  const topic = await freshTopic("dash-in", 3);
  const output = uniqueName("dash-out");
  const lakehouse = await Deno.makeTempDir({ prefix: "dashboard-" });
  const pipeline = startPipeline(topic, output, lakehouse);
  const dashboard = pipeline.children.at(-1)!;
  let page: Awaited<ReturnType<typeof openPage>> | undefined;
  const read = async () => JSON.parse(await page!.evaluate<string>(READ_PAGE)) as PageNumbers;
  /** Reads the page until `done` holds (the numbers moved), then returns what it read. */
  const settle = async (done: (p: PageNumbers) => boolean, what: string) => {
    const deadline = Date.now() + 45_000;
    let p = await read();
    while (!done(p)) {
      if (Date.now() > deadline) {
        throw new Error(
          `${what}: the page did not reach the expected numbers; it shows ` +
            `${JSON.stringify(p.kpis)}\n${
              pipeline.children.map((c) => `--- ${c.name}\n${c.output().slice(-3000)}`).join("\n")
            }`,
        );
      }
      await new Promise((r) => setTimeout(r, 250));
      p = await read();
    }
    return p;
  };
  try {
    const first = await feedRecords(11, 1500, Date.now());
    await produce(topic, first);
    await waitForServer(pipeline.url, dashboard);
    page = await openPage(chromium, pipeline.url);
    assert.equal(await page.evaluate("document.title"), "Retail orders, live");

    const e1 = await expected(first);
    assert.ok(
      e1.chicagoOrders > 0 && e1.deadLetters > 0,
      "the sample has Chicago orders and bad records",
    );
    const p1 = await settle(
      (p) =>
        p.kpis.orders === int(e1.orders) && p.kpis.republished === int(e1.chicagoOrders) &&
        p.kpis["dead-letters"] === int(e1.deadLetters),
      "first orders",
    );
    assertPage(p1, e1, "first orders");
    // The streams' metrics: both endpoints scraped, per-partition rows, no lag left.
    assert.match(p1.status, /stream cleaned \(orders_cleaned[^)]*\): healthy/);
    assert.match(p1.streams, /partition.*lag.*committed offset/);
    assert.ok(Number.isFinite(p1.lagMs), "the page shows a lag figure");
    assert.equal(p1.stale, false);

    // More orders: the page follows without a reload.
    const updatesBefore = p1.updates;
    const second = await feedRecords(12, 1000, Date.now() + 5);
    await produce(topic, second);
    const e2 = await expected([...first, ...second]);
    const p2 = await settle(
      (p) =>
        p.kpis.orders === int(e2.orders) && p.kpis.republished === int(e2.chicagoOrders) &&
        p.kpis["dead-letters"] === int(e2.deadLetters),
      "after more orders",
    );
    assertPage(p2, e2, "after more orders");
    assert.ok(p2.updates > updatesBefore, "the page was updated by events, not reloaded");
    assert.equal(
      await page.evaluate("performance.getEntriesByType('navigation').length"),
      1,
      "one navigation: no reload",
    );

    assert.deepEqual(page.errors(), [], "no console errors, uncaught errors or failed loads");
    await Deno.mkdir(OUTPUT, { recursive: true });
    const png = await page.screenshot();
    assert.deepEqual([...png.subarray(1, 4)], [0x50, 0x4e, 0x47], "a PNG");
    assert.ok(png.length > 50_000, `screenshot of ${png.length} bytes looks blank`);
    await Deno.writeFile(join(OUTPUT, "dashboard.png"), png);
  } finally {
    await page?.close();
    await pipeline.stop();
    await Deno.remove(lakehouse, { recursive: true }).catch(() => {});
    const kafka = testKafka();
    const all = await withAdmin(kafka, (a) => a.listTopics());
    await deleteTopics(kafka, all.filter((t) => t === topic || t.startsWith(output)));
  }
});
