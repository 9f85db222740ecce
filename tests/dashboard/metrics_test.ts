/**
 * The dashboard's view of the streams: the exposition text of a real StreamMetrics parsed back,
 * a real metrics server scraped (up, then down), and the endpoint flag's forms.
 */
import assert from "node:assert/strict";
import { StreamMetrics } from "../../lib/engine/metrics.ts";
import { serveMetrics } from "../../lib/engine/metrics_server.ts";
import { parseEndpoints, parseExposition, StreamScraper } from "../../lib/dashboard/metrics.ts";
import { freePort } from "../support/kafka.ts";

Deno.test("metrics: a stream's exposition text parses back, escapes included", () => {
  const m = new StreamMetrics({
    query: 'q "one"',
    topic: "t",
    sessionTimeoutMs: 30_000,
    healthTimeoutMs: 60_000,
  });
  const samples = parseExposition(m.render());
  const records = samples.find((s) => s.name === "orders_stream_input_records_total");
  assert.deepEqual(records, {
    name: "orders_stream_input_records_total",
    labels: { query: 'q "one"', topic: "t" },
    value: 0,
  });
  assert.equal(samples.find((s) => s.name === "orders_stream_broker_up")?.value, 1);
  assert.ok(samples.some((s) => s.name.endsWith("_bucket") && s.labels.le === "+Inf"));
});

Deno.test("metrics: a running endpoint is up with its query; a stopped one is down, with why", async () => {
  const port = freePort();
  const m = new StreamMetrics({
    query: "orders_cleaned-x",
    topic: "t",
    sessionTimeoutMs: 30_000,
    healthTimeoutMs: 60_000,
  });
  const server = serveMetrics(port, m)!;
  const scraper = new StreamScraper(parseEndpoints(`cleaned=${port}`));
  try {
    const [up] = await scraper.scrape();
    assert.equal(up.up, true);
    assert.equal(up.query, "orders_cleaned-x");
    assert.equal(up.brokerUp, true);
    assert.deepEqual(up.partitions, []);
    assert.equal(up.recordsPerSecond, null, "no rate on the first scrape");
    const [again] = await scraper.scrape();
    assert.equal(again.recordsPerSecond, 0);
  } finally {
    await server.close();
  }
  const [down] = await scraper.scrape();
  assert.equal(down.up, false);
  assert.match(down.message, new RegExp(`no answer from http://127.0.0.1:${port}/metrics`));
});

Deno.test("metrics: endpoints as name=PORT, name=HOST:PORT or name=URL; anything else is refused", () => {
  assert.deepEqual(parseEndpoints("a=9101, b=localhost:9102,c=http://127.0.0.1:9/m"), [
    { name: "a", url: "http://127.0.0.1:9101/metrics" },
    { name: "b", url: "http://localhost:9102/metrics" },
    { name: "c", url: "http://127.0.0.1:9/m" },
  ]);
  assert.deepEqual(parseEndpoints(""), []);
  assert.throws(() => parseEndpoints("9101"), /not name=PORT/);
  assert.throws(() => parseEndpoints("a=ftp://x"), /not a port/);
});
