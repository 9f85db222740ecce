// Broker faults under the producer stream (notebooks/kafka-producer-stream.ts), on a second
// broker of our own (free ports, temp state dir; never the shared one on 9092): a graceful stop
// and restart, a kill -9 of the broker JVM and restart, while orders keep arriving, then a
// broker that never comes back (--broker-timeout). The read_committed output must hold the
// Chicago orders exactly once, the dead-letter topic each bad record once.
import assert from "node:assert/strict";
import { Kafka, logLevel } from "kafkajs";
import { startBroker, stopBroker } from "../../dev/kafka/mod.ts";
import { createTopic, freePort, uniqueName } from "../support/kafka.ts";
import {
  endsWithOneError,
  faultData,
  inThirds,
  mark,
  produceTo,
  readCommittedTopic,
  retryLines,
  rideOutages,
  terminate,
  type Watched,
  watchScript,
} from "./_support.ts";

const SCRIPT = "notebooks/kafka-producer-stream.ts";

function streamArgs(bootstrap: string, topic: string, extra: string[] = []): string[] {
  return [
    "--bootstrap-servers",
    bootstrap,
    "--topic",
    topic,
    "--output-topic",
    `${topic}-out`,
    "--progress",
    "json",
    "--max-offsets-per-trigger",
    "150",
    "--trigger-interval",
    "300ms",
    ...extra,
  ];
}

/** Sum of the next offsets of the last committed batch (the input topic starts at 0). */
const position = (w: Watched) => {
  const last = w.progress().at(-1);
  if (!last) return 0;
  const source = (last.sources as { endOffset: Record<string, Record<string, number>> }[])[0];
  return Object.values(Object.values(source.endOffset)[0]).reduce((n, o) => n + Number(o), 0);
};

const text = (b: string | Uint8Array | null) =>
  b === null ? "null" : typeof b === "string" ? b : new TextDecoder().decode(b);

Deno.test("producer stream under broker faults: restart, kill -9 + restart, never back", async (t) => {
  const state = await Deno.makeTempDir({ prefix: "faults-ps-broker-" });
  const brokerOpts = {
    port: freePort(),
    controllerPort: freePort(),
    dir: state,
    saslSsl: false,
  };
  const info = await startBroker(brokerOpts);
  const bootstrap = info.bootstrap;
  const kafka = new Kafka({ brokers: [bootstrap], logLevel: logLevel.NOTHING });
  try {
    await t.step(
      "graceful stop + start, kill -9 + start: waits, restarts the query, exactly once",
      async () => {
        const topic = uniqueName("faults-ps");
        await createTopic(kafka, topic, 3);
        const data = await faultData(1500);
        const part = inThirds(data.records);
        await produceTo(kafka, topic, part(0));
        const w = watchScript(SCRIPT, streamArgs(bootstrap, topic));
        try {
          await rideOutages(w, brokerOpts, info.pid, (i) => produceTo(kafka, topic, part(i)), [
            "every offset committed",
            () => position(w) >= data.records.length,
          ]);
        } finally {
          terminate(w);
        }
        // A stream that does not end within a minute of SIGTERM is a failure (its stderr says where).
        const guard = setTimeout(() => {
          console.log(`still running 60 s after SIGTERM; stderr:\n${w.stderr().slice(-4000)}`);
          w.child.kill("SIGKILL");
        }, 60_000);
        const r = await w.end();
        clearTimeout(guard);
        assert.equal(r.code, 0, r.stderr.slice(-3000));
        const retries = retryLines(r.stderr);
        assert.ok(retries.length >= 2, r.stderr);
        // One line each: the query restarting, or (filter mode shares the partitions through a
        // consumer group) the group's consumer restarting or retrying its topic listing.
        const forms = [
          /Kafka unreachable \(.+\); restarting the query in \d+ ms$/,
          /-members: consumer failed \(.+\); restarting it$/,
          /-members: cannot list topics \(.+\); will retry$/,
        ];
        assert.ok(
          retries.every((l) => forms.some((f) => f.test(l))),
          retries.join("\n"),
        );
        assert.ok(retries.some((l) => forms[0].test(l)), retries.join("\n"));
        assert.doesNotMatch(r.stderr, /^\s+at /m, "no stack traces");
        console.log(
          `stderr during the faults:\n${
            r.stderr.split("\n").filter((l) => /retry|start|stop|error|warn/.test(l)).slice(0, 30)
              .join("\n")
          }`,
        );

        // Independent expectation: the valid orders (by the fixture) whose city is Chicago.
        const good = new Set(data.goodValues);
        const expected = data.records
          .filter((x) => x.value !== null && good.has(text(x.value)))
          .filter((x) => JSON.parse(text(x.value)).city === "Chicago")
          .map((x) => `${text(x.key)}=${text(x.value)}`)
          .sort();
        assert.ok(expected.length > 20, `only ${expected.length} Chicago orders`);
        const got = (await readCommittedTopic(kafka, `${topic}-out`))
          .map((x) => `${x.key}=${x.value}`).sort();
        assert.deepEqual(got, expected, "the Chicago orders exactly once");
        const dead = await readCommittedTopic(kafka, `${topic}-out_dead_letters`);
        assert.equal(dead.length, data.bad, "each bad record dead-lettered once");
      },
    );

    await t.step("a broker that never comes back: exit 2 after --broker-timeout", async () => {
      const topic = uniqueName("faults-ps");
      await createTopic(kafka, topic, 3);
      const data = await faultData(1200);
      await produceTo(kafka, topic, data.records);
      const args = streamArgs(bootstrap, topic, ["--broker-timeout", "10"]);
      const r = await endsWithOneError(watchScript(SCRIPT, args), async () => {
        mark("stopBroker for good");
        await stopBroker({ dir: state, graceMs: 30_000 });
      });
      assert.match(
        r.error,
        /^error: \S+: Kafka has been unreachable for 10 s \(--broker-timeout 10\); .*run again to resume$/,
      );
      console.log(`last lines:\n${r.stderr.trim().split("\n").slice(-4).join("\n")}`);
    });
  } finally {
    await stopBroker({ dir: state, graceMs: 10_000 });
    await Deno.remove(state, { recursive: true }).catch(() => {});
  }
});
