/**
 * Where a local broker keeps its state: the default directories and the layout of one state
 * directory (`server.properties`, `data/`, `broker.log`, `broker.pid`, `tls/`, the SASL env
 * files). Every listener binds to loopback.
 *
 * @module
 */
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

/** The loopback address every listener binds to. */
export const HOST = "127.0.0.1";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "../..");

/** Default state directory of the shared development broker. */
export const DEFAULT_DIR: string = join(ROOT, ".cache/kafka");
/** Default directory of the broker jars (shared by all state directories). */
export const DEFAULT_LIBS_DIR: string = join(ROOT, ".cache/kafka/libs");

/** Absolute paths of one state directory's files. */
export interface StatePaths {
  /** The state directory. */
  dir: string;
  /** The jars directory (shared by all state directories). */
  libs: string;
  /** KRaft log dirs. */
  data: string;
  /** `server.properties`, rewritten at every start. */
  props: string;
  /** `broker.log`: the JVM's stdout and stderr. */
  log: string;
  /** `broker.pid`: the pid of the running broker JVM. */
  pid: string;
  /** `tls/`: the throw-away CA and server certificate. */
  tls: string;
  /** `sasl.env`: the `client` user's env file. */
  saslEnv: string;
  /** `sasl-admin.env`: the `admin` user's env file. */
  adminEnv: string;
}

/**
 * The paths of the state directory `dir` (default {@link DEFAULT_DIR}) and of the jars.
 *
 * @example
 * ```ts
 * statePaths({ dir: "/tmp/k" }).props; // "/tmp/k/server.properties"
 * ```
 */
export function statePaths(opts: { dir?: string; libsDir?: string }): StatePaths {
  const dir = resolve(opts.dir ?? DEFAULT_DIR);
  return {
    dir,
    libs: resolve(opts.libsDir ?? DEFAULT_LIBS_DIR),
    data: join(dir, "data"),
    props: join(dir, "server.properties"),
    log: join(dir, "broker.log"),
    pid: join(dir, "broker.pid"),
    tls: join(dir, "tls"),
    saslEnv: join(dir, "sasl.env"),
    adminEnv: join(dir, "sasl-admin.env"),
  };
}
