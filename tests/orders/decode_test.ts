/**
 * The order decoder (lib/orders/decode.ts) against its reference, parseOrder + flattenOrders:
 * for every record the same decision (and for a rejected one the same reason, message and
 * field), and for the accepted ones the same Arrow rows, value by value (Utf8 as exact bytes,
 * doubles with Object.is, int64 as bigints, nulls). The records: data/, generated orders, the
 * live feed with every bad reason, the malformed corpus, tests/fuzz/generate.ts's fuzz records,
 * and tests/fuzz/mutate.ts's byte-wise and structural mutations of valid orders.
 *
 * Each run also checks that the scanner itself took the valid records it should (a decoder that
 * always fell back to parseOrder would agree with it trivially).
 * @module
 */
import assert from "node:assert/strict";
import { type Data, type RecordBatch, Table, Type } from "apache-arrow";
import { OrderDecoder } from "../../lib/orders/decode.ts";
import { feedIds, loadFeedCatalog, OrderFeed } from "../../lib/orders/feed.ts";
import { cleanedSchema, flattenOrders, type OrderRecord } from "../../lib/orders/flatten.ts";
import { generateOrders, loadRetailDb } from "../../lib/orders/generate.ts";
import { dataFiles, readLines } from "../../lib/orders/lines.ts";
import { parseOrder, type ParseResult } from "../../lib/orders/validate.ts";
import { malformedOrders } from "../fixtures/malformed_orders.ts";
import { fuzzRecords, HEAVY_KINDS, KINDS, showBytes } from "../fuzz/generate.ts";
import { mutatedRecords, type Mutation, MUTATIONS } from "../fuzz/mutate.ts";

const RETAIL_DB = Deno.env.get("RETAIL_DB") ?? "../shared/data/retail_db";
const SEED = Number(Deno.env.get("FUZZ_SEED") ?? 16);
const INGESTED_MS = 1_765_000_000_123.456;
const encoder = new TextEncoder();

/** What one run of both ways over the same records found. */
interface Run {
  /** Records the decoder's scanner took by itself, by record index. */
  scanned: boolean[];
  /** Records parseOrder accepted. */
  accepted: number;
  /** The decoder's rows and the reference's. */
  decoded: Table;
  reference: Table;
}

/**
 * Decodes `values` (record i at partition i % 3, offset "i") with the decoder, taking a batch at
 * seeded random points, and with parseOrder + flattenOrders; asserts equal decisions and rows.
 */
function differential(
  values: readonly (Uint8Array | null)[],
  opts: { maxBytes?: number; describe?: (i: number) => string } = {},
): Run {
  const decoder = new OrderDecoder(INGESTED_MS, { maxBytes: opts.maxBytes, firstRows: 64 });
  const batches: RecordBatch[] = [];
  const good: OrderRecord[] = [];
  const scanned: boolean[] = [];
  let cut = 1;
  for (let i = 0; i < values.length; i++) {
    const partition = i % 3;
    const offset = String(i);
    const timestampMs = 1_765_000_000_000 + i * 7.5;
    const before = decoder.scanned;
    const got = decoder.decode(values[i], partition, offset, timestampMs);
    scanned.push(decoder.scanned > before);
    const want: ParseResult = parseOrder(values[i], { maxBytes: opts.maxBytes });
    if (want.ok) good.push({ order: want.order, partition, offset, timestampMs });
    const what = () => `record ${i} (${opts.describe?.(i) ?? ""}): ${showBytes(values[i], 300)}`;
    if (want.ok) {
      assert.equal(got, undefined, `decoder rejected a valid ${what()}: ${got?.message}`);
    } else assert.deepEqual(got, want, `decoder decided otherwise on ${what()}`);
    cut = (Math.imul(cut, 1103515245) + 12345) & 0x7fffffff;
    if (cut % 97 === 0) batches.push(decoder.take());
  }
  batches.push(decoder.take());
  const decoded = new Table(cleanedSchema, batches);
  const reference = flattenOrders(good, INGESTED_MS);
  assertSameRows(decoded, reference, (row) => {
    const i = Number(reference.getChild("kafka_offset")!.get(row));
    return `record ${i} (${opts.describe?.(i) ?? ""}): ${showBytes(values[i], 300)}`;
  });
  return { scanned, accepted: good.length, decoded, reference };
}

