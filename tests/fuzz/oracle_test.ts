/**
 * The fuzz oracle on its own: hand-computed expectations for each documented rule and each open
 * case it decides (see the module doc of ./oracle.ts), and the hand-written malformed corpus
 * (tests/fixtures/malformed_orders.jsonl). Nothing here asks lib/orders/validate.ts.
 *
 * @module
 */
import assert from "node:assert/strict";
import { malformedOrders } from "../fixtures/malformed_orders.ts";
import { firstInvalidUtf8, parseJsonBytes } from "./json_reader.ts";
import { judge, type Outcome } from "./oracle.ts";

const enc = new TextEncoder();
const ITEM =
  '"order_item_id":1,"order_item_product_id":957,"order_item_quantity":2,"order_item_product_price":299.98,"order_item_subtotal":599.96';
const ORDER =
  `{"order_id":1,"customer_id":11599,"customer_fname":"Mary","customer_lname":"Malone",` +
  `"city":"Hickory","state":"NC","pincode":28601,"line_items":[{${ITEM}}]}`;
const withItem = (item: string) => ORDER.replace(ITEM, item);
const sub = (s: string) => withItem(ITEM.replace("599.96", s));
const bytes = (...parts: (string | number[])[]) => {
  const chunks = parts.map((p) => (typeof p === "string" ? enc.encode(p) : new Uint8Array(p)));
  const out = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
  let o = 0;
  for (const c of chunks) {
    out.set(c, o);
    o += c.length;
  }
  return out;
};

