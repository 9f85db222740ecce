/**
 * The orders' Delta sinks for the micro-batch engine: `rawSink` feeds `orders_raw` (bronze:
 * every record, key and value as strings, plus the exact bytes of those that are not UTF-8);
 * `cleanedSink` feeds `orders_cleaned` (silver: valid orders, one row per line item) and
 * `orders_dead_letters` (every other record with its reason and exact key and value).
 * Validation is deterministic, so a record re-read after a crash lands in the same table as the
 * first time.
 *
 * CHECK constraints (and column invariants) on the tables, e.g. added by Spark's `ALTER TABLE …
 * ADD CONSTRAINT`, are read at open (one outside the SQL subset of lib/delta/constraints.ts is
 * refused there, by name) and again before each batch. In `orders_cleaned` a record whose
 * line-item rows violate one becomes a dead letter with reason `constraint_violated` and the
 * constraint's one-line message, the whole order (no partial orders). `orders_raw` has no dead
 * letters: a raw row that violates a constraint fails the batch's commit with that one line
 * (ConstraintViolationError) and ends the stream, nothing of the batch written, so no record is
 * lost: it is read again once the constraint is dropped or relaxed.
 *
 * Schema evolution (evolve.ts): an order's extra scalar fields fill the table's extra columns;
 * with `mergeSchema` (`--merge-schema`) new ones become new nullable columns, and columns are
 * widened where the table has `typeWidening`, in the same commit as the rows. An order with a
 * field that does not fit its column is a dead letter with reason `schema_mismatch`.
 *
 * Money (money.ts): a new `orders_cleaned` stores `price` and `subtotal` as `decimal(12,2)`; an
 * existing one keeps its own money types (`double` in tables made before money was exact, or any
 * `decimal(p,s)`), read at open; an order with an amount the table's decimal cannot hold exactly
 * is a dead letter `out_of_range`. Another money type is refused at open, in one line.
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
import type { Snapshot } from "../delta/snapshot.ts";
import { rawSchema, rawTable } from "./raw.ts";
import type { TableSink, TableSinkSpec } from "../engine/tables.ts";
import { type DeadLetter, deadLetterSchema, deadLetterTable } from "./dead_letters.ts";
import { OrderDecoder } from "./decode.ts";
import {
  CLEANED_COLUMNS,
  type CleanedMoney,
  cleanedSchema,
  cleanedSchemaFor,
  flattenOrders,
  type OrderRecord,
} from "./flatten.ts";
import { Evolution } from "./evolve.ts";
import { moneyType } from "./money.ts";
import { typeWideningEnabled } from "../delta/widening.ts";
import type { ParseFailure, ReasonCode } from "./validate.ts";
import {
  constraintViolations,
  type TableConstraint,
  tableConstraints,
} from "../delta/constraints.ts";
import type { RawChunk } from "../kafka/raw.ts";
import type { StructField } from "../delta/schema.ts";

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
  const { table } = await openOrCreate(location, rawSchema, {
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

/** Options of {@link cleanedSink}. */
export interface CleanedSinkOptions {
  /**
   * `--merge-schema`: orders' new scalar fields become new nullable columns of `orders_cleaned`
   * (and columns are widened where the table has `typeWidening`), in the commit of the rows that
   * bring them (evolve.ts). Without it such fields are ignored; columns the table already has
   * beyond the standard ones are filled either way.
   */
  mergeSchema?: boolean;
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
export async function cleanedSink(
  cleaned: string,
  deadLetters: string,
  opts: CleanedSinkOptions = {},
): Promise<TableSink> {
  const mergeSchema = opts.mergeSchema ?? false;
  // A new table stores money as decimal(12,2); an existing one keeps its own money types.
  // `opened`: the table as opened, for a build called without the engine's snapshots (evolve.ts).
  const { table: c, snapshot: opened } = await openOrCreate(cleaned, cleanedSchema, {
    name: "orders_cleaned",
    description: "Valid orders, one row per line item, with Kafka lineage (silver)",
  }, (fields) => cleanedSchemaFor(tableMoney(fields)));
  const money = tableMoney(opened.schema.fields);
  const { table: d } = await openOrCreate(deadLetters, deadLetterSchema, {
    name: "orders_dead_letters",
    description: "Kafka records that are not valid orders, with the reason",
  });
  return {
    spec: { module: import.meta.url, kind: "cleaned", table: cleaned, deadLetters, mergeSchema },
    targets: [
      { name: tableName(cleaned, "orders_cleaned"), table: c, mergeSchema },
      { name: tableName(deadLetters, "orders_dead_letters"), table: d },
    ],
    build(chunks, from, constraints, snapshot) {
      const now = Date.now();
      // Extra fields of the orders (schema evolution, evolve.ts), judged against the table as of
      // this batch: a field that does not fit its column makes the order a schema_mismatch.
      const snap = snapshot?.(0) ?? opened;
      const evolution = new Evolution(snap.schema, CLEANED_COLUMNS, {
        mergeSchema,
        typeWidening: typeWideningEnabled(snap.protocol, snap.configuration),
      });
      // Valid orders are decoded straight into the cleaned table's columns (decode.ts), a record
      // batch every BATCH_ORDERS orders; the decoder hands back parseOrder's verdict on the rest.
      const decoder = new OrderDecoder(now, {
        money,
        admit: (o, row) => evolution.admit(o, row),
      });
      const take = () => {
        const batch = decoder.take();
        evolution.cut(batch.numRows);
        return batch;
      };
      const batches: RecordBatch[] = [];
      const bad: DeadLetter[] = [];
      // Valid orders whose rows are already in orders_cleaned but whose dead letter may still be
      // due (a replay after a crash between the two tables): judged on the constraints below.
      const replayed: OrderRecord[] = [];
      const checks = constraints?.(0) ?? [];
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
            if (decoder.orders >= BATCH_ORDERS) batches.push(take());
          } else {
            // Only its dead letter is still to write (a replay after a crash): the verdict alone.
            const r = decoder.verdict(m.value);
            failure = r.ok ? evolution.admit(r.order) : r;
            if (r.ok && failure === undefined && checks.length > 0) {
              replayed.push({
                order: r.order,
                partition: chunk.partition,
                offset: m.offset,
                timestampMs: Number(m.timestamp),
              });
            }
          }
          if (failure !== undefined && needBad) {
            bad.push(deadLetter(chunk.topic, chunk.partition, m, failure));
          }
        }
      }
      if (decoder.orders > 0) batches.push(take());
      const evolved = evolution.finish(batches);
      let cleaned = evolved.length > 0
        ? new Table(evolved[0].schema, evolved)
        : flattenOrders([], now, money);
      // CHECK constraints of orders_cleaned: an order with any violating line-item row goes
      // whole to the dead letters (its one Kafka record), never in part to orders_cleaned.
      const rejected = new Map<string, string>();
      if (checks.length > 0) {
        cleaned = withoutViolations(cleaned, checks, rejected, now, money);
        if (replayed.length > 0) {
          withoutViolations(flattenOrders(replayed, now, money), checks, rejected, now, money);
        }
      }
      if (rejected.size > 0) {
        for (const chunk of chunks) {
          const fromBad = from(1, chunk.partition);
          for (const m of chunk.messages) {
            const error = rejected.get(recordKey(chunk.partition, m.offset));
            if (error === undefined || Number(m.offset) < fromBad) continue;
            bad.push(deadLetter(chunk.topic, chunk.partition, m, {
              reason: "constraint_violated",
              message: error,
            }));
          }
        }
      }
      return {
        tables: [cleaned, deadLetterTable(bad, now)],
        deadLetters: bad.length,
      };
    },
  };
}

