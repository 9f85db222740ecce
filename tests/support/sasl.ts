/**
 * The local broker's SASL_SSL listener for tests: its env (what a notebook needs to run over it
 * with only env changed), its admin user for ACLs, and kafkajs clients on it.
 *
 * {@link withSaslBroker} uses the shared broker's listener when it has one (`deno task kafka:up`
 * opens it on 127.0.0.1:9094 and writes `.cache/kafka/sasl.env`; CI gets it that way), and
 * otherwise starts a private broker on free ports in a temp dir and stops it afterwards. Set
 * `KAFKA_SASL_ENV_FILE` to use another listener (its admin env file is looked up next to it as
 * `sasl-admin.env`), or `KAFKA_TEST_SASL=private` to always start a private broker.
 *
 * @example
 * ```ts
 * await withSaslBroker(async (broker) => {
 *   const run = await runNotebook("producer", ["--topic", topic], { env: broker.env });
 *   await withAdmin(broker.kafka("admin"), (admin) => admin.listTopics());
 * });
 * ```
 *
 * @module
 */
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import {
  AclOperationTypes,
  AclPermissionTypes,
  AclResourceTypes,
  type Admin,
  Kafka,
  type KafkaConfig,
  logLevel,
  ResourcePatternTypes,
} from "kafkajs";
import { parseDotenv } from "../../lib/config.ts";
import {
  DEFAULT_DIR,
  SASL_ADMIN_USER,
  SASL_CLIENT_USER,
  startBroker,
  stopBroker,
} from "../../dev/kafka/mod.ts";
import { freePort } from "./kafka.ts";

/** The variables a client needs for the SASL_SSL listener (as in `sasl.env`). */
export interface SaslEnv extends Record<string, string> {
  /** host:port of the SASL_SSL listener. */
  KAFKA_BOOTSTRAP_SERVERS: string;
  /** Always SASL_SSL. */
  KAFKA_SECURITY_PROTOCOL: string;
  /** The SASL user (API key). */
  KAFKA_API_KEY: string;
  /** The SASL password (API secret): never print it. */
  KAFKA_API_SECRET: string;
  /** PEM file of the CA that signed the listener's certificate. */
  KAFKA_CA_FILE: string;
}

/** A broker with a SASL_SSL listener, as a test sees it. */
export interface SaslBroker {
  /** Env of the ordinary `client` user (give it to runNotebook's `env`). */
  env: SaslEnv;
  /** Path of that env file (for `--env-file`). */
  envFile: string;
  /** Env of the `admin` super user (creates ACLs). */
  adminEnv: SaslEnv;
  /** PLAINTEXT bootstrap of the same broker (unauthenticated, a super user there). */
  plaintext: string;
  /** The broker's state directory (its `broker.log` is there). */
  dir: string;
  /** True when the test started this broker (and stops it afterwards). */
  private: boolean;
  /** A kafkajs client over SASL_SSL as `client` (default) or `admin`, quiet. */
  kafka(user?: "client" | "admin", overrides?: Partial<KafkaConfig>): Kafka;
}

const ROOT = fileURLToPath(new URL("../../", import.meta.url));

/** Reads an env file written by the local broker (`sasl.env` / `sasl-admin.env`). */
export async function readSaslEnv(path: string): Promise<SaslEnv> {
  const env = parseDotenv(await Deno.readTextFile(path));
  for (
    const k of ["KAFKA_BOOTSTRAP_SERVERS", "KAFKA_API_KEY", "KAFKA_API_SECRET", "KAFKA_CA_FILE"]
  ) {
    if (!env[k]) throw new Error(`${path} has no ${k}`);
  }
  return { KAFKA_SECURITY_PROTOCOL: "SASL_SSL", ...env } as SaslEnv;
}

/** The kafkajs config of a SASL env (TLS with its CA file, SASL PLAIN). */
export function saslKafkaConfig(env: SaslEnv, overrides: Partial<KafkaConfig> = {}): KafkaConfig {
  return {
    clientId: "tests-sasl",
    brokers: env.KAFKA_BOOTSTRAP_SERVERS.split(","),
    ssl: { ca: [Deno.readTextFileSync(env.KAFKA_CA_FILE)], rejectUnauthorized: true },
    sasl: { mechanism: "plain", username: env.KAFKA_API_KEY, password: env.KAFKA_API_SECRET },
    logLevel: logLevel.NOTHING,
    connectionTimeout: 5000,
    ...overrides,
  };
}

