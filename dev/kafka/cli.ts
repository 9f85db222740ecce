/**
 * The local broker's CLI, what `deno task kafka:up` / `kafka:down` call:
 *
 * ```sh
 * deno run -A dev/kafka/cli.ts up     [--port 9092] [--controller-port 9093] [--dir .cache/kafka]
 *                                     [--sasl-port 9094 | --no-sasl-ssl] [--timeout 90]
 * deno run -A dev/kafka/cli.ts down   [--dir .cache/kafka]
 * deno run -A dev/kafka/cli.ts status [--dir .cache/kafka]
 * ```
 *
 * `up` is idempotent: a broker already running from the state dir is reported, not restarted.
 * It prints where the SASL_SSL listener's CA file and client env file are, never a password.
 * Exit codes: 0 ok, 1 failure, 2 a prerequisite is missing (java, mvn, Maven Central, openssl),
 * 3 `status` found no running broker. Errors are one line: `<ErrorName>: <message>`.
 *
 * Environment: see `jars.ts` (KAFKA_MAVEN_REPO_LOCAL), `jvm.ts` (JAVA_HOME, KAFKA_BROKER_CDS)
 * and `kraft.ts` (KAFKA_BROKER_SASL_SSL=0: no SASL_SSL listener).
 *
 * @module
 */
import { parseArgs } from "node:util";
import { type BrokerOptions, brokerStatus, startBroker, stopBroker } from "./broker.ts";
import { JarsUnavailableError, ToolMissingError } from "./errors.ts";
import { KAFKA_VERSION } from "./jars.ts";
import { statePaths } from "./state_dir.ts";
import { TlsSetupError } from "./tls.ts";

const USAGE = "usage: dev/kafka/cli.ts up|down|status [--port 9092] [--controller-port 9093] " +
  "[--sasl-port 9094 | --no-sasl-ssl] [--dir .cache/kafka] [--timeout 90]";

function portFlag(s: string | undefined, flag: string): number | undefined {
  if (s === undefined) return undefined;
  const n = Number(s);
  if (!Number.isInteger(n) || n <= 0 || n > 65535) throw new TypeError(`--${flag} ${s}`);
  return n;
}

/** Runs one CLI command (`up`, `down` or `status`) with its flags; returns the exit code. */
async function main(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      port: { type: "string" },
      "controller-port": { type: "string" },
      "sasl-port": { type: "string" },
      "no-sasl-ssl": { type: "boolean" },
      dir: { type: "string" },
      timeout: { type: "string" },
      help: { type: "boolean", short: "h" },
    },
  });
  const cmd = positionals[0];
  if (values.help || !cmd || !["up", "down", "status"].includes(cmd)) {
    console.log(USAGE);
    return values.help ? 0 : 1;
  }
  const opts: BrokerOptions = {
    port: portFlag(values.port, "port"),
    controllerPort: portFlag(values["controller-port"], "controller-port"),
    saslPort: portFlag(values["sasl-port"], "sasl-port"),
    saslSsl: values["no-sasl-ssl"] ? false : undefined,
    dir: values.dir,
    timeoutMs: values.timeout ? Number(values.timeout) * 1000 : undefined,
  };

  if (cmd === "up") {
    const info = await startBroker({ ...opts, log: (l) => console.log(l) });
    const secs = (info.elapsedMs / 1000).toFixed(1);
    console.log(
      info.alreadyRunning
        ? `Kafka already running on ${info.bootstrap} (pid ${info.pid}); checked in ${secs} s`
        : `Kafka ${KAFKA_VERSION} ready on ${info.bootstrap} (pid ${info.pid}) in ${secs} s`,
    );
    if (info.sasl) {
      console.log(
        `SASL_SSL (PLAIN) on ${info.sasl.bootstrap}; CA file: ${info.sasl.caFile}; ` +
          `client env file (mode 0600, secret not shown): ${info.sasl.envFile}`,
      );
      console.log(`  e.g. deno task produce -- --env-file ${info.sasl.envFile}`);
    }
    console.log(`log: ${info.logFile}`);
    return 0;
  }
  if (cmd === "down") {
    const r = await stopBroker(opts);
    console.log(
      r.stopped
        ? `stopped Kafka (pid ${r.pid}${r.killed ? ", SIGKILL after grace period" : ""})`
        : `no Kafka running from ${statePaths(opts).dir}`,
    );
    return 0;
  }
  const s = await brokerStatus(opts);
  console.log(
    s.running
      ? `running: pid ${s.pid}, ${s.bootstrap} ${s.answering ? "answering" : "NOT answering"}, ` +
        `RSS ${Math.round((s.rssKiB ?? 0) / 1024)} MiB, log ${s.logFile}`
      : `not running from ${s.dir}${
        s.answering ? ` (but something answers on ${s.bootstrap})` : ""
      }`,
  );
  if (s.running && s.sasl) {
    console.log(`SASL_SSL: ${s.sasl.bootstrap}, CA ${s.sasl.caFile}, env file ${s.sasl.envFile}`);
  }
  return s.running ? 0 : 3;
}

if (import.meta.main) {
  try {
    Deno.exit(await main(Deno.args));
  } catch (e) {
    const err = e as Error;
    const prereq = e instanceof ToolMissingError || e instanceof JarsUnavailableError ||
      e instanceof TlsSetupError;
    console.error(`${err.name}: ${err.message}`);
    Deno.exit(prereq ? 2 : 1);
  }
}
