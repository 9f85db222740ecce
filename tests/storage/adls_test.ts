import assert from "node:assert/strict";
import {
  AdlsAuthenticationError,
  AdlsFilesystemNotFoundError,
  AdlsLocationError,
  type AdlsOptions,
  AdlsPermissionError,
  adlsStorage,
  parseAdlsLocation,
} from "../../lib/storage/adls.ts";
import { NotFoundError, StorageError } from "../../lib/storage/errors.ts";
import { openStorage } from "../../lib/storage/mod.ts";
import type { Storage } from "../../lib/storage/storage.ts";
import { type DfsStandin, startDfsStandin } from "../support/dfs_standin.ts";

const enc = (s: string) => new TextEncoder().encode(s);
const dec = (b: Uint8Array) => new TextDecoder().decode(b);
const FAST = { baseDelayMs: 1, maxDelayMs: 5, tryTimeoutMs: 5_000 };

/** Run `fn` with a fresh stand-in (filesystem "lake") and a storage on abfss://lake@…/tables/t. */
async function withAdls(
  fn: (s: Storage, dfs: DfsStandin) => Promise<void>,
  opts: AdlsOptions = {},
  root = "tables/t",
): Promise<void> {
  const dfs = await startDfsStandin({ filesystems: ["lake"] });
  try {
    const env = {
      AZURE_STORAGE_DFS_ENDPOINT: dfs.url,
      AZURE_STORAGE_ACCOUNT_KEY: dfs.accountKey,
      ...opts.env,
    };
    const s = adlsStorage(`abfss://lake@${dfs.account}.dfs.core.windows.net/${root}`, {
      ...opts,
      env,
      retry: { ...FAST, ...opts.retry },
    });
    await fn(s, dfs);
    const unknown = dfs.requests.filter((r) => r.op === "unknown");
    assert.deepEqual(unknown, [], "every request the SDK sent is emulated");
  } finally {
    await dfs.close();
  }
}

function bytes(n: number, seed = 1): Uint8Array {
  const out = new Uint8Array(n);
  let x = seed;
  for (let i = 0; i < n; i++) {
    x = (x * 1103515245 + 12345) >>> 0;
    out[i] = x >>> 24;
  }
  return out;
}

Deno.test("parseAdlsLocation reads abfss:// and https dfs URLs and rejects others", () => {
  assert.deepEqual(parseAdlsLocation("abfss://lake@acct.dfs.core.windows.net/tables/orders_raw/"), {
    account: "acct",
    filesystem: "lake",
    root: "tables/orders_raw",
    host: "acct.dfs.core.windows.net",
  });
  assert.deepEqual(parseAdlsLocation("https://acct.dfs.core.windows.net/lake/a%20b/c"), {
    account: "acct",
    filesystem: "lake",
    root: "a b/c",
    host: "acct.dfs.core.windows.net",
  });
  assert.equal(parseAdlsLocation("abfss://lake@acct.dfs.core.windows.net").root, "");
  assert.throws(() => parseAdlsLocation("abfss://acct.dfs.core.windows.net/x"), AdlsLocationError);
  assert.throws(
    () => parseAdlsLocation("https://acct.blob.core.windows.net/lake/x"),
    AdlsLocationError,
  );
  assert.throws(
    () => parseAdlsLocation("https://acct.dfs.core.windows.net/lake/x?sig=1"),
    AdlsLocationError,
  );
  assert.throws(
    () => parseAdlsLocation("abfss://lake@acct.dfs.core.windows.net/a/../b"),
    AdlsLocationError,
  );
});

Deno.test("openStorage routes abfss:// and https://<account>.dfs… to ADLS", () => {
  assert.equal(
    openStorage("abfss://lake@acct.dfs.core.windows.net/t").url,
    "abfss://lake@acct.dfs.core.windows.net/t",
  );
  assert.equal(
    openStorage("https://acct.dfs.core.windows.net/lake/t").url,
    "https://acct.dfs.core.windows.net/lake/t",
  );
});

