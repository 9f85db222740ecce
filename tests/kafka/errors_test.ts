/**
 * The one Kafka failure classifier: every case the former isPermanentKafkaError (client.ts),
 * isTransientKafkaError (insights/stream.ts) and cli.ts' Kafka regex decided is decided the same
 * way, on real kafkajs error objects (kafkajs' own protocol errors, by code) and the node-style
 * socket and TLS errors it wraps.
 */
import assert from "node:assert/strict";
import { createRequire } from "node:module";
import kafkajs from "kafkajs";
import { ConfigError } from "../../lib/config.ts";
import { TableNotFoundError } from "../../lib/delta/errors.ts";
import { UserError } from "../../lib/errors.ts";
import { KafkaUnavailableError as ClientKafkaUnavailableError } from "../../lib/kafka/client.ts";
import {
  classifyKafkaError,
  explainKafkaError,
  FencedError,
  isFencedKafkaError,
  type KafkaErrorKind,
  KafkaUnavailableError,
  TopicNotFoundError,
} from "../../lib/kafka/errors.ts";
import { FencedError as SinkFencedError } from "../../lib/kafka/sink.ts";
import { OffsetSpecError } from "../../lib/kafka/source.ts";
import { StorageError } from "../../lib/storage/errors.ts";

// kafkajs' error classes (its CommonJS module spreads them into its exports, which Deno only
// sees on the default export). KafkaJSConnectionClosedError is missing from its typings.
const {
  KafkaJSConnectionError,
  KafkaJSNonRetriableError,
  KafkaJSNumberOfRetriesExceeded,
  KafkaJSProtocolError,
  KafkaJSRequestTimeoutError,
  KafkaJSServerDoesNotSupportApiKey,
} = kafkajs;
// Missing from kafkajs' typings, or typed without the message kafkajs passes them.
const {
  KafkaJSConnectionClosedError,
  KafkaJSGroupCoordinatorNotFound,
  KafkaJSSASLAuthenticationError,
} = kafkajs as unknown as {
  KafkaJSConnectionClosedError: new (message: string, o: { host: string; port: number }) => Error;
  KafkaJSGroupCoordinatorNotFound: new (message: string) => Error;
  KafkaJSSASLAuthenticationError: new (message: string) => Error;
};
type KafkaJSProtocolError = InstanceType<typeof KafkaJSProtocolError>;

// kafkajs builds a broker's error answer from its code (type, retriable flag and message): the
// same function makes the errors of these tests.
const require = createRequire(import.meta.url);
const { createErrorFromCode } = require("kafkajs/src/protocol/error.js") as {
  createErrorFromCode: (code: number) => KafkaJSProtocolError;
};

/** A node-style error (what net/tls throw, and kafkajs wraps), with its `code`. */
function nodeError(message: string, code: string): Error {
  return Object.assign(new Error(message), { code });
}

/** kafkajs giving up after its retries, on `cause` (as its retrier throws it). */
function retriesExceeded(cause: Error): Error {
  return new KafkaJSNumberOfRetriesExceeded(cause, { retryCount: 5, retryTime: 5000 });
}

/** kafkajs' connection error for a socket error (as network/connection.js wraps it). */
function connectionError(cause: Error & { code?: string }): Error {
  return new KafkaJSConnectionError(`Connection error: ${cause.message}`, {
    broker: "127.0.0.1:9092",
    code: cause.code,
  });
}

class DataLoss extends UserError {
  override name = "DataLoss";
}

