/**
 * A single-node Apache Kafka 4.3.1 (KRaft, broker and controller in one JVM) for development and
 * tests, run from Maven Central jars on the machine's JDK.
 *
 * CLI (what `deno task kafka:up` / `kafka:down` call):
 *
 * ```sh
 * deno run -A lib/kafka/local_broker.ts up     [--port 9092] [--controller-port 9093] [--dir .cache/kafka]
 *                                              [--sasl-port 9094 | --no-sasl-ssl]
 * deno run -A lib/kafka/local_broker.ts down   [--dir .cache/kafka]
 * deno run -A lib/kafka/local_broker.ts status [--dir .cache/kafka]
 * ```
 *
 * The state directory holds `server.properties`, `data/` (the log dirs), `broker.log` and
 * `broker.pid`; the jars are shared by every state directory under `.cache/kafka/libs`.
 *
 * Besides PLAINTEXT (port, unauthenticated, as before) the broker opens a SASL_SSL listener
 * (SASL PLAIN over TLS, as Confluent Cloud) on `--sasl-port` (default port + 2, i.e. 9094), with a
 * throw-away CA and server certificate under `<dir>/tls/` (clients trust `tls/ca.pem`) and two
 * users whose passwords are generated at the first start and never printed: `client` (in
 * `<dir>/sasl.env`: KAFKA_BOOTSTRAP_SERVERS, KAFKA_API_KEY, KAFKA_API_SECRET, KAFKA_CA_FILE, for
 * `--env-file`) and `admin` (a super user, in `<dir>/sasl-admin.env`), both mode 0600. The
 * StandardAuthorizer is on with `allow.everyone.if.no.acl.found=true` and the PLAINTEXT principal
 * `User:ANONYMOUS` as a super user: PLAINTEXT clients and resources without ACLs behave exactly as
 * without an authorizer; ACLs (created by `admin`) restrict SASL users. Inter-broker and
 * controller traffic stay PLAINTEXT on loopback. `--no-sasl-ssl` (or KAFKA_BROKER_SASL_SSL=0)
 * starts the PLAINTEXT-only broker of before.
 * Exit codes: 0 ok, 1 failure, 2 a prerequisite is missing (java, mvn, Maven Central),
 * 3 `status` found no running broker.
 *
 * Environment: `JAVA_HOME` (else `java` on PATH); `KAFKA_MAVEN_REPO_LOCAL` (a Maven local repo
 * other than ~/.m2, e.g. to time a cold download); `KAFKA_BROKER_CDS=0` (no class-data-sharing
 * archive; by default the first broker records one in the libs dir when it stops, and later
 * starts reuse it: about half the start-up CPU).
 *
 * @module
 */

import { Kafka, logLevel } from "kafkajs";
import { parseArgs } from "node:util";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseDotenv } from "../config.ts";
import { ensureTls, TlsSetupError } from "./tls.ts";

/** Kafka version whose jars `broker.pom.xml` resolves. */
export const KAFKA_VERSION = "4.3.1";

/** Fixed KRaft cluster id (base64url of 16 bytes, 22 characters) used to format every state dir. */
export const CLUSTER_ID = "cmV0YWlsLW9yZGVycy1rZg";

const HOST = "127.0.0.1";
const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
const POM = join(ROOT, "lib/kafka/broker.pom.xml");

/** Default state directory of the shared development broker. */
export const DEFAULT_DIR: string = join(ROOT, ".cache/kafka");
/** Default directory of the broker jars (shared by all state directories). */
export const DEFAULT_LIBS_DIR: string = join(ROOT, ".cache/kafka/libs");

/** SASL user of ordinary clients (its credentials are in `<dir>/sasl.env`). */
export const SASL_CLIENT_USER = "client";
/** SASL super user, e.g. for creating ACLs (its credentials are in `<dir>/sasl-admin.env`). */
export const SASL_ADMIN_USER = "admin";

/** JVM flags sized for a small shared machine: small heap, serial GC. */
const JVM_OPTS = [
  "-Xms128m",
  "-Xmx512m",
  "-XX:+UseSerialGC",
  "-XX:+ExitOnOutOfMemoryError",
  "-Djava.awt.headless=true",
  // slf4j-simple: timestamps, and no 60-line config dumps at every component start.
  "-Dorg.slf4j.simpleLogger.showDateTime=true",
  "-Dorg.slf4j.simpleLogger.dateTimeFormat=yyyy-MM-dd'T'HH:mm:ss.SSS",
  "-Dorg.slf4j.simpleLogger.log.org.apache.kafka.common.config.AbstractConfig=warn",
];

/** `java` or `mvn` is not installed or not on PATH; install it or set JAVA_HOME. */
export class ToolMissingError extends Error {
  /** Error kind, for `catch` blocks and log lines. */
  override name = "ToolMissingError";
}

