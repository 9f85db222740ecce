/**
 * Partition values (`add.partitionValues`, PROTOCOL.md "Partition Value Serialization"): the log
 * string of each type, written as Spark 4 / delta-spark 4.4 writes it, and read back as every
 * writer we know writes it.
 *
 * | type          | written                                    | also read                              |
 * | ------------- | ------------------------------------------ | -------------------------------------- |
 * | byte…long     | `-12`                                      | a leading `+`                          |
 * | float, double | Java's `toString`: `1.5`, `-0.0`, `1.0E20`, `NaN`, `Infinity` | `inf`, `-inf` and plain digits (delta-rs) |
 * | decimal(p,s)  | plain, s fraction digits: `-12.500`        | fewer digits, an exponent (`1.5E-3`)   |
 * | boolean       | `true`, `false`                            | any letter case                        |
 * | date          | `2024-05-01`                               |                                        |
 * | timestamp     | `2024-05-01T10:00:00.123456Z` (UTC)        | `2024-05-01 10:00:00[.f…]` taken as UTC (delta-rs, older Spark), an ISO 8601 offset |
 * | timestamp_ntz | `2024-05-01 10:00:00`, `….000005` if µs ≠ 0 | fewer fraction digits, a `T`, a `Z`   |
 * | string        | the string                                 |                                        |
 * | binary        | the bytes as UTF-8 text (`hello`)          |                                        |
 *
 * Null is JSON `null`, and an empty string also means null for every type, so `""` and empty
 * bytes are written as null (as Spark does). Binary values are text: Spark and the Java kernel
 * decode the bytes as UTF-8 and readers encode the text back (delta-io/delta#6480), so bytes that
 * are not valid UTF-8 cannot be stored without loss (Spark writes U+FFFD) and are refused here.
 * delta-rs 1.6 writes each byte as the six characters `\u00XX` instead; every reader, delta-rs
 * itself included, reads that back as the text, and so do we. A string that is not a valid value
 * of its type is a {@link PartitionError}, never a guess: no rounding of decimals, no month 13,
 * no hexadecimal or out-of-range integers.
 *
 * @module
 */
import * as arrow from "apache-arrow";
import { utf8Repeat } from "../arrow/columns.ts";
import { DeltaError } from "./errors.ts";
import { type DeltaType, parseDecimal, toArrowType } from "./schema.ts";
import { decimalText, formatDate } from "./stats.ts";

/** Thrown for unusable partition columns or values; the message names the column. */
export class PartitionError extends DeltaError {
  override name = "PartitionError";
}

// ---------------------------------------------------------------------------------------------
// Writing

function pad(n: number, w: number): string {
  return String(n).padStart(w, "0");
}

/** Split µs since epoch into the ISO text of its whole second and the µs within it. */
function splitMicros(micros: bigint): { iso: string; frac: number } {
  let secs = micros / 1_000_000n;
  let frac = micros % 1_000_000n;
  if (frac < 0n) {
    frac += 1_000_000n;
    secs -= 1n;
  }
  // YYYY-MM-DDTHH:MM:SS (toISOString's ".000Z" dropped)
  return { iso: new Date(Number(secs) * 1000).toISOString().slice(0, -5), frac: Number(frac) };
}

/**
 * Format µs since epoch as `YYYY-MM-DDTHH:MM:SS.ffffffZ` (UTC), a timestamp partition value.
 *
 * @example
 * ```ts
 * import { formatTimestampMicros } from "./partition_value.ts";
 * formatTimestampMicros(1714557600123456n); // "2024-05-01T10:00:00.123456Z"
 * ```
 */
export function formatTimestampMicros(micros: bigint): string {
  const { iso, frac } = splitMicros(micros);
  return `${iso}.${pad(frac, 6)}Z`;
}

/**
 * Format µs as a timestamp_ntz partition value: `YYYY-MM-DD HH:MM:SS`, plus `.ffffff` when the
 * microseconds are not zero.
 *
 * @example
 * ```ts
 * import { formatTimestampNtzMicros } from "./partition_value.ts";
 * formatTimestampNtzMicros(1714557600000005n); // "2024-05-01 10:00:00.000005"
 * formatTimestampNtzMicros(1714557600000000n); // "2024-05-01 10:00:00"
 * ```
 */
