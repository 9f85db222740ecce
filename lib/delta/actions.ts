/**
 * Delta log actions as plain typed records mirroring the protocol one to one, and their
 * newline-delimited JSON form (int64 values beyond 2^53 are kept exact as bigint).
 *
 * @module
 */
import { DeltaError } from "./errors.ts";

/** An int64 from the log: a number when it fits a double exactly, else a bigint. */
export type Long = number | bigint;

/** `protocol`: reader/writer versions and, on (3,7) tables, feature lists. */
export interface Protocol {
  minReaderVersion: number;
  minWriterVersion: number;
  readerFeatures?: string[];
  writerFeatures?: string[];
}

/** `metaData.format`: the data file format (always parquet). */
export interface Format {
  provider: string;
  options: Record<string, string>;
}

/** `metaData`: table id, schema, partition columns and properties. */
export interface Metadata {
  id: string;
  name?: string | null;
  description?: string | null;
  format: Format;
  schemaString: string;
  partitionColumns: string[];
  configuration: Record<string, string>;
  createdTime?: number | null;
}

/** `add`: a data file that is part of the table from this version on. */
export interface AddAction {
  path: string;
  partitionValues: Record<string, string | null>;
  size: number;
  modificationTime: number;
  dataChange: boolean;
  stats?: string | null;
  tags?: Record<string, string> | null;
  deletionVector?: unknown;
  baseRowId?: Long | null;
  defaultRowCommitVersion?: Long | null;
  clusteringProvider?: string | null;
}

/** `remove`: a data file that leaves the table (kept as a tombstone until it expires). */
export interface RemoveAction {
  path: string;
  deletionTimestamp?: number | null;
  dataChange: boolean;
  extendedFileMetadata?: boolean | null;
  partitionValues?: Record<string, string | null> | null;
  size?: number | null;
  stats?: string | null;
  tags?: Record<string, string> | null;
  deletionVector?: unknown;
  /** Row tracking: the baseRowId of the add this removes. */
  baseRowId?: Long | null;
  /** Row tracking: the defaultRowCommitVersion of the add this removes. */
  defaultRowCommitVersion?: Long | null;
}

/** `domainMetadata`: a named domain's configuration (e.g. `delta.clustering`); removed = tombstone. */
export interface DomainMetadata {
  domain: string;
  configuration: string;
  removed: boolean;
}

/**
 * The `remove` of a live file: its path, partition values, size and, as the protocol requires for
 * a file with a deletion vector, the same `deletionVector` descriptor (the pair is the logical file);
 * with row tracking, the add's `baseRowId` and `defaultRowCommitVersion`.
 *
 * @example
 * ```ts
 * import { removeOf } from "./actions.ts";
 * const add = { path: "a.parquet", partitionValues: {}, size: 10, modificationTime: 0, dataChange: true };
 * removeOf(add, 1000, false); // { path: "a.parquet", deletionTimestamp: 1000, dataChange: false, … }
 * ```
 */
export function removeOf(add: AddAction, timestamp: number, dataChange: boolean): RemoveAction {
  const r: RemoveAction = {
    path: add.path,
    deletionTimestamp: timestamp,
    dataChange,
    extendedFileMetadata: true,
    partitionValues: add.partitionValues,
    size: add.size,
  };
  if (add.deletionVector !== undefined && add.deletionVector !== null) {
    const dv = { ...(add.deletionVector as Record<string, unknown>) };
    for (const k of Object.keys(dv)) if (dv[k] === null) delete dv[k];
    r.deletionVector = dv;
  }
  if (add.baseRowId !== undefined && add.baseRowId !== null) r.baseRowId = add.baseRowId;
  if (add.defaultRowCommitVersion !== undefined && add.defaultRowCommitVersion !== null) {
    r.defaultRowCommitVersion = add.defaultRowCommitVersion;
  }
  return r;
}

/** `txn`: an application's transaction version (e.g. the last Kafka offset it committed). */
export interface Txn {
  appId: string;
  version: Long;
  lastUpdated?: number | null;
}

/** `commitInfo`: provenance of a commit (operation, parameters, metrics, engine, txnId). */
export interface CommitInfo {
  timestamp?: number;
  operation?: string;
  operationParameters?: Record<string, string>;
  readVersion?: number;
  isolationLevel?: string;
  isBlindAppend?: boolean;
  operationMetrics?: Record<string, string>;
  engineInfo?: string;
  txnId?: string;
  [key: string]: unknown;
  /** When the table has in-commit timestamps: the commit time (ms), monotonic across commits. */
  inCommitTimestamp?: number;
}

