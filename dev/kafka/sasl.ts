/**
 * The SASL_SSL listener's users (SASL PLAIN over TLS, as Confluent Cloud): `client`, an ordinary
 * user, and `admin`, a super user for creating ACLs. Their passwords are generated at the first
 * start, kept across restarts and never printed; each user's env file (`<dir>/sasl.env`,
 * `<dir>/sasl-admin.env`, mode 0600) holds KAFKA_BOOTSTRAP_SERVERS, KAFKA_API_KEY,
 * KAFKA_API_SECRET and KAFKA_CA_FILE, for `--env-file`.
 *
 * @module
 */
import { join } from "node:path";
import { parseDotenv } from "../../lib/config.ts";
import { readText, writePrivate } from "./_io.ts";
import { portsFromProps } from "./kraft.ts";
import { HOST, type StatePaths } from "./state_dir.ts";
import { ensureTls } from "./tls.ts";

/** SASL user of ordinary clients (its credentials are in `<dir>/sasl.env`). */
export const SASL_CLIENT_USER = "client";
/** SASL super user, e.g. for creating ACLs (its credentials are in `<dir>/sasl-admin.env`). */
export const SASL_ADMIN_USER = "admin";

/** The SASL_SSL listener's settings for `serverProperties` (paths and users' passwords). */
export interface SaslListenerSettings {
  /** Listener port on 127.0.0.1. */
  port: number;
  /** Kafka PEM keystore (key, certificate, CA). */
  keystoreFile: string;
  /** user name -> password, for the listener's JAAS config. */
  users: Record<string, string>;
  /** Principals besides User:ANONYMOUS (PLAINTEXT) that bypass ACLs, e.g. `User:admin`. */
  superUsers: string[];
}

/** Where clients find the SASL_SSL listener and its credentials (never the passwords). */
export interface SaslListenerInfo {
  /** Bootstrap address of the SASL_SSL listener, e.g. `127.0.0.1:9094`. */
  bootstrap: string;
  /** PEM file of the throw-away CA that signed the listener's certificate. */
  caFile: string;
  /** Env file (0600) for the `client` user: bootstrap, security protocol, key, secret, CA file. */
  envFile: string;
  /** Env file (0600) for the `admin` super user, same variables. */
  adminEnvFile: string;
}

/** A password of 32 base64url characters (192 random bits). */
function newPassword(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(24));
  return btoa(String.fromCharCode(...bytes)).replaceAll("+", "-").replaceAll("/", "_");
}

/** The env file text giving a client the SASL_SSL listener as `user`. */
function saslEnvText(user: string, password: string, bootstrap: string, caFile: string): string {
  return [
    `# SASL_SSL listener of the local broker (dev/kafka/, deno task kafka:up), user '${user}'.`,
    "# Rewritten at every start; the password stays. Use: deno task produce -- --env-file <this>",
    `KAFKA_BOOTSTRAP_SERVERS=${bootstrap}`,
    "KAFKA_SECURITY_PROTOCOL=SASL_SSL",
    "KAFKA_SASL_MECHANISM=PLAIN",
    `KAFKA_API_KEY=${user}`,
    `KAFKA_API_SECRET=${password}`,
    `KAFKA_CA_FILE=${caFile}`,
    "",
  ].join("\n");
}

/** The password saved in an env file by an earlier start, if any. */
async function savedPassword(envFile: string): Promise<string | undefined> {
  const text = await readText(envFile);
  const secret = text === undefined ? undefined : parseDotenv(text).KAFKA_API_SECRET;
  return secret && /^[A-Za-z0-9_-]{16,}$/.test(secret) ? secret : undefined;
}

/**
 * Certificates, passwords and env files for the SASL_SSL listener on `port` (made once, then
 * reused), as the settings `serverProperties` needs.
 */
export async function prepareSasl(p: StatePaths, port: number): Promise<SaslListenerSettings> {
  const tls = await ensureTls(p.tls);
  const bootstrap = `${HOST}:${port}`;
  const users: Record<string, string> = {};
  for (const [user, file] of [[SASL_ADMIN_USER, p.adminEnv], [SASL_CLIENT_USER, p.saslEnv]]) {
    users[user] = (await savedPassword(file)) ?? newPassword();
    await writePrivate(file, saslEnvText(user, users[user], bootstrap, tls.caFile));
  }
  return {
    port,
    keystoreFile: tls.keystoreFile,
    users,
    superUsers: [`User:${SASL_ADMIN_USER}`],
  };
}

/** The SASL_SSL listener a state dir's config has, described for clients. */
export async function saslInfo(p: StatePaths): Promise<SaslListenerInfo | undefined> {
  const { saslPort } = await portsFromProps(p.props);
  if (saslPort === undefined) return undefined;
  return {
    bootstrap: `${HOST}:${saslPort}`,
    caFile: join(p.tls, "ca.pem"),
    envFile: p.saslEnv,
    adminEnvFile: p.adminEnv,
  };
}
