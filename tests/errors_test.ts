/**
 * One error hierarchy: every user-facing error class of lib/ is a UserError (its message is the
 * whole story), every Delta error a DeltaError, and each keeps its class name as `name`.
 */
import assert from "node:assert/strict";
import { ConfigError } from "../lib/config.ts";
import { UsageError } from "../lib/delta/cli.ts";
import { ActionParseError } from "../lib/delta/actions.ts";
import { DeletionVectorError } from "../lib/delta/_deletion_vector.ts";
import {
  AppendOnlyError,
  CommitRetriesExhaustedError,
  ConcurrentModificationError,
  CorruptLogError,
  DeltaError,
  SchemaMismatchError,
  TableExistsError,
  TableNotFoundError,
  TxnConflictError,
  UnsupportedFeatureError,
  VersionNotFoundError,
} from "../lib/delta/errors.ts";
import { ParquetError } from "../lib/delta/parquet.ts";
import { PartitionError } from "../lib/delta/partition_value.ts";
import { ScanError } from "../lib/delta/scan.ts";
import { SchemaError } from "../lib/delta/schema.ts";
import { RetentionTooShortError } from "../lib/delta/vacuum.ts";
import { isUserError, UserError } from "../lib/errors.ts";
import { FencedError, KafkaUnavailableError, TopicNotFoundError } from "../lib/kafka/errors.ts";
import { OffsetSpecError } from "../lib/kafka/source.ts";
import { RetailDbError } from "../lib/orders/generate.ts";
import {
  AdlsAuthenticationError,
  AdlsFilesystemNotFoundError,
  AdlsLocationError,
  AdlsPermissionError,
} from "../lib/storage/_adls_errors.ts";
import { NotFoundError, StorageError, UnsupportedSchemeError } from "../lib/storage/errors.ts";

const DELTA: [DeltaError, string][] = [
  [new DeltaError("x"), "DeltaError"],
  [new TableExistsError("x"), "TableExistsError"],
  [new TableNotFoundError("x"), "TableNotFoundError"],
  [new CorruptLogError("_delta_log/00.json", "truncated"), "CorruptLogError"],
  [new UnsupportedFeatureError("deletionVectors", "write", "t"), "UnsupportedFeatureError"],
  [new SchemaMismatchError("id", "x"), "SchemaMismatchError"],
  [new AppendOnlyError("x"), "AppendOnlyError"],
  [new ConcurrentModificationError("x", 3), "ConcurrentModificationError"],
  [new TxnConflictError("app", 1, 2), "TxnConflictError"],
  [new CommitRetriesExhaustedError("x"), "CommitRetriesExhaustedError"],
  [new VersionNotFoundError("x"), "VersionNotFoundError"],
  [new RetentionTooShortError("x"), "RetentionTooShortError"],
  [new SchemaError("x"), "SchemaError"],
  [new PartitionError("x"), "PartitionError"],
  [new ParquetError("x"), "ParquetError"],
  [new ScanError("x"), "ScanError"],
  [new ActionParseError(3, "not JSON"), "ActionParseError"],
  [new DeletionVectorError("x"), "DeletionVectorError"],
];

const USER: [Error, string][] = [
  ...DELTA,
  [new UsageError("x"), "UsageError"],
  [new ConfigError("x"), "ConfigError"],
  [new OffsetSpecError("x"), "OffsetSpecError"],
  [new TopicNotFoundError("x"), "TopicNotFoundError"],
  [new KafkaUnavailableError("x"), "KafkaUnavailableError"],
  [new FencedError("x"), "FencedError"],
  [new NotFoundError("a.json", "/t"), "NotFoundError"],
  [new StorageError("x"), "StorageError"],
  [new UnsupportedSchemeError("x"), "UnsupportedSchemeError"],
  [new AdlsPermissionError("x"), "AdlsPermissionError"],
  [new AdlsFilesystemNotFoundError("x"), "AdlsFilesystemNotFoundError"],
  [new AdlsAuthenticationError("x"), "AdlsAuthenticationError"],
  [new AdlsLocationError("x"), "AdlsLocationError"],
  [new RetailDbError("x"), "RetailDbError"],
];

Deno.test("every user-facing error is a UserError and keeps its class name", () => {
  for (const [e, name] of USER) {
    assert.ok(e instanceof UserError, name);
    assert.ok(isUserError(e), name);
    assert.equal(e.name, name);
    assert.equal(e.constructor.name, name);
  }
});

Deno.test("every Delta error is a DeltaError", () => {
  for (const [e, name] of DELTA) assert.ok(e instanceof DeltaError, name);
});

Deno.test("constructors keep their messages and fields", () => {
  const parse = new ActionParseError(3, "not JSON");
  assert.equal(parse.message, "line 3: not JSON");
  assert.equal(parse.line, 3);
  const missing = new NotFoundError("a.json", "/t");
  assert.equal(missing.message, "file 'a.json' does not exist under '/t'");
  assert.equal(missing.path, "a.json");
  const cause = new Error("EACCES");
  assert.equal(new StorageError("cannot write", { cause }).cause, cause);
  assert.equal(new CorruptLogError("f.json", "truncated").file, "f.json");
});

Deno.test("bugs are not UserErrors", () => {
  for (const e of [new Error("x"), new TypeError("x"), new RangeError("x"), "x", undefined]) {
    assert.equal(isUserError(e), false, String(e));
  }
});
