import assert from "node:assert/strict";
import * as arrow from "apache-arrow";
import {
  append,
  ConstraintViolationError,
  constraintViolations,
  createTable,
  loadSnapshot,
  overwrite,
  read,
  schemaToString,
  type StructType,
  tableConstraints,
  toDeltaSchema,
  UnsupportedConstraintError,
  UnsupportedFeatureError,
} from "../../lib/delta/mod.ts";
import { openStorage } from "../../lib/storage/mod.ts";
import { withLocalDir, withTempDir } from "./_core_fixtures.ts";
import { DEFAULT_MONEY, moneyData } from "../../lib/orders/money.ts";

/** A small table: q (long), price (double), city (string), ok (boolean), day (date). */
function rows(
  q: (bigint | null)[],
  extra: Partial<{ price: (number | null)[]; city: (string | null)[] }> = {},
): arrow.Table {
  const n = q.length;
  return new arrow.Table({
    q: arrow.vectorFromArray(q, new arrow.Int64()),
    price: arrow.vectorFromArray(extra.price ?? new Array(n).fill(1.5), new arrow.Float64()),
    city: arrow.vectorFromArray(extra.city ?? new Array(n).fill("Chicago"), new arrow.Utf8()),
  });
}

/** Rows (indexes) of `data` that violate the one constraint `expr`. */
function failing(expr: string, data: arrow.Table): number[] {
  const c = tableConstraints(
    { "delta.constraints.c": expr },
    toDeltaSchema(data.schema),
    "t",
  );
  return constraintViolations(c, data).map((v) => v.row);
}

function refusal(expr: string, schema = toDeltaSchema(rows([]).schema)): string {
  try {
    tableConstraints({ "delta.constraints.bad_one": expr }, schema, "/lake/t");
  } catch (e) {
    assert.ok(e instanceof UnsupportedConstraintError, String(e));
    assert.ok(e instanceof UnsupportedFeatureError, "a kind of UnsupportedFeatureError");
    assert.equal(e.constraint, "bad_one");
    assert.equal(e.message.includes("\n"), false, "one line");
    assert.ok(e.message.includes(`CHECK constraint bad_one (${expr.replace(/\s+/g, " ")})`));
    return e.message;
  }
  assert.fail(`'${expr}' was accepted`);
}

Deno.test("constraints: comparisons, arithmetic and precedence", () => {
  const d = rows([1n, 2n, 5n, 100n], { price: [2, 3.25, 0, 1] });
  assert.deepEqual(failing("q > 0 AND q < 100", d), [3]);
  assert.deepEqual(failing("q + 1 * 2 = 3", d), [1, 2, 3]); // * before +: q = 1
  assert.deepEqual(failing("(q + 1) * 2 = 4", d), [1, 2, 3]); // q = 1
  assert.deepEqual(failing("-q * 2 < -3", d), [0]); // unary minus binds tightest
  assert.deepEqual(failing("q % 2 == 1", d), [1, 3]);
  assert.deepEqual(failing("q / 2 <= 1", d), [2, 3]); // / is a double division: 5 / 2 = 2.5
  assert.deepEqual(failing("price * q >= 2", d), [2]); // 2, 6.5, 0, 100
  assert.deepEqual(failing("q <> 2 AND q != 5", d), [1, 2]);
  // NOT binds looser than a comparison, AND tighter than OR.
  assert.deepEqual(failing("NOT q = 1", d), [0]);
  assert.deepEqual(failing("q = 1 OR q = 2 AND price = 0", d), [1, 2, 3]);
  assert.deepEqual(failing("(q = 1 OR q = 2) AND price = 0", d), [0, 1, 2, 3]);
  assert.deepEqual(failing("! (q >= 5)", d), [2, 3]);
  assert.deepEqual(failing("q BETWEEN 2 AND 5", d), [0, 3]);
  assert.deepEqual(failing("q NOT BETWEEN 2 AND 5", d), [1, 2]);
  assert.deepEqual(failing("q IN (1, 5, 7)", d), [1, 3]);
  assert.deepEqual(failing("q NOT IN (1, 5)", d), [0, 2]);
  assert.deepEqual(failing("price > 0.5 AND price < 3.5e0", d), [2]);
  assert.deepEqual(failing("q < 9223372036854775807L", d), []);
  assert.deepEqual(failing("q * 100000000000000000 < 5000000000000000001", d), [3]); // exact longs
});

