/**
 * DFS stand-in: a test-only emulator of the Azure Data Lake Storage Gen2 (hierarchical namespace)
 * REST operations that `@azure/storage-file-datalake` sends for lib/storage/adls.ts. It is NOT
 * Azure and NOT Azurite: released Azurite (3.37.0 on npm) has no DFS endpoint, so this stands in.
 *
 * Path-style like Azurite: `http://127.0.0.1:<port>/<account>/<filesystem>/<path>`, one account,
 * state in memory. Strict where the service is: SharedKey signatures are verified, `x-ms-version`
 * is required, ETags are quoted and change on every write, conditional headers give 409
 * (`PathAlreadyExists`) or 412 (`ConditionNotMet`), flush positions must be contiguous, rename
 * needs the destination's parent. Blob-endpoint calls the SDK makes (container create/properties,
 * Get Blob, Get Blob Properties) answer with XML errors, DFS calls with JSON errors; List Blobs is
 * there too, so that an independent reader (delta-rs via object_store) can read the tables. Any
 * request it does not emulate gets 501 `NotEmulatedByStandIn` and is logged, so a new SDK call
 * shows up.
 *
 * Requests adls.ts makes through the SDK (seen in this log) and their emulation:
 * | SDK call | REST request |
 * | --- | --- |
 * | fileSystem.create / exists | `PUT` / `GET /<fs>?restype=container` (Blob) |
 * | file.create | `PUT /<fs>/<path>?resource=file` (+ If-None-Match / If-Match) |
 * | file.append | `PATCH ?action=append&position=N[&flush=true]` |
 * | file.flush | `PATCH ?action=flush&position=N&close=true` |
 * | file.move | `PUT /<fs>/<dest>?mode=legacy` + `x-ms-rename-source` (+ If-None-Match: *) |
 * | file.read | `GET /<fs>/<path>` + `x-ms-range` (Blob Get Blob, 206 + Content-Range) |
 * | file.getProperties / exists | `HEAD /<fs>/<path>` (Blob Get Blob Properties) |
 * | fileSystem.listPaths | `GET /<fs>?resource=filesystem&recursive=true&directory=D` (JSON, continuation) |
 * | file.delete / deleteIfExists | `DELETE /<fs>/<path>?paginated=false[&recursive=…]` |
 *
 * Faults are injected per operation: an HTTP status (503, 500, 408, 429, 403), a connection dropped
 * before or after the operation is applied, or a slow response before or after it.
 *
 * Run standalone (prints one JSON line `{url, account, accountKey, pid}` then serves until killed):
 * `deno run -A tests/support/dfs_standin.ts [--port 0] [--account devaccount] [--filesystem NAME]
 * [--log] [--chaos 0.02]` (chaos: that fraction of requests gets a random 503/500/dropped connection).
 *
 * @module
 */
import { createHmac, timingSafeEqual } from "node:crypto";
import { parseArgs } from "node:util";

/** Operation names used in the request log and for fault rules. */
export type StandinOp =
  | "container.create"
  | "container.properties"
  | "container.delete"
  | "container.list"
  | "filesystem.create"
  | "filesystem.properties"
  | "filesystem.delete"
  | "path.list"
  | "path.create"
  | "path.rename"
  | "path.append"
  | "path.flush"
  | "path.read"
  | "path.properties"
  | "path.delete"
  | "unknown";

/** What a fault does to the request it hits. */
export type FaultKind =
  | { status: number; code?: string }
  | { drop: "before" | "after" }
  | { delayMs: number; when: "before" | "after" };

/** A fault rule: hits the next `times` requests of `op` (and whose path contains `pathIncludes`). */
export interface FaultRule {
  /** Operation to hit, or "any". */
  op: StandinOp | "any";
  /** Only paths containing this text (path within the filesystem). */
  pathIncludes?: string;
  /** How many matching requests to hit (default 1). */
  times?: number;
  /** What to do. */
  fault: FaultKind;
}

/** One line of the request log. */
export interface StandinLogEntry {
  /** HTTP method. */
  method: string;
  /** Emulated operation. */
  op: StandinOp;
  /** URL path and query as received. */
  url: string;
  /** Response status (0 = connection dropped). */
  status: number;
  /** Error code, if any. */
  code?: string;
  /** The fault applied, if any. */
  fault?: string;
}

/** Options for {@link startDfsStandin}. */
export interface DfsStandinOptions {
  /** Account name (default "devaccount"). */
  account?: string;
  /** Base64 account key (default: random per start). */
  accountKey?: string;
  /** Port on 127.0.0.1 (default 0 = a free port). */
  port?: number;
  /** Print each request to stderr. */
  log?: boolean;
  /** Filesystems to create at start. */
  filesystems?: string[];
  /** A SAS token (query string without '?') the stand-in accepts instead of SharedKey. */
  sasToken?: string;
  /** Page size of list paths (default 5000, like the service; small values test continuation). */
  listPageSize?: number;
  /**
   * Chaos mode: this fraction of requests (0..1) gets a random fault — 503, 500, a connection
   * dropped before the operation, or one dropped after it was applied (the ambiguous case).
   */
  chaos?: number;
}

const CHAOS_FAULTS: FaultKind[] = [
  { status: 503 },
  { status: 500 },
  { drop: "before" },
  { drop: "after" },
];