/** Column `c` of a table as comparable values: bigints, numbers, Utf8 as exact bytes, nulls. */
function columnValues(table: Table, c: number): unknown[] {
  const out: unknown[] = [];
  for (const d of table.getChildAt(c)!.data as Data[]) {
    for (let i = 0; i < d.length; i++) {
      if (!d.getValid(i)) {
        out.push(null);
      } else if (d.typeId === Type.Decimal) {
        // Decimal128: the four little-endian words of the unscaled value.
        const w = d.values as Uint32Array;
        const k = 4 * (d.offset + i);
        out.push(`decimal:${w[k]},${w[k + 1]},${w[k + 2]},${w[k + 3]}`);
      } else if (d.typeId === Type.Utf8) {
        const o = d.valueOffsets;
        const bytes = (d.values as Uint8Array).subarray(o[d.offset + i], o[d.offset + i + 1]);
        out.push(`utf8:${Array.from(bytes, (x) => x.toString(16).padStart(2, "0")).join("")}`);
      } else {
        out.push(d.values[d.offset + i]);
      }
    }
  }
  return out;
}

/** Asserts equal schemas and rows; a difference names the column, row and record. */
function assertSameRows(got: Table, want: Table, record: (row: number) => string): void {
  const fields = (t: Table) => t.schema.fields.map((f) => `${f.name}: ${f.type} ${f.nullable}`);
  assert.deepEqual(fields(got), fields(want), "schemas differ");
  assert.equal(got.numRows, want.numRows, "row counts differ");
  for (let c = 0; c < want.numCols; c++) {
    const name = want.schema.fields[c].name;
    const a = columnValues(got, c);
    const b = columnValues(want, c);
    const nulls = (t: Table) => t.getChildAt(c)!.nullCount;
    assert.equal(nulls(got), nulls(want), `${name}: null counts differ`);
    for (let r = 0; r < b.length; r++) {
      if (!Object.is(a[r], b[r])) {
        assert.fail(
          `${name} differs at row ${r}: decoder ${String(a[r])}, reference ${String(b[r])}; ` +
            record(r),
        );
      }
    }
  }
}

const count = (xs: boolean[]) => xs.filter((x) => x).length;

Deno.test("decode: the data/ files' 6,000 orders, every one by the scanner, rows equal to the reference", async () => {
  const values: Uint8Array[] = [];
  for await (const l of readLines(await dataFiles())) values.push(l.bytes);
  const run = differential(values);
  assert.equal(values.length, 6000);
  assert.equal(run.accepted, 6000);
  assert.equal(count(run.scanned), 6000, "the scanner took every data/ order");
  assert.ok(run.decoded.numRows > 18_000, `${run.decoded.numRows} rows`);
});

Deno.test("decode: 20,000 generated orders (lib/orders/generate.ts), every one by the scanner", async () => {
  const db = await loadRetailDb(RETAIL_DB);
  const values = Array.from(generateOrders(db, 20_000), (o) => encoder.encode(JSON.stringify(o)));
  const run = differential(values);
  assert.equal(count(run.scanned), 20_000);
});

Deno.test("decode: the live feed with every bad reason (and ids of 15 and 16 digits)", async () => {
  const catalog = await loadFeedCatalog();
  for (const start of [1_765_000_000_000, 2_500_000_000_000]) {
    const feed = new OrderFeed(catalog, { seed: 16, badRate: 0.35, ...feedIds(start) });
    const records = Array.from({ length: 5000 }, () => feed.next());
    const run = differential(records.map((r) => r.value), {
      describe: (i) => `feed ${records[i].intended}`,
    });
    const reasons = new Set(records.map((r) => r.intended));
    assert.equal(reasons.size, 14, `every reason and ok: ${[...reasons]}`);
    records.forEach((r, i) => {
      assert.equal(run.scanned[i], r.intended === "ok", `record ${i} (${r.intended})`);
    });
  }
});