/** [what, value, expected outcome(s), expected field]. */
const CASES: [string, Uint8Array | null, Outcome | Outcome[], string?][] = [
  ["the seed's order", bytes(ORDER), "ok"],
  ["tombstone", null, "null_value"],
  ["one BOM is skipped", bytes([0xef, 0xbb, 0xbf], ORDER), "ok"],
  ["a second BOM is a character", bytes([0xef, 0xbb, 0xbf, 0xef, 0xbb, 0xbf], ORDER), "not_json"],
  ["a BOM after a space", bytes(" ", [0xef, 0xbb, 0xbf], ORDER), "not_json"],
  ["UTF-16LE BOM", bytes([0xff, 0xfe], ORDER), "invalid_utf8"],
  [
    "UTF-16 without BOM (NULs are UTF-8)",
    bytes(...[...ORDER].map((c) => [c.charCodeAt(0), 0])),
    "not_json",
  ],
  ["overlong slash", bytes('{"a":"', [0xc0, 0xaf], '"}'), "invalid_utf8"],
  ["surrogate bytes", bytes('{"a":"', [0xed, 0xa0, 0x80], '"}'), "invalid_utf8"],
  ["above U+10FFFF", bytes('{"a":"', [0xf4, 0x90, 0x80, 0x80], '"}'), "invalid_utf8"],
  ["truncated sequence at the end", bytes(ORDER, [0xe2, 0x82]), "invalid_utf8"],
  ["a real U+FFFD in a name", bytes(ORDER.replace("Mary", "Ma\uFFFDry")), "ok"],
  ["too large beats invalid UTF-8", bytes("x".repeat(1024 * 1024), [0xff]), "too_large"],
  ["exactly 1 MiB is fine", bytes(padded(1024 * 1024)), "ok"],
  ["1 MiB + 1 byte", bytes(padded(1024 * 1024 + 1)), "too_large"],
  ["no-break space is not JSON whitespace", bytes("\u00a0" + ORDER), "not_json"],
  ["JSON whitespace is", bytes(" \t\r\n" + ORDER + "\n"), "ok"],
  ["trailing comma", bytes(ORDER.replace("}]}", "},]}")), "not_json"],
  ["leading zero", bytes(ORDER.replace('"order_id":1', '"order_id":01')), "not_json"],
  ["lone surrogate escape in a name", bytes(ORDER.replace("Mary", "\\ud800")), "ok"],
  ["raw tab in a string", bytes(ORDER.replace("Mary", "Ma\try")), "not_json"],
  ["array", bytes("[]"), "not_object"],
  [
    "repeated key: the last counts",
    bytes(ORDER.replace('{"order_id":1', '{"order_id":"x","order_id":1')),
    "ok",
  ],
  [
    "repeated key: a bad last",
    bytes(ORDER.replace('"customer_id":11599', '"customer_id":11599,"customer_id":"1"')),
    "wrong_type",
    "customer_id",
  ],
  ["escaped key name", bytes(ORDER.replace('"order_id"', '"order\\u005fid"')), "ok"],
  [
    "__proto__ is an unknown key",
    bytes(ORDER.replace('"order_id":1,', '"__proto__":{"order_id":1},')),
    "missing_field",
    "order_id",
  ],
  [
    "schema order, not text order",
    bytes(ORDER.replace('"state":"NC"', '"state":1').replace('"order_id":1', '"order_id":true')),
    "wrong_type",
    "order_id",
  ],
  [
    "types before rules",
    bytes(
      ORDER.replace(
        `[{${ITEM}}]`,
        `[{${ITEM.replace('"order_item_quantity":2', '"order_item_quantity":0')}},{${
          ITEM.replace("599.96", '"599.96"')
        }}]`,
      ),
    ),
    "wrong_type",
    "line_items[1].order_item_subtotal",
  ],
  [
    "3.0 and 1e3 are longs",
    bytes(
      ORDER.replace('"order_id":1', '"order_id":1e3').replace(
        '"customer_id":11599',
        '"customer_id":11599.0',
      ),
    ),
    "ok",
  ],
  [
    "a safe long is judged on its double: 1.0000000000000001 is 1 (README)",
    bytes(ORDER.replace('"order_id":1', '"order_id":1.0000000000000001')),
    "ok",
  ],
  [
    "1e-400 is read as 0 (README)",
    bytes(ORDER.replace('"order_id":1', '"order_id":1e-400')),
    "ok",
  ],
  [
    "a safe fraction",
    bytes(ORDER.replace('"order_id":1', '"order_id":2.5')),
    "wrong_type",
    "order_id",
  ],
  [
    "beyond 2^53, the exact digits: 9007199254740993.5",
    bytes(ORDER.replace('"order_id":1', '"order_id":9007199254740993.5')),
    "wrong_type",
    "order_id",
  ],
  [
    "1e-400 as a quantity is 0",
    bytes(withItem(ITEM.replace('"order_item_quantity":2', '"order_item_quantity":1e-400'))),
    "non_positive_quantity",
    "line_items[0].order_item_quantity",
  ],
  [
    "fraction and beyond int64: wrong_type",
    bytes(ORDER.replace('"order_id":1', '"order_id":123456789012345678901.5')),
    "wrong_type",
    "order_id",
  ],
  ["int64 max", bytes(ORDER.replace('"order_id":1', '"order_id":9223372036854775807')), "ok"],
  [
    "int64 max + 1",
    bytes(ORDER.replace('"order_id":1', '"order_id":9223372036854775808')),
    "out_of_range",
    "order_id",
  ],
  [
    "int64 min − 1 in exponent form",
    bytes(ORDER.replace('"order_id":1', '"order_id":-9.223372036854775809e18')),
    "out_of_range",
    "order_id",
  ],
  [
    "1e400 as a long",
    bytes(ORDER.replace('"pincode":28601', '"pincode":1e400')),
    "out_of_range",
    "pincode",
  ],
  ["1e400 as a double", bytes(sub("1e400")), "out_of_range", "line_items[0].order_item_subtotal"],
  [
    "-1e-400 is not a negative price",
    bytes(withItem(ITEM.replace("299.98", "-1e-400").replace("599.96", "0"))),
    "ok",
  ],
  [
    "-0.01 is",
    bytes(withItem(ITEM.replace("299.98", "-0.01"))),
    "negative_price",
    "line_items[0].order_item_product_price",
  ],
  [
    "quantity before price",
    bytes(
      withItem(
        ITEM.replace('"order_item_quantity":2', '"order_item_quantity":0').replace("299.98", "-1"),
      ),
    ),
    "non_positive_quantity",
    "line_items[0].order_item_quantity",
  ],
  ["subtotal off by exactly a cent", bytes(sub("599.97")), "ok"],
  [
    "subtotal off by two cents",
    bytes(sub("599.98")),
    "subtotal_mismatch",
    "line_items[0].order_item_subtotal",
  ],
  [
    "subtotal off by 0.011 (a fraction of a cent: money first)",
    bytes(sub("599.971")),
    "out_of_range",
    "line_items[0].order_item_subtotal",
  ],
  [
    "subtotal off by 0.0100005 (a fraction of a cent: money first)",
    bytes(sub("599.9700005")),
    "out_of_range",
  ],
  [
    "9,999,999,999.99 × 3 off by a cent",
    bytes(
      withItem(
        ITEM.replace("299.98", "9999999999.99").replace(
          '"order_item_quantity":2',
          '"order_item_quantity":3',
        ).replace("599.96", "29999999999.96"),
      ),
    ),
    "out_of_range",
    "line_items[0].order_item_subtotal",
  ],
  [
    "1e15 × 3 (money is below 10^10)",
    bytes(
      withItem(
        ITEM.replace("299.98", "1e15").replace('"order_item_quantity":2', '"order_item_quantity":3')
          .replace("599.96", "3000000000001000"),
      ),
    ),
    "out_of_range",
    "line_items[0].order_item_product_price",
  ],
  [
    "price × quantity = Infinity",
    bytes(
      withItem(
        ITEM.replace("299.98", "1e300").replace(
          '"order_item_quantity":2',
          '"order_item_quantity":10000000000',
        ).replace("599.96", "5.0"),
      ),
    ),
    "out_of_range",
  ],
  [
    "subtotal − price × quantity = −Infinity",
    bytes(
      withItem(
        ITEM.replace("299.98", "1.7976931348623157e308").replace(
          '"order_item_quantity":2',
          '"order_item_quantity":1',
        ).replace("599.96", "-1.7976931348623157e308"),
      ),
    ),
    "out_of_range",
  ],
  [
    "huge, finite, consistent (beyond decimal(12,2))",
    bytes(
      withItem(
        ITEM.replace("299.98", "1e308").replace(
          '"order_item_quantity":2',
          '"order_item_quantity":1',
        ).replace("599.96", "1e308"),
      ),
    ),
    "out_of_range",
  ],
  [
    "the largest amount, consistent",
    bytes(
      withItem(
        ITEM.replace("299.98", "9999999999.99").replace(
          '"order_item_quantity":2',
          '"order_item_quantity":1',
        ).replace("599.96", "9999999999.99"),
      ),
    ),
    "ok",
  ],
  [
    "100,000-level nesting in an extra field",
    bytes(
      ORDER.replace(
        '"order_id":1',
        `"x":${"[".repeat(100_000)}${"]".repeat(100_000)},"order_id":9007199254740993`,
      ),
    ),
    "ok",
  ],
  ["empty line_items", bytes(ORDER.replace(`[{${ITEM}}]`, "[]")), "no_line_items", "line_items"],
  [
    "a null line item",
    bytes(ORDER.replace(`[{${ITEM}}]`, `[{${ITEM}},null]`)),
    "null_field",
    "line_items[1]",
  ],
  [
    "a line item that is an array",
    bytes(ORDER.replace(`[{${ITEM}}]`, "[[1]]")),
    "wrong_type",
    "line_items[0]",
  ],
];

