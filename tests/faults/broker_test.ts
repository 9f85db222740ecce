// Broker faults under the cleaned stream, on a second broker of our own (free ports, temp
// state dir; never the shared one on 9092): a graceful stop and restart, a kill -9 of the broker
// JVM and restart, and a broker that never comes back (--broker-timeout). Both tables must hold
// every record exactly once afterwards.
import assert from "node:assert/strict";
import { join } from "node:path";
import { Kafka, logLevel } from "kafkajs";
import { startBroker, stopBroker } from "../../dev/kafka/mod.ts";
import { snapshot } from "../../lib/delta/table.ts";
import { createTopic, freePort, uniqueName } from "../support/kafka.ts";
import { runNotebook, storedOffsets, tableRows, tempLakehouse } from "../support/stream.ts";
import {
  assertExactlyOnce,
  endsWithOneError,
  faultData,
  inThirds,
  mark,
  produceTo,
  restartBroker,
  retryLines,
  rideOutages,
  terminate,
  watchCleaned,
} from "./_support.ts";

function streamArgs(
  bootstrap: string,
  topic: string,
  dir: string,
  query: string,
  extra: string[] = [],
) {
  return [
    "--bootstrap-servers",
    bootstrap,
    "--topic",
    topic,
    "--table",
    join(dir, "orders_cleaned"),
    "--dead-letters",
    join(dir, "orders_dead_letters"),
    "--progress",
    "json",
    "--max-offsets-per-trigger",
    "150",
    "--trigger-interval",
    "200ms",
    "--query-name",
    query,
    "--session-timeout-ms",
    "6000",
    ...extra,
  ];
}

Deno.test("broker faults: restart, kill -9 and restart, never back (--broker-timeout)", async (t) => {
  const state = await Deno.makeTempDir({ prefix: "faults-broker-" });
  const port = freePort();
  const controllerPort = freePort();
  const brokerOpts = { port, controllerPort, dir: state, saslSsl: false };
  const info = await startBroker(brokerOpts);
  const bootstrap = info.bootstrap;
  const kafka = new Kafka({ brokers: [bootstrap], logLevel: logLevel.NOTHING });
  const { dir, cleanup } = await tempLakehouse();
  try {
    await t.step(
      "graceful stop + start, then kill -9 + start: waits, resumes, exactly once",
      async () => {
        const topic = uniqueName("faults-broker");
        await createTopic(kafka, topic, 3);
        const data = await faultData(1500);
        const part = inThirds(data.records);
        await produceTo(kafka, topic, part(0));
        const lake = join(dir, "restart");
        const w = watchCleaned(streamArgs(bootstrap, topic, lake, "faults_restart"));
        try {
          await rideOutages(w, brokerOpts, info.pid, (i) => produceTo(kafka, topic, part(i)), [
            "every record committed",
            () => w.committed() >= data.records.length,
          ]);
        } finally {
          terminate(w);
        }
        const r = await w.end();
        assert.equal(r.code, 0, r.stderr.slice(-3000));
        assert.match(r.stderr, /signal\s+stopping between batches|signal\s+finishing batch/);
        const retries = retryLines(r.stderr);
        assert.ok(retries.length >= 2, r.stderr);
        // Each retry is one line: no stack traces on stderr.
        assert.doesNotMatch(r.stderr, /^\s+at /m);
        const outage = r.stderr.split("\n").filter((l) =>
          /retry|assign|resume|kafka |signal|stop|error/.test(l)
        );
        console.log(`stderr during the faults:\n${outage.slice(0, 30).join("\n")}`);
        assert.equal(w.committed(), data.records.length, "every record committed once");
        await assertExactlyOnce(
          join(lake, "orders_cleaned"),
          join(lake, "orders_dead_letters"),
          data,
        );
      },
    );

    await t.step(
      "a broker that never comes back: exit 2 after --broker-timeout, table consistent, rerun exactly once",
      async () => {
        const topic = uniqueName("faults-broker");
        await createTopic(kafka, topic, 3);
        // More than one fetch holds (1 MiB a partition): when the broker is gone, records are
        // left that the stream never fetched, whatever it had buffered.
        const data = await faultData(9000);
        await produceTo(kafka, topic, data.records);
        const lake = join(dir, "never");
        const cleaned = join(lake, "orders_cleaned");
        const dead = join(lake, "orders_dead_letters");
        const args = streamArgs(bootstrap, topic, lake, "faults_never", [
          "--broker-timeout",
          "12",
        ]);
        const w = watchCleaned(args);
        const r = await endsWithOneError(w, async () => {
          mark("stopBroker for good");
          await stopBroker({ dir: state, graceMs: 30_000 });
        });
        assert.match(r.error, /unreachable for 12 s \(--broker-timeout 12\)/);
        console.log(`last lines:\n${r.stderr.trim().split("\n").slice(-3).join("\n")}`);

        // The tables are readable at their last good version and agree with what was reported.
        const snapC = await snapshot(cleaned);
        const rows = await tableRows(cleaned);
        const dl = await tableRows(dead);
        const orders = new Set(rows.map((x) => `${x.kafka_partition}:${x.kafka_offset}`)).size;
        const stored = await storedOffsets(dead, "faults_never", topic, 3);
        const storedC = await storedOffsets(cleaned, "faults_never", topic, 3);
        assert.deepEqual(stored, storedC, "both tables at the same offsets");
        const inTables = stored.reduce((n: number, v) => n + (v ?? 0), 0);
        assert.equal(orders + dl.length, inTables, "tables hold exactly the committed offsets");
        assert.equal(inTables, w.committed(), "what was reported is what was committed");
        assert.ok(inTables < data.records.length, "the outage interrupted the stream");
        assert.ok(snapC.version >= 1);

        // Broker back: a rerun completes exactly once.
        await restartBroker(brokerOpts);
        const rerun = await runNotebook("cleaned", [...args, "--available-now"]);
        assert.equal(rerun.code, 0, rerun.stderr.slice(-3000));
        await assertExactlyOnce(cleaned, dead, data);
      },
    );
  } finally {
    await stopBroker({ dir: state, graceMs: 10_000 });
    await cleanup();
    await Deno.remove(state, { recursive: true }).catch(() => {});
  }
});
