/**
 * Storage backends for tests: the Delta and stream tests ask {@link tempTableLocation} for a fresh
 * table location and get a local temp dir (default) or an ADLS Gen2 location when
 * `DELTA_TEST_BACKEND=adls`.
 *
 * On ADLS the tests talk to whatever the env points at: the DFS stand-in (tests/support/dfs_standin.ts)
 * started by this file's runner, or a real account. The runner starts the stand-in as a separate
 * process on 127.0.0.1 (a free port), exports the env below, runs the command, and stops the
 * stand-in by its pid:
 *
 * ```sh
 * deno run -A tests/support/storage_backends.ts adls -- deno test -A tests/delta/ tests/storage/
 * deno run -A tests/support/storage_backends.ts adls --chaos 0.02 -- deno test -A tests/delta/
 * ```
 *
 * Env read by {@link tempTableLocation} when `DELTA_TEST_BACKEND=adls`:
 * - `DELTA_TEST_ADLS_ROOT`: where test tables go, e.g. `abfss://tests@devaccount.dfs.core.windows.net/ci`
 *   (each table gets a unique folder below it).
 * - the usual ADLS credentials: `AZURE_STORAGE_DFS_ENDPOINT` + `AZURE_STORAGE_ACCOUNT_KEY` for the
 *   stand-in; for a real account any of the auth env vars of lib/storage/adls.ts.
 *
 * @module
 */
import { openStorage } from "../../lib/storage/mod.ts";
import type { Storage } from "../../lib/storage/storage.ts";

/** The backends tests can run on. */
export type TestBackend = "local" | "adls";

/** The backend chosen by `DELTA_TEST_BACKEND` (`local` when unset). */
export function testBackend(): TestBackend {
  const v = (Deno.env.get("DELTA_TEST_BACKEND") ?? "local").toLowerCase();
  if (v !== "local" && v !== "adls") {
    throw new Error(`DELTA_TEST_BACKEND must be 'local' or 'adls', not '${v}'`);
  }
  return v;
}

/** True when tests run on ADLS: use as `Deno.test({ ignore: onAdls(), ... })` for local-only tests. */
export function onAdls(): boolean {
  return testBackend() === "adls";
}

/**
 * delta-rs (`deltalake`) storage_options to read `location` when it is on ADLS (undefined for local
 * paths), from the same env the tests use: `DeltaTable(location, storage_options=...)`.
 */
export function deltaRsStorageOptions(location: string): Record<string, string> | undefined {
  const m = /^abfss?:\/\/[^@]+@([^.]+)\.dfs\./.exec(location);
  if (!m) return undefined;
  const opts: Record<string, string> = { account_name: m[1] };
  const key = Deno.env.get("AZURE_STORAGE_ACCOUNT_KEY");
  const sas = Deno.env.get("AZURE_STORAGE_SAS_TOKEN");
  const endpoint = Deno.env.get("AZURE_STORAGE_DFS_ENDPOINT");
  if (key) opts.account_key = key;
  else if (sas) opts.sas_token = sas.replace(/^\?/, "");
  if (endpoint) {
    opts.endpoint = endpoint;
    if (endpoint.startsWith("http://")) opts.allow_http = "true";
  }
  return opts;
}

/** A fresh, empty table location and how to remove it. */
export interface TempTable {
  /** Local path or abfss:// URL; give it to createTable/openTable/openStorage or a notebook. */
  location: string;
  /** Storage on the location, for tests that must touch files (delete a commit, corrupt one). */
  storage: Storage;
  /** Remove everything under the location. */
  cleanup(): Promise<void>;
}

function adlsRoot(): string {
  const root = Deno.env.get("DELTA_TEST_ADLS_ROOT");
  if (!root) {
    throw new Error(
      "DELTA_TEST_BACKEND=adls needs DELTA_TEST_ADLS_ROOT (abfss://<fs>@<account>.dfs.core.windows.net/<dir>) " +
        "and ADLS credentials; run the tests through " +
        "`deno run -A tests/support/storage_backends.ts adls -- deno test -A <paths>` to get the DFS stand-in",
    );
  }
  return root.replace(/\/+$/, "");
}

/**
 * A fresh table location on the chosen backend; call `cleanup()` at the end (or use
 * {@link withTempTable}).
 *
 * @example
 * ```ts
 * const t = await tempTableLocation("orders");
 * try {
 *   await createTable(t.location, schema);
 * } finally {
 *   await t.cleanup();
 * }
 * ```
 */
