/**
 * Checkpoints: the reconciled table state at a version, in the column layout Spark and delta-rs
 * use (PROTOCOL.md "Checkpoint Schema"): top-level nullable structs `txn`, `add`, `remove`,
 * `metaData`, `protocol`, one non-null per row; `add.stats` stays a JSON string (no
 * `stats_parsed`). Then `_last_checkpoint`.
 *
 * Which kind is written follows the table ({@link checkpointPolicy}):
 * - **classic** (V1 spec) `<v>.checkpoint.parquet`, on every table without `v2Checkpoint` or
 *   whose `delta.checkpointPolicy` is not `v2`;
 * - **V2** on tables with the `v2Checkpoint` feature and `delta.checkpointPolicy=v2`: a
 *   UUID-named `<v>.checkpoint.<uuid>.parquet` (or `.json`) holding a `checkpointMetadata`
 *   action, every non-file action and either all add/remove actions or `sidecar` actions naming
 *   Parquet files in `_delta_log/_sidecars/` that hold them (only with
 *   {@link CheckpointOptions.actionsPerSidecar}; by default a single file).
 *
 * Reading takes every form but multi-part: classic V1, classic V2 (a `checkpointMetadata` row),
 * UUID-named JSON or Parquet, with their sidecars.
 *
 * @module
 */
import * as arrow from "apache-arrow";
import type { Storage } from "../storage/storage.ts";
import {
  type Action,
  type AddAction,
  type CheckpointMetadata,
  type DomainMetadata,
  type Long,
  type Metadata,
  type Protocol,
  type RemoveAction,
  serializeActions,
  type SidecarAction,
  type Txn,
} from "./actions.ts";
import type { Snapshot } from "./snapshot.ts";
import { toLong } from "./actions.ts";
import { CorruptLogError } from "./errors.ts";
import {
  checkpointKind,
  checkpointPath,
  mapLimit,
  parseCommitBytes,
  SIDECAR_DIR,
  sidecarPath,
  uuidCheckpointPath,
  writeLastCheckpoint,
} from "./log.ts";
import { NotFoundError } from "../storage/errors.ts";
import { decodeParquet, encodeParquet, parquetSchema } from "./parquet.ts";

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
  /** The `checkpointMetadata` and `sidecar` columns (a V2 spec checkpoint). */
  v2?: boolean;
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
    ...(layout.v2
      ? [
        f("checkpointMetadata", new arrow.Struct([f("version", i64()), f("tags", strMap())])),
        f("sidecar", sidecarStruct()),
      ]
      : []),
  ]);
}

const sidecarStruct = () =>
  new arrow.Struct([
    f("path", str()),
    f("sizeInBytes", i64()),
    f("modificationTime", i64()),
    f("tags", strMap()),
  ]);

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

/** What {@link checkpointTable} puts in the table besides the classic rows. */
export interface CheckpointTableParts {
  /** A V2 spec checkpoint: a `checkpointMetadata` row and the V2 columns. */
  v2?: boolean;
  /** `sidecar` rows (V2 only); the file actions then live in those sidecars, not here. */
  sidecars?: SidecarAction[];
  /** Only the add/remove rows (the content of a sidecar). */
  filesOnly?: boolean;
}

