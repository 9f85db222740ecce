/**
 * Clear failures over the SASL_SSL listener: a wrong secret, an untrusted certificate, a
 * PLAINTEXT/TLS mix-up, a missing topic, an unwritable lakehouse folder and a missing table each
 * end the notebook with exit code 2 and one line `error: ...` that names the broker (or the
 * location) and says what to do; no stack trace, no kafkajs log spam.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { ensureTls } from "../../dev/kafka/mod.ts";
import { withAdmin } from "../support/kafka.ts";
import {
  type BoundedRun,
  errorLines,
  existingNotebooks,
  REPO_ROOT,
  runNotebookWithin,
  type SaslBroker,
  withSaslBroker,
} from "../support/sasl.ts";

const STREAMS = ["kafka-consumer-stream", "kafka-consumer-stream-cleaned", "kafka-producer-stream"];
const streams = await existingNotebooks(STREAMS);
const hasExplore = (await existingNotebooks(["explore-orders"])).length === 1;

/** The notebook ended with exit 2 and exactly one `error:` line matching `pattern`. */
function assertOneLine(
  run: { code: number; stderr: string; timedOut?: boolean },
  pattern: RegExp,
  what: string,
): string {
  assert.equal(run.timedOut ?? false, false, `${what}: still running (retrying?) after the limit`);
  const lines = errorLines(run.stderr);
  assert.equal(run.code, 2, `${what}: exit ${run.code}\n${run.stderr}`);
  assert.equal(lines.length, 1, `${what}: expected one error line, got:\n${lines.join("\n")}`);
  assert.match(lines[0], /^error: /, what);
  assert.match(lines[0], pattern, what);
  assert.doesNotMatch(run.stderr, /^\s+at |Stack backtrace|KafkaJS\w+Error:/m, `${what}: a trace`);
  return lines[0];
}

const esc = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");

/** Env without the CA file: the notebook falls back to the system's CAs. */
function withoutCa(b: SaslBroker): Record<string, string> {
  return { ...b.env, KAFKA_CA_FILE: "" };
}