Deno.test("decode: the malformed-orders corpus", () => {
  const cases = malformedOrders();
  const run = differential(cases.map((c) => c.bytes), { describe: (i) => cases[i].name });
  // The corpus's own expectations hold for the decoder's decisions too (parseOrder's are
  // compared above); and its good cases without extra fields are the scanner's.
  cases.forEach((c, i) => {
    const d = new OrderDecoder(0).decode(c.bytes, 0, "0", 0);
    assert.equal(d?.reason ?? "ok", c.expected, c.name);
    if (c.expected !== "ok") assert.equal(run.scanned[i], false, c.name);
  });
  assert.ok(count(run.scanned) >= 3, `${count(run.scanned)} corpus orders by the scanner`);
});

Deno.test("decode: 30,000 fuzz records of tests/fuzz/generate.ts (every kind)", () => {
  const records = [...fuzzRecords(SEED, 30_000)];
  const run = differential(records.map((r) => r.value), {
    describe: (i) => `${records[i].kind}: ${records[i].detail}`,
  });
  const kinds = new Set(records.map((r) => r.kind));
  assert.deepEqual(KINDS.filter((k) => !kinds.has(k)), [], "every kind generated");
  const byScanner = new Set(records.filter((_, i) => run.scanned[i]).map((r) => r.kind));
  for (const k of ["valid", "kafka_key", "headers", "number_form", "rules"] as const) {
    assert.ok(byScanner.has(k), `the scanner took some ${k} records`);
  }
  assert.ok(count(run.scanned) > 5000, `${count(run.scanned)} by the scanner`);
});

Deno.test("decode: the heavy fuzz kinds at an 8 MiB limit (20,000 line items, 2 MB strings)", () => {
  const records = [...fuzzRecords(SEED, 60, { kinds: HEAVY_KINDS })];
  const run = differential(records.map((r) => r.value), {
    maxBytes: 8 << 20,
    describe: (i) => `${records[i].kind}: ${records[i].detail}`,
  });
  const byScanner = new Set(records.filter((_, i) => run.scanned[i]).map((r) => r.kind));
  assert.ok(byScanner.has("items_20000") || byScanner.has("items_5000"), [...byScanner].join());
});

Deno.test("decode: 60,000 byte-wise and structural mutations of valid orders (tests/fuzz/mutate.ts)", () => {
  const records = [...mutatedRecords(SEED, 60_000)];
  const run = differential(records.map((r) => r.value), {
    describe: (i) => `${records[i].kinds.join("+") || "none"}: ${records[i].detail}`,
  });
  // Every kind of mutation has records the scanner took itself and records it handed over.
  const tally = new Map<Mutation | "none", { scanned: number; fellBack: number }>();
  records.forEach((r, i) => {
    for (const k of r.kinds.length === 0 ? ["none" as const] : r.kinds) {
      const t = tally.get(k) ?? { scanned: 0, fellBack: 0 };
      if (run.scanned[i]) t.scanned++;
      else t.fellBack++;
      tally.set(k, t);
    }
  });
  const figures = JSON.stringify(Object.fromEntries(tally));
  for (const k of MUTATIONS) {
    const t = tally.get(k)!;
    assert.ok(t.scanned > 100 && t.fellBack > 100, `${k}: ${figures}`);
  }
  assert.equal(tally.get("none")?.fellBack, 0, figures);
  assert.ok(run.accepted > count(run.scanned), "some valid records were the fallback's");
});

/** A one-item order with fields given as raw JSON text (absent: left out). */
function order(top: Record<string, string> = {}, item: Record<string, string> = {}): string {
  const it = {
    order_item_id: "1",
    order_item_product_id: "957",
    order_item_quantity: "1",
    order_item_product_price: "299.98",
    order_item_subtotal: "299.98",
    ...item,
  };
  const o: Record<string, string> = {
    order_id: "1",
    customer_id: "11599",
    customer_fname: '"Mary"',
    customer_lname: '"Malone"',
    city: '"Hickory"',
    state: '"NC"',
    pincode: "28601",
    ...top,
  };
  const members = (m: Record<string, string>) =>
    Object.entries(m).filter(([, v]) => v !== "absent").map(([k, v]) => `"${k}":${v}`).join(",");
  return `{${members(o)},"line_items":[{${members(it)}}]}`;
}