Deno.test("adls: put, get, getRange, head, list, delete round trip (same as local)", async () => {
  await withAdls(async (s, dfs) => {
    await s.put("a/b/c.txt", enc("hello world"));
    await s.put("a/x.txt", enc("x"));
    await s.put("z.txt", enc("zz"));
    await s.put("empty.bin", new Uint8Array());
    assert.equal(dec(await s.get("a/b/c.txt")), "hello world");
    assert.equal(dec(await s.getRange("a/b/c.txt", 6, 11)), "world");
    assert.equal(dec(await s.getRange("a/b/c.txt", 6, 100)), "world");
    assert.equal((await s.getRange("a/b/c.txt", 20, 30)).length, 0);
    assert.equal((await s.get("empty.bin")).length, 0);
    assert.equal((await s.head("a/b/c.txt"))?.size, 11);
    assert.ok(((await s.head("a/b/c.txt"))?.lastModified ?? 0) > 0);
    assert.equal(await s.head("nope.txt"), undefined);
    assert.equal(await s.head("a/b"), undefined, "a directory is not a file");
    assert.deepEqual((await s.list("a/")).map((f) => f.path), ["a/b/c.txt", "a/x.txt"]);
    assert.deepEqual((await s.list("")).map((f) => f.path), [
      "a/b/c.txt",
      "a/x.txt",
      "empty.bin",
      "z.txt",
    ]);
    assert.deepEqual((await s.list("a/x")).map((f) => f.path), ["a/x.txt"]);
    assert.deepEqual((await s.list("a/b/c")).map((f) => [f.path, f.size]), [["a/b/c.txt", 11]]);
    assert.deepEqual(await s.list("missing/"), []);
    await s.put("a/x.txt", enc("replaced"));
    assert.equal(dec(await s.get("a/x.txt")), "replaced");
    await s.delete("a/x.txt");
    await s.delete("a/x.txt"); // missing is fine
    await assert.rejects(() => s.get("a/x.txt"), NotFoundError);
    await assert.rejects(() => s.getRange("a/x.txt", 0, 1), NotFoundError);
    await assert.rejects(() => s.get("../etc/passwd"), StorageError);
    assert.deepEqual((await s.list("")).map((f) => f.path), ["a/b/c.txt", "empty.bin", "z.txt"]);
    // the table root is a folder inside the filesystem; no temp files left behind
    assert.deepEqual(dfs.files("lake"), [
      "tables/t/a/b/c.txt",
      "tables/t/empty.bin",
      "tables/t/z.txt",
    ]);
  });
});

Deno.test("adls: names with spaces, %, =, : and non-ASCII survive (Hive partition dirs)", async () => {
  await withAdls(async (s, dfs) => {
    const p = "ts=2023-11-05 00%3A00%3A00/city=São Paulo/part-0.parquet";
    await s.put(p, enc("data"));
    assert.equal(dec(await s.get(p)), "data");
    assert.deepEqual((await s.list("ts=")).map((f) => f.path), [p]);
    assert.ok(await s.putIfAbsent("_delta_log/00000000000000000000.json", enc("{}")));
    assert.deepEqual(dfs.files("lake"), [
      "tables/t/_delta_log/00000000000000000000.json",
      `tables/t/${p}`,
    ]);
  });
});

Deno.test("adls: table at the filesystem root; list pages through continuations", async () => {
  const dfs = await startDfsStandin({ filesystems: ["lake"], listPageSize: 3 });
  try {
    const s = adlsStorage(`https://${dfs.account}.dfs.core.windows.net/lake`, {
      env: { AZURE_STORAGE_DFS_ENDPOINT: dfs.url, AZURE_STORAGE_ACCOUNT_KEY: dfs.accountKey },
      retry: FAST,
    });
    for (let i = 0; i < 10; i++) await s.put(`d/f${i}.txt`, enc(String(i)));
    const got = await s.list("d/");
    assert.deepEqual(got.map((f) => f.path), Array.from({ length: 10 }, (_, i) => `d/f${i}.txt`));
    assert.ok(dfs.requests.filter((r) => r.op === "path.list").length >= 4, "several pages");
  } finally {
    await dfs.close();
  }
});

