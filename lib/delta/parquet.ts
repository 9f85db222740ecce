/**
 * Parquet encoding and decoding of Arrow tables through parquet-wasm (arrow-rs compiled to wasm).
 *
 * Writing: Arrow JS → IPC stream → wasm table → Parquet bytes. Column types follow what Delta
 * readers expect: `Timestamp(MICROSECOND, "UTC")` becomes INT64 TIMESTAMP(MICROS, UTC), lists are
 * 3-level LIST groups, maps are MAP groups.
 *
 * Reading: Parquet bytes → wasm table → IPC stream → Arrow JS, then every column in its canonical
 * layout (physical.ts): large, view and dictionary-encoded strings, binaries and lists (as
 * delta-rs and polars write them) become Utf8, Binary and List; timestamps come back in
 * microseconds, whether the file has INT96 (read as nanoseconds), TIMESTAMP(NANOS|MILLIS) or an
 * Arrow hint of seconds; nanoseconds are floored to µs. The zone is kept as the file says
 * (`"+00:00"` is reported as `"UTC"`); INT96 values have no zone in the file, so they come back
 * tz-less and the caller (scan.ts) casts them to the table type.
 * Limit: arrow-rs converts INT96 to int64 nanoseconds, so INT96 values outside 1677–2262 wrap.
 *
 * @module
 */
import * as arrow from "apache-arrow";
import {
  Compression,
  EnabledStatistics,
  readParquet,
  readSchema,
  Table as WasmTable,
  transformParquetStream,
  wasmMemory,
  writeParquet,
  WriterPropertiesBuilder,
} from "parquet-wasm";
import { DeltaError } from "./errors.ts";
import { canonicalTable } from "./physical.ts";

/** Options for {@link encodeParquet}. */
export interface EncodeOptions {
  /** Codec; `snappy` (default, universal) or `zstd` (smaller; Spark 3+, delta-rs). */
  compression?: "snappy" | "zstd";
  /** Maximum rows per row group (default 1,048,576, arrow-rs's default). */
  rowGroupSize?: number;
  /**
   * Bytes of Arrow data per row group, at most (the rows a group holds are estimated from the
   * first part's bytes per row, at least 1,024): bounds the writer's memory for wide rows.
   */
  rowGroupBytes?: number;
  /**
   * Dictionary encoding: `"auto"` (default) keeps it for the top-level columns whose sampled
   * values repeat (names, cities, states, small codes) and turns it off for near-unique ones
   * (ids, offsets, timestamps, amounts), where building the dictionary costs most of the
   * encoding time and the writer would fall back to plain pages anyway; `true` or `false`
   * for every column.
   */
  dictionary?: "auto" | boolean;
  /**
   * Parquet column statistics: `"page"` (default, arrow-rs's: per column chunk and in the page
   * index), `"chunk"` (per column chunk only) or `"none"`. Delta readers skip files by the
   * log's `add.stats`, which the writer computes on its own; `"none"` is for short-lived files
   * that compaction rewrites with statistics (it saves about a fifth of the encoding CPU).
   */
  statistics?: "page" | "chunk" | "none";
}

/** Rows sampled per column to judge its cardinality, and the distinct share that is "unique". */
const DICTIONARY_SAMPLE = 2048;
const DICTIONARY_MAX_DISTINCT_SHARE = 0.5;

/**
 * The top-level primitive columns of `table` whose sampled values are mostly distinct (more
 * than half of up to 2,048 rows spread over the table): dictionary encoding does not pay there.
 */
export function nearUniqueColumns(table: arrow.Table): string[] {
  const n = table.numRows;
  if (n < 64) return [];
  const step = Math.max(1, Math.floor(n / DICTIONARY_SAMPLE));
  const out: string[] = [];
  for (const field of table.schema.fields) {
    if ((field.type.children?.length ?? 0) > 0 || arrow.DataType.isBool(field.type)) continue;
    if (arrow.DataType.isDictionary(field.type)) continue;
    const col = table.getChild(field.name);
    if (!col) continue;
    const seen = new Set<unknown>();
    let sampled = 0;
    for (let i = 0; i < n && sampled < DICTIONARY_SAMPLE; i += step, sampled++) {
      const v = col.get(i);
      // Binary and decimal values are fresh objects on every get: compare their text.
      seen.add(typeof v === "object" && v !== null ? String(v) : v);
    }
    if (seen.size > sampled * DICTIONARY_MAX_DISTINCT_SHARE) out.push(field.name);
  }
  return out;
}

/** Options for {@link decodeParquet}. */
export interface DecodeOptions {
  /** Top-level columns to read; names missing from the file are ignored. Default: all. */
  columns?: string[];
}

