// The soak benchmark (tests/bench/soak.ts) in its one-minute form: the live feed at 300
// orders/s with 1% bad records, the cleaned stream and the producer stream running together with
// 1 s triggers, auto-compaction and a short log retention, then a drain, SIGTERM and the
// exactly-once check. Asserts exact counts only (what the feed sent, rows, dead letters, output
// records), never a time or a rate: the figures the soak prints are a benchmark's, not a test's.
// The tables are then read a second time with our own reader. Skipped without the delta-rs venv
// (`deno task py:setup`).
import assert from "node:assert/strict";
import { join } from "node:path";
import { read } from "../../lib/delta/table.ts";
import { deleteTopics, testKafka } from "../support/kafka.ts";
import { deltalakeAvailable } from "../support/python.ts";
import { onAdls } from "../support/storage_backends.ts";
import { ROOT } from "../support/stream.ts";

const haveDeltaRs = await deltalakeAvailable().catch(() => false);
const RATE = 300;
const SECONDS = 60;

/** The parts of a stream's JSON summary the test reads (Delta streams; producer stream: input). */
interface StreamSummary {
  records: number;
  input: number;
  rows: Record<string, number>;
  maintenance?: { compactions: number; failures: number };
}

interface Counts {
  missing: number;
  duplicated: number;
  unexpected: number;
}

Deno.test({
  name:
    "soak, one minute: every order of the live feed once in orders_cleaned and (Chicago) in the output, every bad record once as a dead letter",
  // The soak reads its tables from local disk; the ADLS pass of tests/run.ts would only repeat it.
  ignore: !haveDeltaRs || onAdls(),
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "soak-test-" });
    let topics: string[] = [];
    try {
      const out = await new Deno.Command(Deno.execPath(), {
        args: [
          "run",
          "-A",
          join(ROOT, "tests", "bench", "soak.ts"),
          "--rate",
          String(RATE),
          "--minutes",
          String(SECONDS / 60),
          "--interval",
          "20s",
          "--bad-rate",
          "0.01",
          "--seed",
          "14",
          "--dir",
          dir,
          "--keep",
          "--json",
        ],
        cwd: ROOT,
        stdout: "piped",
        stderr: "piped",
      }).output();
      const stdout = new TextDecoder().decode(out.stdout);
      const stderr = new TextDecoder().decode(out.stderr);
      const line = stdout.split("\n").find((l) => l.startsWith('{"soak"'));
      assert.ok(
        line,
        `a JSON line; stdout:\n${stdout.slice(-3000)}\nstderr:\n${stderr.slice(-3000)}`,
      );
      const soak = JSON.parse(line).soak;
      topics = [
        soak.topics.input,
        soak.topics.output,
        soak.topics.deadLetters,
        `${soak.queries.producer}-changelog`,
      ];
      assert.equal(out.code, 0, `${stdout.slice(-3000)}\n${stderr.slice(-3000)}`);

      // The feed sent exactly rate × duration records, and the topic holds exactly those.
      const check = soak.check;
      assert.equal(soak.feed.sent, RATE * SECONDS);
      assert.equal(check.topicRecords, RATE * SECONDS);
      assert.equal(check.valid + check.bad, RATE * SECONDS);
      assert.equal(check.bad, soak.feed.bad);
      assert.ok(check.bad > 0, "the feed sent bad records");
      assert.equal(soak.figures.length, 3, "one line of figures per 20 s");

      // orders_cleaned (delta-rs): every valid order once, with its line items.
      const zero: Counts = { missing: 0, duplicated: 0, unexpected: 0 };
      assert.deepEqual(check.examples, []);
      assert.deepEqual(
        { ...check.cleaned, orders: undefined, rows: undefined },
        { ...zero, wrong: 0, orders: undefined, rows: undefined },
      );
      assert.equal(check.cleaned.orders, check.valid);
      assert.equal(check.cleaned.rows, check.expectedRows);
      assert.equal(check.deltaRs.cleaned.rows, check.expectedRows);
      // orders_dead_letters (delta-rs): every bad record once, with the validator's reason.
      assert.deepEqual(
        { ...check.deadLetters, rows: undefined },
        { ...zero, wrongReason: 0, rows: undefined },
      );
      assert.equal(check.deadLetters.rows, check.bad);
      assert.equal(check.deltaRs.deadLetters.rows, check.bad);
      // The producer stream: every Chicago order once; every bad record once in its DLQ.
      assert.deepEqual({ ...check.output, records: undefined, expected: undefined }, {
        ...zero,
        records: undefined,
        expected: undefined,
      });
      assert.equal(check.output.records, check.output.expected);
      assert.ok(check.output.expected > 0, "the feed sent Chicago orders");
      assert.deepEqual({ ...check.outputDeadLetters, records: undefined }, {
        ...zero,
        records: undefined,
      });
      assert.equal(check.outputDeadLetters.records, check.bad);
      assert.equal(check.ok, true);

      // The streams saw every record; the cleaned stream compacted and never failed maintenance.
      // (Summed with an --available-now rerun's, when the drain needed one.)
      const runs = (prefix: string) =>
        Object.entries(soak.streams).filter(([k]) => k.startsWith(prefix)).map(([, v]) =>
          v as StreamSummary
        );
      const sum = (xs: StreamSummary[], f: (x: StreamSummary) => number) =>
        xs.reduce((n, x) => n + f(x), 0);
      const cleaned = runs("cleaned");
      assert.equal(sum(cleaned, (s) => s.records), RATE * SECONDS);
      assert.equal(sum(cleaned, (s) => s.rows.orders_cleaned), check.expectedRows);
      assert.equal(sum(cleaned, (s) => s.rows.orders_dead_letters), check.bad);
      assert.ok(sum(cleaned, (s) => s.maintenance?.compactions ?? 0) >= 1, "auto-compaction ran");
      assert.equal(sum(cleaned, (s) => s.maintenance?.failures ?? 0), 0);
      assert.equal(sum(runs("producer-stream"), (s) => s.input), RATE * SECONDS);

      // The same tables through our own reader: one row per line item, one order per record.
      const t = await read(soak.tables.cleaned, { columns: ["kafka_partition", "kafka_offset"] });
      assert.equal(t.numRows, check.expectedRows);
      const p = t.getChild("kafka_partition")!, o = t.getChild("kafka_offset")!;
      const orders = new Set<string>();
      for (let i = 0; i < t.numRows; i++) orders.add(`${p.get(i)}:${o.get(i)}`);
      assert.equal(orders.size, check.valid);
      const d = await read(soak.tables.deadLetters, { columns: ["partition", "offset"] });
      assert.equal(d.numRows, check.bad);
    } finally {
      if (topics.length) await deleteTopics(testKafka(), topics).catch(() => {});
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    }
  },
});