Deno.test("adls: putIfAbsent race — exactly one of many writers wins each version", async () => {
  await withAdls(async (s, dfs) => {
    for (let round = 0; round < 5; round++) {
      const path = `_delta_log/${String(round).padStart(20, "0")}.json`;
      const results = await Promise.all(
        Array.from({ length: 25 }, (_, i) => s.putIfAbsent(path, enc(`writer-${i}-`.repeat(200)))),
      );
      assert.equal(results.filter((r) => r).length, 1, `round ${round}: exactly one winner`);
      const winner = results.indexOf(true);
      assert.equal(dec(await s.get(path)), `writer-${winner}-`.repeat(200));
    }
    assert.equal((await s.list("_delta_log/")).length, 5, "only the commit files remain");
    assert.equal(dfs.files("lake").length, 5, "temp files cleaned up");
    // the conditional rename is what decided the races
    const renames = dfs.requests.filter((r) => r.op === "path.rename");
    assert.equal(renames.filter((r) => r.status === 201).length, 5);
    assert.equal(renames.filter((r) => r.code === "PathAlreadyExists").length, 5 * 24);
  });
});

Deno.test("adls: a commit file is never visible empty or partial", async () => {
  await withAdls(async (s, dfs) => {
    const path = "_delta_log/00000000000000000000.json";
    const content = "x".repeat(5000);
    let reads = 0;
    const writer = s.putIfAbsent(path, enc(content));
    while (reads < 200) {
      reads++;
      const seen = dfs.peek("lake", `tables/t/${path}`);
      if (seen) assert.equal(seen.length, content.length);
      const h = await s.head(path);
      if (h) {
        assert.equal(h.size, content.length);
        break;
      }
    }
    assert.ok(await writer);
  }, { chunkSize: 1024 });
});

Deno.test("adls: large file uploads in parallel chunks and reads back in ranges", async () => {
  await withAdls(async (s, dfs) => {
    const data = bytes(1_000_003);
    await s.put("big/part-0.parquet", data);
    const appends = dfs.requests.filter((r) => r.op === "path.append");
    assert.equal(appends.length, Math.ceil(data.length / 65536));
    assert.deepEqual(await s.get("big/part-0.parquet"), data);
    const reads = dfs.requests.filter((r) => r.op === "path.read");
    assert.equal(reads.length, Math.ceil(data.length / 65536), "one ranged read per chunk");
    assert.ok(reads.every((r) => r.status === 206));
    // Parquet footer first: the last 8 bytes, then the footer itself
    const tail = await s.getRange("big/part-0.parquet", data.length - 8, data.length);
    assert.deepEqual(tail, data.subarray(data.length - 8));
    const mid = await s.getRange("big/part-0.parquet", 100_000, 300_000);
    assert.deepEqual(mid, data.subarray(100_000, 300_000));
  }, { chunkSize: 65536, concurrency: 4 });
});

Deno.test("adls: 503s and dropped connections during a Parquet upload: exact content, no debris", async () => {
  await withAdls(async (s, dfs) => {
    const data = bytes(300_000, 7);
    dfs.inject(
      { op: "path.append", times: 3, fault: { status: 503 } },
      { op: "path.append", times: 2, fault: { drop: "after" } },
      { op: "path.append", times: 1, fault: { drop: "before" } },
      { op: "path.create", times: 1, fault: { status: 500 } },
      { op: "path.flush", times: 1, fault: { drop: "after" } },
      { op: "path.flush", times: 1, fault: { status: 503 } },
      { op: "path.rename", times: 1, fault: { status: 503 } },
      { op: "path.rename", times: 1, fault: { drop: "after" } },
    );
    await s.put("part-00000-a.snappy.parquet", data);
    assert.deepEqual(dfs.peek("lake", "tables/t/part-00000-a.snappy.parquet"), data);
    assert.deepEqual(dfs.files("lake"), ["tables/t/part-00000-a.snappy.parquet"]);
    assert.ok(dfs.requests.some((r) => r.status === 0), "connections were dropped");
    dfs.inject(
      { op: "path.read", times: 2, fault: { status: 503 } },
      { op: "path.read", times: 2, fault: { drop: "before" } },
    );
    assert.deepEqual(await s.get("part-00000-a.snappy.parquet"), data);
  }, { chunkSize: 32768, concurrency: 3 });
});

