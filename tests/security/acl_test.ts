/**
 * Authorization on the local broker (StandardAuthorizer, ACLs made by the `admin` super user over
 * SASL_SSL): a `client` without WRITE on the output topic gets one clear line and exit code 2 from
 * the producer and from the producer stream, and nothing is half-done: no record (committed or
 * not) in the output, no consumer-group offsets; once WRITE is granted, a rerun of the same query
 * publishes every matching order exactly once.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { withAdmin } from "../support/kafka.ts";
import { jsonLines } from "../support/notebooks.ts";
import {
  allowTopic,
  dropTopicAcls,
  errorLines,
  existingNotebooks,
  REPO_ROOT,
  runNotebookWithin,
  SASL_USERS,
  withSaslBroker,
} from "../support/sasl.ts";

const hasProducerStream = (await existingNotebooks(["kafka-producer-stream"])).length === 1;
const CLIENT = `User:${SASL_USERS.client}`;

function assertDenied(run: { code: number; stderr: string; timedOut: boolean }, what: string) {
  assert.equal(run.timedOut, false, `${what}: still running after the limit`);
  assert.equal(run.code, 2, `${what}: exit ${run.code}\n${run.stderr}`);
  const lines = errorLines(run.stderr);
  assert.equal(lines.length, 1, `${what}: expected one error line, got:\n${lines.join("\n")}`);
  assert.match(lines[0], /^error: not authorized for a topic on .* \(TOPIC_AUTHORIZATION_FAILED\)/);
  assert.match(lines[0], /WRITE on its output topic/);
  assert.doesNotMatch(run.stderr, /^\s+at |KafkaJS\w+Error:/m);
  return lines[0];
}

Deno.test("no WRITE on the output topic: one clear line, exit 2, nothing half-done", async (t) => {
  await withSaslBroker(async (b) => {
    const id = crypto.randomUUID().slice(0, 8);
    const input = `test-security-acl-in-${id}`;
    const output = `test-security-acl-out-${id}`;
    const query = `test-security-acl-q-${id}`;
    const lines = (await Deno.readTextFile(join(REPO_ROOT, "data/file1.json"))).split("\n")
      .filter((l) => l.trim() !== "");
    const chicago = lines.filter((l) => JSON.parse(l).city === "Chicago").length;
    assert.ok(chicago > 5, "data/file1.json should hold Chicago orders");
    const admin = b.kafka("admin");
    try {
      await withAdmin(admin, async (a) => {
        await a.createTopics({
          topics: [{ topic: input, numPartitions: 3 }, { topic: output, numPartitions: 1 }],
          waitForLeaders: true,
        });
        // The client may see and read the output topic, not write it.
        await allowTopic(a, output, CLIENT, ["READ", "DESCRIBE"]);
      });
      const producer = admin.producer();
      await producer.connect();
      await producer.send({
        topic: input,
        messages: lines.map((l) => ({ key: String(JSON.parse(l).customer_id), value: l })),
      });
      await producer.disconnect();

      const outputRecords = async (isolation: "committed" | "uncommitted") => {
        const run = await runNotebookWithin("kafka-consumer-batch", [
          "--topic",
          output,
          "--json",
          ...(isolation === "uncommitted" ? ["--read-uncommitted"] : []),
        ], b.adminEnv);
        assert.equal(run.code, 0, run.stderr);
        return jsonLines(run.stdout).length;
      };

      await t.step("the producer: one line, exit 2, no record written", async () => {
        const run = await runNotebookWithin("producer", ["--topic", output, "--quiet"], b.env);
        const line = assertDenied(run, "producer without WRITE");
        console.log(`producer without WRITE: ${line}`);
        assert.equal(await outputRecords("uncommitted"), 0);
      });

      await t.step({
        name: "the producer stream: one line, exit 2, no partial transaction, no offsets; " +
          "after a grant the rerun publishes each Chicago order once",
        ignore: !hasProducerStream,
        fn: async () => {
          const args = [
            "--topic",
            input,
            "--output-topic",
            output,
            "--query-name",
            query,
            "--available-now",
            "--quiet",
          ];
          const run = await runNotebookWithin("kafka-producer-stream", args, b.env, 120_000);
          const line = assertDenied(run, "producer stream without WRITE");
          console.log(`producer stream without WRITE: ${line}`);
          // Nothing visible to read_committed readers, and nothing written at all.
          assert.equal(await outputRecords("committed"), 0);
          assert.equal(await outputRecords("uncommitted"), 0);
          // No consumed offsets were committed for the query's group (none, or the start: 0).
          await withAdmin(admin, async (a) => {
            const offsets = await a.fetchOffsets({ groupId: query, topics: [input] });
            for (const p of offsets[0]?.partitions ?? []) {
              assert.ok(Number(p.offset) <= 0, `partition ${p.partition} has offset ${p.offset}`);
            }
          });

          // Grant WRITE: the same query now publishes every Chicago order exactly once.
          await withAdmin(admin, (a) => allowTopic(a, output, CLIENT, ["WRITE"]));
          const again = await runNotebookWithin("kafka-producer-stream", args, b.env, 120_000);
          assert.equal(again.code, 0, again.stderr);
          assert.equal(await outputRecords("committed"), chicago);
        },
      });
    } finally {
      await withAdmin(admin, async (a) => {
        await dropTopicAcls(a, output);
        const existing = new Set(await a.listTopics());
        const topics = [input, output, `${output}_dead_letters`].filter((x) => existing.has(x));
        if (topics.length > 0) await a.deleteTopics({ topics });
      }).catch(() => {});
    }
  });
});
