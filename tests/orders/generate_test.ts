import assert from "node:assert/strict";
import { join } from "node:path";
import {
  DEFAULT_SEED,
  generateOrders,
  loadRetailDb,
  parseCsv,
  RetailDbError,
  writeOrderFiles,
} from "../../lib/orders/generate.ts";
import { type Order, orderToJson, parseOrder } from "../../lib/orders/mod.ts";

const RETAIL_DB = Deno.env.get("RETAIL_DB") ?? "../shared/data/retail_db";
const SEED_LINE =
  '{"order_id":1,"customer_id":11599,"customer_fname":"Mary","customer_lname":"Malone",' +
  '"city":"Hickory","state":"NC","pincode":28601,"line_items":[{"order_item_id":1,' +
  '"order_item_product_id":957,"order_item_quantity":1,"order_item_product_price":299.98,' +
  '"order_item_subtotal":299.98}]}';

const db = await loadRetailDb(RETAIL_DB);

async function readOrders(files: string[]): Promise<Order[]> {
  const orders: Order[] = [];
  for (const f of files) {
    const lines = (await Deno.readTextFile(f)).split("\n");
    assert.equal(lines.pop(), "", `${f} ends with a newline`);
    lines.forEach((l, i) => {
      const r = parseOrder(l);
      if (!r.ok) assert.fail(`${f}:${i + 1}: ${r.reason}: ${r.message}`);
      orders.push(r.order);
    });
  }
  return orders;
}

/** Checks the derivation rules on every order; returns the line count. */
function checkDerivation(orders: Order[]): number {
  const price = new Map(db.products.map((p) => [p.id, p.price]));
  let nextItem = 1;
  for (const o of orders) {
    const c = db.customers.get(o.customer_id as number)!;
    assert.deepEqual(
      [o.customer_fname, o.customer_lname, o.city, o.state, o.pincode],
      [c.fname, c.lname, c.city, c.state, c.pincode],
    );
    assert.ok(o.line_items.length >= 1 && o.line_items.length <= 5);
    const products = new Set(o.line_items.map((l) => l.order_item_product_id));
    assert.equal(products.size, o.line_items.length, "distinct products within an order");
    for (const l of o.line_items) {
      assert.equal(l.order_item_id, nextItem++);
      const q = l.order_item_quantity as number;
      assert.ok(q >= 1 && q <= 5);
      assert.equal(l.order_item_product_price, price.get(l.order_item_product_id as number));
      assert.ok(l.order_item_product_price > 0);
      assert.equal(l.order_item_subtotal, Math.round(l.order_item_product_price * q * 100) / 100);
    }
  }
  return nextItem - 1;
}

Deno.test("parseCsv: quotes, doubled quotes, commas and newlines in quotes, CRLF", () => {
  assert.deepEqual(parseCsv('1,"a, ""b""",\r\n2,"x\ny",z\n'), [["1", 'a, "b"', ""], [
    "2",
    "x\ny",
    "z",
  ]]);
  assert.deepEqual(parseCsv("a,b"), [["a", "b"]]);
  assert.deepEqual(parseCsv("a,"), [["a", ""]]);
  assert.throws(() => parseCsv('"open'), RetailDbError);
});

Deno.test("loadRetailDb: real tables, quoted names with commas, zero prices left out", () => {
  assert.equal(db.customerList.length, 12435);
  assert.equal(db.orders.length, 68883);
  assert.equal(db.products.length, 1345 - 7); // 7 products are priced 0.0
  assert.equal(db.customerList.filter((c) => c.city === "Chicago").length, 274);
  assert.equal(db.customers.get(3)!.pincode, 725); // zipcode 00725
  assert.equal(db.products.find((p) => p.id === 685)!.price, 899.99); // "…4-PW, AW" quoted
  assert.equal(db.products.find((p) => p.id === 957)!.price, 299.98);
  assert.ok(db.products.every((p) => Math.round(p.price * 100) / 100 === p.price));
});

Deno.test("generateOrders: order 1 is the seed's sample order, byte for byte", () => {
  const first = generateOrders(db, 1).next().value!;
  assert.equal(JSON.stringify(first), SEED_LINE);
  assert.equal(orderToJson(first), SEED_LINE);
});