/** Maven could not resolve the Kafka jars (network, proxy or mirror settings). */
export class JarsUnavailableError extends Error {
  /** Error kind, for `catch` blocks and log lines. */
  override name = "JarsUnavailableError";
}

/** The port the broker should listen on is taken by a process this tool did not start. */
export class PortInUseError extends Error {
  /** Error kind, for `catch` blocks and log lines. */
  override name = "PortInUseError";
}

/** The broker process exited or did not become ready in time; see its log. */
export class BrokerStartError extends Error {
  /** Error kind, for `catch` blocks and log lines. */
  override name = "BrokerStartError";
  /** Path of the broker's log file. */
  readonly logFile: string;
  /** Create the error; `logFile` tells the reader where to look. */
  constructor(message: string, logFile: string, options?: ErrorOptions) {
    super(message, options);
    this.logFile = logFile;
  }
}

/** Where and how to run a local broker; every field has a default. */
export interface BrokerOptions {
  /** PLAINTEXT listener port on 127.0.0.1 (default 9092, or the port in the dir's config). */
  port?: number;
  /** CONTROLLER listener port on 127.0.0.1 (default `port + 1`). */
  controllerPort?: number;
  /**
   * Open the SASL_SSL listener (PLAIN over TLS) and the ACL authorizer; default true unless the
   * environment has KAFKA_BROKER_SASL_SSL=0.
   */
  saslSsl?: boolean;
  /** SASL_SSL listener port on 127.0.0.1 (default the dir's saved one, else `port + 2`). */
  saslPort?: number;
  /** State directory (config, data, log, pid file); default `.cache/kafka`. */
  dir?: string;
  /** Directory the jars are copied to; default `.cache/kafka/libs`. */
  libsDir?: string;
  /** How long `startBroker` waits for the broker to serve metadata (default 90 000 ms). */
  timeoutMs?: number;
  /** Where progress lines go (default: nowhere). */
  log?: (line: string) => void;
}

/** What `startBroker` found or did. */
export interface BrokerInfo {
  /** Bootstrap address for clients, e.g. `127.0.0.1:9092`. */
  bootstrap: string;
  /** Pid of the broker JVM. */
  pid: number;
  /** Absolute path of the broker log. */
  logFile: string;
  /** Absolute path of the state directory. */
  dir: string;
  /** True when a broker from this state dir was already running (nothing was started). */
  alreadyRunning: boolean;
  /** Milliseconds from the call to the broker answering metadata requests. */
  elapsedMs: number;
  /** The SASL_SSL listener, when this broker has one. */
  sasl?: SaslListenerInfo;
}

/** Where clients find the SASL_SSL listener and its credentials (never the passwords). */
export interface SaslListenerInfo {
  /** Bootstrap address of the SASL_SSL listener, e.g. `127.0.0.1:9094`. */
  bootstrap: string;
  /** PEM file of the throw-away CA that signed the listener's certificate. */
  caFile: string;
  /** Env file (0600) for the `client` user: bootstrap, security protocol, key, secret, CA file. */
  envFile: string;
  /** Env file (0600) for the `admin` super user, same variables. */
  adminEnvFile: string;
}

/** What `brokerStatus` found. */
export interface BrokerStatus {
  /** True when the pid file names a live broker JVM of this state dir. */
  running: boolean;
  /** True when a client got metadata listing at least one broker from `bootstrap`. */
  answering: boolean;
  /** Pid from the pid file, when the process is alive. */
  pid?: number;
  /** Bootstrap address checked. */
  bootstrap: string;
  /** Absolute path of the state directory. */
  dir: string;
  /** Absolute path of the broker log. */
  logFile: string;
  /** Resident memory of the broker process in KiB, when running (from /proc). */
  rssKiB?: number;
  /** The SASL_SSL listener configured in the state dir, when there is one. */
  sasl?: SaslListenerInfo;
}

interface Paths {
  dir: string;
  libs: string;
  data: string;
  props: string;
  log: string;
  pid: string;
  tls: string;
  saslEnv: string;
  adminEnv: string;
}

