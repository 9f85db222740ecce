/**
 * The kafkajs client built from {@link KafkaSettings}: PLAINTEXT for the local broker, SASL_SSL +
 * PLAIN for Confluent Cloud, and topic helpers. (What a Kafka failure is and its one-line
 * explanation: lib/kafka/errors.ts.)
 *
 * @module
 */
import { type Admin, Kafka, type KafkaConfig, logLevel, type SASLOptions } from "kafkajs";
import { readFileSync } from "node:fs";
import process from "node:process";
import type { KafkaSettings } from "../config.ts";
import { explainKafkaError, KafkaUnavailableError, TopicNotFoundError } from "./errors.ts";
import { installAbortedFilter } from "./_aborted.ts";

// kafkajs skips aborted transactions wrongly when they interleave (see _aborted.ts).
installAbortedFilter();

// Importable from here as before; they live in errors.ts with the classifier.
export { explainKafkaError, KafkaUnavailableError, TopicNotFoundError };

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
 * import type { KafkaSettings } from "../config.ts";
 * import { createKafka, ensureTopic } from "./client.ts";
 * // Needs a broker, so the doc test only type-checks it:
 * async function setUp(settings: KafkaSettings) {
 *   const admin = createKafka(settings).admin();
 *   await admin.connect();
 *   const n = await ensureTopic(admin, "retail-data-new", 3); // 3, or the existing count
 *   await admin.disconnect();
 *   return n;
 * }
 * ```
 */
export async function ensureTopic(
  admin: Admin,
  topic: string,
  partitions: number,
  configs: Record<string, string> = {},
): Promise<number> {
  const existing = await topicPartitions(admin, topic);
  if (existing !== undefined) return existing;
  const configEntries = Object.entries(configs).map(([name, value]) => ({ name, value }));
  try {
    await admin.createTopics({
      topics: [{ topic, numPartitions: partitions, configEntries }],
      waitForLeaders: true,
    });
  } catch (e) {
    // Another client may have created it at the same moment.
    if (!/TOPIC_ALREADY_EXISTS|already exists/i.test(String((e as Error).message))) throw e;
  }
  return (await topicPartitions(admin, topic)) ?? partitions;
}

/** The record-size settings a topic holds records by, so a topic made from it holds the same. */
const SIZE_CONFIGS = ["max.message.bytes", "segment.bytes"];

/**
 * A topic's record-size settings that differ from the broker's defaults (`max.message.bytes`,
 * `segment.bytes`), to create an output topic that can hold every record of its input.
 *
 * @example
 * ```ts
 * import type { Admin } from "kafkajs";
 * import { ensureTopic, sizeConfigs } from "./client.ts";
 * async function mirror(admin: Admin) {
 *   await ensureTopic(admin, "processed_orders", 3, await sizeConfigs(admin, "retail-data-new"));
 * }
 * ```
 */
export async function sizeConfigs(admin: Admin, topic: string): Promise<Record<string, string>> {
  const res = await admin.describeConfigs({
    resources: [{ type: 2, /* TOPIC */ name: topic, configNames: SIZE_CONFIGS }],
    includeSynonyms: false,
  });
  const out: Record<string, string> = {};
  for (const e of res.resources[0]?.configEntries ?? []) {
    if (!e.isDefault && e.configValue !== null) out[e.configName] = e.configValue;
  }
  return out;
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
