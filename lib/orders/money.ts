/**
 * Money in the orders: exact to the cent. An order's `order_item_product_price` and
 * `order_item_subtotal` are whole numbers of cents below 10^10 dollars, the values a Delta
 * `decimal(12,2)` holds (validate.ts rejects anything else as `out_of_range`). The decoder keeps
 * them as integer cents; a table's money column is written in its own type:
 * - `decimal(12,2)`, the type of every new `orders_cleaned` ({@link DEFAULT_MONEY});
 * - any other `decimal(p,s)`, e.g. a Databricks or Fabric model's `decimal(10,2)` or
 *   `decimal(18,4)`: a value it cannot hold exactly (too many digits, or a cent where `s < 2`)
 *   is `out_of_range` for that table ({@link moneyMisfit}), never rounded;
 * - `double`, the type of tables created before money was exact: `cents / 100`, the same double
 *   JSON.parse reads from the record's text.
 *
 * @example
 * ```ts
 * import { centsOf, moneyType, moneyVector } from "./money.ts";
 * const t = moneyType("decimal(12,2)", "price"); // { kind: "decimal", precision: 12, scale: 2 }
 * const v = moneyVector(new Float64Array([29998, -5]), 2, t);
 * Array.from(centsOf(v)); // [29998, -5]
 * ```
 * @module
 */
import {
  type Data,
  type DataType,
  Decimal,
  Float64,
  makeData,
  makeVector,
  type Vector,
} from "apache-arrow";
import type { DeltaType } from "../delta/schema.ts";
import { parseDecimal } from "../delta/schema.ts";

/** How a table stores money: Delta `double`, or `decimal(precision, scale)`. */
export type MoneyType =
  | { kind: "double" }
  | { kind: "decimal"; precision: number; scale: number };

/** The money type of new tables: `decimal(12,2)` (up to 9,999,999,999.99). */
export const DEFAULT_MONEY: MoneyType = { kind: "decimal", precision: 12, scale: 2 };

/** The money type of tables created before money was exact: `double`. */
export const DOUBLE_MONEY: MoneyType = { kind: "double" };

/** Money at or above this many dollars is out of range for every table (decimal(12,2)). */
export const MONEY_LIMIT = 1e10;

const TWO32 = 4294967296;
const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/**
 * The money type of a table column of Delta type `t`, or a one-line error naming the column when
 * the cleaned stream cannot write money into that type.
 *
 * @example
 * ```ts
 * import { moneyType } from "./money.ts";
 * moneyType("double", "price"); // { kind: "double" }
 * moneyType("decimal(18,4)", "price"); // { kind: "decimal", precision: 18, scale: 4 }
 * ```
 */
export function moneyType(t: DeltaType | undefined, column: string): MoneyType {
  if (t === "double") return DOUBLE_MONEY;
  const dec = typeof t === "string" ? parseDecimal(t) : undefined;
  if (dec && dec.scale >= 0 && dec.precision <= 38) {
    return { kind: "decimal", precision: dec.precision, scale: dec.scale };
  }
  const shown = t === undefined ? "missing" : typeof t === "string" ? `'${t}'` : `'${t.type}'`;
  throw new TypeError(
    `orders_cleaned column '${column}' is ${shown}: money is written as double or decimal(p,s); ` +
      `change the column's type or write to a new table`,
  );
}

/** The Delta type name of a money type (`double`, `decimal(12,2)`). */
export function moneyTypeName(t: MoneyType): string {
  return t.kind === "double" ? "double" : `decimal(${t.precision},${t.scale})`;
}

/** The Arrow type of a money type. */
export function moneyArrowType(t: MoneyType): DataType {
  return t.kind === "double" ? new Float64() : new Decimal(t.scale, t.precision, 128);
}

/**
 * Whether `t` holds every money value validate.ts accepts (whole cents below 10^10), so no value
 * needs a check against it.
 */
export function holdsAllMoney(t: MoneyType): boolean {
  return t.kind === "double" || (t.scale >= 2 && t.precision - t.scale >= 10);
}

/**
 * Why `cents` (an accepted amount) does not fit `t`, in a few words, or undefined when it does:
 * a `decimal(p,s)` holds |unscaled| < 10^p, and with `s < 2` only multiples of 10^(2 − s) cents.
 *
 * @example
 * ```ts
 * import { moneyMisfit } from "./money.ts";
 * const t = { kind: "decimal", precision: 5, scale: 2 } as const;
 * moneyMisfit(99999, t); // undefined: 999.99 fits
 * moneyMisfit(100000, t); // "1000.00 does not fit the table's decimal(5,2)"
 * ```
 */
