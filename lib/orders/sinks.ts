/**
 * The orders' Delta sinks for the micro-batch engine: `rawSink` feeds `orders_raw` (bronze:
 * every record, key and value as strings, plus the exact bytes of those that are not UTF-8);
 * `cleanedSink` feeds `orders_cleaned` (silver: valid orders, one row per line item) and
 * `orders_dead_letters` (every other record with its reason and exact key and value).
 * Validation is deterministic, so a record re-read after a crash lands in the same table as the
 * first time.
 *
 * Opening a sink creates its tables when missing; a table created by an older version, without
 * a nullable column the schema has since gained (`orders_raw.key_bytes` / `value_bytes`,
 * `orders_dead_letters.key_base64`), gets it in one schema-change commit
 * (lib/delta/table.ts `addColumns`); rows written before read it as null.
 *
 * @module
 */
import { type RecordBatch, type Schema, Table } from "apache-arrow";
import {
  addColumns,
  createTable,
  type CreateTableOptions,
  type DeltaTable,
} from "../delta/table.ts";
import { rawSchema, rawTable } from "./raw.ts";
import type { TableSink, TableSinkSpec } from "../engine/tables.ts";
import { type DeadLetter, deadLetterSchema, deadLetterTable } from "./dead_letters.ts";
import { OrderDecoder } from "./decode.ts";
import { cleanedSchema, flattenOrders } from "./flatten.ts";
import { type ParseFailure, parseOrder } from "./validate.ts";

/**
 * The bronze sink: every record as a row of `orders_raw` (created when missing).
 *
 * @example
 * ```ts
 * import { rawSink } from "./sinks.ts";
 * const dir = await Deno.makeTempDir();
 * const sink = await rawSink(`${dir}/orders_raw`); // creates the table when missing
 * const value = new TextEncoder().encode('{"order_id":1}');
 * const messages = [{ key: null, value, offset: "0", timestamp: 0 }];
 * const out = sink.build([{ topic: "t", partition: 0, timestampType: 0, messages }], () => 0);
 * console.log(out.tables[0].numRows); // 1: every record, valid or not
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export async function rawSink(location: string): Promise<TableSink> {
  const table = await openOrCreate(location, rawSchema, {
    name: "orders_raw",
    description: "Kafka records of the orders topic, key and value as strings (bronze)",
  });
  return {
    spec: { module: import.meta.url, kind: "raw", table: location },
    targets: [{ name: tableName(location, "orders_raw"), table }],
    build(chunks, from) {
      return { tables: [rawTable(chunks, (c, o) => Number(o) >= from(0, c.partition))] };
    },
  };
}

/**
 * The silver sink: valid orders exploded to one row per line item in `orders_cleaned`, every
 * other record (with its reason) in `orders_dead_letters`; both created when missing.
 *
 * @example
 * ```ts
 * import { cleanedSink } from "./sinks.ts";
 * const dir = await Deno.makeTempDir();
 * const sink = await cleanedSink(`${dir}/orders_cleaned`, `${dir}/orders_dead_letters`);
 * const value = new TextEncoder().encode("not json");
 * const messages = [{ key: null, value, offset: "0", timestamp: 0 }];
 * const out = sink.build([{ topic: "t", partition: 0, timestampType: 0, messages }], () => 0);
 * console.log(out.tables.map((t) => t.numRows), out.deadLetters); // [ 0, 1 ] 1
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export async function cleanedSink(cleaned: string, deadLetters: string): Promise<TableSink> {
  const c = await openOrCreate(cleaned, cleanedSchema, {
    name: "orders_cleaned",
    description: "Valid orders, one row per line item, with Kafka lineage (silver)",
  });
  const d = await openOrCreate(deadLetters, deadLetterSchema, {
    name: "orders_dead_letters",
    description: "Kafka records that are not valid orders, with the reason",
  });
  return {
    spec: { module: import.meta.url, kind: "cleaned", table: cleaned, deadLetters },
    targets: [
      { name: tableName(cleaned, "orders_cleaned"), table: c },
      { name: tableName(deadLetters, "orders_dead_letters"), table: d },
    ],
    build(chunks, from) {
      const now = Date.now();
      // Valid orders are decoded straight into the cleaned table's columns (decode.ts), a record
      // batch every BATCH_ORDERS orders; the decoder hands back parseOrder's verdict on the rest.
      const decoder = new OrderDecoder(now);
      const batches: RecordBatch[] = [];
      const bad: DeadLetter[] = [];
      for (const chunk of chunks) {
        const fromGood = from(0, chunk.partition);
        const fromBad = from(1, chunk.partition);
        for (const m of chunk.messages) {
          const o = Number(m.offset);
          const needGood = o >= fromGood;
          const needBad = o >= fromBad;
          if (!needGood && !needBad) continue;
          let failure: ParseFailure | undefined;
          if (needGood) {
            failure = decoder.decode(m.value, chunk.partition, m.offset, Number(m.timestamp));
            if (decoder.orders >= BATCH_ORDERS) batches.push(decoder.take());
          } else {
            // Only its dead letter is still to write (a replay after a crash): the verdict alone.
            const r = parseOrder(m.value);
            failure = r.ok ? undefined : r;
          }
          if (failure !== undefined && needBad) {
            bad.push({
              key: m.key ?? null,
              value: m.value ?? null,
              topic: chunk.topic,
              partition: chunk.partition,
              offset: m.offset,
              timestampMs: Number(m.timestamp),
              reason: failure.reason,
              error: failure.message,
              field: failure.field,
            });
          }
        }
      }
      if (decoder.orders > 0) batches.push(decoder.take());
      const cleaned = batches.length > 0
        ? new Table(cleanedSchema, batches)
        : flattenOrders([], now);
      return {
        tables: [cleaned, deadLetterTable(bad, now)],
        deadLetters: bad.length,
      };
    },
  };
}

/** Orders decoded into one record batch by the cleaned sink's build. */
const BATCH_ORDERS = 2048;

/**
 * Opens the sink a spec of this module describes (creating its tables when missing); the
 * engine's worker calls it through lib/engine/tables.ts `openTableSink`.
 */
export function openSink(spec: TableSinkSpec): Promise<TableSink> {
  return spec.kind === "raw"
    ? rawSink(spec.table as string)
    : cleanedSink(spec.table as string, spec.deadLetters as string);
}

/**
 * The table at `location` with `schema`: created when missing; an existing table lacking some of
 * the schema's (nullable) columns gains them first.
 */
async function openOrCreate(
  location: string,
  schema: Schema,
  opts: CreateTableOptions,
): Promise<DeltaTable> {
  const table = await createTable(location, schema, { ...opts, ifNotExists: true });
  await addColumns(table.storage, schema);
  return table;
}

/** The last path segment of a location, or the fallback. */
function tableName(location: string, fallback: string): string {
  return location.replace(/\/+$/, "").split("/").at(-1) || fallback;
}
