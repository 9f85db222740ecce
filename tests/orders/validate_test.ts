import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import {
  DEFAULT_MAX_BYTES,
  type Order,
  orderToJson,
  parseOrder,
  type ParseResult,
  REASON_CODES,
} from "../../lib/orders/mod.ts";
import { malformedOrders } from "../fixtures/malformed_orders.ts";

const SEED =
  '{"order_id":1,"customer_id":11599,"customer_fname":"Mary","customer_lname":"Malone",' +
  '"city":"Hickory","state":"NC","pincode":28601,"line_items":[{"order_item_id":1,' +
  '"order_item_product_id":957,"order_item_quantity":1,"order_item_product_price":299.98,' +
  '"order_item_subtotal":299.98}]}';

function ok(r: ParseResult): Order {
  if (!r.ok) assert.fail(`expected a valid order, got ${r.reason}: ${r.message}`);
  return r.order;
}

function bad(r: ParseResult, reason: string, field?: string): string {
  if (r.ok) assert.fail(`expected ${reason}, got a valid order`);
  assert.equal(r.reason, reason, r.message);
  if (field !== undefined) {
    assert.equal(r.field, field);
    assert.ok(r.message.startsWith(`${field}: `), r.message);
  }
  return r.message;
}

/** The seed order with one change applied to its parsed object. */
function seedWith(change: (o: Record<string, unknown>) => void): string {
  const o = JSON.parse(SEED);
  change(o);
  return JSON.stringify(o);
}

Deno.test("parseOrder: the seed's sample order parses to exactly its fields", () => {
  const order = ok(parseOrder(SEED));
  assert.deepEqual(order, JSON.parse(SEED));
  assert.deepEqual(ok(parseOrder(new TextEncoder().encode(SEED))), order);
  assert.deepEqual(ok(parseOrder(Buffer.from(SEED))), order); // kafkajs message.value
  assert.equal(orderToJson(order), SEED);
});

Deno.test("parseOrder: every corpus case gives its expected reason and field", () => {
  const cases = malformedOrders();
  assert.ok(cases.length >= 40);
  for (const c of cases) {
    const r = parseOrder(c.bytes);
    if (c.expected === "ok") {
      assert.ok(r.ok, `${c.name}: ${r.ok ? "" : r.message}`);
    } else {
      assert.ok(!r.ok, `${c.name}: expected ${c.expected}, got a valid order`);
      assert.equal(r.reason, c.expected, `${c.name}: ${r.message}`);
      assert.equal(r.field, c.field, `${c.name}: ${r.message}`);
    }
  }
  // Every reason code except too_large and internal_error (tested below) appears in the corpus;
  // constraint_violated and schema_mismatch are the cleaned sink's (tests/orders/sinks_test.ts,
  // tests/orders/evolve_test.ts), not parseOrder's.
  const seen = new Set(cases.map((c) => c.expected));
  for (const code of REASON_CODES) {
    if (
      code === "too_large" || code === "internal_error" || code === "constraint_violated" ||
      code === "schema_mismatch"
    ) {
      continue;
    }
    assert.ok(seen.has(code), code);
  }
});

Deno.test("parseOrder: tombstones and input-level failures", () => {
  bad(parseOrder(null), "null_value");
  bad(parseOrder(undefined), "null_value");
  bad(parseOrder(new Uint8Array([0x7b, 0xff, 0x7d])), "invalid_utf8");
  bad(parseOrder(new Uint8Array([0xed, 0xa0, 0x80])), "invalid_utf8"); // encoded surrogate
  bad(parseOrder(""), "not_json");
  bad(parseOrder("{'order_id': 1}"), "not_json");
  bad(parseOrder("42"), "not_object");
  bad(parseOrder("true"), "not_object");
  // A leading BOM is skipped; a real U+FFFD in the text is valid UTF-8.
  ok(parseOrder(new Uint8Array([0xef, 0xbb, 0xbf, ...new TextEncoder().encode(SEED)])));
  const withFffd = ok(parseOrder(new TextEncoder().encode(SEED.replace("Mary", "Ma\uFFFDry"))));
  assert.equal(withFffd.customer_fname, "Ma\uFFFDry");
});

