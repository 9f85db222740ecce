/**
 * The storage interface every table location implements (local directory now, ADLS Gen2 later).
 *
 * @module
 */

/** One stored file: its path relative to the storage root ('/'-separated), size and mtime (ms). */
export interface FileInfo {
  /** Path relative to the root, '/'-separated, no leading slash. */
  path: string;
  /** Size in bytes. */
  size: number;
  /** Last modification time, milliseconds since the epoch. */
  lastModified: number;
}

/**
 * Byte storage rooted at a table location; paths are relative to that root and '/'-separated.
 *
 * @example
 * ```ts
 * import { openStorage } from "./mod.ts";
 * const dir = await Deno.makeTempDir();
 * const storage = openStorage(dir);
 * const commit0 = new TextEncoder().encode('{"commitInfo":{}}\n');
 * await storage.putIfAbsent("_delta_log/00000000000000000000.json", commit0); // true: created
 * await storage.putIfAbsent("_delta_log/00000000000000000000.json", commit0); // false: taken
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export interface Storage {
  /** Table root as given (path or URL). */
  readonly url: string;
  /** Read a whole file; throws NotFoundError when it does not exist. */
  get(path: string): Promise<Uint8Array>;
  /** Read bytes [start, end) of a file; throws NotFoundError when it does not exist. */
  getRange(path: string, start: number, end: number): Promise<Uint8Array>;
  /** File info, or undefined when the file does not exist. */
  head(path: string): Promise<FileInfo | undefined>;
  /** Write a file atomically (readers see the old or the new content, never a part); parents are created. */
  put(path: string, data: Uint8Array): Promise<void>;
  /** Create a file only if the name is free: true = created, false = it already existed. Atomic. */
  putIfAbsent(path: string, data: Uint8Array): Promise<boolean>;
  /** Every file under a prefix (recursive), sorted by path. */
  list(prefix: string): Promise<FileInfo[]>;
  /** Delete a file; a missing file is fine. */
  delete(path: string): Promise<void>;
}
