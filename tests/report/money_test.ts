/**
 * The report's money is exact whichever type the cleaned table stores it in: the same orders of
 * data/ in a `decimal(12,2)` orders_cleaned (new tables) and in a `double` one (tables made
 * before money was exact), both real Delta tables read back, give identical figures, and the
 * revenue equals an independent sum of BigInt cents read from the digits of the JSON texts.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { createTable, read } from "../../lib/delta/mod.ts";
import { flattenOrders, type OrderRecord, parseOrder } from "../../lib/orders/mod.ts";
import { DEFAULT_CLEANED_MONEY } from "../../lib/orders/flatten.ts";
import { DOUBLE_MONEY } from "../../lib/orders/money.ts";
import { FIGURE_COLUMNS, lineRows, orderFigures } from "../../lib/report/figures.ts";
import { REPO_ROOT } from "../support/python.ts";

/** Decimal text (at most two decimals) as BigInt cents, from its digits alone. */
function textCents(text: string): bigint {
  const m = /^(-?)(\d+)(?:\.(\d{1,2}))?$/.exec(text);
  assert.ok(m, `not an amount in cents: ${text}`);
  const cents = BigInt(m[2]) * 100n + BigInt((m[3] ?? "").padEnd(2, "0"));
  return m[1] ? -cents : cents;
}

Deno.test("report: decimal(12,2) and double orders_cleaned give identical revenue, equal to an independent BigInt-cents sum", async () => {
  const records: OrderRecord[] = [];
  let exact = 0n;
  let naive = 0;
  const byState = new Map<string, bigint>();
  for (let f = 1; f <= 6; f++) {
    const text = await Deno.readTextFile(join(REPO_ROOT, "data", `file${f}.json`));
    for (const [n, line] of text.split("\n").entries()) {
      if (line.trim() === "") continue;
      const r = parseOrder(line);
      assert.ok(r.ok, `data/file${f}.json line ${n + 1} is a valid order`);
      records.push({ order: r.order, partition: f, offset: String(n), timestampMs: 1.7e12 + n });
      const state = String(JSON.parse(line).state);
      for (const [, amount] of line.matchAll(/"order_item_subtotal":([-0-9.eE+]+)/g)) {
        const c = textCents(amount);
        exact += c;
        byState.set(state, (byState.get(state) ?? 0n) + c);
        naive += JSON.parse(amount);
      }
    }
  }
  assert.equal(records.length, 6000);
  assert.notEqual(naive, Number(exact) / 100, "a double sum of the same amounts drifts");

  const dir = await Deno.makeTempDir({ prefix: "report-money-" });
  try {
    const figures = [];
    for (
      const [name, money] of [["decimal", DEFAULT_CLEANED_MONEY], ["double", {
        price: DOUBLE_MONEY,
        subtotal: DOUBLE_MONEY,
      }]] as const
    ) {
      const rows = flattenOrders(records, 1_764_000_000_000, money);
      const path = join(dir, name);
      await (await createTable(path, rows.schema)).append(rows);
      const table = await read(path, { columns: [...FIGURE_COLUMNS] });
      assert.equal(
        String(table.getChild("subtotal")!.type),
        name === "decimal" ? "Decimal[12e+2]" : "Float64",
      );
      figures.push(orderFigures(lineRows(table)));
    }
    const [dec, dbl] = figures;
    assert.equal(dec.rows, dbl.rows);
    assert.equal(dec.revenue, dbl.revenue);
    assert.deepEqual(dec.byState, dbl.byState);
    assert.deepEqual(dec.byCity, dbl.byCity);
    assert.deepEqual(dec.topProducts, dbl.topProducts);
    assert.deepEqual(dec.chicago, dbl.chicago);
    // The revenue's digits are the exact sum (String of a number is its shortest exact text).
    assert.equal(textCents(String(dec.revenue)), exact);
    assert.deepEqual(
      new Map(dec.byState.map((g) => [g.key, textCents(String(g.revenue))])),
      byState,
    );
    console.log(
      `report money_test: revenue ${dec.revenue} = ${exact} cents; a double sum gives ${naive}`,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