Deno.test("parseOrder: the size limit counts UTF-8 bytes and is configurable", () => {
  const big = seedWith((o) => (o.note = "x".repeat(DEFAULT_MAX_BYTES)));
  bad(parseOrder(big), "too_large");
  bad(parseOrder(new TextEncoder().encode(big)), "too_large");
  const len = new TextEncoder().encode(SEED).length;
  ok(parseOrder(SEED, { maxBytes: len }));
  bad(parseOrder(SEED, { maxBytes: len - 1 }), "too_large");
  bad(parseOrder(new TextEncoder().encode(SEED), { maxBytes: len - 1 }), "too_large");
  // 3-byte characters: string length fits, byte length does not.
  const euro = seedWith((o) => (o.customer_fname = "€".repeat(100)));
  const euroBytes = new TextEncoder().encode(euro).length;
  bad(parseOrder(euro, { maxBytes: euroBytes - 1 }), "too_large");
  ok(parseOrder(euro, { maxBytes: euroBytes }));
});

Deno.test("parseOrder: messages name the field and show the offending value", () => {
  const msg = bad(
    parseOrder(seedWith((o) => {
      const items = o.line_items as Record<string, unknown>[];
      items.push({ ...items[0] }, { ...items[0], order_item_quantity: "3" });
    })),
    "wrong_type",
    "line_items[2].order_item_quantity",
  );
  assert.equal(msg, 'line_items[2].order_item_quantity: expected a long, got string "3"');
  assert.match(
    bad(parseOrder(seedWith((o) => (o.pincode = "00725"))), "wrong_type", "pincode"),
    /expected a long, got string "00725"/,
  );
  assert.match(
    bad(
      parseOrder(seedWith((o) => (o.order_id = 2.5))),
      "wrong_type",
      "order_id",
    ),
    /fractional number 2\.5/,
  );
});

Deno.test("parseOrder: unknown extra fields are ignored, optional fields become null", () => {
  const o = ok(parseOrder(seedWith((o) => {
    o.extra = { nested: [1, 2] };
    (o.line_items as Record<string, unknown>[])[0].discount = "10%";
    delete o.city;
    o.state = null;
  })));
  assert.equal(o.city, null);
  assert.equal(o.state, null);
  assert.equal(o.customer_fname, "Mary");
  assert.equal(o.line_items[0].order_item_subtotal, 299.98);
});

Deno.test("parseOrder: first problem in field order wins", () => {
  bad(
    parseOrder('{"customer_id":"x","line_items":[]}'),
    "missing_field",
    "order_id",
  );
  bad(
    parseOrder('{"order_id":9223372036854775808,"customer_id":"x"}'),
    "out_of_range",
    "order_id",
  );
  bad(
    parseOrder('{"order_id":9007199254740993,"customer_id":"x"}'),
    "wrong_type",
    "customer_id",
  );
  // Type errors in a later line beat rule errors in an earlier one.
  bad(
    parseOrder(seedWith((o) => {
      const items = o.line_items as Record<string, unknown>[];
      items[0].order_item_quantity = 0;
      items.push({ ...items[0], order_item_quantity: 1, order_item_id: null });
    })),
    "null_field",
    "line_items[1].order_item_id",
  );
});

Deno.test("parseOrder: int64 edges are exact (bigint beyond 2^53), outside is out_of_range", () => {
  const at = (v: string) => SEED.replace('"order_id":1', `"order_id":${v}`);
  assert.equal(ok(parseOrder(at("9007199254740991"))).order_id, 9007199254740991);
  assert.equal(ok(parseOrder(at("-9007199254740991"))).order_id, -9007199254740991);
  assert.equal(ok(parseOrder(at("9007199254740992"))).order_id, 9007199254740992n);
  assert.equal(ok(parseOrder(at("9007199254740993"))).order_id, 9007199254740993n);
  assert.equal(ok(parseOrder(at("9223372036854775807"))).order_id, 9223372036854775807n);
  assert.equal(ok(parseOrder(at("-9223372036854775808"))).order_id, -9223372036854775808n);
  assert.equal(ok(parseOrder(at("9.223372036854775807e18"))).order_id, 9223372036854775807n);
  assert.equal(ok(parseOrder(at("1e18"))).order_id, 1000000000000000000n);
  assert.equal(ok(parseOrder(at("3.0"))).order_id, 3);
  assert.equal(ok(parseOrder(at("1e3"))).order_id, 1000);
  bad(parseOrder(at("9223372036854775808")), "out_of_range", "order_id");
  bad(parseOrder(at("-9223372036854775809")), "out_of_range", "order_id");
  bad(parseOrder(at("1e19")), "out_of_range", "order_id");
  bad(parseOrder(at("1e400")), "out_of_range", "order_id");
  bad(parseOrder(at("9007199254740993.5")), "wrong_type", "order_id");
  // Exact values everywhere in the order; other fields stay numbers.
  const big = ok(parseOrder(
    SEED.replace('"order_item_id":1', '"order_item_id":12345678901234567890'.slice(0, 35)),
  ));
  assert.equal(big.line_items[0].order_item_id, 1234567890123456789n);
  assert.equal(big.customer_id, 11599);
  assert.equal(big.line_items[0].order_item_product_price, 299.98);
  assert.equal(
    orderToJson(big),
    SEED.replace('"order_item_id":1', '"order_item_id":1234567890123456789'),
  );
});

