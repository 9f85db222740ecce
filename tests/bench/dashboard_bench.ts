/**
 * Dashboard benchmark (`deno task bench:dashboard -- --rate 2000 --seconds 60`): the live feed
 * at --rate orders/s into a fresh topic, the cleaned and producer streams, the dashboard, and
 * the page in headless Chromium. Every half second it reads the page's lag figure (the newest
 * order's Kafka timestamp to now, as the page shows it) and samples the dashboard process's CPU
 * and RSS. Prints one line of figures per 10 s, then percentiles of the lag, the dashboard's CPU
 * share, its peak RSS, and whether the page's order count reached what the cleaned table holds.
 * `--screenshot FILE` saves the page at the end (docs/dashboard.png is made this way).
 *
 * Figures, not assertions: a machine's speed is not a test result.
 *
 * @module
 */
import { parseArgs } from "node:util";
import { chromiumPath } from "../support/jupyter.ts";
import {
  bootstrapServers,
  deleteTopics,
  testKafka,
  uniqueName,
  withAdmin,
} from "../support/kafka.ts";
import { freshTopic } from "../support/stream.ts";
import { openPage } from "../dashboard/browser.ts";
import {
  type PageNumbers,
  READ_PAGE,
  spawnScript,
  startPipeline,
  waitForServer,
} from "../dashboard/live.ts";

const TICK = (() => {
  try {
    return Number(
      new TextDecoder().decode(
        new Deno.Command("getconf", { args: ["CLK_TCK"], stdout: "piped" }).outputSync().stdout,
      ).trim(),
    ) || 100;
  } catch {
    return 100;
  }
})();

/** utime + stime of a process in seconds, and its RSS in MiB (Linux /proc). */
function usage(pid: number): { cpu: number; rssMiB: number } | undefined {
  try {
    const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
    const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    const cpu = (Number(f[11]) + Number(f[12])) / TICK;
    const status = Deno.readTextFileSync(`/proc/${pid}/status`);
    const rss = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0) / 1024;
    return { cpu, rssMiB: rss };
  } catch {
    return undefined;
  }
}

const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] : NaN;
};

