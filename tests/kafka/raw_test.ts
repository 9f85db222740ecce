import assert from "node:assert/strict";
import { rawSchema, rawTable } from "../../lib/kafka/raw.ts";

const enc = new TextEncoder();

Deno.test("raw: records become the seed's columns, key/value as strings, invalid UTF-8 replaced", () => {
  const t = rawTable([
    {
      topic: "t",
      partition: 2,
      timestampType: 0,
      messages: [
        {
          key: enc.encode("11599"),
          value: enc.encode('{"a":"é"}'),
          offset: "5",
          timestamp: "1700000000123",
        },
        { key: null, value: null, offset: "6", timestamp: "1700000000124" },
        {
          key: enc.encode("k"),
          value: new Uint8Array([0x61, 0xff]),
          offset: "9007199254740993",
          timestamp: "1",
        },
      ],
    },
    {
      topic: "t",
      partition: 0,
      timestampType: 1,
      messages: [{ key: null, value: enc.encode("x"), offset: "0", timestamp: "2" }],
    },
  ]);
  assert.deepEqual(t.schema.fields.map((f) => f.name), rawSchema.fields.map((f) => f.name));
  assert.equal(t.numRows, 4);
  assert.deepEqual(t.getChild("key")!.toArray(), ["11599", null, "k", null]);
  assert.deepEqual(t.getChild("value")!.toArray(), ['{"a":"é"}', null, "a\uFFFD", "x"]);
  assert.deepEqual([...t.getChild("partition")!.toArray()], [2, 2, 2, 0]);
  assert.deepEqual([...t.getChild("offset")!.toArray()], [5n, 6n, 9007199254740993n, 0n]);
  assert.equal(t.getChild("timestamp")!.data[0].values[0], 1700000000123000n);
  assert.deepEqual([...t.getChild("timestampType")!.toArray()], [0, 0, 0, 1]);
  assert.deepEqual(t.getChild("topic")!.toArray(), ["t", "t", "t", "t"]);
});

Deno.test("raw: the keep filter drops records a table already has", () => {
  const messages = [0, 1, 2, 3].map((o) => ({
    key: null,
    value: enc.encode(`v${o}`),
    offset: String(o),
    timestamp: "0",
  }));
  const t = rawTable(
    [{ topic: "t", partition: 0, timestampType: 0, messages }],
    (_c, o) => o >= 2n,
  );
  assert.deepEqual(t.getChild("value")!.toArray(), ["v2", "v3"]);
});

Deno.test("raw: records of several topics keep their own topic", () => {
  const m = (o: number) => ({
    key: null,
    value: enc.encode("v"),
    offset: String(o),
    timestamp: "0",
  });
  const t = rawTable([
    { topic: "orders", partition: 0, timestampType: 0, messages: [m(0), m(1)] },
    { topic: "orders-eu-ü", partition: 0, timestampType: 0, messages: [m(7)] },
  ]);
  assert.deepEqual(t.getChild("topic")!.toArray(), ["orders", "orders", "orders-eu-ü"]);
  assert.equal(t.getChild("topic")!.nullCount, 0);
});

Deno.test("raw: no records is an empty table with the schema", () => {
  const t = rawTable([{ topic: "t", partition: 0, timestampType: 0, messages: [] }]);
  assert.equal(t.numRows, 0);
  assert.deepEqual(t.schema.fields.map((f) => f.name), rawSchema.fields.map((f) => f.name));
  assert.equal(rawTable([]).numRows, 0);
});