/** A running stand-in: where it is, how to reach it, and its controls. */
export interface DfsStandin {
  /** Account URL (path-style): `http://127.0.0.1:<port>/<account>`. */
  readonly url: string;
  /** Account name. */
  readonly account: string;
  /** Base64 account key to sign requests with. */
  readonly accountKey: string;
  /** Port on 127.0.0.1. */
  readonly port: number;
  /** Every request handled so far. */
  readonly requests: StandinLogEntry[];
  /** Add fault rules (applied in order, each to its next matching requests). */
  inject(...rules: FaultRule[]): void;
  /** Remove every pending fault rule. */
  clearFaults(): void;
  /** Create a filesystem directly (no HTTP). */
  createFilesystem(name: string): void;
  /** Committed bytes of a file, or undefined (no HTTP; for assertions). */
  peek(filesystem: string, path: string): Uint8Array | undefined;
  /** Every file path of a filesystem, sorted (no HTTP; for assertions). */
  files(filesystem: string): string[];
  /** Stop listening; resolves when closed. */
  close(): Promise<void>;
}

interface Node {
  kind: "file" | "dir";
  data: Uint8Array;
  staged: Map<number, Uint8Array>;
  etag: string;
  lastModified: Date;
  created: Date;
}

interface Filesystem {
  etag: string;
  lastModified: Date;
  paths: Map<string, Node>;
}

class Fail extends Error {
  constructor(readonly status: number, readonly code: string, message: string) {
    super(message);
  }
}

const SERVICE_VERSION = "2026-06-06";
let etagCounter = 0x8dc0000_00000000n;

function newEtag(): string {
  etagCounter += BigInt(1 + Math.floor(Math.random() * 16));
  return `"0x${etagCounter.toString(16).toUpperCase()}"`;
}

function parent(path: string): string {
  const i = path.lastIndexOf("/");
  return i < 0 ? "" : path.slice(0, i);
}

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return out;
}

/** Classify a request into an emulated operation. */
function classify(method: string, q: URLSearchParams, path: string, h: Headers): StandinOp {
  const restype = q.get("restype");
  const resource = q.get("resource");
  if (path === "") {
    if (restype === "container" && !q.has("comp")) {
      if (method === "PUT") return "container.create";
      if (method === "HEAD" || method === "GET") return "container.properties";
      if (method === "DELETE") return "container.delete";
    }
    if (restype === "container" && q.get("comp") === "list" && method === "GET") {
      return "container.list";
    }
    if (resource === "filesystem") {
      if (method === "PUT") return "filesystem.create";
      if (method === "HEAD") return "filesystem.properties";
      if (method === "DELETE") return "filesystem.delete";
      if (method === "GET") return "path.list";
    }
    return "unknown";
  }
  if (restype || q.has("comp")) return "unknown";
  if (method === "PUT") {
    if (h.has("x-ms-rename-source")) return "path.rename";
    if (resource === "file" || resource === "directory") return "path.create";
    return "unknown";
  }
  if (method === "PATCH") {
    const action = q.get("action");
    if (action === "append") return "path.append";
    if (action === "flush") return "path.flush";
    return "unknown";
  }
  if (method === "GET" && !q.has("action") && !resource) return "path.read";
  if (method === "HEAD" && (!q.has("action") || q.get("action") === "getStatus")) {
    return "path.properties";
  }
  if (method === "DELETE") return "path.delete";
  return "unknown";
}

const BLOB_STYLE = new Set<StandinOp>([
  "container.list",
  "container.create",
  "container.properties",
  "container.delete",
  "path.read",
  "path.properties",
]);

function errorResponse(op: StandinOp, method: string, e: Fail, base: Headers): Response {
  base.set("x-ms-error-code", e.code);
  if (method === "HEAD" || e.status === 304) {
    return new Response(null, { status: e.status, headers: base });
  }
  if (BLOB_STYLE.has(op) || op === "unknown") {
    base.set("content-type", "application/xml");
    const msg = e.message.replace(/&/g, "&amp;").replace(/</g, "&lt;");
    const body = `<?xml version="1.0" encoding="utf-8"?><Error><Code>${e.code}</Code>` +
      `<Message>${msg}\nRequestId:${base.get("x-ms-request-id")}\nTime:${
        new Date().toISOString()
      }</Message></Error>`;
    return new Response(body, { status: e.status, headers: base });
  }
  base.set("content-type", "application/json;charset=utf-8");
  const body = JSON.stringify({ error: { code: e.code, message: e.message } });
  return new Response(body, { status: e.status, headers: base });
}

