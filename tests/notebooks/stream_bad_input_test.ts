// End-to-end on the broker, the four defects of issue 20 with their exact records:
// (1) price × quantity not finite → dead letter out_of_range; (2) 10,000- and 100,000-level nesting
// with an order_id past 2^53 → orders_cleaned, exact; (3) a key that is not UTF-8 → dead letter
// with key_base64; (4) orders_raw keeps the exact bytes of keys and values that are not UTF-8.
// Both streams start on tables created before the new columns existed (the old schemas, with a
// row), which must gain them and keep working; delta-rs reads the columns back exactly.
import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { join } from "node:path";
import { Schema } from "apache-arrow";
import { createTable, history, read } from "../../lib/delta/table.ts";
import { deadLetterSchema, deadLetterTable } from "../../lib/orders/dead_letters.ts";
import { rawSchema, rawTable } from "../../lib/orders/raw.ts";
import { canonRows } from "../support/canon.ts";
import { deleteTopics, testKafka } from "../support/kafka.ts";
import { deltalakeAvailable, pythonPath } from "../support/python.ts";
import {
  baseArgs,
  freshTopic,
  produce,
  ROOT,
  runNotebook,
  tableRows,
  tableVersion,
  tempLakehouse,
  type TestRecord,
} from "../support/stream.ts";

const SEED =
  '{"order_id":1,"customer_id":11599,"customer_fname":"Mary","customer_lname":"Malone",' +
  '"city":"Hickory","state":"NC","pincode":28601,"line_items":[{"order_item_id":1,' +
  '"order_item_product_id":957,"order_item_quantity":1,"order_item_product_price":299.98,' +
  '"order_item_subtotal":299.98}]}';

/** Issue 20 (1): 10^10 × 1e300 is Infinity; the subtotal 5.0 used to pass (now: out of range). */
const NON_FINITE = SEED.replace('"order_item_quantity":1', '"order_item_quantity":10000000000')
  .replace('"order_item_product_price":299.98', '"order_item_product_price":1e300')
  .replace('"order_item_subtotal":299.98', '"order_item_subtotal":5.0');

/** Issue 20 (2): a valid order with an extra field nested `depth` levels and an order_id past 2^53. */
function deep(depth: number, orderId: string): string {
  return SEED.replace('"order_id":1', `"order_id":${orderId}`)
    .replace('"line_items"', `"extra":${"[".repeat(depth)}${"]".repeat(depth)},"line_items"`);
}

const BAD_KEY = new Uint8Array([0x31, 0x31, 0xff, 0xfe, 0x35, 0xc3]);
const BAD_VALUE = new Uint8Array([0x7b, 0x22, 0xff, 0x22, 0x7d, 0xed, 0xa0, 0x80]);
const enc = new TextEncoder();
const b64 = (b: Uint8Array) => Buffer.from(b).toString("base64");
const hex = (b: Uint8Array) => Buffer.from(b).toString("hex");