async function main(): Promise<void> {
  const { values } = parseArgs({
    args: Deno.args[0] === "--" ? Deno.args.slice(1) : Deno.args,
    options: {
      rate: { type: "string", default: "2000" },
      seconds: { type: "string", default: "60" },
      partitions: { type: "string", default: "3" },
      screenshot: { type: "string" },
    },
  });
  const rate = Number(values.rate);
  const seconds = Number(values.seconds);
  const partitions = Number(values.partitions);
  if (!(rate > 0) || !(seconds >= 10) || !(partitions > 0)) {
    console.error(
      "usage: deno task bench:dashboard -- [--rate N] [--seconds S ≥ 10] [--partitions P]",
    );
    Deno.exit(2);
  }
  Deno.env.set("KAFKA_BOOTSTRAP_SERVERS", bootstrapServers().join(","));
  const chromium = await chromiumPath();
  if (!chromium) {
    console.error("chromium is not installed: run deno task jupyter:setup");
    Deno.exit(2);
  }

  const topic = await freshTopic("dash-bench", partitions);
  const output = uniqueName("dash-bench-out");
  const lakehouse = await Deno.makeTempDir({ prefix: "dashboard-bench-" });
  const pipeline = startPipeline(topic, output, lakehouse, { interval: "1s" });
  const dashboard = pipeline.children.at(-1)!;
  let page: Awaited<ReturnType<typeof openPage>> | undefined;
  let feed: ReturnType<typeof spawnScript> | undefined;
  try {
    await waitForServer(pipeline.url, dashboard);
    page = await openPage(chromium, pipeline.url);
    console.log(
      `dashboard bench: ${rate} orders/s for ${seconds} s into ${topic} (${partitions} partitions); ` +
        `cleaned + producer streams; page ${pipeline.url} in headless Chromium`,
    );
    feed = spawnScript("feed", "notebooks/producer.ts", [
      "--topic",
      topic,
      "--rate",
      String(rate),
      "--duration",
      `${seconds}s`,
      "--bad-rate",
      "0.01",
      "--quiet",
    ]);
    const warmup = 10_000;
    const t0 = Date.now();
    const lags: number[] = [];
    let stale = 0;
    let samples = 0;
    let peakRss = 0;
    let cpuStart: number | undefined;
    let cpuStartAt = 0;
    let last: PageNumbers | undefined;
    let nextLine = t0 + 10_000;
    const dashPid = dashboard.process.pid;
    while (Date.now() - t0 < seconds * 1000) {
      await new Promise((r) => setTimeout(r, 500));
      last = JSON.parse(await page.evaluate<string>(READ_PAGE)) as PageNumbers;
      const u = usage(dashPid);
      if (u) peakRss = Math.max(peakRss, u.rssMiB);
      if (Date.now() - t0 < warmup) continue;
      if (cpuStart === undefined && u) {
        cpuStart = u.cpu;
        cpuStartAt = performance.now();
      }
      samples++;
      if (last.stale) stale++;
      if (Number.isFinite(last.lagMs)) lags.push(last.lagMs);
      if (Date.now() >= nextLine) {
        nextLine += 10_000;
        const recent = lags.slice(-20);
        console.log(
          `  t=${Math.round((Date.now() - t0) / 1000)}s  page orders ${last.kpis.orders}  ` +
            `lag p50 ${(pct(recent, 50) / 1000).toFixed(2)} s max ${
              (Math.max(...recent) / 1000).toFixed(2)
            } s  dashboard RSS ${u?.rssMiB.toFixed(0)} MiB`,
        );
      }
    }
    if (values.screenshot) {
      await Deno.writeFile(values.screenshot, await page.screenshot());
      console.log(`screenshot: ${values.screenshot}`);
    }
    const u = usage(dashPid);
    const cpuShare = u && cpuStart !== undefined
      ? (u.cpu - cpuStart) / ((performance.now() - cpuStartAt) / 1000)
      : NaN;
    const feedStatus = await feed.stop();
    const feedSummary = feed.output().trim().split("\n").filter((l) => l.startsWith("{")).at(-1);
    // Let the streams and the page catch up, then compare the page with the stream's totals.
    await new Promise((r) => setTimeout(r, 4000));
    last = JSON.parse(await page.evaluate<string>(READ_PAGE)) as PageNumbers;
    console.log(`feed: exit ${feedStatus.code}, ${feedSummary ?? "(no summary)"}`);
    console.log(
      `page lag after ${warmup / 1000} s warm-up (${lags.length} samples): p50 ${
        (pct(lags, 50) / 1000).toFixed(2)
      } s, p95 ${(pct(lags, 95) / 1000).toFixed(2)} s, max ${
        (Math.max(...lags) / 1000).toFixed(2)
      } s; stale ${stale} of ${samples} samples`,
    );
    console.log(
      `dashboard process: CPU ${(cpuShare * 100).toFixed(1)}% of one core, peak RSS ${
        peakRss.toFixed(0)
      } MiB; page shows ${last.kpis.orders} orders, ${last.kpis.republished} republished, ` +
        `${last.kpis["dead-letters"]} dead letters; console errors: ${page.errors().length}`,
    );
  } finally {
    await feed?.stop();
    await page?.close();
    await pipeline.stop();
    await Deno.remove(lakehouse, { recursive: true }).catch(() => {});
    const kafka = testKafka();
    const all = await withAdmin(kafka, (a) => a.listTopics());
    await deleteTopics(kafka, all.filter((t) => t === topic || t.startsWith(output)));
  }
}

// A script (deno run), not a Deno.bench: `deno bench tests/bench/` only loads it.
if (import.meta.main) await main();
