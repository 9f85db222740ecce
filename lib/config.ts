/**
 * One typed configuration for every notebook, read from (highest first) command-line flags,
 * the process environment, a `.env` file and the defaults below. Secrets are held in
 * {@link Secret} values that never print.
 *
 * | variable | flag | default |
 * | --- | --- | --- |
 * | KAFKA_BOOTSTRAP_SERVERS | --bootstrap-servers | localhost:9092 |
 * | KAFKA_SECURITY_PROTOCOL | --security-protocol | PLAINTEXT (SASL_SSL when KAFKA_API_KEY is set) |
 * | KAFKA_SASL_MECHANISM | | PLAIN |
 * | KAFKA_API_KEY | | (none) |
 * | KAFKA_API_SECRET | | (none) |
 * | KAFKA_CA_FILE | --ca-file | (none: the system's trusted CAs) |
 * | KAFKA_CLIENT_ID | --client-id | retail-orders |
 * | KAFKA_TOPIC | --topic | retail-data-new |
 * | KAFKA_OUTPUT_TOPIC | --output-topic | processed_orders |
 * | LAKEHOUSE | --lakehouse | ./lakehouse |
 * | (per notebook) | --table | <lakehouse>/<table name> |
 *
 * @module
 */
import { parseArgs, type ParseArgsConfig } from "node:util";
import { readFileSync } from "node:fs";
import { UserError } from "./errors.ts";
import { projectPath } from "./runtime.ts";

/** A secret value: usable through {@link Secret.reveal}, redacted everywhere else. */
export class Secret {
  #value: string;
  /** Wraps a secret string. */
  constructor(value: string) {
    this.#value = value;
  }
  /** The secret itself, for handing to a client library; never log the result. */
  reveal(): string {
    return this.#value;
  }
  /** Redacted text. */
  toString(): string {
    return "****";
  }
  /** Redacted JSON. */
  toJSON(): string {
    return "****";
  }
  /** Redacted for Deno.inspect and console.log. */
  [Symbol.for("Deno.customInspect")](): string {
    return "Secret(****)";
  }
  /** Redacted for node:util inspect. */
  [Symbol.for("nodejs.util.inspect.custom")](): string {
    return "Secret(****)";
  }
}

/** Kafka security protocols this project speaks. */
export type SecurityProtocol = "PLAINTEXT" | "SASL_SSL";

/** Connection settings for Kafka. */
export interface KafkaSettings {
  /** host:port pairs. */
  bootstrapServers: string[];
  /** PLAINTEXT (local broker) or SASL_SSL (Confluent Cloud). */
  securityProtocol: SecurityProtocol;
  /** SASL PLAIN credentials (API key and secret), only with SASL_SSL. */
  sasl?: { mechanism: "plain"; username: Secret; password: Secret };
  /** A PEM file of extra CAs to trust (private CA or the local test CA). */
  caFile?: string;
  /** The client id sent to the broker. */
  clientId: string;
}

/** The whole configuration shared by the notebooks. */
export interface Config {
  /** Kafka connection. */
  kafka: KafkaSettings;
  /** The input topic (orders). */
  topic: string;
  /** The output topic of the producer stream. */
  outputTopic: string;
  /** Folder or URL under which tables live by default. */
  lakehouse: string;
  /** This notebook's main table location (when it has one). */
  table?: string;
}

/** A configuration problem the user must fix; the message says how. */
export class ConfigError extends UserError {
  override name = "ConfigError";
}

/** Defaults used when neither flags, env nor .env say otherwise. */
export const DEFAULTS = {
  bootstrapServers: "localhost:9092",
  clientId: "retail-orders",
  topic: "retail-data-new",
  outputTopic: "processed_orders",
  lakehouse: "./lakehouse",
} as const;