/** Thrown when Parquet bytes cannot be written or read; says which step failed. */
export class ParquetError extends DeltaError {
  override name = "ParquetError";
}

/** The `created_by` string written into every Parquet footer. */
export const CREATED_BY = "retail-pipeline lib/delta (parquet-wasm 0.7.2, arrow-rs)";

/**
 * Bytes of this thread's parquet-wasm linear memory: it grows to the largest file encoded or
 * read so far and never shrinks, so it is reported beside the process's other memory.
 *
 * @example
 * ```ts
 * import { parquetWasmBytes } from "./parquet.ts";
 * console.log(parquetWasmBytes() > 0); // true
 * ```
 */
export function parquetWasmBytes(): number {
  return wasmMemory().buffer.byteLength;
}

/**
 * Encode an Arrow table as a Parquet file (Snappy by default) and return its bytes.
 *
 * @example
 * ```ts
 * import * as arrow from "apache-arrow";
 * import { encodeParquet } from "./parquet.ts";
 * const bytes = encodeParquet(arrow.tableFromArrays({ id: new BigInt64Array([1n, 2n]) }));
 * ```
 */
export function encodeParquet(table: arrow.Table, opts: EncodeOptions = {}): Uint8Array {
  const props = writerProperties(table, opts);
  let wasmTable: WasmTable;
  try {
    wasmTable = WasmTable.fromIPCStream(arrow.tableToIPC(table, "stream"));
  } catch (e) {
    props.free();
    throw new ParquetError(`could not hand the Arrow table to parquet-wasm: ${errText(e)}`);
  }
  try {
    return writeParquet(wasmTable, props); // consumes both the table and the properties
  } catch (e) {
    throw new ParquetError(`parquet-wasm could not write the table: ${errText(e)}`);
  }
}

/**
 * Encode the parts of one Parquet file as they come (compaction writes a file from many small
 * ones): each part is handed to the wasm writer and released before the next is read, so the
 * memory held is one part and the writer's open row group, not the whole file's rows. Every
 * part must have the first part's columns and types; dictionary choices (`"auto"`) are judged
 * on the first part. At least one part is required.
 *
 * @example
 * ```ts
 * import * as arrow from "apache-arrow";
 * import { decodeParquet, encodeParquetParts } from "./parquet.ts";
 * async function* parts() {
 *   yield arrow.tableFromArrays({ id: new BigInt64Array([1n, 2n]) });
 *   yield arrow.tableFromArrays({ id: new BigInt64Array([3n]) });
 * }
 * decodeParquet(await encodeParquetParts(parts())).numRows; // 3
 * ```
 */
export function encodeParquetParts(
  parts: AsyncIterable<arrow.Table>,
  opts: EncodeOptions = {},
): Promise<Uint8Array> {
  const it = parts[Symbol.asyncIterator]();
  let schema: arrow.Schema | undefined;
  return writeParts(
    async () => {
      for (;;) {
        const next = await it.next();
        if (next.done) return undefined;
        const part = next.value;
        schema ??= part.schema;
        if (part.numRows === 0) continue;
        // The writer compares every batch's schema with the first one's (metadata included).
        const same = new arrow.Table(
          schema,
          part.batches.map((b) => new arrow.RecordBatch(schema!, b.data)),
        );
        try {
          return { sample: part, wasm: WasmTable.fromIPCStream(arrow.tableToIPC(same, "stream")) };
        } catch (e) {
          throw new ParquetError(`could not hand a part to parquet-wasm: ${errText(e)}`);
        }
      }
    },
    () => it.return?.(),
    opts,
  );
}

/**
 * Encode the rows of Parquet files into one new file without bringing them into JavaScript:
 * each file is read by parquet-wasm and its record batches go straight to the writer, so the new
 * file has the inputs' column types exactly. The files must share one Arrow schema (else a
 * ParquetError). Dictionary choices (`"auto"`) are judged on the first file's rows.
 *
 * @example
 * ```ts
 * import * as arrow from "apache-arrow";
 * import { decodeParquet, encodeParquet, encodeParquetFiles } from "./parquet.ts";
 * const a = encodeParquet(arrow.tableFromArrays({ id: new BigInt64Array([1n, 2n]) }));
 * async function* files() {
 *   yield a;
 *   yield a;
 * }
 * decodeParquet(await encodeParquetFiles(files())).numRows; // 4
 * ```
 */
