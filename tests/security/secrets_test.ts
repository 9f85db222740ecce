/**
 * No secret in any output: every notebook of the pipeline runs over the SASL_SSL listener with
 * the real secret (so it is really used) and again with a wrong, recognisable one (so the failure
 * path is scanned too); their stdout/stderr, every file they wrote (the lakehouse) and the
 * broker's log must hold neither secret, whole or as any 8-character slice. The broker log must
 * not hold the admin's password either (the JAAS config stays out of logs).
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { withAdmin } from "../support/kafka.ts";
import {
  existingNotebooks,
  leaks,
  REPO_ROOT,
  runNotebookWithin,
  withSaslBroker,
} from "../support/sasl.ts";

const NOTEBOOKS = [
  "producer",
  "kafka-consumer-batch",
  "kafka-consumer-stream",
  "kafka-consumer-stream-cleaned",
  "kafka-producer-stream",
  "explore-orders",
];
/** Notebooks that never talk to Kafka (a wrong secret cannot make them fail). */
const NO_KAFKA = new Set(["explore-orders"]);
const present = await existingNotebooks(NOTEBOOKS);

/** Every file under `dir`, decoded as latin1 (binary Parquet included), joined. */
async function filesText(dir: string): Promise<{ files: number; text: string }> {
  const parts: string[] = [];
  const walk = async (d: string) => {
    for await (const e of Deno.readDir(d)) {
      const p = join(d, e.name);
      if (e.isDirectory) await walk(p);
      else if (e.isFile) {
        parts.push(`${p}\n${new TextDecoder("latin1").decode(await Deno.readFile(p))}`);
      }
    }
  };
  await walk(dir).catch((e) => {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
  });
  return { files: parts.length, text: parts.join("\n") };
}

Deno.test(`no secret in any output of: ${present.join(", ")}`, async () => {
  await withSaslBroker(async (b) => {
    const id = crypto.randomUUID().slice(0, 8);
    const topic = `test-security-secrets-${id}`;
    const lake = await Deno.makeTempDir({ prefix: "security-secrets-" });
    const secret = b.env.KAFKA_API_SECRET;
    const wrong = `SeCrEt-WRONG-${crypto.randomUUID()}`;
    const argsOf = (nb: string): string[] => {
      switch (nb) {
        case "producer":
          return ["--topic", topic, join(REPO_ROOT, "data/file1.json")];
        case "kafka-consumer-batch":
          return ["--topic", topic, "--limit", "5"];
        case "explore-orders":
          return [
            "--table",
            join(lake, "kafka-consumer-stream-cleaned", "orders_cleaned"),
            "--out",
            join(lake, "report.html"),
          ];
        case "kafka-producer-stream":
          return ["--topic", topic, "--output-topic", `${topic}-out`, "--available-now"];
        default:
          return ["--topic", topic, "--available-now", "--lakehouse", join(lake, nb)];
      }
    };
    const outputs: string[] = [];
    const ran: string[] = [];
    try {
      // With the real secret: each notebook does its job (the producer first fills the topic).
      for (const nb of present) {
        const run = await runNotebookWithin(nb, argsOf(nb), b.env, 120_000);
        assert.equal(run.code, 0, `${nb}: exit ${run.code}\n${run.stderr}`);
        outputs.push(run.stdout, run.stderr);
        ran.push(`${nb} (secret)`);
      }
      // With a wrong secret: each fails; what it prints on the way is scanned too.
      for (const nb of present.filter((n) => !NO_KAFKA.has(n))) {
        const run = await runNotebookWithin(nb, argsOf(nb), {
          ...b.env,
          KAFKA_API_SECRET: wrong,
        }, 45_000);
        assert.notEqual(run.code, 0, `${nb} succeeded with a wrong secret`);
        outputs.push(run.stdout, run.stderr);
        ran.push(`${nb} (wrong secret)`);
      }
      // DEBUG=1 prints the whole error object: still no secret.
      const debug = await runNotebookWithin("producer", argsOf("producer"), {
        ...b.env,
        KAFKA_API_SECRET: wrong,
        DEBUG: "1",
      }, 45_000);
      assert.equal(debug.code, 2, debug.stderr);
      outputs.push(debug.stdout, debug.stderr);
      ran.push("producer (wrong secret, DEBUG=1)");

      const written = await filesText(lake);
      const brokerLog = await Deno.readTextFile(join(b.dir, "broker.log"));
      const scanned: Record<string, string> = {
        "notebook stdout/stderr": outputs.join("\n"),
        [`files written (${written.files})`]: written.text,
        "broker log": brokerLog,
      };
      assert.ok(outputs.join("").length > 1000, "the runs printed almost nothing");
      const tableStreams = present.filter((n) => n.startsWith("kafka-consumer-stream"));
      if (tableStreams.length > 0) assert.ok(written.files > 0, "the streams wrote no table files");
      for (const [where, text] of Object.entries(scanned)) {
        assert.deepEqual(leaks(text, secret), [], `the secret leaked into the ${where}`);
        assert.deepEqual(leaks(text, wrong), [], `the wrong secret leaked into the ${where}`);
      }
      assert.deepEqual(
        leaks(brokerLog, b.adminEnv.KAFKA_API_SECRET),
        [],
        "the admin password leaked into the broker log",
      );
      // The wrong secret really reached the broker (it logged the failed authentication).
      assert.match(brokerLog, /Failed authentication with \/127\.0\.0\.1/);
      console.log(`scanned ${ran.length} runs: ${ran.join("; ")}`);
    } finally {
      await Deno.remove(lake, { recursive: true }).catch(() => {});
      await withAdmin(b.kafka("admin"), async (a) => {
        const existing = new Set(await a.listTopics());
        const topics = [...existing].filter((x) => x.startsWith(topic));
        if (topics.length > 0) await a.deleteTopics({ topics });
      }).catch(() => {});
    }
  });
});
