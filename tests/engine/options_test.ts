import assert from "node:assert/strict";
import { ConfigError } from "../../lib/config.ts";
import {
  DEFAULT_MAX_OFFSETS_PER_TRIGGER,
  parseDuration,
  parseStreamOptions,
  spareCore,
} from "../../lib/engine/options.ts";

Deno.test("options: defaults follow Spark (earliest, 1 s trigger, failOnDataLoss) and the query name", () => {
  const o = parseStreamOptions({}, "orders_raw");
  assert.equal(o.queryName, "orders_raw");
  assert.deepEqual(o.startingOffsets, { kind: "earliest" });
  assert.equal(o.maxOffsetsPerTrigger, DEFAULT_MAX_OFFSETS_PER_TRIGGER);
  assert.equal(o.triggerIntervalMs, 1000);
  assert.equal(o.availableNow, false);
  assert.equal(o.failOnDataLoss, true);
  assert.equal(o.progress, "text");
  assert.equal(o.commitGroupOffsets, true);
});

Deno.test("options: flags are parsed and checked", () => {
  const o = parseStreamOptions({
    "query-name": "q1",
    "starting-offsets": '{"0":5,"1":-2}',
    "max-offsets-per-trigger": "50",
    "trigger-interval": "2m",
    "available-now": true,
    "fail-on-data-loss": "false",
    progress: "json",
    "no-group-offsets": true,
  }, "x");
  assert.equal(o.queryName, "q1");
  assert.deepEqual(o.startingOffsets, { kind: "partitions", offsets: { "0": 5n, "1": -2n } });
  assert.equal(o.maxOffsetsPerTrigger, 50);
  assert.equal(o.triggerIntervalMs, 120_000);
  assert.equal(o.availableNow, true);
  assert.equal(o.failOnDataLoss, false);
  assert.equal(o.progress, "json");
  assert.equal(o.commitGroupOffsets, false);
  assert.deepEqual(parseStreamOptions({ "starting-timestamp": "1" }, "x").startingOffsets, {
    kind: "timestamp",
    ms: 1,
  });
});

Deno.test("options: bad values are ConfigErrors that name the flag", () => {
  const bad: Record<string, unknown>[] = [
    { "max-offsets-per-trigger": "0" },
    { "max-offsets-per-trigger": "lots" },
    { "trigger-interval": "soon" },
    { "fail-on-data-loss": "maybe" },
    { progress: "xml" },
    { "query-name": "a b" },
    { "starting-offsets": "5" },
    { "starting-offsets": "latest", "starting-timestamp": "1" },
  ];
  for (const flags of bad) {
    assert.throws(() => parseStreamOptions(flags, "q"), ConfigError, JSON.stringify(flags));
  }
});

Deno.test("options: durations", () => {
  assert.equal(parseDuration("500ms"), 500);
  assert.equal(parseDuration("1s"), 1000);
  assert.equal(parseDuration("1.5s"), 1500);
  assert.equal(parseDuration("0"), 0);
  assert.equal(parseDuration("250"), 250);
  assert.equal(parseDuration("1 min"), 60_000);
});

Deno.test("worker offload is chosen from the machine: a spare core (3+ cores, or 2 and a remote broker)", () => {
  assert.equal(spareCore(["127.0.0.1:9092"], 2), false);
  assert.equal(spareCore(["localhost:9092", "[::1]:9093"], 2), false);
  assert.equal(spareCore(["127.0.0.1:9092"], 4), true);
  assert.equal(spareCore(["pkc-xyz.westeurope.azure.confluent.cloud:9092"], 2), true);
  assert.equal(spareCore(["broker-a:9092", "127.0.0.1:9092"], 2), false);
  assert.equal(spareCore(["pkc-xyz.westeurope.azure.confluent.cloud:9092"], 1), false);
  // The flags decide when given; otherwise the Delta streams follow the machine.
  const cores = navigator.hardwareConcurrency;
  // The servers are the resolved ones (settings.bootstrapServers: flag, environment or .env).
  const local = parseStreamOptions({}, { queryName: "q", servers: ["127.0.0.1:9092"] });
  assert.equal(local.worker, cores >= 3);
  assert.equal(
    parseStreamOptions({}, { queryName: "q", servers: ["b.example.com:9092"] }).worker,
    cores >= 2,
  );
  // Without servers, only the cores decide.
  assert.equal(parseStreamOptions({}, "q").worker, cores >= 3);
  assert.equal(
    parseStreamOptions({ worker: true, "bootstrap-servers": "127.0.0.1:9092" }, "q").worker,
    true,
  );
  assert.equal(
    parseStreamOptions({ "no-worker": true, "bootstrap-servers": "b.example.com:9092" }, "q")
      .worker,
    false,
  );
});