Deno.test("clear one-line failures on the SASL_SSL listener", async (t) => {
  await withSaslBroker(async (b) => {
    const sasl = esc(b.env.KAFKA_BOOTSTRAP_SERVERS);
    const lake = await Deno.makeTempDir({ prefix: "security-failures-" });
    const topic = `test-security-fail-${crypto.randomUUID().slice(0, 8)}`;
    const wrong = { ...b.env, KAFKA_API_SECRET: `SeCrEt-WRONG-${crypto.randomUUID()}` };
    const seen: Record<string, string> = {};
    try {
      // A topic with a few orders, so the consumers have something to read.
      const first = (await Deno.readTextFile(join(REPO_ROOT, "data/file1.json"))).split("\n")
        .slice(0, 20).join("\n");
      const child = new Deno.Command(Deno.execPath(), {
        args: [
          "run",
          "-A",
          join(REPO_ROOT, "notebooks/producer.ts"),
          "--topic",
          topic,
          "--quiet",
          "-",
        ],
        env: b.env,
        stdin: "piped",
        stdout: "null",
        stderr: "piped",
      }).spawn();
      const w = child.stdin.getWriter();
      await w.write(new TextEncoder().encode(first));
      await w.close();
      const seeded = await child.output();
      assert.equal(seeded.code, 0, new TextDecoder().decode(seeded.stderr));

      await t.step("a wrong secret names the broker and the mechanism", async () => {
        for (const nb of ["producer", "kafka-consumer-batch"]) {
          const run = await runNotebookWithin(nb, ["--topic", topic], wrong);
          seen[`wrong secret (${nb})`] = assertOneLine(
            run,
            new RegExp(`authentication failed on ${sasl} \\(SASL PLAIN\\).*KAFKA_API_SECRET`),
            `${nb} with a wrong secret`,
          );
        }
      });

      await t.step("no CA file for the self-signed CA: says so and how to pass one", async () => {
        for (const nb of ["producer", "kafka-consumer-batch"]) {
          const run = await runNotebookWithin(nb, ["--topic", topic], withoutCa(b));
          seen[`untrusted certificate (${nb})`] = assertOneLine(
            run,
            new RegExp(`TLS certificate of ${sasl} is not trusted.*--ca-file.*KAFKA_CA_FILE`),
            `${nb} without a CA file`,
          );
        }
      });

      await t.step("a CA file of another CA: not trusted with that file", async () => {
        const other = await ensureTls(join(lake, "other-ca"));
        const run = await runNotebookWithin("kafka-consumer-batch", ["--topic", topic], {
          ...b.env,
          KAFKA_CA_FILE: other.caFile,
        });
        seen["CA file of another CA"] = assertOneLine(
          run,
          new RegExp(`not trusted .*with the CA file '${esc(other.caFile)}'`),
          "another CA",
        );
      });

      await t.step("a CA file that does not exist", async () => {
        const run = await runNotebookWithin("producer", ["--topic", topic], {
          ...b.env,
          KAFKA_CA_FILE: join(lake, "missing-ca.pem"),
        });
        seen["missing CA file"] = assertOneLine(
          run,
          /cannot read the CA file '.*missing-ca\.pem' \(--ca-file \/ KAFKA_CA_FILE\)/,
          "missing CA file",
        );
      });

      await t.step(
        "PLAINTEXT client on the SASL_SSL port: says to set the SASL variables",
        async () => {
          const run = await runNotebookWithin("kafka-consumer-batch", ["--topic", topic], {
            KAFKA_BOOTSTRAP_SERVERS: b.env.KAFKA_BOOTSTRAP_SERVERS,
            KAFKA_API_KEY: "",
            KAFKA_API_SECRET: "",
            KAFKA_CA_FILE: "",
            KAFKA_SECURITY_PROTOCOL: "",
          });
          seen["PLAINTEXT on the SASL_SSL port"] = assertOneLine(
            run,
            new RegExp(`${sasl} closed the connection.*KAFKA_API_KEY`),
            "PLAINTEXT on SASL_SSL",
          );
        },
      );

      await t.step("SASL_SSL client on the PLAINTEXT port: says it is not TLS", async () => {
        const run = await runNotebookWithin("kafka-consumer-batch", ["--topic", topic], {
          ...b.env,
          KAFKA_BOOTSTRAP_SERVERS: b.plaintext,
        });
        seen["SASL_SSL on the PLAINTEXT port"] = assertOneLine(
          run,
          new RegExp(`TLS handshake with ${esc(b.plaintext)} failed: is it a PLAINTEXT listener`),
          "SASL_SSL on PLAINTEXT",
        );
      });

      await t.step("a missing topic: says to create it", async () => {
        const run = await runNotebookWithin("kafka-consumer-batch", [
          "--topic",
          `${topic}-missing`,
        ], b.env);
        seen["missing topic (batch)"] = assertOneLine(
          run,
          new RegExp(`topic '${topic}-missing' does not exist on ${sasl}; create it`),
          "missing topic",
        );
      });

      // Stream notebooks: every case is run and every problem collected, then reported at once.
      const problems: string[] = [];
      const check = (key: string, run: BoundedRun, pattern: RegExp, what: string) => {
        try {
          seen[key] = assertOneLine(run, pattern, what);
        } catch (e) {
          const got = errorLines(run.stderr).join(" / ").slice(0, 400);
          problems.push(
            `${(e as Error).message.split("\n")[0]} (exit ${run.code}; ${got})`,
          );
        }
      };
      await t.step({
        name: `streams (${streams.join(", ") || "none yet"}): wrong secret, no CA, missing topic`,
        ignore: streams.length === 0,
        fn: async () => {
          problems.length = 0;
          for (const nb of streams) {
            const args = ["--topic", topic, "--available-now", "--lakehouse", join(lake, nb)];
            check(
              `wrong secret (${nb})`,
              await runNotebookWithin(nb, args, wrong, 45_000),
              new RegExp(`authentication failed on ${sasl} \\(SASL PLAIN\\)`),
              `${nb} with a wrong secret`,
            );
            check(
              `untrusted certificate (${nb})`,
              await runNotebookWithin(nb, args, withoutCa(b), 45_000),
              new RegExp(`TLS certificate of ${sasl} is not trusted.*--ca-file`),
              `${nb} without a CA file`,
            );
            const missing = [
              "--topic",
              `${topic}-missing`,
              "--available-now",
              "--lakehouse",
              join(lake, nb),
            ];
            check(
              `missing topic (${nb})`,
              await runNotebookWithin(nb, missing, b.env, 60_000),
              new RegExp(`topic '${topic}-missing' does not exist.*create it`),
              `${nb} on a missing topic`,
            );
          }
          assert.deepEqual(problems, []);
        },
      });

      const tableStreams = streams.filter((s) => s !== "kafka-producer-stream");
      await t.step({
        name: "streams: an unwritable lakehouse folder says which folder and what to do",
        ignore: tableStreams.length === 0,
        fn: async () => {
          problems.length = 0;
          // Root ignores file modes, so "unwritable" is a path that can never be a directory:
          // under a regular file, and under /proc.
          const file = join(lake, "a-file");
          await Deno.writeTextFile(file, "not a folder\n");
          for (const nb of tableStreams) {
            for (const where of [file, "/proc/lakehouse"]) {
              check(
                `unwritable lakehouse ${where === file ? "(a file)" : "(/proc)"} (${nb})`,
                await runNotebookWithin(
                  nb,
                  ["--topic", topic, "--available-now", "--lakehouse", where],
                  b.env,
                  60_000,
                ),
                new RegExp(`${esc(where)}.*(--lakehouse|LAKEHOUSE|--table|writable)`),
                `${nb} with lakehouse ${where}`,
              );
            }
          }
          assert.deepEqual(problems, []);
        },
      });

      await t.step({
        name: "a missing table location: explore-orders names it and how to make it",
        ignore: !hasExplore,
        fn: async () => {
          const missing = join(lake, "no-such-table");
          const run = await runNotebookWithin("explore-orders", [
            "--table",
            missing,
            "--out",
            join(lake, "report.html"),
          ], b.env);
          seen["missing table (explore-orders)"] = assertOneLine(
            run,
            new RegExp(`no Delta table at ${esc(missing)}: .*run kafka-consumer-stream-cleaned`),
            "explore-orders on a missing table",
          );
        },
      });

      await t.step(
        "a missing table location: the Delta CLI says there is no table there",
        async () => {
          const out = await new Deno.Command(Deno.execPath(), {
            args: [
              "run",
              "-A",
              join(REPO_ROOT, "lib/delta/cli.ts"),
              "history",
              join(lake, "no-such-table"),
            ],
            stdout: "piped",
            stderr: "piped",
          }).output();
          const stderr = new TextDecoder().decode(out.stderr);
          assert.equal(out.code, 2, stderr);
          const lines = stderr.trim().split("\n");
          assert.equal(lines.length, 1, stderr);
          assert.match(lines[0], /no Delta table at '.*no-such-table'/);
          seen["missing table (delta CLI)"] = lines[0];
        },
      );
    } finally {
      await Deno.remove(lake, { recursive: true }).catch(() => {});
      await withAdmin(b.kafka("admin"), async (a) => {
        const gone = (await a.listTopics()).filter((x) => x.startsWith(topic));
        if (gone.length > 0) await a.deleteTopics({ topics: gone });
      }).catch(() => {});
      // For the report: every message verbatim (no secret is in them; see secrets_test.ts).
      if (Deno.env.get("SECURITY_SHOW_MESSAGES")) {
        for (const [k, v] of Object.entries(seen)) console.log(`${k}: ${v}`);
      }
    }
  });
});