export function encodeParquetFiles(
  files: AsyncIterable<Uint8Array>,
  opts: EncodeOptions = {},
): Promise<Uint8Array> {
  const it = files[Symbol.asyncIterator]();
  let first = true;
  // A file is read a slice of rows at a time: wasm memory holds one slice, not a whole file.
  let file: { bytes: Uint8Array; offset: number } | undefined;
  return writeParts(
    async () => {
      for (;;) {
        if (!file) {
          const next = await it.next();
          if (next.done) return undefined;
          file = { bytes: next.value, offset: 0 };
        }
        let wasm: WasmTable;
        try {
          wasm = readParquet(file.bytes, { offset: file.offset, limit: FILE_SLICE_ROWS });
        } catch (e) {
          throw new ParquetError(`could not read Parquet data: ${errText(e)}`);
        }
        let rows = 0;
        for (let i = 0; i < wasm.numBatches; i++) {
          // recordBatch(i) hands out a new reference: free it, or the rows stay in wasm memory.
          const batch = wasm.recordBatch(i);
          rows += batch?.numRows ?? 0;
          batch?.free();
        }
        const sample = first ? sampleRows(file.bytes) : undefined;
        first = false;
        if (rows < FILE_SLICE_ROWS) file = undefined;
        else file.offset += rows;
        if (rows === 0) {
          wasm.free();
          continue;
        }
        return { sample, wasm };
      }
    },
    () => it.return?.(),
    opts,
  );
}

/** Bytes of a table's Arrow buffers (values, offsets, validity), children included. */
function arrowBytes(table: arrow.Table): number {
  const data = (d: arrow.Data): number =>
    (d.values?.byteLength ?? 0) + (d.valueOffsets?.byteLength ?? 0) +
    (d.nullBitmap?.byteLength ?? 0) + d.children.reduce((n, c) => n + data(c), 0);
  return table.batches.reduce((n, b) => n + data(b.data), 0);
}

/** The first rows of a Parquet file (what dictionary choices are judged on). */
function sampleRows(bytes: Uint8Array): arrow.Table {
  try {
    return arrow.tableFromIPC(readParquet(bytes, { limit: 4096 }).intoIPCStream());
  } catch (e) {
    throw new ParquetError(`could not read Parquet data: ${errText(e)}`);
  }
}

/** Rows of an input file {@link encodeParquetFiles} reads at a time. */
const FILE_SLICE_ROWS = 128 * 1024;

/**
 * The streaming writer under {@link encodeParquetParts} and {@link encodeParquetFiles}: `next`
 * gives each part as a wasm table (and, for the first, the rows that judge dictionaries), or
 * undefined at the end; `stop` releases the source after a failure.
 */
async function writeParts(
  next: () => Promise<{ sample?: arrow.Table; wasm: WasmTable } | undefined>,
  stop: () => unknown,
  opts: EncodeOptions,
): Promise<Uint8Array> {
  const first = await next();
  if (!first) throw new ParquetError("no parts to write: a Parquet file needs a schema");
  const props = writerProperties(first.sample ?? new arrow.Table(), opts);
  let pending: WasmTable | undefined = first.wasm;
  // A source failure ends the input (the wasm writer does not pass an errored input on to its
  // output, whose reader would wait for ever) and is thrown once the writer has stopped.
  let failure: { error: unknown } | undefined;
  const batches = new ReadableStream({
    async pull(controller) {
      // A pull must enqueue or close (the stream does not pull again otherwise).
      for (;;) {
        let wasm = pending;
        pending = undefined;
        if (!wasm) {
          try {
            wasm = (await next())?.wasm;
          } catch (error) {
            failure = { error };
          }
        }
        if (!wasm) {
          controller.close();
          return;
        }
        const list = wasm.recordBatches();
        wasm.free();
        if (list.length === 0) continue;
        for (const b of list) controller.enqueue(b);
        return;
      }
    },
  });
  const chunks: Uint8Array[] = [];
  let size = 0;
  try {
    const bytes = await transformParquetStream(batches, props); // consumes the properties
    for await (const chunk of bytes as ReadableStream<Uint8Array>) {
      chunks.push(chunk);
      size += chunk.length;
    }
  } catch (e) {
    pending?.free();
    await stop();
    if (failure) throw failure.error;
    if (e instanceof ParquetError) throw e;
    throw new ParquetError(`parquet-wasm could not write the parts: ${errText(e)}`);
  }
  if (failure) {
    await stop();
    throw failure.error;
  }
  const out = new Uint8Array(size);
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  return out;
}