/** Verify a SharedKey Authorization header the way the service does (string-to-sign, HMAC-SHA256). */
function verifySharedKey(
  req: Request,
  url: URL,
  account: string,
  key: Uint8Array,
  auth: string,
): boolean {
  const m = /^SharedKey ([^:]+):(.+)$/.exec(auth);
  if (!m || m[1] !== account) return false;
  const h = req.headers;
  const get = (n: string) => h.get(n) ?? "";
  const len = get("content-length");
  const xms = [...h.entries()].filter(([n]) => n.startsWith("x-ms-")).sort(([a], [b]) =>
    a < b ? -1 : a > b ? 1 : 0
  );
  const canonHeaders = xms.map(([n, v]) => `${n}:${v.trimStart()}\n`).join("");
  let resource = `/${account}${url.pathname}`;
  const keys = [...new Set([...url.searchParams.keys()].map((k) => k.toLowerCase()))].sort();
  for (const k of keys) {
    const vals = [...url.searchParams.entries()].filter(([n]) => n.toLowerCase() === k).map((
      [, v],
    ) => v);
    resource += `\n${k}:${vals.join(",")}`;
  }
  const toSign = [
    req.method.toUpperCase(),
    get("content-encoding"),
    get("content-language"),
    len === "0" ? "" : len,
    get("content-md5"),
    get("content-type"),
    get("date"),
    get("if-modified-since"),
    get("if-match"),
    get("if-none-match"),
    get("if-unmodified-since"),
    get("range"),
  ].join("\n") + "\n" + canonHeaders + resource;
  const expected = createHmac("sha256", key).update(toSign, "utf8").digest();
  let given: Uint8Array;
  try {
    given = Uint8Array.from(atob(m[2]), (c) => c.charCodeAt(0));
  } catch {
    return false;
  }
  return given.length === expected.length && timingSafeEqual(given, expected);
}

function checkConditions(h: Headers, node: Node | undefined, prefix = ""): void {
  const ifMatch = h.get(`${prefix}if-match`);
  const ifNoneMatch = h.get(`${prefix}if-none-match`);
  const ifMod = h.get(`${prefix}if-modified-since`);
  const ifUnmod = h.get(`${prefix}if-unmodified-since`);
  const code = prefix ? "SourceConditionNotMet" : "ConditionNotMet";
  const failed = (status: number) =>
    new Fail(status, code, "The condition specified using HTTP conditional header(s) is not met.");
  if (ifMatch) {
    if (!node || (ifMatch !== "*" && ifMatch !== node.etag)) throw failed(412);
  }
  if (ifNoneMatch) {
    if (ifNoneMatch === "*") {
      if (node && !prefix) {
        throw new Fail(409, "PathAlreadyExists", "The specified path already exists.");
      }
      if (node) throw failed(412);
    } else if (node && ifNoneMatch === node.etag) throw failed(412);
  }
  const secs = (d: Date) => Math.floor(d.getTime() / 1000);
  if (ifMod && node && secs(node.lastModified) <= secs(new Date(ifMod))) throw failed(412);
  if (ifUnmod && node && secs(node.lastModified) > secs(new Date(ifUnmod))) throw failed(412);
}

function parseRange(h: Headers, size: number): [number, number] | undefined {
  const r = h.get("x-ms-range") ?? h.get("range");
  if (!r) return undefined;
  const m = /^bytes=(\d+)-(\d*)$/.exec(r.trim());
  if (!m) throw new Fail(400, "InvalidHeaderValue", `The value for the range header is invalid.`);
  const start = Number(m[1]);
  const end = m[2] === "" ? size - 1 : Math.min(Number(m[2]), size - 1);
  if (start >= size) throw new Fail(416, "InvalidRange", "The range specified is invalid.");
  if (m[2] !== "" && Number(m[2]) < start) {
    throw new Fail(400, "InvalidHeaderValue", "The value for the range header is invalid.");
  }
  return [start, end];
}

function pathHeaders(base: Headers, node: Node): void {
  base.set("etag", node.etag);
  base.set("last-modified", node.lastModified.toUTCString());
}

/** Marker response: close the connection without answering (an injected dropped connection). */
const DROP = new Response(null, { status: 599, statusText: "drop" });

function dropResponse(): Response {
  return DROP;
}

const CRLF = new TextEncoder().encode("\r\n\r\n");

function indexOfSeq(buf: Uint8Array, seq: Uint8Array, from = 0): number {
  outer: for (let i = from; i <= buf.length - seq.length; i++) {
    for (let j = 0; j < seq.length; j++) if (buf[i + j] !== seq[j]) continue outer;
    return i;
  }
  return -1;
}

/**
 * A minimal HTTP/1.1 server loop for one connection (keep-alive, Content-Length or chunked
 * request bodies): plain TCP so that an injected fault can really drop the connection.
 */
