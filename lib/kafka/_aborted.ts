/**
 * read_committed for kafkajs 2.2.4 readers, where transactions interleave on a partition
 * (private to lib/kafka). A fetch response lists the partition's aborted transactions (producer
 * id, first offset); a reader must skip a producer's transactional records from that offset to
 * the producer's abort marker. kafkajs compares each record with the *first* remaining aborted
 * transaction only, so when the list is not in first-offset order, or a fetch starts inside
 * several aborted transactions, records of an aborted transaction get through: a copy of the
 * producer stream that was fenced mid-transaction could then be counted by a kafkajs reader.
 *
 * {@link installAbortedFilter} wraps kafkajs's fetch-response decoding so that each partition's
 * records are filtered here ({@link dropAborted}) and kafkajs is handed no aborted transactions
 * to filter again. Control records stay (kafkajs drops them itself).
 *
 * @module
 */
import { createRequire } from "node:module";

/** An aborted transaction as a fetch response lists it. */
export interface AbortedTransaction {
  /** Its producer id (decimal string). */
  producerId: string;
  /** Offset of its first record (decimal string). */
  firstOffset: string;
}

/** The fields of a fetched record the filter reads. */
export interface FetchedRecord {
  /** Offset (decimal string). */
  offset: string;
  /** Key bytes (a control record's key says abort or commit). */
  key: Uint8Array | null;
  /** A transaction marker. */
  isControlRecord?: boolean;
  /** Its record batch: producer and whether it is transactional. */
  batchContext?: { producerId: string; inTransaction: boolean };
}

/** A control record's key: version (int16) then type (int16), 0 = abort. */
function isAbortMarker(r: FetchedRecord): boolean {
  const k = r.key;
  return !!r.isControlRecord && !!k && k.length >= 4 && k[2] === 0 && k[3] === 0;
}

/**
 * The records of a partition's fetch without those of aborted transactions: in offset order,
 * a transaction is aborted for its producer from its first offset on, until that producer's
 * abort marker.
 *
 * @example
 * ```ts
 * import { dropAborted } from "./_aborted.ts";
 * const rec = (offset: number, producerId: string, control = false, abort = true) => ({
 *   offset: String(offset), key: control ? Uint8Array.of(0, 0, 0, abort ? 0 : 1) : null,
 *   isControlRecord: control, batchContext: { producerId, inTransaction: true } });
 * // Producers 7 and 8 interleave; both abort; the list is not in first-offset order.
 * const records = [rec(0, "7"), rec(1, "8"), rec(2, "7", true), rec(3, "9"), rec(4, "8", true)];
 * const kept = dropAborted(records, [
 *   { producerId: "8", firstOffset: "1" }, { producerId: "7", firstOffset: "0" }]);
 * kept.map((r) => r.offset); // ["2", "3", "4"]: the markers and producer 9's committed record
 * ```
 */
export function dropAborted<R extends FetchedRecord>(
  records: R[],
  aborted: AbortedTransaction[],
): R[] {
  if (aborted.length === 0) return records;
  const pending = aborted
    .map((a) => ({ producerId: String(a.producerId), first: BigInt(a.firstOffset) }))
    .sort((a, b) => (a.first < b.first ? -1 : a.first > b.first ? 1 : 0));
  const active = new Set<string>();
  let next = 0;
  return records.filter((r) => {
    const offset = BigInt(r.offset);
    while (next < pending.length && pending[next].first <= offset) {
      active.add(pending[next].producerId);
      next++;
    }
    const producer = String(r.batchContext?.producerId ?? "");
    if (isAbortMarker(r)) {
      active.delete(producer);
      return true;
    }
    return !(active.has(producer) && r.batchContext?.inTransaction && !r.isControlRecord);
  });
}

let installed = false;

/**
 * Makes every kafkajs fetch in this process filter aborted transactions with
 * {@link dropAborted} (idempotent). Call it before the first consumer fetches.
 */
export function installAbortedFilter(): void {
  if (installed) return;
  installed = true;
  const require = createRequire(import.meta.url);
  // The fetch versions whose responses list aborted transactions (each has its own exports).
  for (let v = 4; v <= 11; v++) {
    let mod: { decode?: (raw: unknown) => Promise<FetchResponse> };
    try {
      mod = require(`kafkajs/src/protocol/requests/fetch/v${v}/response.js`);
    } catch {
      continue;
    }
    const decode = mod.decode;
    if (typeof decode !== "function") continue;
    mod.decode = async (raw: unknown) => {
      const data = await decode(raw);
      for (const topic of data.responses ?? []) {
        for (const p of topic.partitions ?? []) {
          if (!p.abortedTransactions?.length) continue;
          p.messages = dropAborted(p.messages ?? [], p.abortedTransactions);
          p.abortedTransactions = [];
        }
      }
      return data;
    };
  }
}

/** The part of a decoded fetch response the filter rewrites. */
interface FetchResponse {
  responses?: {
    partitions?: { abortedTransactions?: AbortedTransaction[]; messages?: FetchedRecord[] }[];
  }[];
}
