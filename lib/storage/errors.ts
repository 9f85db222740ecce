/**
 * Typed errors raised by the storage layer.
 *
 * @module
 */
import { UserError } from "../errors.ts";

/** A file that was asked for does not exist; check the path or the table location. */
export class NotFoundError extends UserError {
  override name = "NotFoundError";
  /** Path (relative to the storage root) that was not found. */
  readonly path: string;
  /** Create the error for `path` under `root`. */
  constructor(path: string, root: string, options?: ErrorOptions) {
    super(`file '${path}' does not exist under '${root}'`, options);
    this.path = path;
  }
}

/** A storage operation failed for a reason other than a missing file (permissions, disk, network). */
export class StorageError extends UserError {
  override name = "StorageError";
}

/** The location's URL scheme has no storage implementation yet; use a plain path or file:// URL. */
export class UnsupportedSchemeError extends UserError {
  override name = "UnsupportedSchemeError";
}