Deno.test("adls: ambiguous commit (rename applied, response lost) counts as our win, once", async () => {
  await withAdls(async (s, dfs) => {
    dfs.inject({ op: "path.rename", times: 1, fault: { drop: "after" } });
    assert.equal(await s.putIfAbsent("_delta_log/00000000000000000000.json", enc("mine")), true);
    assert.equal(dec(await s.get("_delta_log/00000000000000000000.json")), "mine");
    // the re-sent rename found its source gone (or the name taken); the bytes there are ours
    const renames = dfs.requests.filter((r) => r.op === "path.rename");
    assert.equal(renames[0].status, 0, "first rename applied, connection dropped");
    assert.ok(["SourcePathNotFound", "PathAlreadyExists"].includes(renames[1].code ?? ""));
    // a slow response past the client timeout is also ambiguous
    dfs.inject({ op: "path.rename", times: 1, fault: { delayMs: 400, when: "after" } });
    assert.equal(await s.putIfAbsent("_delta_log/00000000000000000001.json", enc("slow")), true);
    // a different writer's existing file is still "not created"
    assert.equal(await s.putIfAbsent("_delta_log/00000000000000000001.json", enc("late")), false);
    assert.equal(dec(await s.get("_delta_log/00000000000000000001.json")), "slow");
    assert.equal(dfs.files("lake").length, 2, "no temp files left");
  }, { retry: { tryTimeoutMs: 200 } });
});

Deno.test("adls: 503s and drops in every commit step: each version exactly once, no loss", async () => {
  await withAdls(async (s, dfs) => {
    const writers = 4;
    const perWriter = 6;
    // each writer appends its records as commit files at the next free version (Delta's protocol)
    const run = async (w: number) => {
      for (let k = 0; k < perWriter; k++) {
        const body = `w${w}-k${k}`;
        for (let v = 0;; v++) {
          if (await s.putIfAbsent(`_delta_log/${String(v).padStart(20, "0")}.json`, enc(body))) {
            break;
          }
        }
      }
    };
    for (let i = 0; i < 6; i++) {
      dfs.inject(
        { op: "path.rename", times: 1, fault: { drop: "after" } },
        { op: "path.rename", times: 1, fault: { status: 503 } },
        { op: "path.append", times: 1, fault: { drop: "before" } },
        { op: "path.create", times: 1, fault: { status: 503 } },
        { op: "path.read", times: 1, fault: { drop: "after" } },
      );
    }
    await Promise.all(Array.from({ length: writers }, (_, w) => run(w)));
    const files = await s.list("_delta_log/");
    assert.equal(files.length, writers * perWriter, "no commit lost, none duplicated");
    assert.deepEqual(
      files.map((f) => f.path),
      Array.from(
        { length: writers * perWriter },
        (_, v) => `_delta_log/${String(v).padStart(20, "0")}.json`,
      ),
      "contiguous versions",
    );
    const bodies = await Promise.all(files.map(async (f) => dec(await s.get(f.path))));
    assert.equal(new Set(bodies).size, writers * perWriter, "every record exactly once");
    assert.equal(dfs.files("lake").length, writers * perWriter, "no temp debris");
  });
});

