/**
 * Classic single-file Parquet checkpoints (`<v>.checkpoint.parquet` + `_last_checkpoint`): the
 * reconciled table state at a version, in the column layout Spark and delta-rs use (PROTOCOL.md
 * "Checkpoint Schema"): top-level nullable structs `txn`, `add`, `remove`, `metaData`, `protocol`,
 * one non-null per row; `add.stats` stays a JSON string (no `stats_parsed`).
 *
 * @module
 */
import * as arrow from "apache-arrow";
import type { Storage } from "../storage/storage.ts";
import type {
  Action,
  AddAction,
  DomainMetadata,
  Long,
  Metadata,
  Protocol,
  RemoveAction,
  Txn,
} from "./actions.ts";
import type { Snapshot } from "./snapshot.ts";
import { toLong } from "./actions.ts";
import { CorruptLogError } from "./errors.ts";
import { checkpointPath, writeLastCheckpoint } from "./log.ts";
import { decodeParquet, encodeParquet } from "./parquet.ts";

/** Default number of commits between checkpoints (`delta.checkpointInterval`). */
export const DEFAULT_CHECKPOINT_INTERVAL = 10;

const str = () => new arrow.Utf8();
const i64 = () => new arrow.Int64();
const f = (name: string, type: arrow.DataType, nullable = true) =>
  new arrow.Field(name, type, nullable);
const strMap = () =>
  new arrow.Map_(
    new arrow.Field(
      "key_value",
      new arrow.Struct<{ key: arrow.Utf8; value: arrow.Utf8 }>([
        new arrow.Field("key", new arrow.Utf8(), false),
        new arrow.Field("value", new arrow.Utf8(), true),
      ]),
      false,
    ),
  );
const strList = () => new arrow.List(f("element", str(), true));

/**
 * The descriptor of a deletion vector (PROTOCOL.md "Deletion Vector Descriptor Schema").
 */
const dvStruct = () =>
  new arrow.Struct([
    f("storageType", str()),
    f("pathOrInlineDv", str()),
    f("offset", new arrow.Int32()),
    f("sizeInBytes", new arrow.Int32()),
    f("cardinality", i64()),
  ]);

/** Which optional columns a checkpoint carries, from the table's protocol. */
export interface CheckpointLayout {
  /** `add.deletionVector` and `remove.deletionVector` (feature deletionVectors). */
  deletionVectors?: boolean;
  /** The `domainMetadata` column (feature domainMetadata). */
  domainMetadata?: boolean;
  /** `add.clusteringProvider` (feature clustering). */
  clustering?: boolean;
  /** `baseRowId` and `defaultRowCommitVersion` of adds and removes (feature rowTracking). */
  rowTracking?: boolean;
}

/** The optional columns a table's protocol asks its checkpoints for. */
export function checkpointLayout(protocol: Protocol): CheckpointLayout {
  const features = [...(protocol.readerFeatures ?? []), ...(protocol.writerFeatures ?? [])];
  return {
    deletionVectors: features.includes("deletionVectors"),
    domainMetadata: features.includes("domainMetadata"),
    clustering: features.includes("clustering"),
    rowTracking: features.includes("rowTracking"),
  };
}

/** The Arrow schema of our checkpoint files (the optional columns per `layout`). */
export function checkpointSchema(layout: CheckpointLayout = {}): arrow.Schema {
  const dv = layout.deletionVectors ? [f("deletionVector", dvStruct())] : [];
  const rowIds = layout.rowTracking
    ? [f("baseRowId", i64()), f("defaultRowCommitVersion", i64())]
    : [];
  const domain = layout.domainMetadata
    ? [
      f(
        "domainMetadata",
        new arrow.Struct([
          f("domain", str()),
          f("configuration", str()),
          f("removed", new arrow.Bool()),
        ]),
      ),
    ]
    : [];
  return new arrow.Schema([
    f("txn", new arrow.Struct([f("appId", str()), f("version", i64()), f("lastUpdated", i64())])),
    f(
      "add",
      new arrow.Struct([
        f("path", str()),
        f("partitionValues", strMap()),
        f("size", i64()),
        f("modificationTime", i64()),
        f("dataChange", new arrow.Bool()),
        f("stats", str()),
        f("tags", strMap()),
        ...dv,
        ...rowIds,
        ...(layout.clustering ? [f("clusteringProvider", str())] : []),
      ]),
    ),
    f(
      "remove",
      new arrow.Struct([
        f("path", str()),
        f("deletionTimestamp", i64()),
        f("dataChange", new arrow.Bool()),
        f("extendedFileMetadata", new arrow.Bool()),
        f("partitionValues", strMap()),
        f("size", i64()),
        ...dv,
        ...rowIds,
      ]),
    ),
    f(
      "metaData",
      new arrow.Struct([
        f("id", str()),
        f("name", str()),
        f("description", str()),
        f("format", new arrow.Struct([f("provider", str()), f("options", strMap())])),
        f("schemaString", str()),
        f("partitionColumns", strList()),
        f("configuration", strMap()),
        f("createdTime", i64()),
      ]),
    ),
    f(
      "protocol",
      new arrow.Struct([
        f("minReaderVersion", new arrow.Int32()),
        f("minWriterVersion", new arrow.Int32()),
        f("readerFeatures", strList()),
        f("writerFeatures", strList()),
      ]),
    ),
    ...domain,
  ]);
}

