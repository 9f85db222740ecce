/**
 * The producer and the batch consumer run over the local broker's SASL_SSL listener (SASL PLAIN
 * over TLS with a throw-away CA, as Confluent Cloud) with nothing but env changed, and every
 * order arrives once. Uses the shared broker's listener when it has one, else a private broker.
 */
import assert from "node:assert/strict";
import { dataFiles } from "../../lib/orders/lines.ts";
import { withAdmin } from "../support/kafka.ts";
import { jsonLines, runNotebook } from "../support/notebooks.ts";
import { existingNotebooks, withSaslBroker } from "../support/sasl.ts";

async function inputLines(): Promise<string[]> {
  const lines: string[] = [];
  for (const f of await dataFiles()) {
    for (const l of (await Deno.readTextFile(f)).split("\n")) if (l.trim() !== "") lines.push(l);
  }
  return lines;
}

const hasCleanedStream = (await existingNotebooks(["kafka-consumer-stream-cleaned"])).length === 1;

const topicName = () => `test-security-sasl-${crypto.randomUUID().slice(0, 8)}`;

Deno.test("producer and batch consumer over SASL_SSL with only env changed: every order arrives", async (t) => {
  await withSaslBroker(async (broker) => {
    const input = await inputLines();
    const topics: string[] = [];
    try {
      await t.step("the env file alone (--env-file sasl.env)", async () => {
        const topic = topicName();
        topics.push(topic);
        // Empty KAFKA_BOOTSTRAP_SERVERS: the file's value applies (the process env wins over it).
        const env = { KAFKA_BOOTSTRAP_SERVERS: "", KAFKA_TOPIC: topic };
        const sent = await runNotebook("producer", ["--env-file", broker.envFile, "--quiet"], {
          env,
        });
        assert.equal(sent.code, 0, sent.stderr);
        assert.match(sent.stderr, /security protocol {2}SASL_SSL \(SASL PLAIN/);
        assert.match(
          sent.stderr,
          new RegExp(`bootstrap servers {2}${broker.env.KAFKA_BOOTSTRAP_SERVERS}`),
        );
        assert.deepEqual(JSON.parse(sent.stdout.trim().split("\n").at(-1)!), {
          sent: input.length,
          skipped: 0,
          read: input.length,
        });
        const read = await runNotebook("kafka-consumer-batch", [
          "--env-file",
          broker.envFile,
          "--json",
        ], { env });
        assert.equal(read.code, 0, read.stderr);
        const rows = jsonLines<{ key: string; value: string; topic: string }>(read.stdout);
        assert.deepEqual(rows.map((r) => r.value).sort(), [...input].sort());
        for (const r of rows) assert.equal(r.key, String(JSON.parse(r.value).customer_id));
      });

      await t.step({
        name: "the cleaned stream over the same env file: every line item lands in orders_cleaned",
        ignore: !hasCleanedStream,
        fn: async () => {
          const lake = await Deno.makeTempDir({ prefix: "security-sasl-lake-" });
          try {
            const run = await runNotebook("kafka-consumer-stream-cleaned", [
              "--env-file",
              broker.envFile,
              "--available-now",
              "--lakehouse",
              lake,
            ], { env: { KAFKA_BOOTSTRAP_SERVERS: "", KAFKA_TOPIC: topics[0] } });
            assert.equal(run.code, 0, run.stderr);
            const items = input.reduce((n, l) => n + JSON.parse(l).line_items.length, 0);
            const m = run.stderr.match(/orders_cleaned ([\d,]+) rows/);
            assert.ok(m, run.stderr);
            assert.equal(Number(m[1].replaceAll(",", "")), items);
            assert.match(run.stderr, /\b0 dead letters/);
          } finally {
            await Deno.remove(lake, { recursive: true });
          }
        },
      });

      await t.step("the four variables in the environment", async () => {
        const topic = topicName();
        topics.push(topic);
        const few = input.slice(0, 250);
        const sent = await runNotebook("producer", ["--topic", topic, "--quiet", "-"], {
          env: broker.env,
          stdin: few.join("\n"),
        });
        assert.equal(sent.code, 0, sent.stderr);
        assert.equal(JSON.parse(sent.stdout.trim().split("\n").at(-1)!).sent, few.length);
        const read = await runNotebook("kafka-consumer-batch", ["--topic", topic, "--json"], {
          env: broker.env,
        });
        assert.equal(read.code, 0, read.stderr);
        assert.deepEqual(
          jsonLines<{ value: string }>(read.stdout).map((r) => r.value).sort(),
          [
            ...few,
          ].sort(),
        );
      });

      await t.step("the records really went through the SASL user's listener", async () => {
        // The admin (over SASL_SSL too) sees the topics with their records.
        await withAdmin(broker.kafka("admin"), async (admin) => {
          for (const topic of topics) {
            const offsets = await admin.fetchTopicOffsets(topic);
            const total = offsets.reduce((n, o) => n + Number(o.high) - Number(o.low), 0);
            assert.ok(total > 0, `${topic} is empty`);
          }
        });
      });
    } finally {
      await withAdmin(broker.kafka("admin"), async (admin) => {
        const existing = new Set(await admin.listTopics());
        const present = topics.filter((x) => existing.has(x));
        if (present.length > 0) await admin.deleteTopics({ topics: present });
      }).catch(() => {});
    }
  });
});
