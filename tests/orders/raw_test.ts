import assert from "node:assert/strict";
import { rawSchema, rawTable } from "../../lib/orders/raw.ts";

const enc = new TextEncoder();

Deno.test("raw: records become the seed's columns, key/value as strings, invalid UTF-8 replaced and kept as bytes", () => {
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
  assert.deepEqual(bytesOf(t, "key_bytes"), [null, null, null, null]);
  assert.deepEqual(bytesOf(t, "value_bytes"), [null, null, [0x61, 0xff], null]);
});

/** A binary column as plain arrays of byte values (null for null). */
function bytesOf(t: ReturnType<typeof rawTable>, name: string): (number[] | null)[] {
  const col = t.getChild(name)!;
  assert.equal(String(col.type), "Binary");
  return [...col].map((v) => (v === null ? null : [...(v as Uint8Array)]));
}

Deno.test("raw: key_bytes and value_bytes hold the exact bytes of every key or value that is not UTF-8, and only those", () => {
  const cases: [string, Uint8Array | null][] = [
    ["ascii", enc.encode("11599")],
    ["lone 0xff", new Uint8Array([0xff])],
    ["valid U+FFFD", enc.encode("a\uFFFDb")],
    ["null", null],
    ["encoded surrogate", new Uint8Array([0x61, 0xed, 0xa0, 0x80])],
    ["overlong slash", new Uint8Array([0xc0, 0xaf])],
    ["truncated 3-byte", new Uint8Array([0x7b, 0xe2, 0x82])],
    ["é and 😀", enc.encode("é😀")],
    ["empty", new Uint8Array(0)],
    ["above U+10FFFF", new Uint8Array([0xf4, 0x90, 0x80, 0x80])],
    ["UTF-16LE BOM", new Uint8Array([0xff, 0xfe, 0x7b, 0x00])],
  ];
  const invalid = new Set([
    "lone 0xff",
    "encoded surrogate",
    "overlong slash",
    "truncated 3-byte",
    "above U+10FFFF",
    "UTF-16LE BOM",
  ]);
  // Keys and values in opposite orders, so the sparse rows of the two columns differ.
  const messages = cases.map(([, v], i) => ({
    key: cases[cases.length - 1 - i][1],
    value: v,
    offset: String(i),
    timestamp: "0",
  }));
  const t = rawTable([{ topic: "t", partition: 0, timestampType: 0, messages }]);
  const exact = (name: string, b: Uint8Array | null) => (invalid.has(name) ? [...b!] : null);
  assert.deepEqual(bytesOf(t, "value_bytes"), cases.map(([name, b]) => exact(name, b)));
  assert.deepEqual(
    bytesOf(t, "key_bytes"),
    cases.map((_, i) => exact(...cases[cases.length - 1 - i])),
  );
  assert.equal(t.getChild("value_bytes")!.nullCount, cases.length - invalid.size);
  // The string columns are as before: the text, U+FFFD where bytes do not decode.
  const dec = new TextDecoder();
  assert.deepEqual(
    t.getChild("value")!.toArray(),
    cases.map(([, b]) => (b === null ? null : dec.decode(b))),
  );
  // Replay: key_bytes ?? UTF-8(key) gives back every key exactly.
  const keys = t.getChild("key")!;
  const keyBytes = t.getChild("key_bytes")!;
  messages.forEach((m, i) => {
    const k = keys.get(i) as string | null;
    const back = keyBytes.get(i) ?? (k === null ? null : enc.encode(k));
    assert.deepEqual(
      back === null ? null : [...back],
      m.key === null ? null : [...m.key],
      `row ${i}`,
    );
  });
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