/** The reconciled state a checkpoint holds. */
export interface CheckpointState {
  version: number;
  protocol: Protocol;
  metadata: Metadata;
  files: Iterable<AddAction>;
  tombstones: Iterable<RemoveAction>;
  txns: Iterable<Txn>;
  /** Live domain metadata (written when the protocol lists domainMetadata). */
  domainMetadata?: Iterable<DomainMetadata>;
}

/**
 * The state a checkpoint of `s` holds.
 *
 * @example
 * ```ts
 * import * as arrow from "apache-arrow";
 * import { checkpointStateOf, writeCheckpoint } from "./checkpoint.ts";
 * import { createTable } from "./table.ts";
 * const dir = await Deno.makeTempDir();
 * const t = await createTable(dir, new arrow.Schema([new arrow.Field("id", new arrow.Int64())]));
 * await writeCheckpoint(t.storage, checkpointStateOf(await t.snapshot()));
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export function checkpointStateOf(s: Snapshot): CheckpointState {
  return {
    version: s.version,
    protocol: s.protocol,
    metadata: s.metadata,
    files: s.files,
    tombstones: s.tombstones,
    txns: s.txns.values(),
    domainMetadata: s.domainMetadata.values(),
  };
}

const big = (
  v: number | bigint | null | undefined,
) => (v === null || v === undefined ? null : BigInt(v));
const map = (o: Record<string, string | null> | null | undefined) =>
  o ? new Map(Object.entries(o)) : null;

/** A deletion vector descriptor as a checkpoint row (null when the file has none). */
function dvRow(dv: unknown): unknown {
  if (dv === undefined || dv === null) return null;
  const d = dv as Record<string, unknown>;
  return {
    storageType: d.storageType ?? null,
    pathOrInlineDv: d.pathOrInlineDv ?? null,
    offset: d.offset ?? null,
    sizeInBytes: d.sizeInBytes ?? null,
    cardinality: big(d.cardinality as number | bigint | null | undefined),
  };
}