/** True when an admin client gets metadata over the SASL env within a few seconds. */
async function answers(env: SaslEnv): Promise<boolean> {
  const admin = new Kafka(saslKafkaConfig(env, { retry: { retries: 1 } })).admin();
  try {
    await admin.connect();
    return (await admin.describeCluster()).brokers.length > 0;
  } catch {
    return false;
  } finally {
    await admin.disconnect().catch(() => {});
  }
}

function plaintextOf(dir: string): string {
  try {
    const props = Deno.readTextFileSync(join(dir, "server.properties"));
    const m = props.match(/^listeners=PLAINTEXT:\/\/([^,\s]+)/m);
    if (m) return m[1];
  } catch { /* fall through */ }
  return "127.0.0.1:9092";
}

function describe(
  env: SaslEnv,
  envFile: string,
  adminEnv: SaslEnv,
  dir: string,
  priv: boolean,
): SaslBroker {
  return {
    env,
    envFile,
    adminEnv,
    plaintext: plaintextOf(dir),
    dir,
    private: priv,
    kafka: (user = "client", overrides = {}) =>
      new Kafka(saslKafkaConfig(user === "admin" ? adminEnv : env, overrides)),
  };
}

/** The shared broker's SASL listener, when its env files exist and it answers; else undefined. */
export async function sharedSaslBroker(): Promise<SaslBroker | undefined> {
  if (Deno.env.get("KAFKA_TEST_SASL") === "private") return undefined;
  const envFile = Deno.env.get("KAFKA_SASL_ENV_FILE") ?? join(DEFAULT_DIR, "sasl.env");
  const adminFile = join(dirname(envFile), "sasl-admin.env");
  let env: SaslEnv, adminEnv: SaslEnv;
  try {
    [env, adminEnv] = await Promise.all([readSaslEnv(envFile), readSaslEnv(adminFile)]);
  } catch {
    return undefined;
  }
  if (!(await answers(env))) return undefined;
  return describe(env, envFile, adminEnv, dirname(envFile), false);
}

/**
 * Runs `fn` with a SASL_SSL broker: the shared one's listener when available, else a private
 * broker (free ports, temp dir) that is stopped and removed afterwards.
 */
export async function withSaslBroker<T>(fn: (broker: SaslBroker) => Promise<T>): Promise<T> {
  const shared = await sharedSaslBroker();
  if (shared) return await fn(shared);
  const dir = await Deno.makeTempDir({ prefix: "kafka-sasl-test-" });
  try {
    const info = await startBroker({
      dir,
      port: freePort(),
      controllerPort: freePort(),
      saslPort: freePort(),
      saslSsl: true,
    });
    if (!info.sasl) throw new Error("the private broker has no SASL_SSL listener");
    const [env, adminEnv] = await Promise.all([
      readSaslEnv(info.sasl.envFile),
      readSaslEnv(info.sasl.adminEnvFile),
    ]);
    return await fn(describe(env, info.sasl.envFile, adminEnv, dir, true));
  } finally {
    await stopBroker({ dir, graceMs: 10_000 });
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
}

/** Users the local broker defines (for tests that name principals in ACLs). */
export const SASL_USERS = { client: SASL_CLIENT_USER, admin: SASL_ADMIN_USER } as const;

/** The repository root (cwd for notebook runs). */
export const REPO_ROOT: string = ROOT;

/**
 * Where a secret shows up in a text: the secret itself or any 8-character slice of it (a partial
 * leak counts). Returns descriptions by position only (never the secret's characters), empty when
 * the text is clean.
 *
 * @example
 * ```ts
 * assert.deepEqual(leaks(stdout + stderr, env.KAFKA_API_SECRET), []);
 * ```
 */
export function leaks(text: string, secret: string, window = 8): string[] {
  const found: string[] = [];
  const whole = text.indexOf(secret);
  if (whole >= 0) found.push(`the whole secret at character ${whole}`);
  for (let i = 0; i + window <= secret.length; i++) {
    const at = text.indexOf(secret.slice(i, i + window));
    if (at >= 0) found.push(`secret characters ${i}..${i + window} at character ${at}`);
  }
  return found;
}

/**
 * The stderr lines of a notebook run that are not its timestamped log lines (or their indented
 * continuations): for a failure, exactly `["error: <one line>"]` is expected.
 *
 * @example
 * ```ts
 * assert.deepEqual(errorLines(run.stderr).length, 1);
 * ```
 */
export function errorLines(stderr: string): string[] {
  return stderr.split("\n").filter((l) =>
    l.trim() !== "" && !/^\d\d:\d\d:\d\d\.\d{3} /.test(l) && !/^ {12,}\S/.test(l)
  );
}

/** The notebooks of the pipeline that exist in this checkout (streams may come later). */
export async function existingNotebooks(names: string[]): Promise<string[]> {
  const out: string[] = [];
  for (const n of names) {
    try {
      await Deno.stat(`${ROOT}notebooks/${n}.ts`);
      out.push(n);
    } catch { /* not there yet */ }
  }
  return out;
}

/** What {@link runNotebookWithin} returns. */
export interface BoundedRun {
  /** Exit code (SIGKILL's 137 when it was killed). */
  code: number;
  /** Standard output. */
  stdout: string;
  /** Standard error. */
  stderr: string;
  /** True when the run did not end by itself within the time limit and was killed. */
  timedOut: boolean;
}

/**
 * Runs `notebooks/<name>.ts` like runNotebook (repo as cwd, env added to the process env) but
 * kills it after `limitMs`: a notebook that retries a permanent failure forever fails the test
 * instead of hanging it.
 */
export async function runNotebookWithin(
  name: string,
  args: string[],
  env: Record<string, string>,
  limitMs = 90_000,
): Promise<BoundedRun> {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", `${ROOT}notebooks/${name}.ts`, ...args],
    cwd: ROOT,
    env: { KAFKAJS_NO_PARTITIONER_WARNING: "1", NO_COLOR: "1", ...env },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    try {
      child.kill("SIGKILL");
    } catch { /* already gone */ }
  }, limitMs);
  try {
    const out = await child.output();
    const dec = new TextDecoder();
    return {
      code: out.code,
      stdout: dec.decode(out.stdout),
      stderr: dec.decode(out.stderr),
      timedOut,
    };
  } finally {
    clearTimeout(timer);
  }
}

