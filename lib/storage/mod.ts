/**
 * Storage for table locations: `openStorage(location)` picks the implementation by URL scheme.
 *
 * @module
 */
import { fromFileUrl } from "./_url.ts";
import { UnsupportedSchemeError } from "./errors.ts";
import { localStorage } from "./local.ts";
import type { Storage } from "./storage.ts";

export type { FileInfo, Storage } from "./storage.ts";
export { NotFoundError, StorageError, UnsupportedSchemeError } from "./errors.ts";
export { localStorage } from "./local.ts";

/**
 * Open storage for a table location: a plain path or a file:// URL (abfss:// comes with adls.ts).
 *
 * @example
 * ```ts
 * const storage = openStorage("file:///tmp/lakehouse/orders");
 * ```
 */
export function openStorage(location: string): Storage {
  const m = /^([a-zA-Z][a-zA-Z0-9+.-]*):\/\//.exec(location);
  const scheme = m ? m[1].toLowerCase() : "";
  switch (scheme) {
    case "":
      return localStorage(location.replace(/\/+$/, "") || "/", location);
    case "file":
      return localStorage(fromFileUrl(location), location);
    default:
      throw new UnsupportedSchemeError(
        `no storage for '${scheme}://' locations yet (in '${location}'); use a local path or file:// URL`,
      );
  }
}