/** Runs deltalake_dump.py on the latest version of a table. */
async function deltaRs(table: string) {
  const out = await new Deno.Command(pythonPath(), {
    args: [
      join(ROOT, "tests", "interop", "deltalake_dump.py"),
      table,
      String(await tableVersion(table)),
    ],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const v = JSON.parse(new TextDecoder().decode(out.stdout)).versions[0];
  assert.equal(v.error, undefined, v.error);
  assert.equal(v.rowsError, undefined, v.rowsError);
  return v as {
    schema: { fields: { name: string; type: string; nullable: boolean }[] };
    rows: Record<string, unknown>[];
  };
}

/** The schema of a table as the previous version created it: without the new columns. */
function before(schema: Schema, added: string[]): Schema {
  return new Schema(schema.fields.filter((f) => !added.includes(f.name)));
}

Deno.test("cleaned stream, issue 20 (1)-(3): exact records; an old dead-letter table gains key_base64", async () => {
  const topic = await freshTopic("bad-input-cleaned", 1);
  const { dir, cleanup } = await tempLakehouse();
  const cleaned = `${dir}/orders_cleaned`;
  const dead = `${dir}/orders_dead_letters`;
  try {
    // A dead-letter table as the previous version made it (11 columns), holding one old row.
    const old = before(deadLetterSchema, ["key_base64"]);
    const t = await createTable(dead, old, { name: "orders_dead_letters" });
    const oldRow = deadLetterTable([{
      key: enc.encode("old"),
      value: enc.encode("old bad"),
      topic: "old-topic",
      partition: 0,
      offset: "0",
      timestampMs: 1,
      reason: "not_json",
      error: "old",
    }], 2);
    await t.append(oldRow.select(old.fields.map((f) => f.name)));

    const records: TestRecord[] = [
      { key: "11599", value: SEED }, // 0: good
      { key: "d1", value: NON_FINITE }, // 1: (1)
      { key: "d2-10k", value: deep(10_000, "9007199254740993") }, // 2: (2)
      { key: "d2-100k", value: deep(100_000, "9223372036854775807") }, // 3: (2), int64 max
      { key: "d2-safe", value: deep(10_000, "7") }, // 4: (2) with a safe id, the same outcome
      { key: BAD_KEY, value: "not json" }, // 5: (3)
      { key: BAD_KEY, value: BAD_VALUE }, // 6: (3), value not UTF-8 either
      { key: enc.encode("k\uFFFD"), value: "{}" }, // 7: a real U+FFFD is valid UTF-8: text
      { key: null, value: null }, // 8: tombstone, no key
    ].map((r) => ({ ...r, partition: 0 }));
    await produce(topic, records);
    const args = [
      ...baseArgs(topic),
      "--table",
      cleaned,
      "--dead-letters",
      dead,
      "--available-now",
      "--progress",
      "json",
      "--query-name",
      "bad_input_cleaned",
      "--worker",
    ];
    const run = await runNotebook("cleaned", args);
    assert.equal(run.code, 0, run.stderr);
    assert.equal(run.summary?.records, records.length);

    // (2) Accepted, whatever the depth and the id; the id exact.
    const rows = await tableRows(cleaned);
    const byOffset = new Map(rows.map((r) => [Number(r.kafka_offset), r]));
    assert.deepEqual([...byOffset.keys()].sort(), [0, 2, 3, 4]);
    assert.equal(byOffset.get(2)!.order_id, 9007199254740993n);
    assert.equal(byOffset.get(3)!.order_id, 9223372036854775807n);
    assert.equal(byOffset.get(4)!.order_id, 7n);

    // (1) and (3): dead letters with their reasons and exact keys.
    const schema = (await read(dead)).schema.fields.map((f) => f.name);
    assert.deepEqual(schema, deadLetterSchema.fields.map((f) => f.name));
    assert.equal(schema.at(-1), "key_base64");
    const added = (await history(dead)).filter((h) => h.operation === "ADD COLUMNS");
    assert.equal(added.length, 1, "the column is added once");
    const dl = await tableRows(dead);
    const mine = new Map(
      dl.filter((r) => r.topic === topic).map((r) => [Number(r.offset), r]),
    );
    assert.deepEqual([...mine.keys()].sort(), [1, 5, 6, 7, 8]);
    const d1 = mine.get(1)!;
    assert.equal(d1.reason, "out_of_range");
    // Money stops below 10^10 now, so the price itself is out of range before any arithmetic.
    assert.equal(d1.field, "line_items[0].order_item_product_price");
    assert.match(String(d1.error), /1e\+300 is beyond decimal\(12,2\)/);
    assert.equal(d1.key, "d1");
    assert.equal(d1.key_base64, null);
    assert.equal(d1.value, NON_FINITE);
    for (const o of [5, 6]) {
      assert.equal(mine.get(o)!.key, null, `offset ${o}`);
      assert.equal(mine.get(o)!.key_base64, b64(BAD_KEY), `offset ${o}`);
    }
    assert.equal(mine.get(5)!.reason, "not_json");
    assert.equal(mine.get(5)!.value, "not json");
    assert.equal(mine.get(6)!.reason, "invalid_utf8");
    assert.equal(mine.get(6)!.value, null);
    assert.equal(mine.get(6)!.value_base64, b64(BAD_VALUE));
    assert.equal(mine.get(7)!.key, "k\uFFFD");
    assert.equal(mine.get(7)!.key_base64, null);
    assert.equal(mine.get(7)!.reason, "missing_field");
    assert.equal(mine.get(8)!.key, null);
    assert.equal(mine.get(8)!.key_base64, null);
    assert.equal(mine.get(8)!.reason, "null_value");
    // The old row reads the new column as null.
    const oldRead = dl.filter((r) => r.topic === "old-topic");
    assert.equal(oldRead.length, 1);
    assert.equal(oldRead[0].key, "old");
    assert.equal(oldRead[0].key_base64, null);
    assert.ok(dl.every((r) => r.reason !== "internal_error"));

    if (await deltalakeAvailable()) {
      const d = await deltaRs(dead);
      assert.deepEqual(d.schema.fields.at(-1), {
        name: "key_base64",
        type: "string",
        nullable: true,
        metadata: {},
      });
      const rs = new Map(
        d.rows.filter((r) => r.topic === topic).map((r) => [Number(r.offset), r]),
      );
      assert.equal(rs.get(5)!.key_base64, b64(BAD_KEY));
      assert.equal(rs.get(6)!.value_base64, b64(BAD_VALUE));
      assert.equal(rs.get(7)!.key, "k\uFFFD");
      assert.equal(rs.get(1)!.reason, "out_of_range");
      assert.equal(d.rows.find((r) => r.topic === "old-topic")!.key_base64, null);
      const c = await deltaRs(cleaned);
      const ids = c.rows.map((r) => r.order_id).sort();
      assert.deepEqual(ids, ["1", "7", "9007199254740993", "9223372036854775807"]);
    }
  } finally {
    await cleanup();
    await deleteTopics(testKafka(), [topic]);
  }
});

Deno.test("raw stream, issue 20 (4): key_bytes / value_bytes keep what the strings cannot; an old orders_raw gains them", async () => {
  const topic = await freshTopic("bad-input-raw", 1);
  const { dir, cleanup } = await tempLakehouse();
  const table = `${dir}/orders_raw`;
  try {
    // An orders_raw as the previous version made it (the seed's 7 columns), with one row.
    const old = before(rawSchema, ["key_bytes", "value_bytes"]);
    const t = await createTable(table, old, { name: "orders_raw" });
    const oldRow = rawTable([{
      topic: "old-topic",
      partition: 0,
      timestampType: 0,
      messages: [{ key: enc.encode("old"), value: enc.encode("old"), offset: "0", timestamp: 1 }],
    }]);
    await t.append(oldRow.select(old.fields.map((f) => f.name)));

    const records: { key: Uint8Array | null; value: Uint8Array | null }[] = [
      { key: enc.encode("11599"), value: enc.encode(SEED) }, // 0: valid both
      { key: enc.encode("k"), value: BAD_VALUE }, // 1: value not UTF-8
      { key: BAD_KEY, value: enc.encode("v") }, // 2: key not UTF-8
      { key: BAD_KEY, value: BAD_VALUE }, // 3: both
      { key: null, value: null }, // 4: neither
      { key: enc.encode("\uFFFD"), value: enc.encode("é\uFFFD😀") }, // 5: valid, with U+FFFD
      { key: new Uint8Array([0xff, 0xfe]), value: new Uint8Array([0xff, 0xfe, 0x7b, 0x00]) }, // 6: UTF-16
    ];
    await produce(topic, records.map((r) => ({ ...r, partition: 0 })));
    const args = [
      ...baseArgs(topic),
      "--table",
      table,
      "--available-now",
      "--progress",
      "json",
      "--query-name",
      "bad_input_raw",
    ];
    const run = await runNotebook("raw", args);
    assert.equal(run.code, 0, run.stderr);
    assert.equal(run.summary?.records, records.length);

    const got = await read(table);
    assert.deepEqual(got.schema.fields.map((f) => f.name), rawSchema.fields.map((f) => f.name));
    const rows = canonRows(got) as Record<string, unknown>[];
    // Independent of lib/: what TextDecoder's fatal mode accepts is valid UTF-8.
    const isValid = (b: Uint8Array | null) => {
      if (b === null) return true;
      try {
        new TextDecoder("utf-8", { fatal: true }).decode(b);
        return true;
      } catch {
        return false;
      }
    };
    const mine = new Map(rows.filter((r) => r.topic === topic).map((r) => [Number(r.offset), r]));
    assert.equal(mine.size, records.length);
    records.forEach((rec, o) => {
      const r = mine.get(o)!;
      const dec = (b: Uint8Array | null) => (b === null ? null : new TextDecoder().decode(b));
      assert.equal(r.key, dec(rec.key), `offset ${o} key`);
      assert.equal(r.value, dec(rec.value), `offset ${o} value`);
      assert.equal(r.key_bytes, isValid(rec.key) ? null : hex(rec.key!), `offset ${o} key_bytes`);
      assert.equal(
        r.value_bytes,
        isValid(rec.value) ? null : hex(rec.value!),
        `offset ${o} value_bytes`,
      );
      // Replay: bytes = key_bytes ?? UTF-8(key), for every record.
      const keyBack = r.key_bytes !== null
        ? r.key_bytes
        : r.key === null
        ? null
        : hex(enc.encode(r.key as string));
      assert.equal(keyBack, rec.key === null ? null : hex(rec.key), `offset ${o} replayed key`);
    });
    assert.equal([...mine.values()].filter((r) => r.value_bytes !== null).length, 3);
    const oldRead = rows.filter((r) => r.topic === "old-topic");
    assert.equal(oldRead.length, 1);
    assert.equal(oldRead[0].key_bytes, null);
    assert.equal(oldRead[0].value_bytes, null);
    assert.equal((await history(table)).filter((h) => h.operation === "ADD COLUMNS").length, 1);

    if (await deltalakeAvailable()) {
      const d = await deltaRs(table);
      assert.deepEqual(
        d.schema.fields.slice(-2).map((f) => [f.name, f.type, f.nullable]),
        [["key_bytes", "binary", true], ["value_bytes", "binary", true]],
      );
      // delta-rs reads exactly what our reader reads, binary as hex.
      const theirs = new Map(
        d.rows.filter((r) => r.topic === topic).map((r) => [
          Number(r.offset),
          r,
        ]),
      );
      for (const [o, r] of mine) {
        assert.equal(theirs.get(o)!.key_bytes, r.key_bytes, `delta-rs offset ${o} key_bytes`);
        assert.equal(theirs.get(o)!.value_bytes, r.value_bytes, `delta-rs offset ${o} value_bytes`);
        assert.equal(theirs.get(o)!.value, r.value, `delta-rs offset ${o} value`);
      }
      assert.equal(theirs.get(3)!.value_bytes, hex(BAD_VALUE));
      assert.equal(theirs.get(3)!.key_bytes, hex(BAD_KEY));
    }
  } finally {
    await cleanup();
    await deleteTopics(testKafka(), [topic]);
  }
});
