/**
 * Start, stop and inspect a single-node Apache Kafka (KRaft, broker and controller in one JVM)
 * for development and tests, run from the Maven Central jars on the machine's JDK.
 *
 * The JVM runs detached and outlives the process that started it; the state directory's pid
 * file finds it again. A start takes the directory's start lock, checks the ports, fetches the
 * jars, writes `server.properties` (with the SASL_SSL listener unless turned off), formats the
 * storage once, and waits until the broker serves metadata.
 *
 * @module
 */
import { writePrivate } from "./_io.ts";
import { PortInUseError } from "./errors.ts";
import { ensureJars, KAFKA_VERSION } from "./jars.ts";
import { cdsArgs, cdsRecording, checkJava, javaBin, JVM_OPTS, settleCdsArchive } from "./jvm.ts";
import { formatStorage, resolvePorts, serverProperties } from "./kraft.ts";
import { commandLine, killQuietly, livePid, rssKiB, waitUntilGone, withStartLock } from "./pid.ts";
import { answers, portFree, waitReady } from "./probe.ts";
import { prepareSasl, saslInfo, type SaslListenerInfo } from "./sasl.ts";
import { HOST, type StatePaths, statePaths } from "./state_dir.ts";

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

/** Child processes this module spawned, so a stop in the same process can reap them. */
const children = new Map<number, Deno.ChildProcess>();

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
  const p = statePaths(opts);
  const timeoutMs = opts.timeoutMs ?? 90_000;
  await Deno.mkdir(p.dir, { recursive: true });
  // Several test runs may call `up` at once: one starts the broker, the others then find it.
  return await withStartLock(p, timeoutMs, () => startLocked(opts, p, t0, timeoutMs));
}

async function startLocked(
  opts: BrokerOptions,
  p: StatePaths,
  t0: number,
  timeoutMs: number,
): Promise<BrokerInfo> {
  const log = opts.log ?? (() => {});
  const running = await livePid(p);
  if (running !== undefined) {
    const { port } = await resolvePorts({ ...opts, port: undefined }, p);
    const bootstrap = `${HOST}:${port}`;
    await waitReady(bootstrap, running, p.log, timeoutMs);
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
    { append: true },
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
    await waitReady(bootstrap, child.pid, p.log, timeoutMs);
  } catch (e) {
    killQuietly(child.pid, "SIGKILL");
    await waitUntilGone(child.pid, 5000);
    await Deno.remove(p.pid).catch(() => {});
    await settleCdsArchive(cdsRecording(cds), false);
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
  const p = statePaths(opts);
  const pid = await livePid(p);
  if (pid === undefined) {
    await Deno.remove(p.pid).catch(() => {});
    return { stopped: false };
  }
  const cdsPart = cdsRecording(await commandLine(pid));
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
  const p = statePaths(opts);
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
