/**
 * What a Kafka failure is, decided in one place: {@link classifyKafkaError} says whether a retry
 * may heal it, whether Kafka refused for good, whether it is one of our user errors, or a bug.
 * Also the Kafka error classes and {@link explainKafkaError}, the one-line explanation of a
 * kafkajs (or socket/TLS) failure.
 *
 * @module
 */
import type { KafkaSettings } from "../config.ts";
import { isUserError, UserError } from "../errors.ts";

/** A Kafka failure explained in one line; the message says what to do. */
export class KafkaUnavailableError extends UserError {
  override name = "KafkaUnavailableError";
}

/** A topic that does not exist on the cluster. */
export class TopicNotFoundError extends UserError {
  override name = "TopicNotFoundError";
}

/** Another instance with the same transactional id took over; this one must stop. */
export class FencedError extends UserError {
  override name = "FencedError";
}

/**
 * What a failure is:
 * - `"transient"`: Kafka did not answer or answered "not now" (connection refused, reset or
 *   closed, a timeout, no leader or coordinator yet, a rebalance); a retry or restart may heal it;
 * - `"permanent"`: Kafka refused for good (credentials, ACLs, TLS certificates, fenced by a newer
 *   producer, unknown host, invalid configuration); retrying never helps;
 * - `"user"`: one of our {@link UserError}s (a missing topic, lost data, a bad flag): show its
 *   message as it is;
 * - `"internal"`: anything else, a bug (a TypeError, a RangeError…).
 */
export type KafkaErrorKind = "transient" | "permanent" | "user" | "internal";

/** One error of a cause chain, with the fields the rules read. */
interface Link {
  error: unknown;
  name: string;
  /** kafkajs protocol error type, e.g. LEADER_NOT_AVAILABLE. */
  type: string;
  /** Node error code (ECONNREFUSED, SELF_SIGNED_CERT_IN_CHAIN), or a protocol error number. */
  code: string;
  message: string;
  /** `name type code message`, what the text rules match. */
  text: string;
}

/** The error and its causes (kafkajs' `originalError`, else `cause`), at most 6 deep. */
function chainOf(error: unknown): Link[] {
  const links: Link[] = [];
  let e: unknown = error;
  for (let i = 0; e && i < 6; i++) {
    const err = e as { name?: unknown; message?: unknown; type?: unknown; code?: unknown };
    const link = {
      error: e,
      name: typeof err.name === "string" ? err.name : "",
      type: typeof err.type === "string" ? err.type : "",
      code: err.code === undefined || err.code === null ? "" : String(err.code),
      message: typeof err.message === "string" ? err.message : typeof e === "string" ? e : "",
    };
    links.push({ ...link, text: `${link.name} ${link.type} ${link.code} ${link.message}` });
    e = (e as { originalError?: unknown }).originalError ?? (e as { cause?: unknown }).cause;
  }
  return links;
}

/** Rejected credentials or a SASL mechanism the broker does not offer. */
const AUTHENTICATION =
  /SASL_AUTHENTICATION_FAILED|SaslAuthenticationFailed|Authentication failed|UNSUPPORTED_SASL_MECHANISM|ILLEGAL_SASL_STATE/i;

/** Missing ACLs (TOPIC_, GROUP_, CLUSTER_, TRANSACTIONAL_ID_AUTHORIZATION_FAILED…). */
const AUTHORIZATION = /[A-Z_]*AUTHORIZATION_FAILED|Not authorized to access|authorization failed/i;

/** An untrusted, expired or mismatched certificate, or TLS spoken to a PLAINTEXT listener. */
const TLS = new RegExp(
  [
    "\\bcertificate\\b|self[- ]signed|Hostname/IP does not match|UnknownIssuer",
    "before secure TLS connection|wrong version number|packet length too long",
  ].join("|"),
  "i",
);

/** Node's TLS error codes (UNABLE_TO_VERIFY_LEAF_SIGNATURE, CERT_HAS_EXPIRED…). */
const TLS_CODE =
  /^(?:UNABLE_TO_(?:VERIFY|GET)|SELF_SIGNED_CERT|DEPTH_ZERO_SELF_SIGNED_CERT|CERT_|ERR_TLS_CERT|ERR_SSL_)/;