/** Every environment variable the configuration reads, with a description (for .env.example). */
export const ENV_VARS: Record<string, string> = {
  KAFKA_BOOTSTRAP_SERVERS: "comma-separated host:port list (default localhost:9092)",
  KAFKA_SECURITY_PROTOCOL:
    "PLAINTEXT or SASL_SSL (default PLAINTEXT, SASL_SSL if an API key is set)",
  KAFKA_SASL_MECHANISM: "PLAIN (the only mechanism supported, as Confluent Cloud uses)",
  KAFKA_API_KEY: "SASL username (Confluent Cloud API key)",
  KAFKA_API_SECRET: "SASL password (Confluent Cloud API secret)",
  KAFKA_CA_FILE: "PEM file of CA certificates to trust (private or test CA)",
  KAFKA_CLIENT_ID: "client id sent to the broker (default retail-orders)",
  KAFKA_TOPIC: "input topic (default retail-data-new)",
  KAFKA_OUTPUT_TOPIC: "output topic of the producer stream (default processed_orders)",
  LAKEHOUSE: "folder or abfss:// URL holding the Delta tables (default ./lakehouse)",
  AZURE_STORAGE_CONNECTION_STRING: "ADLS Gen2: storage account connection string (secret)",
  AZURE_STORAGE_ACCOUNT_KEY: "ADLS Gen2: storage account key (secret)",
  AZURE_STORAGE_SAS_TOKEN: "ADLS Gen2: SAS token with rwdlacm on the filesystem (secret)",
  AZURE_TENANT_ID: "Microsoft Entra ID tenant (service principal; else managed identity/az login)",
  AZURE_CLIENT_ID: "Microsoft Entra ID app (service principal) or user-assigned managed identity",
  AZURE_CLIENT_SECRET: "Microsoft Entra ID service principal secret (secret)",
  AZURE_STORAGE_DFS_ENDPOINT: "ADLS Gen2 DFS endpoint override, e.g. the test stand-in's URL",
};

/** Flags every notebook accepts (merged with the notebook's own). */
export const COMMON_OPTIONS = {
  "bootstrap-servers": { type: "string" },
  "security-protocol": { type: "string" },
  "ca-file": { type: "string" },
  "client-id": { type: "string" },
  topic: { type: "string" },
  "output-topic": { type: "string" },
  lakehouse: { type: "string" },
  table: { type: "string" },
  "env-file": { type: "string" },
  help: { type: "boolean", short: "h" },
} as const satisfies ParseArgsConfig["options"];

