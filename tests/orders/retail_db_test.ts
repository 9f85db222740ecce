import assert from "node:assert/strict";
import { join } from "node:path";
import {
  DIMENSIONS_DIR,
  drawLineItems,
  loadCategories,
  loadCustomers,
  loadDepartments,
  loadProducts,
  orderOf,
  prng,
  RetailDbError,
} from "../../lib/orders/retail_db.ts";

const SHARED = Deno.env.get("RETAIL_DB") ?? "../shared/data/retail_db";
const FILES = ["customers.csv", "products.csv", "categories.csv", "departments.csv"];

Deno.test("data/retail_db: byte-for-byte copies of the shared retail_db dimension tables", async (t) => {
  for (const name of FILES) {
    const copy = await Deno.readFile(join(DIMENSIONS_DIR, name));
    assert.ok(copy.length > 0, name);
    let shared: Uint8Array;
    try {
      shared = await Deno.readFile(join(SHARED, name));
    } catch {
      await t.step({ name: `${name}: ${SHARED} not present`, ignore: true, fn: () => {} });
      continue;
    }
    assert.deepEqual(copy, shared, `${name} differs from ${SHARED}`);
  }
  // orders.csv is not copied: the live feed makes new orders, generate.ts reads the shared one.
  await assert.rejects(Deno.stat(join(DIMENSIONS_DIR, "orders.csv")), Deno.errors.NotFound);
});

Deno.test("data/retail_db: row counts, prices, and every product's category and department", async () => {
  const [customers, products, categories, departments] = await Promise.all([
    loadCustomers(),
    loadProducts(),
    loadCategories(),
    loadDepartments(),
  ]);
  assert.equal(customers.length, 12435);
  assert.equal(products.length, 1345);
  assert.equal(categories.length, 58);
  assert.equal(departments.length, 6);
  assert.equal(new Set(customers.map((c) => c.id)).size, 12435);
  assert.deepEqual(customers.find((c) => c.id === 11599), {
    id: 11599,
    fname: "Mary",
    lname: "Malone",
    city: "Hickory",
    state: "NC",
    pincode: 28601,
  });
  assert.equal(customers.find((c) => c.id === 3)!.pincode, 725); // zipcode 00725
  const p685 = products.find((p) => p.id === 685)!;
  assert.deepEqual(p685, {
    id: 685,
    categoryId: 31,
    name: "TaylorMade SLDR Irons - (Steel) 4-PW, AW",
    price: 899.99,
  });
  assert.equal(products.filter((p) => p.price === 0).length, 7);
  assert.ok(products.every((p) => Math.round(p.price * 100) / 100 === p.price));
  const categoryIds = new Set(categories.map((c) => c.id));
  // retail_db's own gaps, which a dashboard joining these tables must show as "unknown": 24
  // products name category 59, which categories.csv lacks, …
  const orphans = products.filter((p) => !categoryIds.has(p.categoryId));
  assert.equal(orphans.length, 24);
  assert.deepEqual([...new Set(orphans.map((p) => p.categoryId))], [59]);
  assert.deepEqual(departments.map((d) => d.name), [
    "Fitness",
    "Footwear",
    "Apparel",
    "Golf",
    "Outdoors",
    "Fan Shop",
  ]);
  // … and categories 49–58 name department 8, which departments.csv lacks.
  const departmentIds = new Set(departments.map((d) => d.id));
  assert.deepEqual(
    [
      ...new Set(
        categories.filter((c) => !departmentIds.has(c.departmentId)).map((c) => c.departmentId),
      ),
    ],
    [8],
  );
});

Deno.test("retail_db loaders name the file and line of a bad row", async () => {
  const tmp = await Deno.makeTempDir({ prefix: "retail-db-" });
  try {
    await Deno.writeTextFile(join(tmp, "products.csv"), "1,2,Ball,,12.5,u\n2,2,Bat,,12.505,u\n");
    await assert.rejects(loadProducts(tmp), RetailDbError, "products.csv:2");
    await Deno.writeTextFile(join(tmp, "categories.csv"), "1,2\n");
    await assert.rejects(loadCategories(tmp), RetailDbError, "expected 3 columns, got 2");
    await assert.rejects(loadDepartments(tmp), RetailDbError, "cannot read");
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
});

Deno.test("drawLineItems: 1–5 distinct products, quantity 1–5, cents-exact subtotals, ids counting up", () => {
  const products = [1, 2, 3, 4, 5, 6, 7].map((id) => ({ id, price: id * 1.1 + 0.09 }));
  const rand = prng(42);
  let next = 1000;
  const sizes = new Set<number>();
  for (let k = 0; k < 500; k++) {
    const items = drawLineItems(rand, products, next);
    sizes.add(items.length);
    assert.deepEqual(items.map((i) => i.order_item_id), items.map((_, j) => next + j));
    assert.equal(new Set(items.map((i) => i.order_item_product_id)).size, items.length);
    for (const i of items) {
      const q = i.order_item_quantity as number;
      assert.ok(q >= 1 && q <= 5);
      const p = products.find((x) => x.id === i.order_item_product_id)!;
      assert.equal(i.order_item_product_price, p.price);
      assert.equal(i.order_item_subtotal, (Math.round(p.price * 100) * q) / 100);
    }
    next += items.length;
  }
  assert.deepEqual([...sizes].sort(), [1, 2, 3, 4, 5]);
  const mary = {
    id: 11599,
    fname: "Mary",
    lname: "Malone",
    city: "Hickory",
    state: "NC",
    pincode: 28601,
  };
  assert.deepEqual(Object.keys(orderOf(1, mary, [])), [
    "order_id",
    "customer_id",
    "customer_fname",
    "customer_lname",
    "city",
    "state",
    "pincode",
    "line_items",
  ]);
});