Deno.test("adls: 403 names the location and the missing role; missing filesystem is one clear error", async () => {
  await withAdls(async (s, dfs) => {
    dfs.inject({
      op: "any",
      times: 1,
      fault: { status: 403, code: "AuthorizationPermissionMismatch" },
    });
    const err = await s.put("x.txt", enc("x")).then(() => undefined, (e) => e);
    assert.ok(err instanceof AdlsPermissionError, String(err));
    assert.match(err.message, /abfss:\/\/lake@devaccount\.dfs\.core\.windows\.net\/tables\/t/);
    assert.match(err.message, /Storage Blob Data Contributor/);
    assert.match(err.message, /blobs\/write/);
    assert.equal(
      dfs.requests.filter((r) => r.code === "AuthorizationPermissionMismatch").length,
      1,
      "not retried",
    );
    const gone = adlsStorage(`abfss://nofs@${dfs.account}.dfs.core.windows.net/t`, {
      env: { AZURE_STORAGE_DFS_ENDPOINT: dfs.url, AZURE_STORAGE_ACCOUNT_KEY: dfs.accountKey },
      retry: FAST,
    });
    for (
      const op of [
        () => gone.put("a", enc("a")),
        () => gone.get("a"),
        () => gone.list(""),
        () => gone.head("a"),
      ]
    ) {
      const e = await op().then(() => undefined, (e) => e);
      assert.ok(e instanceof AdlsFilesystemNotFoundError, String(e));
      assert.match(e.message, /filesystem 'nofs' does not exist in storage account 'devaccount'/);
    }
  });
});

Deno.test("adls: a wrong key is an authentication error that prints no secret", async () => {
  const dfs = await startDfsStandin({ filesystems: ["lake"] });
  try {
    const wrongKey = btoa("not-the-key-".repeat(4));
    const s = adlsStorage(`abfss://lake@${dfs.account}.dfs.core.windows.net/t`, {
      env: { AZURE_STORAGE_DFS_ENDPOINT: dfs.url, AZURE_STORAGE_ACCOUNT_KEY: wrongKey },
      retry: FAST,
    });
    const err = await s.get("a").then(() => undefined, (e) => e);
    assert.ok(err instanceof AdlsAuthenticationError, String(err));
    assert.ok(!err.message.includes(wrongKey) && !err.message.includes(dfs.accountKey));
    assert.match(err.message, /AZURE_STORAGE_ACCOUNT_KEY/);
  } finally {
    await dfs.close();
  }
});

