/**
 * Fuzz, differential, no broker (issue 20): 100,000 generated records through `parseOrder`
 * (lib/orders/validate.ts) and through the independent oracle (./oracle.ts); they must agree on
 * valid or invalid, on the reason code, on the field path and, for valid orders, on every parsed
 * value. Disagreements are grouped into categories, each reported with its smallest record.
 *
 * The two holes issue 20 names have their own steps (and exact records below), so a regression
 * says which one it is. `FUZZ_SEED` picks another seed; `deno task fuzz` runs longer.
 *
 * @module
 */
import assert from "node:assert/strict";
import { parseOrder } from "../../lib/orders/validate.ts";
import {
  compare,
  describeLib,
  describeVerdict,
  type DiffSummary,
  report,
  runDifferential,
} from "./differential.ts";
import { fuzzRecord, fuzzRecords, HEAVY_KINDS, KINDS } from "./generate.ts";
import { judge, ORACLE_REASONS } from "./oracle.ts";

const SEED = Number(Deno.env.get("FUZZ_SEED") ?? 20);
const COUNT = 100_000;
const enc = new TextEncoder();

function holes(s: DiffSummary, hole: string | undefined) {
  return [...s.categories.values()].filter((c) => c.hole === hole);
}

Deno.test(`fuzz differential: ${COUNT.toLocaleString("en-US")} generated records, parseOrder agrees with the oracle`, async (t) => {
  const s = runDifferential({ seed: SEED, count: COUNT });
  const lines = report(s);
  console.log(lines.slice(0, 4).join("\n"));
  const text = lines.join("\n");

  await t.step(
    "coverage: every kind generated, every reason code expected, both holes exercised",
    () => {
      assert.equal(s.count, COUNT);
      assert.deepEqual(KINDS.filter((k) => !s.kinds.has(k)), [], "kinds never generated");
      assert.deepEqual(
        ["ok", ...ORACLE_REASONS].filter((r) => !s.outcomes.has(r as never)),
        [],
        "outcomes never expected",
      );
      // Money below 10^10 keeps price × quantity finite, so the money rules now come first.
      const money = [...s.rules].filter(([r]) => r.includes("money:"));
      assert.ok(money.reduce((n, [, c]) => n + c, 0) >= 100, `money rules exercised: ${money}`);
      assert.ok(s.deep >= 50, `records nested 10,000+ levels: ${s.deep}`);
      assert.ok(s.maxDepth >= 100_000, "100,000-level nesting exercised");
      assert.equal(s.open, 0, "the README leaves no outcome open");
    },
  );

  await t.step(
    "issue 20, hole 1: a non-finite price × quantity (or difference) is out_of_range",
    () => {
      const found = holes(s, "non_finite");
      assert.equal(found.length, 0, text);
    },
  );

  await t.step("issue 20, hole 2: deep nesting never changes the outcome, whatever the id", () => {
    const found = holes(s, "deep_nesting");
    assert.equal(found.length, 0, text);
  });

  await t.step("every other record: same outcome, reason, field and parsed values", () => {
    const found = holes(s, undefined);
    assert.equal(found.length, 0, `${found.length} categories of disagreement:\n${text}`);
  });
});

Deno.test("fuzz differential: the heavy kinds parsed in full (limit 8 MiB: 20,000 line items, 2 MB strings)", () => {
  const s = runDifferential({ seed: SEED, count: 80, kinds: HEAVY_KINDS, maxBytes: 8 << 20 });
  const text = report(s).join("\n");
  assert.deepEqual(HEAVY_KINDS.filter((k) => !s.kinds.has(k)), [], "every heavy kind");
  assert.ok(!s.outcomes.has("too_large"), "nothing is too large at 8 MiB");
  assert.equal(s.categories.size, 0, text);
});

