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
const NOISE = [
  /TimeoutNegativeWarning/,
  /The group is rebalancing, re-joining/,
  /The group is rebalancing, so a rejoin is needed/,
  /Specified group generation id is not valid/,
  // Our stream engine logs its own retry line for each of these.
  /Restarting the consumer in \d+ms/,
];

/**
 * kafkajs logs each failed connection, TLS handshake and SASL attempt (and each retry) at ERROR
 * level before it gives up and throws; the throw becomes one explained line ({@link
 * explainKafkaError}), so these repeats are not printed. (Retriable coordinator answers too.)
 */
const REPEATED_BY_THE_ERROR = [
  /Connection error|Failed to connect to seed broker|Closed connection|Connection timeout/i,
  /SASL \w+ authentication failed|Authentication failed|SaslAuthenticate/i,
  /certificate|TLS|SSL/i,
  /coordinator is (loading|not available)|not the correct coordinator/i,
  /Not authorized to access|authorization failed/i,
];

const LEVEL_NAMES: Record<number, string> = {
  [logLevel.ERROR]: "error",
  [logLevel.WARN]: "warn",
  [logLevel.INFO]: "info",
  [logLevel.DEBUG]: "debug",
};

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
      const said = `${message} ${"error" in extra ? extra.error : ""}`;
      if (NOISE.some((re) => re.test(said))) return;
      const detail = "error" in extra && extra.error ? `: ${extra.error}` : "";
      if (lvl <= logLevel.WARN && REPEATED_BY_THE_ERROR.some((re) => re.test(message + detail))) {
        return;
      }
      const name = LEVEL_NAMES[lvl] ?? String(lvl);
      console.error(`kafka ${name} [${namespace}] ${message}${detail}`);
    },
  };
  if (settings.securityProtocol === "SASL_SSL") {
    config.ssl = settings.caFile
      ? { ca: [readCaFile(settings.caFile)], rejectUnauthorized: true }
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

function readCaFile(path: string): string {
  let pem: string;
  try {
    pem = readFileSync(path, "utf8");
  } catch (e) {
    throw new KafkaUnavailableError(
      `cannot read the CA file '${path}' (--ca-file / KAFKA_CA_FILE): ${
        (e as Error).message.split("\n")[0]
      }; give the PEM file of the CA that signed the brokers' certificates`,
    );
  }
  if (!pem.includes("-----BEGIN CERTIFICATE-----")) {
    throw new KafkaUnavailableError(
      `the CA file '${path}' (--ca-file / KAFKA_CA_FILE) holds no PEM certificate ` +
        "(-----BEGIN CERTIFICATE-----); give the CA certificate in PEM form",
    );
  }
  return pem;
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

/** ` as 'abcd****'`: the SASL user (API key) shortened as describeConfig shows it, or "". */
function asUser(settings: KafkaSettings): string {
  const key = settings.sasl?.username.reveal();
  if (!key) return "";
  return ` as '${key.length <= 4 ? "****" : `${key.slice(0, 4)}****`}'`;
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
  const tls = settings.securityProtocol === "SASL_SSL";
  if (/SASL_AUTHENTICATION_FAILED|SaslAuthenticationFailed|Authentication failed/i.test(text)) {
    return `authentication failed on ${servers} (SASL PLAIN): the broker rejected the API key or ` +
      "secret; check KAFKA_API_KEY and KAFKA_API_SECRET";
  }
  if (/ILLEGAL_SASL_STATE|UNSUPPORTED_SASL_MECHANISM|SASL mechanism/i.test(text)) {
    return `SASL PLAIN is not enabled on ${servers}: use the broker's SASL_SSL (PLAIN) listener`;
  }
  const cert = text.match(
    /(self[- ]signed certificate[\w ]*|unable to (?:verify|get)[\w ]*certificate[\w ]*|certificate has expired|Hostname\/IP does not match[^|]*|UnknownIssuer|invalid peer certificate[^|]*)/i,
  );
  if (cert || /UNABLE_TO_GET_ISSUER|CERT_|ERR_TLS_CERT/i.test(text)) {
    const why = cert ? ` (${cert[1].trim()})` : "";
    return settings.caFile
      ? `the TLS certificate of ${servers} is not trusted${why} with the CA file ` +
        `'${settings.caFile}': give the CA that signed the broker's certificate with --ca-file ` +
        "or KAFKA_CA_FILE"
      : `the TLS certificate of ${servers} is not trusted${why}: pass the CA that signed it ` +
        "with --ca-file FILE or KAFKA_CA_FILE=FILE (for the local broker: .cache/kafka/tls/ca.pem)";
  }
  if (
    tls &&
    /before secure TLS connection|wrong version number|packet length too long|InvalidContentType|corrupt message|record overflow|ECONNRESET/i
      .test(text)
  ) {
    return `the TLS handshake with ${servers} failed: is it a PLAINTEXT listener? Use the ` +
      "SASL_SSL address (the local broker's is in .cache/kafka/sasl.env), or unset KAFKA_API_KEY " +
      "for PLAINTEXT";
  }
  if (
    /TOPIC_AUTHORIZATION_FAILED|TopicAuthorizationFailed|Not authorized to access topics/i.test(
      text,
    )
  ) {
    const who = asUser(settings);
    return `not authorized for a topic on ${servers}${who} (TOPIC_AUTHORIZATION_FAILED): ` +
      "ask for the ACLs this job needs (READ/DESCRIBE on its input, WRITE on its output topic)";
  }
  if (/TRANSACTIONAL_ID_AUTHORIZATION_FAILED|Transactional Id authorization failed/i.test(text)) {
    const who = asUser(settings);
    return `not authorized to use the transactional id on ${servers}${who}: ask for WRITE and ` +
      "DESCRIBE on the TransactionalId resource (the query name)";
  }
  if (/GROUP_AUTHORIZATION_FAILED|Group authorization failed/i.test(text)) {
    const who = asUser(settings);
    return `not authorized for the consumer group on ${servers}${who}: ask for READ on the ` +
      "Group resource (the query name)";
  }
  if (/CLUSTER_AUTHORIZATION_FAILED|Cluster authorization failed/i.test(text)) {
    const who = asUser(settings);
    return `not authorized on the cluster ${servers}${who} (CLUSTER_AUTHORIZATION_FAILED): ask ` +
      "for the cluster ACL this operation needs (e.g. CREATE to create topics)";
  }
  if (/UNKNOWN_TOPIC_OR_PARTITION|does not host this topic-partition/i.test(text)) {
    return `a topic does not exist on ${servers}: create it (deno task produce creates retail-data-new)`;
  }
  if (!tls && /Closed connection|ECONNRESET|socket hang up/i.test(text)) {
    return `${servers} closed the connection at the first request: if it is a SASL_SSL listener, ` +
      "set KAFKA_API_KEY, KAFKA_API_SECRET (and KAFKA_CA_FILE for a private CA); " +
      "the local broker's are in .cache/kafka/sasl.env (--env-file)";
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

/**
 * True for Kafka failures that retrying cannot fix (rejected credentials, an untrusted or
 * mismatched certificate, a TLS/PLAINTEXT listener mix-up, missing ACLs, an unreadable CA file):
 * a stream's reconnect loop should stop and report them at once.
 *
 * @example
 * ```ts
 * try { await consumer.connect(); } catch (e) { if (isPermanentKafkaError(e)) throw e; }
 * ```
 */
export function isPermanentKafkaError(error: unknown): boolean {
  if ((error as Error)?.name === "KafkaUnavailableError") return true;
  const chain: string[] = [];
  let e: unknown = error;
  for (let i = 0; e && i < 6; i++) {
    const err = e as { name?: string; message?: string; type?: string; code?: string };
    chain.push(`${err.name ?? ""} ${err.type ?? ""} ${err.code ?? ""} ${err.message ?? ""}`);
    e = (e as { originalError?: unknown }).originalError ?? (e as { cause?: unknown }).cause;
  }
  return PERMANENT.test(chain.join(" | "));
}

const PERMANENT = new RegExp(
  [
    "SASL_AUTHENTICATION_FAILED|SaslAuthenticationFailed|Authentication failed",
    "UNSUPPORTED_SASL_MECHANISM|ILLEGAL_SASL_STATE",
    "self[- ]signed certificate|unable to (?:verify|get)[\\w ]*certificate|certificate has expired",
    "Hostname/IP does not match|UnknownIssuer|invalid peer certificate|UNABLE_TO_GET_ISSUER|ERR_TLS_CERT",
    "before secure TLS connection|wrong version number|packet length too long",
    "[A-Z_]*AUTHORIZATION_FAILED|Not authorized to access|authorization failed",
  ].join("|"),
  "i",
);

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