/** Build the checkpoint's Arrow table (one row per action). */
export function checkpointTable(state: CheckpointState): arrow.Table {
  const txn: unknown[] = [];
  const add: unknown[] = [];
  const remove: unknown[] = [];
  const metaData: unknown[] = [];
  const protocol: unknown[] = [];
  const domainMetadata: unknown[] = [];
  const row = (t: unknown, a: unknown, r: unknown, m: unknown, p: unknown, d: unknown = null) => {
    txn.push(t);
    add.push(a);
    remove.push(r);
    metaData.push(m);
    protocol.push(p);
    domainMetadata.push(d);
  };
  const p = state.protocol;
  const layout = checkpointLayout(p);
  const dvOf = (a: { deletionVector?: unknown }) =>
    layout.deletionVectors ? { deletionVector: dvRow(a.deletionVector) } : {};
  const rowIdsOf = (a: { baseRowId?: Long | null; defaultRowCommitVersion?: Long | null }) =>
    layout.rowTracking
      ? {
        baseRowId: big(a.baseRowId),
        defaultRowCommitVersion: big(a.defaultRowCommitVersion),
      }
      : {};
  const ntFeatures = p.minReaderVersion === 3;
  const wFeatures = p.minWriterVersion === 7;
  row(null, null, null, null, {
    minReaderVersion: p.minReaderVersion,
    minWriterVersion: p.minWriterVersion,
    readerFeatures: ntFeatures ? (p.readerFeatures ?? []) : null,
    writerFeatures: wFeatures ? (p.writerFeatures ?? []) : null,
  });
  const m = state.metadata;
  row(null, null, null, {
    id: m.id,
    name: m.name ?? null,
    description: m.description ?? null,
    format: { provider: m.format?.provider ?? "parquet", options: map(m.format?.options ?? {}) },
    schemaString: m.schemaString,
    partitionColumns: m.partitionColumns ?? [],
    configuration: map(m.configuration ?? {}),
    createdTime: big(m.createdTime),
  }, null);
  for (const t of state.txns) {
    row(
      { appId: t.appId, version: big(t.version), lastUpdated: big(t.lastUpdated) },
      null,
      null,
      null,
      null,
    );
  }
  for (const a of state.files) {
    row(
      null,
      {
        path: a.path,
        partitionValues: map(a.partitionValues ?? {}),
        size: big(a.size),
        modificationTime: big(a.modificationTime),
        dataChange: false,
        stats: a.stats ?? null,
        tags: map(a.tags),
        ...dvOf(a),
        ...rowIdsOf(a),
        ...(layout.clustering ? { clusteringProvider: a.clusteringProvider ?? null } : {}),
      },
      null,
      null,
      null,
    );
  }
  for (const r of state.tombstones) {
    row(
      null,
      null,
      {
        path: r.path,
        deletionTimestamp: big(r.deletionTimestamp),
        dataChange: false,
        extendedFileMetadata: r.extendedFileMetadata ?? null,
        partitionValues: map(r.partitionValues),
        size: big(r.size),
        ...dvOf(r),
        ...rowIdsOf(r),
      },
      null,
      null,
    );
  }
  if (layout.domainMetadata) {
    for (const d of state.domainMetadata ?? []) {
      if (d.removed) continue;
      row(null, null, null, null, null, {
        domain: d.domain,
        configuration: d.configuration,
        removed: false,
      });
    }
  }
  const schema = checkpointSchema(layout);
  const cols: Record<string, unknown[]> = {
    txn,
    add,
    remove,
    metaData,
    protocol,
    domainMetadata,
  };
  const vectors: Record<string, arrow.Vector> = {};
  for (const field of schema.fields) {
    vectors[field.name] = arrow.vectorFromArray(cols[field.name], field.type);
  }
  return new arrow.Table(vectors);
}

/** Parse an interval property like `interval 7 days` into milliseconds (undefined if unparseable). */
export function parseInterval(text: string | undefined): number | undefined {
  if (!text) return undefined;
  const m = /^\s*(?:interval\s+)?(\d+)\s*(\w+?)s?\s*$/i.exec(text);
  if (!m) return undefined;
  const n = Number(m[1]);
  const unit: Record<string, number> = {
    millisecond: 1,
    second: 1000,
    minute: 60_000,
    hour: 3_600_000,
    day: 86_400_000,
    week: 604_800_000,
  };
  const u = unit[m[2].toLowerCase()];
  return u === undefined ? undefined : n * u;
}

/** Result of {@link writeCheckpoint}. */
export interface CheckpointInfo {
  version: number;
  path: string;
  size: number;
  sizeInBytes: number;
  numOfAddFiles: number;
}

/**
 * Write the checkpoint of `state.version` (atomic put) and then `_last_checkpoint`.
 * Tombstones older than `delta.deletedFileRetentionDuration` (default 7 days) are left out.
 */
export async function writeCheckpoint(
  storage: Storage,
  state: CheckpointState,
  now: number = Date.now(),
): Promise<CheckpointInfo> {
  const retention =
    parseInterval(state.metadata.configuration?.["delta.deletedFileRetentionDuration"]) ??
      7 * 86_400_000;
  const files = [...state.files];
  const tombstones = [...state.tombstones].filter((r) =>
    (r.deletionTimestamp ?? 0) > now - retention
  );
  const table = checkpointTable({ ...state, files, tombstones });
  const bytes = encodeParquet(table, { compression: "snappy" });
  const path = checkpointPath(state.version);
  await storage.put(path, bytes);
  const info = {
    version: state.version,
    path,
    size: table.numRows,
    sizeInBytes: bytes.length,
    numOfAddFiles: files.length,
  };
  await writeLastCheckpoint(storage, {
    version: info.version,
    size: info.size,
    sizeInBytes: info.sizeInBytes,
    numOfAddFiles: info.numOfAddFiles,
  });
  return info;
}

type Reader = (i: number) => unknown;