function pathsOf(opts: BrokerOptions): Paths {
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

/** Child processes this module spawned, so a stop in the same process can reap them. */
const children = new Map<number, Deno.ChildProcess>();

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function readText(path: string): Promise<string | undefined> {
  try {
    return await Deno.readTextFile(path);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return undefined;
    throw e;
  }
}

interface Ports {
  port?: number;
  controllerPort?: number;
  saslPort?: number;
}

/** Ports from an existing server.properties, so `status`/`down` need no flags. */
async function portsFromProps(props: string): Promise<Ports> {
  const text = await readText(props);
  const line = text?.match(/^listeners=(.*)$/m)?.[1];
  if (!line) return {};
  const ports: Record<string, number> = {};
  for (const l of line.split(",")) {
    const m = l.trim().match(/^([A-Z_]+):\/\/[^:]*:(\d+)$/);
    if (m) ports[m[1]] = Number(m[2]);
  }
  return { port: ports.PLAINTEXT, controllerPort: ports.CONTROLLER, saslPort: ports.SASL_SSL };
}

async function resolvePorts(
  opts: BrokerOptions,
  p: Paths,
): Promise<{ port: number; controllerPort: number; saslPort?: number }> {
  const saved = await portsFromProps(p.props);
  const port = opts.port ?? saved.port ?? 9092;
  const controllerPort = opts.controllerPort ??
    (opts.port === undefined ? saved.controllerPort : undefined) ?? port + 1;
  const saslOn = opts.saslSsl ?? Deno.env.get("KAFKA_BROKER_SASL_SSL") !== "0";
  const saslPort = !saslOn ? undefined : opts.saslPort ??
    (opts.port === undefined ? saved.saslPort : undefined) ?? port + 2;
  return { port, controllerPort, saslPort };
}

/** A password of 32 base64url characters (192 random bits). */
function newPassword(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(24));
  return btoa(String.fromCharCode(...bytes)).replaceAll("+", "-").replaceAll("/", "_");
}

/** Writes a file only its owner can read (also when it already existed with wider modes). */
async function writePrivate(path: string, text: string): Promise<void> {
  await Deno.writeTextFile(path, text, { mode: 0o600 });
  await Deno.chmod(path, 0o600);
}

/** The env file text giving a client the SASL_SSL listener as `user`. */
function saslEnvText(user: string, password: string, bootstrap: string, caFile: string): string {
  return [
    `# SASL_SSL listener of the local broker (lib/kafka/local_broker.ts), user '${user}'.`,
    "# Rewritten at every start; the password stays. Use: deno task produce -- --env-file <this>",
    `KAFKA_BOOTSTRAP_SERVERS=${bootstrap}`,
    "KAFKA_SECURITY_PROTOCOL=SASL_SSL",
    "KAFKA_SASL_MECHANISM=PLAIN",
    `KAFKA_API_KEY=${user}`,
    `KAFKA_API_SECRET=${password}`,
    `KAFKA_CA_FILE=${caFile}`,
    "",
  ].join("\n");
}

/** The password saved in an env file by an earlier start, if any. */
async function savedPassword(envFile: string): Promise<string | undefined> {
  const text = await readText(envFile);
  const secret = text === undefined ? undefined : parseDotenv(text).KAFKA_API_SECRET;
  return secret && /^[A-Za-z0-9_-]{16,}$/.test(secret) ? secret : undefined;
}

/** The SASL_SSL listener's settings for `serverProperties` (paths and users' passwords). */
export interface SaslListenerSettings {
  /** Listener port on 127.0.0.1. */
  port: number;
  /** Kafka PEM keystore (key, certificate, CA). */
  keystoreFile: string;
  /** user name -> password, for the listener's JAAS config. */
  users: Record<string, string>;
  /** Principals besides User:ANONYMOUS (PLAINTEXT) that bypass ACLs, e.g. `User:admin`. */
  superUsers: string[];
}

/** Certificates, passwords and env files for the SASL_SSL listener (made once, then reused). */
async function prepareSasl(p: Paths, port: number): Promise<SaslListenerSettings> {
  const tls = await ensureTls(p.tls);
  const bootstrap = `${HOST}:${port}`;
  const users: Record<string, string> = {};
  for (const [user, file] of [[SASL_ADMIN_USER, p.adminEnv], [SASL_CLIENT_USER, p.saslEnv]]) {
    users[user] = (await savedPassword(file)) ?? newPassword();
    await writePrivate(file, saslEnvText(user, users[user], bootstrap, tls.caFile));
  }
  return {
    port,
    keystoreFile: tls.keystoreFile,
    users,
    superUsers: [`User:${SASL_ADMIN_USER}`],
  };
}

/** The SASL_SSL listener a state dir's config has, described for clients. */
async function saslInfo(p: Paths): Promise<SaslListenerInfo | undefined> {
  const { saslPort } = await portsFromProps(p.props);
  if (saslPort === undefined) return undefined;
  return {
    bootstrap: `${HOST}:${saslPort}`,
    caFile: join(p.tls, "ca.pem"),
    envFile: p.saslEnv,
    adminEnvFile: p.adminEnv,
  };
}

/** The pid in the pid file if that process is alive and is this dir's broker JVM. */
async function livePid(p: Paths): Promise<number | undefined> {
  const text = await readText(p.pid);
  const pid = Number(text?.trim());
  if (!Number.isInteger(pid) || pid <= 0) return undefined;
  return (await isOurBroker(pid, p)) ? pid : undefined;
}

async function isOurBroker(pid: number, p: Paths): Promise<boolean> {
  if (!(await isAlive(pid))) return false;
  const cmdline = await readText(`/proc/${pid}/cmdline`);
  if (!cmdline) return false;
  const args = cmdline.split("\0");
  return args.includes("kafka.Kafka") && args.includes(p.props);
}

