/**
 * Notebook scripts to Jupyter notebooks: a `.ts` whose cells are marked by `// %%` lines becomes
 * a `.ipynb` for Jupyter's Deno kernel, deterministically (same input, same bytes), without
 * outputs, so the committed pair can be checked for drift.
 *
 * Every cell's text ends with a newline (see {@link canonicalIpynb}).
 *
 * Mapping:
 * - the leading comment block becomes a markdown cell (a first line `Name: text` becomes a
 *   `# Name` heading; lines indented by two or more spaces become a shell code block);
 * - each `// %% Title` line becomes a markdown cell `## Title`, followed by a code cell with the
 *   lines up to the next marker (blank lines at either end dropped);
 * - `// %% [markdown]` starts a markdown cell made of the comment lines that follow;
 * - code before the first marker (after the leading comments) is a code cell of its own.
 *
 * @module
 */

/** One notebook cell: its kind and its text (no trailing newline). */
export interface Cell {
  /** `markdown` or `code`. */
  kind: "markdown" | "code";
  /** The cell's text. */
  source: string;
}

/** Options for {@link toIpynb}. */
export interface IpynbOptions {
  /** The script's file name, recorded in the notebook's metadata and its first cell. */
  sourceName?: string;
}

const MARKER = /^\/\/ ?%%(.*)$/;

function uncomment(line: string): string {
  return line.replace(/^\s*\/\/ ?/, "");
}

function trimBlankEnds(lines: string[]): string[] {
  let a = 0;
  let b = lines.length;
  while (a < b && lines[a].trim() === "") a++;
  while (b > a && lines[b - 1].trim() === "") b--;
  return lines.slice(a, b);
}

/** Turns comment text (already without `//`) into markdown: heading, prose, shell blocks. */
function commentMarkdown(lines: string[], heading: boolean): string {
  const out: string[] = [];
  let inBlock = false;
  lines.forEach((line, i) => {
    const indented = /^ {2,}\S/.test(line);
    if (indented && !inBlock) {
      if (out.length > 0 && out.at(-1) !== "") out.push("");
      out.push("```sh");
      inBlock = true;
    } else if (!indented && inBlock) {
      out.push("```");
      inBlock = false;
      if (line !== "") out.push("");
    }
    if (inBlock) {
      out.push(line.replace(/^ {2}/, ""));
      return;
    }
    const title = heading && i === 0 ? /^([^:]{1,40}):\s+(\S.*)$/.exec(line) : null;
    if (title) {
      out.push(`# ${title[1]}`, "", title[2][0].toUpperCase() + title[2].slice(1));
    } else out.push(line);
  });
  if (inBlock) out.push("```");
  return trimBlankEnds(out).join("\n");
}

/**
 * Splits a notebook script into cells (see the module doc for the mapping).
 *
 * @example
 * ```ts
 * import { splitCells } from "./ipynb.ts";
 * splitCells("// Demo: one cell\n\n// %% Hello\nconsole.log(1);\n");
 * // [{kind:"markdown",source:"# Demo\n\nOne cell"}, {kind:"markdown",source:"## Hello"},
 * //  {kind:"code",source:"console.log(1);"}]
 * ```
 */
export function splitCells(script: string): Cell[] {
  const lines = script.replace(/\r\n/g, "\n").split("\n");
  const cells: Cell[] = [];
  let i = 0;
  // Leading comment block (up to the first non-comment line or marker).
  const header: string[] = [];
  while (
    i < lines.length && !MARKER.test(lines[i]) &&
    (lines[i].trim() === "" || lines[i].trimStart().startsWith("//"))
  ) {
    header.push(lines[i].trim() === "" ? "" : uncomment(lines[i]));
    i++;
  }
  const md = commentMarkdown(trimBlankEnds(header), true);
  if (md !== "") cells.push({ kind: "markdown", source: md });

  let chunk: string[] = [];
  let kind: "code" | "markdown" = "code";
  const flush = () => {
    const body = trimBlankEnds(chunk);
    if (kind === "markdown") {
      const text = commentMarkdown(body.map((l) => l.trim() === "" ? "" : uncomment(l)), false);
      if (text !== "") cells.push({ kind: "markdown", source: text });
    } else if (body.length > 0) cells.push({ kind: "code", source: body.join("\n") });
    chunk = [];
  };
  for (; i < lines.length; i++) {
    const m = MARKER.exec(lines[i]);
    if (!m) {
      chunk.push(lines[i]);
      continue;
    }
    flush();
    const title = m[1].trim();
    if (/^\[markdown\]$/i.test(title)) {
      kind = "markdown";
      continue;
    }
    kind = "code";
    if (title !== "") cells.push({ kind: "markdown", source: `## ${title}` });
  }
  flush();
  return cells;
}

