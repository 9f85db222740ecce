/** The product catalog: names, categories and departments from data/retail_db, gaps named. */
import assert from "node:assert/strict";
import { loadProductCatalog } from "../../lib/orders/catalog.ts";

Deno.test("catalog: every product named, its category and department joined; retail_db's gaps shown as unknown", async () => {
  const c = await loadProductCatalog();
  assert.equal(c.products.size, 1345);
  assert.deepEqual(c.info(957), {
    id: 957,
    name: "Diamondback Women's Serene Classic Comfort Bi",
    category: "Camping & Hiking",
    department: "Fan Shop",
  });
  // A quoted name with a doubled quote.
  assert.equal(c.info(34).name, `Nike Women's Pro Core 3" Compression Shorts`);
  // Category 59 is missing from categories.csv; categories 49–58 name department 8, missing too.
  assert.equal(c.info(1322).category, "unknown category 59");
  assert.match(
    [...c.products.values()].find((p) => p.department.startsWith("unknown department 8"))!
      .department,
    /8$/,
  );
  assert.equal(c.info(999_999).name, "product 999999");
});
