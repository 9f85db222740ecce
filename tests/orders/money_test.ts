import assert from "node:assert/strict";
import { Decimal, Float64, makeData, makeVector } from "apache-arrow";
import {
  centsOf,
  centsText,
  DEFAULT_MONEY,
  DOUBLE_MONEY,
  holdsAllMoney,
  moneyData,
  moneyMisfit,
  type MoneyType,
  moneyType,
  OrderDecoder,
} from "../../lib/orders/mod.ts";

const dec = (precision: number, scale: number): MoneyType => ({
  kind: "decimal",
  precision,
  scale,
});

/** A Decimal128 value's unscaled integer, read from its four little-endian words. */
function unscaledAt(words: Uint32Array, i: number): bigint {
  let u = 0n;
  for (let k = 3; k >= 0; k--) u = (u << 32n) | BigInt(words[4 * i + k]);
  return BigInt.asIntN(128, u);
}

Deno.test("moneyType: double and decimal(p,s) are money; anything else is a one-line refusal", () => {
  assert.deepEqual(moneyType("double", "price"), DOUBLE_MONEY);
  assert.deepEqual(moneyType("decimal(12,2)", "price"), DEFAULT_MONEY);
  assert.deepEqual(moneyType("decimal(18,4)", "subtotal"), dec(18, 4));
  assert.throws(
    () => moneyType("float", "price"),
    /orders_cleaned column 'price' is 'float': money is written as double or decimal\(p,s\)/,
  );
  assert.throws(() => moneyType("string", "subtotal"), /column 'subtotal' is 'string'/);
  assert.throws(() => moneyType(undefined, "price"), /column 'price' is missing/);
});

Deno.test("moneyMisfit: what a decimal cannot hold exactly, never rounded", () => {
  assert.ok(holdsAllMoney(DEFAULT_MONEY) && holdsAllMoney(DOUBLE_MONEY));
  assert.ok(holdsAllMoney(dec(18, 4)) && !holdsAllMoney(dec(10, 2)) && !holdsAllMoney(dec(13, 1)));
  assert.equal(moneyMisfit(999_999_999_999, DEFAULT_MONEY), undefined);
  // decimal(10,2) holds up to 99,999,999.99.
  assert.equal(moneyMisfit(9_999_999_999, dec(10, 2)), undefined);
  assert.equal(
    moneyMisfit(10_000_000_000, dec(10, 2)),
    "100000000.00 does not fit the table's decimal(10,2)",
  );
  assert.equal(moneyMisfit(-10_000_000_000, dec(10, 2))?.startsWith("-100000000.00"), true);
  // decimal(13,1) has dimes only: a cent does not fit, a whole dime does.
  assert.equal(moneyMisfit(29990, dec(13, 1)), undefined);
  assert.equal(moneyMisfit(29998, dec(13, 1)), "299.98 does not fit the table's decimal(13,1)");
  assert.equal(centsText(-5), "-0.05");
  assert.equal(centsText(29998), "299.98");
  assert.equal(centsText(100), "1.00");
});

Deno.test("moneyData and centsOf: exact round trips in double and decimal of any scale", () => {
  const cents = new Float64Array([29998, -5, 0, 999_999_999_999, -999_999_999_999, 1]);
  const n = cents.length;
  // decimal(12,2): unscaled = cents.
  const d12 = moneyData(cents, n, DEFAULT_MONEY);
  assert.equal(String(d12.type), "Decimal[12e+2]");
  const words = d12.values as Uint32Array;
  assert.deepEqual(
    Array.from({ length: n }, (_, i) => unscaledAt(words, i)),
    [29998n, -5n, 0n, 999999999999n, -999999999999n, 1n],
  );
  assert.deepEqual(Array.from(centsOf(makeVector(d12))), Array.from(cents));
  // decimal(18,4): unscaled = cents × 100.
  const d18 = moneyData(cents, n, dec(18, 4));
  assert.equal(unscaledAt(d18.values as Uint32Array, 0), 2999800n);
  assert.equal(unscaledAt(d18.values as Uint32Array, 4), -99999999999900n);
  assert.deepEqual(Array.from(centsOf(makeVector(d18))), Array.from(cents));
  // decimal(13,1): unscaled = cents / 10 (the values fit: multiples of ten cents).
  const dimes = new Float64Array([29990, -10]);
  const d13 = moneyData(dimes, 2, dec(13, 1));
  assert.equal(unscaledAt(d13.values as Uint32Array, 0), 2999n);
  assert.deepEqual(Array.from(centsOf(makeVector(d13))), [29990, -10]);
  // double: the very double JSON.parse reads from the text.
  const dbl = moneyData(cents, n, DOUBLE_MONEY);
  assert.ok(dbl.type instanceof Float64);
  assert.ok(Object.is((dbl.values as Float64Array)[0], JSON.parse("299.98")));
  assert.ok(Object.is((dbl.values as Float64Array)[1], JSON.parse("-0.05")));
  assert.deepEqual(Array.from(centsOf(makeVector(dbl))), Array.from(cents));
});

