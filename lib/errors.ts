/**
 * The base of every error whose message is the whole story for a user: a notebook prints it as
 * one line (`error: <message>`) and exits with 2, without a stack trace. Anything else is a bug
 * or an unexpected failure and is shown with its class name.
 *
 * @module
 */

/**
 * An error that says what went wrong and what to do, in its message.
 *
 * @example
 * ```ts
 * import { UserError } from "./errors.ts";
 * class TopicMissing extends UserError {
 *   override name = "TopicMissing";
 * }
 * const e = new TopicMissing("topic 'x' does not exist; create it with deno task produce");
 * console.log(e instanceof UserError); // true
 * ```
 */
export class UserError extends Error {
  override name = "UserError";
}

/**
 * True when `error` is a {@link UserError}: its message can be shown to a user as it is.
 *
 * @example
 * ```ts
 * import { isUserError, UserError } from "./errors.ts";
 * isUserError(new UserError("bad flag")); // true
 * isUserError(new TypeError("x is undefined")); // false
 * ```
 */
export function isUserError(error: unknown): error is UserError {
  return error instanceof UserError;
}
