import assert from "node:assert/strict";
import { ConfigError, describeConfig, loadConfig, parseDotenv, Secret } from "../lib/config.ts";
import { kafkaConfig } from "../lib/kafka/client.ts";

const none = { env: {}, envFile: "/nonexistent/.env" };

Deno.test("defaults: localhost:9092, PLAINTEXT, seed topics, ./lakehouse/<table>", () => {
  const { config, help } = loadConfig({ ...none, args: [], tableName: "orders_raw" });
  assert.deepEqual(config.kafka.bootstrapServers, ["localhost:9092"]);
  assert.equal(config.kafka.securityProtocol, "PLAINTEXT");
  assert.equal(config.kafka.sasl, undefined);
  assert.equal(config.kafka.clientId, "retail-orders");
  assert.equal(config.topic, "retail-data-new");
  assert.equal(config.outputTopic, "processed_orders");
  assert.equal(config.lakehouse, "./lakehouse");
  assert.equal(config.table, "./lakehouse/orders_raw");
  assert.equal(help, false);
});

Deno.test("env overrides defaults, flags override env, .env is below env", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const envFile = `${dir}/.env`;
    await Deno.writeTextFile(
      envFile,
      "# comment\nKAFKA_TOPIC=from-dotenv\nexport KAFKA_CLIENT_ID='dotenv-client'\nLAKEHOUSE=\"/data/lake/\"\n",
    );
    const env = { KAFKA_TOPIC: "from-env", KAFKA_BOOTSTRAP_SERVERS: "b1:9092, b2:9093" };
    const a = loadConfig({ args: [], env, envFile, tableName: "t" });
    assert.equal(a.config.topic, "from-env");
    assert.equal(a.config.kafka.clientId, "dotenv-client");
    assert.deepEqual(a.config.kafka.bootstrapServers, ["b1:9092", "b2:9093"]);
    assert.equal(a.config.lakehouse, "/data/lake");
    assert.equal(a.config.table, "/data/lake/t");

    const b = loadConfig({
      args: ["--", "--topic", "from-flag", "--bootstrap-servers", "h:1", "--table", "/x/y"],
      env,
      envFile,
      tableName: "t",
    });
    assert.equal(b.config.topic, "from-flag");
    assert.deepEqual(b.config.kafka.bootstrapServers, ["h:1"]);
    assert.equal(b.config.table, "/x/y");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("notebook flags come back typed; unknown flags and stray arguments are errors", () => {
  const { flags } = loadConfig({
    ...none,
    args: ["--limit", "5", "--json"],
    options: { limit: { type: "string" }, json: { type: "boolean" } },
  });
  assert.equal(flags.limit, "5");
  assert.equal(flags.json, true);
  assert.throws(() => loadConfig({ ...none, args: ["--nope"] }), ConfigError);
  assert.throws(() => loadConfig({ ...none, args: ["stray"] }), ConfigError);
  const { positionals } = loadConfig({
    ...none,
    args: ["a.json", "b.json"],
    allowPositionals: true,
  });
  assert.deepEqual(positionals, ["a.json", "b.json"]);
});

Deno.test("SASL_SSL: API key implies it; the kafkajs config gets ssl + sasl plain", () => {
  const env = {
    KAFKA_BOOTSTRAP_SERVERS: "pkc-123.westeurope.azure.confluent.cloud:9092",
    KAFKA_API_KEY: "ABCDEFGHIJKL",
    KAFKA_API_SECRET: "s3cr3t-VALUE-xyz",
  };
  const { config } = loadConfig({ args: [], env, envFile: "/nonexistent" });
  assert.equal(config.kafka.securityProtocol, "SASL_SSL");
  const kc = kafkaConfig(config.kafka);
  assert.equal(kc.ssl, true);
  assert.deepEqual(kc.sasl, {
    mechanism: "plain",
    username: "ABCDEFGHIJKL",
    password: "s3cr3t-VALUE-xyz",
  });
  assert.deepEqual(kc.brokers, ["pkc-123.westeurope.azure.confluent.cloud:9092"]);
});

Deno.test("SASL_SSL with a CA file passes the PEM to TLS", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const pem = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";
    await Deno.writeTextFile(`${dir}/ca.pem`, pem);
    const { config } = loadConfig({
      args: ["--ca-file", `${dir}/ca.pem`],
      env: { KAFKA_API_KEY: "k", KAFKA_API_SECRET: "s", KAFKA_SECURITY_PROTOCOL: "sasl_ssl" },
      envFile: "/nonexistent",
    });
    const kc = kafkaConfig(config.kafka);
    assert.deepEqual(kc.ssl, { ca: [pem], rejectUnauthorized: true });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("SASL_SSL without credentials, bad protocol, bad servers: ConfigError saying what to set", () => {
  assert.throws(
    () => loadConfig({ ...none, args: ["--security-protocol", "SASL_SSL"] }),
    (e: Error) => e instanceof ConfigError && /KAFKA_API_KEY and KAFKA_API_SECRET/.test(e.message),
  );
  assert.throws(
    () => loadConfig({ ...none, args: ["--security-protocol", "SSL"] }),
    /not supported: use PLAINTEXT or SASL_SSL/,
  );
  assert.throws(
    () => loadConfig({ ...none, args: ["--bootstrap-servers", "nohost"] }),
    /host:port/,
  );
  assert.throws(
    () =>
      loadConfig({
        args: [],
        env: { KAFKA_API_KEY: "k", KAFKA_API_SECRET: "s", KAFKA_SASL_MECHANISM: "SCRAM-SHA-512" },
        envFile: "/nonexistent",
      }),
    /use PLAIN/,
  );
});

Deno.test("printing the config never shows the secret (describe, JSON, console inspect)", () => {
  const secret = "TopSecret-42-do-not-print";
  const { config } = loadConfig({
    args: [],
    env: { KAFKA_API_KEY: "KEY1234567", KAFKA_API_SECRET: secret },
    envFile: "/nonexistent",
    tableName: "t",
  });
  const outputs = [
    describeConfig(config),
    JSON.stringify(config),
    Deno.inspect(config, { depth: 10 }),
    String(config.kafka.sasl!.password),
  ];
  for (const out of outputs) {
    assert.ok(!out.includes(secret), `secret leaked in: ${out}`);
    assert.ok(!out.includes("KEY1234567"), `whole API key shown in: ${out}`);
  }
  assert.match(describeConfig(config), /SASL PLAIN, key KEY1\*\*\*\*, secret \*\*\*\*/);
  assert.equal(config.kafka.sasl!.password.reveal(), secret);
  assert.ok(new Secret("x") instanceof Secret);
});

Deno.test("parseDotenv: comments, export, quotes, inline comments, blank lines", () => {
  assert.deepEqual(
    parseDotenv(
      "A=1\n\n# c\nexport B = two \nC='x # y'\nD=\"line\\nnext\"\nE=v # trailing\nnot a line\n",
    ),
    { A: "1", B: "two", C: "x # y", D: "line\nnext", E: "v" },
  );
});

Deno.test(".env.example lists every variable the config reads", async () => {
  const { ENV_VARS } = await import("../lib/config.ts");
  const example = await Deno.readTextFile(new URL("../.env.example", import.meta.url));
  for (const name of Object.keys(ENV_VARS)) {
    assert.match(example, new RegExp(`^#?\\s*${name}=`, "m"), `${name} missing from .env.example`);
  }
});
