/**
 * The kafkajs client built from {@link KafkaSettings}: PLAINTEXT for the local broker, SASL_SSL +
 * PLAIN for Confluent Cloud. Also one-line explanations of connection failures and topic helpers.
 *
 * @module
 */
import { type Admin, Kafka, type KafkaConfig, logLevel, type SASLOptions } from "kafkajs";
import { readFileSync } from "node:fs";
import process from "node:process";
import type { KafkaSettings } from "../config.ts";

/** Log verbosity of the kafkajs client. */
export type ClientLogLevel = "error" | "warn" | "info" | "debug" | "nothing";

const LEVELS: Record<ClientLogLevel, logLevel> = {
  nothing: logLevel.NOTHING,
  error: logLevel.ERROR,
  warn: logLevel.WARN,
  info: logLevel.INFO,
  debug: logLevel.DEBUG,
};

/** Messages kafkajs logs that carry no information for a user (they are harmless). */
const NOISE = [/TimeoutNegativeWarning/, /The group is rebalancing, re-joining/];

// kafkajs computes a negative timeout in its request queue, which Node (and Deno) report as a
// TimeoutNegativeWarning; the timer just fires at once, so the warning is harmless noise.
const emitWarning = process.emitWarning.bind(process);
process.emitWarning = ((warning: string | Error, ...rest: unknown[]) => {
  const name = typeof warning === "string" ? rest[0] : warning?.name;
  if (name === "TimeoutNegativeWarning" || /is a negative number/.test(String(warning))) return;
  (emitWarning as (w: string | Error, ...r: unknown[]) => void)(warning, ...rest);
}) as typeof process.emitWarning;

/** The kafkajs configuration for these settings (exported for tests of the SASL_SSL shape). */
export function kafkaConfig(
  settings: KafkaSettings,
  level: ClientLogLevel = "error",
): KafkaConfig {
  const config: KafkaConfig = {
    clientId: settings.clientId,
    brokers: settings.bootstrapServers,
    logLevel: LEVELS[level],
    connectionTimeout: 10_000,
    requestTimeout: 30_000,
    // About 10 s of retries before a request fails; streams add their own reconnect loop.
    retry: { initialRetryTime: 300, retries: 5, maxRetryTime: 5000 },
    logCreator: () => ({ namespace, level: lvl, log }) => {
      const { message, ...extra } = log;
      if (NOISE.some((re) => re.test(String(message)))) return;
      const name = logLevel[lvl] ?? String(lvl);
      const detail = "error" in extra && extra.error ? `: ${extra.error}` : "";
      console.error(`kafka ${name.toLowerCase()} [${namespace}] ${message}${detail}`);
    },
  };
  if (settings.securityProtocol === "SASL_SSL") {
    config.ssl = settings.caFile
      ? { ca: [readFileSync(settings.caFile, "utf8")], rejectUnauthorized: true }
      : true;
    if (settings.sasl) {
      config.sasl = {
        mechanism: "plain",
        username: settings.sasl.username.reveal(),
        password: settings.sasl.password.reveal(),
      } as SASLOptions;
    }
  }
  return config;
}

/** Creates a kafkajs client for the settings. */
export function createKafka(settings: KafkaSettings, level: ClientLogLevel = "error"): Kafka {
  return new Kafka(kafkaConfig(settings, level));
}

/** A Kafka failure explained in one line; the message says what to do. */
export class KafkaUnavailableError extends Error {
  override name = "KafkaUnavailableError";
}

/** A topic that does not exist on the cluster. */
export class TopicNotFoundError extends Error {
  override name = "TopicNotFoundError";
}

/**
 * Turns a kafkajs (or socket/TLS) error into one line naming the broker and what to do.
 * Never includes secrets: it only reads error names and messages.
 */
export function explainKafkaError(error: unknown, settings: KafkaSettings): string {
  const servers = settings.bootstrapServers.join(",");
  const chain: string[] = [];
  let e: unknown = error;
  for (let i = 0; e && i < 6; i++) {
    const err = e as { name?: string; message?: string; type?: string; code?: string };
    chain.push(`${err.name ?? ""} ${err.type ?? ""} ${err.code ?? ""} ${err.message ?? ""}`);
    e = (e as { cause?: unknown; originalError?: unknown }).originalError ??
      (e as { cause?: unknown }).cause;
  }
  const text = chain.join(" | ");
  if (/SASL_AUTHENTICATION_FAILED|SaslAuthenticationFailed|Authentication failed/i.test(text)) {
    return `authentication failed on ${servers} (SASL PLAIN): check KAFKA_API_KEY and KAFKA_API_SECRET`;
  }
  if (/self[- ]signed|unable to verify|UNABLE_TO_GET_ISSUER|CERT_|certificate/i.test(text)) {
    return `the TLS certificate of ${servers} is not trusted: pass the CA with --ca-file or KAFKA_CA_FILE`;
  }
  if (/TOPIC_AUTHORIZATION_FAILED|TopicAuthorizationFailed/i.test(text)) {
    return `not authorized for the topic on ${servers}: grant this principal the topic ACLs it needs`;
  }
  if (/UNKNOWN_TOPIC_OR_PARTITION|does not host this topic-partition/i.test(text)) {
    return `a topic does not exist on ${servers}: create it (deno task produce creates retail-data-new)`;
  }
  if (
    /ECONNREFUSED|Connection refused|KafkaJSConnectionError|ENOTFOUND|Failed to connect/i.test(text)
  ) {
    const local = settings.bootstrapServers.some((s) => /^(localhost|127\.0\.0\.1):/.test(s));
    return `cannot reach Kafka at ${servers}${local ? ": start it with `deno task kafka:up`" : ""}`;
  }
  const first = (error as Error)?.message ?? String(error);
  return `Kafka error on ${servers}: ${first}`;
}

/** Partition count of a topic, or undefined when it does not exist. */
export async function topicPartitions(admin: Admin, topic: string): Promise<number | undefined> {
  const topics = await admin.listTopics();
  if (!topics.includes(topic)) return undefined;
  const meta = await admin.fetchTopicMetadata({ topics: [topic] });
  return meta.topics[0].partitions.length;
}

/**
 * Creates the topic when missing (waiting for partition leaders) and returns its partition count.
 *
 * @example
 * ```ts
 * const admin = createKafka(config.kafka).admin();
 * await admin.connect();
 * const n = await ensureTopic(admin, "retail-data-new", 3); // 3, or the existing count
 * ```
 */
export async function ensureTopic(
  admin: Admin,
  topic: string,
  partitions: number,
): Promise<number> {
  const existing = await topicPartitions(admin, topic);
  if (existing !== undefined) return existing;
  try {
    await admin.createTopics({
      topics: [{ topic, numPartitions: partitions }],
      waitForLeaders: true,
    });
  } catch (e) {
    // Another client may have created it at the same moment.
    if (!/TOPIC_ALREADY_EXISTS|already exists/i.test(String((e as Error).message))) throw e;
  }
  return (await topicPartitions(admin, topic)) ?? partitions;
}

/** Throws {@link TopicNotFoundError} unless the topic exists; returns its partition count. */
export async function requireTopic(admin: Admin, topic: string, servers: string): Promise<number> {
  const n = await topicPartitions(admin, topic);
  if (n === undefined) {
    throw new TopicNotFoundError(
      `topic '${topic}' does not exist on ${servers}; create it with \`deno task produce\``,
    );
  }
  return n;
}