/** [what, the error, its kind]. */
const CASES: [string, () => unknown, KafkaErrorKind][] = [
  // ---- transient: a restart or retry may heal it -------------------------------------------
  [
    "KafkaJSConnectionError ECONNREFUSED",
    () => connectionError(nodeError("connect ECONNREFUSED 127.0.0.1:9092", "ECONNREFUSED")),
    "transient",
  ],
  [
    "retries exhausted on ECONNREFUSED (what admin.connect() throws with the broker down)",
    () =>
      retriesExceeded(
        connectionError(nodeError("connect ECONNREFUSED 127.0.0.1:9092", "ECONNREFUSED")),
      ),
    "transient",
  ],
  [
    "node ECONNREFUSED",
    () => nodeError("connect ECONNREFUSED 127.0.0.1:9092", "ECONNREFUSED"),
    "transient",
  ],
  ["node ECONNRESET", () => nodeError("read ECONNRESET", "ECONNRESET"), "transient"],
  ["node EPIPE", () => nodeError("write EPIPE", "EPIPE"), "transient"],
  ["node ETIMEDOUT", () => nodeError("connect ETIMEDOUT 10.0.0.1:9092", "ETIMEDOUT"), "transient"],
  ["a plain 'Connection closed'", () => new Error("Connection closed"), "transient"],
  ["a plain 'Connection reset by peer'", () => new Error("Connection reset by peer"), "transient"],
  [
    "KafkaJSConnectionClosedError",
    () => new KafkaJSConnectionClosedError("Closed connection", { host: "127.0.0.1", port: 9094 }),
    "transient",
  ],
  [
    "retries exhausted on a closed connection (PLAINTEXT client on a TLS port)",
    () =>
      retriesExceeded(
        new KafkaJSConnectionClosedError("Closed connection", { host: "127.0.0.1", port: 9094 }),
      ),
    "transient",
  ],
  [
    "KafkaJSRequestTimeoutError",
    () =>
      new KafkaJSRequestTimeoutError("Request Metadata(key: 3, version: 6) timed out", {
        broker: "127.0.0.1:9092",
        clientId: "retail-orders",
        correlationId: 7,
        createdAt: 0,
        sentAt: 0,
        pendingDuration: 0,
      }),
    "transient",
  ],
  ["LEADER_NOT_AVAILABLE", () => createErrorFromCode(5), "transient"],
  ["NOT_LEADER_FOR_PARTITION", () => createErrorFromCode(6), "transient"],
  ["REQUEST_TIMED_OUT", () => createErrorFromCode(7), "transient"],
  ["GROUP_LOAD_IN_PROGRESS (coordinator loading)", () => createErrorFromCode(14), "transient"],
  ["GROUP_COORDINATOR_NOT_AVAILABLE", () => createErrorFromCode(15), "transient"],
  ["NOT_COORDINATOR_FOR_GROUP", () => createErrorFromCode(16), "transient"],
  ["NOT_CONTROLLER", () => createErrorFromCode(41), "transient"],
  [
    "REBALANCE_IN_PROGRESS (kafkajs: not retriable, it rejoins)",
    () => createErrorFromCode(27),
    "transient",
  ],
  ["ILLEGAL_GENERATION", () => createErrorFromCode(22), "transient"],
  ["CONCURRENT_TRANSACTIONS", () => createErrorFromCode(51), "transient"],
  [
    "FENCED_LEADER_EPOCH (stale metadata, not a fenced producer)",
    () => createErrorFromCode(74),
    "transient",
  ],
  ["UNKNOWN_TOPIC_OR_PARTITION (kafkajs: retriable)", () => createErrorFromCode(3), "transient"],
  [
    "retries exhausted on LEADER_NOT_AVAILABLE",
    () => retriesExceeded(createErrorFromCode(5)),
    "transient",
  ],
  [
    "KafkaJSGroupCoordinatorNotFound",
    () => new KafkaJSGroupCoordinatorNotFound("Failed to find group coordinator"),
    "transient",
  ],
  [
    "our Error whose cause is a KafkaJS connection error",
    () =>
      new Error("commit failed", {
        cause: connectionError(nodeError("connect ECONNREFUSED 127.0.0.1:9092", "ECONNREFUSED")),
      }),
    "transient",
  ],
  [
    "retries exhausted on a TypeError inside kafkajs (a socket gone mid-request): as before",
    () => retriesExceeded(new TypeError("Cannot read properties of null (reading 'write')")),
    "transient",
  ],

  // ---- permanent: Kafka refused for good ------------------------------------------------------
  [
    "KafkaJSSASLAuthenticationError (wrong secret)",
    () =>
      new KafkaJSSASLAuthenticationError(
        "SASL PLAIN authentication failed: Authentication failed: Invalid username or password",
      ),
    "permanent",
  ],
  ["SASL_AUTHENTICATION_FAILED", () => createErrorFromCode(58), "permanent"],
  ["UNSUPPORTED_SASL_MECHANISM", () => createErrorFromCode(33), "permanent"],
  ["ILLEGAL_SASL_STATE", () => createErrorFromCode(34), "permanent"],
  ["TOPIC_AUTHORIZATION_FAILED", () => createErrorFromCode(29), "permanent"],
  ["GROUP_AUTHORIZATION_FAILED", () => createErrorFromCode(30), "permanent"],
  ["CLUSTER_AUTHORIZATION_FAILED", () => createErrorFromCode(31), "permanent"],
  ["TRANSACTIONAL_ID_AUTHORIZATION_FAILED", () => createErrorFromCode(53), "permanent"],
  [
    "retries exhausted on TOPIC_AUTHORIZATION_FAILED",
    () => retriesExceeded(createErrorFromCode(29)),
    "permanent",
  ],
  [
    "retries exhausted on a self-signed certificate (no CA file)",
    () =>
      retriesExceeded(
        connectionError(
          nodeError("self-signed certificate in certificate chain", "SELF_SIGNED_CERT_IN_CHAIN"),
        ),
      ),
    "permanent",
  ],
  [
    "TLS code UNABLE_TO_VERIFY_LEAF_SIGNATURE only",
    () => nodeError("TLS handshake failed", "UNABLE_TO_VERIFY_LEAF_SIGNATURE"),
    "permanent",
  ],
  [
    "TLS code SELF_SIGNED_CERT_IN_CHAIN only",
    () => nodeError("TLS handshake failed", "SELF_SIGNED_CERT_IN_CHAIN"),
    "permanent",
  ],
  [
    "unable to verify the first certificate (a CA file of another CA)",
    () => nodeError("unable to verify the first certificate", "UNABLE_TO_VERIFY_LEAF_SIGNATURE"),
    "permanent",
  ],
  [
    "certificate has expired",
    () => nodeError("certificate has expired", "CERT_HAS_EXPIRED"),
    "permanent",
  ],
  [
    "hostname mismatch",
    () =>
      nodeError(
        "Hostname/IP does not match certificate's altnames: IP: 10.0.0.1 is not in the cert's list",
        "ERR_TLS_CERT_ALTNAME_INVALID",
      ),
    "permanent",
  ],
  [
    "a message that says 'certificate'",
    () => new Error("the broker's certificate is not trusted"),
    "permanent",
  ],
  [
    "Deno's rustls wording: invalid peer certificate: UnknownIssuer",
    () => new Error("invalid peer certificate: UnknownIssuer"),
    "permanent",
  ],
  [
    "TLS client on a PLAINTEXT port (ECONNRESET before the handshake: TLS wins)",
    () =>
      retriesExceeded(
        connectionError(
          nodeError(
            "Client network socket disconnected before secure TLS connection was established",
            "ECONNRESET",
          ),
        ),
      ),
    "permanent",
  ],
  [
    "wrong version number (OpenSSL: TLS to a PLAINTEXT port)",
    () => new Error("SSL routines:ssl3_get_record:wrong version number"),
    "permanent",
  ],
  ["INVALID_PRODUCER_EPOCH (fenced)", () => createErrorFromCode(47), "permanent"],
  [
    "PRODUCER_FENCED",
    () =>
      new KafkaJSProtocolError(
        Object.assign(new Error("There is a newer producer with the same transactionalId"), {
          type: "PRODUCER_FENCED",
          code: 90,
          retriable: false,
        }),
      ),
    "permanent",
  ],
  [
    "PRODUCER_FENCED as kafkajs 2.2 reports it (Unknown error code 90)",
    () => createErrorFromCode(90),
    "permanent",
  ],
  [
    "our Error whose cause is INVALID_PRODUCER_EPOCH",
    () => new Error("transaction failed", { cause: createErrorFromCode(47) }),
    "permanent",
  ],
  [
    "FencedError",
    () => new FencedError("transactional id 'q' was taken over by a newer instance"),
    "permanent",
  ],
  [
    "KafkaUnavailableError (an unreadable CA file; a broker timeout)",
    () => new KafkaUnavailableError("cannot read the CA file 'x.pem' (--ca-file / KAFKA_CA_FILE)"),
    "permanent",
  ],
  [
    "unknown host (ENOTFOUND, as kafkajs reports it)",
    () =>
      retriesExceeded(
        connectionError(
          nodeError("getaddrinfo ENOTFOUND nosuchhost.invalid", "ENOTFOUND"),
        ),
      ),
    "permanent",
  ],
  ["INVALID_CONFIG", () => createErrorFromCode(40), "permanent"],
  ["INVALID_TRANSACTION_TIMEOUT", () => createErrorFromCode(50), "permanent"],
  ["MESSAGE_TOO_LARGE", () => createErrorFromCode(10), "permanent"],
  ["UNSUPPORTED_VERSION", () => createErrorFromCode(35), "permanent"],
  [
    "kafkajs' argument check (Invalid topic)",
    () => new KafkaJSNonRetriableError("Invalid topic undefined"),
    "permanent",
  ],
  [
    "KafkaJSServerDoesNotSupportApiKey",
    () =>
      new KafkaJSServerDoesNotSupportApiKey("The Kafka server does not support the requested API", {
        apiKey: 22,
        apiName: "InitProducerId",
      }),
    "permanent",
  ],

  // ---- user: a UserError of ours, shown as it is ----------------------------------------------
  ["TopicNotFoundError", () => new TopicNotFoundError("topic 'x' does not exist"), "user"],
  ["ConfigError", () => new ConfigError("--max-offsets needs a number"), "user"],
  ["OffsetSpecError", () => new OffsetSpecError("'soon' is not an offset"), "user"],
  ["a data-loss UserError", () => new DataLoss("offsets 0-99 of partition 0 are gone"), "user"],
  ["a Delta error", () => new TableNotFoundError("no Delta table at ./t"), "user"],
  ["a storage error", () => new StorageError("cannot write ./t"), "user"],
  [
    "a UserError whose message names a Kafka failure is still the user's",
    () => new DataLoss("Connection refused while reading the changelog: run again"),
    "user",
  ],

  // ---- internal: a bug ------------------------------------------------------------------------
  [
    "TypeError",
    () => new TypeError("Cannot read properties of undefined (reading 'x')"),
    "internal",
  ],
  ["RangeError", () => new RangeError("Invalid array length"), "internal"],
  [
    "a TypeError caused by a refused connection is still a bug on top",
    () =>
      new TypeError("x is not a function", { cause: nodeError("ECONNREFUSED", "ECONNREFUSED") }),
    "internal",
  ],
  ["any other Error", () => new Error("something else"), "internal"],
  ["a string", () => "boom", "internal"],
  ["undefined", () => undefined, "internal"],
  ["null", () => null, "internal"],
];

