/**
 * URL helpers private to lib/storage.
 *
 * @module
 */
import { fileURLToPath } from "node:url";

/** Convert a file:// URL to a local path, without a trailing slash. */
export function fromFileUrl(url: string): string {
  return fileURLToPath(url).replace(/(.)\/+$/, "$1");
}