Deno.test("constraints: three-valued logic; a NULL result is a violation, as in Delta", () => {
  const d = rows([1n, null, 3n]);
  assert.deepEqual(failing("q > 0", d), [1]); // NULL > 0 is NULL: Spark's Delta refuses it
  assert.deepEqual(failing("q > 0 OR q IS NULL", d), []);
  assert.deepEqual(failing("q IS NOT NULL", d), [1]);
  assert.deepEqual(failing("q IS NULL OR q > 2", d), [0]);
  assert.deepEqual(failing("NOT (q > 2)", d), [1, 2]); // NOT NULL is NULL
  assert.deepEqual(failing("q > 5 AND q IS NULL", d), [0, 1, 2]); // NULL AND FALSE is FALSE
  assert.deepEqual(failing("q > 0 OR TRUE", d), []); // NULL OR TRUE is TRUE
  assert.deepEqual(failing("q > 0 AND TRUE", d), [1]); // NULL AND TRUE is NULL
  // IN with NULL: a match is TRUE; otherwise NULL in the list makes it NULL, never FALSE.
  assert.deepEqual(failing("q IN (1, NULL)", d), [1, 2]);
  assert.deepEqual(failing("q NOT IN (1, NULL)", d), [0, 1, 2]);
  assert.deepEqual(failing("q NOT IN (5)", d), [1]);
  // <=> is null-safe: never NULL.
  assert.deepEqual(failing("q <=> NULL", d), [0, 2]);
  assert.deepEqual(failing("NOT (q <=> 1)", d), [0]);
  // Division by zero is NULL.
  assert.deepEqual(failing("q / 0 > 0 OR q = 3", d), [0, 1]);
  assert.deepEqual(failing("NULL", d), [0, 1, 2]);
});

Deno.test("constraints: strings, names, nested fields, dates and timestamps", () => {
  const d = rows([1n, 2n, 3n], { city: ["Chicago", "O'Hare", null] });
  assert.deepEqual(failing("city <> 'O''Hare'", d), [1, 2]);
  assert.deepEqual(failing('city = "Chicago" OR city IS NULL', d), [1]);
  assert.deepEqual(failing("city >= 'D'", d), [0, 2]);
  assert.deepEqual(failing("`Q` > 1 AND CITY IS NOT NULL", d), [0, 2]); // case-insensitive
  const day = arrow.vectorFromArray(
    [new Date(Date.UTC(2024, 0, 31)), new Date(Date.UTC(2024, 1, 1)), null],
    new arrow.DateDay(),
  );
  const ts = arrow.vectorFromArray(
    [new Date(Date.UTC(2024, 0, 1, 10)), new Date(Date.UTC(2024, 0, 1, 12, 0, 0, 1)), null],
    new arrow.TimestampMicrosecond("UTC"),
  );
  const zip = arrow.vectorFromArray(
    [{ zip: 60601n }, { zip: null }, null],
    new arrow.Struct([new arrow.Field("zip", new arrow.Int64(), true)]),
  );
  const t = new arrow.Table({ day, ts, addr: zip });
  assert.deepEqual(failing("day < DATE '2024-02-01'", t), [1, 2]);
  assert.deepEqual(failing("day >= '2024-02-01' OR day IS NULL", t), [0]); // string read as a date
  assert.deepEqual(failing("ts <= TIMESTAMP '2024-01-01 12:00:00'", t), [1, 2]);
  assert.deepEqual(failing("ts <= TIMESTAMP '2024-01-01T13:00:00.000+01:00'", t), [1, 2]);
  assert.deepEqual(failing("ts < '2024-01-01 12:00:00.001001'", t), [2]);
  assert.deepEqual(failing("addr.zip > 60000", t), [1, 2]); // null struct: null field
  assert.deepEqual(failing("addr.zip IS NULL OR addr.zip = 60601", t), []);
});

Deno.test("constraints: outside the subset, refused with one line naming the constraint", () => {
  assert.match(refusal("length(city) < 10"), /function call length\(…\)/);
  assert.match(refusal("city LIKE 'C%'"), /LIKE is not supported/);
  assert.match(refusal("CASE WHEN q > 0 THEN TRUE END"), /CASE is not supported/);
  assert.match(refusal("q IN (SELECT 1)"), /SELECT is not supported/);
  assert.match(refusal("nope > 1"), /no column 'nope'/);
  assert.match(refusal("city > 1"), /compares a string with a number/);
  assert.match(refusal("q + 1"), /not a boolean condition/);
  assert.match(refusal("q > 0 AND"), /unexpected the end of the expression/);
  assert.match(refusal("q >\n 0 ~ 1"), /the character '~'/);
  assert.match(refusal("q > 0 AND city = 'x"), /unterminated string/);
  const message = refusal("length(city) < 10");
  assert.match(
    message,
    /^cannot write Delta table '\/lake\/t': CHECK constraint bad_one \(length\(city\) < 10\) is outside the SQL subset this writer enforces \(.*\); write this table with Spark, or drop the constraint \(ALTER TABLE … DROP CONSTRAINT bad_one\)$/,
  );
});

