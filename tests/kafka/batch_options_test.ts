import assert from "node:assert/strict";
import { ConfigError } from "../../lib/config.ts";
import { parseBatchOptions } from "../../lib/kafka/batch_options.ts";
import { OffsetSpecError } from "../../lib/kafka/source.ts";

Deno.test("batch options: defaults read everything present at start and show 20 rows", () => {
  assert.deepEqual(parseBatchOptions({}), {
    from: { kind: "earliest" },
    to: { kind: "latest" },
    limit: 20,
    truncate: 40,
    json: false,
    readUncommitted: false,
  });
});

Deno.test("batch options: offsets, timestamps and display flags", () => {
  const o = parseBatchOptions({
    from: '{"0":7}',
    to: "9",
    limit: "4",
    truncate: "0",
    json: true,
    "read-uncommitted": true,
  });
  assert.deepEqual(o.from, { kind: "partitions", offsets: { "0": 7n } });
  assert.deepEqual(o.to, { kind: "offset", offset: 9n });
  assert.equal(o.limit, 4);
  assert.equal(o.truncate, Infinity, "0 = no limit");
  assert.equal(o.json, true);
  assert.equal(o.readUncommitted, true);

  const t = parseBatchOptions({
    "from-timestamp": "2026-01-01T00:00:03Z",
    "to-timestamp": "1767225606000",
  });
  assert.deepEqual(t.from, { kind: "timestamp", ms: Date.UTC(2026, 0, 1, 0, 0, 3) });
  assert.deepEqual(t.to, { kind: "timestamp", ms: 1767225606000 });
  assert.equal(parseBatchOptions({ limit: "0" }).limit, 0, "a count only");
});

Deno.test("batch options: a bad offset says the accepted forms", () => {
  assert.throws(
    () => parseBatchOptions({ from: "soonish" }),
    (e: Error) =>
      e instanceof OffsetSpecError && /offset 'soonish' is not earliest, latest/.test(e.message),
  );
  assert.throws(() => parseBatchOptions({ "to-timestamp": "tomorrow" }), OffsetSpecError);
});

Deno.test("batch options: bad counts and conflicting bounds are ConfigErrors naming the flag", () => {
  const bad: [Record<string, unknown>, RegExp][] = [
    [{ limit: "lots" }, /--limit/],
    [{ limit: "-1" }, /--limit/],
    [{ truncate: "1.5" }, /--truncate/],
    [{ from: "earliest", "from-timestamp": "1" }, /--from or --from-timestamp/],
    [{ to: "latest", "to-timestamp": "1" }, /--to or --to-timestamp/],
  ];
  for (const [flags, message] of bad) {
    assert.throws(
      () => parseBatchOptions(flags),
      (e: Error) => e instanceof ConfigError && message.test(e.message),
      JSON.stringify(flags),
    );
  }
});