/** Build the checkpoint's Arrow table (one row per action). */
export function checkpointTable(
  state: CheckpointState,
  parts: CheckpointTableParts = {},
): arrow.Table {
  const txn: unknown[] = [];
  const add: unknown[] = [];
  const remove: unknown[] = [];
  const metaData: unknown[] = [];
  const protocol: unknown[] = [];
  const domainMetadata: unknown[] = [];
  const checkpointMetadata: unknown[] = [];
  const sidecar: unknown[] = [];
  const cols: Record<string, unknown[]> = {
    txn,
    add,
    remove,
    metaData,
    protocol,
    domainMetadata,
    checkpointMetadata,
    sidecar,
  };
  const row = (kind: keyof typeof cols, value: unknown) => {
    for (const [k, list] of Object.entries(cols)) list.push(k === kind ? value : null);
  };
  const p = state.protocol;
  const layout = { ...checkpointLayout(p), v2: !!parts.v2 && !parts.filesOnly };
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
  if (!parts.filesOnly) {
    if (layout.v2) row("checkpointMetadata", { version: big(state.version), tags: null });
    row("protocol", {
      minReaderVersion: p.minReaderVersion,
      minWriterVersion: p.minWriterVersion,
      readerFeatures: ntFeatures ? (p.readerFeatures ?? []) : null,
      writerFeatures: wFeatures ? (p.writerFeatures ?? []) : null,
    });
    const m = state.metadata;
    row("metaData", {
      id: m.id,
      name: m.name ?? null,
      description: m.description ?? null,
      format: { provider: m.format?.provider ?? "parquet", options: map(m.format?.options ?? {}) },
      schemaString: m.schemaString,
      partitionColumns: m.partitionColumns ?? [],
      configuration: map(m.configuration ?? {}),
      createdTime: big(m.createdTime),
    });
    for (const t of state.txns) {
      row("txn", { appId: t.appId, version: big(t.version), lastUpdated: big(t.lastUpdated) });
    }
    if (layout.domainMetadata) {
      for (const d of state.domainMetadata ?? []) {
        if (d.removed) continue;
        row("domainMetadata", { domain: d.domain, configuration: d.configuration, removed: false });
      }
    }
    for (const sc of parts.sidecars ?? []) {
      row("sidecar", {
        path: sc.path,
        sizeInBytes: big(sc.sizeInBytes),
        modificationTime: big(sc.modificationTime),
        tags: map(sc.tags),
      });
    }
  }
  if (parts.filesOnly || !parts.sidecars?.length) {
    for (const a of state.files) {
      row("add", {
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
      });
    }
    for (const r of state.tombstones) {
      row("remove", {
        path: r.path,
        deletionTimestamp: big(r.deletionTimestamp),
        dataChange: false,
        extendedFileMetadata: r.extendedFileMetadata ?? null,
        partitionValues: map(r.partitionValues),
        size: big(r.size),
        ...dvOf(r),
        ...rowIdsOf(r),
      });
    }
  }
  const schema = checkpointSchema(layout);
  const vectors: Record<string, arrow.Vector> = {};
  for (const field of schema.fields) {
    if (parts.filesOnly && field.name !== "add" && field.name !== "remove") continue;
    vectors[field.name] = arrow.vectorFromArray(cols[field.name], field.type);
  }
  return new arrow.Table(vectors);
}

/**
 * The kind of checkpoint a table asks for: `v2` when its protocol has the `v2Checkpoint` writer
 * feature and `delta.checkpointPolicy` is `v2`, else `classic`.
 *
 * @example
 * ```ts
 * import { checkpointPolicy } from "./checkpoint.ts";
 * const p = { minReaderVersion: 3, minWriterVersion: 7, readerFeatures: ["v2Checkpoint"], writerFeatures: ["v2Checkpoint"] };
 * checkpointPolicy(p, { "delta.checkpointPolicy": "v2" }); // "v2"
 * checkpointPolicy({ minReaderVersion: 1, minWriterVersion: 2 }, {}); // "classic"
 * ```
 */
export function checkpointPolicy(
  protocol: Protocol,
  configuration: Record<string, string> | undefined,
): "classic" | "v2" {
  const feature = protocol.minWriterVersion === 7 &&
    (protocol.writerFeatures ?? []).includes("v2Checkpoint");
  return feature && configuration?.["delta.checkpointPolicy"]?.toLowerCase() === "v2"
    ? "v2"
    : "classic";
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
  /** The checkpoint file (classic or UUID-named). */
  path: string;
  /** Actions in the checkpoint (its sidecars' included). */
  size: number;
  /** Bytes of the checkpoint file (its sidecars' not included). */
  sizeInBytes: number;
  numOfAddFiles: number;
  /** `classic` (V1 spec) or `v2` (UUID-named, V2 spec). */
  kind: "classic" | "v2";
  /** Sidecar files written for it (V2 with {@link CheckpointOptions.actionsPerSidecar}). */
  sidecars: string[];
}

/** How {@link writeCheckpoint} writes a V2 checkpoint (ignored for classic ones). */
export interface CheckpointOptions {
  /** Top-level file format of a V2 checkpoint (default `parquet`). */
  format?: "json" | "parquet";
  /**
   * Put the add/remove actions in sidecar files of at most this many actions each (default:
   * none, a single-file V2 checkpoint).
   */
  actionsPerSidecar?: number;
}

