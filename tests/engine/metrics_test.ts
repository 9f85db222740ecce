// Metrics and health of the streams (--metrics-port): the exposition encoder, the health rule
// and the query's metrics in process; then real streams on the real broker, checked by a real
// Prometheus (Debian's package, set up by tests/run.ts): promtool accepts their /metrics, a
// Prometheus server scraping a running stream reports the lag Kafka and the table give, and
// /healthz says 503 while Kafka is unreachable.
import assert from "node:assert/strict";
import { Partitioners } from "kafkajs";
import { ConfigError } from "../../lib/config.ts";
import { healthStatus } from "../../lib/engine/health.ts";
import {
  escapeHelp,
  escapeLabelValue,
  formatValue,
  Registry,
  StreamMetrics,
} from "../../lib/engine/metrics.ts";
import {
  EXPOSITION_CONTENT_TYPE,
  MetricsPortError,
  serveMetrics,
} from "../../lib/engine/metrics_server.ts";
import { parseStreamOptions, type StreamOptions } from "../../lib/engine/options.ts";
import { trackOutage } from "../../lib/engine/outage.ts";
import { startDeltaQuery } from "../../lib/engine/query.ts";
import type { Committed, Sink } from "../../lib/engine/sink.ts";
import { startProducerStream } from "../../lib/insights/stream.ts";
import { createKafka } from "../../lib/kafka/client.ts";
import type { PartitionSlice, StreamSource } from "../../lib/kafka/stream_source.ts";
import { rawSink } from "../../lib/orders/sinks.ts";
import {
  bootstrapServers,
  createTopic,
  deleteTopics,
  freePort,
  testKafka,
  uniqueName,
  withAdmin,
} from "../support/kafka.ts";
import {
  eventually,
  prometheusAvailable,
  promtoolCheckMetrics,
  startPrometheus,
} from "../support/prometheus.ts";
import { freshTopic, produce, storedOffsets, tempLakehouse } from "../support/stream.ts";