/** Topic operations an ACL can allow. */
export type TopicOperation = "READ" | "WRITE" | "DESCRIBE" | "CREATE" | "DELETE" | "ALTER";

/**
 * Allows `principal` (e.g. `User:client`) the given operations on one topic (a literal ACL);
 * once a topic has any ACL, everything not allowed is denied to SASL users.
 */
export async function allowTopic(
  admin: Admin,
  topic: string,
  principal: string,
  operations: TopicOperation[],
): Promise<void> {
  await admin.createAcls({
    acl: operations.map((op) => ({
      resourceType: AclResourceTypes.TOPIC,
      resourceName: topic,
      resourcePatternType: ResourcePatternTypes.LITERAL,
      principal,
      host: "*",
      operation: AclOperationTypes[op],
      permissionType: AclPermissionTypes.ALLOW,
    })),
  });
}

/** Removes every ACL of a topic (literal pattern). */
export async function dropTopicAcls(admin: Admin, topic: string): Promise<void> {
  await admin.deleteAcls({
    filters: [{
      resourceType: AclResourceTypes.TOPIC,
      resourceName: topic,
      resourcePatternType: ResourcePatternTypes.LITERAL,
      operation: AclOperationTypes.ANY,
      permissionType: AclPermissionTypes.ANY,
    }],
  });
}

/** Waits until `check` is true (ACL changes reach the broker's authorizer asynchronously). */
export async function eventually(check: () => Promise<boolean>, what: string, ms = 15_000) {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`not within ${ms} ms: ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/**
 * The SASL_SSL env for notebook runs when `KAFKA_TEST_SASL=1` (else `{}`): the variables of
 * `KAFKA_SASL_ENV_FILE` (default the shared broker's `.cache/kafka/sasl.env`). Spread it into a
 * notebook's env to re-run an end-to-end test over SASL_SSL; the test's own PLAINTEXT clients
 * keep working, because both listeners belong to the same broker.
 *
 * @example
 * ```ts
 * // tests/support/notebooks.ts, runNotebook:
 * env: { KAFKA_BOOTSTRAP_SERVERS: bootstrapServers().join(","), ...notebookSecurityEnv(), ...opts.env }
 * ```
 */
export function notebookSecurityEnv(): Record<string, string> {
  if (Deno.env.get("KAFKA_TEST_SASL") !== "1") return {};
  const file = Deno.env.get("KAFKA_SASL_ENV_FILE") ?? join(DEFAULT_DIR, "sasl.env");
  let text: string;
  try {
    text = Deno.readTextFileSync(file);
  } catch {
    throw new Error(
      `KAFKA_TEST_SASL=1 but ${file} is missing: start the broker with its SASL_SSL listener ` +
        "(deno task kafka:up, without --no-sasl-ssl) or set KAFKA_SASL_ENV_FILE",
    );
  }
  const env = parseDotenv(text);
  return { KAFKA_SECURITY_PROTOCOL: "SASL_SSL", ...env };
}
