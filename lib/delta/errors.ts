/**
 * Typed errors of the Delta table layer; each message says what happened and what to do.
 *
 * @module
 */
import { UserError } from "../errors.ts";

/**
 * Base class of every Delta error, so callers can catch them all at once; a {@link UserError}:
 * its message says what happened and what to do.
 */
export class DeltaError extends UserError {
  override name = "DeltaError";
}

/** createTable found a table already there (pass `ifNotExists: true` to open it instead). */
export class TableExistsError extends DeltaError {
  override name = "TableExistsError";
}

/** No Delta table (no `_delta_log/*.json`) at the location; create it first. */
export class TableNotFoundError extends DeltaError {
  override name = "TableNotFoundError";
}

/** A log file is damaged or missing (truncated JSON, version gap, unreadable checkpoint); names the file. */
export class CorruptLogError extends DeltaError {
  override name = "CorruptLogError";
  /** The log file (relative to the table root) at fault. */
  readonly file: string;
  /** Create the error for `file` with a reason. */
  constructor(file: string, reason: string, options?: ErrorOptions) {
    super(`damaged Delta log file '${file}': ${reason}`, options);
    this.file = file;
  }
}

/** The table needs a reader or writer feature (or protocol version) this library does not implement. */
export class UnsupportedFeatureError extends DeltaError {
  override name = "UnsupportedFeatureError";
  /** The feature (or "readerVersion N"/"writerVersion N") that is not supported. */
  readonly feature: string;
  /** Create the error naming `feature`; `access` is "read" or "write"; `message` replaces the default. */
  constructor(feature: string, access: "read" | "write", table: string, message?: string) {
    super(
      message ??
        `cannot ${access} Delta table '${table}': it requires '${feature}', which this library does not ` +
          `implement; use Spark or delta-rs for this table`,
    );
    this.feature = feature;
  }
}

/** Rows do not fit the table schema (wrong column, type or a null in a non-nullable column). */
export class SchemaMismatchError extends DeltaError {
  override name = "SchemaMismatchError";
  /** Column at fault. */
  readonly column: string;
  /** Row index at fault, when one row is to blame. */
  readonly row?: number;
  /** Create the error for `column` (and `row`). */
  constructor(column: string, message: string, row?: number) {
    super(message);
    this.column = column;
    this.row = row;
  }
}

/** The table is `delta.appendOnly=true`: overwrite/delete are refused; append instead. */
export class AppendOnlyError extends DeltaError {
  override name = "AppendOnlyError";
}

/** A concurrent commit makes ours invalid (protocol/metadata change, concurrent delete/append/txn). */
export class ConcurrentModificationError extends DeltaError {
  override name = "ConcurrentModificationError";
  /** The version of the conflicting (winning) commit. */
  readonly winningVersion: number;
  /** Create the error for the winning commit's version. */
  constructor(message: string, winningVersion: number) {
    super(
      `${message} (conflicting commit at version ${winningVersion}); re-read the table and retry`,
    );
    this.winningVersion = winningVersion;
  }
}

/** The table's txn version for an appId is not the one the writer expected (exactly-once check). */
export class TxnConflictError extends DeltaError {
  override name = "TxnConflictError";
  /** Application id whose version differs. */
  readonly appId: string;
  /** Version the writer expected (undefined = expected none). */
  readonly expected: bigint | number | undefined;
  /** Version found in the table (undefined = none). */
  readonly found: bigint | number | undefined;
  /** Create the error for `appId`. */
  constructor(
    appId: string,
    expected: bigint | number | undefined,
    found: bigint | number | undefined,
  ) {
    super(
      `txn conflict for appId '${appId}': expected version ${expected ?? "none"}, table has ` +
        `${
          found ?? "none"
        }; another writer committed for this appId — drop this batch and re-read offsets`,
    );
    this.appId = appId;
    this.expected = expected;
    this.found = found;
  }
}

/** The commit lost the race too many times; the table is under heavy contention, try again later. */
export class CommitRetriesExhaustedError extends DeltaError {
  override name = "CommitRetriesExhaustedError";
}

/** A requested version or timestamp is not in the table's retained history. */
export class VersionNotFoundError extends DeltaError {
  override name = "VersionNotFoundError";
}

/**
 * A CHECK constraint (`delta.constraints.<name>`) or column invariant (`delta.invariants`) of the
 * table uses SQL outside the subset this library evaluates (constraints.ts); names it and its text.
 */
export class UnsupportedConstraintError extends UnsupportedFeatureError {
  override name = "UnsupportedConstraintError";
  /** The constraint's name (for an invariant: the column path). */
  readonly constraint: string;
  /** Create the error for constraint `constraint` with the SQL `expression` and why it is refused. */
  constructor(table: string, constraint: string, expression: string, why: string) {
    super(
      "checkConstraints",
      "write",
      table,
      `cannot write Delta table '${table}': CHECK constraint ${constraint} (${
        oneLine(expression)
      }) is outside the SQL subset this writer enforces (${why}); write this table with Spark, ` +
        `or drop the constraint (ALTER TABLE … DROP CONSTRAINT ${constraint})`,
    );
    this.constraint = constraint;
  }
}

/**
 * A row violates a CHECK constraint or a column invariant: the write is refused whole (nothing
 * is committed). The message is Spark's (`CHECK constraint <name> (<expr>) violated by row with
 * values: …`) on one line, plus what to do.
 */
export class ConstraintViolationError extends DeltaError {
  override name = "ConstraintViolationError";
  /** The violated constraint's name (for an invariant: the column path). */
  readonly constraint: string;
  /** Index of the first violating row in the data given to the write. */
  readonly row: number;
  /** Create the error from the violation's one-line description. */
  constructor(constraint: string, row: number, description: string) {
    super(`${description} (row ${row} of the data); fix or drop that row, then write again`);
    this.constraint = constraint;
    this.row = row;
  }
}

/**
 * Collapse whitespace runs (newlines included) to one space, so a message stays on one line.
 *
 * @example
 * ```ts
 * import { oneLine } from "./errors.ts";
 * oneLine("a > 0\n  AND b < 1"); // "a > 0 AND b < 1"
 * ```
 */
export function oneLine(text: string): string {
  return text.replace(/\s+/g, " ").trim();
}