/** Edge cases: [name, record text, taken by the scanner itself?]. */
const EDGES: [string, string, boolean][] = [
  ["the seed's order", order(), true],
  ["escapes in a name", order({ customer_lname: '"a\\"b\\\\c\\/d\\b\\f\\n\\r\\te"' }), true],
  ["\\u escapes, both cases", order({ city: '"Z\\u00fcrich \\u00FC \\u20ac"' }), true],
  ["an escaped surrogate pair", order({ city: '"\\ud83d\\ude00"' }), true],
  ["a lone high surrogate", order({ city: '"a\\ud800b"' }), true],
  ["a lone low surrogate", order({ city: '"a\\udc00"' }), true],
  ["a reversed pair", order({ city: '"\\ude00\\ud83d"' }), true],
  ["high, high, low", order({ city: '"\\ud83d\\ud83d\\ude00"' }), true],
  ["a high surrogate before a non-\\u escape", order({ city: '"\\ud83d\\n"' }), true],
  ["lone surrogates at the ends of a name", order({ customer_fname: '"\\udc00x\\ud800"' }), true],
  ["\\u0000", order({ state: '"\\u0000"' }), true],
  ["raw U+2028, U+FFFD and astral", order({ city: '"\u2028\uFFFD\u{1F642}"' }), true],
  ["an empty name", order({ customer_fname: '""' }), true],
  [
    "null and absent optional fields",
    order({ city: "null", state: "absent", pincode: "null" }),
    true,
  ],
  [
    "-0 as ids and price",
    order({ order_id: "-0" }, { order_item_product_price: "-0", order_item_subtotal: "0" }),
    true,
  ],
  ["2^53 − 1", order({ order_id: "9007199254740991" }), true],
  ["2^53 (a bigint)", order({ order_id: "9007199254740992" }), false],
  ["2^53 + 1", order({ customer_id: "9007199254740993" }), false],
  ["int64 max", order({ order_id: "9223372036854775807" }), false],
  ["beyond int64", order({ order_id: "9223372036854775808" }), false],
  [
    "two price decimals",
    order({}, { order_item_product_price: "299.98", order_item_subtotal: "299.98" }),
    true,
  ],
  [
    "price decimals beyond two, all zeros",
    order({}, { order_item_product_price: "299.98000", order_item_subtotal: "299.98" }),
    true,
  ],
  [
    "three price decimals (out_of_range)",
    order({}, { order_item_product_price: "299.985", order_item_subtotal: "299.98" }),
    false,
  ],
  [
    "9,999,999,999.99, the largest amount",
    order({}, {
      order_item_product_price: "9999999999.99",
      order_item_subtotal: "9999999999.99",
    }),
    true,
  ],
  [
    "10^10 (out_of_range)",
    order({}, { order_item_product_price: "10000000000", order_item_subtotal: "10000000000" }),
    false,
  ],
  ["an exponent", order({}, { order_item_product_price: "2.9998e2" }), false],
  ["a long written 1.0", order({ order_id: "1.0" }), false],
  ["a leading zero", order({ order_id: "01" }), false],
  ["a fraction as quantity", order({}, { order_item_quantity: "1.5" }), false],
  ["subtotal a cent off", order({}, { order_item_subtotal: "299.99" }), true],
  ["subtotal two cents off", order({}, { order_item_subtotal: "300.00" }), false],
  ["subtotal with a fraction of a cent", order({}, { order_item_subtotal: "299.9900001" }), false],
  ["whitespace everywhere", ` \t\r\n${order().replace(/([{}\[\]:,])/g, " $1\n\t")} \r\n`, true],
  ["a form feed", `\f${order()}`, false],
  ["a BOM", `\uFEFF${order()}`, false],
  [
    "keys in another order",
    `{"line_items":[{"order_item_subtotal":1,"order_item_product_price":1,"order_item_quantity":1,"order_item_product_id":2,"order_item_id":3}],"pincode":1,"state":"s","city":"c","customer_lname":"l","customer_fname":"f","customer_id":4,"order_id":5}`,
    true,
  ],
  ["a duplicate key", order({ order_id: '1,"order_id":2' }), false],
  ["an unknown key", order({ note: '"gift"' }), false],
  ["an escaped key", order().replace('"order_id"', '"order\\u005fid"'), false],
  ["no line items", '{"order_id":1,"customer_id":2,"line_items":[]}', false],
  ["trailing garbage", `${order()}x`, false],
  ["a raw tab in a string", order({ city: '"a\tb"' }), false],
  ["a bad escape", order({ city: '"\\x41"' }), false],
  ["a bad \\u", order({ city: '"\\u00G1"' }), false],
  ["a missing value", order({ city: "" }), false],
  ["null for a required field", order({ customer_id: "null" }), false],
  ["nul spelled wrong", order({ city: "nul" }), false],
  ["a string pincode", order({ pincode: '"00725"' }), false],
  ["quantity 0", order({}, { order_item_quantity: "0", order_item_subtotal: "0" }), false],
  [
    "a negative price",
    order({}, { order_item_product_price: "-1", order_item_subtotal: "-1" }),
    false,
  ],
  [
    "price 1e308 (by its exponent: the fallback)",
    order({}, { order_item_product_price: "1e308", order_item_subtotal: "1e308" }),
    false,
  ],
];