/** Splits text into the line list nbformat stores: every line but the last keeps its "\n". */
function sourceLines(text: string): string[] {
  if (text === "") return [];
  const parts = text.split("\n");
  if (parts.at(-1) === "") parts.pop();
  return parts.map((p, i) => i < parts.length - 1 || text.endsWith("\n") ? `${p}\n` : p);
}

/** The kernelspec every generated notebook names: Deno's kernel (`deno jupyter --install`). */
export const DENO_KERNELSPEC = {
  display_name: "Deno",
  language: "typescript",
  name: "deno",
} as const;

/** Sorts object keys recursively (nbformat writes sorted keys; so do we, for stable bytes). */
function sortKeys(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(sortKeys);
  if (v !== null && typeof v === "object") {
    return Object.fromEntries(
      Object.keys(v as Record<string, unknown>).sort().map((
        k,
      ) => [k, sortKeys((v as Record<string, unknown>)[k])]),
    );
  }
  return v;
}

/**
 * The notebook (nbformat 4.5) for a script, as JSON text: deterministic, no outputs, kernel
 * `deno`, one-space indentation and sorted keys like Jupyter writes, ending with a newline.
 *
 * @example
 * ```ts
 * import { toIpynb } from "./ipynb.ts";
 * const script = "// Producer: send orders\n\n// %% Send\nconsole.log(1);\n";
 * const json = toIpynb(script, { sourceName: "producer.ts" }); // nbformat 4 JSON text
 * ```
 */
export function toIpynb(script: string, opts: IpynbOptions = {}): string {
  const cells = splitCells(script);
  if (opts.sourceName) {
    const note =
      `*Generated from \`notebooks/${opts.sourceName}\` by \`deno task notebooks:sync\`: ` +
      `edit the script, not this notebook.*`;
    if (cells[0]?.kind === "markdown") {
      cells[0] = { ...cells[0], source: `${cells[0].source}\n\n${note}` };
    } else cells.unshift({ kind: "markdown", source: note });
  }
  const nb = {
    cells: cells.map((c, i) => {
      const id = `cell-${String(i).padStart(2, "0")}`;
      return c.kind === "code"
        ? {
          cell_type: "code",
          execution_count: null,
          id,
          metadata: {},
          outputs: [],
          source: sourceLines(`${c.source}\n`),
        }
        : { cell_type: "markdown", id, metadata: {}, source: sourceLines(`${c.source}\n`) };
    }),
    metadata: {
      kernelspec: DENO_KERNELSPEC,
      language_info: {
        codemirror_mode: "typescript",
        file_extension: ".ts",
        mimetype: "text/x.typescript",
        name: "typescript",
        nbconvert_exporter: "script",
        pygments_lexer: "typescript",
      },
      ...(opts.sourceName ? { retail_orders: { generated_from: opts.sourceName } } : {}),
    },
    nbformat: 4,
    nbformat_minor: 5,
  };
  return JSON.stringify(sortKeys(nb), null, 1) + "\n";
}

/**
 * Re-serializes notebook JSON the way {@link toIpynb} does, with every cell's text ending in a
 * newline: the one form that `deno fmt` leaves alone and `deno fmt --check` accepts (Deno 2.9
 * flags a cell whose last line has no newline, yet its formatter drops that newline).
 */
export function canonicalIpynb(text: string): string {
  const nb = JSON.parse(text) as { cells: { source: string[] | string }[] };
  for (const cell of nb.cells) {
    const src = Array.isArray(cell.source) ? cell.source.join("") : cell.source;
    cell.source = sourceLines(src.endsWith("\n") ? src : `${src}\n`);
  }
  return JSON.stringify(sortKeys(nb), null, 1) + "\n";
}