export function formatTimestampNtzMicros(micros: bigint): string {
  const { iso, frac } = splitMicros(micros);
  const text = iso.replace("T", " ");
  return frac === 0 ? text : `${text}.${pad(frac, 6)}`;
}

/**
 * Format a double as Java's `Double.toString` does (what Spark writes): `1.5`, `100.0`,
 * `-0.0`, `1.0E20`, `1.0E-5`, `NaN`, `Infinity`. With `float: true` the value is a float32 and
 * is written with the fewest digits that read back as the same float32 (`Float.toString`: `0.1`,
 * `1.4E-45`).
 *
 * @example
 * ```ts
 * import { formatJavaDouble } from "./partition_value.ts";
 * formatJavaDouble(1e20); // "1.0E20"
 * formatJavaDouble(Math.fround(0.1), true); // "0.1"
 * ```
 */
export function formatJavaDouble(x: number, float = false): string {
  if (Number.isNaN(x)) return "NaN";
  if (x === Infinity) return "Infinity";
  if (x === -Infinity) return "-Infinity";
  if (x === 0) return Object.is(x, -0) ? "-0.0" : "0.0";
  let y = x;
  if (float) {
    // The shortest decimal that reads back as this float32.
    for (let p = 1; p <= 9; p++) {
      const candidate = Number(x.toPrecision(p));
      if (Math.fround(candidate) === x) {
        y = candidate;
        break;
      }
    }
  }
  const abs = Math.abs(y);
  if (abs >= 1e-3 && abs < 1e7) {
    const plain = String(y); // shortest digits, never an exponent in this range
    return plain.includes(".") ? plain : `${plain}.0`;
  }
  // Computerized scientific notation, at least one digit after the point; a one-digit shortest
  // form gets its correctly rounded second digit, as Java prints it (1.4E-45, 4.9E-324).
  let [mantissa, exponent] = y.toExponential().split("e");
  if (!mantissa.includes(".")) {
    [mantissa, exponent] = x.toExponential(1).split("e");
  }
  return `${mantissa}E${exponent.replace("+", "")}`;
}

function isValid(data: arrow.Data, i: number): boolean {
  if (!data.nullBitmap || data.nullCount === 0) return data.typeId !== arrow.Type.Null;
  const pos = data.offset + i;
  return ((data.nullBitmap[pos >> 3] >> (pos & 7)) & 1) === 1;
}

const utf8Decoder = new TextDecoder();
const strictUtf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

/**
 * The partition value string of row `i` of an Arrow column chunk for Delta type `type`
 * (null for null; an empty string or empty bytes are also null, as in Spark). Binary values
 * that are not valid UTF-8 are refused (a PartitionError).
 *
 * @example
 * ```ts
 * import * as arrow from "apache-arrow";
 * import { formatPartitionValue } from "./partition_value.ts";
 * const d = arrow.vectorFromArray([-0, 1e20], new arrow.Float64()).data[0];
 * formatPartitionValue(d, 0, "double"); // "-0.0"
 * formatPartitionValue(d, 1, "double"); // "1.0E20"
 * ```
 */
export function formatPartitionValue(data: arrow.Data, i: number, type: DeltaType): string | null {
  if (!isValid(data, i)) return null;
  const v = data.values;
  switch (type) {
    case "byte":
    case "short":
    case "integer":
      return String((v as Int32Array)[i]);
    case "long":
      return String((v as BigInt64Array)[i]);
    case "float":
      return formatJavaDouble((v as Float32Array)[i], true);
    case "double":
      return formatJavaDouble((v as Float64Array)[i]);
    case "boolean": {
      const pos = data.offset + i;
      return ((v as Uint8Array)[pos >> 3] >> (pos & 7)) & 1 ? "true" : "false";
    }
    case "string": {
      const o = data.valueOffsets as Int32Array;
      const s = utf8Decoder.decode((v as Uint8Array).subarray(o[i], o[i + 1]));
      return s === "" ? null : s;
    }
    case "binary": {
      const o = data.valueOffsets as Int32Array;
      const bytes = (v as Uint8Array).subarray(o[i], o[i + 1]);
      if (bytes.length === 0) return null;
      try {
        return strictUtf8.decode(bytes);
      } catch {
        const hex = Array.from(bytes.subarray(0, 16), (b) => b.toString(16).padStart(2, "0"));
        throw new PartitionError(
          `binary partition value 0x${hex.join("")}${bytes.length > 16 ? "…" : ""} is not ` +
            `valid UTF-8: Delta stores binary partition values as text (Spark would replace ` +
            `these bytes with U+FFFD), so it cannot be written without loss; partition by ` +
            `another column or encode the bytes (hex, base64) in a string column`,
        );
      }
    }
    case "date":
      return formatDate((v as Int32Array)[i]);
    case "timestamp":
      return formatTimestampMicros((v as BigInt64Array)[i]);
    case "timestamp_ntz":
      return formatTimestampNtzMicros((v as BigInt64Array)[i]);
  }
  const dec = typeof type === "string" ? parseDecimal(type) : undefined;
  if (dec) {
    const w = v as Uint32Array;
    const b = 4 * i;
    const u = (BigInt(w[b + 3]) << 96n) | (BigInt(w[b + 2]) << 64n) | (BigInt(w[b + 1]) << 32n) |
      BigInt(w[b]);
    return decimalText(BigInt.asIntN(128, u), dec.scale);
  }
  throw new PartitionError(`type ${JSON.stringify(type)} cannot be a partition column`);
}