/** A column reader for one Arrow Data chunk: row index → plain JS value (maps → objects). */
function reader(data: arrow.Data): Reader {
  const vec = arrow.makeVector(data);
  const t = data.type;
  if (arrow.DataType.isStruct(t)) {
    const kids = data.children.map(reader);
    const names = t.children.map((c) => c.name);
    return (i) => {
      if (!vec.isValid(i)) return null;
      const o: Record<string, unknown> = {};
      for (let k = 0; k < names.length; k++) o[names[k]] = kids[k](i);
      return o;
    };
  }
  if (arrow.DataType.isList(t) || arrow.DataType.isMap(t)) {
    const isMap = arrow.DataType.isMap(t);
    const offsets = data.valueOffsets as Int32Array;
    const kid = reader(data.children[0]);
    return (i) => {
      if (!vec.isValid(i)) return null;
      const from = offsets[data.offset + i];
      const to = offsets[data.offset + i + 1];
      if (isMap) {
        const o: Record<string, unknown> = {};
        for (let j = from; j < to; j++) {
          const e = kid(j) as { key: unknown; value: unknown };
          o[String(e.key)] = e.value;
        }
        return o;
      }
      const out: unknown[] = [];
      for (let j = from; j < to; j++) out.push(kid(j));
      return out;
    };
  }
  return (i) => {
    const v = vec.get(i);
    return typeof v === "bigint" ? toLong(v) : v ?? null;
  };
}

/** A deletion vector descriptor read from a checkpoint keeps only the fields it has. */
function dropDvNulls(o: Record<string, unknown>): void {
  const dv = o.deletionVector as Record<string, unknown> | null | undefined;
  if (dv) dropNulls(dv);
  if (dv && dv.pathOrInlineDv === undefined) delete o.deletionVector; // an all-null struct
}

function dropNulls<T>(o: Record<string, unknown>): T {
  for (const k of Object.keys(o)) if (o[k] === null) delete o[k];
  return o as T;
}

/**
 * Read a checkpoint file into actions (protocol, metaData, txn, add, remove); a file that does not
 * parse is a CorruptLogError naming it.
 */
export async function readCheckpoint(storage: Storage, version: number): Promise<Action[]> {
  const path = checkpointPath(version);
  let table: arrow.Table;
  try {
    const bytes = await storage.get(path);
    table = decodeParquet(bytes, {
      columns: ["protocol", "metaData", "txn", "add", "remove", "domainMetadata"],
    });
  } catch (e) {
    throw new CorruptLogError(path, `checkpoint cannot be read: ${(e as Error).message}`, {
      cause: e,
    });
  }
  const out: Action[] = [];
  const kinds = ["protocol", "metaData", "txn", "add", "remove", "domainMetadata"] as const;
  try {
    for (const batch of table.batches) {
      const cols = kinds.map((k) => {
        const idx = batch.schema.fields.findIndex((f) => f.name === k);
        return [k, idx < 0 ? undefined : reader(batch.data.children[idx])] as const;
      }).filter(([, r]) => r !== undefined);
      for (let i = 0; i < batch.numRows; i++) {
        for (const [kind, read] of cols) {
          const o = read!(i) as Record<string, unknown> | null;
          if (o === null) continue;
          if (kind === "add" && o.path === null) continue; // null structs may read as all-null rows
          if (kind === "remove" && o.path === null) continue;
          if (kind === "txn" && o.appId === null) continue;
          if (kind === "metaData" && o.id === null) continue;
          if (kind === "protocol" && o.minReaderVersion === null) continue;
          if (kind === "domainMetadata" && o.domain === null) continue;
          if (kind === "protocol") {
            if (o.readerFeatures === null) delete o.readerFeatures;
            if (o.writerFeatures === null) delete o.writerFeatures;
            out.push({ protocol: o as unknown as Protocol });
          } else if (kind === "metaData") {
            const m = o as unknown as Metadata;
            m.configuration ??= {};
            m.partitionColumns ??= [];
            const fmt = (m.format ?? {}) as Partial<Metadata["format"]>;
            m.format = { provider: fmt.provider ?? "parquet", options: fmt.options ?? {} };
            out.push({ metaData: dropNulls<Metadata>(o) });
          } else if (kind === "add") {
            o.partitionValues ??= {};
            dropDvNulls(o);
            out.push({ add: dropNulls<AddAction>(o) });
          } else if (kind === "remove") {
            dropDvNulls(o);
            out.push({ remove: dropNulls<RemoveAction>(o) });
          } else if (kind === "domainMetadata") {
            out.push({
              domainMetadata: { ...(o as unknown as DomainMetadata), removed: !!o.removed },
            });
          } else {
            out.push({ txn: dropNulls<Txn>(o) });
          }
        }
      }
    }
  } catch (e) {
    throw new CorruptLogError(path, `checkpoint rows cannot be decoded: ${(e as Error).message}`, {
      cause: e,
    });
  }
  return out;
}