/**
 * A newer producer with the same transactional id fenced this one (INVALID_PRODUCER_EPOCH on
 * kafkajs' request versions, PRODUCER_FENCED = 90 on newer ones, which kafkajs 2.2 reports as
 * "Unknown error code 90"), or a newer consumer with the same static instance id.
 */
const FENCED =
  /INVALID_PRODUCER_EPOCH|PRODUCER_FENCED|ProducerFenced|old epoch|FENCED_INSTANCE_ID|Unknown error code 90\b/;

/** Broker answers that no retry changes: the request or a setting is invalid for this cluster. */
const INVALID_CONFIG = new Set([
  "INVALID_CONFIG",
  "INVALID_REQUEST",
  "INVALID_TRANSACTION_TIMEOUT",
  "INVALID_SESSION_TIMEOUT",
  "INVALID_REPLICATION_FACTOR",
  "INVALID_PARTITIONS",
  "INVALID_REPLICA_ASSIGNMENT",
  "INVALID_REQUIRED_ACKS",
  "INVALID_GROUP_ID",
  "INVALID_TOPIC_EXCEPTION",
  "POLICY_VIOLATION",
  "UNSUPPORTED_VERSION",
  "UNSUPPORTED_COMPRESSION_TYPE",
  "UNSUPPORTED_FOR_MESSAGE_FORMAT",
  "SECURITY_DISABLED",
  "TOPIC_DELETION_DISABLED",
  "MESSAGE_TOO_LARGE",
  "RECORD_LIST_TOO_LARGE",
]);

/** Socket codes of a broker that is down, restarting or unreachable for now. */
const TRANSIENT_CODE = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "ECONNABORTED",
  "EPIPE",
  "ETIMEDOUT",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "ENETDOWN",
  "EAI_AGAIN",
]);

const TRANSIENT_TEXT =
  /ECONNREFUSED|ECONNRESET|EPIPE|Connection (?:refused|reset|closed|timeout)|Closed connection|socket hang up|Request timed out/i;

/**
 * Broker answers of a cluster that is electing a leader, moving a coordinator or rebalancing a
 * group (kafkajs marks most of them retriable; the rebalance ones it handles by rejoining).
 */
const TRANSIENT_TYPE = new Set([
  "LEADER_NOT_AVAILABLE",
  "NOT_LEADER_FOR_PARTITION",
  "REQUEST_TIMED_OUT",
  "BROKER_NOT_AVAILABLE",
  "REPLICA_NOT_AVAILABLE",
  "NETWORK_EXCEPTION",
  "GROUP_LOAD_IN_PROGRESS",
  "GROUP_COORDINATOR_NOT_AVAILABLE",
  "NOT_COORDINATOR_FOR_GROUP",
  "NOT_CONTROLLER",
  "REBALANCE_IN_PROGRESS",
  "ILLEGAL_GENERATION",
  "UNKNOWN_MEMBER_ID",
  "MEMBER_ID_REQUIRED",
  "NOT_ENOUGH_REPLICAS",
  "NOT_ENOUGH_REPLICAS_AFTER_APPEND",
  "CONCURRENT_TRANSACTIONS",
  "FENCED_LEADER_EPOCH",
  "UNKNOWN_LEADER_EPOCH",
  "OFFSET_NOT_AVAILABLE",
  "KAFKA_STORAGE_ERROR",
]);

/** True when one error of the chain says the producer was fenced by a newer instance. */
function fencedLink(l: Link): boolean {
  return l.error instanceof FencedError || FENCED.test(`${l.type} ${l.message}`) ||
    (l.name === "KafkaJSProtocolError" && (l.code === "90" || l.code === "82"));
}

function permanentLink(l: Link): boolean {
  return l.error instanceof KafkaUnavailableError || fencedLink(l) ||
    AUTHENTICATION.test(l.text) || l.name === "KafkaJSSASLAuthenticationError" ||
    AUTHORIZATION.test(l.text) ||
    TLS.test(l.text) || TLS_CODE.test(l.code) ||
    l.code === "ENOTFOUND" || /\bENOTFOUND\b/.test(l.message) ||
    INVALID_CONFIG.has(l.type) || l.name === "KafkaJSServerDoesNotSupportApiKey" ||
    // kafkajs' argument checks ("Invalid topic", "Invalid groupId …"): a bad setting, no cause.
    (l.name === "KafkaJSNonRetriableError" && /^Invalid\b/.test(l.message) &&
      !(l.error as { cause?: unknown }).cause);
}

