/**
 * Arrow helpers at the bottom floor of lib/ (imports only apache-arrow): the column builders
 * of the hot paths.
 *
 * @example
 * ```ts
 * import { utf8FromStrings } from "./mod.ts";
 * utf8FromStrings(["a", null]).nullCount; // 1
 * ```
 *
 * @module
 */
export * from "./columns.ts";