/** Parses a .env file's text: KEY=VALUE lines, # comments, optional quotes, `export ` prefix. */
export function parseDotenv(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    if (line === "" || line.startsWith("#")) continue;
    const m = /^(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*)$/.exec(line);
    if (!m) continue;
    let value = m[2];
    const quote = value[0];
    if ((quote === '"' || quote === "'") && value.endsWith(quote) && value.length >= 2) {
      value = value.slice(1, -1);
      if (quote === '"') value = value.replace(/\\n/g, "\n").replace(/\\"/g, '"');
    } else {
      value = value.replace(/\s+#.*$/, "");
    }
    out[m[1]] = value;
  }
  return out;
}

/** Inputs of {@link loadConfig}; all optional so tests can pass exactly what they mean. */
export interface LoadOptions<O extends ParseArgsConfig["options"]> {
  /** Command-line arguments (default Deno.args). */
  args?: string[];
  /** Environment (default the process environment). */
  env?: Record<string, string | undefined>;
  /** .env path (default ./.env if present; --env-file overrides). */
  envFile?: string;
  /** The notebook's own flags besides the common ones. */
  options?: O;
  /** The notebook's main table name, giving --table's default `<lakehouse>/<name>`. */
  tableName?: string;
  /** Accept positional arguments (e.g. input files). */
  allowPositionals?: boolean;
}

type Values<O extends ParseArgsConfig["options"]> = ReturnType<
  typeof parseArgs<{ options: O & typeof COMMON_OPTIONS; allowPositionals: true }>
>["values"];

/** What {@link loadConfig} returns: the config, the notebook's flag values and positionals. */
export interface Loaded<O extends ParseArgsConfig["options"]> {
  /** The resolved configuration. */
  config: Config;
  /** All flag values (common and the notebook's own). */
  flags: Values<O>;
  /** Positional arguments. */
  positionals: string[];
  /** True when --help was given. */
  help: boolean;
}

function processEnv(): Record<string, string | undefined> {
  try {
    return Deno.env.toObject();
  } catch {
    return {};
  }
}

function readDotenv(path: string | undefined, required: boolean): Record<string, string> {
  const file = path ?? projectPath(".env");
  try {
    return parseDotenv(readFileSync(file, "utf8"));
  } catch (e) {
    if (required) throw new ConfigError(`cannot read env file '${file}': ${(e as Error).message}`);
    return {};
  }
}

/**
 * Resolves the configuration from flags, env, .env and defaults.
 *
 * @example
 * ```ts
 * import { describeConfig, loadConfig } from "./config.ts";
 * const { config, flags } = loadConfig({
 *   tableName: "orders_raw",
 *   options: { "available-now": { type: "boolean" } },
 *   args: ["--available-now"], // default: Deno.args
 * });
 * flags["available-now"]; // true
 * describeConfig(config); // one line per setting; secrets print as ****
 * ```
 */
export function loadConfig<O extends ParseArgsConfig["options"] = Record<never, never>>(
  opts: LoadOptions<O> = {},
): Loaded<O> {
  let parsed;
  try {
    parsed = parseArgs({
      // `deno task x -- --flag` passes the "--" through; drop a leading one.
      args: dropLeadingDashes(opts.args ?? Deno.args),
      options: { ...COMMON_OPTIONS, ...(opts.options ?? {}) } as O & typeof COMMON_OPTIONS,
      allowPositionals: true,
      strict: true,
    });
  } catch (e) {
    throw new ConfigError(`${(e as Error).message} (see --help)`);
  }
  const flags = parsed.values as Values<O>;
  if (!opts.allowPositionals && parsed.positionals.length > 0) {
    throw new ConfigError(`unexpected argument '${parsed.positionals[0]}' (see --help)`);
  }
  const f = flags as Record<string, unknown>;
  const envFileFlag = f["env-file"] as string | undefined;
  const fileEnv = readDotenv(envFileFlag ?? opts.envFile, envFileFlag !== undefined);
  const env = { ...fileEnv, ...stripEmpty(opts.env ?? processEnv()) };
  // The ADLS storage reads its credentials from the process environment: hand it the .env ones.
  if (!opts.env) {
    for (const [k, v] of Object.entries(fileEnv)) {
      if (k.startsWith("AZURE_") && !Deno.env.get(k)) Deno.env.set(k, v);
    }
  }
  const pick = (flag: string, name: string, dflt?: string): string | undefined =>
    (f[flag] as string | undefined) ?? env[name] ?? dflt;

  const servers = pick("bootstrap-servers", "KAFKA_BOOTSTRAP_SERVERS", DEFAULTS.bootstrapServers)!
    .split(",").map((s) => s.trim()).filter((s) => s !== "");
  if (servers.length === 0) throw new ConfigError("KAFKA_BOOTSTRAP_SERVERS is empty");
  for (const s of servers) {
    if (!/^[^\s:]+:\d+$/.test(s) && !/^\[[0-9a-fA-F:]+\]:\d+$/.test(s)) {
      throw new ConfigError(`bootstrap server '${s}' is not host:port`);
    }
  }
  const apiKey = env.KAFKA_API_KEY;
  const apiSecret = env.KAFKA_API_SECRET;
  const protoText = (pick("security-protocol", "KAFKA_SECURITY_PROTOCOL") ??
    (apiKey ? "SASL_SSL" : "PLAINTEXT")).toUpperCase();
  if (protoText !== "PLAINTEXT" && protoText !== "SASL_SSL") {
    throw new ConfigError(
      `security protocol '${protoText}' is not supported: use PLAINTEXT or SASL_SSL`,
    );
  }
  const securityProtocol = protoText as SecurityProtocol;
  const kafka: KafkaSettings = {
    bootstrapServers: servers,
    securityProtocol,
    clientId: pick("client-id", "KAFKA_CLIENT_ID", DEFAULTS.clientId)!,
  };
  const caFile = pick("ca-file", "KAFKA_CA_FILE");
  if (caFile) kafka.caFile = caFile;
  if (securityProtocol === "SASL_SSL") {
    const mechanism = (env.KAFKA_SASL_MECHANISM ?? "PLAIN").toUpperCase();
    if (mechanism !== "PLAIN") {
      throw new ConfigError(`SASL mechanism '${mechanism}' is not supported: use PLAIN`);
    }
    if (!apiKey || !apiSecret) {
      throw new ConfigError(
        "SASL_SSL needs KAFKA_API_KEY and KAFKA_API_SECRET (in the environment or .env)",
      );
    }
    kafka.sasl = {
      mechanism: "plain",
      username: new Secret(apiKey),
      password: new Secret(apiSecret),
    };
  }
  // In Jupyter the kernel runs in notebooks/: relative defaults mean the project root there.
  const lakehouse = pick("lakehouse", "LAKEHOUSE", projectPath(DEFAULTS.lakehouse))!
    .replace(/\/+$/, "");
  const config: Config = {
    kafka,
    topic: pick("topic", "KAFKA_TOPIC", DEFAULTS.topic)!,
    outputTopic: pick("output-topic", "KAFKA_OUTPUT_TOPIC", DEFAULTS.outputTopic)!,
    lakehouse,
  };
  const table = (f.table as string | undefined) ??
    (opts.tableName ? `${lakehouse}/${opts.tableName}` : undefined);
  if (table) config.table = table;
  return { config, flags, positionals: parsed.positionals, help: Boolean(f.help) };
}

function dropLeadingDashes(args: string[]): string[] {
  return args[0] === "--" ? args.slice(1) : args;
}

function stripEmpty(env: Record<string, string | undefined>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(env)) if (v !== undefined && v !== "") out[k] = v;
  return out;
}