Deno.test("parseOrder: business rules (quantity, price, one-cent subtotal tolerance)", () => {
  const line = (q: number, p: number, s: number) =>
    seedWith((o) => {
      (o.line_items as Record<string, unknown>[])[0] = {
        order_item_id: 1,
        order_item_product_id: 2,
        order_item_quantity: q,
        order_item_product_price: p,
        order_item_subtotal: s,
      };
    });
  ok(parseOrder(line(3, 59.98, 179.94)));
  ok(parseOrder(line(3, 59.98, 179.95)));
  ok(parseOrder(line(3, 59.98, 179.93)));
  ok(parseOrder(line(5, 0, 0)));
  bad(parseOrder(line(3, 59.98, 179.96)), "subtotal_mismatch", "line_items[0].order_item_subtotal");
  bad(parseOrder(line(0, 59.98, 0)), "non_positive_quantity");
  bad(parseOrder(line(-2, 10, -20)), "non_positive_quantity");
  bad(parseOrder(line(1, -0.01, -0.01)), "negative_price");
});

Deno.test("parseOrder: never throws on hostile input", () => {
  const inputs = [
    "[".repeat(100000),
    '{"__proto__":{"order_id":1}}',
    '{"order_id":1,"customer_id":1,"line_items":[[]]}',
    '{"order_id":1,"customer_id":1,"line_items":"abc"}',
    '{"order_id":1,"customer_id":1,"customer_fname":{},"line_items":[]}',
    "\u0000",
  ];
  for (const s of inputs) {
    const r = parseOrder(s);
    assert.equal(r.ok, false, s.slice(0, 40));
  }
});

/** The seed order with one line item's quantity, price and subtotal given as JSON literals. */
function lineLiterals(q: string, p: string, s: string): string {
  return SEED.replace('"order_item_quantity":1', `"order_item_quantity":${q}`)
    .replace('"order_item_product_price":299.98', `"order_item_product_price":${p}`)
    .replace('"order_item_subtotal":299.98', `"order_item_subtotal":${s}`);
}

Deno.test("issue 20 (1): price × quantity that is not finite is out_of_range, never a pass", () => {
  // The record: 10^10 × 1e300 = Infinity made the tolerance Infinity, so any subtotal
  // passed. Money now stops below 10^10, so the price itself is out of range first.
  const record = lineLiterals("10000000000", "1e300", "5.0");
  const msg = bad(parseOrder(record), "out_of_range", "line_items[0].order_item_product_price");
  assert.match(msg, /1e\+300 is beyond decimal\(12,2\)/);
  bad(parseOrder(new TextEncoder().encode(record)), "out_of_range");
  const second = seedWith((o) => {
    const items = o.line_items as Record<string, unknown>[];
    items.push({ ...items[0], order_item_quantity: 2, order_item_product_price: 1e308 });
  });
  bad(parseOrder(second), "out_of_range", "line_items[1].order_item_product_price");
  // The largest amounts times the largest quantity stay finite: the one-cent rule decides.
  ok(parseOrder(lineLiterals("1", "9999999999.99", "9999999999.99")));
  bad(parseOrder(lineLiterals("9007199254740993", "9999999999.99", "5")), "subtotal_mismatch");
  ok(parseOrder(lineLiterals("10000000000", "0", "0")));
  // Rule order: the types (money included) of every field, then quantity, price, subtotal.
  bad(parseOrder(lineLiterals("0", "1e300", "5")), "out_of_range");
  bad(parseOrder(lineLiterals("0", "-3", "5")), "non_positive_quantity");
  bad(parseOrder(lineLiterals("10000000000", "-1", "5")), "negative_price");
});

