/**
 * lib/cli.ts' one-line failure text: a UserError's message as it is, a Kafka failure explained
 * for the brokers, anything else (a bug) with its class name.
 */
import assert from "node:assert/strict";
import kafkajs from "kafkajs";
import { explainError } from "../lib/cli.ts";
import { ConfigError, type KafkaSettings } from "../lib/config.ts";
import { TableNotFoundError } from "../lib/delta/errors.ts";
import { UserError } from "../lib/errors.ts";
import { FencedError, KafkaUnavailableError, TopicNotFoundError } from "../lib/kafka/errors.ts";

const { KafkaJSConnectionError, KafkaJSNumberOfRetriesExceeded } = kafkajs;

const LOCAL: KafkaSettings = {
  bootstrapServers: ["localhost:9092"],
  securityProtocol: "PLAINTEXT",
  clientId: "retail-orders",
};

class PositionLost extends UserError {
  override name = "PositionLost";
}

/** What admin.connect() throws with the broker down. */
function refused(): Error {
  const cause = new KafkaJSConnectionError(
    "Connection error: connect ECONNREFUSED 127.0.0.1:9092",
    {
      broker: "localhost:9092",
      code: "ECONNREFUSED",
    },
  );
  return new KafkaJSNumberOfRetriesExceeded(cause, { retryCount: 5, retryTime: 5000 });
}

Deno.test("explainError: a UserError subclass prints its message only", () => {
  const errors = [
    new PositionLost("the committed position 120 is past the end of partition 0 (100)"),
    new ConfigError("--max-offsets needs a positive integer, got 'x'"),
    new TopicNotFoundError("topic 'x' does not exist on localhost:9092; create it"),
    new TableNotFoundError("no Delta table at ./lakehouse/t: run the stream first"),
    new KafkaUnavailableError("cannot read the CA file 'ca.pem' (--ca-file / KAFKA_CA_FILE)"),
    new FencedError("transactional id 'q' was taken over by a newer instance; this one stops"),
  ];
  for (const e of errors) {
    assert.equal(explainError(e), e.message, e.name);
    assert.equal(explainError(e, LOCAL), e.message, `${e.name} with Kafka settings`);
  }
});

Deno.test("explainError: an unknown error prints Name: message", () => {
  assert.equal(
    explainError(new RangeError("Invalid array length")),
    "RangeError: Invalid array length",
  );
  assert.equal(
    explainError(new TypeError("x is not a function"), LOCAL),
    "TypeError: x is not a function",
  );
  assert.equal(explainError(new Error("something else"), LOCAL), "Error: something else");
  assert.equal(explainError("boom"), "Error: boom");
});

Deno.test("explainError: a Kafka failure is explained for the brokers (when they are known)", () => {
  assert.equal(
    explainError(refused(), LOCAL),
    "cannot reach Kafka at localhost:9092: start it with `deno task kafka:up`",
  );
  assert.match(
    explainError(
      Object.assign(new Error("TLS handshake failed"), { code: "SELF_SIGNED_CERT_IN_CHAIN" }),
      { ...LOCAL, securityProtocol: "SASL_SSL" },
    ),
    /^the TLS certificate of localhost:9092 is not trusted/,
  );
  // Without settings there is no broker to name: the error as it is.
  assert.match(explainError(refused()), /^KafkaJSNumberOfRetriesExceeded: Connection error/);
});
