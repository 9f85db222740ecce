// Tests of the DFS stand-in itself (tests/support/dfs_standin.ts): it must be as strict as the
// service about auth, headers, ETags and conditions, so that adls.ts passing against it means
// something.
import assert from "node:assert/strict";
import {
  type DataLakeFileSystemClient,
  DataLakeServiceClient,
  StorageSharedKeyCredential,
} from "@azure/storage-file-datalake";
import { type DfsStandin, startDfsStandin } from "../support/dfs_standin.ts";

const enc = (s: string) => new TextEncoder().encode(s);

async function withStandin(
  fn: (fs: DataLakeFileSystemClient, dfs: DfsStandin) => Promise<void>,
): Promise<void> {
  const dfs = await startDfsStandin({ filesystems: ["lake"] });
  try {
    const svc = new DataLakeServiceClient(
      dfs.url,
      new StorageSharedKeyCredential(dfs.account, dfs.accountKey),
      { retryOptions: { maxTries: 1 } },
    );
    await fn(svc.getFileSystemClient("lake"), dfs);
  } finally {
    await dfs.close();
  }
}

async function status(p: Promise<unknown>): Promise<[number, string | undefined]> {
  try {
    await p;
    return [200, undefined];
  } catch (e) {
    const err = e as { statusCode?: number; code?: string; details?: { errorCode?: string } };
    return [err.statusCode ?? -1, err.details?.errorCode ?? err.code];
  }
}

async function writeFile(fs: DataLakeFileSystemClient, path: string, text: string) {
  const f = fs.getFileClient(path);
  await f.create();
  const b = enc(text);
  await f.append(b, 0, b.length);
  await f.flush(b.length);
  return f;
}

Deno.test("stand-in: listens on 127.0.0.1 and refuses unsigned, unversioned or badly signed requests", async () => {
  await withStandin(async (_fs, dfs) => {
    assert.match(dfs.url, /^http:\/\/127\.0\.0\.1:\d+\/devaccount$/);
    const noVersion = await fetch(`${dfs.url}/lake?restype=container`);
    assert.equal(noVersion.status, 400);
    assert.equal(noVersion.headers.get("x-ms-error-code"), "MissingRequiredHeader");
    await noVersion.body?.cancel();
    const anonymous = await fetch(`${dfs.url}/lake?restype=container`, {
      headers: { "x-ms-version": "2026-06-06" },
    });
    assert.equal(anonymous.status, 401);
    await anonymous.body?.cancel();
    const forged = await fetch(`${dfs.url}/lake?restype=container`, {
      headers: {
        "x-ms-version": "2026-06-06",
        "x-ms-date": new Date().toUTCString(),
        authorization: `SharedKey ${dfs.account}:${btoa("x".repeat(32))}`,
      },
    });
    assert.equal(forged.status, 403);
    assert.equal(forged.headers.get("x-ms-error-code"), "AuthenticationFailed");
    assert.match(await forged.text(), /<Code>AuthenticationFailed<\/Code>/, "blob-style XML error");
    const wrongKey = new DataLakeServiceClient(
      dfs.url,
      new StorageSharedKeyCredential(dfs.account, btoa("another key")),
      { retryOptions: { maxTries: 1 } },
    ).getFileSystemClient("lake");
    assert.deepEqual(await status(wrongKey.getFileClient("a").create()), [
      403,
      "AuthenticationFailed",
    ]);
  });
});