/** True while the process exists and is not a zombie. */
async function isAlive(pid: number): Promise<boolean> {
  const stat = await readText(`/proc/${pid}/stat`);
  if (!stat) return false;
  const state = stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3);
  return state !== "Z" && state !== "X";
}

async function rssKiB(pid: number): Promise<number | undefined> {
  const status = await readText(`/proc/${pid}/status`);
  const m = status?.match(/^VmRSS:\s+(\d+) kB$/m);
  return m ? Number(m[1]) : undefined;
}

/** True when a kafkajs admin gets metadata listing at least one broker within `timeoutMs`. */
async function answers(bootstrap: string, timeoutMs = 3000): Promise<boolean> {
  const kafka = new Kafka({
    clientId: "local-broker-probe",
    brokers: [bootstrap],
    logLevel: logLevel.NOTHING,
    connectionTimeout: Math.min(timeoutMs, 1000),
    requestTimeout: timeoutMs,
    retry: { retries: 0 },
  });
  const admin = kafka.admin({ retry: { retries: 0 } });
  try {
    await admin.connect();
    const cluster = await admin.describeCluster();
    return cluster.brokers.length > 0;
  } catch {
    return false;
  } finally {
    await admin.disconnect().catch(() => {});
  }
}

function portFree(port: number): boolean {
  try {
    const listener = Deno.listen({ hostname: HOST, port });
    listener.close();
    return true;
  } catch (e) {
    if (e instanceof Deno.errors.AddrInUse) return false;
    throw e;
  }
}

function javaBin(): string {
  const home = Deno.env.get("JAVA_HOME");
  return home ? join(home, "bin", "java") : "java";
}

/** Run a command to completion, turning "not installed" into a ToolMissingError. */
async function run(
  cmd: string,
  args: string[],
  missingHint: string,
): Promise<{ code: number; out: string }> {
  let output: Deno.CommandOutput;
  try {
    output = await new Deno.Command(cmd, { args, stdin: "null", stdout: "piped", stderr: "piped" })
      .output();
  } catch (e) {
    if (e instanceof Deno.errors.NotFound || e instanceof Deno.errors.PermissionDenied) {
      throw new ToolMissingError(`'${cmd}' not found: ${missingHint}`);
    }
    throw e;
  }
  const dec = new TextDecoder();
  return { code: output.code, out: dec.decode(output.stdout) + dec.decode(output.stderr) };
}

/** Check `java` is 17+; returns its `-version` text (identifies the JVM build for CDS). */
async function checkJava(): Promise<string> {
  const hint = "install a JDK 17+ (apt-get install openjdk-17-jdk-headless) or set JAVA_HOME";
  const { code, out } = await run(javaBin(), ["-version"], hint);
  const m = out.match(/version "(\d+)(?:\.(\d+))?/);
  const major = m ? (m[1] === "1" ? Number(m[2]) : Number(m[1])) : NaN;
  if (code !== 0 || !(major >= 17)) {
    throw new ToolMissingError(
      `Kafka ${KAFKA_VERSION} needs Java 17+, '${javaBin()} -version' says: ${
        out.split("\n")[0] || `exit ${code}`
      }; ${hint}`,
    );
  }
  return out;
}

async function sha256(text: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text));
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, "0")).join("");
}

/**
 * Copy the broker jars named by `broker.pom.xml` into `libsDir` with Maven, unless a previous run
 * with the same POM already did (a marker file records the POM's hash).
 *
 * @example
 * ```ts
 * const libs = await ensureJars();
 * console.log(`java -cp '${libs}/*' kafka.Kafka server.properties`);
 * ```
 */
export async function ensureJars(
  libsDir: string = DEFAULT_LIBS_DIR,
  log: (line: string) => void = () => {},
): Promise<string> {
  const libs = resolve(libsDir);
  const marker = join(libs, ".resolved");
  const pomHash = await sha256(await Deno.readTextFile(POM));
  if ((await readText(marker))?.trim() === pomHash) return libs;
  const args = [
    "-q",
    "-B",
    "-f",
    POM,
    "dependency:copy-dependencies",
    "-DincludeScope=runtime",
    `-DoutputDirectory=${libs}`,
  ];
  log(`resolving the Kafka ${KAFKA_VERSION} jars with Maven into ${libs}`);
  // A changed POM must not leave old jars (or a CDS archive of them) on the classpath.
  await Deno.mkdir(libs, { recursive: true });
  for await (const entry of Deno.readDir(libs)) {
    if (/\.(jar|jsa|part)$/.test(entry.name)) await Deno.remove(join(libs, entry.name));
  }
  const repo = Deno.env.get("KAFKA_MAVEN_REPO_LOCAL");
  if (repo) args.push(`-Dmaven.repo.local=${repo}`);
  const { code, out } = await run("mvn", args, "install Maven 3 (apt-get install maven)");
  if (code !== 0) {
    const ansi = new RegExp(`${String.fromCharCode(27)}\\[[0-9;]*m`, "g");
    const clean = out.replace(ansi, "");
    const reason = clean.split("\n").find((l) => /ERROR/.test(l))?.replace(/^\[ERROR\]\s*/, "") ??
      `mvn exit ${code}`;
    throw new JarsUnavailableError(
      `could not fetch the Kafka ${KAFKA_VERSION} jars with Maven (${
        reason.slice(0, 300)
      }); check that Maven Central (or the mirror in ~/.m2/settings.xml) is reachable`,
    );
  }
  await Deno.writeTextFile(marker, pomHash + "\n");
  return libs;
}

