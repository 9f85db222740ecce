import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { deadLetterSchema, deadLetterTable } from "../../lib/orders/dead_letters.ts";

const enc = new TextEncoder();

Deno.test("dead letters: raw key/value, base64 for invalid UTF-8, coordinates and reason", () => {
  const bad = new Uint8Array([0x7b, 0xff]);
  const t = deadLetterTable([
    {
      key: enc.encode("42"),
      value: enc.encode("not json"),
      topic: "orders",
      partition: 1,
      offset: "17",
      timestampMs: 1700000000000,
      reason: "not_json",
      error: "record value is not JSON: …",
    },
    {
      key: null,
      value: bad,
      topic: "orders",
      partition: 0,
      offset: 3n,
      timestampMs: 5,
      reason: "invalid_utf8",
      error: "record value is not valid UTF-8",
    },
    {
      key: null,
      value: null,
      topic: "orders",
      partition: 0,
      offset: "4",
      timestampMs: 6,
      reason: "null_value",
      error: "tombstone",
      field: undefined,
    },
    {
      key: null,
      value: enc.encode("{}"),
      topic: "orders",
      partition: 0,
      offset: "5",
      timestampMs: 7,
      reason: "missing_field",
      error: "order_id: required field is missing",
      field: "order_id",
    },
  ], 1700000001000);
  assert.deepEqual(t.schema.fields.map((f) => f.name), deadLetterSchema.fields.map((f) => f.name));
  assert.deepEqual(t.getChild("key")!.toArray(), ["42", null, null, null]);
  assert.deepEqual(t.getChild("value")!.toArray(), ["not json", null, null, "{}"]);
  assert.deepEqual(t.getChild("value_base64")!.toArray(), [null, "e/8=", null, null]);
  assert.deepEqual(t.getChild("reason")!.toArray(), [
    "not_json",
    "invalid_utf8",
    "null_value",
    "missing_field",
  ]);
  assert.deepEqual(t.getChild("field")!.toArray(), [null, null, null, "order_id"]);
  assert.deepEqual([...t.getChild("offset")!.toArray()], [17n, 3n, 4n, 5n]);
  assert.deepEqual([...t.getChild("partition")!.toArray()], [1, 0, 0, 0]);
  assert.equal(t.getChild("timestamp")!.data[0].values[0], 1700000000000000n);
  assert.equal(t.getChild("dead_lettered_at")!.data[0].values[3], 1700000001000000n);
});

Deno.test("dead letters: an empty batch is an empty table with the schema", () => {
  const t = deadLetterTable([], 0);
  assert.equal(t.numRows, 0);
  assert.equal(t.schema.fields.length, 12);
});

Deno.test("dead letters: a key that is not UTF-8 is kept exactly, in key_base64, as values are", () => {
  const badKey = new Uint8Array([0x31, 0xff, 0xfe, 0x00, 0xc3]);
  const fffdKey = enc.encode("k\uFFFD"); // a real U+FFFD is valid UTF-8: kept as text
  const row = (key: Uint8Array | null, value: Uint8Array | null, offset: string) => ({
    key,
    value,
    topic: "orders",
    partition: 2,
    offset,
    timestampMs: 1,
    reason: "not_json" as const,
    error: "e",
  });
  const t = deadLetterTable([
    row(badKey, enc.encode("x"), "0"),
    row(fffdKey, new Uint8Array([0xff]), "1"),
    row(null, null, "2"),
    row(new Uint8Array(0), enc.encode("y"), "3"),
  ], 0);
  assert.equal(deadLetterSchema.fields.at(-1)!.name, "key_base64");
  assert.equal(deadLetterSchema.fields.at(-1)!.nullable, true);
  assert.deepEqual(t.getChild("key")!.toArray(), [null, "k\uFFFD", null, ""]);
  assert.deepEqual(t.getChild("key_base64")!.toArray(), [
    Buffer.from(badKey).toString("base64"),
    null,
    null,
    null,
  ]);
  assert.deepEqual(t.getChild("value")!.toArray(), ["x", null, null, "y"]);
  assert.deepEqual(t.getChild("value_base64")!.toArray(), [null, "/w==", null, null]);
  // Replay: key_base64 decoded, else the key's UTF-8, gives back every key byte for byte.
  const keys = [badKey, fffdKey, null, new Uint8Array(0)];
  keys.forEach((k, i) => {
    const b64 = t.getChild("key_base64")!.get(i) as string | null;
    const text = t.getChild("key")!.get(i) as string | null;
    const back = b64 !== null
      ? new Uint8Array(Buffer.from(b64, "base64"))
      : text === null
      ? null
      : enc.encode(text);
    assert.deepEqual(back, k, `row ${i}`);
  });
});