Deno.test("writeOrderFiles: two runs of 2000 orders give identical bytes; CLI too", async () => {
  const tmp = await Deno.makeTempDir({ prefix: "orders-gen-" });
  try {
    const a = await writeOrderFiles(db, join(tmp, "a"), 2000, 3);
    const b = await writeOrderFiles(db, join(tmp, "b"), 2000, 3);
    assert.equal(a.orders, 2000);
    assert.deepEqual(a.files.map((f) => f.slice(-10)), ["file1.json", "file2.json", "file3.json"]);
    const cli = await new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "-A",
        "lib/orders/generate.ts",
        "--orders",
        "2000",
        "--out",
        join(tmp, "c"),
        "--retail-db",
        RETAIL_DB,
      ],
      stdout: "piped",
      stderr: "piped",
    }).output();
    assert.equal(cli.code, 0, new TextDecoder().decode(cli.stderr));
    const bytesOf = async (files: string[]) => {
      const parts = await Promise.all(files.map((f) => Deno.readFile(f)));
      return new Uint8Array(parts.flatMap((p) => [...p]));
    };
    const aBytes = await bytesOf(a.files);
    assert.deepEqual(aBytes, await bytesOf(b.files));
    assert.deepEqual(aBytes, await Deno.readFile(join(tmp, "c", "file1.json")));
    assert.equal(aBytes.length, a.bytes);
    const orders = await readOrders(a.files);
    assert.equal(orders.length, 2000);
    assert.equal(checkDerivation(orders), a.lines);
    assert.equal(orders.filter((o) => o.city === "Chicago").length, a.chicagoOrders);
    // A different seed gives different lines, same orders and customers.
    const other = [...generateOrders(db, 50, DEFAULT_SEED + 1)];
    assert.deepEqual(
      other.map((o) => o.customer_id),
      orders.slice(0, 50).map((o) => o.customer_id),
    );
    assert.notDeepEqual(
      other.map((o) => o.line_items),
      orders.slice(0, 50).map((o) => o.line_items),
    );
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
});

Deno.test("generateOrders: past the real orders, ids continue and customers are real", async () => {
  const tmp = await Deno.makeTempDir({ prefix: "orders-db-" });
  try {
    await Deno.writeTextFile(
      join(tmp, "customers.csv"),
      '1,Ann,"Smith, Jr.",X,X,"1 Main St ",Chicago,IL,00725\n2,Bob,Lee,X,X,2 Oak,Austin,TX,78701\n',
    );
    await Deno.writeTextFile(
      join(tmp, "orders.csv"),
      "5,2013-07-25 00:00:00.0,2,CLOSED\n9,2013-07-25 00:00:00.0,1,COMPLETE\n",
    );
    await Deno.writeTextFile(
      join(tmp, "products.csv"),
      '10,1,"Hat, ""red""",,12.5,u\n11,1,Cap,,0.0,u\n12,1,Bat,,7.99,u\n13,1,Ball,,1.1,u\n' +
        "14,1,Net,,3.0,u\n15,1,Pad,,4.25,u\n",
    );
    const small = await loadRetailDb(tmp);
    assert.equal(small.products.length, 5);
    const orders = [...generateOrders(small, 40)];
    assert.deepEqual(orders.map((o) => o.order_id), [
      5,
      9,
      ...Array.from({ length: 38 }, (_, i) => 10 + i),
    ]);
    assert.equal(orders[1].customer_lname, "Smith, Jr.");
    assert.equal(orders[1].pincode, 725);
    assert.ok(orders.slice(2).every((o) => o.customer_id === 1 || o.customer_id === 2));
    assert.ok(new Set(orders.slice(2).map((o) => o.customer_id)).size === 2);
    assert.ok(orders.flatMap((o) => o.line_items).every((l) => l.order_item_product_id !== 11));
    // Any run is a prefix of a longer one.
    assert.deepEqual([...generateOrders(small, 7)], orders.slice(0, 7));
    await Deno.writeTextFile(join(tmp, "orders.csv"), "5,2013,99,CLOSED\n");
    await assert.rejects(loadRetailDb(tmp), RetailDbError);
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
});

Deno.test("data/: committed files parse with zero failures; exact counts", async () => {
  const files = [1, 2, 3, 4, 5, 6].map((i) => `data/file${i}.json`);
  const orders = await readOrders(files);
  assert.equal(orders.length, 6000);
  assert.deepEqual(orders.map((o) => o.order_id), Array.from({ length: 6000 }, (_, i) => i + 1));
  assert.equal(checkDerivation(orders), 18031);
  assert.equal(orders.filter((o) => o.city === "Chicago").length, 145);
  const first = (await Deno.readTextFile("data/file1.json")).split("\n")[0];
  assert.equal(first, SEED_LINE);
  // The committed files are exactly what the generator writes by default.
  const tmp = await Deno.makeTempDir({ prefix: "orders-data-" });
  try {
    const s = await writeOrderFiles(db, tmp, 6000, 6);
    for (let i = 0; i < 6; i++) {
      assert.deepEqual(await Deno.readFile(s.files[i]), await Deno.readFile(files[i]), files[i]);
    }
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
});
