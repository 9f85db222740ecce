/**
 * Follows a Delta table as the streams write it: the first poll reads the live files of the
 * latest snapshot; every later poll reads only the commits after the last one it saw
 * (lib/delta/changes.ts, no log listing) and the files they added with new rows. Compaction's
 * rewrites (`dataChange: false`) are skipped: their rows were read already.
 *
 * What a poll found is said in one word (`missing`, `empty`, `rows`, `reset`, `error`) with a
 * message a page can show; a poll never throws.
 *
 * @module
 */
import type { Table } from "apache-arrow";
import { commitsAfter } from "../delta/changes.ts";
import { TableNotFoundError } from "../delta/errors.ts";
import { commitPath } from "../delta/log.ts";
import { scanFiles } from "../delta/scan.ts";
import { parseSchemaString, type StructType } from "../delta/schema.ts";
import { loadSnapshot } from "../delta/snapshot.ts";
import { openStorage } from "../storage/mod.ts";
import type { Storage } from "../storage/storage.ts";

/** What one poll of a table found. */
export type TailPoll =
  | { kind: "missing"; message: string }
  | { kind: "error"; message: string }
  | {
    /** `reset`: the table was (re)read from its snapshot: drop what came before, then add. */
    kind: "rows" | "reset";
    /** One Arrow table per data file read (the new rows). */
    tables: Table[];
    /** Table version now. */
    version: number;
    /** Commit time of that version (ms), when known. */
    committedAt: number | undefined;
    /** Commits read by this poll. */
    commits: number;
  };

/** Where a follower is. */
export interface TailStatus {
  /** The table location. */
  location: string;
  /** Last version read, or undefined before the table was found. */
  version: number | undefined;
  /** Rows read in all (since the last reset). */
  rows: number;
  /** Data files read in all. */
  files: number;
}

/**
 * Follows one table; `columns` are the columns read from each file.
 *
 * @example
 * ```ts
 * import * as arrow from "apache-arrow";
 * import { createTable } from "../delta/table.ts";
 * import { TableTail } from "./tail.ts";
 * const dir = await Deno.makeTempDir();
 * const tail = new TableTail(`${dir}/t`, ["id"]);
 * (await tail.poll()).kind; // "missing": no table yet
 * const rows = arrow.tableFromArrays({ id: new BigInt64Array([1n, 2n]) });
 * const t = await createTable(`${dir}/t`, rows.schema);
 * await t.append(rows);
 * const first = await tail.poll(); // kind "reset", the table's two rows
 * await t.append(rows);
 * const next = await tail.poll(); // kind "rows": only the two new ones
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export class TableTail {
  readonly location: string;
  readonly #storage: Storage;
  readonly #columns: string[];
  #version: number | undefined;
  #schema: StructType | undefined;
  #partitionColumns: string[] = [];
  #rows = 0;
  #files = 0;

  constructor(location: string, columns: readonly string[]) {
    this.location = location;
    this.#storage = openStorage(location);
    this.#columns = [...columns];
  }

  /** Where it is. */
  status(): TailStatus {
    return {
      location: this.location,
      version: this.#version,
      rows: this.#rows,
      files: this.#files,
    };
  }

  /** Reads what is new; never throws. */
  async poll(): Promise<TailPoll> {
    try {
      if (this.#version === undefined) return await this.#load();
      const changes = await commitsAfter(this.#storage, this.#version);
      if (changes.length === 0) {
        // Still there? (A deleted or replaced table is read again from its snapshot.)
        if (!(await this.#storage.head(commitPath(this.#version)))) return await this.#load();
        return {
          kind: "rows",
          tables: [],
          version: this.#version,
          committedAt: undefined,
          commits: 0,
        };
      }
      // Rows deleted or rewritten as a data change: the running figures cannot be corrected
      // in place, so the table is read again.
      if (changes.some((c) => c.removed.length > 0)) return await this.#load();
      const tables: Table[] = [];
      let rows = 0;
      for (const c of changes) {
        if (c.metadata) {
          this.#schema = parseSchemaString(c.metadata.schemaString);
          this.#partitionColumns = c.metadata.partitionColumns ?? [];
        }
        if (c.added.length === 0) continue;
        for await (
          const t of scanFiles(this.#storage, c.added, this.#schema!, this.#partitionColumns, {
            columns: this.#columns,
          })
        ) {
          tables.push(t);
          rows += t.numRows;
        }
      }
      const last = changes.at(-1)!;
      this.#version = last.version;
      this.#rows += rows;
      this.#files += tables.length;
      return {
        kind: "rows",
        tables,
        version: last.version,
        committedAt: last.timestamp,
        commits: changes.length,
      };
    } catch (e) {
      return this.#failed(e);
    }
  }

  async #load(): Promise<TailPoll> {
    this.#version = undefined;
    this.#rows = 0;
    this.#files = 0;
    const snap = await loadSnapshot(this.#storage);
    this.#schema = snap.schema;
    this.#partitionColumns = snap.partitionColumns;
    const tables: Table[] = [];
    for await (
      const t of scanFiles(this.#storage, snap.files, snap.schema, snap.partitionColumns, {
        columns: this.#columns,
      })
    ) {
      tables.push(t);
      this.#rows += t.numRows;
      this.#files++;
    }
    this.#version = snap.version;
    return {
      kind: "reset",
      tables,
      version: snap.version,
      committedAt: snap.commitTimestamps.get(snap.version),
      commits: 1,
    };
  }

  #failed(e: unknown): TailPoll {
    if (e instanceof TableNotFoundError) {
      this.#version = undefined;
      return { kind: "missing", message: `no Delta table at ${this.location} yet` };
    }
    const msg = (e as Error)?.message ?? String(e);
    return { kind: "error", message: msg.split("\n")[0] };
  }
}
