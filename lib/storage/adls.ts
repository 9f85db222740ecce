/**
 * Azure Data Lake Storage Gen2 storage (hierarchical namespace, DFS endpoint) through
 * `@azure/storage-file-datalake`. Locations: `abfss://<fs>@<account>.dfs.core.windows.net/<path>`
 * or `https://<account>.dfs.core.windows.net/<fs>/<path>`.
 *
 * - put / putIfAbsent write a hidden temp file next to the target (create, appends, flush), then
 *   rename it onto the target; putIfAbsent renames with `If-None-Match: *` on the destination, so
 *   exactly one of racing writers wins and readers never see a partial or empty commit file.
 * - Transient failures (408, 429, 500, 502, 503, 504, timeouts, dropped connections) are retried
 *   per request with exponential backoff and full jitter; a retried rename whose first attempt may
 *   have landed is resolved by whether our temp file still exists.
 * - Large files are uploaded as parallel appends of `chunkSize` bytes (at most `concurrency` in
 *   flight) and read back as parallel ranged reads pinned to one ETag.
 * - Permanent failures raise typed errors naming the location and what is missing.
 *
 * @module
 */
import type {
  DataLakeFileClient,
  DataLakeFileSystemClient,
  StoragePipelineOptions,
} from "@azure/storage-file-datalake";
import { type AdlsClient, createAdlsClient, parseAdlsLocation } from "./_adls_auth.ts";
import {
  AdlsAuthenticationError,
  AdlsFilesystemNotFoundError,
  AdlsPermissionError,
} from "./_adls_errors.ts";
import {
  DEFAULT_RETRY,
  describeFacts,
  errorFacts,
  inParallel,
  RetriesExhausted,
  type RetryPolicy,
  withRetry,
} from "./_adls_retry.ts";
import { NotFoundError, StorageError } from "./errors.ts";
import type { FileInfo, Storage } from "./storage.ts";

export { type AdlsLocation, parseAdlsLocation } from "./_adls_auth.ts";
export {
  AdlsAuthenticationError,
  AdlsFilesystemNotFoundError,
  AdlsLocationError,
  AdlsPermissionError,
} from "./_adls_errors.ts";
export type { RetryPolicy } from "./_adls_retry.ts";

/** Options for {@link adlsStorage}; every field has a default. */
export interface AdlsOptions {
  /** Where to read AZURE_* variables (default: the process environment). */
  env?: Record<string, string | undefined>;
  /** Retry policy overrides (default 8 attempts, 200 ms base, 10 s cap, 60 s per attempt). */
  retry?: Partial<RetryPolicy>;
  /** Upload/download chunk size in bytes (default 4 MiB). */
  chunkSize?: number;
  /** Chunks in flight per file (default 4). */
  concurrency?: number;
}

type Op = "read" | "write" | "delete" | "list";

const PERMISSION: Record<Op, string> = {
  read: "Microsoft.Storage/storageAccounts/blobServices/containers/blobs/read",
  list: "Microsoft.Storage/storageAccounts/blobServices/containers/blobs/read",
  write:
    "Microsoft.Storage/storageAccounts/blobServices/containers/blobs/write (and blobs/move/action for the rename)",
  delete: "Microsoft.Storage/storageAccounts/blobServices/containers/blobs/delete",
};

const SAS_PERMISSION: Record<Op, string> = {
  read: "r",
  list: "l",
  write: "c, w and m (create, write, move)",
  delete: "d",
};

function checkPath(path: string): string {
  const clean = path.replace(/^\/+/, "");
  if (clean.split("/").some((s) => s === ".." || s === ".")) {
    throw new StorageError(
      `path '${path}' escapes the storage root; use a relative path without '..'`,
    );
  }
  return clean;
}

