/**
 * The KRaft node's configuration and storage: `server.properties` for one broker+controller on
 * loopback ports (with an optional SASL_SSL listener), the ports read back from it, and the
 * one-time storage format with a fixed cluster id.
 *
 * @module
 */
import { join } from "node:path";
import { readText, run } from "./_io.ts";
import { BrokerStartError } from "./errors.ts";
import { javaBin } from "./jvm.ts";
import type { SaslListenerSettings } from "./sasl.ts";
import { HOST, type StatePaths } from "./state_dir.ts";

/** Fixed KRaft cluster id (base64url of 16 bytes, 22 characters) used to format every state dir. */
export const CLUSTER_ID = "cmV0YWlsLW9yZGVycy1rZg";

/** The listener ports of a node; any may be unknown. */
export interface ListenerPorts {
  /** PLAINTEXT listener port. */
  port?: number;
  /** CONTROLLER listener port. */
  controllerPort?: number;
  /** SASL_SSL listener port, when the node has that listener. */
  saslPort?: number;
}

/**
 * Ports from an existing server.properties, so `status`/`down` need no flags; empty when the
 * file is missing.
 *
 * @example
 * ```ts
 * const { port } = await portsFromProps(".cache/kafka/server.properties"); // 9092
 * ```
 */
export async function portsFromProps(props: string): Promise<ListenerPorts> {
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

/**
 * The ports to use: the ones asked for, else those the state dir's config saved, else 9092 and
 * the next two. `saslPort` is undefined when the SASL_SSL listener is off (`saslSsl: false`, or
 * KAFKA_BROKER_SASL_SSL=0 in the environment).
 */
export async function resolvePorts(
  opts: ListenerPorts & { saslSsl?: boolean },
  p: StatePaths,
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

/**
 * The server.properties text for a broker+controller node on loopback ports; with `sasl`, also
 * a SASL_SSL (PLAIN) listener and the StandardAuthorizer (PLAINTEXT stays unrestricted).
 *
 * @example
 * ```ts
 * const text = serverProperties(9092, 9093, "/tmp/k/data");
 * text.includes("listeners=PLAINTEXT://127.0.0.1:9092,CONTROLLER://127.0.0.1:9093"); // true
 * ```
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
    "# Written by dev/kafka/kraft.ts (deno task kafka:up) on every start; edits are overwritten.",
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

/** Format the state dir's KRaft storage with {@link CLUSTER_ID}, unless it already is. */
export async function formatStorage(p: StatePaths, log: (line: string) => void): Promise<void> {
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