/** `checkpointMetadata`: the first action of a V2 spec checkpoint (never in commits). */
export interface CheckpointMetadata {
  /** The checkpoint's table version. */
  version: Long;
  tags?: Record<string, string> | null;
}

/** `sidecar`: a Parquet file in `_delta_log/_sidecars/` holding a V2 checkpoint's file actions. */
export interface SidecarAction {
  /** The file name (URI-encoded; the protocol recommends no directories). */
  path: string;
  sizeInBytes: Long;
  modificationTime: Long;
  tags?: Record<string, string> | null;
}

/** One log action: an object with exactly one key naming its kind. Unknown kinds are kept as read. */
export type Action =
  | { protocol: Protocol }
  | { metaData: Metadata }
  | { add: AddAction }
  | { remove: RemoveAction }
  | { txn: Txn }
  | { commitInfo: CommitInfo }
  | { domainMetadata: DomainMetadata }
  | { checkpointMetadata: CheckpointMetadata }
  | { sidecar: SidecarAction }
  | { [other: string]: Record<string, unknown> };

/** Engine name written in commitInfo.engineInfo. */
export const ENGINE_INFO = "deno-retail-delta/0.1";

/** Thrown by {@link parseActions} for a line that is not one JSON action; the caller names the file. */
export class ActionParseError extends DeltaError {
  override name = "ActionParseError";
  /** 1-based line number of the bad line. */
  readonly line: number;
  /** Create the error for `line`. */
  constructor(line: number, message: string) {
    super(`line ${line}: ${message}`);
    this.line = line;
  }
}

const LONG_DIGITS = /\d{16}/;

function reviveLong(_key: string, value: unknown, ctx?: { source?: string }): unknown {
  if (
    typeof value === "number" && !Number.isSafeInteger(value) && ctx?.source &&
    /^-?\d+$/.test(ctx.source)
  ) {
    return BigInt(ctx.source);
  }
  return value;
}

/** Parse one JSON value, keeping integers beyond 2^53 exact as bigint. */
export function parseJsonLong(text: string): unknown {
  // The reviver (with source text access) is only needed when a long digit run is present.
  return LONG_DIGITS.test(text)
    ? JSON.parse(text, reviveLong as (k: string, v: unknown) => unknown)
    : JSON.parse(text);
}

/** Serialize a value as JSON, writing bigint values as exact integer literals. */
export function stringifyJsonLong(value: unknown): string {
  return JSON.stringify(
    value,
    (_k, v) =>
      typeof v === "bigint"
        ? (JSON as unknown as { rawJSON(s: string): unknown }).rawJSON(v.toString())
        : v,
  );
}

/**
 * Parse the newline-delimited actions of a commit file; empty lines are skipped.
 *
 * @example
 * ```ts
 * import { parseActions } from "./actions.ts";
 * const actions = parseActions('{"txn":{"appId":"a","version":12345678901234567890}}\n');
 * // actions[0] is { txn: { appId: "a", version: 12345678901234567890n } }
 * ```
 */
export function parseActions(text: string): Action[] {
  const out: Action[] = [];
  const lines = text.split("\n");
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i].trim();
    if (line === "") continue;
    let v: unknown;
    try {
      v = parseJsonLong(line);
    } catch (e) {
      throw new ActionParseError(i + 1, `not valid JSON (truncated?): ${(e as Error).message}`);
    }
    if (v === null || typeof v !== "object" || Array.isArray(v) || Object.keys(v).length === 0) {
      throw new ActionParseError(i + 1, "not a JSON object with one action key");
    }
    out.push(v as Action);
  }
  return out;
}

/** Serialize actions as newline-delimited JSON (one action per line, trailing newline). */
export function serializeActions(actions: Action[]): string {
  return actions.map((a) => stringifyJsonLong(a)).join("\n") + "\n";
}

/** The kind of an action: its single key (`add`, `remove`, `txn`, …). */
export function actionKind(a: Action): string {
  for (const k in a) return k;
  return "";
}

/** Compare two int64 values exactly (numbers and bigints mixed). */
export function sameLong(a: Long | undefined | null, b: Long | undefined | null): boolean {
  if (a === undefined || a === null || b === undefined || b === null) {
    return (a ?? undefined) === (b ?? undefined);
  }
  return BigInt(a) === BigInt(b);
}

/** Normalize an int64 to a number when exact, else a bigint. */
export function toLong(v: Long | string): Long {
  const b = BigInt(v);
  return b >= BigInt(Number.MIN_SAFE_INTEGER) && b <= BigInt(Number.MAX_SAFE_INTEGER)
    ? Number(b)
    : b;
}