Deno.test("money is exact to the cent: more decimals or 10^10 and up are out_of_range, never rounded", () => {
  const price = "line_items[0].order_item_product_price";
  const subtotal = "line_items[0].order_item_subtotal";
  // Whole cents in any spelling of the same number are accepted.
  for (const p of ["299.98", "299.980", "2.9998e2", "29998e-2"]) {
    const r = parseOrder(lineLiterals("1", p, "299.98"));
    assert.ok(r.ok, p);
    assert.equal(r.order.line_items[0].order_item_product_price, 299.98);
  }
  ok(parseOrder(lineLiterals("1", "0", "0")));
  ok(parseOrder(lineLiterals("1", "9999999999.99", "9999999999.99")));
  // A fraction of a cent anywhere is out_of_range, with the value in the message.
  assert.match(
    bad(parseOrder(lineLiterals("1", "299.985", "299.98")), "out_of_range", price),
    /299\.985 has more than two decimals/,
  );
  bad(parseOrder(lineLiterals("1", "299.98", "299.981")), "out_of_range", subtotal);
  bad(parseOrder(lineLiterals("1", "0.001", "0")), "out_of_range", price);
  bad(parseOrder(lineLiterals("3", "0.1", "0.30000000000000004")), "out_of_range", subtotal);
  // 10^10 dollars and more do not fit decimal(12,2).
  assert.match(
    bad(parseOrder(lineLiterals("1", "10000000000", "10000000000")), "out_of_range", price),
    /beyond decimal\(12,2\)/,
  );
  bad(parseOrder(lineLiterals("1", "1", "-10000000000.5")), "out_of_range", subtotal);
});

Deno.test("issue 20 (1): NaN and Infinity never get in, wherever they are", () => {
  // JSON has no NaN/Infinity literals: those are not_json; 1e400 reads as Infinity.
  bad(parseOrder(lineLiterals("1", "NaN", "1")), "not_json");
  bad(parseOrder(lineLiterals("1", "Infinity", "1")), "not_json");
  bad(parseOrder(lineLiterals("1", "-Infinity", "1")), "not_json");
  bad(
    parseOrder(lineLiterals("1", "1e400", "1")),
    "out_of_range",
    "line_items[0].order_item_product_price",
  );
  bad(
    parseOrder(lineLiterals("1", "1", "-1e400")),
    "out_of_range",
    "line_items[0].order_item_subtotal",
  );
  bad(
    parseOrder(lineLiterals("1e400", "1", "1")),
    "out_of_range",
    "line_items[0].order_item_quantity",
  );
  bad(parseOrder(SEED.replace('"pincode":28601', '"pincode":-1e400')), "out_of_range", "pincode");
  bad(parseOrder(lineLiterals("1", '"NaN"', "1")), "wrong_type");
  // Unknown extra fields are never read, so a huge number there changes nothing.
  ok(parseOrder(SEED.replace('"line_items"', '"note":1e400,"line_items"')));
});

/** The seed order with an extra field nested `depth` arrays deep and the given order_id. */
function deepOrder(depth: number, orderId: string): string {
  return SEED.replace('"order_id":1', `"order_id":${orderId}`)
    .replace('"line_items"', `"extra":${"[".repeat(depth)}${"]".repeat(depth)},"line_items"`);
}

