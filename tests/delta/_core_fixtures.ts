// Test helpers for tests/delta (not a test file).
import { tempTableLocation } from "../support/storage_backends.ts";
import * as arrow from "apache-arrow";

/** The orders_cleaned columns used across tests. */
export function ordersSchema(): arrow.Schema {
  const f = (n: string, t: arrow.DataType, nullable = true) => new arrow.Field(n, t, nullable);
  return new arrow.Schema([
    f("order_id", new arrow.Int64(), false),
    f("customer_id", new arrow.Int64()),
    f("city", new arrow.Utf8()),
    f("state", new arrow.Utf8()),
    f("quantity", new arrow.Int64()),
    f("price", new arrow.Float64()),
    f("order_ts", new arrow.TimestampMicrosecond("UTC")),
  ]);
}

/** `n` order rows with ids start..start+n-1; states cycle through 3 values. */
export function orders(n: number, start = 0): arrow.Table {
  const ids = new BigInt64Array(n);
  const cust = new BigInt64Array(n);
  const qty = new BigInt64Array(n);
  const price = new Float64Array(n);
  const ts = new BigInt64Array(n);
  const city: string[] = [];
  const state: string[] = [];
  const states = ["IL", "NY", "CA"];
  for (let i = 0; i < n; i++) {
    const id = start + i;
    ids[i] = BigInt(id);
    cust[i] = BigInt(id % 97);
    qty[i] = BigInt(1 + (id % 5));
    price[i] = (id % 100) + 0.5;
    ts[i] = 1_700_000_000_000_000n + BigInt(id) * 1_000_000n;
    city.push(id % 3 === 0 ? "Chicago" : "Other");
    state.push(states[id % 3]);
  }
  const s = ordersSchema();
  const v = (name: string, data: unknown[] | ArrayLike<unknown>) =>
    arrow.vectorFromArray(data as unknown[], s.fields.find((f) => f.name === name)!.type);
  return new arrow.Table({
    order_id: v("order_id", [...ids]),
    customer_id: v("customer_id", [...cust]),
    city: v("city", city),
    state: v("state", state),
    quantity: v("quantity", [...qty]),
    price: v("price", [...price]),
    order_ts: v("order_ts", [...ts].map((x) => Number(x / 1000n))),
  });
}

/** Run `fn` with a fresh temp dir, removed afterwards. */
export async function withTempDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const t = await tempTableLocation("delta-core-test");
  try {
    await fn(t.location);
  } finally {
    await t.cleanup();
  }
}

/**
 * Run `fn` with a fresh local temp dir, also under the ADLS backend: for tests that write log
 * files or set their mtimes by hand, or that need commit times finer than a second (ADLS lists
 * modification times to the second, as Spark then sees them too).
 */
export async function withLocalDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "delta-core-local-" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** Sorted order ids of a table. */
export function ids(t: arrow.Table): number[] {
  return [...t.getChild("order_id")!].map((x) => Number(x)).sort((a, b) => a - b);
}
