/**
 * Canonical JSON-able rows from Arrow tables, matching tests/interop/deltalake_dump.py so our
 * reader's output can be compared with delta-rs: integers and decimals as strings, floats as
 * numbers ("nan"/"inf" as strings), dates `YYYY-MM-DD`, timestamps as epoch µs strings, binary as
 * hex, structs as objects, lists as arrays, maps as [key, value] pairs; rows sorted.
 *
 * @module
 */
import * as arrow from "apache-arrow";
import { decimalText, formatDate } from "../../lib/delta/stats.ts";

function valid(d: arrow.Data, i: number): boolean {
  if (d.typeId === arrow.Type.Null) return false;
  if (!d.nullBitmap || d.nullCount === 0) return true;
  const p = d.offset + i;
  return ((d.nullBitmap[p >> 3] >> (p & 7)) & 1) === 1;
}

function floatCanon(x: number): number | string {
  if (Number.isNaN(x)) return "nan";
  if (x === Infinity) return "inf";
  if (x === -Infinity) return "-inf";
  return x;
}

/** The canonical value at row `i` of a column chunk. */
export function canonValue(d: arrow.Data, i: number): unknown {
  if (!valid(d, i)) return null;
  const t = d.type;
  if (arrow.DataType.isInt(t)) return String(d.values[i]);
  if (arrow.DataType.isFloat(t)) return floatCanon(Number(d.values[i]));
  if (arrow.DataType.isBool(t)) {
    const p = d.offset + i;
    return ((d.values[p >> 3] >> (p & 7)) & 1) === 1;
  }
  if (arrow.DataType.isUtf8(t)) {
    const o = d.valueOffsets;
    return new TextDecoder().decode((d.values as Uint8Array).subarray(o[i], o[i + 1]));
  }
  if (arrow.DataType.isBinary(t)) {
    const o = d.valueOffsets;
    return Array.from((d.values as Uint8Array).subarray(o[i], o[i + 1]))
      .map((b) => b.toString(16).padStart(2, "0")).join("");
  }
  if (arrow.DataType.isDate(t)) return formatDate(d.values[i]);
  if (arrow.DataType.isTimestamp(t)) return String(d.values[i]);
  if (arrow.DataType.isDecimal(t)) {
    const w = d.values as Uint32Array;
    const b = 4 * i;
    const u = (BigInt(w[b + 3]) << 96n) | (BigInt(w[b + 2]) << 64n) | (BigInt(w[b + 1]) << 32n) |
      BigInt(w[b]);
    return decimalText(BigInt.asIntN(128, u), t.scale);
  }
  if (arrow.DataType.isStruct(t)) {
    const o: Record<string, unknown> = {};
    t.children.forEach((c, k) => (o[c.name] = canonValue(d.children[k], i)));
    return o;
  }
  if (arrow.DataType.isList(t)) {
    const o = d.valueOffsets;
    const out: unknown[] = [];
    for (let c = o[i]; c < o[i + 1]; c++) out.push(canonValue(d.children[0], c));
    return out;
  }
  if (arrow.DataType.isMap(t)) {
    const o = d.valueOffsets;
    const e = d.children[0];
    const out: unknown[] = [];
    for (let c = o[i]; c < o[i + 1]; c++) {
      out.push([canonValue(e.children[0], c), canonValue(e.children[1], c)]);
    }
    return out;
  }
  throw new Error(`canon: unsupported type ${t}`);
}

/** Stable JSON text with object keys sorted (for sorting and comparing rows). */
export function stableJson(v: unknown): string {
  if (v === null || typeof v !== "object") return JSON.stringify(v);
  if (Array.isArray(v)) return `[${v.map(stableJson).join(",")}]`;
  const o = v as Record<string, unknown>;
  return `{${
    Object.keys(o).sort().map((k) => `${JSON.stringify(k)}:${stableJson(o[k])}`).join(",")
  }}`;
}

/** Canonical rows of a table, sorted by their stable JSON text. */
export function canonRows(table: arrow.Table): unknown[] {
  const rows: unknown[] = [];
  for (const b of table.batches) {
    for (let i = 0; i < b.numRows; i++) {
      const o: Record<string, unknown> = {};
      b.schema.fields.forEach((f, k) => (o[f.name] = canonValue(b.data.children[k], i)));
      rows.push(o);
    }
  }
  return sortRows(rows);
}

/** Sort canonical rows by stable JSON text. */
export function sortRows(rows: unknown[]): unknown[] {
  return rows.map((r) => [stableJson(r), r] as const).sort((
    a,
    b,
  ) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0))
    .map((x) => x[1]);
}