/** The dead letter of one record (its exact key and value, coordinates, reason and message). */
function deadLetter(
  topic: string,
  partition: number,
  m: RawChunk["messages"][number],
  failure: { reason: ReasonCode; message: string; field?: string },
): DeadLetter {
  return {
    key: m.key ?? null,
    value: m.value ?? null,
    topic,
    partition,
    offset: m.offset,
    timestampMs: Number(m.timestamp),
    reason: failure.reason,
    error: failure.message,
    field: failure.field,
  };
}

/** The key of a Kafka record in {@link withoutViolations}' map: partition and offset. */
function recordKey(partition: number, offset: string | bigint | number): string {
  return `${partition}:${BigInt(offset)}`;
}

/**
 * `cleaned` without the rows of every order (Kafka record) that has a row violating one of
 * `checks`; each such record's key goes into `rejected` with the first violation's one-line
 * message (Spark's `CHECK constraint <name> (<expr>) violated by row with values: …`). An
 * order's rows are consecutive, so the rows kept are zero-copy slices of the batches.
 */
function withoutViolations(
  cleaned: Table,
  checks: readonly TableConstraint[],
  rejected: Map<string, string>,
  now: number,
  money: CleanedMoney,
): Table {
  const violations = constraintViolations(checks, cleaned);
  if (violations.length === 0) return cleaned;
  const partition = cleaned.getChild("kafka_partition")!;
  const offset = cleaned.getChild("kafka_offset")!;
  const mine = new Set<string>();
  for (const v of violations) {
    const key = recordKey(partition.get(v.row) as number, offset.get(v.row) as bigint);
    mine.add(key);
    if (!rejected.has(key)) rejected.set(key, v.message);
  }
  const kept: RecordBatch[] = [];
  for (const batch of cleaned.batches) {
    const p = batch.getChild("kafka_partition")!;
    const o = batch.getChild("kafka_offset")!;
    let start = 0;
    for (let i = 0; i <= batch.numRows; i++) {
      if (i < batch.numRows && !mine.has(recordKey(p.get(i) as number, o.get(i) as bigint))) {
        continue;
      }
      if (i > start) kept.push(batch.slice(start, i));
      start = i + 1;
    }
  }
  return kept.length > 0 ? new Table(cleaned.schema, kept) : flattenOrders([], now, money);
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
    : cleanedSink(spec.table as string, spec.deadLetters as string, {
      mergeSchema: spec.mergeSchema === true,
    });
}