function padded(size: number): string {
  const head = ORDER.slice(0, -1) + ',"pad":"';
  return head + "x".repeat(size - head.length - 2) + '"}';
}

Deno.test("fuzz oracle: each documented rule and each open case decided as written", async (t) => {
  for (const [what, value, expected, field] of CASES) {
    await t.step(what, () => {
      const v = judge(value);
      const want = Array.isArray(expected) ? expected : [expected];
      assert.deepEqual([...v.accept].sort(), [...want].sort(), `${v.outcome} [${v.rule}]`);
      if (field !== undefined) assert.equal(v.field, field);
      if (v.accept.includes("ok")) assert.ok(v.order, "a valid order carries its values");
    });
  }
});

Deno.test("fuzz oracle: the hand-written malformed corpus", () => {
  for (const c of malformedOrders()) {
    const v = judge(c.bytes);
    assert.ok(v.accept.includes(c.expected as Outcome), `${c.name}: ${v.outcome} [${v.rule}]`);
    if (c.field) assert.equal(v.field, c.field, c.name);
  }
});

Deno.test("fuzz oracle: exact values of a valid order (longs beyond 2^53, names, doubles)", () => {
  const v = judge(bytes(
    ORDER.replace('"order_id":1', '"order_id":9223372036854775807')
      .replace("Mary", "Jos\\u00e9 \\ud83d\\ude00").replace('"pincode":28601', '"pincode":null'),
  ));
  assert.equal(v.outcome, "ok");
  assert.equal(v.order!.orderId, 9223372036854775807n);
  assert.equal(v.order!.fname, "José 😀");
  assert.equal(v.order!.pincode, null);
  assert.deepEqual(v.order!.items[0], {
    id: 1n,
    productId: 957n,
    quantity: 2n,
    price: 299.98,
    subtotal: 599.96,
  });
});

Deno.test("fuzz oracle's reader: UTF-8 positions and JSON depth", () => {
  assert.equal(firstInvalidUtf8(bytes("ab", [0xc3, 0xa9], "c")), -1);
  assert.equal(firstInvalidUtf8(bytes("ab", [0xc3], "c")), 2);
  assert.equal(firstInvalidUtf8(bytes("ab", [0xf0, 0x9f, 0x98])), 2);
  const deep = parseJsonBytes(bytes("[".repeat(50_000) + "]".repeat(50_000)));
  assert.ok(deep.ok && deep.depth === 50_000);
  const bad = parseJsonBytes(bytes('{"a":1,}'));
  assert.ok(!bad.ok);
});