/** The value of one series (`name{labels}` exactly as written) in an exposition text. */
function sample(text: string, series: string): number | undefined {
  const line = text.split("\n").find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

// ---------------------------------------------------------------------------------------------
// The exposition encoder

Deno.test("exposition: HELP text and label values are escaped; values as Prometheus reads them", () => {
  assert.equal(escapeHelp('a \\ b\nc "d"'), 'a \\\\ b\\nc "d"');
  assert.equal(escapeLabelValue('a \\ b\nc "d"'), 'a \\\\ b\\nc \\"d\\"');
  assert.deepEqual(
    [NaN, Infinity, -Infinity, 0, -2.5, 1e21].map(formatValue),
    ["NaN", "+Inf", "-Inf", "0", "-2.5", "1e+21"],
  );
  const r = new Registry();
  r.counter("x_total", "Line one\nline \\two").inc({ path: 'C:\\dir "q"\nnext' }, 3);
  r.gauge("y", "A gauge.").set({}, -1.5);
  r.gauge("empty", "Nothing set.");
  assert.equal(
    r.encode(),
    [
      "# HELP x_total Line one\\nline \\\\two",
      "# TYPE x_total counter",
      'x_total{path="C:\\\\dir \\"q\\"\\nnext"} 3',
      "# HELP y A gauge.",
      "# TYPE y gauge",
      "y -1.5",
      "# HELP empty Nothing set.",
      "# TYPE empty gauge",
      "",
    ].join("\n"),
  );
});

Deno.test("exposition: histograms write cumulative buckets (upper bound inclusive), +Inf, _sum and _count", () => {
  const r = new Registry();
  const h = r.histogram("op_seconds", "Op time.", [0.5, 1]);
  h.init({ op: "b" });
  for (const v of [0.25, 1, 2, 0.5]) h.observe({ op: "a" }, v);
  assert.equal(
    r.encode(),
    [
      "# HELP op_seconds Op time.",
      "# TYPE op_seconds histogram",
      'op_seconds_bucket{op="b",le="0.5"} 0',
      'op_seconds_bucket{op="b",le="1"} 0',
      'op_seconds_bucket{op="b",le="+Inf"} 0',
      'op_seconds_sum{op="b"} 0',
      'op_seconds_count{op="b"} 0',
      'op_seconds_bucket{op="a",le="0.5"} 2',
      'op_seconds_bucket{op="a",le="1"} 3',
      'op_seconds_bucket{op="a",le="+Inf"} 4',
      'op_seconds_sum{op="a"} 3.75',
      'op_seconds_count{op="a"} 4',
      "",
    ].join("\n"),
  );
});

Deno.test("exposition: the registry refuses bad names, labels, bounds, duplicates and counters going down", () => {
  const r = new Registry();
  assert.throws(() => r.counter("9lives_total", "x"), TypeError);
  assert.throws(() => r.gauge("a-b", "x"), TypeError);
  const c = r.counter("ok_total", "x");
  assert.throws(() => c.inc({}, -1), RangeError);
  assert.throws(() => c.inc({ "bad-label": "v" }), TypeError);
  assert.throws(() => c.inc({ __reserved: "v" }), TypeError);
  assert.throws(() => r.counter("ok_total", "again"), TypeError);
  assert.throws(() => r.histogram("h1", "x", [1, 1]), RangeError);
  assert.throws(() => r.histogram("h2", "x", [1, Infinity]), RangeError);
  assert.throws(() => r.histogram("h3", "x", [1]).observe({ le: "1" }, 1), TypeError);
});

// ---------------------------------------------------------------------------------------------
// The health rule

Deno.test("health: 503 once Kafka is unreachable or no batch commits with lag for longer than the limit", () => {
  const limit = 60_000;
  const base = { now: 1_000_000, startedAt: 0 };
  assert.deepEqual(healthStatus(base, limit), { ok: true });
  // Kafka down: fine within the limit, 503 past it, whatever the lag.
  assert.deepEqual(healthStatus({ ...base, brokerDownSince: 950_000 }, limit), { ok: true });
  const down = healthStatus(
    { ...base, brokerDownSince: 900_000, brokerError: "connect ECONNREFUSED\nsecond line" },
    limit,
  );
  assert.deepEqual(down, {
    ok: false,
    reason: "Kafka unreachable for 100 s (--health-timeout 1m): connect ECONNREFUSED",
  });
  // No commit for long: 503 only while there is lag.
  const stalled = { ...base, lastCommitAt: 930_000, lag: 7 };
  assert.deepEqual(healthStatus(stalled, limit), {
    ok: false,
    reason: "no batch committed for 70 s while 7 offsets wait (--health-timeout 1m)",
  });
  assert.deepEqual(healthStatus({ ...stalled, lag: 0 }, limit), { ok: true });
  assert.deepEqual(healthStatus({ ...stalled, lag: undefined }, limit), { ok: true });
  // Caught up recently (data just arrived): the clock starts there.
  assert.deepEqual(healthStatus({ ...stalled, caughtUpAt: 990_000 }, limit), { ok: true });
  // Never committed since the start.
  assert.deepEqual(healthStatus({ now: 200_000, startedAt: 100_000, lag: 3 }, limit), {
    ok: false,
    reason: "no batch committed yet for 100 s while 3 offsets wait (--health-timeout 1m)",
  });
});

// ---------------------------------------------------------------------------------------------
// A query's metrics, fed as the run loop feeds them

/** A source holding `partitions`, with what the group source shows metrics. */
function fakeSource(o: {
  partitions: number[];
  latest?: Map<number, bigint>;
  idleSince?: number;
}): StreamSource {
  return {
    positions: () => new Map(o.partitions.map((p) => [p, 0n])),
    unpositioned: () => [],
    latestOffsets: () => o.latest ?? new Map(),
    idleSince: () => o.idleSince,
  } as unknown as StreamSource;
}

function slice(
  parts: { partition: number; start: bigint; end: bigint }[],
  latest: [number, bigint][],
) {
  const partitions: PartitionSlice[] = parts.map((p) => ({
    topic: "in",
    partition: p.partition,
    timestampType: 0,
    start: p.start,
    end: p.end,
    messages: Array.from({ length: Number(p.end - p.start) }, (_, i) => ({
      key: null,
      value: null,
      offset: String(p.start + BigInt(i)),
      timestamp: "0",
    })),
  }));
  return { partitions, latest: new Map(latest) };
}

Deno.test("stream metrics: lag and offsets per partition, records, rows, dead letters, transactions, watermark", () => {
  let now = 1_000_000;
  const m = new StreamMetrics({
    query: "q",
    topic: "in",
    sessionTimeoutMs: 30_000,
    healthTimeoutMs: 60_000,
    now: () => now,
  });
  const latest = new Map<number, bigint>();
  m.opened(fakeSource({ partitions: [0, 1], latest }), { transactional: true } as Sink);
  m.positioned(new Map([[0, 10n], [1, 0n]]), new Map([[0, { high: 50n }], [1, { high: 5n }]]));
  let text = m.render();
  const lag = (p: number) =>
    sample(text, `orders_stream_partition_lag_records{query="q",partition="${p}"}`);
  assert.deepEqual([lag(0), lag(1)], [40, 5]);
  assert.equal(sample(text, 'orders_stream_transactions_total{query="q",outcome="committed"}'), 0);

  const committed: Committed = {
    ok: true,
    sink: { out: { rows: 3 }, "out-dlq": { rows: 2 } },
    deadLetters: 2,
    deadLetterReasons: { not_json: 1 },
    output: { topic: "out", records: 3 },
    eventTime: { watermark: 120_000, late: 2, dropped: 1, windows: 4 },
    durationMs: {},
  };
  const t = performance.now();
  m.batch(slice([{ partition: 0, start: 10n, end: 30n }], [[0, 60n], [1, 5n]]), committed, {
    t0: t,
    c0: t,
  });
  latest.set(1, 9n); // the source saw partition 1 grow since
  text = m.render();
  assert.deepEqual([lag(0), lag(1)], [30, 9]);
  const q = (s: string) => sample(text, `orders_stream_${s}`);
  assert.equal(q('committed_offset{query="q",partition="0"}'), 30);
  assert.equal(q('latest_offset{query="q",partition="1"}'), 9);
  assert.equal(q('input_records_total{query="q",topic="in"}'), 20);
  assert.equal(q('output_rows_total{query="q",topic="out"}'), 3);
  assert.equal(q('dead_letters_total{query="q",reason="not_json"}'), 1);
  assert.equal(q('dead_letters_total{query="q",reason="unknown"}'), 1);
  assert.equal(q('output_records_total{query="q",topic="out"}'), 3);
  assert.equal(q('watermark_timestamp_seconds{query="q"}'), 120);
  assert.equal(q('late_records_dropped_total{query="q"}'), 1);
  assert.equal(q('late_records_accepted_total{query="q"}'), 2);
  assert.equal(q('windows{query="q"}'), 4);
  // Process memory at the batch: positive, and the resident set holds the V8 heap in use.
  const mem = (kind: string) => q(`memory_bytes{query="q",kind="${kind}"}`)!;
  for (const kind of ["rss", "heap_used", "heap_total", "external", "wasm"]) {
    assert.ok(mem(kind) > 0, kind);
  }
  assert.ok(mem("heap_used") <= mem("heap_total") && mem("heap_total") < mem("rss"));
  assert.equal(q('batches_total{query="q"}'), 1);
  assert.equal(q('batch_duration_seconds_count{query="q"}'), 1);
  assert.equal(q('last_commit_timestamp_seconds{query="q"}'), 1000);
  assert.equal(q('partitions_assigned{query="q"}'), 2);

  m.batch(slice([], []), { ok: false, conflict: "moved", sink: {} }, { t0: t, c0: t });
  m.commitFailed();
  text = m.render();
  assert.equal(q('batches_dropped_total{query="q"}'), 1);
  assert.equal(q('commit_failures_total{query="q"}'), 1);
  assert.equal(q('transactions_total{query="q",outcome="aborted"}'), 1);
  assert.equal(q('transactions_total{query="q",outcome="committed"}'), 1);

  // Lag with no commit: healthy within the limit, 503 past it.
  assert.deepEqual(m.health(), { ok: true });
  now += 61_000;
  const h = m.health();
  assert.equal(h.ok, false);
  assert.match((h as { reason: string }).reason, /^no batch committed for 61 s while 39 offsets/);
  assert.equal(sample(m.render(), 'orders_stream_healthy{query="q"}'), 0);
});

Deno.test("stream metrics: Delta files, versions and maintenance; the idle flag; the broker through the outage tracker", () => {
  let now = 5_000_000;
  const m = new StreamMetrics({
    query: "d",
    topic: "in",
    sessionTimeoutMs: 30_000,
    healthTimeoutMs: 10_000,
    now: () => now,
  });
  const outage = m.watchOutage(trackOutage({ query: "d", timeoutMs: 300_000, committedTo: "x" }));
  m.opened(fakeSource({ partitions: [], idleSince: now - 29_000 }), {} as Sink);
  m.batch(slice([], []), {
    ok: true,
    sink: { orders_raw: { rows: 10, version: 7 } },
    written: { orders_raw: { files: 1, bytes: 2048 } },
    maintenance: {
      compactions: 1,
      filesCompacted: 50,
      filesWritten: 1,
      bytesCompacted: 1,
      checkpoints: 1,
      logFilesRemoved: 12,
      failures: 0,
    },
    durationMs: {},
  }, { t0: performance.now(), c0: performance.now() });
  let text = m.render();
  const q = (s: string) => sample(text, `orders_stream_${s}`);
  assert.equal(q('output_rows_total{query="d",table="orders_raw"}'), 10);
  assert.equal(q('table_version{query="d",table="orders_raw"}'), 7);
  assert.equal(q('files_written_total{query="d",table="orders_raw"}'), 1);
  assert.equal(q('bytes_written_total{query="d",table="orders_raw"}'), 2048);
  assert.equal(q('compactions_total{query="d"}'), 1);
  assert.equal(q('compacted_files_total{query="d"}'), 50);
  assert.equal(q('log_files_removed_total{query="d"}'), 12);
  assert.equal(q('checkpoints_total{query="d"}'), 1);
  assert.equal(q('idle{query="d"}'), 0);
  assert.equal(q('broker_up{query="d"}'), 1);
  assert.equal(q('transactions_total{query="d",outcome="committed"}'), undefined);
  now += 2_000; // no partition for 31 s > the session timeout
  outage.failed(new Error("connect ECONNREFUSED 127.0.0.1:1"));
  assert.equal(outage.down, true);
  now += 11_000;
  text = m.render();
  assert.equal(q('idle{query="d"}'), 1);
  assert.equal(q('partitions_assigned{query="d"}'), 0);
  assert.equal(q('broker_up{query="d"}'), 0);
  assert.equal(q('broker_unreachable_seconds{query="d"}'), 11);
  assert.deepEqual(m.health(), {
    ok: false,
    reason: "Kafka unreachable for 11 s (--health-timeout 10s): connect ECONNREFUSED 127.0.0.1:1",
  });
  outage.answered();
  assert.equal(outage.down, false);
  assert.deepEqual(m.health(), { ok: true });
  assert.equal(sample(m.render(), 'orders_stream_broker_up{query="d"}'), 1);
});

Deno.test("options: --metrics-port (0 = off) and --health-timeout", () => {
  const d = parseStreamOptions({}, "q");
  assert.equal(d.metricsPort, 0);
  assert.equal(d.healthTimeoutMs, 60_000);
  const o = parseStreamOptions({ "metrics-port": "9464", "health-timeout": "2m" }, "q");
  assert.equal(o.metricsPort, 9464);
  assert.equal(o.healthTimeoutMs, 120_000);
  for (const bad of ["-1", "65536", "http", "1.5"]) {
    assert.throws(() => parseStreamOptions({ "metrics-port": bad }, "q"), ConfigError);
  }
  assert.throws(() => parseStreamOptions({ "health-timeout": "soon" }, "q"), ConfigError);
});

Deno.test("metrics server: /metrics, /healthz and 404 on 127.0.0.1; a taken port is a one-line error", async () => {
  const m = new StreamMetrics({
    query: "s",
    topic: "in",
    sessionTimeoutMs: 30_000,
    healthTimeoutMs: 60_000,
  });
  const port = freePort();
  const server = serveMetrics(port, m)!;
  try {
    assert.equal(serveMetrics(0, m), undefined);
    const res = await fetch(`http://127.0.0.1:${port}/metrics`);
    assert.equal(res.headers.get("content-type"), EXPOSITION_CONTENT_TYPE);
    assert.equal(sample(await res.text(), 'orders_stream_batches_total{query="s"}'), 0);
    assert.deepEqual(await get(port, "/healthz"), { status: 200, body: "ok\n" });
    assert.equal((await get(port, "/")).status, 404);
    assert.throws(
      () => serveMetrics(port, m),
      (e: Error) =>
        e instanceof MetricsPortError && /^--metrics-port \d+: .*in use/.test(e.message),
    );
  } finally {
    await server.close();
  }
  await assert.rejects(fetch(`http://127.0.0.1:${port}/metrics`));
});

// ---------------------------------------------------------------------------------------------
// Real streams, a real Prometheus

const kafka = () =>
  createKafka({
    bootstrapServers: bootstrapServers(),
    securityProtocol: "PLAINTEXT",
    clientId: "metrics-tests",
  }, "nothing");

async function get(port: number, path: string): Promise<{ status: number; body: string }> {
  const res = await fetch(`http://127.0.0.1:${port}${path}`);
  return { status: res.status, body: await res.text() };
}

async function requirePrometheus(): Promise<void> {
  assert.ok(
    await prometheusAvailable(),
    "prometheus and promtool are missing: run `deno task test` (it installs Debian's " +
      "prometheus package) or `apt-get install prometheus`",
  );
}

Deno.test("metrics: a real Prometheus scrapes a running raw stream; its lag is the high watermark minus the table's offsets", async () => {
  await requirePrometheus();
  const topic = await freshTopic("metrics-lag", 3);
  const { dir, cleanup } = await tempLakehouse();
  const table = `${dir}/orders_raw`;
  const query = uniqueName("metrics-lag");
  const port = freePort();
  let prometheus: Awaited<ReturnType<typeof startPrometheus>> | undefined;
  // A backlog held back: 90 of 300 offsets in the first batch, the next one an hour later.
  await produce(
    topic,
    Array.from({ length: 300 }, (_, i) => ({ key: null, value: `v${i}`, partition: i % 3 })),
  );
  const options: StreamOptions = {
    ...parseStreamOptions({
      "query-name": query,
      "metrics-port": String(port),
      "max-offsets-per-trigger": "90",
      "trigger-interval": "1h",
    }, query),
    progress: "none",
    sessionTimeoutMs: 6000,
  };
  let firstBatch!: () => void;
  const batched = new Promise<void>((r) => (firstBatch = r));
  const q = startDeltaQuery({
    kafka: kafka(),
    topic,
    sink: await rawSink(table),
    options,
    log: () => {},
    onProgress: () => firstBatch(),
  });
  try {
    await Promise.race([batched, q.done.then(() => assert.fail("the query ended"))]);
    const metrics = await get(port, "/metrics");
    assert.equal(metrics.status, 200);
    const check = await promtoolCheckMetrics(metrics.body);
    assert.deepEqual(check, { code: 0, out: "" }, metrics.body);
    assert.deepEqual(await get(port, "/healthz"), { status: 200, body: "ok\n" });
    assert.equal((await get(port, "/nothing")).status, 404);

    prometheus = await startPrometheus([`127.0.0.1:${port}`]);
    const p = prometheus;
    // Wait for a scrape taken after the first commit (the state does not move after it).
    await eventually("a scrape after the first batch", async () => {
      const b = await p.query(`orders_stream_batches_total{query="${query}"}`);
      return b.length === 1 && Number(b[0].value) >= 1 ? true : undefined;
    });
    const byPartition = async (metric: string) =>
      Object.fromEntries(
        (await p.query(`${metric}{query="${query}"}`)).map((
          s,
        ) => [s.metric.partition, Number(s.value)]),
      );
    const scrapedLag = await byPartition("orders_stream_partition_lag_records");
    const scrapedCommitted = await byPartition("orders_stream_committed_offset");

    // Independently: Kafka's high watermarks and the offsets the table's txns hold.
    const marks = await withAdmin(testKafka(), (admin) => admin.fetchTopicOffsets(topic));
    const stored = await storedOffsets(table, query, topic, 3);
    const expectedLag: Record<string, number> = {};
    const expectedCommitted: Record<string, number> = {};
    for (const m of marks) {
      const committed = stored[m.partition] ?? Number(m.low);
      expectedCommitted[String(m.partition)] = committed;
      expectedLag[String(m.partition)] = Number(m.high) - committed;
    }
    assert.deepEqual(scrapedCommitted, expectedCommitted);
    assert.deepEqual(scrapedLag, expectedLag);
    assert.equal(Object.values(expectedLag).reduce((a, b) => a + b, 0), 300 - 90);
    const up = await p.query(`orders_stream_broker_up{query="${query}"}`);
    assert.equal(up[0]?.value, "1");
  } finally {
    await prometheus?.stop();
    q.stop();
    await q.done.catch(() => {});
    await cleanup();
    await deleteTopics(testKafka(), [topic]);
  }
  // The server ends with the query.
  await assert.rejects(fetch(`http://127.0.0.1:${port}/metrics`));
});

Deno.test("metrics: the producer stream adds transactions, output records, the watermark and late records; promtool accepts it", async () => {
  await requirePrometheus();
  const k = testKafka();
  const input = uniqueName("metrics-ps-in");
  const output = uniqueName("metrics-ps-out");
  await createTopic(k, input, 2);
  const port = freePort();
  const query = uniqueName("metrics-ps");
  const producer = k.producer({ createPartitioner: Partitioners.DefaultPartitioner });
  await producer.connect();
  const base = Date.UTC(2024, 0, 1);
  const order = (id: number) =>
    JSON.stringify({
      order_id: id,
      customer_id: id,
      customer_fname: "A",
      customer_lname: "B",
      city: "Chicago",
      state: "IL",
      pincode: 1,
      line_items: [{
        order_item_id: id,
        order_item_product_id: 1,
        order_item_quantity: 1,
        order_item_product_price: 1,
        order_item_subtotal: 1,
      }],
    });
  // 40 orders a minute apart, then one 2 hours too old (beyond the watermark) and one bad record.
  await producer.send({
    topic: input,
    messages: [
      ...Array.from({ length: 40 }, (_, i) => ({
        key: String(i),
        value: order(i),
        timestamp: String(base + i * 60_000),
      })),
    ],
  });
  await producer.send({
    topic: input,
    messages: [
      { key: "late", value: order(100), timestamp: String(base - 2 * 3_600_000), partition: 0 },
      { key: "bad", value: "{not json", timestamp: String(base), partition: 0 },
    ],
  });
  await producer.disconnect();
  let seen = 0;
  let all!: () => void;
  const done = new Promise<void>((r) => (all = r));
  const q = startProducerStream({
    kafka: k,
    topic: input,
    outputTopic: output,
    deadLetterTopic: `${output}_dead_letters`,
    mode: {
      kind: "aggregate",
      aggregate: { dimension: "city", windowMs: 600_000, watermarkMs: 600_000 },
    },
    options: {
      ...parseStreamOptions({ "metrics-port": String(port), "max-offsets-per-trigger": "20" }, {
        queryName: query,
        sink: "kafka",
      }),
      worker: false,
    },
    lingerMs: 50,
    onBatch: (_p, summary) => {
      seen = summary.records;
      if (seen >= 42) all();
    },
  });
  try {
    await Promise.race([done, q.done.then(() => assert.fail("the query ended"))]);
    const { status, body } = await get(port, "/metrics");
    assert.equal(status, 200);
    assert.deepEqual(await promtoolCheckMetrics(body), { code: 0, out: "" }, body);
    const v = (s: string) => sample(body, `orders_stream_${s}`);
    const batches = v(`batches_total{query="${query}"}`)!;
    assert.ok(batches >= 3, body);
    assert.equal(v(`transactions_total{query="${query}",outcome="committed"}`), batches);
    assert.equal(v(`transactions_total{query="${query}",outcome="aborted"}`), 0);
    assert.equal(v(`input_records_total{query="${query}",topic="${input}"}`), 42);
    assert.ok(v(`output_records_total{query="${query}",topic="${output}"}`)! > 0, body);
    assert.equal(
      v(`output_records_total{query="${query}",topic="${output}"}`),
      v(`output_rows_total{query="${query}",topic="${output}"}`),
    );
    assert.equal(v(`dead_letters_total{query="${query}",reason="not_json"}`), 1);
    assert.equal(v(`late_records_dropped_total{query="${query}"}`), 1);
    // The watermark: the largest event time (order 39) minus the watermark delay.
    assert.equal(
      v(`watermark_timestamp_seconds{query="${query}"}`),
      (base + 39 * 60_000 - 600_000) / 1000,
    );
    assert.equal(v(`partitions_assigned{query="${query}"}`), 2);
    assert.equal(v(`partition_lag_records{query="${query}",partition="0"}`), 0);
    assert.equal(v(`partition_lag_records{query="${query}",partition="1"}`), 0);
  } finally {
    q.stop();
    await q.done.catch(() => {});
    await deleteTopics(k, [input, output, `${output}_dead_letters`, `${query}-changelog`]);
  }
});

Deno.test("metrics: a copy of a query that holds no partition for longer than the session timeout is idle", async () => {
  const topic = await freshTopic("metrics-idle", 1);
  const { dir, cleanup } = await tempLakehouse();
  const query = uniqueName("metrics-idle");
  const ports = [freePort(), freePort()];
  const copies = await Promise.all(ports.map(async (port) =>
    startDeltaQuery({
      kafka: kafka(),
      topic,
      sink: await rawSink(`${dir}/orders_raw`),
      options: {
        ...parseStreamOptions({ "query-name": query, "metrics-port": String(port) }, query),
        progress: "none",
        sessionTimeoutMs: 6000,
      },
      log: () => {},
    })
  ));
  try {
    const read = async (port: number) => {
      const text = (await get(port, "/metrics")).body;
      return {
        idle: sample(text, `orders_stream_idle{query="${query}"}`),
        assigned: sample(text, `orders_stream_partitions_assigned{query="${query}"}`),
      };
    };
    // One partition, two copies: one holds it, the other is idle once 6 s have passed.
    const states = await eventually("one idle copy", async () => {
      const s = await Promise.all(ports.map(read));
      return s.some((x) => x.idle === 1) ? s : undefined;
    });
    const sorted = states.slice().sort((a, b) => (a.idle ?? 0) - (b.idle ?? 0));
    assert.deepEqual(sorted, [{ idle: 0, assigned: 1 }, { idle: 1, assigned: 0 }]);
  } finally {
    for (const q of copies) q.stop();
    await Promise.all(copies.map((q) => q.done.catch(() => {})));
    await cleanup();
    await deleteTopics(testKafka(), [topic]);
  }
});

Deno.test("metrics: /healthz answers 503 with a one-line reason while Kafka is unreachable", async () => {
  const { dir, cleanup } = await tempLakehouse();
  const port = freePort();
  const closed = freePort(); // nothing listens there: Kafka is unreachable
  const logs: string[] = [];
  const q = startDeltaQuery({
    kafka: testKafka({ brokers: [`127.0.0.1:${closed}`], retry: { retries: 0 } }),
    topic: "nowhere",
    sink: await rawSink(`${dir}/orders_raw`),
    options: {
      ...parseStreamOptions({
        "query-name": "metrics_down",
        "metrics-port": String(port),
        "health-timeout": "1s",
        "broker-timeout": "60",
      }, "metrics_down"),
      progress: "none",
    },
    log: (tag, m) => logs.push(`${tag} ${m}`),
  });
  try {
    const unhealthy = await eventually("/healthz 503", async () => {
      const h = await get(port, "/healthz");
      return h.status === 503 ? h : undefined;
    });
    assert.match(unhealthy.body, /^Kafka unreachable for \d+ s \(--health-timeout 1s\): .+\n$/);
    assert.equal(unhealthy.body.trim().split("\n").length, 1);
    const text = (await get(port, "/metrics")).body;
    assert.equal(sample(text, 'orders_stream_broker_up{query="metrics_down"}'), 0);
    assert.equal(sample(text, 'orders_stream_healthy{query="metrics_down"}'), 0);
    assert.ok(logs.some((l) => l.startsWith("retry ")), logs.join("\n"));
  } finally {
    q.stop();
    await q.done.catch(() => {});
    await cleanup();
  }
});
