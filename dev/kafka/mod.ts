/**
 * A single-node Apache Kafka 4.3.1 (KRaft, broker and controller in one JVM) for development and
 * tests, run from Maven Central jars on the machine's JDK. Development-only: the product library
 * (lib/) never imports it; `deno task kafka:up` / `kafka:down` (cli.ts) and the tests do.
 *
 * The state directory (default `.cache/kafka`) holds `server.properties`, `data/` (the log dirs),
 * `broker.log` and `broker.pid`; the jars are shared by every state directory under
 * `.cache/kafka/libs`.
 *
 * Besides PLAINTEXT (port, unauthenticated) the broker opens a SASL_SSL listener (SASL PLAIN over
 * TLS, as Confluent Cloud) on `saslPort` (default port + 2, i.e. 9094), with a throw-away CA and
 * server certificate under `<dir>/tls/` (clients trust `tls/ca.pem`) and two users whose
 * passwords are generated at the first start and never printed: `client` (in `<dir>/sasl.env`)
 * and `admin` (a super user, in `<dir>/sasl-admin.env`), both mode 0600. The StandardAuthorizer
 * is on with `allow.everyone.if.no.acl.found=true` and the PLAINTEXT principal `User:ANONYMOUS`
 * as a super user: PLAINTEXT clients and resources without ACLs behave exactly as without an
 * authorizer; ACLs (created by `admin`) restrict SASL users. Inter-broker and controller traffic
 * stay PLAINTEXT on loopback. `saslSsl: false` (or KAFKA_BROKER_SASL_SSL=0) starts a
 * PLAINTEXT-only broker.
 *
 * Where things are: `broker.ts` start/stop/status; `jars.ts` the Maven jars; `jvm.ts` java and
 * the CDS archive; `kraft.ts` server.properties and the storage format; `sasl.ts` the users and
 * env files; `tls.ts` the CA and certificates; `pid.ts` the pid file and start lock; `probe.ts`
 * port and metadata checks; `errors.ts` the error classes; `cli.ts` the task CLI.
 *
 * @example
 * ```ts
 * import { startBroker, stopBroker } from "./mod.ts";
 * const info = await startBroker({ port: 19092, dir: await Deno.makeTempDir() });
 * console.log(info.bootstrap, info.sasl?.envFile);
 * await stopBroker({ dir: info.dir });
 * ```
 *
 * @module
 */
export {
  type BrokerInfo,
  type BrokerOptions,
  type BrokerStatus,
  brokerStatus,
  startBroker,
  stopBroker,
} from "./broker.ts";
export {
  BrokerStartError,
  JarsUnavailableError,
  PortInUseError,
  ToolMissingError,
} from "./errors.ts";
export { ensureJars, KAFKA_VERSION } from "./jars.ts";
export { CLUSTER_ID, serverProperties } from "./kraft.ts";
export {
  SASL_ADMIN_USER,
  SASL_CLIENT_USER,
  type SaslListenerInfo,
  type SaslListenerSettings,
} from "./sasl.ts";
export { DEFAULT_DIR, DEFAULT_LIBS_DIR } from "./state_dir.ts";
export { ensureTls, SERVER_NAMES, type TlsFiles, TlsSetupError } from "./tls.ts";