/** One-line-per-setting description of a config, secrets redacted. */
export function describeConfig(config: Config): string {
  const k = config.kafka;
  const lines = [
    `bootstrap servers  ${k.bootstrapServers.join(",")}`,
    `security protocol  ${k.securityProtocol}${
      k.sasl ? ` (SASL PLAIN, key ${redactKey(k.sasl.username.reveal())}, secret ****)` : ""
    }`,
    ...(k.caFile ? [`ca file            ${k.caFile}`] : []),
    `client id          ${k.clientId}`,
    `topic              ${config.topic}`,
    `output topic       ${config.outputTopic}`,
    `lakehouse          ${config.lakehouse}`,
    ...(config.table ? [`table              ${config.table}`] : []),
  ];
  return lines.join("\n");
}

/** Shows only the first 4 characters of an API key (keys identify accounts; not secret, not shown whole). */
function redactKey(key: string): string {
  return key.length <= 4 ? "****" : `${key.slice(0, 4)}****`;
}

/** Help text for the common flags, to append to a notebook's own usage. */
export const COMMON_HELP = `Common options (flags override env and .env):
  --bootstrap-servers H:P[,H:P]  Kafka brokers            [KAFKA_BOOTSTRAP_SERVERS, localhost:9092]
  --security-protocol P          PLAINTEXT | SASL_SSL     [KAFKA_SECURITY_PROTOCOL]
  --ca-file FILE                 extra CA certificates    [KAFKA_CA_FILE]
  --client-id ID                 Kafka client id          [KAFKA_CLIENT_ID, retail-orders]
  --topic T                      input topic              [KAFKA_TOPIC, retail-data-new]
  --output-topic T               output topic             [KAFKA_OUTPUT_TOPIC, processed_orders]
  --lakehouse DIR|URL            where tables live        [LAKEHOUSE, ./lakehouse]
  --table DIR|URL                this notebook's table    [<lakehouse>/<table>]
  --env-file FILE                read variables from FILE [.env]
  -h, --help                     show this help
  SASL_SSL credentials come only from env/.env: KAFKA_API_KEY, KAFKA_API_SECRET.`;