Deno.test("adls: persistent 503 gives up with a clear error after the retry budget", async () => {
  await withAdls(async (s, dfs) => {
    dfs.inject({ op: "path.read", times: 100, fault: { status: 503 } });
    const err = await s.get("a.txt").then(() => undefined, (e) => e);
    assert.ok(err instanceof StorageError, String(err));
    assert.match(err.message, /kept failing \(4 attempts failed, the last with 503 ServerBusy/);
    assert.equal(dfs.requests.filter((r) => r.op === "path.read").length, 4);
  }, { retry: { maxAttempts: 4 } });
});

Deno.test("adls: SAS token and connection string auth both work, rename included", async () => {
  const sas =
    "sv=2026-06-06&ss=b&srt=sco&sp=rwdlacm&se=2099-01-01T00%3A00%3A00Z&sig=c3RhbmRpbg%3D%3D";
  const dfs = await startDfsStandin({ filesystems: ["lake"], sasToken: sas });
  try {
    const loc = `abfss://lake@${dfs.account}.dfs.core.windows.net/t`;
    const viaSas = adlsStorage(loc, {
      env: { AZURE_STORAGE_DFS_ENDPOINT: dfs.url, AZURE_STORAGE_SAS_TOKEN: `?${sas}` },
      retry: FAST,
    });
    assert.ok(await viaSas.putIfAbsent("_delta_log/0.json", enc("sas")));
    assert.equal(await viaSas.putIfAbsent("_delta_log/0.json", enc("again")), false);
    assert.deepEqual((await viaSas.list("")).map((f) => f.path), ["_delta_log/0.json"]);
    const cs =
      `DefaultEndpointsProtocol=http;AccountName=${dfs.account};AccountKey=${dfs.accountKey};` +
      `DfsEndpoint=${dfs.url};`;
    const viaCs = adlsStorage(loc, { env: { AZURE_STORAGE_CONNECTION_STRING: cs }, retry: FAST });
    assert.equal(dec(await viaCs.get("_delta_log/0.json")), "sas");
    await viaCs.put("_delta_log/_last_checkpoint", enc("{}"));
    const wrongAccount = adlsStorage(`abfss://lake@other.dfs.core.windows.net/t`, {
      env: { AZURE_STORAGE_CONNECTION_STRING: cs },
    });
    await assert.rejects(() => wrongAccount.get("x"), AdlsAuthenticationError);
    assert.deepEqual(dfs.requests.filter((r) => r.op === "unknown"), []);
  } finally {
    await dfs.close();
  }
});

Deno.test("Delta on ADLS: racing appenders with injected faults — contiguous versions, every row once", async () => {
  const { createTable, append, read, snapshot } = await import("../../lib/delta/mod.ts");
  const { orders, ordersSchema, ids } = await import("../delta/_core_fixtures.ts");
  await withAdls(async (s, dfs) => {
    await createTable(s, ordersSchema());
    const writers = 5;
    const batches = 3;
    // Each writer has its own storage (own SDK client), as separate jobs would.
    const env = { AZURE_STORAGE_DFS_ENDPOINT: dfs.url, AZURE_STORAGE_ACCOUNT_KEY: dfs.accountKey };
    const handles = Array.from({ length: writers }, () => adlsStorage(s.url, { env, retry: FAST }));
    for (let i = 0; i < 4; i++) {
      dfs.inject(
        { op: "path.rename", pathIncludes: "_delta_log", fault: { drop: "after" } },
        { op: "path.rename", pathIncludes: "_delta_log", fault: { status: 503 } },
        { op: "path.append", pathIncludes: ".parquet", fault: { drop: "before" } },
        { op: "path.flush", fault: { status: 500 } },
        { op: "path.read", pathIncludes: "_delta_log", fault: { drop: "after" } },
        { op: "path.list", fault: { status: 503 } },
      );
    }
    const results = await Promise.all(handles.map(async (h, w) => {
      const versions: number[] = [];
      for (let b = 0; b < batches; b++) {
        const r = await append(h, orders(4, (w * batches + b) * 4), {
          txns: { [`writer-${w}`]: b },
          expectedTxns: { [`writer-${w}`]: b === 0 ? undefined : b - 1 },
          checkpoint: false,
        });
        versions.push(r.version);
      }
      return versions;
    }));
    const n = writers * batches;
    assert.deepEqual(
      results.flat().sort((a, b) => a - b),
      Array.from({ length: n }, (_, i) => i + 1),
    );
    const snap = await snapshot(s);
    assert.equal(snap.version, n);
    for (let w = 0; w < writers; w++) {
      assert.equal(Number(snap.txnVersion(`writer-${w}`)), batches - 1);
    }
    assert.deepEqual(
      ids(await read(s)),
      Array.from({ length: n * 4 }, (_, i) => i),
      "every row once",
    );
    assert.ok(dfs.requests.some((r) => r.status === 0), "faults were hit");
    const debris = dfs.files("lake").filter((p) => p.endsWith(".tmp"));
    assert.deepEqual(debris, [], "no temp files left");
  });
});

Deno.test("Delta on ADLS: separate processes committing to one table — each version one winner", async () => {
  const { createTable, read, snapshot } = await import("../../lib/delta/mod.ts");
  const { ordersSchema, ids } = await import("../delta/_core_fixtures.ts");
  await withAdls(async (s, dfs) => {
    await createTable(s, ordersSchema());
    const dir = await Deno.makeTempDir();
    try {
      const script = `${dir}/writer.ts`;
      const lib = new URL("../../lib/delta/mod.ts", import.meta.url).href;
      const helpers = new URL("../delta/_core_fixtures.ts", import.meta.url).href;
      await Deno.writeTextFile(
        script,
        `import { append } from ${JSON.stringify(lib)};
         import { orders } from ${JSON.stringify(helpers)};
         const [table, proc, batches] = [Deno.args[0], Number(Deno.args[1]), Number(Deno.args[2])];
         const versions = [];
         for (let b = 0; b < batches; b++) {
           const r = await append(table, orders(5, (proc * batches + b) * 5), { checkpoint: false });
           versions.push(r.version);
         }
         console.log(JSON.stringify(versions));`,
      );
      const procs = 3;
      const batches = 4;
      const outs = await Promise.all(
        Array.from({ length: procs }, (_, p) =>
          new Deno.Command(Deno.execPath(), {
            args: [
              "run",
              "-A",
              "--config",
              new URL("../../deno.json", import.meta.url).pathname,
              script,
              s.url,
              String(p),
              String(batches),
            ],
            env: { AZURE_STORAGE_DFS_ENDPOINT: dfs.url, AZURE_STORAGE_ACCOUNT_KEY: dfs.accountKey },
          }).output()),
      );
      const versions: number[] = [];
      for (const o of outs) {
        assert.equal(o.code, 0, new TextDecoder().decode(o.stderr));
        versions.push(...JSON.parse(new TextDecoder().decode(o.stdout)));
      }
      const n = procs * batches;
      assert.deepEqual(versions.sort((a, b) => a - b), Array.from({ length: n }, (_, i) => i + 1));
      assert.equal((await snapshot(s)).version, n);
      assert.deepEqual(ids(await read(s)), Array.from({ length: n * 5 }, (_, i) => i));
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  });
});

Deno.test("adls auth: chosen from env in order, Entra ID (DefaultAzureCredential) last", async () => {
  const { createAdlsClient } = await import("../../lib/storage/_adls_auth.ts");
  const loc = parseAdlsLocation("abfss://lake@acct.dfs.core.windows.net/t");
  const key = btoa("k".repeat(64));
  const pick = async (env: Record<string, string>) =>
    await createAdlsClient(loc, (n) => env[n], { retryOptions: { maxTries: 1 } });
  const entra = await pick({});
  assert.match(entra.auth, /Microsoft Entra ID/);
  assert.equal(entra.accountUrl, "https://acct.dfs.core.windows.net");
  assert.match((await pick({ AZURE_STORAGE_ACCOUNT_KEY: key })).auth, /^account key/);
  const sas = await pick({ AZURE_STORAGE_SAS_TOKEN: "?sv=1&sig=abc" });
  assert.equal(sas.sas, "sv=1&sig=abc");
  assert.ok(!sas.auth.includes("sig=abc"), "the token is not in the description");
  const cs = await pick({
    AZURE_STORAGE_CONNECTION_STRING:
      `DefaultEndpointsProtocol=https;AccountName=acct;AccountKey=${key};EndpointSuffix=core.chinacloudapi.cn`,
    AZURE_STORAGE_ACCOUNT_KEY: "ignored",
  });
  assert.match(cs.auth, /AZURE_STORAGE_CONNECTION_STRING/);
  assert.equal(cs.accountUrl, "https://acct.dfs.core.chinacloudapi.cn");
  const override = await pick({
    AZURE_STORAGE_ACCOUNT_KEY: key,
    AZURE_STORAGE_DFS_ENDPOINT: "http://127.0.0.1:1/acct/",
  });
  assert.equal(override.accountUrl, "http://127.0.0.1:1/acct");
  await assert.rejects(
    () => pick({ AZURE_STORAGE_CONNECTION_STRING: "UseDevelopmentStorage=true" }),
    AdlsAuthenticationError,
  );
  await assert.rejects(
    () => pick({ AZURE_STORAGE_CONNECTION_STRING: `AccountName=other;AccountKey=${key}` }),
    (e: Error) => e instanceof AdlsAuthenticationError && !e.message.includes(key),
  );
});

Deno.test("delta-rs reads a table we wrote on ADLS (through the stand-in's Blob API)", async () => {
  const { deltalakeAvailable, pythonPath } = await import("../support/python.ts");
  if (!(await deltalakeAvailable())) {
    console.warn("skipped: deltalake not installed (deno task py:setup)");
    return;
  }
  const { createTable, append } = await import("../../lib/delta/mod.ts");
  const { orders, ordersSchema } = await import("../delta/_core_fixtures.ts");
  await withAdls(async (s, dfs) => {
    await createTable(s, ordersSchema(), { partitionColumns: ["state"] });
    await append(s, orders(50));
    await append(s, orders(70, 50));
    const py = [
      "import json, sys",
      "from deltalake import DeltaTable",
      "dt = DeltaTable(sys.argv[1], storage_options=json.loads(sys.argv[2]))",
      "t = dt.to_pyarrow_table()",
      "ids = sorted(t.column('order_id').to_pylist())",
      "print(json.dumps({'version': dt.version(), 'ids': ids, 'cols': t.column_names}))",
      "sys.stdout.flush()",
      "import os",
      "os._exit(0)  # delta-rs's runtime threads sometimes abort at interpreter exit",
    ].join("\n");
    const options = {
      account_name: dfs.account,
      account_key: dfs.accountKey,
      endpoint: dfs.url,
      allow_http: "true",
    };
    const out = await new Deno.Command(pythonPath(), {
      args: ["-c", py, s.url, JSON.stringify(options)],
      stdout: "piped",
      stderr: "piped",
    }).output();
    assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
    const got = JSON.parse(new TextDecoder().decode(out.stdout));
    assert.equal(got.version, 2);
    assert.deepEqual(got.ids, Array.from({ length: 120 }, (_, i) => i));
    assert.ok(got.cols.includes("state"));
    assert.ok(dfs.requests.some((r) => r.op === "container.list"), "delta-rs listed via Blob API");
  });
});

Deno.test("storage_backends: tempTableLocation is local by default and abfss:// with DELTA_TEST_BACKEND=adls", async () => {
  const sb = await import("../support/storage_backends.ts");
  const names = [
    "DELTA_TEST_BACKEND",
    "DELTA_TEST_ADLS_ROOT",
    "AZURE_STORAGE_DFS_ENDPOINT",
    "AZURE_STORAGE_ACCOUNT_KEY",
  ];
  const saved = Object.fromEntries(names.map((n) => [n, Deno.env.get(n)]));
  const dfs = await startDfsStandin({ filesystems: ["tests"] });
  try {
    Deno.env.delete("DELTA_TEST_BACKEND");
    const local = await sb.tempTableLocation("x");
    assert.ok(!local.location.includes("://"));
    await local.storage.put("a", enc("a"));
    await local.cleanup();
    await assert.rejects(() => Deno.stat(local.location), Deno.errors.NotFound);
    assert.equal(sb.deltaRsStorageOptions(local.location), undefined);

    Deno.env.set("DELTA_TEST_BACKEND", "adls");
    Deno.env.set("DELTA_TEST_ADLS_ROOT", `abfss://tests@${dfs.account}.dfs.core.windows.net/ci/`);
    Deno.env.set("AZURE_STORAGE_DFS_ENDPOINT", dfs.url);
    Deno.env.set("AZURE_STORAGE_ACCOUNT_KEY", dfs.accountKey);
    assert.ok(sb.onAdls());
    await sb.withTempTable(async (location, storage) => {
      assert.match(
        location,
        /^abfss:\/\/tests@devaccount\.dfs\.core\.windows\.net\/ci\/orders-[0-9a-f]{8}$/,
      );
      await storage.put("_delta_log/00000000000000000000.json", enc("{}"));
      await openStorage(location).put("part-0.parquet", enc("p"));
      assert.equal(dfs.files("tests").length, 2);
      assert.deepEqual(sb.deltaRsStorageOptions(location), {
        account_name: dfs.account,
        account_key: dfs.accountKey,
        endpoint: dfs.url,
        allow_http: "true",
      });
    }, "orders");
    assert.deepEqual(dfs.files("tests"), [], "cleanup removed the table's files");
  } finally {
    for (const n of names) {
      if (saved[n] === undefined) Deno.env.delete(n);
      else Deno.env.set(n, saved[n]!);
    }
    await dfs.close();
  }
});