export function moneyMisfit(cents: number, t: MoneyType): string | undefined {
  if (holdsAllMoney(t) || t.kind === "double") return undefined;
  const step = t.scale < 2 ? 10 ** (2 - t.scale) : 1;
  const limit = 10 ** (t.precision - t.scale + 2);
  if (cents % step === 0 && Math.abs(cents) < limit) return undefined;
  return `${centsText(cents)} does not fit the table's ${moneyTypeName(t)}`;
}

/**
 * Cents as dollars text with two decimals (`-5` → `-0.05`).
 *
 * @example
 * ```ts
 * import { centsText } from "./money.ts";
 * centsText(29998); // "299.98"
 * ```
 */
export function centsText(cents: number): string {
  const neg = cents < 0;
  const a = Math.abs(cents);
  const whole = Math.floor(a / 100);
  const frac = a - whole * 100;
  return `${neg ? "-" : ""}${whole}.${frac < 10 ? "0" : ""}${frac}`;
}

/**
 * A money column of `length` values from integer cents, in type `t`: doubles `cents / 100`, or
 * Decimal128 unscaled values at the type's scale. Every value must fit (see {@link moneyMisfit}).
 */
export function moneyData(cents: Float64Array, length: number, t: MoneyType): Data {
  if (t.kind === "double") {
    const out = new Float64Array(length);
    for (let i = 0; i < length; i++) out[i] = cents[i] / 100;
    return makeData({ type: new Float64(), length, data: out });
  }
  const words = new Int32Array(4 * length);
  if (t.scale === 2 && LITTLE_ENDIAN) {
    for (let i = 0, w = 0; i < length; i++, w += 4) {
      const c = cents[i];
      const hi = Math.floor(c / TWO32);
      words[w] = c - hi * TWO32;
      words[w + 1] = hi;
      const sign = hi < 0 ? -1 : 0;
      words[w + 2] = sign;
      words[w + 3] = sign;
    }
  } else {
    const view = new DataView(words.buffer);
    const up = t.scale >= 2 ? 10n ** BigInt(t.scale - 2) : 1n;
    const down = t.scale < 2 ? 10n ** BigInt(2 - t.scale) : 1n;
    for (let i = 0; i < length; i++) {
      const u = BigInt.asUintN(128, (BigInt(cents[i]) * up) / down);
      view.setBigUint64(16 * i, BigInt.asUintN(64, u), true);
      view.setBigUint64(16 * i + 8, u >> 64n, true);
    }
  }
  return makeData({
    type: new Decimal(t.scale, t.precision, 128),
    length,
    data: new Uint32Array(words.buffer),
  });
}

/** {@link moneyData} as a vector. */
export function moneyVector(cents: Float64Array, length: number, t: MoneyType): Vector {
  return makeVector(moneyData(cents, length, t));
}

/**
 * A money column (double or decimal, as read from any orders_cleaned) as cents: doubles rounded
 * to the cent, decimals exactly (a decimal with more than two decimals is rounded half away from
 * zero to the cent). Null reads as 0.
 *
 * @example
 * ```ts
 * import { makeVector } from "apache-arrow";
 * import { centsOf } from "./money.ts";
 * Array.from(centsOf(makeVector(new Float64Array([299.98, 0.1])))); // [29998, 10]
 * ```
 */
export function centsOf(v: Vector): Float64Array {
  const out = new Float64Array(v.length);
  let at = 0;
  for (const d of v.data) {
    const t = d.type as DataType;
    if (t instanceof Decimal) {
      // A slice's values are already cut to it; its offset only moves the validity bits.
      const words = d.values as Uint32Array;
      const view = new DataView(words.buffer, words.byteOffset, words.byteLength);
      for (let i = 0; i < d.length; i++, at++) {
        if (!d.getValid(i)) continue;
        const lo = view.getBigUint64(16 * i, true);
        const hi = view.getBigInt64(16 * i + 8, true);
        let u = (hi << 64n) | lo;
        if (t.scale > 2) {
          const div = 10n ** BigInt(t.scale - 2);
          const half = div / 2n;
          u = (u < 0n ? u - half : u + half) / div;
        } else if (t.scale < 2) u *= 10n ** BigInt(2 - t.scale);
        out[at] = Number(u);
      }
    } else {
      const values = d.values as ArrayLike<number>;
      for (let i = 0; i < d.length; i++, at++) {
        out[at] = d.getValid(i) ? Math.round(Number(values[i]) * 100) : 0;
      }
    }
  }
  return out;
}