function transientLink(l: Link): boolean {
  if (TRANSIENT_CODE.has(l.code) || TRANSIENT_TEXT.test(l.message)) return true;
  if (TRANSIENT_TYPE.has(l.type)) return true;
  if (l.name === "KafkaJSProtocolError" && (l.error as { retriable?: unknown }).retriable) {
    return true;
  }
  // Any other kafkajs error (connection, request timeout, retries exhausted, metadata not
  // loaded, no coordinator…) is Kafka not answering as it should yet; a bug in kafkajs is not.
  return /^KafkaJS/.test(l.name) && l.name !== "KafkaJSInvariantViolation";
}

/** JavaScript's own error classes: thrown by a bug, never by a broker. */
function isBug(error: unknown): boolean {
  return error instanceof TypeError || error instanceof RangeError ||
    error instanceof ReferenceError || error instanceof SyntaxError;
}

/**
 * Decides what a failure is (see {@link KafkaErrorKind}), reading the error and its cause chain
 * (kafkajs' `originalError`, else `cause`): a {@link UserError} of ours is `"user"` (except
 * {@link FencedError} and {@link KafkaUnavailableError}, which Kafka made final: `"permanent"`);
 * then any permanent sign in the chain wins over any transient one (kafkajs reports "retries
 * exhausted" on an untrusted certificate as on a refused connection); a JavaScript error class
 * (TypeError, RangeError…) on top is `"internal"`; any other kafkajs error or socket failure is
 * `"transient"`; the rest is `"internal"`.
 *
 * @example
 * ```ts
 * import { classifyKafkaError } from "./errors.ts";
 * const refused = Object.assign(new Error("connect ECONNREFUSED 127.0.0.1:9092"),
 *   { code: "ECONNREFUSED" });
 * console.log(classifyKafkaError(refused)); // "transient"
 * console.log(classifyKafkaError(new TypeError("x is undefined"))); // "internal"
 * ```
 */
export function classifyKafkaError(error: unknown): KafkaErrorKind {
  if (
    isUserError(error) && !(error instanceof FencedError || error instanceof KafkaUnavailableError)
  ) return "user";
  const chain = chainOf(error);
  if (chain.some(permanentLink)) return "permanent";
  if (isBug(error)) return "internal";
  if (chain.some(transientLink)) return "transient";
  return "internal";
}

/**
 * True when an error (or its cause chain) says a newer instance with the same transactional id
 * fenced this producer (the transactional sink turns it into a {@link FencedError}).
 *
 * @example
 * ```ts
 * import { isFencedKafkaError } from "./errors.ts";
 * const error = Object.assign(new Error("old epoch"), { type: "INVALID_PRODUCER_EPOCH" });
 * console.log(isFencedKafkaError(error)); // true
 * ```
 */
export function isFencedKafkaError(error: unknown): boolean {
  return chainOf(error).some(fencedLink);
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
 *
 * @example
 * ```ts
 * import { explainKafkaError } from "./errors.ts";
 * const kafka = {
 *   bootstrapServers: ["localhost:9092"],
 *   securityProtocol: "PLAINTEXT" as const,
 *   clientId: "retail-orders",
 * };
 * console.log(explainKafkaError(new Error("connect ECONNREFUSED 127.0.0.1:9092"), kafka));
 * // cannot reach Kafka at localhost:9092: start it with `deno task kafka:up`
 * ```
 */
export function explainKafkaError(error: unknown, settings: KafkaSettings): string {
  const servers = settings.bootstrapServers.join(",");
  const text = chainOf(error).map((l) => l.text).join(" | ");
  const tls = settings.securityProtocol === "SASL_SSL";
  if (/MESSAGE_TOO_LARGE|RECORD_LIST_TOO_LARGE|larger than the max message size/i.test(text)) {
    return `a record is larger than its topic on ${servers} accepts: raise the output topic's ` +
      "max.message.bytes (and segment.bytes) to at least its input topic's";
  }
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
  if (
    cert ||
    /UNABLE_TO_GET_ISSUER|UNABLE_TO_VERIFY_LEAF_SIGNATURE|DEPTH_ZERO_SELF_SIGNED|CERT_|ERR_TLS_CERT/i
      .test(text)
  ) {
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
