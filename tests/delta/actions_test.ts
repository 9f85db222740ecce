import assert from "node:assert/strict";
import {
  ActionParseError,
  parseActions,
  sameLong,
  serializeActions,
} from "../../lib/delta/actions.ts";

Deno.test("int64 values in actions round-trip exactly (beyond 2^53)", () => {
  const big = 9_007_199_254_740_993n; // 2^53 + 1: not representable as a double
  const max = 9_223_372_036_854_775_807n;
  const text = serializeActions([
    { txn: { appId: "a", version: big, lastUpdated: 1 } },
    { txn: { appId: "b", version: max, lastUpdated: 2 } },
    { add: { path: "x", partitionValues: {}, size: 10, modificationTime: 3, dataChange: true } },
  ]);
  assert.match(text, /"version":9007199254740993/);
  assert.match(text, /"version":9223372036854775807/);
  const back = parseActions(text) as Array<Record<string, Record<string, unknown>>>;
  assert.equal(back[0].txn.version, big);
  assert.equal(back[1].txn.version, max);
  assert.equal(back[2].add.size, 10);
  assert.equal(typeof back[2].add.size, "number");
  assert.ok(sameLong(5, 5n));
  assert.ok(!sameLong(5, undefined));
});

Deno.test("parseActions names the bad line of a truncated commit", () => {
  const text = '{"commitInfo":{"operation":"WRITE"}}\n{"add":{"path":"a","partitionVal';
  assert.throws(
    () => parseActions(text),
    (e: unknown) => e instanceof ActionParseError && e.line === 2,
  );
  assert.throws(() => parseActions("[1,2]\n"), ActionParseError);
});

Deno.test("serializeActions writes one action per line with a trailing newline", () => {
  const text = serializeActions([{ protocol: { minReaderVersion: 1, minWriterVersion: 2 } }, {
    commitInfo: { operation: "X" },
  }]);
  assert.equal(text.split("\n").length, 3);
  assert.ok(text.endsWith("\n"));
});