/**
 * Write the checkpoint of `state.version` (atomic puts: sidecars, then the checkpoint) and then
 * `_last_checkpoint`. Tombstones older than `delta.deletedFileRetentionDuration` (default 7 days)
 * are left out. The kind follows {@link checkpointPolicy}: classic `<v>.checkpoint.parquet`, or a
 * UUID-named V2 checkpoint on tables with `v2Checkpoint` and `delta.checkpointPolicy=v2`.
 *
 * @example
 * ```ts
 * import * as arrow from "apache-arrow";
 * import { checkpointStateOf, writeCheckpoint } from "./checkpoint.ts";
 * import { createTable } from "./table.ts";
 * const dir = await Deno.makeTempDir();
 * const t = await createTable(dir, new arrow.Schema([new arrow.Field("id", new arrow.Int64())]));
 * const info = await writeCheckpoint(t.storage, checkpointStateOf(await t.snapshot()));
 * info.path; // "_delta_log/00000000000000000000.checkpoint.parquet"
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export async function writeCheckpoint(
  storage: Storage,
  state: CheckpointState,
  now: number = Date.now(),
  opts: CheckpointOptions = {},
): Promise<CheckpointInfo> {
  const retention =
    parseInterval(state.metadata.configuration?.["delta.deletedFileRetentionDuration"]) ??
      7 * 86_400_000;
  const files = [...state.files];
  const tombstones = [...state.tombstones].filter((r) =>
    (r.deletionTimestamp ?? 0) > now - retention
  );
  const full = { ...state, files, tombstones };
  const kind = checkpointPolicy(state.protocol, state.metadata.configuration);
  let info: CheckpointInfo;
  if (kind === "classic") {
    const table = checkpointTable(full);
    const bytes = encodeParquet(table, { compression: "snappy" });
    const path = checkpointPath(state.version);
    await storage.put(path, bytes);
    info = {
      version: state.version,
      path,
      size: table.numRows,
      sizeInBytes: bytes.length,
      numOfAddFiles: files.length,
      kind,
      sidecars: [],
    };
  } else {
    info = await writeV2Checkpoint(storage, full, opts);
  }
  await writeLastCheckpoint(storage, {
    version: info.version,
    size: info.size,
    sizeInBytes: info.sizeInBytes,
    numOfAddFiles: info.numOfAddFiles,
  });
  return info;
}

/** A UUID-named V2 checkpoint (and its sidecars, when asked for). */
async function writeV2Checkpoint(
  storage: Storage,
  state: CheckpointState & { files: AddAction[]; tombstones: RemoveAction[] },
  opts: CheckpointOptions,
): Promise<CheckpointInfo> {
  const per = opts.actionsPerSidecar;
  if (per !== undefined && !(Number.isInteger(per) && per > 0)) {
    throw new RangeError(`actionsPerSidecar must be a positive integer, got ${per}`);
  }
  const sidecars: SidecarAction[] = [];
  let fileActions = 0;
  if (per !== undefined) {
    const actions = [
      ...state.files.map((f) => ({ add: f })),
      ...state.tombstones.map((r) => ({ remove: r })),
    ];
    for (let i = 0; i < actions.length; i += per) {
      const chunk = actions.slice(i, i + per);
      const table = checkpointTable({
        ...state,
        files: chunk.flatMap((x) => ("add" in x ? [x.add] : [])),
        tombstones: chunk.flatMap((x) => ("remove" in x ? [x.remove] : [])),
      }, { filesOnly: true });
      const bytes = encodeParquet(table, { compression: "snappy" });
      const name = `${crypto.randomUUID()}.parquet`;
      await storage.put(`${SIDECAR_DIR}/${name}`, bytes);
      const head = await storage.head(`${SIDECAR_DIR}/${name}`);
      sidecars.push({
        path: name,
        sizeInBytes: bytes.length,
        modificationTime: head?.lastModified ?? Date.now(),
      });
      fileActions += table.numRows;
    }
  }
  const format = opts.format ?? "parquet";
  const path = uuidCheckpointPath(state.version, crypto.randomUUID(), format);
  let bytes: Uint8Array;
  let rows: number;
  if (format === "parquet") {
    const table = checkpointTable(state, { v2: true, sidecars });
    bytes = encodeParquet(table, { compression: "snappy" });
    rows = table.numRows;
  } else {
    const actions = checkpointJsonActions(state, sidecars);
    bytes = new TextEncoder().encode(serializeActions(actions));
    rows = actions.length;
  }
  await storage.put(path, bytes);
  return {
    version: state.version,
    path,
    size: rows + fileActions,
    sizeInBytes: bytes.length,
    numOfAddFiles: state.files.length,
    kind: "v2",
    sidecars: sidecars.map((s) => `${SIDECAR_DIR}/${s.path}`),
  };
}