export async function tempTableLocation(name = "table"): Promise<TempTable> {
  if (testBackend() === "local") {
    const dir = await Deno.makeTempDir({ prefix: `${name}-` });
    return {
      location: dir,
      storage: openStorage(dir),
      cleanup: () => Deno.remove(dir, { recursive: true }).catch(() => {}),
    };
  }
  const location = `${adlsRoot()}/${name}-${crypto.randomUUID().slice(0, 8)}`;
  const storage = openStorage(location);
  return {
    location,
    storage,
    async cleanup() {
      const files = await storage.list("");
      for (let i = 0; i < files.length; i += 16) {
        await Promise.all(files.slice(i, i + 16).map((f) => storage.delete(f.path)));
      }
    },
  };
}

/** Run `fn` with a fresh table location, cleaned up afterwards. */
export async function withTempTable(
  fn: (location: string, storage: Storage) => Promise<void>,
  name = "table",
): Promise<void> {
  const t = await tempTableLocation(name);
  try {
    await fn(t.location, t.storage);
  } finally {
    await t.cleanup();
  }
}

/** A running stand-in process started by {@link startStandinProcess}. */
export interface StandinProcess {
  /** Env to give the tests (endpoint, key, backend, root). */
  env: Record<string, string>;
  /** The stand-in's pid. */
  pid: number;
  /** Stop it (SIGTERM to its pid) and wait for it to exit. */
  stop(): Promise<void>;
}

/** Start the DFS stand-in as a child process on 127.0.0.1 with filesystem `tests`. */
export async function startStandinProcess(log = false, chaos = 0): Promise<StandinProcess> {
  const script = new URL("./dfs_standin.ts", import.meta.url).href;
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      script,
      "--filesystem",
      "tests",
      "--chaos",
      String(chaos),
      ...(log ? ["--log"] : []),
    ],
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let text = "";
  while (!text.includes("\n")) {
    const { value, done } = await reader.read();
    if (done) throw new Error("the DFS stand-in exited before printing its address");
    text += value;
  }
  reader.releaseLock();
  // keep draining stdout so the child never blocks on a full pipe
  child.stdout.pipeTo(new WritableStream()).catch(() => {});
  const info = JSON.parse(text.split("\n")[0]) as {
    url: string;
    account: string;
    accountKey: string;
  };
  return {
    env: {
      DELTA_TEST_BACKEND: "adls",
      DELTA_TEST_ADLS_ROOT: `abfss://tests@${info.account}.dfs.core.windows.net/run-${
        crypto.randomUUID().slice(0, 8)
      }`,
      AZURE_STORAGE_DFS_ENDPOINT: info.url,
      AZURE_STORAGE_ACCOUNT_KEY: info.accountKey,
    },
    pid: child.pid,
    async stop() {
      try {
        child.kill("SIGTERM");
      } catch { /* already gone */ }
      await child.status;
    },
  };
}

if (import.meta.main) {
  const [backend, ...rest] = Deno.args;
  const sep = rest.indexOf("--");
  const own = sep >= 0 ? rest.slice(0, sep) : [];
  const command = sep >= 0 ? rest.slice(sep + 1) : rest;
  const log = own.includes("--log");
  const chaosAt = own.indexOf("--chaos");
  const chaos = chaosAt >= 0 ? Number(own[chaosAt + 1]) : 0;
  if (backend !== "adls" || command.length === 0 || !(chaos >= 0 && chaos < 1)) {
    console.error(
      "usage: deno run -A tests/support/storage_backends.ts adls [--log] [--chaos 0.02] -- <command...>\n" +
        "  starts the DFS stand-in, runs the command with DELTA_TEST_BACKEND=adls, stops the stand-in;\n" +
        "  --chaos gives that fraction of requests a random 503/500/dropped connection",
    );
    Deno.exit(2);
  }
  const standin = await startStandinProcess(log, chaos);
  console.error(
    `dfs-standin: pid ${standin.pid}, ${standin.env.AZURE_STORAGE_DFS_ENDPOINT}, tables under ` +
      standin.env.DELTA_TEST_ADLS_ROOT,
  );
  let code = 1;
  try {
    const run = new Deno.Command(command[0] === "deno" ? Deno.execPath() : command[0], {
      args: command.slice(1),
      env: standin.env,
      stdout: "inherit",
      stderr: "inherit",
    });
    code = (await run.output()).code;
  } finally {
    await standin.stop();
  }
  Deno.exit(code);
}