Deno.test("centsOf: slices, nulls and a foreign decimal with more than two decimals", () => {
  const cents = new Float64Array([100, 200, 300, 400]);
  const v = makeVector(moneyData(cents, 4, DEFAULT_MONEY)).slice(1, 3);
  assert.deepEqual(Array.from(centsOf(v)), [200, 300]);
  // decimal(10,4) written by someone else: 1.23456 is 1.2346 at scale 4 → 123 cents (half up).
  const words = new Uint32Array([12346, 0, 0, 0, 0xffffcfc7, 0xffffffff, 0xffffffff, 0xffffffff]);
  const foreign = makeData({
    type: new Decimal(4, 10, 128),
    length: 2,
    data: words,
    nullCount: 0,
  });
  // −12345 at scale 4 is −1.2345 → −123 cents.
  assert.deepEqual(Array.from(centsOf(makeVector(foreign))), [123, -123]);
  const withNull = makeVector(
    makeData({
      type: new Float64(),
      length: 2,
      data: new Float64Array([1.5, 9]),
      nullBitmap: new Uint8Array([0b01]),
      nullCount: 1,
    }),
  );
  assert.deepEqual(Array.from(centsOf(withNull)), [150, 0]);
});

Deno.test("OrderDecoder with a narrow money type: a misfit is out_of_range on both paths, no rows", () => {
  const order = (price: string, subtotal: string, extra = "") =>
    new TextEncoder().encode(
      `{"order_id":1,"customer_id":2,${extra}"line_items":[{"order_item_id":1,` +
        `"order_item_product_id":3,"order_item_quantity":1,"order_item_product_price":${price},` +
        `"order_item_subtotal":${subtotal}}]}`,
    );
  const money = { price: dec(10, 2), subtotal: dec(10, 2) };
  const d = new OrderDecoder(0, { money });
  assert.equal(d.decode(order("99999999.99", "99999999.99"), 0, "0", 0), undefined);
  const scannedMisfit = d.decode(order("123456789.00", "123456789.00"), 0, "1", 0);
  assert.deepEqual(scannedMisfit, {
    ok: false,
    reason: "out_of_range",
    field: "line_items[0].order_item_product_price",
    message:
      "line_items[0].order_item_product_price: 123456789.00 does not fit the table's decimal(10,2)",
  });
  // An unknown key sends the record down the fallback path: the same verdict.
  const fallback = d.decode(order("123456789.00", "123456789.00", '"note":"x",'), 0, "2", 0);
  assert.deepEqual(fallback, scannedMisfit);
  assert.deepEqual(d.verdict(order("123456789.00", "123456789.00")), scannedMisfit);
  assert.equal(d.verdict(order("1.00", "1.00")).ok, true);
  // More than two decimals is out_of_range for every table (validate.ts), not a misfit.
  assert.match(
    d.decode(order("1.005", "1.005"), 0, "3", 0)?.message ?? "",
    /1\.005 has more than two decimals/,
  );
  const batch = d.take();
  assert.equal(batch.numRows, 1);
  assert.equal(String(batch.schema.fields[10].type), "Decimal[10e+2]");
  assert.deepEqual(Array.from(centsOf(batch.getChild("price")!)), [9_999_999_999]);
});