/** Writer properties for `table` (codec, row group size, dictionary choices, created_by). */
function writerProperties(table: arrow.Table, opts: EncodeOptions) {
  const codec = opts.compression ?? "snappy";
  let builder = new WriterPropertiesBuilder()
    .setCompression(codec === "zstd" ? Compression.ZSTD : Compression.SNAPPY)
    .setCreatedBy(CREATED_BY);
  if (opts.rowGroupSize !== undefined) {
    if (!Number.isInteger(opts.rowGroupSize) || opts.rowGroupSize < 1) {
      builder.free();
      throw new ParquetError(`rowGroupSize must be a positive integer, got ${opts.rowGroupSize}`);
    }
  }
  let rows = opts.rowGroupSize;
  if (opts.rowGroupBytes !== undefined && table.numRows > 0) {
    // The writer holds a row group until it is full: rows from the sample's bytes per row.
    const perRow = Math.max(1, arrowBytes(table) / table.numRows);
    rows = Math.max(1024, Math.min(rows ?? 1024 * 1024, Math.floor(opts.rowGroupBytes / perRow)));
  }
  if (rows !== undefined) builder = builder.setMaxRowGroupSize(rows);
  if (opts.statistics === "chunk") builder = builder.setStatisticsEnabled(EnabledStatistics.Chunk);
  else if (opts.statistics === "none") {
    builder = builder.setStatisticsEnabled(EnabledStatistics.None);
  }
  const dictionary = opts.dictionary ?? "auto";
  if (dictionary === false) builder = builder.setDictionaryEnabled(false);
  else if (dictionary === "auto") {
    for (const name of nearUniqueColumns(table)) {
      builder = builder.setColumnDictionaryEnabled(name, false);
    }
  }
  return builder.build(); // consumes the builder
}

/** The Arrow schema stored in a Parquet file (without reading its data). */
export function parquetSchema(bytes: Uint8Array): arrow.Schema {
  // Only the footer is needed: hand parquet-wasm "PAR1" + footer instead of copying the whole
  // file into wasm memory (falls back to the whole file if that is refused).
  const footer = footerOnly(bytes);
  if (footer) {
    try {
      return arrow.tableFromIPC(readSchema(footer).intoIPCStream()).schema;
    } catch {
      // fall through
    }
  }
  try {
    return arrow.tableFromIPC(readSchema(bytes).intoIPCStream()).schema;
  } catch (e) {
    throw new ParquetError(`not a readable Parquet file: ${errText(e)}`);
  }
}

const MAGIC = [0x50, 0x41, 0x52, 0x31]; // "PAR1"

function footerOnly(bytes: Uint8Array): Uint8Array | undefined {
  if (bytes.length < 12) return undefined;
  for (let k = 0; k < 4; k++) if (bytes[bytes.length - 4 + k] !== MAGIC[k]) return undefined;
  const len = new DataView(bytes.buffer, bytes.byteOffset + bytes.length - 8, 4).getUint32(0, true);
  if (len + 12 > bytes.length) return undefined;
  const out = new Uint8Array(len + 12);
  out.set(MAGIC);
  out.set(bytes.subarray(bytes.length - 8 - len), 4);
  return out;
}

/**
 * Decode Parquet bytes into an Arrow table, optionally reading only some top-level columns.
 * Columns come back in their canonical layout: Utf8, Binary, List, Timestamp(µs), no
 * dictionaries (see the module notes).
 *
 * @example
 * ```ts
 * import * as arrow from "apache-arrow";
 * import { decodeParquet, encodeParquet } from "./parquet.ts";
 * const rows = arrow.tableFromArrays({ id: new BigInt64Array([1n, 2n]), qty: new Int32Array([3, 4]) });
 * const t = decodeParquet(encodeParquet(rows), { columns: ["id"] });
 * t.schema.names; // ["id"]
 * ```
 */
export function decodeParquet(bytes: Uint8Array, opts: DecodeOptions = {}): arrow.Table {
  let columns: string[] | undefined;
  if (opts.columns) {
    const present = new Set(parquetSchema(bytes).fields.map((f) => f.name));
    columns = opts.columns.filter((c) => present.has(c));
    if (columns.length === 0) {
      // Nothing requested is in the file: keep only the row count.
      const n = fileRowCount(bytes);
      return new arrow.Table(new arrow.Schema([]), [
        new arrow.RecordBatch(
          new arrow.Schema([]),
          arrow.makeData({
            type: new arrow.Struct([]),
            length: n,
            children: [],
          }),
        ),
      ]);
    }
  }
  let table: arrow.Table;
  try {
    const wasm = readParquet(bytes, columns ? { columns } : undefined);
    table = arrow.tableFromIPC(wasm.intoIPCStream());
  } catch (e) {
    throw new ParquetError(`could not read Parquet data: ${errText(e)}`);
  }
  if (columns) {
    // Keep the requested order.
    table = table.select(columns);
  }
  try {
    return canonicalTable(table);
  } catch (e) {
    throw new ParquetError(`could not convert a column to its canonical type: ${errText(e)}`);
  }
}

function fileRowCount(bytes: Uint8Array): number {
  const first = parquetSchema(bytes).fields[0];
  if (!first) return 0;
  const wasm = readParquet(bytes, { columns: [first.name] });
  return arrow.tableFromIPC(wasm.intoIPCStream()).numRows;
}

function errText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