/**
 * The server.properties text for a broker+controller node on loopback ports; with `sasl`, also
 * a SASL_SSL (PLAIN) listener and the StandardAuthorizer (PLAINTEXT stays unrestricted).
 */
export function serverProperties(
  port: number,
  controllerPort: number,
  dataDir: string,
  sasl?: SaslListenerSettings,
): string {
  const saslLines: string[] = [];
  if (sasl) {
    const jaasUsers = Object.entries(sasl.users).map(([u, pw]) => `user_${u}="${pw}"`).join(" ");
    saslLines.push(
      "sasl.enabled.mechanisms=PLAIN",
      "listener.name.sasl_ssl.sasl.enabled.mechanisms=PLAIN",
      "listener.name.sasl_ssl.plain.sasl.jaas.config=" +
        `org.apache.kafka.common.security.plain.PlainLoginModule required ${jaasUsers};`,
      "listener.name.sasl_ssl.ssl.keystore.type=PEM",
      `listener.name.sasl_ssl.ssl.keystore.location=${sasl.keystoreFile}`,
      "listener.name.sasl_ssl.ssl.client.auth=none",
      "authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer",
      `super.users=${["User:ANONYMOUS", ...sasl.superUsers].join(";")}`,
      "allow.everyone.if.no.acl.found=true",
    );
  }
  const saslListener = sasl ? `,SASL_SSL://${HOST}:${sasl.port}` : "";
  return [
    "# Written by lib/kafka/local_broker.ts on every start; edits are overwritten.",
    "process.roles=broker,controller",
    "node.id=1",
    `controller.quorum.voters=1@${HOST}:${controllerPort}`,
    `listeners=PLAINTEXT://${HOST}:${port},CONTROLLER://${HOST}:${controllerPort}${saslListener}`,
    `advertised.listeners=PLAINTEXT://${HOST}:${port}${saslListener}`,
    "controller.listener.names=CONTROLLER",
    "inter.broker.listener.name=PLAINTEXT",
    "listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT" +
    (sasl ? ",SASL_SSL:SASL_SSL" : ""),
    `log.dirs=${dataDir}`,
    "auto.create.topics.enable=true",
    "num.partitions=1",
    "default.replication.factor=1",
    "min.insync.replicas=1",
    "offsets.topic.replication.factor=1",
    "offsets.topic.num.partitions=1",
    "transaction.state.log.replication.factor=1",
    "transaction.state.log.min.isr=1",
    "transaction.state.log.num.partitions=1",
    "share.coordinator.state.topic.replication.factor=1",
    "share.coordinator.state.topic.min.isr=1",
    "group.initial.rebalance.delay.ms=0",
    "num.network.threads=2",
    "num.io.threads=2",
    "num.recovery.threads.per.data.dir=1",
    "log.segment.bytes=1048576",
    "log.cleaner.dedupe.buffer.size=1048577",
    ...saslLines,
    "",
  ].join("\n");
}

async function formatStorage(p: Paths, log: (line: string) => void): Promise<void> {
  try {
    await Deno.stat(join(p.data, "meta.properties"));
    return; // already formatted
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
  }
  log(`formatting KRaft storage in ${p.data}`);
  const { code, out } = await run(javaBin(), [
    "-Xmx256m",
    "-XX:+UseSerialGC",
    "-XX:TieredStopAtLevel=1",
    "-cp",
    `${p.libs}/*`,
    "kafka.tools.StorageTool",
    "format",
    "-t",
    CLUSTER_ID,
    "-c",
    p.props,
    "--ignore-formatted",
  ], "install a JDK 17+ or set JAVA_HOME");
  if (code !== 0) {
    throw new BrokerStartError(
      `formatting ${p.data} failed (exit ${code}): ${out.trim().split("\n").slice(-3).join(" | ")}`,
      p.log,
    );
  }
}

/**
 * Class-data-sharing flags: reuse the archive of the broker's classes when one exists for this
 * JVM build, else record one when this broker exits (roughly halves the next start's CPU time).
 * `KAFKA_BROKER_CDS=0` turns this off.
 */