for (const [what, make, kind] of CASES) {
  Deno.test(`classifyKafkaError: ${what} → ${kind}`, () => {
    assert.equal(classifyKafkaError(make()), kind);
  });
}

Deno.test("the Kafka error classes are UserErrors, one class each wherever imported", () => {
  for (
    const e of [new KafkaUnavailableError("x"), new TopicNotFoundError("x"), new FencedError("x")]
  ) {
    assert.ok(e instanceof UserError, e.name);
    assert.ok(e instanceof Error, e.name);
  }
  assert.equal(new KafkaUnavailableError("x").name, "KafkaUnavailableError");
  assert.equal(new TopicNotFoundError("x").name, "TopicNotFoundError");
  assert.equal(new FencedError("x").name, "FencedError");
  assert.equal(ClientKafkaUnavailableError, KafkaUnavailableError);
  assert.equal(SinkFencedError, FencedError);
});

Deno.test("isFencedKafkaError: the producer fencings only", () => {
  assert.ok(isFencedKafkaError(createErrorFromCode(47)));
  assert.ok(isFencedKafkaError(createErrorFromCode(90)));
  assert.ok(isFencedKafkaError(retriesExceeded(createErrorFromCode(47))));
  assert.ok(isFencedKafkaError(new FencedError("taken over")));
  assert.ok(!isFencedKafkaError(createErrorFromCode(74)), "FENCED_LEADER_EPOCH");
  assert.ok(!isFencedKafkaError(createErrorFromCode(51)), "CONCURRENT_TRANSACTIONS");
  assert.ok(!isFencedKafkaError(new Error("connect ECONNREFUSED")));
});

Deno.test("explainKafkaError: a TLS error known by its code only names the certificate", () => {
  const settings = {
    bootstrapServers: ["broker:9094"],
    securityProtocol: "SASL_SSL" as const,
    clientId: "retail-orders",
  };
  for (const code of ["UNABLE_TO_VERIFY_LEAF_SIGNATURE", "SELF_SIGNED_CERT_IN_CHAIN"]) {
    assert.match(
      explainKafkaError(retriesExceeded(connectionError(nodeError("handshake", code))), settings),
      /^the TLS certificate of broker:9094 is not trusted: pass the CA/,
      code,
    );
  }
});