Deno.test("stand-in: conditional create and rename give 409/412 like the service; ETags change", async () => {
  await withStandin(async (fs, dfs) => {
    const f = await writeFile(fs, "d/a.json", "one");
    const etag1 = (await f.getProperties()).etag!;
    assert.match(etag1, /^"0x[0-9A-F]+"$/, "quoted ETag");
    assert.equal((await f.createIfNotExists()).succeeded, false);
    assert.deepEqual(
      await status(f.create({ conditions: { ifNoneMatch: "*" } })),
      [409, "PathAlreadyExists"],
    );
    assert.deepEqual(
      await status(f.create({ conditions: { ifMatch: '"0x1"' } })),
      [412, "ConditionNotMet"],
    );
    await f.append(enc("!"), 3, 1);
    await f.flush(4);
    const etag2 = (await f.getProperties()).etag!;
    assert.notEqual(etag2, etag1, "a flush changes the ETag");
    assert.deepEqual(
      await status(f.read(0, undefined, { conditions: { ifMatch: etag1 } })),
      [412, "ConditionNotMet"],
    );
    // rename onto an existing name: with If-None-Match:* refused, without it replaces
    const t = await writeFile(fs, "d/.tmp1", "two");
    assert.deepEqual(
      await status(
        t.move(`${dfs.account}/lake`, "d/a.json", {
          destinationConditions: { ifNoneMatch: "*" },
        }),
      ),
      [409, "PathAlreadyExists"],
    );
    assert.ok(await t.exists(), "the refused rename left the source in place");
    // path-style quirk: move() builds the destination URL from the host root, dropping the
    // account segment, so callers prefix the filesystem with "<account>/" (adls.ts does)
    assert.deepEqual(await status(t.move("d/b.json")), [400, "InvalidUri"]);
    await t.move(`${dfs.account}/lake`, "d/a.json");
    assert.deepEqual(dfs.files("lake"), ["d/a.json"]);
  });
});

Deno.test("stand-in: rename errors, flush contiguity, ranges, deletes and listings", async () => {
  await withStandin(async (fs, dfs) => {
    const f = await writeFile(fs, "x/y/z.bin", "0123456789");
    const missing = fs.getFileClient("x/nope");
    assert.deepEqual(
      await status(missing.move(`${dfs.account}/lake`, "x/q")),
      [404, "SourcePathNotFound"],
    );
    assert.deepEqual(
      await status(f.move(`${dfs.account}/lake`, "no/such/dir/z.bin")),
      [404, "RenameDestinationParentPathNotFound"],
    );
    // flush must cover contiguous appended data
    const g = fs.getFileClient("x/g.bin");
    await g.create();
    await g.append(enc("abc"), 0, 3);
    await g.append(enc("ghi"), 6, 3);
    assert.deepEqual(await status(g.flush(9)), [400, "InvalidFlushPosition"]);
    await g.append(enc("def"), 3, 3);
    await g.flush(9);
    assert.deepEqual(await status(g.append(enc("X"), 2, 1)), [400, "InvalidFlushPosition"]);
    // ranged reads
    const r = await f.read(2, 3);
    assert.equal(r.contentRange, "bytes 2-4/10");
    assert.deepEqual(await status(f.read(10, 5)), [416, "InvalidRange"]);
    // deletes and listings
    assert.deepEqual(await status(fs.getDirectoryClient("x").delete(false)), [
      409,
      "DirectoryNotEmpty",
    ]);
    const names: string[] = [];
    for await (const p of fs.listPaths({ path: "x", recursive: true })) {
      names.push(`${p.name}${p.isDirectory ? "/" : ""}:${p.contentLength}`);
    }
    assert.deepEqual(names, ["x/g.bin:9", "x/y/:0", "x/y/z.bin:10"]);
    assert.deepEqual(
      await status(fs.listPaths({ path: "nope", recursive: true }).next()),
      [404, "PathNotFound"],
    );
    await fs.getDirectoryClient("x").delete(true);
    assert.deepEqual(dfs.files("lake"), []);
    assert.deepEqual(
      await status(fs.getFileClient("gone").delete()),
      [404, "PathNotFound"],
    );
  });
});

Deno.test("stand-in: missing filesystem, and requests it does not emulate are 501 and logged", async () => {
  await withStandin(async (fs, dfs) => {
    const svc = new DataLakeServiceClient(
      dfs.url,
      new StorageSharedKeyCredential(dfs.account, dfs.accountKey),
      { retryOptions: { maxTries: 1 } },
    );
    const other = svc.getFileSystemClient("other");
    assert.equal(await other.exists(), false);
    assert.deepEqual(await status(other.getFileClient("a").create()), [404, "FilesystemNotFound"]);
    assert.deepEqual(await status(other.getFileClient("a").getProperties()), [
      404,
      "ContainerNotFound",
    ]);
    await other.create();
    assert.equal(await other.exists(), true);
    // Get/Set access control is not emulated: a clear 501, visible in the log
    const f = await writeFile(fs, "a.txt", "a");
    assert.deepEqual(
      await status(f.setPermissions({
        owner: { read: true, write: true, execute: false },
        group: { read: true, write: false, execute: false },
        other: { read: false, write: false, execute: false },
        stickyBit: false,
        extendedAcls: false,
      })),
      [501, "NotEmulatedByStandIn"],
    );
    assert.equal(dfs.requests.at(-1)?.op, "unknown");
  });
});

