import assert from "node:assert/strict";
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
  assert.equal(t.schema.fields.length, 11);
});