Deno.test("decode: edge cases, each decided as parseOrder does and taken by the path expected", () => {
  const run = differential(EDGES.map(([, text]) => encoder.encode(text)), {
    describe: (i) => EDGES[i][0],
  });
  EDGES.forEach(([name, , byScanner], i) => assert.equal(run.scanned[i], byScanner, name));
  // Two values checked by hand as well: the escaped pair is one 4-byte character, a lone
  // surrogate is U+FFFD; the decoder's rows are then compared with the reference's above.
  const city = run.decoded.getChild("city")!;
  assert.equal(city.get(3), "\u{1F600}");
  assert.equal(city.get(4), "a\uFFFDb");
});

Deno.test("decode: the comparison sees a one-cent difference in a row", () => {
  const text = order();
  const decoder = new OrderDecoder(INGESTED_MS);
  decoder.decode(encoder.encode(text), 0, "0", 0);
  const decoded = new Table(cleanedSchema, [decoder.take()]);
  const r = parseOrder(text.replaceAll("299.98", "299.97"));
  assert.ok(r.ok);
  const other = flattenOrders(
    [{ order: r.order, partition: 0, offset: "0", timestampMs: 0 }],
    INGESTED_MS,
  );
  assert.throws(() => assertSameRows(decoded, other, () => ""), /price differs at row 0/);
});

Deno.test("decode: batches, lineage and counters", () => {
  const decoder = new OrderDecoder(INGESTED_MS, { firstRows: 8 });
  assert.equal(decoder.take().numRows, 0, "an empty batch");
  const two = order({}, {}).replace(
    "}]}",
    '},{"order_item_id":2,"order_item_product_id":1,"order_item_quantity":2,"order_item_product_price":0.5,"order_item_subtotal":1}]}',
  );
  for (let i = 0; i < 10; i++) {
    assert.equal(
      decoder.decode(encoder.encode(two), 4, String(2n ** 60n + BigInt(i)), 1000.5),
      undefined,
    );
  }
  assert.equal(decoder.decode(null, 4, "9", 0)?.reason, "null_value");
  assert.deepEqual([decoder.orders, decoder.rows, decoder.scanned, decoder.fellBack], [
    10,
    20,
    10,
    1,
  ]);
  const batch = decoder.take();
  assert.equal(batch.numRows, 20);
  assert.equal(decoder.rows, 0);
  const at = (name: string) => batch.getChild(name)!.data[0].values[19];
  // Money is decimal(12,2): the unscaled cents in the row's first two words.
  const cents = (name: string) => {
    const w = batch.getChild(name)!.data[0].values as Uint32Array;
    return w[4 * 19] + w[4 * 19 + 1] * 2 ** 32;
  };
  assert.equal(at("kafka_partition"), 4);
  assert.equal(at("kafka_offset"), 2n ** 60n + 9n);
  assert.equal(at("kafka_timestamp"), 1000500n);
  assert.equal(at("ingested_at"), BigInt(Math.round(INGESTED_MS * 1000)));
  assert.equal(at("quantity"), 2n);
  assert.equal(String(batch.schema.fields[10].type), "Decimal[12e+2]");
  assert.equal(cents("price"), 50);
  assert.equal(cents("subtotal"), 100);
});
