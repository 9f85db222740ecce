/**
 * Showing rows: a fixed-width text table for terminals (like Spark's `df.show()`), and an HTML
 * table with column types for Jupyter's Deno kernel.
 *
 * @module
 */
import { inJupyter } from "./runtime.ts";

/** A column to show: its name and, optionally, its type (shown in HTML headers). */
export interface Column {
  /** Column name. */
  name: string;
  /** Type label, e.g. "long" or "string". */
  type?: string;
}

/** A cell value rendered as text: null as "null", bytes as UTF-8, dates as ISO. */
export function cellText(v: unknown): string {
  if (v === null || v === undefined) return "null";
  if (v instanceof Uint8Array) return new TextDecoder().decode(v);
  if (v instanceof Date) return v.toISOString();
  if (typeof v === "object") {
    return JSON.stringify(v, (_k, x) => typeof x === "bigint" ? x.toString() : x);
  }
  return String(v);
}

function clip(s: string, width: number): string {
  const flat = s.replace(/[\r\n\t]/g, " ");
  return flat.length <= width ? flat : `${flat.slice(0, Math.max(1, width - 3))}...`;
}

/**
 * Renders rows as a boxed text table; cells longer than `truncate` are cut with "...".
 *
 * @example
 * ```ts
 * import { textTable } from "./display.ts";
 * textTable([{ name: "key" }, { name: "offset" }], [{ key: "11599", offset: "0" }]);
 * // a boxed table with a header row and one row, ready for console.log
 * ```
 */
export function textTable(
  columns: Column[],
  rows: Record<string, unknown>[],
  truncate = 40,
): string {
  const cells = rows.map((r) => columns.map((c) => clip(cellText(r[c.name]), truncate)));
  const widths = columns.map((c, i) =>
    Math.max(c.name.length, ...cells.map((row) => row[i].length))
  );
  const line = `+${widths.map((w) => "-".repeat(w + 2)).join("+")}+`;
  const fmt = (vals: string[]) =>
    `| ${
      vals.map((v, i) => /^-?\d+(\.\d+)?$/.test(v) ? v.padStart(widths[i]) : v.padEnd(widths[i]))
        .join(" | ")
    } |`;
  return [line, fmt(columns.map((c) => c.name)), line, ...cells.map(fmt), line].join("\n");
}

function esc(s: string): string {
  return s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(
    /"/g,
    "&quot;",
  );
}

/** Renders rows as an HTML table with the column types under the names (for Jupyter). */
export function htmlTable(
  columns: Column[],
  rows: Record<string, unknown>[],
  truncate = 80,
): string {
  const head = columns.map((c) =>
    `<th style="text-align:left">${esc(c.name)}${
      c.type ? `<br><span style="font-weight:normal;color:#888">${esc(c.type)}</span>` : ""
    }</th>`
  ).join("");
  const body = rows.map((r) =>
    `<tr>${
      columns.map((c) => `<td>${esc(clip(cellText(r[c.name]), truncate))}</td>`).join("")
    }</tr>`
  ).join("");
  return `<table><thead><tr>${head}</tr></thead><tbody>${body}</tbody></table>`;
}

/** Shows rows: HTML in Jupyter, a text table on stdout elsewhere. */
export async function showRows(
  columns: Column[],
  rows: Record<string, unknown>[],
  truncate = 40,
): Promise<void> {
  if (inJupyter()) {
    const j = (Deno as unknown as {
      jupyter: { display(o: unknown, opts?: { raw: boolean }): Promise<void> };
    }).jupyter;
    await j.display({ "text/html": htmlTable(columns, rows) }, { raw: true });
    // Yield once: Deno 2.9's kernel can otherwise publish a cell's last display after the
    // cell's idle status, and front ends drop it.
    await new Promise((resolve) => setTimeout(resolve, 0));
  } else {
    console.log(textTable(columns, rows, truncate));
  }
}

/**
 * Formats a count with thousands separators.
 *
 * @example
 * ```ts
 * import { fmtInt } from "./display.ts";
 * console.log(fmtInt(1234567)); // "1,234,567"
 * ```
 */
export function fmtInt(n: number | bigint): string {
  return n.toLocaleString("en-US");
}
