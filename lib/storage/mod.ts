/**
 * Storage for table locations: `openStorage(location)` picks the implementation by URL scheme.
 *
 * @module
 */
import { fromFileUrl } from "./_url.ts";
import { adlsStorage } from "./adls.ts";
import { UnsupportedSchemeError } from "./errors.ts";
import { localStorage } from "./local.ts";
import type { Storage } from "./storage.ts";

export type { FileInfo, Storage } from "./storage.ts";
export { NotFoundError, StorageError, UnsupportedSchemeError } from "./errors.ts";
export { localStorage } from "./local.ts";
export {
  AdlsAuthenticationError,
  AdlsFilesystemNotFoundError,
  AdlsLocationError,
  AdlsPermissionError,
  adlsStorage,
} from "./adls.ts";

/**
 * Open storage for a table location: a plain path, a file:// URL, or ADLS Gen2
 * (`abfss://<fs>@<account>.dfs.core.windows.net/<path>` or `https://<account>.dfs.core.windows.net/<fs>/<path>`).
 *
 * @example
 * ```ts
 * import { openStorage } from "./mod.ts";
 * const local = openStorage("file:///tmp/lakehouse/orders"); // a local folder, made on first write
 * const adls = openStorage("abfss://lake@myaccount.dfs.core.windows.net/tables/orders"); // ADLS Gen2
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
    case "abfss":
    case "abfs":
      return adlsStorage(location);
    case "https":
      if (/^https:\/\/[^/]+\.dfs\./i.test(location)) return adlsStorage(location);
      break;
  }
  throw new UnsupportedSchemeError(
    `no storage for '${scheme}://' locations (in '${location}'); use a local path, a file:// URL ` +
      `or an ADLS Gen2 location (abfss://<filesystem>@<account>.dfs.core.windows.net/<path>)`,
  );
}
