// End-to-end: the cleaned stream notebook with and without --merge-schema (schema evolution of
// the orders, lib/orders/evolve.ts) on the real broker.
import assert from "node:assert/strict";
import { snapshot } from "../../lib/delta/table.ts";
import { CLEANED_COLUMNS } from "../../lib/orders/flatten.ts";
import { deleteTopics, testKafka } from "../support/kafka.ts";
import {
  baseArgs,
  freshTopic,
  produce,
  runNotebook,
  tableRows,
  tempLakehouse,
} from "../support/stream.ts";
import { deltalakeAvailable } from "../support/python.ts";
import { deltaRsVersions, orderJson } from "../support/evolve.ts";

Deno.test("cleaned stream --merge-schema: new order and line-item fields become columns, older rows null, clashes dead-lettered; without the flag they are ignored", async () => {
  const topic = await freshTopic("stream-evolve", 1);
  const { dir, cleanup } = await tempLakehouse();
  const cleaned = `${dir}/orders_cleaned`;
  const dead = `${dir}/orders_dead_letters`;
  const args = (...more: string[]) => [
    ...baseArgs(topic),
    "--table",
    cleaned,
    "--dead-letters",
    dead,
    "--available-now",
    "--progress",
    "json",
    "--query-name",
    "evolve_test",
    ...more,
  ];
  const extrasOf = (rows: Record<string, unknown>[]) =>
    rows
      .map((r) => [
        Number(r.order_id),
        Number(r.item_id),
        r.order_status ?? null,
        r.payment_type ?? null,
        r.discount ?? null,
      ])
      .sort((a, b) => (a[1] as number) - (b[1] as number));
  try {
    // Run 1, without the flag: the new fields are ignored, every order is in the table.
    await produce(topic, [
      { key: "1", value: orderJson(1) },
      { key: "2", value: orderJson(2, { order_status: "COMPLETE" }, [{ discount: 1.5 }]) },
    ]);
    const first = await runNotebook("cleaned", args());
    assert.equal(first.code, 0, first.stderr);
    assert.equal(first.summary?.records, 2);
    assert.deepEqual(
      (await snapshot(cleaned)).schema.fields.map((f) => f.name),
      [...CLEANED_COLUMNS],
    );
    assert.equal((await tableRows(cleaned)).length, 2);

    // Run 2, with --merge-schema: order_status, payment_type (order level) and discount (line
    // item) become columns; an order_status that is a number, a discount that is text: dead
    // letters with schema_mismatch. Run through the sink worker (the spec carries the flag).
    await produce(topic, [
      {
        key: "3",
        value: orderJson(3, { order_status: "PENDING", payment_type: "card" }, [
          { discount: 0.25 },
          {},
        ]),
      },
      { key: "4", value: orderJson(4) },
      { key: "5", value: orderJson(5, { order_status: 5 }) },
      { key: "6", value: orderJson(6, {}, [{ discount: "ten" }]) },
      { key: "7", value: orderJson(7, { payment_type: "cash" }, [{ order_item_discount: 2 }]) },
    ]);
    const second = await runNotebook("cleaned", args("--merge-schema", "--worker"));
    assert.equal(second.code, 0, second.stderr);
    assert.equal(second.summary?.records, 5);
    const snap = await snapshot(cleaned);
    assert.deepEqual(
      snap.schema.fields.slice(CLEANED_COLUMNS.length).map((f) => [f.name, f.type, f.nullable]),
      [
        ["order_status", "string", true],
        ["payment_type", "string", true],
        ["discount", "double", true],
      ],
    );
    const rows = await tableRows(cleaned);
    assert.deepEqual(extrasOf(rows), [
      [1, 11, null, null, null],
      [2, 21, null, null, null], // run 1 ignored its fields: it reads null
      [3, 31, "PENDING", "card", 0.25],
      [3, 32, "PENDING", "card", null],
      [4, 41, null, null, null],
      [7, 71, null, "cash", 2],
    ]);
    const dl = (await tableRows(dead)).sort((a, b) => Number(a.offset) - Number(b.offset));
    assert.deepEqual(dl.map((r) => [r.key, r.reason, r.field, r.error]), [
      [
        "5",
        "schema_mismatch",
        "order_status",
        "order_status: long 5 does not fit column 'order_status' (string)",
      ],
      [
        "6",
        "schema_mismatch",
        "line_items[0].discount",
        `line_items[0].discount: string "ten" does not fit column 'discount' (double)`,
      ],
    ]);
    assert.equal(dl[0].value, orderJson(5, { order_status: 5 })); // the exact record

    // Run 3, without the flag again: the columns the table has are filled, a new field ignored.
    await produce(topic, [
      { key: "8", value: orderJson(8, { order_status: "CLOSED", order_date: "2024-01-01" }) },
    ]);
    const third = await runNotebook("cleaned", args());
    assert.equal(third.code, 0, third.stderr);
    assert.equal((await snapshot(cleaned)).schema.fields.length, CLEANED_COLUMNS.length + 3);
    const rows3 = await tableRows(cleaned);
    assert.deepEqual(extrasOf(rows3).at(-1), [8, 81, "CLOSED", null, null]);
    // Every record accounted for: 8 records = 6 orders in the table + 2 dead letters.
    const orders = new Set(rows3.map((r) => String(r.kafka_offset))).size;
    assert.equal(orders + (await tableRows(dead)).length, 8);

    // delta-rs reads the table at every version, the later ones with the new columns.
    if (await deltalakeAvailable()) {
      const versions = await deltaRsVersions(cleaned);
      assert.equal(versions.length, (await snapshot(cleaned)).version + 1);
      for (const v of versions) assert.equal(v.error, undefined, `version ${v.version}`);
      const latest = versions.at(-1)!.rows!;
      assert.equal(latest.length, rows3.length);
      const three = latest.find((r) => r.item_id === "31")!;
      assert.deepEqual([three.order_status, three.payment_type, three.discount], [
        "PENDING",
        "card",
        0.25,
      ]);
    }
  } finally {
    await cleanup();
    await deleteTopics(testKafka(), [topic]);
  }
});