Deno.test("constraints: appends refuse a violating row whole, naming the constraint", () =>
  withTempDir(async (dir) => {
    const good = rows([1n, 2n]);
    const t = await createTable(dir, good.schema, {
      configuration: { "delta.constraints.qty_positive": "q > 0 AND q < 100" },
    });
    const snap0 = await t.snapshot();
    assert.deepEqual(snap0.protocol, { minReaderVersion: 1, minWriterVersion: 3 });
    assert.equal((await append(dir, good)).version, 1);
    const err = await append(dir, rows([5n, 150n, 7n])).then(() => undefined, (e) => e);
    assert.ok(err instanceof ConstraintViolationError, String(err));
    assert.equal(err.constraint, "qty_positive");
    assert.equal(err.row, 1);
    assert.equal(
      err.message,
      "CHECK constraint qty_positive (q > 0 AND q < 100) violated by row with values: q : 150 " +
        "(row 1 of the data); fix or drop that row, then write again",
    );
    // Nothing of the refused write was committed; overwrite is checked the same way.
    assert.equal((await loadSnapshot(openStorage(dir))).version, 1);
    await assert.rejects(overwrite(dir, rows([0n])), ConstraintViolationError);
    assert.deepEqual([...(await read(dir)).getChild("q")!.toArray()], [1n, 2n]);
    // A table made with a constraint outside the subset is refused at create.
    await assert.rejects(
      createTable(`${dir}/other`, good.schema, {
        configuration: { "delta.constraints.short_city": "length(city) < 30" },
      }),
      /CHECK constraint short_city \(length\(city\) < 30\) is outside the SQL subset/,
    );
  }));

Deno.test("constraints: legacy column invariants (delta.invariants) are enforced too", () =>
  withLocalDir(async (dir) => {
    const data = rows([3n, 1n]);
    const t = await createTable(dir, data.schema);
    // Give q an invariant the way old Delta versions wrote it (a metaData with new schema).
    const snap = await t.snapshot();
    const schema: StructType = structuredClone(snap.schema);
    schema.fields[0].metadata = {
      "delta.invariants": JSON.stringify({ expression: { expression: "q > 2" } }),
    };
    const commit = [
      { commitInfo: { timestamp: Date.now(), operation: "SET TBLPROPERTIES" } },
      { metaData: { ...snap.metadata, schemaString: schemaToString(schema) } },
    ].map((a) => JSON.stringify(a)).join("\n");
    await Deno.writeTextFile(`${dir}/_delta_log/00000000000000000001.json`, commit + "\n");
    assert.equal((await append(dir, rows([4n]))).version, 2);
    const err = await append(dir, data).then(() => undefined, (e) => e);
    assert.ok(err instanceof ConstraintViolationError, String(err));
    assert.match(
      err.message,
      /^Invariant \(q > 2\) violated for column q by row with values: q : 1/,
    );
  }));

Deno.test("constraints: decimals are exact, as in Spark (subtotal = price * quantity holds for 0.10 × 3)", () => {
  // orders_cleaned's money: decimal(12,2) columns built by the cleaned sink's own code.
  const price = [10, 10, 29998, 1];
  const subtotal = [30, 31, 89994, 1];
  const qty = [3n, 3n, 3n, 1n];
  const money = (cents: number[]) =>
    arrow.makeVector(moneyData(Float64Array.from(cents), cents.length, DEFAULT_MONEY));
  const data = new arrow.Table({
    quantity: arrow.vectorFromArray(qty, new arrow.Int64()),
    price: money(price),
    subtotal: money(subtotal),
    ratio: arrow.vectorFromArray([0.1, 0.3, 0.30000000000000004, 1], new arrow.Float64()),
  });
  // In doubles 0.1 * 3 = 0.30000000000000004 ≠ 0.3; exactly, row 0 holds and row 1 does not.
  assert.deepEqual(failing("subtotal = price * quantity", data), [1]);
  assert.deepEqual(failing("subtotal - price * quantity = 0.00", data), [1]);
  assert.deepEqual(failing("price + 0.2 = 0.30", data), [2, 3]);
  assert.deepEqual(failing("subtotal BETWEEN price * quantity - 0.01 AND price * quantity", data), [
    1,
  ]);
  assert.deepEqual(failing("subtotal % price = 0", data), [1]);
  assert.deepEqual(failing("-price < 0", data), []);
  assert.deepEqual(failing("price IN (0.1, 299.98)", data), [3]);
  // With a double column or literal, the decimal becomes a double (Spark's decimal-with-double).
  // 0.10 × 3 as a double is 0.3, so row 1 holds against the double 0.3 (and row 2's
  // 0.30000000000000004 is a double too, but 899.94 is far from it).
  assert.deepEqual(failing("price * quantity = ratio", data), [0, 2, 3]);
  assert.deepEqual(failing("price * quantity = ratio * 1.00", data), [0, 2, 3]);
  assert.deepEqual(failing("price / 1 = 0.1e0", data), [2, 3]);
  // Spark prints a decimal with its scale in the violation message.
  const c = tableConstraints(
    { "delta.constraints.exact": "subtotal = price * quantity" },
    toDeltaSchema(data.schema),
    "t",
  );
  assert.equal(
    constraintViolations(c, data)[0].message,
    "CHECK constraint exact (subtotal = price * quantity) violated by row with values: " +
      "subtotal : 0.31, price : 0.10, quantity : 3",
  );
});