async function cdsArgs(libs: string, javaVersion: string): Promise<string[]> {
  if (Deno.env.get("KAFKA_BROKER_CDS") === "0") return [];
  const archive = join(libs, `kafka-${(await sha256(javaBin() + javaVersion)).slice(0, 12)}.jsa`);
  try {
    await Deno.stat(archive);
    return [`-XX:SharedArchiveFile=${archive}`];
  } catch {
    return [`-XX:ArchiveClassesAtExit=${archive}.${crypto.randomUUID().slice(0, 8)}.part`];
  }
}

/** After a broker that recorded a CDS archive exited: keep the first complete one, drop the rest. */
async function settleCdsArchive(part: string | undefined, complete: boolean): Promise<void> {
  if (!part) return;
  const archive = part.replace(/\.[0-9a-f]{8}\.part$/, "");
  const size = (await Deno.stat(part).catch(() => undefined))?.size ?? 0;
  const exists = await Deno.stat(archive).then(() => true, () => false);
  if (complete && size > 0 && !exists) await Deno.rename(part, archive);
  else await Deno.remove(part).catch(() => {});
}

async function tail(file: string, lines = 25): Promise<string> {
  const text = (await readText(file)) ?? "";
  return text.trimEnd().split("\n").slice(-lines).join("\n");
}

async function waitUntilGone(pid: number, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (!(await isAlive(pid))) return true;
    await sleep(100);
  }
  return !(await isAlive(pid));
}

function killQuietly(pid: number, signal: Deno.Signal): void {
  try {
    Deno.kill(pid, signal);
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
  }
}

/** Run `fn` holding the state dir's start lock (a file with the holder's pid). */
async function withStartLock<T>(p: Paths, timeoutMs: number, fn: () => Promise<T>): Promise<T> {
  const lock = join(p.dir, "broker.lock");
  const deadline = Date.now() + timeoutMs;
  while (true) {
    try {
      const file = await Deno.open(lock, { createNew: true, write: true });
      await file.write(new TextEncoder().encode(`${Deno.pid}\n`));
      file.close();
      break;
    } catch (e) {
      if (!(e instanceof Deno.errors.AlreadyExists)) throw e;
    }
    const holder = Number((await readText(lock))?.trim() || NaN);
    const age = Date.now() -
      ((await Deno.stat(lock).catch(() => undefined))?.mtime?.getTime() ?? 0);
    const stale = Number.isInteger(holder) ? !(await isAlive(holder)) : age > 5000;
    if (stale) {
      await Deno.remove(lock).catch(() => {});
      continue;
    }
    if (Date.now() > deadline) {
      throw new BrokerStartError(
        `another start (pid ${holder}) has held ${lock} for too long; wait for it, or remove the ` +
          "lock file if that process is stuck",
        p.log,
      );
    }
    await sleep(200);
  }
  try {
    return await fn();
  } finally {
    await Deno.remove(lock).catch(() => {});
  }
}

/** Keep at most one previous log once the current one passes 20 MiB. */
async function rotateLog(log: string): Promise<void> {
  const size = (await Deno.stat(log).catch(() => undefined))?.size ?? 0;
  if (size > 20 * 1024 * 1024) await Deno.rename(log, `${log}.1`);
}

/**
 * Start a broker for the state dir (or report the one already running there), then wait until it
 * serves metadata. The JVM runs detached and outlives the calling process.
 *
 * @example
 * ```ts
 * const info = await startBroker({ port: 19092, dir: await Deno.makeTempDir() });
 * console.log(info.bootstrap); // "127.0.0.1:19092"
 * await stopBroker({ dir: info.dir });
 * ```
 */
export async function startBroker(opts: BrokerOptions = {}): Promise<BrokerInfo> {
  const t0 = performance.now();
  const p = pathsOf(opts);
  const timeoutMs = opts.timeoutMs ?? 90_000;
  await Deno.mkdir(p.dir, { recursive: true });
  // Several test runs may call `up` at once: one starts the broker, the others then find it.
  return await withStartLock(p, timeoutMs, () => startLocked(opts, p, t0, timeoutMs));
}

