/**
 * Local-directory storage: atomic put (temp file + rename) and put-if-absent (temp file + hard link).
 *
 * @module
 */
import { dirname, join } from "node:path";
import { NotFoundError, StorageError } from "./errors.ts";
import type { FileInfo, Storage } from "./storage.ts";

function checkPath(path: string): string {
  const clean = path.replace(/^\/+/, "");
  if (clean.split("/").some((s) => s === "..")) {
    throw new StorageError(
      `path '${path}' escapes the storage root; use a relative path without '..'`,
    );
  }
  return clean;
}

function tempName(full: string): string {
  return join(dirname(full), `.${full.split("/").pop()}.${crypto.randomUUID()}.tmp`);
}

async function syncDir(dir: string): Promise<void> {
  try {
    const f = await Deno.open(dir, { read: true });
    try {
      await f.sync();
    } finally {
      f.close();
    }
  } catch {
    // Directory fsync is best effort (not supported everywhere).
  }
}

async function writeTemp(full: string, data: Uint8Array): Promise<string> {
  await Deno.mkdir(dirname(full), { recursive: true });
  const tmp = tempName(full);
  const f = await Deno.open(tmp, { write: true, createNew: true });
  try {
    let off = 0;
    while (off < data.length) off += await f.write(data.subarray(off));
    await f.sync();
  } finally {
    f.close();
  }
  return tmp;
}

/** Why a local write failed, in words (os error numbers are Linux's). */
function writeReason(e: unknown): string {
  const text = String((e as Error)?.message ?? e);
  if (/os error 28\b|No space left/i.test(text)) return "the disk is full";
  if (/os error 30\b|Read-only file system/i.test(text)) return "the file system is read-only";
  if (e instanceof Deno.errors.PermissionDenied || /os error 13\b/.test(text)) {
    return "permission denied";
  }
  if (e instanceof Deno.errors.NotADirectory || /os error 20\b/.test(text)) {
    return "a part of the path is a file, not a folder";
  }
  if (e instanceof Deno.errors.NotFound) return "its folder cannot be created";
  return text;
}

/**
 * Storage over a local directory; `root` is a filesystem path (no URL scheme).
 *
 * @example
 * ```ts
 * import { localStorage } from "./local.ts";
 * const dir = await Deno.makeTempDir();
 * const storage = localStorage(dir);
 * await storage.put("a/b.txt", new TextEncoder().encode("hi")); // creates a/
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export function localStorage(root: string, url: string = root): Storage {
  const abs = (p: string) => join(root, checkPath(p));
  const wrap = (path: string, e: unknown): never => {
    if (e instanceof Deno.errors.NotFound) throw new NotFoundError(path, url, { cause: e });
    throw new StorageError(`storage operation on '${path}' under '${url}' failed: ${e}`, {
      cause: e,
    });
  };
  // A failed write says what to do; a missing parent that cannot be created is not "not found".
  const wrapWrite = (path: string, e: unknown): never => {
    throw new StorageError(
      `cannot write '${path}' under '${url}': ${writeReason(e)}; make the folder writable ` +
        "(and free some space), or point --table / --lakehouse / LAKEHOUSE elsewhere",
      { cause: e },
    );
  };
  return {
    url,
    async get(path) {
      try {
        return await Deno.readFile(abs(path));
      } catch (e) {
        return wrap(path, e);
      }
    },
    async getRange(path, start, end) {
      let f: Deno.FsFile;
      try {
        f = await Deno.open(abs(path), { read: true });
      } catch (e) {
        return wrap(path, e);
      }
      try {
        const size = (await f.stat()).size;
        const stop = Math.min(end, size);
        const out = new Uint8Array(Math.max(0, stop - start));
        await f.seek(start, Deno.SeekMode.Start);
        let off = 0;
        while (off < out.length) {
          const n = await f.read(out.subarray(off));
          if (n === null) break;
          off += n;
        }
        return out.subarray(0, off);
      } finally {
        f.close();
      }
    },
    async head(path) {
      try {
        const st = await Deno.stat(abs(path));
        if (!st.isFile) return undefined;
        return { path: checkPath(path), size: st.size, lastModified: st.mtime?.getTime() ?? 0 };
      } catch (e) {
        if (e instanceof Deno.errors.NotFound) return undefined;
        return wrap(path, e);
      }
    },
    async put(path, data) {
      const full = abs(path);
      let tmp: string | undefined;
      try {
        tmp = await writeTemp(full, data);
        await Deno.rename(tmp, full);
        tmp = undefined;
        await syncDir(dirname(full));
      } catch (e) {
        wrapWrite(path, e);
      } finally {
        if (tmp) await Deno.remove(tmp).catch(() => {});
      }
    },
    async putIfAbsent(path, data) {
      const full = abs(path);
      let tmp: string | undefined;
      try {
        tmp = await writeTemp(full, data);
        try {
          await Deno.link(tmp, full);
        } catch (e) {
          if (e instanceof Deno.errors.AlreadyExists) return false;
          throw e;
        }
        await Deno.remove(tmp);
        tmp = undefined;
        await syncDir(dirname(full));
        return true;
      } catch (e) {
        return wrapWrite(path, e);
      } finally {
        if (tmp) await Deno.remove(tmp).catch(() => {});
      }
    },
    async list(prefix) {
      const clean = checkPath(prefix);
      const slash = clean.lastIndexOf("/");
      const baseRel = slash >= 0 ? clean.slice(0, slash) : "";
      const out: FileInfo[] = [];
      const walk = async (rel: string): Promise<void> => {
        let entries: Deno.DirEntry[];
        try {
          entries = await Array.fromAsync(Deno.readDir(join(root, rel)));
        } catch (e) {
          if (e instanceof Deno.errors.NotFound || e instanceof Deno.errors.NotADirectory) return;
          throw new StorageError(`listing '${rel}' under '${url}' failed: ${e}`, { cause: e });
        }
        const files: string[] = [];
        for (const ent of entries) {
          const p = rel ? `${rel}/${ent.name}` : ent.name;
          if (ent.isDirectory) {
            if (p.startsWith(clean) || clean.startsWith(p + "/")) await walk(p);
          } else if (p.startsWith(clean)) {
            files.push(p);
          }
        }
        // stat in parallel chunks: listing a log of thousands of commits stays fast
        for (let i = 0; i < files.length; i += 64) {
          const infos = await Promise.all(
            files.slice(i, i + 64).map(async (p) => {
              try {
                const st = await Deno.stat(join(root, p));
                return { path: p, size: st.size, lastModified: st.mtime?.getTime() ?? 0 };
              } catch (e) {
                if (e instanceof Deno.errors.NotFound) return undefined; // deleted while listing
                throw e;
              }
            }),
          );
          for (const f of infos) if (f) out.push(f);
        }
      };
      await walk(baseRel);
      return out.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
    },
    async delete(path) {
      try {
        await Deno.remove(abs(path));
      } catch (e) {
        if (!(e instanceof Deno.errors.NotFound)) wrap(path, e);
      }
    },
  };
}