// ---------------------------------------------------------------------------------------------
// Reading

const TS_RE =
  /^([+-]?\d{4,})-(\d{1,2})-(\d{1,2})(?:[T ](\d{1,2}):(\d{2})(?::(\d{2})(?:\.(\d{0,9}))?)?)?\s*(Z|UTC|[+-]\d{2}(?::?\d{2})?)?$/;

const DAYS_IN_MONTH = [31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

function isLeap(y: number): boolean {
  return (y % 4 === 0 && y % 100 !== 0) || y % 400 === 0;
}

/** ms since epoch of a proleptic Gregorian date-time (UTC), or NaN when a field is out of range. */
function utcMillis(y: number, mo: number, d: number, h = 0, mi = 0, s = 0): number {
  if (mo < 1 || mo > 12 || d < 1 || d > DAYS_IN_MONTH[mo - 1]) return NaN;
  if (mo === 2 && d === 29 && !isLeap(y)) return NaN;
  if (h > 23 || mi > 59 || s > 59) return NaN;
  const dt = new Date(Date.UTC(2000, mo - 1, d, h, mi, s));
  dt.setUTCFullYear(y); // Date.UTC maps years 0–99 to 1900–1999
  return dt.getTime();
}

/**
 * Parse a timestamp partition value to µs since epoch: `YYYY-MM-DDTHH:MM:SS[.f]Z`, the protocol's
 * `YYYY-MM-DD HH:MM:SS[.f]` (no zone: taken as UTC) or an explicit offset (`+02:00`). Fraction
 * digits beyond µs are floored. With `ntz: true` (timestamp_ntz) an offset other than `Z` is
 * refused: such a value has no zone to convert from.
 *
 * @example
 * ```ts
 * import { parseTimestampMicros } from "./partition_value.ts";
 * parseTimestampMicros("2024-05-01 10:00:00.5"); // 1714557600500000n
 * parseTimestampMicros("2024-05-01T12:00:00+02:00"); // 1714557600000000n
 * ```
 */
export function parseTimestampMicros(s: string, ntz = false): bigint {
  const m = TS_RE.exec(s.trim());
  const bad = (): never => {
    throw new PartitionError(
      `'${s}' is not a ${ntz ? "timestamp_ntz" : "timestamp"} (expected ` +
        `YYYY-MM-DD HH:MM:SS[.ffffff]${ntz ? "" : " or YYYY-MM-DDTHH:MM:SS[.ffffff]Z"})`,
    );
  };
  if (!m) return bad();
  const [, y, mo, d, h = "0", mi = "0", se = "0", frac = "", zone] = m;
  const ms = utcMillis(Number(y), Number(mo), Number(d), Number(h), Number(mi), Number(se));
  if (Number.isNaN(ms)) return bad();
  let micros = BigInt(ms) * 1000n + BigInt((frac + "000000").slice(0, 6));
  if (zone && zone !== "Z" && zone !== "UTC") {
    if (ntz) return bad();
    const sign = zone[0] === "-" ? -1n : 1n;
    const digits = zone.slice(1).replace(":", "");
    const hours = Number(digits.slice(0, 2));
    const minutes = Number(digits.slice(2, 4) || "0");
    if (hours > 18 || minutes > 59) return bad();
    micros -= sign * BigInt(hours * 60 + minutes) * 60_000_000n;
  }
  return micros;
}

/**
 * Parse a date partition value `YYYY-MM-DD` to days since epoch (proleptic Gregorian).
 *
 * @example
 * ```ts
 * import { parseDateDays } from "./partition_value.ts";
 * parseDateDays("1969-12-31"); // -1
 * ```
 */
export function parseDateDays(s: string): number {
  const m = /^([+-]?\d{4,})-(\d{1,2})-(\d{1,2})$/.exec(s.trim());
  const ms = m ? utcMillis(Number(m[1]), Number(m[2]), Number(m[3])) : NaN;
  if (Number.isNaN(ms)) throw new PartitionError(`'${s}' is not a date (expected YYYY-MM-DD)`);
  return Math.floor(ms / 86_400_000);
}

const INT_RANGE: Record<string, [bigint, bigint]> = {
  byte: [-128n, 127n],
  short: [-32768n, 32767n],
  integer: [-2147483648n, 2147483647n],
  long: [-(1n << 63n), (1n << 63n) - 1n],
};

const FLOAT_RE = /^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/;
const SPECIAL_FLOATS: Record<string, number> = {
  nan: NaN,
  "+nan": NaN,
  "-nan": NaN,
  infinity: Infinity,
  "+infinity": Infinity,
  inf: Infinity,
  "+inf": Infinity,
  "-infinity": -Infinity,
  "-inf": -Infinity,
};

/**
 * Parse decimal text (`-12.5`, `1.25E-3`, `.5`) to the unscaled integer at `scale`; undefined
 * when it is not a number, has more significant fraction digits than `scale` or more than
 * `precision` digits.
 */
function parseDecimalText(s: string, precision: number, scale: number): bigint | undefined {
  const m = /^([+-]?)(\d*)(?:\.(\d*))?(?:[eE]([+-]?\d+))?$/.exec(s.trim());
  if (!m || (m[2] === "" && (m[3] ?? "") === "")) return undefined;
  const digits = m[2] + (m[3] ?? "");
  // value = digits × 10^(exp - fractionDigits); unscaled = value × 10^scale
  const shift = Number(m[4] ?? "0") - (m[3] ?? "").length + scale;
  if (!Number.isSafeInteger(shift) || Math.abs(shift) > 1000) return undefined;
  let unscaled = BigInt(digits);
  if (shift >= 0) unscaled *= 10n ** BigInt(shift);
  else {
    const div = 10n ** BigInt(-shift);
    if (unscaled % div !== 0n) return undefined; // would need rounding
    unscaled /= div;
  }
  if ((unscaled < 0n ? -unscaled : unscaled).toString().length > precision) return undefined;
  return m[1] === "-" ? -unscaled : unscaled;
}

/** A typed partition value: number, bigint (long, timestamp µs, decimal unscaled), boolean,
 * string or bytes (binary). */
export type PartitionValue = number | bigint | boolean | string | Uint8Array | null;

const utf8Encoder = new TextEncoder();

/**
 * Parse a partition value string back to a typed value for `type` (null and "" → null).
 * long → bigint; date → days; timestamp(_ntz) → µs bigint; decimal → unscaled bigint; binary →
 * the text's UTF-8 bytes. A string that is not a valid value of the type is a PartitionError.
 *
 * @example
 * ```ts
 * import { parsePartitionValue } from "./partition_value.ts";
 * parsePartitionValue("2024-05-01T10:00:00.000001Z", "timestamp"); // 1714557600000001n
 * parsePartitionValue("-12.5", "decimal(10,2)"); // -1250n
 * parsePartitionValue("hello", "binary"); // Uint8Array [104, 101, 108, 108, 111]
 * ```
 */
export function parsePartitionValue(s: string | null | undefined, type: DeltaType): PartitionValue {
  if (s === null || s === undefined || s === "") return null;
  const bad = (): never => {
    throw new PartitionError(`partition value '${s}' is not a valid ${JSON.stringify(type)}`);
  };
  switch (type) {
    case "byte":
    case "short":
    case "integer":
    case "long": {
      const t = s.trim();
      if (!/^[+-]?\d+$/.test(t)) return bad();
      const n = BigInt(t);
      const [lo, hi] = INT_RANGE[type];
      if (n < lo || n > hi) return bad();
      return type === "long" ? n : Number(n);
    }
    case "float":
    case "double": {
      const t = s.trim();
      const special = SPECIAL_FLOATS[t.toLowerCase()];
      if (special !== undefined) return special;
      if (!FLOAT_RE.test(t)) return bad();
      return type === "float" ? Math.fround(Number(t)) : Number(t);
    }
    case "boolean": {
      const l = s.trim().toLowerCase();
      return l === "true" ? true : l === "false" ? false : bad();
    }
    case "string":
      return s;
    case "binary":
      return utf8Encoder.encode(s);
    case "date":
      try {
        return parseDateDays(s);
      } catch {
        return bad();
      }
    case "timestamp":
    case "timestamp_ntz":
      try {
        return parseTimestampMicros(s, type === "timestamp_ntz");
      } catch {
        return bad();
      }
  }
  const dec = typeof type === "string" ? parseDecimal(type) : undefined;
  if (dec) return parseDecimalText(s, dec.precision, dec.scale) ?? bad();
  return bad();
}

// ---------------------------------------------------------------------------------------------
// Columns of one value

/**
 * An Arrow vector of `length` copies of one partition value (typed per the Delta type).
 *
 * @example
 * ```ts
 * import { constantVector } from "./partition_value.ts";
 * constantVector("string", "é", 2).toArray(); // ["é", "é"]
 * ```
 */
export function constantVector(
  type: DeltaType,
  value: PartitionValue,
  length: number,
): arrow.Vector {
  const at = toArrowType(type);
  if (value === null) {
    const bitmap = new Uint8Array(Math.ceil(length / 8));
    return arrow.makeVector(makeConst(at, type, null, length, bitmap));
  }
  return arrow.makeVector(makeConst(at, type, value, length, undefined));
}

function makeConst(
  at: arrow.DataType,
  type: DeltaType,
  value: PartitionValue,
  length: number,
  nullBitmap: Uint8Array | undefined,
): arrow.Data {
  const nullCount = nullBitmap ? length : 0;
  const base = { type: at, length, nullCount, nullBitmap } as Record<string, unknown>;
  switch (type) {
    case "byte":
      return arrow.makeData(
        { ...base, data: new Int8Array(length).fill(Number(value ?? 0)) } as never,
      );
    case "short":
      return arrow.makeData(
        { ...base, data: new Int16Array(length).fill(Number(value ?? 0)) } as never,
      );
    case "integer":
    case "date":
      return arrow.makeData(
        { ...base, data: new Int32Array(length).fill(Number(value ?? 0)) } as never,
      );
    case "long":
    case "timestamp":
    case "timestamp_ntz":
      return arrow.makeData(
        { ...base, data: new BigInt64Array(length).fill(BigInt(value as bigint ?? 0)) } as never,
      );
    case "float":
      return arrow.makeData(
        { ...base, data: new Float32Array(length).fill(Number(value ?? 0)) } as never,
      );
    case "double":
      return arrow.makeData(
        { ...base, data: new Float64Array(length).fill(Number(value ?? 0)) } as never,
      );
    case "boolean":
      return arrow.makeData({
        ...base,
        data: new Uint8Array(Math.ceil(length / 8)).fill(value === true ? 255 : 0),
      } as never);
    case "string":
      return utf8Repeat(value === null ? null : String(value), length);
    case "binary": {
      const bytes = value instanceof Uint8Array ? value : new Uint8Array(0);
      const offsets = new Int32Array(length + 1);
      const data = new Uint8Array(bytes.length * length);
      for (let i = 0; i < length; i++) {
        data.set(bytes, i * bytes.length);
        offsets[i + 1] = (i + 1) * bytes.length;
      }
      return arrow.makeData({ ...base, valueOffsets: offsets, data } as never);
    }
  }
  if (typeof type === "string" && parseDecimal(type)) {
    const words = new Uint32Array(4 * length);
    if (value !== null) {
      const u = BigInt.asUintN(128, BigInt(value as bigint));
      const w = [0, 1, 2, 3].map((k) => Number((u >> BigInt(32 * k)) & 0xffffffffn));
      for (let i = 0; i < length; i++) words.set(w, 4 * i);
    }
    return arrow.makeData({ ...base, data: words } as never);
  }
  throw new PartitionError(`type ${JSON.stringify(type)} cannot be a partition column`);
}