Deno.test("issue 20 (2): nesting depth never changes the outcome, with a small or a large id", () => {
  for (const depth of [10_000, 100_000]) {
    // The record: 10,000 levels and an order_id past 2^53 was not_json (stack overflow).
    assert.equal(ok(parseOrder(deepOrder(depth, "9007199254740993"))).order_id, 9007199254740993n);
    assert.equal(ok(parseOrder(deepOrder(depth, "1"))).order_id, 1);
    assert.equal(
      ok(parseOrder(new TextEncoder().encode(deepOrder(depth, "-9223372036854775808")))).order_id,
      -9223372036854775808n,
    );
    bad(parseOrder(deepOrder(depth, "9223372036854775808")), "out_of_range", "order_id");
  }
  // Deep objects, deep nesting inside a line item, strings full of brackets and quotes.
  const deepObject = '{"a":'.repeat(50_000) + "1" + "}".repeat(50_000);
  const tricky = SEED.replace('"order_id":1', '"order_id":12345678901234567890'.slice(0, 30))
    .replace('"line_items"', `"x":${deepObject},"s":"]}\\"{[\\\\","line_items"`)
    .replace(
      '"order_item_id":1',
      `"deep":${"[".repeat(20_000)}${"]".repeat(20_000)},"order_item_id":1`,
    );
  assert.equal(ok(parseOrder(tricky)).order_id, 1234567890123456789n);
  // Near the size limit: about 500,000 levels in 1 MiB.
  const half = (DEFAULT_MAX_BYTES - SEED.length - 40) >> 1;
  const huge = deepOrder(half, "9007199254740993");
  assert.ok(new TextEncoder().encode(huge).length <= DEFAULT_MAX_BYTES);
  assert.equal(ok(parseOrder(huge)).order_id, 9007199254740993n);
});

Deno.test("issue 20 (2): the exact re-read follows JSON.parse (last duplicate wins, escaped keys, whitespace)", () => {
  const big = "9007199254740993";
  // A duplicate key: the last one counts, for the value and for its exact text.
  assert.equal(
    ok(parseOrder(SEED.replace('"order_id":1', `"order_id":5,"order_id":${big}`))).order_id,
    9007199254740993n,
  );
  assert.equal(
    ok(parseOrder(SEED.replace('"order_id":1', `"order_id":${big},"order_id":5`))).order_id,
    5,
  );
  // An escaped key is the same key.
  assert.equal(
    ok(parseOrder(SEED.replace('"order_id":1', `"order\\u005fid":${big}`))).order_id,
    9007199254740993n,
  );
  // Whitespace everywhere.
  const spaced = SEED.replace('"order_item_id":1', `"order_item_id":${big}`)
    .replace(/([{}\[\]:,])/g, " \n\t$1\r ");
  assert.equal(ok(parseOrder(spaced)).line_items[0].order_item_id, 9007199254740993n);
  // A field named like a line-item field deeper down is not the line item's.
  const nested = SEED.replace(
    '"order_item_id":1,',
    `"meta":{"order_item_id":1,"order_item_quantity":3},"order_item_id":${big},`,
  ).replace('"order_item_quantity":1', '"order_item_quantity":1');
  const o = ok(parseOrder(nested));
  assert.equal(o.line_items[0].order_item_id, 9007199254740993n);
  assert.equal(o.line_items[0].order_item_quantity, 1);
  // line_items given twice: the last array is the one read, exactly.
  const twice = SEED.replace(
    '"line_items"',
    '"line_items":[{"order_item_id":7}],"line_items"',
  ).replace('"order_item_id":1', `"order_item_id":${big}`);
  assert.equal(ok(parseOrder(twice)).line_items[0].order_item_id, 9007199254740993n);
  // Several line items, exact values in the second one only.
  const two = seedWith((x) => {
    const items = x.line_items as Record<string, unknown>[];
    items.push({ ...items[0] });
  }).replace(
    /"order_item_product_id":957(?![\s\S]*"order_item_product_id")/,
    `"order_item_product_id":${big}`,
  );
  const t = ok(parseOrder(two));
  assert.equal(t.line_items[0].order_item_product_id, 957);
  assert.equal(t.line_items[1].order_item_product_id, 9007199254740993n);
});

Deno.test("internal_error: a throw inside validation is reported as such, never as bad input", () => {
  assert.ok(REASON_CODES.includes("internal_error"));
  // A value object whose byte length cannot be read: the validator itself fails.
  const broken = {
    get byteLength(): number {
      throw new Error("boom");
    },
  } as unknown as Uint8Array;
  const r = parseOrder(broken);
  assert.equal(r.ok, false);
  if (r.ok) return;
  assert.equal(r.reason, "internal_error");
  assert.equal(r.field, undefined);
  assert.match(r.message, /internal error/);
  assert.match(r.message, /Error: boom/);
  // Real bad input keeps its own reasons.
  bad(parseOrder("{"), "not_json");
  bad(parseOrder(new Uint8Array([0xff])), "invalid_utf8");
});
