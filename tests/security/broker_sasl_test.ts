/**
 * `kafka:up` with the SASL_SSL listener, on a private broker (free ports, temp dir; never the
 * shared one): it prints where the CA file and the client env file are but never a password; the
 * secrets and keys are mode 0600; a restart keeps the passwords and the CA (clients keep working);
 * `--no-sasl-ssl` gives the PLAINTEXT-only broker of before.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { serverProperties, stopBroker } from "../../dev/kafka/mod.ts";
import { freePort, withAdmin } from "../support/kafka.ts";
import { leaks, readSaslEnv, saslKafkaConfig } from "../support/sasl.ts";
import { Kafka } from "kafkajs";

const CLI = fileURLToPath(new URL("../../dev/kafka/cli.ts", import.meta.url));

async function cli(args: string[]) {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", CLI, ...args],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const dec = new TextDecoder();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}

const mode = async (path: string) => (await Deno.stat(path)).mode! & 0o777;

Deno.test("kafka:up opens SASL_SSL, prints paths not passwords, keeps them across restarts", async () => {
  const dir = await Deno.makeTempDir({ prefix: "kafka-sasl-broker-test-" });
  const [port, controllerPort, saslPort] = [freePort(), freePort(), freePort()];
  try {
    const up = await cli([
      "up",
      "--dir",
      dir,
      "--port",
      String(port),
      "--controller-port",
      String(controllerPort),
      "--sasl-port",
      String(saslPort),
    ]);
    assert.equal(up.code, 0, up.stderr);
    const envFile = join(dir, "sasl.env");
    const adminFile = join(dir, "sasl-admin.env");
    const caFile = join(dir, "tls/ca.pem");
    assert.match(up.stdout, new RegExp(`SASL_SSL \\(PLAIN\\) on 127\\.0\\.0\\.1:${saslPort}`));
    assert.ok(up.stdout.includes(`CA file: ${caFile}`), up.stdout);
    assert.ok(up.stdout.includes(envFile), up.stdout);

    const env = await readSaslEnv(envFile);
    const admin = await readSaslEnv(adminFile);
    assert.deepEqual(
      { ...env, KAFKA_API_SECRET: "-" },
      {
        KAFKA_BOOTSTRAP_SERVERS: `127.0.0.1:${saslPort}`,
        KAFKA_SECURITY_PROTOCOL: "SASL_SSL",
        KAFKA_SASL_MECHANISM: "PLAIN",
        KAFKA_API_KEY: "client",
        KAFKA_API_SECRET: "-",
        KAFKA_CA_FILE: caFile,
      },
    );
    assert.equal(admin.KAFKA_API_KEY, "admin");
    assert.match(env.KAFKA_API_SECRET, /^[A-Za-z0-9_-]{32}$/);
    assert.notEqual(env.KAFKA_API_SECRET, admin.KAFKA_API_SECRET);
    // Never printed; private files.
    for (const secret of [env.KAFKA_API_SECRET, admin.KAFKA_API_SECRET]) {
      assert.deepEqual(leaks(up.stdout + up.stderr, secret), []);
    }
    for (const f of [envFile, adminFile, join(dir, "server.properties"), join(dir, "tls/ca.key")]) {
      assert.equal(await mode(f), 0o600, f);
    }
    assert.equal(await mode(join(dir, "tls/server.pem")), 0o600);
    const props = await Deno.readTextFile(join(dir, "server.properties"));
    assert.match(props, /^inter\.broker\.listener\.name=PLAINTEXT$/m);
    assert.match(props, /^super\.users=User:ANONYMOUS;User:admin$/m);
    assert.match(props, /^allow\.everyone\.if\.no\.acl\.found=true$/m);

    // Status names the listener; the client user works over it.
    const status = await cli(["status", "--dir", dir]);
    assert.equal(status.code, 0);
    assert.match(status.stdout, new RegExp(`SASL_SSL: 127\\.0\\.0\\.1:${saslPort}, CA ${caFile}`));
    assert.deepEqual(leaks(status.stdout, env.KAFKA_API_SECRET), []);
    const described = await withAdmin(new Kafka(saslKafkaConfig(env)), (a) => a.describeCluster());
    assert.equal(described.brokers.length, 1);

    // Restart: same passwords and CA, so a client's env file stays valid.
    const caBefore = await Deno.readTextFile(caFile);
    assert.equal((await stopBroker({ dir })).stopped, true);
    const again = await cli(["up", "--dir", dir]);
    assert.equal(again.code, 0, again.stderr);
    assert.equal((await readSaslEnv(envFile)).KAFKA_API_SECRET, env.KAFKA_API_SECRET);
    assert.equal((await readSaslEnv(adminFile)).KAFKA_API_SECRET, admin.KAFKA_API_SECRET);
    assert.equal(await Deno.readTextFile(caFile), caBefore);
    const after = await withAdmin(new Kafka(saslKafkaConfig(env)), (a) => a.describeCluster());
    assert.equal(after.brokers[0].port, saslPort);

    // --no-sasl-ssl: PLAINTEXT only, as before this listener existed.
    assert.equal((await stopBroker({ dir })).stopped, true);
    const plain = await cli(["up", "--dir", dir, "--no-sasl-ssl"]);
    assert.equal(plain.code, 0, plain.stderr);
    assert.doesNotMatch(plain.stdout, /SASL_SSL/);
    const plainProps = await Deno.readTextFile(join(dir, "server.properties"));
    assert.doesNotMatch(plainProps, /SASL_SSL|sasl\.|authorizer|jaas/);
    assert.match(plainProps, new RegExp(`^listeners=PLAINTEXT://127\\.0\\.0\\.1:${port},`, "m"));
  } finally {
    await stopBroker({ dir, graceMs: 10_000 });
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("server.properties: the SASL_SSL listener, PLAIN users in the JAAS config, PEM keystore", () => {
  const text = serverProperties(9092, 9093, "/data", {
    port: 9094,
    keystoreFile: "/tls/server.pem",
    users: { admin: "pw-a", client: "pw-c" },
    superUsers: ["User:admin"],
  });
  const props: Record<string, string> = {};
  for (const line of text.split("\n")) {
    const eq = line.indexOf("=");
    if (eq > 0 && !line.startsWith("#")) {
      props[line.slice(0, eq).replaceAll(".", "_")] = line.slice(eq + 1);
    }
  }
  assert.equal(
    props.listeners,
    "PLAINTEXT://127.0.0.1:9092,CONTROLLER://127.0.0.1:9093,SASL_SSL://127.0.0.1:9094",
  );
  assert.equal(props.advertised_listeners, "PLAINTEXT://127.0.0.1:9092,SASL_SSL://127.0.0.1:9094");
  assert.equal(
    props.listener_security_protocol_map,
    "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT,SASL_SSL:SASL_SSL",
  );
  assert.equal(
    props.listener_name_sasl_ssl_plain_sasl_jaas_config,
    'org.apache.kafka.common.security.plain.PlainLoginModule required user_admin="pw-a" user_client="pw-c";',
  );
  assert.equal(props.listener_name_sasl_ssl_ssl_keystore_type, "PEM");
  assert.equal(
    props.authorizer_class_name,
    "org.apache.kafka.metadata.authorizer.StandardAuthorizer",
  );
  // Without SASL: exactly the PLAINTEXT broker of before.
  const plain = serverProperties(9092, 9093, "/data");
  assert.doesNotMatch(plain, /SASL_SSL|sasl\.|authorizer|jaas/);
  assert.match(
    plain,
    /^listeners=PLAINTEXT:\/\/127\.0\.0\.1:9092,CONTROLLER:\/\/127\.0\.0\.1:9093$/m,
  );
});
