/**
 * Bad or missing data, as the page shows it (headless Chromium, the real broker, tables written
 * by lib/delta): a table that does not exist yet, an empty table, a stream that is down, an
 * output topic that does not exist yet, a table that disappears (its numbers go, they are not
 * kept as if live), a broker that is unreachable, and the dashboard server itself going away
 * (the page says its numbers are not live). The page never breaks: no console error.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import "../../lib/kafka/client.ts"; // silences kafkajs' harmless TimeoutNegativeWarning
import { append, createTable } from "../../lib/delta/table.ts";
import { cleanedSchema, flattenOrders, parseOrder } from "../../lib/orders/mod.ts";
import { chromiumPath } from "../support/jupyter.ts";
import { createTopic, deleteTopics, freePort, testKafka, uniqueName } from "../support/kafka.ts";
import { openPage } from "./browser.ts";
import {
  dataLinesOf,
  int,
  type PageNumbers,
  READ_PAGE,
  spawnScript,
  waitForServer,
} from "./live.ts";

function dashboardArgs(lakehouse: string, output: string, port: number, extra: string[] = []) {
  return [
    "--lakehouse",
    lakehouse,
    "--output-topic",
    output,
    "--port",
    String(port),
    "--interval",
    "300ms",
    "--metrics",
    `cleaned=${freePort()}`,
    ...extra,
  ];
}

Deno.test("dashboard: missing, empty and vanished tables, a stream down, no topic yet, the server gone", async (t) => {
  const chromium = await chromiumPath();
  if (!chromium) {
    if (Deno.env.get("CI")) assert.fail("chromium is missing: run deno task jupyter:setup");
    console.warn("chromium not installed (deno task jupyter:setup): test skipped");
    return;
  }
  const lakehouse = await Deno.makeTempDir({ prefix: "dashboard-sources-" });
  const output = uniqueName("dash-src-out");
  const port = freePort();
  const dashboard = spawnScript(
    "dashboard",
    "notebooks/dashboard.ts",
    dashboardArgs(lakehouse, output, port),
  );
  const url = `http://127.0.0.1:${port}/`;
  let page: Awaited<ReturnType<typeof openPage>> | undefined;
  const read = async () => JSON.parse(await page!.evaluate<string>(READ_PAGE)) as PageNumbers;
  const until = async (ok: (p: PageNumbers) => boolean, what: string) => {
    const deadline = Date.now() + 30_000;
    for (;;) {
      const p = await read();
      if (ok(p)) return p;
      if (Date.now() > deadline) {
        throw new Error(`${what}: the page shows ${JSON.stringify(p)}\n${dashboard.output()}`);
      }
      await new Promise((r) => setTimeout(r, 200));
    }
  };
  const table = join(lakehouse, "orders_cleaned");
  try {
    await waitForServer(url, dashboard);
    page = await openPage(chromium, url);

    await t.step("nothing there yet: a line for each source, numbers at zero", async () => {
      const p = await until(
        (p) =>
          p.updates > 0 && /does not exist yet/.test(p.status) &&
          /stream cleaned is down/.test(p.status),
        "nothing yet",
      );
      assert.match(
        p.status,
        new RegExp(`no Delta table at ${table} yet: start the cleaned stream`),
      );
      assert.match(p.status, /orders_dead_letters: no Delta table at .* yet/);
      assert.match(
        p.status,
        /stream cleaned is down: no answer from http:\/\/127\.0\.0\.1:\d+\/metrics/,
      );
      assert.match(p.status, new RegExp(`topic ${output} does not exist yet`));
      assert.equal(p.kpis.orders, "0");
      assert.equal(p.stale, false);
    });

    await t.step("an empty table says so", async () => {
      await createTable(table, cleanedSchema, { name: "orders_cleaned" });
      const p = await until(
        (p) => /orders_cleaned: the table has no rows yet/.test(p.status),
        "empty",
      );
      assert.equal(p.kpis.orders, "0");
    });

    const lines = (await dataLinesOf(1)).slice(0, 40);
    await t.step(
      "rows appended by a writer appear; the output topic, once created, is read",
      async () => {
        const records = lines.map((l, i) => {
          const r = parseOrder(l);
          if (!r.ok) throw new Error(r.message);
          return { order: r.order, partition: 0, offset: i, timestampMs: Date.now() };
        });
        await append(table, flattenOrders(records, Date.now()));
        await createTopic(testKafka(), output, 1);
        const p = await until(
          (p) => p.kpis.orders === int(lines.length) && /reading \(read_committed\)/.test(p.status),
          "rows",
        );
        assert.match(p.status, /orders_cleaned: version 1/);
        assert.equal(p.kpis.republished, "0");
      },
    );

    await t.step("a table that disappears: a message, and its numbers are gone", async () => {
      await Deno.remove(table, { recursive: true });
      const p = await until((p) => /orders_cleaned: no Delta table at/.test(p.status), "vanished");
      assert.equal(p.kpis.orders, "0");
      assert.deepEqual(page!.errors(), [], "no console errors while sources come and go");
    });

    await t.step("the server goes away: the page says its numbers are not live", async () => {
      await dashboard.stop();
      const p = await until((p) => p.stale && p.banner !== "", "server gone");
      assert.match(p.banner, /connection to the dashboard server is lost.*not live/);
    });
  } finally {
    await page?.close();
    await dashboard.stop();
    await Deno.remove(lakehouse, { recursive: true }).catch(() => {});
    await deleteTopics(testKafka(), [output]).catch(() => {});
  }
});

Deno.test("dashboard: an unreachable broker is a line on the page, and the page stays up", async () => {
  const chromium = await chromiumPath();
  if (!chromium) return;
  const lakehouse = await Deno.makeTempDir({ prefix: "dashboard-nobroker-" });
  const port = freePort();
  const dead = `127.0.0.1:${freePort()}`;
  const dashboard = spawnScript(
    "dashboard",
    "notebooks/dashboard.ts",
    dashboardArgs(lakehouse, "processed_orders", port, ["--bootstrap-servers", dead]),
  );
  let page: Awaited<ReturnType<typeof openPage>> | undefined;
  try {
    await waitForServer(`http://127.0.0.1:${port}/`, dashboard);
    page = await openPage(chromium, `http://127.0.0.1:${port}/`);
    const status = await page.waitFor<string>(
      `(() => { const t = document.getElementById("status").textContent;
        return /is unreachable/.test(t) ? t : ""; })()`,
      30_000,
    );
    assert.match(status, new RegExp(`Kafka at ${dead.replaceAll(".", "\\.")} is unreachable: `));
    // Live all the same: the page gets its updates (the table and stream lines go on).
    await page.waitFor("Number(document.body.dataset.updates || 0) > 1");
    assert.equal(await page.evaluate("document.body.classList.contains('stale')"), false);
    assert.deepEqual(page.errors(), []);
  } finally {
    await page?.close();
    await dashboard.stop();
    await Deno.remove(lakehouse, { recursive: true }).catch(() => {});
  }
});
