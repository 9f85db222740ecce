/**
 * Typed errors of the ADLS Gen2 storage (re-exported by adls.ts and mod.ts).
 *
 * @module
 */
import { StorageError } from "./errors.ts";

/** The identity may not do this (HTTP 403): grant it the role named in the message. */
export class AdlsPermissionError extends StorageError {
  override name = "AdlsPermissionError";
}

/** The filesystem (container) of the location does not exist: create it or fix the location. */
export class AdlsFilesystemNotFoundError extends StorageError {
  override name = "AdlsFilesystemNotFoundError";
}

/** No usable credential, or the service rejected it (401/403 AuthenticationFailed): fix the env. */
export class AdlsAuthenticationError extends StorageError {
  override name = "AdlsAuthenticationError";
}

/** The location is not a valid abfss:// or https://<account>.dfs.<suffix>/ URL. */
export class AdlsLocationError extends StorageError {
  override name = "AdlsLocationError";
}