async function readBody(
  stream: NodeJS.ReadableStream | undefined,
  into?: Uint8Array,
  at = 0,
): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  let n = 0;
  if (stream) {
    for await (const chunk of stream as AsyncIterable<Uint8Array | string>) {
      const bytes = typeof chunk === "string" ? new TextEncoder().encode(chunk) : chunk;
      if (into) into.set(bytes, at + n);
      else parts.push(bytes);
      n += bytes.length;
    }
  }
  if (into) return into.subarray(at, at + n);
  if (parts.length === 1) return parts[0];
  const out = new Uint8Array(n);
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return out;
}

/**
 * Storage on ADLS Gen2 for `location` (abfss:// or https://<account>.dfs.<suffix>/<fs>/...).
 * The client is created on first use, with credentials from env (see README): connection string,
 * account key, SAS token, or Microsoft Entra ID; AZURE_STORAGE_DFS_ENDPOINT overrides the endpoint.
 *
 * @example
 * ```ts
 * import { adlsStorage } from "./adls.ts";
 * // Nothing connects yet: the client is made on the first read or write.
 * const storage = adlsStorage("abfss://lake@myaccount.dfs.core.windows.net/tables/orders_raw");
 * // Needs the account and AZURE_* credentials, so it is only type-checked here:
 * const firstCommit = (bytes: Uint8Array): Promise<boolean> =>
 *   storage.putIfAbsent("_delta_log/00000000000000000000.json", bytes);
 * ```
 */