async function serveConn(
  conn: Deno.Conn,
  origin: string,
  handler: (req: Request) => Promise<Response>,
): Promise<void> {
  let buf: Uint8Array = new Uint8Array(0);
  const chunk = new Uint8Array(64 * 1024);
  const fill = async (): Promise<boolean> => {
    const n = await conn.read(chunk);
    if (n === null) return false;
    const next = new Uint8Array(buf.length + n);
    next.set(buf);
    next.set(chunk.subarray(0, n), buf.length);
    buf = next;
    return true;
  };
  const take = async (n: number): Promise<Uint8Array> => {
    const out = new Uint8Array(n);
    const have = Math.min(n, buf.length);
    out.set(buf.subarray(0, have));
    buf = buf.subarray(have);
    let off = have;
    while (off < n) {
      const r = await conn.read(out.subarray(off));
      if (r === null) throw new Error("connection closed mid-body");
      off += r;
    }
    return out;
  };
  const takeLine = async (): Promise<string> => {
    let i;
    while ((i = indexOfSeq(buf, CRLF.subarray(0, 2))) < 0) {
      if (!(await fill())) throw new Error("connection closed");
    }
    const line = new TextDecoder().decode(buf.subarray(0, i));
    buf = buf.subarray(i + 2);
    return line;
  };
  try {
    while (true) {
      let end;
      while ((end = indexOfSeq(buf, CRLF)) < 0) {
        if (!(await fill())) return;
      }
      const head = new TextDecoder().decode(buf.subarray(0, end)).split("\r\n");
      buf = buf.subarray(end + 4);
      const [method, target] = head[0].split(" ");
      const headers = new Headers();
      for (const line of head.slice(1)) {
        const c = line.indexOf(":");
        if (c > 0) headers.append(line.slice(0, c).trim(), line.slice(c + 1).trim());
      }
      let body: Uint8Array | undefined;
      if (headers.get("transfer-encoding")?.toLowerCase().includes("chunked")) {
        const parts: Uint8Array[] = [];
        while (true) {
          const size = parseInt(await takeLine(), 16);
          if (!size) {
            await takeLine();
            break;
          }
          parts.push(await take(size));
          await takeLine();
        }
        body = concat(parts);
        headers.delete("transfer-encoding");
        headers.set("content-length", String(body.length));
      } else if (headers.has("content-length")) {
        body = await take(Number(headers.get("content-length")));
      }
      const hasBody = method !== "GET" && method !== "HEAD";
      const req = new Request(origin + target, {
        method,
        headers,
        body: hasBody && body && body.length > 0 ? (body as Uint8Array<ArrayBuffer>) : undefined,
      });
      const res = await handler(req);
      if (res === DROP) return;
      const payload = method === "HEAD"
        ? new Uint8Array()
        : new Uint8Array(await res.arrayBuffer());
      const lines = [`HTTP/1.1 ${res.status} ${res.statusText || "Status"}`];
      for (const [k, v] of res.headers) if (k !== "content-length") lines.push(`${k}: ${v}`);
      const declared = res.headers.get("content-length");
      lines.push(`content-length: ${method === "HEAD" && declared ? declared : payload.length}`);
      const headBytes = new TextEncoder().encode(lines.join("\r\n") + "\r\n\r\n");
      const out = new Uint8Array(headBytes.length + payload.length);
      out.set(headBytes);
      out.set(payload, headBytes.length);
      let off = 0;
      while (off < out.length) off += await conn.write(out.subarray(off));
    }
  } catch {
    // connection reset by the client or closed by close(): nothing to answer
  }
}

/**
 * Start a DFS stand-in on 127.0.0.1 (a free port unless `port` is given).
 *
 * @example
 * ```ts
 * const dfs = await startDfsStandin({ filesystems: ["lake"] });
 * try {
 *   // point the SDK at dfs.url with StorageSharedKeyCredential(dfs.account, dfs.accountKey)
 * } finally {
 *   await dfs.close();
 * }
 * ```
 */