/** The actions of a JSON V2 checkpoint: the same rows as the Parquet form, one per line. */
function checkpointJsonActions(state: CheckpointState, sidecars: SidecarAction[]): Action[] {
  const table = checkpointTable(state, { v2: true, sidecars });
  return rowsToActions(table, "checkpoint");
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

const KINDS = [
  "protocol",
  "metaData",
  "txn",
  "add",
  "remove",
  "domainMetadata",
  "checkpointMetadata",
  "sidecar",
] as const;
type Kind = typeof KINDS[number];
/** The field that is null only when a row has no action of that kind. */
const KEY_FIELD: Record<Kind, string> = {
  protocol: "minReaderVersion",
  metaData: "id",
  txn: "appId",
  add: "path",
  remove: "path",
  domainMetadata: "domain",
  checkpointMetadata: "version",
  sidecar: "path",
};

/** The actions in the rows of a checkpoint (or sidecar) table; errors name `path`. */
function rowsToActions(table: arrow.Table, path: string): Action[] {
  const out: Action[] = [];
  try {
    for (const batch of table.batches) {
      const cols = KINDS.map((k) => {
        const idx = batch.schema.fields.findIndex((f) => f.name === k);
        return [k, idx < 0 ? undefined : reader(batch.data.children[idx])] as const;
      }).filter(([, r]) => r !== undefined);
      for (let i = 0; i < batch.numRows; i++) {
        for (const [kind, read] of cols) {
          const o = read!(i) as Record<string, unknown> | null;
          // Null structs may read as all-null rows.
          if (o === null || o[KEY_FIELD[kind]] === null) continue;
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
          } else if (kind === "txn") {
            out.push({ txn: dropNulls<Txn>(o) });
          } else {
            out.push({ [kind]: dropNulls<Record<string, unknown>>(o) });
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

/** Read a file of `_delta_log`; a missing one is a CorruptLogError saying `missing`. */
async function getLogFile(storage: Storage, path: string, missing: string): Promise<Uint8Array> {
  try {
    return await storage.get(path);
  } catch (e) {
    if (e instanceof NotFoundError) throw new CorruptLogError(path, missing, { cause: e });
    throw e;
  }
}

/** The actions of one checkpoint or sidecar file, JSON or Parquet (only `columns` of Parquet). */
async function readActionsFile(
  storage: Storage,
  path: string,
  columns: readonly string[],
  missing: string,
): Promise<Action[]> {
  const bytes = await getLogFile(storage, path, missing);
  if (path.endsWith(".json")) return parseCommitBytes(path, bytes);
  let table: arrow.Table;
  try {
    table = decodeParquet(bytes, { columns: [...columns] });
  } catch (e) {
    throw new CorruptLogError(path, `checkpoint cannot be read: ${(e as Error).message}`, {
      cause: e,
    });
  }
  return rowsToActions(table, path);
}

/** The `sidecar` actions of a checkpoint's own file. */
function sidecarsOf(actions: Action[]): SidecarAction[] {
  return actions.flatMap((
    a,
  ) => ("sidecar" in a ? [(a as { sidecar: SidecarAction }).sidecar] : []));
}

/**
 * Read a checkpoint into actions (protocol, metaData, txn, domainMetadata, add, remove, and for
 * V2 spec checkpoints `checkpointMetadata` and `sidecar`, which replay ignores): the classic
 * `<v>.checkpoint.parquet` by default, or the checkpoint file at `path` (UUID-named JSON or
 * Parquet). The add/remove actions of the sidecars a V2 checkpoint names are read from
 * `_delta_log/_sidecars/`. A file that is missing or does not parse, a UUID-named checkpoint
 * without `checkpointMetadata`, or one for another version, is a CorruptLogError naming it.
 *
 * @example
 * ```ts
 * import * as arrow from "apache-arrow";
 * import { checkpointStateOf, readCheckpoint, writeCheckpoint } from "./checkpoint.ts";
 * import { createTable } from "./table.ts";
 * const dir = await Deno.makeTempDir();
 * const t = await createTable(dir, new arrow.Schema([new arrow.Field("id", new arrow.Int64())]), {
 *   configuration: { "delta.checkpointPolicy": "v2" }, // adds the v2Checkpoint feature
 * });
 * const info = await writeCheckpoint(t.storage, checkpointStateOf(await t.snapshot()));
 * const actions = await readCheckpoint(t.storage, 0, info.path);
 * actions.some((a) => "checkpointMetadata" in a); // true
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export async function readCheckpoint(
  storage: Storage,
  version: number,
  path: string = checkpointPath(version),
): Promise<Action[]> {
  const actions = await readActionsFile(
    storage,
    path,
    KINDS,
    "the checkpoint file is missing (deleted by a concurrent log cleanup?)",
  );
  const metas = actions.filter((a) => "checkpointMetadata" in a);
  const name = path.slice(path.lastIndexOf("/") + 1);
  if (checkpointKind(name)?.kind === "uuid" && metas.length !== 1) {
    throw new CorruptLogError(
      path,
      `a UUID-named checkpoint must hold exactly one checkpointMetadata action, found ${metas.length}`,
    );
  }
  for (const m of metas) {
    const v = Number((m as { checkpointMetadata: CheckpointMetadata }).checkpointMetadata.version);
    if (v !== version) {
      throw new CorruptLogError(path, `checkpointMetadata.version is ${v}, expected ${version}`);
    }
  }
  const sidecars = sidecarsOf(actions);
  if (sidecars.length > 0 && metas.length === 0) {
    throw new CorruptLogError(path, "sidecar actions in a checkpoint without checkpointMetadata");
  }
  const files = await mapLimit(sidecars, 8, (sc) =>
    readActionsFile(
      storage,
      sidecarPath(sc.path),
      ["add", "remove"],
      `the sidecar of checkpoint ${name} is missing (deleted by a log cleanup?)`,
    ).then((xs) => xs.filter((a) => "add" in a || "remove" in a)));
  return [...actions, ...files.flat()];
}

/**
 * The sidecar files (paths under `_delta_log/_sidecars/`) a checkpoint file references: none for
 * classic V1 checkpoints. Reads only the `sidecar` column of a Parquet checkpoint.
 *
 * @example
 * ```ts
 * import * as arrow from "apache-arrow";
 * import { checkpointStateOf, referencedSidecars, writeCheckpoint } from "./checkpoint.ts";
 * import { createTable } from "./table.ts";
 * const dir = await Deno.makeTempDir();
 * const t = await createTable(dir, new arrow.Schema([new arrow.Field("id", new arrow.Int64())]), {
 *   configuration: { "delta.checkpointPolicy": "v2" },
 * });
 * await t.append(arrow.tableFromArrays({ id: new BigInt64Array([1n]) }));
 * const info = await writeCheckpoint(t.storage, checkpointStateOf(await t.snapshot()), Date.now(), {
 *   actionsPerSidecar: 1,
 * });
 * (await referencedSidecars(t.storage, info.path)).length; // 1
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export async function referencedSidecars(storage: Storage, path: string): Promise<string[]> {
  const missing = "the checkpoint file is missing (deleted while listing?)";
  if (!path.endsWith(".json")) {
    const bytes = await getLogFile(storage, path, missing);
    let has = false;
    try {
      has = parquetSchema(bytes).fields.some((f) => f.name === "sidecar");
    } catch (e) {
      throw new CorruptLogError(path, `checkpoint cannot be read: ${(e as Error).message}`, {
        cause: e,
      });
    }
    if (!has) return [];
    let table: arrow.Table;
    try {
      table = decodeParquet(bytes, { columns: ["sidecar"] });
    } catch (e) {
      throw new CorruptLogError(path, `checkpoint cannot be read: ${(e as Error).message}`, {
        cause: e,
      });
    }
    return sidecarsOf(rowsToActions(table, path)).map((s) => sidecarPath(s.path));
  }
  const actions = await readActionsFile(storage, path, ["sidecar"], missing);
  return sidecarsOf(actions).map((s) => sidecarPath(s.path));
}

/** Whether `path` (relative to the table root) is a sidecar file of `_delta_log/_sidecars/`. */
export function isSidecarFile(path: string): boolean {
  return path.startsWith(`${SIDECAR_DIR}/`) && !path.slice(SIDECAR_DIR.length + 1).includes("/") &&
    path.endsWith(".parquet");
}