async function startLocked(
  opts: BrokerOptions,
  p: Paths,
  t0: number,
  timeoutMs: number,
): Promise<BrokerInfo> {
  const log = opts.log ?? (() => {});
  const running = await livePid(p);
  if (running !== undefined) {
    const { port } = await resolvePorts({ ...opts, port: undefined }, p);
    const bootstrap = `${HOST}:${port}`;
    await waitReady(bootstrap, running, p, timeoutMs);
    const sasl = await saslInfo(p);
    return {
      bootstrap,
      pid: running,
      logFile: p.log,
      dir: p.dir,
      alreadyRunning: true,
      elapsedMs: performance.now() - t0,
      ...(sasl ? { sasl } : {}),
    };
  }

  const { port, controllerPort, saslPort } = await resolvePorts(opts, p);
  const ports = saslPort === undefined ? [port, controllerPort] : [port, controllerPort, saslPort];
  if (new Set(ports).size !== ports.length) {
    throw new PortInUseError(
      `the listener ports must differ (PLAINTEXT ${port}, CONTROLLER ${controllerPort}` +
        `${saslPort === undefined ? "" : `, SASL_SSL ${saslPort}`}); pick others with ` +
        "--port/--controller-port/--sasl-port",
    );
  }
  for (const used of ports) {
    if (!portFree(used)) {
      throw new PortInUseError(
        `port ${HOST}:${used} is already in use by a process not started from ${p.dir}; ` +
          `stop it, or pick other ports with --port/--controller-port/--sasl-port ` +
          "(or --no-sasl-ssl)",
      );
    }
  }

  const javaVersion = await checkJava();
  await ensureJars(p.libs, log);

  await Deno.mkdir(p.data, { recursive: true });
  const saslSettings = saslPort === undefined ? undefined : await prepareSasl(p, saslPort);
  if (saslSettings) log(`SASL_SSL listener on ${HOST}:${saslPort} (PLAIN, TLS from ${p.tls})`);
  // 0600: with SASL it holds the users' passwords (the JAAS config).
  await writePrivate(p.props, serverProperties(port, controllerPort, p.data, saslSettings));
  await formatStorage(p, log);

  await rotateLog(p.log);
  const cds = await cdsArgs(p.libs, javaVersion);
  const javaArgs = [...JVM_OPTS, ...cds, "-cp", `${p.libs}/*`, "kafka.Kafka", p.props];
  await Deno.writeTextFile(
    p.log,
    `# ${new Date().toISOString()} starting Kafka ${KAFKA_VERSION}\n`,
    {
      append: true,
    },
  );
  // `exec` keeps the pid: the shell only redirects stdout/stderr to the log, then becomes java.
  const child = new Deno.Command("sh", {
    args: ["-c", 'exec "$0" "$@" >>"$KAFKA_BROKER_LOG" 2>&1 </dev/null', javaBin(), ...javaArgs],
    env: { KAFKA_BROKER_LOG: p.log },
    stdin: "null",
    stdout: "null",
    stderr: "null",
    detached: true,
  }).spawn();
  child.unref();
  children.set(child.pid, child);
  await Deno.writeTextFile(p.pid, `${child.pid}\n`);
  log(`started pid ${child.pid}, waiting for ${HOST}:${port}`);

  const bootstrap = `${HOST}:${port}`;
  try {
    await waitReady(bootstrap, child.pid, p, timeoutMs);
  } catch (e) {
    killQuietly(child.pid, "SIGKILL");
    await waitUntilGone(child.pid, 5000);
    await Deno.remove(p.pid).catch(() => {});
    const part = cds[0]?.startsWith("-XX:ArchiveClassesAtExit=") ? cds[0].split("=")[1] : undefined;
    await settleCdsArchive(part, false);
    throw e;
  }
  const sasl = await saslInfo(p);
  return {
    bootstrap,
    pid: child.pid,
    logFile: p.log,
    dir: p.dir,
    alreadyRunning: false,
    elapsedMs: performance.now() - t0,
    ...(sasl ? { sasl } : {}),
  };
}

async function waitReady(bootstrap: string, pid: number, p: Paths, timeoutMs: number) {
  const deadline = Date.now() + timeoutMs;
  while (true) {
    if (!(await isAlive(pid))) {
      throw new BrokerStartError(
        `the broker (pid ${pid}) exited during startup; last lines of ${p.log}:\n${await tail(
          p.log,
        )}`,
        p.log,
      );
    }
    if (await answers(bootstrap, 2000)) return;
    if (Date.now() > deadline) {
      throw new BrokerStartError(
        `the broker (pid ${pid}) did not serve metadata on ${bootstrap} within ${
          Math.round(timeoutMs / 1000)
        } s; last lines of ${p.log}:\n${await tail(p.log)}`,
        p.log,
      );
    }
    await sleep(250);
  }
}

/**
 * Stop the broker whose pid is in the state dir's pid file: SIGTERM (clean shutdown), then
 * SIGKILL after `graceMs`. Harmless when none runs; returns the pid it stopped.
 *
 * @example
 * ```ts
 * const { stopped, pid } = await stopBroker({ dir: ".cache/kafka" });
 * ```
 */
export async function stopBroker(
  opts: BrokerOptions & { graceMs?: number } = {},
): Promise<{ stopped: boolean; pid?: number; killed?: boolean }> {
  const p = pathsOf(opts);
  const pid = await livePid(p);
  if (pid === undefined) {
    await Deno.remove(p.pid).catch(() => {});
    return { stopped: false };
  }
  const cmdline = (await readText(`/proc/${pid}/cmdline`)) ?? "";
  const cdsPart = cmdline.split("\0").find((a) => a.startsWith("-XX:ArchiveClassesAtExit="))
    ?.slice("-XX:ArchiveClassesAtExit=".length);
  killQuietly(pid, "SIGTERM");
  let killed = false;
  if (!(await waitUntilGone(pid, opts.graceMs ?? 30_000))) {
    killQuietly(pid, "SIGKILL");
    killed = true;
    await waitUntilGone(pid, 5000);
  }
  const child = children.get(pid);
  if (child) {
    child.ref(); // an unref'd status would not keep the event loop alive while we await it
    await child.status; // reap our own child so it does not linger as a zombie
    children.delete(pid);
  }
  await Deno.remove(p.pid).catch(() => {});
  await settleCdsArchive(cdsPart, !killed);
  return { stopped: true, pid, killed };
}