/**
 * The table at `location` with `schema`: created when missing; an existing table lacking some of
 * the schema's (nullable) columns gains them first (the columns of `fit`'s schema when given: the
 * schema the table's own fields call for). Returns the table and its snapshot as opened.
 */
async function openOrCreate(
  location: string,
  schema: Schema,
  opts: CreateTableOptions,
  fit?: (fields: readonly StructField[]) => Schema,
): Promise<{ table: DeltaTable; snapshot: Snapshot }> {
  const table = await createTable(location, schema, { ...opts, ifNotExists: true });
  let snap = await table.snapshot();
  if (await addColumns(table.storage, fit ? fit(snap.schema.fields) : schema)) {
    snap = await table.snapshot();
  }
  // A CHECK constraint outside the SQL subset we enforce is refused now, by name, not at the
  // first batch.
  tableConstraints(snap.configuration, snap.schema, table.storage.url);
  return { table, snapshot: snap };
}

/**
 * The money types of an existing orders_cleaned (its `price` and `subtotal` columns), or a
 * one-line error naming a column whose type cannot take money.
 */
function tableMoney(fields: readonly StructField[]): CleanedMoney {
  const typeOf = (name: string) => fields.find((f) => f.name === name)?.type;
  return {
    price: moneyType(typeOf("price"), "price"),
    subtotal: moneyType(typeOf("subtotal"), "subtotal"),
  };
}

/** The last path segment of a location, or the fallback. */
function tableName(location: string, fallback: string): string {
  return location.replace(/\/+$/, "").split("/").at(-1) || fallback;
}
