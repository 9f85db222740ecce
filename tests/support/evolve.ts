/**
 * Order JSON with extra fields, for the schema-evolution tests (tests/orders/evolve_test.ts, the
 * cleaned stream end to end, Spark): order `id` with line items `id*10+1`, `id*10+2`, … (one per
 * entry of `items`, each with its own extra fields), price 10 × quantity 1.
 *
 * @module
 */
import { join } from "node:path";
import { pythonPath, REPO_ROOT } from "./python.ts";

/**
 * The JSON text of order `id` with `extra` fields at the order level and one line item per entry
 * of `items` (default one), each with that entry's extra fields.
 *
 * @example
 * ```ts
 * import { orderJson } from "./evolve.ts";
 * orderJson(3, { order_status: "COMPLETE" }, [{ discount: 0.5 }, {}]); // two line items
 * ```
 */
export function orderJson(
  id: number,
  extra: Record<string, unknown> = {},
  items: Record<string, unknown>[] = [{}],
): string {
  return JSON.stringify({
    order_id: id,
    customer_id: 1000 + id,
    customer_fname: "Mary",
    customer_lname: null,
    city: "Caguas",
    state: "PR",
    pincode: 725,
    ...extra,
    line_items: items.map((x, k) => ({
      order_item_id: id * 10 + k + 1,
      order_item_product_id: 957,
      order_item_quantity: 1,
      order_item_product_price: 10,
      order_item_subtotal: 10,
      ...x,
    })),
  });
}

/** One version of a table as delta-rs reads it (tests/interop/deltalake_dump.py). */
export interface DeltaRsVersion {
  /** The version. */
  version: number;
  /** Its rows, canonical and sorted (absent when they could not be read). */
  rows?: Record<string, unknown>[];
  /** Why delta-rs could not load the version or read its rows. */
  error?: string;
}

/**
 * Every version of the table at `path` as delta-rs reads it.
 *
 * @example
 * ```ts ignore
 * import { deltaRsVersions } from "./evolve.ts";
 * const versions = await deltaRsVersions("/tmp/orders_cleaned"); // needs .cache/venv
 * ```
 */
export async function deltaRsVersions(path: string): Promise<DeltaRsVersion[]> {
  const out = await new Deno.Command(pythonPath(), {
    args: [join(REPO_ROOT, "tests", "interop", "deltalake_dump.py"), path, "all"],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const dump = JSON.parse(new TextDecoder().decode(out.stdout));
  return dump.versions.map((v: Record<string, unknown>) => ({
    version: v.version as number,
    rows: v.rows as Record<string, unknown>[] | undefined,
    error: (v.error ?? v.rowsError) as string | undefined,
  }));
}