export function adlsStorage(location: string, opts: AdlsOptions = {}): Storage {
  const loc = parseAdlsLocation(location);
  const policy: RetryPolicy = { ...DEFAULT_RETRY, ...opts.retry };
  const chunkSize = opts.chunkSize ?? 4 * 1024 * 1024;
  const concurrency = Math.max(1, opts.concurrency ?? 4);
  const envOf = (name: string) => (opts.env ? opts.env[name] : Deno.env.get(name)) || undefined;
  const where = `'${location}'`;

  let clientPromise: Promise<{ client: AdlsClient; fs: DataLakeFileSystemClient }> | undefined;
  const client = () => {
    clientPromise ??= (async () => {
      const pipeline: StoragePipelineOptions = {
        // One try per SDK call: this module retries, so it can resolve ambiguous outcomes.
        retryOptions: { maxTries: 1, tryTimeoutInMs: policy.tryTimeoutMs },
      };
      const c = await createAdlsClient(loc, envOf, pipeline);
      return { client: c, fs: c.service.getFileSystemClient(loc.filesystem) };
    })();
    clientPromise.catch(() => (clientPromise = undefined));
    return clientPromise;
  };

  const full = (p: string) => (loc.root ? `${loc.root}/${p}` : p);
  const fileClient = async (p: string): Promise<DataLakeFileClient> =>
    (await client()).fs.getFileClient(full(p));

  /** Turn an SDK error into the typed error callers see. */
  const fail = async (op: Op, path: string, e: unknown): Promise<never> => {
    if (e instanceof StorageError || e instanceof NotFoundError) throw e;
    const last = e instanceof RetriesExhausted ? e.cause : e;
    const f = e instanceof RetriesExhausted ? e.facts : errorFacts(e);
    const what = describeFacts(f, last);
    const auth = clientPromise ? (await clientPromise.catch(() => undefined))?.client.auth : "";
    const name = (last as Error)?.name ?? "";
    if (/CredentialUnavailable|AuthenticationError|AggregateAuthentication/.test(name)) {
      throw new AdlsAuthenticationError(
        `no usable Azure credential for ${where}: set AZURE_STORAGE_ACCOUNT_KEY, ` +
          `AZURE_STORAGE_SAS_TOKEN or AZURE_STORAGE_CONNECTION_STRING, or sign in for Microsoft ` +
          `Entra ID (az login; a service principal via AZURE_TENANT_ID, AZURE_CLIENT_ID, ` +
          `AZURE_CLIENT_SECRET; or a managed identity) — ${name}`,
      );
    }
    if (f.code === "FilesystemNotFound" || f.code === "ContainerNotFound") {
      throw new AdlsFilesystemNotFoundError(
        `filesystem '${loc.filesystem}' does not exist in storage account '${loc.account}' ` +
          `(location ${where}); create it (e.g. az storage fs create --name ${loc.filesystem} ` +
          `--account-name ${loc.account} --auth-mode login) or fix the location`,
      );
    }
    if (
      f.status === 401 ||
      (f.status === 403 &&
        /^(AuthenticationFailed|InvalidAuthenticationInfo|NoAuthenticationInformation)$/.test(
          f.code ?? "",
        ))
    ) {
      throw new AdlsAuthenticationError(
        `Azure rejected the credentials (${what}) for ${op} of '${path}' under ${where}, using ` +
          `${auth}; check that the key, SAS token or connection string belongs to account ` +
          `'${loc.account}' and has not expired or been rotated (values are not shown)`,
      );
    }
    if (f.status === 403) {
      const sas = auth?.includes("SAS");
      throw new AdlsPermissionError(
        `permission denied: ${op} of '${path}' under ${where} (${what}) using ${auth}; ` +
          (sas
            ? `the SAS token needs permission ${
              SAS_PERMISSION[op]
            } on filesystem '${loc.filesystem}' ` +
              `(a table writer needs r, a, c, w, d, l and m)`
            : `the identity lacks ${
              PERMISSION[op]
            }: assign it the "Storage Blob Data Contributor" ` +
              `role (read-only jobs: "Storage Blob Data Reader") on account '${loc.account}' or ` +
              `filesystem '${loc.filesystem}', and check the ACLs on the path and its parents`),
      );
    }
    if (e instanceof RetriesExhausted) {
      throw new StorageError(
        `${op} of '${path}' under ${where} kept failing (${e.message}); Azure Storage or the ` +
          `network is unavailable or throttling — retry later`,
        { cause: last },
      );
    }
    throw new StorageError(`${op} of '${path}' under ${where} failed: ${what}`, { cause: last });
  };

  const retry = <T>(fn: () => Promise<T>) => withRetry(policy, fn);

  /** Write `data` to a fresh (temp) file: create, parallel appends, flush. */
  const writeFile = async (fc: DataLakeFileClient, data: Uint8Array): Promise<void> => {
    await retry(() => fc.create());
    if (data.length === 0) return;
    if (data.length <= chunkSize) {
      await retry(async () => {
        try {
          await fc.append(data, 0, data.length, { flush: true });
        } catch (e) {
          // An earlier send (ours, or the HTTP layer's silent re-send) may have landed already.
          if (errorFacts(e).code === "InvalidFlushPosition") {
            const p = await fc.getProperties();
            if (p.contentLength === data.length) return;
          }
          throw e;
        }
      });
      return;
    }
    const offsets: number[] = [];
    for (let off = 0; off < data.length; off += chunkSize) offsets.push(off);
    await inParallel(offsets, concurrency, async (off) => {
      const chunk = data.subarray(off, Math.min(off + chunkSize, data.length));
      await retry(() => fc.append(chunk, off, chunk.length));
    });
    await retry(() => fc.flush(data.length, { close: true }));
  };

  /** True when `path` holds exactly `data` (used to settle an ambiguous rename). */
  const holds = async (path: string, data: Uint8Array): Promise<boolean> => {
    try {
      const got = await storage.get(path);
      return got.length === data.length && got.every((b, i) => b === data[i]);
    } catch (e) {
      if (e instanceof NotFoundError) return false;
      throw e;
    }
  };

  /**
   * Rename our temp file onto `path`; true = done, false = destination exists (ifAbsent).
   * The outcome is read from state, not from attempt counts: the HTTP layer itself may re-send a
   * request whose connection dropped (Deno's node:http does), so a "failure" can follow a success.
   * Only our own rename removes our uniquely named temp file, so "temp gone" means "our rename
   * landed", confirmed by comparing the destination's bytes.
   */
  const renameOnto = async (
    tmp: DataLakeFileClient,
    path: string,
    data: Uint8Array,
    ifAbsent: boolean,
  ): Promise<boolean> => {
    const { client: c } = await client();
    const prefix = new URL(c.accountUrl).pathname.replace(/^\/+|\/+$/g, "");
    const destFs = prefix ? `${prefix}/${loc.filesystem}` : loc.filesystem;
    const destPath = full(path).split("/").map(encodeURIComponent).join("/") +
      (c.sas ? `?${c.sas}` : "");
    const settle = async (e: unknown): Promise<boolean> => {
      if (await holds(path, data)) return true;
      throw e;
    };
    return await retry(async () => {
      try {
        await tmp.move(
          destFs,
          destPath,
          ifAbsent ? { destinationConditions: { ifNoneMatch: "*" } } : {},
        );
        return true;
      } catch (e) {
        const f = errorFacts(e);
        if (f.status === 404 && f.code === "SourcePathNotFound") return await settle(e);
        if (ifAbsent && (f.status === 409 || f.status === 412)) {
          if (await retry(() => tmp.exists())) return false; // someone else holds the name
          return await settle(e); // our temp is gone: an earlier send of this rename won
        }
        throw e;
      }
    });
  };

  const upload = async (path: string, data: Uint8Array, ifAbsent: boolean): Promise<boolean> => {
    const clean = checkPath(path);
    const slash = clean.lastIndexOf("/");
    const tmpPath = `${slash >= 0 ? clean.slice(0, slash + 1) : ""}.${
      clean.slice(slash + 1)
    }.${crypto.randomUUID()}.tmp`;
    let tmp: DataLakeFileClient | undefined;
    let moved = false;
    try {
      tmp = await fileClient(tmpPath);
      await writeFile(tmp, data);
      const done = await renameOnto(tmp, clean, data, ifAbsent);
      moved = done;
      return done;
    } catch (e) {
      return await fail("write", clean, e);
    } finally {
      if (tmp && !moved) {
        const t = tmp;
        await retry(() => t.deleteIfExists()).catch(() => {});
      }
    }
  };

  const readRange = async (
    fc: DataLakeFileClient,
    start: number,
    count: number | undefined,
    etag?: string,
    into?: Uint8Array,
  ) =>
    await retry(async () => {
      const r = await fc.read(start, count, etag ? { conditions: { ifMatch: etag } } : {});
      const bytes = await readBody(r.readableStreamBody, into, start);
      const m = /\/(\d+)$/.exec(r.contentRange ?? "");
      const total = m ? Number(m[1]) : (r.contentLength ?? bytes.length) + start;
      if (count !== undefined && bytes.length !== Math.min(count, total - start)) {
        throw Object.assign(new Error("connection closed before the whole range arrived"), {
          code: "ECONNRESET",
        });
      }
      return { bytes, total, etag: r.etag };
    });

  const storage: Storage = {
    url: location,
    async get(path) {
      const clean = checkPath(path);
      for (let round = 0;; round++) {
        try {
          const fc = await fileClient(clean);
          let first;
          try {
            first = await readRange(fc, 0, chunkSize);
          } catch (e) {
            if (errorFacts(e).status !== 416) throw e;
            return new Uint8Array(); // empty file: the service refuses any range
          }
          if (first.total <= first.bytes.length) return first.bytes;
          const out = new Uint8Array(first.total);
          out.set(first.bytes, 0);
          const offsets: number[] = [];
          for (let off = first.bytes.length; off < first.total; off += chunkSize) offsets.push(off);
          await inParallel(offsets, concurrency, async (off) => {
            await readRange(fc, off, Math.min(chunkSize, first.total - off), first.etag, out);
          });
          return out;
        } catch (e) {
          const f = errorFacts(e);
          if (
            f.status === 404 && f.code !== "FilesystemNotFound" && f.code !== "ContainerNotFound"
          ) {
            throw new NotFoundError(clean, location);
          }
          if (f.status === 412 && round < 3) continue; // replaced while reading: read again
          return await fail("read", clean, e);
        }
      }
    },
    async getRange(path, start, end) {
      const clean = checkPath(path);
      try {
        if (end <= start) {
          if (!(await storage.head(clean))) throw new NotFoundError(clean, location);
          return new Uint8Array();
        }
        const fc = await fileClient(clean);
        const out = new Uint8Array(end - start);
        let off = start;
        let total = Infinity;
        while (off < end && off < total) {
          const n = Math.min(chunkSize, end - off);
          try {
            const r = await readRange(fc, off, n);
            out.set(r.bytes, off - start);
            total = r.total;
            off += r.bytes.length;
            if (r.bytes.length === 0) break;
          } catch (e) {
            if (errorFacts(e).status !== 416) throw e;
            total = Math.min(total, off); // start at or past the end
            break;
          }
        }
        return out.subarray(0, Math.max(0, Math.min(end, total) - start));
      } catch (e) {
        if (e instanceof NotFoundError) throw e;
        const f = errorFacts(e);
        if (f.status === 404 && f.code !== "FilesystemNotFound" && f.code !== "ContainerNotFound") {
          throw new NotFoundError(clean, location);
        }
        return await fail("read", clean, e);
      }
    },
    async head(path) {
      const clean = checkPath(path);
      try {
        const fc = await fileClient(clean);
        const p = await retry(() => fc.getProperties());
        if (p.metadata?.hdi_isfolder === "true") return undefined;
        return {
          path: clean,
          size: p.contentLength ?? 0,
          lastModified: p.lastModified?.getTime() ?? 0,
        };
      } catch (e) {
        const f = errorFacts(e);
        if (f.status === 404 && f.code !== "FilesystemNotFound" && f.code !== "ContainerNotFound") {
          // HEAD has no body: tell a missing filesystem from a missing file
          if (f.code === undefined || f.code === "BlobNotFound" || f.code === "PathNotFound") {
            return undefined;
          }
        }
        return await fail("read", clean, e);
      }
    },
    async put(path, data) {
      await upload(path, data, false);
    },
    putIfAbsent(path, data) {
      return upload(path, data, true);
    },
    async list(prefix) {
      const clean = checkPath(prefix);
      const slash = clean.lastIndexOf("/");
      const dir = slash >= 0 ? clean.slice(0, slash) : "";
      const base = loc.root ? `${loc.root}/` : "";
      const out: FileInfo[] = [];
      try {
        const { fs } = await client();
        let token: string | undefined;
        do {
          const page = await retry(async () => {
            const it = fs.listPaths({ path: full(dir) || undefined, recursive: true }).byPage({
              continuationToken: token,
              maxPageSize: 5000,
            });
            return (await it.next()).value;
          });
          for (const p of page?.pathItems ?? []) {
            if (!p.name || p.isDirectory === true || String(p.isDirectory) === "true") continue;
            if (!p.name.startsWith(base)) continue;
            const rel = p.name.slice(base.length);
            if (!rel.startsWith(clean)) continue;
            out.push({
              path: rel,
              size: Number(p.contentLength ?? 0),
              lastModified: p.lastModified ? new Date(p.lastModified).getTime() : 0,
            });
          }
          token = page?.continuation || undefined;
        } while (token);
      } catch (e) {
        const f = errorFacts(e);
        if (f.status === 404 && f.code === "PathNotFound") return [];
        return await fail("list", clean, e);
      }
      return out.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
    },
    async delete(path) {
      const clean = checkPath(path);
      try {
        const fc = await fileClient(clean);
        await retry(() => fc.delete(false));
      } catch (e) {
        const f = errorFacts(e);
        if (f.status === 404 && (f.code === "PathNotFound" || f.code === "BlobNotFound")) return;
        await fail("delete", clean, e);
      }
    },
  };
  return storage;
}