Deno.test("stand-in: injected 503, dropped connection and slow response", async () => {
  await withStandin(async (fs, dfs) => {
    const f = await writeFile(fs, "a.txt", "abc");
    dfs.inject({ op: "path.read", fault: { status: 503 } });
    assert.deepEqual(await status(f.read()), [503, "ServerBusy"]);
    dfs.inject({ op: "path.properties", times: 10, fault: { drop: "before" } });
    const [code] = await status(f.getProperties());
    assert.ok(code !== 200, "a dropped connection is an error for the client");
    const drops = dfs.requests.filter((r) => r.op === "path.properties" && r.status === 0);
    // Deno's node:http re-sends a request once when its pooled connection drops: 1 or 2 drops
    assert.ok(drops.length >= 1 && drops.length <= 2, `drops seen: ${drops.length}`);
    dfs.clearFaults();
    dfs.inject({ op: "path.delete", fault: { drop: "after" } });
    await status(f.delete());
    assert.deepEqual(dfs.files("lake"), [], "drop-after applies the operation, then drops");
    dfs.inject({ op: "path.create", fault: { delayMs: 150, when: "before" } });
    const slow = fs.getFileClient("slow.txt");
    const aborted = await status(slow.create({ abortSignal: AbortSignal.timeout(30) }));
    assert.notEqual(aborted[0], 200, "the client gave up on the slow response");
    await new Promise((r) => setTimeout(r, 200));
    assert.ok(dfs.requests.some((r) => r.fault?.includes("delayMs")));
    // faults are consumed: the next requests succeed
    await writeFile(fs, "b.txt", "b");
    assert.deepEqual(dfs.files("lake"), ["b.txt", "slow.txt"]);
  });
});

Deno.test("stand-in: runs as a process that prints its address and stops by pid", async () => {
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      new URL("../support/dfs_standin.ts", import.meta.url).href,
      "--filesystem",
      "lake",
    ],
    stdout: "piped",
    stderr: "null",
  }).spawn();
  try {
    const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
    let text = "";
    while (!text.includes("\n")) {
      const { value, done } = await reader.read();
      if (done) break;
      text += value;
    }
    reader.releaseLock();
    const info = JSON.parse(text.split("\n")[0]);
    assert.equal(info.pid, child.pid);
    const fs = new DataLakeServiceClient(
      info.url,
      new StorageSharedKeyCredential(info.account, info.accountKey),
      { retryOptions: { maxTries: 1 } },
    ).getFileSystemClient("lake");
    assert.equal(await fs.exists(), true);
  } finally {
    child.kill("SIGTERM");
    await child.stdout.cancel().catch(() => {});
    const st = await child.status;
    assert.equal(st.code, 0, "clean exit on SIGTERM");
  }
});

Deno.test("stand-in: chaos mode faults the given fraction of requests", async () => {
  const dfs = await startDfsStandin({ filesystems: ["lake"], chaos: 0.999999 });
  try {
    const fs = new DataLakeServiceClient(
      dfs.url,
      new StorageSharedKeyCredential(dfs.account, dfs.accountKey),
      { retryOptions: { maxTries: 1 } },
    ).getFileSystemClient("lake");
    for (let i = 0; i < 5; i++) await status(fs.getFileClient(`f${i}`).create());
    assert.ok(dfs.requests.length >= 5);
    assert.ok(dfs.requests.every((r) => r.fault !== undefined), "every request was faulted");
  } finally {
    await dfs.close();
  }
});
