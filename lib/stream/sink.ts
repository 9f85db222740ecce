/**
 * Sinks of the micro-batch engine: what a batch of Kafka records becomes, table by table.
 * A sink names its Delta tables (targets, committed in order) and turns a batch into one Arrow
 * table per target. `rawSink` feeds `orders_raw`; `cleanedSink` feeds `orders_cleaned` and
 * `orders_dead_letters` (validation is deterministic, so a record re-read after a crash lands
 * in the same table as the first time).
 *
 * @module
 */
import { type RecordBatch, Table } from "apache-arrow";
import { createTable, type DeltaTable } from "../delta/table.ts";
import { type RawChunk, rawSchema, rawTable } from "../kafka/raw.ts";
import { type DeadLetter, deadLetterSchema, deadLetterTable } from "../orders/dead_letters.ts";
import { cleanedSchema, flattenOrders, type OrderRecord } from "../orders/flatten.ts";
import { parseOrder } from "../orders/validate.ts";

/** One Delta table a sink writes. */
export interface SinkTarget {
  /** Short name for logs and progress (e.g. `orders_raw`). */
  name: string;
  /** The opened table. */
  table: DeltaTable;
}

/** What a sink built for one batch. */
export interface SinkOutput {
  /** One Arrow table per target, in target order. */
  tables: Table[];
  /** Records the sink rejected into a dead-letter target (undefined when it has none). */
  deadLetters?: number;
}

/** How to open a sink again (e.g. inside the sink worker): its kind and table locations. */
export type SinkSpec =
  | { kind: "raw"; table: string }
  | { kind: "cleaned"; table: string; deadLetters: string };

/**
 * Turns batches of records into per-table rows. `from(target, partition)` is the first offset
 * that target still needs for that partition: records below it are already in that table.
 */
export interface Sink {
  /** How to open this sink again elsewhere (the engine's worker does). */
  spec: SinkSpec;
  /** Tables, committed in this order for each batch. */
  targets: SinkTarget[];
  /** Builds the rows of a batch. */
  build(
    chunks: readonly RawChunk[],
    from: (target: number, partition: number) => number,
  ): SinkOutput;
}

/**
 * The bronze sink: every record as a row of `orders_raw` (created when missing).
 *
 * @example
 * ```ts
 * const sink = await rawSink("./lakehouse/orders_raw");
 * ```
 */
export async function rawSink(location: string): Promise<Sink> {
  const table = await createTable(location, rawSchema, {
    ifNotExists: true,
    name: "orders_raw",
    description: "Kafka records of the orders topic, key and value as strings (bronze)",
  });
  return {
    spec: { kind: "raw", table: location },
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
 * const sink = await cleanedSink("./lakehouse/orders_cleaned", "./lakehouse/orders_dead_letters");
 * ```
 */
export async function cleanedSink(cleaned: string, deadLetters: string): Promise<Sink> {
  const c = await createTable(cleaned, cleanedSchema, {
    ifNotExists: true,
    name: "orders_cleaned",
    description: "Valid orders, one row per line item, with Kafka lineage (silver)",
  });
  const d = await createTable(deadLetters, deadLetterSchema, {
    ifNotExists: true,
    name: "orders_dead_letters",
    description: "Kafka records that are not valid orders, with the reason",
  });
  return {
    spec: { kind: "cleaned", table: cleaned, deadLetters },
    targets: [
      { name: tableName(cleaned, "orders_cleaned"), table: c },
      { name: tableName(deadLetters, "orders_dead_letters"), table: d },
    ],
    build(chunks, from) {
      const now = Date.now();
      // Orders are flattened every FLATTEN_EVERY orders, so their parsed objects die young
      // (cheap minor GCs, a small heap) instead of living until the end of the batch.
      let good: OrderRecord[] = [];
      const batches: RecordBatch[] = [];
      const flush = () => {
        if (good.length === 0) return;
        batches.push(...flattenOrders(good, now).batches);
        good = [];
      };
      const bad: DeadLetter[] = [];
      for (const chunk of chunks) {
        const fromGood = from(0, chunk.partition);
        const fromBad = from(1, chunk.partition);
        for (const m of chunk.messages) {
          const o = Number(m.offset);
          const needGood = o >= fromGood;
          const needBad = o >= fromBad;
          if (!needGood && !needBad) continue;
          const r = parseOrder(m.value);
          if (r.ok) {
            if (needGood) {
              good.push({
                order: r.order,
                partition: chunk.partition,
                offset: m.offset,
                timestampMs: Number(m.timestamp),
              });
              if (good.length >= FLATTEN_EVERY) flush();
            }
          } else if (needBad) {
            bad.push({
              key: m.key ?? null,
              value: m.value ?? null,
              topic: chunk.topic,
              partition: chunk.partition,
              offset: m.offset,
              timestampMs: Number(m.timestamp),
              reason: r.reason,
              error: r.message,
              field: r.field,
            });
          }
        }
      }
      flush();
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

/** Orders flattened at a time by the cleaned sink's build. */
const FLATTEN_EVERY = 2048;

/** Opens the sink a {@link SinkSpec} describes (creating its tables when missing). */
export function openSink(spec: SinkSpec): Promise<Sink> {
  return spec.kind === "raw" ? rawSink(spec.table) : cleanedSink(spec.table, spec.deadLetters);
}

/** The last path segment of a location, or the fallback. */
function tableName(location: string, fallback: string): string {
  return location.replace(/\/+$/, "").split("/").at(-1) || fallback;
}