/**
 * Report whether this state dir's broker is running and whether its port serves metadata.
 *
 * @example
 * ```ts
 * const s = await brokerStatus();
 * if (!s.answering) console.log("run: deno task kafka:up");
 * ```
 */
export async function brokerStatus(opts: BrokerOptions = {}): Promise<BrokerStatus> {
  const p = pathsOf(opts);
  const { port } = await resolvePorts(opts, p);
  const bootstrap = `${HOST}:${port}`;
  const pid = await livePid(p);
  const sasl = await saslInfo(p);
  return {
    running: pid !== undefined,
    answering: await answers(bootstrap),
    pid,
    bootstrap,
    dir: p.dir,
    logFile: p.log,
    rssKiB: pid === undefined ? undefined : await rssKiB(pid),
    ...(sasl ? { sasl } : {}),
  };
}

async function main(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      port: { type: "string" },
      "controller-port": { type: "string" },
      "sasl-port": { type: "string" },
      "no-sasl-ssl": { type: "boolean" },
      dir: { type: "string" },
      timeout: { type: "string" },
      help: { type: "boolean", short: "h" },
    },
  });
  const cmd = positionals[0];
  if (values.help || !cmd || !["up", "down", "status"].includes(cmd)) {
    console.log(
      "usage: local_broker.ts up|down|status [--port 9092] [--controller-port 9093] " +
        "[--sasl-port 9094 | --no-sasl-ssl] [--dir .cache/kafka] [--timeout 90]",
    );
    return values.help ? 0 : 1;
  }
  const num = (s: string | undefined, flag: string) => {
    if (s === undefined) return undefined;
    const n = Number(s);
    if (!Number.isInteger(n) || n <= 0 || n > 65535) throw new TypeError(`--${flag} ${s}`);
    return n;
  };
  const opts: BrokerOptions = {
    port: num(values.port, "port"),
    controllerPort: num(values["controller-port"], "controller-port"),
    saslPort: num(values["sasl-port"], "sasl-port"),
    saslSsl: values["no-sasl-ssl"] ? false : undefined,
    dir: values.dir,
    timeoutMs: values.timeout ? Number(values.timeout) * 1000 : undefined,
  };

  if (cmd === "up") {
    const info = await startBroker({ ...opts, log: (l) => console.log(l) });
    const secs = (info.elapsedMs / 1000).toFixed(1);
    console.log(
      info.alreadyRunning
        ? `Kafka already running on ${info.bootstrap} (pid ${info.pid}); checked in ${secs} s`
        : `Kafka ${KAFKA_VERSION} ready on ${info.bootstrap} (pid ${info.pid}) in ${secs} s`,
    );
    if (info.sasl) {
      console.log(
        `SASL_SSL (PLAIN) on ${info.sasl.bootstrap}; CA file: ${info.sasl.caFile}; ` +
          `client env file (mode 0600, secret not shown): ${info.sasl.envFile}`,
      );
      console.log(`  e.g. deno task produce -- --env-file ${info.sasl.envFile}`);
    }
    console.log(`log: ${info.logFile}`);
    return 0;
  }
  if (cmd === "down") {
    const r = await stopBroker(opts);
    console.log(
      r.stopped
        ? `stopped Kafka (pid ${r.pid}${r.killed ? ", SIGKILL after grace period" : ""})`
        : `no Kafka running from ${pathsOf(opts).dir}`,
    );
    return 0;
  }
  const s = await brokerStatus(opts);
  console.log(
    s.running
      ? `running: pid ${s.pid}, ${s.bootstrap} ${s.answering ? "answering" : "NOT answering"}, ` +
        `RSS ${Math.round((s.rssKiB ?? 0) / 1024)} MiB, log ${s.logFile}`
      : `not running from ${s.dir}${
        s.answering ? ` (but something answers on ${s.bootstrap})` : ""
      }`,
  );
  if (s.running && s.sasl) {
    console.log(`SASL_SSL: ${s.sasl.bootstrap}, CA ${s.sasl.caFile}, env file ${s.sasl.envFile}`);
  }
  return s.running ? 0 : 3;
}

if (import.meta.main) {
  try {
    Deno.exit(await main(Deno.args));
  } catch (e) {
    const err = e as Error;
    const prereq = e instanceof ToolMissingError || e instanceof JarsUnavailableError ||
      e instanceof TlsSetupError;
    console.error(`${err.name}: ${err.message}`);
    Deno.exit(prereq ? 2 : 1);
  }
}