/** A one-line order with one line item (fields given as raw JSON text). */
function order(item: Record<string, string>, top: Record<string, string> = {}): Uint8Array {
  const it = {
    order_item_id: "1",
    order_item_product_id: "957",
    order_item_quantity: "1",
    order_item_product_price: "299.98",
    order_item_subtotal: "299.98",
    ...item,
  };
  const o = { order_id: "1", customer_id: "11599", line_items: "", ...top };
  const fields = Object.entries(o).filter(([k]) => k !== "line_items" && k !== "extra").map((
    [k, v],
  ) => `"${k}":${v}`);
  const items = Object.entries(it).map(([k, v]) => `"${k}":${v}`).join(",");
  return enc.encode(`{${fields.join(",")},"line_items":[{${items}}]${top.extra ?? ""}}`);
}

const EXACT: [string, Uint8Array, string][] = [
  [
    "issue 20, hole 1: quantity 10^10 × price 1e300, subtotal 5.0",
    order({
      order_item_quantity: "10000000000",
      order_item_product_price: "1e300",
      order_item_subtotal: "5.0",
    }),
    "out_of_range",
  ],
  [
    "subtotal − price × quantity overflows (−max − max)",
    order({
      order_item_product_price: "1.7976931348623157e308",
      order_item_subtotal: "-1.7976931348623157e308",
    }),
    "out_of_range",
  ],
  [
    "issue 20, hole 2: 10,000-level nesting and an order_id past 2^53",
    order({}, {
      order_id: "9007199254740993",
      extra: `,"x":${"[".repeat(10_000)}${"]".repeat(10_000)}`,
    }),
    "ok",
  ],
  [
    "issue 20, hole 2: 100,000-level nesting and an order_id past 2^53",
    order({}, {
      order_id: "9223372036854775807",
      extra: `,"x":${'{"a":'.repeat(100_000)}1${"}".repeat(100_000)}`,
    }),
    "ok",
  ],
  [
    "100,000-level nesting, one bracket missing, order_id past 2^53",
    order({}, {
      order_id: "9007199254740993",
      extra: `,"x":${"[".repeat(100_000)}${"]".repeat(99_999)}`,
    }),
    "not_json",
  ],
  [
    "a safe long judged on its double: quantity 3.0000000000000001 is 3 (README)",
    order({ order_item_quantity: "3.0000000000000001", order_item_subtotal: "899.94" }),
    "ok",
  ],
  ["customer_id 1e-400 is read as 0 (README)", order({}, { customer_id: "1e-400" }), "ok"],
  [
    "beyond 2^53 the exact digits decide: 9007199254740993.5",
    order({ order_item_id: "9007199254740993.5" }),
    "wrong_type",
  ],
  [
    "order_id twice, the last past 2^53 (the exact re-read finds the last)",
    order({}, { order_id: '"x","order_id":9007199254740993' }),
    "ok",
  ],
];

Deno.test("fuzz differential: the exact records (the holes of issue 20, and the README's rules for longs)", async (t) => {
  for (const [name, value, expected] of EXACT) {
    await t.step(name, () => {
      const v = judge(value);
      assert.equal(v.outcome, expected, `the oracle: ${describeVerdict(v)}`);
      const r = parseOrder(value);
      assert.equal(
        compare(v, r),
        undefined,
        `parseOrder: ${describeLib(r)}, oracle: ${describeVerdict(v)}`,
      );
    });
  }
});

Deno.test("fuzz generator: deterministic per (seed, index), kinds honoured", () => {
  const a = [...fuzzRecords(7, 300)];
  const b = [...fuzzRecords(7, 300)];
  const c = [...fuzzRecords(8, 300)];
  const same = (x: Uint8Array | null, y: Uint8Array | null) =>
    x === y || (x !== null && y !== null && x.length === y.length && x.every((v, i) => v === y[i]));
  assert.ok(
    a.every((r, i) => r.kind === b[i].kind && same(r.value, b[i].value) && same(r.key, b[i].key)),
  );
  assert.ok(
    a.filter((r, i) => !same(r.value, c[i].value)).length > 250,
    "another seed, other records",
  );
  // A record does not depend on the ones before it.
  const alone = fuzzRecord(7, 123);
  assert.ok(same(alone.value, a[123].value) && alone.detail === a[123].detail);
  const only = [...fuzzRecords(7, 50, { kinds: ["truncate", "bom"] })];
  assert.ok(only.every((r) => r.kind === "truncate" || r.kind === "bom"));
});