export function startDfsStandin(opts: DfsStandinOptions = {}): Promise<DfsStandin> {
  const account = opts.account ?? "devaccount";
  const accountKey = opts.accountKey ??
    btoa(String.fromCharCode(...crypto.getRandomValues(new Uint8Array(64))));
  const key = Uint8Array.from(atob(accountKey), (c) => c.charCodeAt(0));
  const sasSig = opts.sasToken ? new URLSearchParams(opts.sasToken).get("sig") : undefined;
  const pageSize = opts.listPageSize ?? 5000;
  const filesystems = new Map<string, Filesystem>();
  const requests: StandinLogEntry[] = [];
  let rules: (FaultRule & { left: number })[] = [];

  const createFilesystem = (name: string) => {
    if (!filesystems.has(name)) {
      filesystems.set(name, { etag: newEtag(), lastModified: new Date(), paths: new Map() });
    }
  };
  for (const f of opts.filesystems ?? []) createFilesystem(f);

  const fsOf = (name: string, blobStyle = false): Filesystem => {
    const f = filesystems.get(name);
    if (!f && blobStyle) {
      throw new Fail(404, "ContainerNotFound", "The specified container does not exist.");
    }
    if (!f) throw new Fail(404, "FilesystemNotFound", "The specified filesystem does not exist.");
    return f;
  };

  const touch = (node: Node) => {
    node.etag = newEtag();
    node.lastModified = new Date();
  };

  const ensureParents = (f: Filesystem, path: string) => {
    const dirs: string[] = [];
    for (let p = parent(path); p !== ""; p = parent(p)) dirs.push(p);
    for (const d of dirs) {
      const n = f.paths.get(d);
      if (n && n.kind === "file") {
        throw new Fail(409, "PathConflict", `The path '${d}' is a file, not a directory.`);
      }
    }
    for (const d of dirs.reverse()) {
      if (!f.paths.has(d)) {
        const now = new Date();
        f.paths.set(d, {
          kind: "dir",
          data: new Uint8Array(),
          staged: new Map(),
          etag: newEtag(),
          lastModified: now,
          created: now,
        });
      }
    }
  };

  const children = (f: Filesystem, dir: string): string[] =>
    [...f.paths.keys()].filter((p) => dir === "" || p.startsWith(dir + "/"));

  const splitPath = (url: URL): { fs: string; path: string } => {
    const segs = url.pathname.split("/");
    // ["", account, fs, ...path]
    if (segs[1] !== account) {
      throw new Fail(
        400,
        "InvalidUri",
        `The requested URI does not represent any resource on the server (account '${
          decodeURIComponent(segs[1] ?? "")
        }' is not '${account}').`,
      );
    }
    const fs = decodeURIComponent(segs[2] ?? "");
    const path = segs.slice(3).map(decodeURIComponent).join("/").replace(/\/+$/, "");
    return { fs, path };
  };

  async function apply(
    op: StandinOp,
    req: Request,
    url: URL,
    fsName: string,
    path: string,
    base: Headers,
  ): Promise<Response> {
    const q = url.searchParams;
    const h = req.headers;
    const readBody = async () => new Uint8Array(await req.arrayBuffer());
    switch (op) {
      case "container.create":
      case "filesystem.create": {
        if (filesystems.has(fsName)) {
          throw op === "container.create"
            ? new Fail(409, "ContainerAlreadyExists", "The specified container already exists.")
            : new Fail(409, "FilesystemAlreadyExists", "The specified filesystem already exists.");
        }
        if (!/^[a-z0-9](?!.*--)[-a-z0-9]{1,61}[a-z0-9]$/.test(fsName)) {
          throw new Fail(400, "InvalidResourceName", "The specified resource name is invalid.");
        }
        createFilesystem(fsName);
        const f = filesystems.get(fsName)!;
        base.set("etag", f.etag);
        base.set("last-modified", f.lastModified.toUTCString());
        return new Response(null, { status: 201, headers: base });
      }
      case "container.properties":
      case "filesystem.properties": {
        const f = filesystems.get(fsName);
        if (!f) {
          throw op === "container.properties"
            ? new Fail(404, "ContainerNotFound", "The specified container does not exist.")
            : new Fail(404, "FilesystemNotFound", "The specified filesystem does not exist.");
        }
        base.set("etag", f.etag);
        base.set("last-modified", f.lastModified.toUTCString());
        if (op === "filesystem.properties") base.set("x-ms-namespace-enabled", "true");
        return new Response(null, { status: 200, headers: base });
      }
      case "container.list": {
        // List Blobs (Blob endpoint), as independent readers (delta-rs / object_store) use it.
        const f = fsOf(fsName, true);
        const prefix = q.get("prefix") ?? "";
        const delimiter = q.get("delimiter");
        const max = Math.min(pageSize, Number(q.get("maxresults") ?? pageSize) || pageSize);
        const marker = q.get("marker");
        const xml = (t: string) =>
          t.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
        const startFrom = q.get("startFrom") ?? "";
        const names = [...f.paths.keys()].filter((p) => p.startsWith(prefix) && p >= startFrom)
          .sort();
        const items: { name: string; prefix: boolean }[] = [];
        const seen = new Set<string>();
        for (const p of names) {
          if (delimiter) {
            const rest = p.slice(prefix.length);
            const i = rest.indexOf(delimiter);
            if (i >= 0) {
              const pre = prefix + rest.slice(0, i + delimiter.length);
              if (!seen.has(pre)) {
                seen.add(pre);
                items.push({ name: pre, prefix: true });
              }
              continue;
            }
          }
          items.push({ name: p, prefix: false });
        }
        const start = marker ? items.findIndex((it) => it.name > atob(marker)) : 0;
        const rest = start < 0 ? [] : items.slice(start);
        const page = rest.slice(0, max);
        const next = rest.length > max ? btoa(page[page.length - 1].name) : "";
        const body = page.map((it) => {
          if (it.prefix) return `<BlobPrefix><Name>${xml(it.name)}</Name></BlobPrefix>`;
          const n = f.paths.get(it.name)!;
          return `<Blob><Name>${xml(it.name)}</Name><Properties>` +
            `<Creation-Time>${n.created.toUTCString()}</Creation-Time>` +
            `<Last-Modified>${n.lastModified.toUTCString()}</Last-Modified>` +
            `<Etag>${n.etag.replace(/"/g, "")}</Etag>` +
            `<Content-Length>${n.kind === "dir" ? 0 : n.data.length}</Content-Length>` +
            `<Content-Type>application/octet-stream</Content-Type><BlobType>BlockBlob</BlobType>` +
            `<ResourceType>${n.kind === "dir" ? "directory" : "file"}</ResourceType>` +
            `</Properties>${
              n.kind === "dir" ? "<Metadata><hdi_isfolder>true</hdi_isfolder></Metadata>" : ""
            }</Blob>`;
        }).join("");
        base.set("content-type", "application/xml");
        return new Response(
          `<?xml version="1.0" encoding="utf-8"?><EnumerationResults ServiceEndpoint="${
            xml(url.origin + "/" + account + "/")
          }" ContainerName="${xml(fsName)}"><Prefix>${xml(prefix)}</Prefix>` +
            `<MaxResults>${max}</MaxResults><Blobs>${body}</Blobs><NextMarker>${next}</NextMarker>` +
            `</EnumerationResults>`,
          { status: 200, headers: base },
        );
      }
      case "container.delete":
      case "filesystem.delete": {
        fsOf(fsName);
        filesystems.delete(fsName);
        return new Response(null, { status: 202, headers: base });
      }
      case "path.list": {
        const f = fsOf(fsName);
        if (q.get("recursive") === null) {
          throw new Fail(400, "MissingRequiredQueryParameter", "recursive is required.");
        }
        const recursive = q.get("recursive") === "true";
        const dir = (q.get("directory") ?? "").replace(/^\/+|\/+$/g, "");
        if (dir !== "" && f.paths.get(dir)?.kind !== "dir") {
          throw new Fail(404, "PathNotFound", "The specified path does not exist.");
        }
        const max = Math.min(pageSize, Number(q.get("maxResults") ?? pageSize) || pageSize);
        let names = children(f, dir).sort();
        if (!recursive) names = names.filter((p) => parent(p) === dir);
        const from = q.get("continuation");
        if (from) names = names.filter((p) => p > atob(from));
        const page = names.slice(0, max);
        if (names.length > max) base.set("x-ms-continuation", btoa(page[page.length - 1]));
        const paths = page.map((p) => {
          const n = f.paths.get(p)!;
          const entry: Record<string, string> = {
            name: p,
            contentLength: String(n.kind === "dir" ? 0 : n.data.length),
            lastModified: n.lastModified.toUTCString(),
            etag: n.etag.replace(/"/g, ""),
            owner: "$superuser",
            group: "$superuser",
            permissions: n.kind === "dir" ? "rwxr-x---" : "rw-r-----",
            creationTime: String(BigInt(n.created.getTime()) * 10000n + 116444736000000000n),
          };
          if (n.kind === "dir") entry.isDirectory = "true";
          return entry;
        });
        base.set("content-type", "application/json;charset=utf-8");
        return new Response(JSON.stringify({ paths }), { status: 200, headers: base });
      }
      case "path.create": {
        const f = fsOf(fsName);
        const kind = q.get("resource") as "file" | "directory";
        const existing = f.paths.get(path);
        checkConditions(h, existing);
        if (existing && existing.kind === "dir" && kind === "file") {
          throw new Fail(409, "PathConflict", "The specified path is a directory.");
        }
        if (existing && existing.kind === "file" && kind === "directory") {
          throw new Fail(409, "PathConflict", "The specified path is a file.");
        }
        ensureParents(f, path);
        const now = new Date();
        const node: Node = existing && kind === "directory" ? existing : {
          kind: kind === "file" ? "file" : "dir",
          data: new Uint8Array(),
          staged: new Map(),
          etag: newEtag(),
          lastModified: now,
          created: now,
        };
        touch(node);
        f.paths.set(path, node);
        pathHeaders(base, node);
        base.set("content-length", "0");
        return new Response(null, { status: 201, headers: base });
      }
      case "path.rename": {
        const f = fsOf(fsName);
        const src = h.get("x-ms-rename-source")!;
        const srcUrl = new URL(src, "http://x");
        const segs = srcUrl.pathname.split("/");
        if (segs[1] !== account) {
          throw new Fail(400, "InvalidSourceUri", "The source URI is invalid.");
        }
        if (srcUrl.searchParams.has("sig") && srcUrl.searchParams.get("sig") !== sasSig) {
          throw new Fail(403, "AuthenticationFailed", "The source SAS is not valid.");
        }
        const srcFs = fsOf(decodeURIComponent(segs[2] ?? ""));
        const srcPath = segs.slice(3).map(decodeURIComponent).join("/").replace(/\/+$/, "");
        const srcNode = srcFs.paths.get(srcPath);
        checkConditions(h, srcNode, "x-ms-source-");
        if (!srcNode) {
          throw new Fail(
            404,
            "SourcePathNotFound",
            "The source path for a rename operation does not exist.",
          );
        }
        const dst = f.paths.get(path);
        checkConditions(h, dst);
        if (srcFs === f && srcPath === path) {
          pathHeaders(base, srcNode);
          return new Response(null, { status: 201, headers: base });
        }
        const destParent = parent(path);
        if (destParent !== "" && f.paths.get(destParent)?.kind !== "dir") {
          throw new Fail(
            404,
            "RenameDestinationParentPathNotFound",
            "The parent directory of the destination path does not exist.",
          );
        }
        if (dst && dst.kind === "dir") {
          throw new Fail(
            409,
            "DestinationPathIsBeingDeleted",
            "The destination path is a directory.",
          );
        }
        if (srcNode.kind === "dir" && srcFs === f && (path + "/").startsWith(srcPath + "/")) {
          throw new Fail(400, "InvalidDestinationPath", "Cannot rename a directory into itself.");
        }
        // Atomic: everything below runs without awaiting.
        const moved = srcNode.kind === "dir" ? children(srcFs, srcPath) : [];
        srcFs.paths.delete(srcPath);
        f.paths.set(path, srcNode);
        for (const c of moved) {
          const n = srcFs.paths.get(c)!;
          srcFs.paths.delete(c);
          f.paths.set(path + c.slice(srcPath.length), n);
        }
        srcNode.lastModified = new Date();
        pathHeaders(base, srcNode);
        base.set("content-length", "0");
        return new Response(null, { status: 201, headers: base });
      }
      case "path.append": {
        const f = fsOf(fsName);
        const node = f.paths.get(path);
        if (!q.has("position")) {
          throw new Fail(400, "MissingRequiredQueryParameter", "position is required.");
        }
        if (!h.has("content-length")) {
          throw new Fail(411, "MissingContentLengthHeader", "Content-Length is required.");
        }
        const body = await readBody();
        if (Number(h.get("content-length")) !== body.length) {
          throw new Fail(400, "InvalidHeaderValue", "Content-Length does not match the body.");
        }
        if (!node) throw new Fail(404, "PathNotFound", "The specified path does not exist.");
        if (node.kind === "dir") {
          throw new Fail(400, "InvalidFlushOperation", "The resource is a directory.");
        }
        const pos = Number(q.get("position"));
        if (!Number.isInteger(pos) || pos < node.data.length) {
          throw new Fail(
            400,
            "InvalidFlushPosition",
            "The uploaded data is not contiguous or the position query parameter value is not " +
              "equal to the length of the file after appending the uploaded data.",
          );
        }
        node.staged.set(pos, body);
        if (q.get("flush") === "true") flushTo(node, pos + body.length);
        base.set("content-length", "0");
        if (q.get("flush") === "true") pathHeaders(base, node);
        return new Response(null, { status: 202, headers: base });
      }
      case "path.flush": {
        const f = fsOf(fsName);
        const node = f.paths.get(path);
        if (!node) throw new Fail(404, "PathNotFound", "The specified path does not exist.");
        checkConditions(h, node);
        if (node.kind === "dir") {
          throw new Fail(400, "InvalidFlushOperation", "The resource is a directory.");
        }
        const body = await readBody();
        if (body.length > 0) {
          throw new Fail(400, "InvalidRequestContent", "A flush request must have no body.");
        }
        const pos = Number(q.get("position"));
        if (!q.has("position") || !Number.isInteger(pos)) {
          throw new Fail(400, "MissingRequiredQueryParameter", "position is required.");
        }
        flushTo(node, pos);
        pathHeaders(base, node);
        base.set("content-length", "0");
        return new Response(null, { status: 200, headers: base });
      }
      case "path.read":
      case "path.properties": {
        const f = fsOf(fsName, true);
        const node = f.paths.get(path);
        if (!node) {
          throw new Fail(404, "BlobNotFound", "The specified blob does not exist.");
        }
        checkConditions(h, node);
        pathHeaders(base, node);
        base.set("x-ms-creation-time", node.created.toUTCString());
        base.set("x-ms-blob-type", "BlockBlob");
        base.set("x-ms-server-encrypted", "true");
        base.set("x-ms-resource-type", node.kind === "dir" ? "directory" : "file");
        base.set("accept-ranges", "bytes");
        base.set("content-type", "application/octet-stream");
        if (node.kind === "dir") base.set("x-ms-meta-hdi_isfolder", "true");
        if (op === "path.properties") {
          base.set("content-length", String(node.data.length));
          return new Response(null, { status: 200, headers: base });
        }
        const range = parseRange(h, node.data.length);
        if (!range) {
          base.set("content-length", String(node.data.length));
          return new Response(node.data.slice(), { status: 200, headers: base });
        }
        const [s, e] = range;
        base.set("content-range", `bytes ${s}-${e}/${node.data.length}`);
        base.set("content-length", String(e - s + 1));
        return new Response(node.data.slice(s, e + 1), { status: 206, headers: base });
      }
      case "path.delete": {
        const f = fsOf(fsName);
        const node = f.paths.get(path);
        if (!node) throw new Fail(404, "PathNotFound", "The specified path does not exist.");
        checkConditions(h, node);
        if (node.kind === "dir") {
          const kids = children(f, path);
          if (kids.length > 0 && q.get("recursive") !== "true") {
            throw new Fail(
              409,
              "DirectoryNotEmpty",
              "The recursive query parameter value must be true to delete a non-empty directory.",
            );
          }
          for (const k of kids) f.paths.delete(k);
        }
        f.paths.delete(path);
        return new Response(null, { status: 200, headers: base });
      }
      default:
        throw new Fail(
          501,
          "NotEmulatedByStandIn",
          `The DFS stand-in does not emulate ${req.method} ${url.pathname}${url.search}.`,
        );
    }
  }

  function flushTo(node: Node, pos: number): void {
    const parts = [node.data];
    let at = node.data.length;
    while (at < pos) {
      const chunk = node.staged.get(at);
      if (!chunk || chunk.length === 0) break;
      parts.push(chunk);
      at += chunk.length;
    }
    if (at !== pos) {
      throw new Fail(
        400,
        "InvalidFlushPosition",
        "The uploaded data is not contiguous or the position query parameter value is not equal " +
          "to the length of the file after appending the uploaded data.",
      );
    }
    if (pos !== node.data.length || node.staged.size > 0) {
      node.data = concat(parts);
      node.staged.clear();
      touch(node);
    }
  }

  function authorize(req: Request, url: URL): void {
    const h = req.headers;
    if (!h.get("x-ms-version")) {
      throw new Fail(
        400,
        "MissingRequiredHeader",
        "An HTTP header that's mandatory for this request is not specified: x-ms-version.",
      );
    }
    const auth = h.get("authorization");
    if (auth) {
      if (!h.get("x-ms-date") && !h.get("date")) {
        throw new Fail(403, "AuthenticationFailed", "x-ms-date or Date is required.");
      }
      if (!verifySharedKey(req, url, account, key, auth)) {
        throw new Fail(
          403,
          "AuthenticationFailed",
          "Server failed to authenticate the request. Make sure the value of Authorization header is formed correctly including the signature.",
        );
      }
      return;
    }
    const sig = url.searchParams.get("sig");
    if (sig && sasSig && sig === sasSig) return;
    if (sig) {
      throw new Fail(403, "AuthenticationFailed", "Signature did not match.");
    }
    throw new Fail(
      401,
      "NoAuthenticationInformation",
      "Server failed to authenticate the request. Please refer to the information in the www-authenticate header.",
    );
  }

  const handler = async (req: Request): Promise<Response> => {
    const url = new URL(req.url);
    const base = new Headers({
      "x-ms-request-id": crypto.randomUUID(),
      "x-ms-version": SERVICE_VERSION,
      "date": new Date().toUTCString(),
      "server": "DFS-stand-in",
    });
    let op: StandinOp = "unknown";
    let fsName = "";
    let path = "";
    const entry: StandinLogEntry = {
      method: req.method,
      op,
      url: url.pathname + url.search,
      status: 0,
    };
    const record = (res: Response, code?: string) => {
      entry.op = op;
      entry.status = res === DROP ? 0 : res.status;
      if (code) entry.code = code;
      requests.push(entry);
      if (opts.log) {
        console.error(
          `dfs-standin ${entry.method} ${entry.op} ${entry.url} -> ${entry.status}${
            code ? " " + code : ""
          }${entry.fault ? " [" + entry.fault + "]" : ""}`,
        );
      }
      return res;
    };
    try {
      ({ fs: fsName, path } = splitPath(url));
      op = classify(req.method, url.searchParams, path, req.headers);
      const ruleIndex = rules.findIndex((r) =>
        r.left > 0 && (r.op === "any" || r.op === op) &&
        (!r.pathIncludes || path.includes(r.pathIncludes))
      );
      let rule: (FaultRule & { left: number }) | undefined = ruleIndex >= 0
        ? rules[ruleIndex]
        : undefined;
      if (!rule && opts.chaos && op !== "unknown" && Math.random() < opts.chaos) {
        const fault = CHAOS_FAULTS[Math.floor(Math.random() * CHAOS_FAULTS.length)];
        rule = { op, fault, left: 1 };
      }
      if (rule) {
        rule.left--;
        rules = rules.filter((r) => r.left > 0);
        entry.fault = JSON.stringify(rule.fault);
        const fault = rule.fault;
        if ("status" in fault) {
          if (req.body) await req.arrayBuffer();
          const code = fault.code ??
            (fault.status === 503
              ? "ServerBusy"
              : fault.status === 500
              ? "InternalError"
              : fault.status === 403
              ? "AuthorizationPermissionMismatch"
              : fault.status === 429
              ? "TooManyRequests"
              : fault.status === 408
              ? "OperationTimedOut"
              : "InjectedFault");
          if (fault.status === 503 || fault.status === 429) base.set("retry-after", "0");
          throw new Fail(fault.status, code, `Injected fault (${code}) by the DFS stand-in.`);
        }
        if ("drop" in fault) {
          if (fault.drop === "after") {
            authorize(req, url);
            await apply(op, req, url, fsName, path, base);
          } else if (req.body) await req.arrayBuffer();
          return record(dropResponse());
        }
        if (fault.when === "before") await new Promise((r) => setTimeout(r, fault.delayMs));
        authorize(req, url);
        const res = await apply(op, req, url, fsName, path, base);
        if (fault.when === "after") await new Promise((r) => setTimeout(r, fault.delayMs));
        return record(res);
      }
      authorize(req, url);
      return record(await apply(op, req, url, fsName, path, base));
    } catch (e) {
      if (req.body && !req.bodyUsed) await req.arrayBuffer().catch(() => {});
      if (e instanceof Fail) {
        return record(errorResponse(op, req.method, e, base), e.code);
      }
      const fail = new Fail(500, "InternalError", `DFS stand-in bug: ${e}`);
      return record(errorResponse(op, req.method, fail, base), fail.code);
    }
  };

  const listener = Deno.listen({ hostname: "127.0.0.1", port: opts.port ?? 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  const conns = new Set<Deno.Conn>();
  const serving = (async () => {
    for await (const conn of listener) {
      conns.add(conn);
      serveConn(conn, `http://127.0.0.1:${port}`, handler).finally(() => {
        conns.delete(conn);
        try {
          conn.close();
        } catch { /* already closed */ }
      });
    }
  })().catch(() => {});
  return Promise.resolve({
    url: `http://127.0.0.1:${port}/${account}`,
    account,
    accountKey,
    port,
    requests,
    inject(...r) {
      for (const rule of r) rules.push({ ...rule, left: rule.times ?? 1 });
    },
    clearFaults() {
      rules = [];
    },
    createFilesystem,
    peek(fs, path) {
      const n = filesystems.get(fs)?.paths.get(path);
      return n && n.kind === "file" ? n.data : undefined;
    },
    files(fs) {
      const f = filesystems.get(fs);
      if (!f) return [];
      return [...f.paths.entries()].filter(([, n]) => n.kind === "file").map(([p]) => p).sort();
    },
    async close() {
      listener.close();
      for (const c of conns) {
        try {
          c.close();
        } catch { /* already closed */ }
      }
      await serving;
      // let the per-connection loops observe the close
      await new Promise((r) => setTimeout(r, 0));
    },
  });
}

if (import.meta.main) {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      port: { type: "string", default: "0" },
      account: { type: "string", default: "devaccount" },
      filesystem: { type: "string", multiple: true },
      log: { type: "boolean", default: false },
      chaos: { type: "string", default: "0" },
    },
  });
  const s = await startDfsStandin({
    port: Number(values.port),
    account: values.account,
    filesystems: values.filesystem ?? [],
    log: values.log,
    chaos: Number(values.chaos),
  });
  console.log(JSON.stringify({
    url: s.url,
    account: s.account,
    accountKey: s.accountKey,
    port: s.port,
    pid: Deno.pid,
  }));
  const stop = () => s.close().then(() => Deno.exit(0));
  Deno.addSignalListener("SIGTERM", stop);
  Deno.addSignalListener("SIGINT", stop);
}
