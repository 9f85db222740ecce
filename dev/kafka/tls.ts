/**
 * A throw-away certificate authority and server certificate for the local broker's SASL_SSL
 * listener, made with `openssl` once per state directory and reused afterwards.
 *
 * Files under `<dir>`: `ca.pem` (the CA certificate clients pass as KAFKA_CA_FILE), `ca.key`,
 * `server.pem` (the broker's key and certificate chain, Kafka's PEM keystore). Keys are
 * unencrypted P-256 keys, mode 0600; the server certificate names `localhost` and `127.0.0.1`.
 *
 * @module
 */
import { join, resolve } from "node:path";
import { UserError } from "../../lib/errors.ts";

/** `openssl` failed or is missing; the message says what to install. */
export class TlsSetupError extends UserError {
  /** Error kind, for `catch` blocks and log lines. */
  override name = "TlsSetupError";
}

/** Paths of the generated TLS material. */
export interface TlsFiles {
  /** Directory holding the files. */
  dir: string;
  /** PEM certificate of the throw-away CA: what clients must trust (KAFKA_CA_FILE). */
  caFile: string;
  /** PEM private key of the CA (0600). */
  caKeyFile: string;
  /** Kafka PEM keystore: the server's private key, then its certificate and the CA (0600). */
  keystoreFile: string;
}

/** Names the server certificate is valid for (subjectAltName). */
export const SERVER_NAMES = ["DNS:localhost", "IP:127.0.0.1"] as const;

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return false;
    throw e;
  }
}

async function openssl(args: string[], cwd: string): Promise<void> {
  let out: Deno.CommandOutput;
  try {
    out = await new Deno.Command("openssl", {
      args,
      cwd,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).output();
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) {
      throw new TlsSetupError(
        "'openssl' not found: install it (apt-get install openssl) to make the SASL_SSL " +
          "listener's certificates, or start the broker with --no-sasl-ssl",
      );
    }
    throw e;
  }
  if (out.code !== 0) {
    const err = new TextDecoder().decode(out.stderr).trim().split("\n").slice(-2).join(" | ");
    throw new TlsSetupError(`openssl ${args[0]} failed (exit ${out.code}): ${err}`);
  }
}

/**
 * Makes (once) a CA and a server certificate for `localhost`/`127.0.0.1` signed by it, and
 * returns their paths; later calls reuse the files, so clients keep trusting the same CA.
 *
 * @example
 * ```ts
 * const tls = await ensureTls(".cache/kafka/tls");
 * console.log(`KAFKA_CA_FILE=${tls.caFile}`);
 * ```
 */
export async function ensureTls(dir: string): Promise<TlsFiles> {
  const root = resolve(dir);
  const files: TlsFiles = {
    dir: root,
    caFile: join(root, "ca.pem"),
    caKeyFile: join(root, "ca.key"),
    keystoreFile: join(root, "server.pem"),
  };
  if (await exists(files.caFile) && await exists(files.keystoreFile)) return files;

  await Deno.mkdir(root, { recursive: true }); // ca.pem is public; the keys are 0600 each
  const work = await Deno.makeTempDir({ dir: root, prefix: ".gen-" });
  try {
    const ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"];
    await openssl([
      "req",
      "-x509",
      ...ec,
      "-keyout",
      "ca.key",
      "-out",
      "ca.pem",
      "-days",
      "3650",
      "-subj",
      `/CN=retail-orders local Kafka test CA ${crypto.randomUUID().slice(0, 8)}`,
      "-addext",
      "basicConstraints=critical,CA:TRUE",
      "-addext",
      "keyUsage=critical,keyCertSign,cRLSign",
    ], work);
    await openssl([
      "req",
      "-new",
      ...ec,
      "-keyout",
      "server.key",
      "-out",
      "server.csr",
      "-subj",
      "/CN=localhost",
    ], work);
    await Deno.writeTextFile(
      join(work, "server.ext"),
      [
        "basicConstraints=critical,CA:FALSE",
        "keyUsage=critical,digitalSignature",
        "extendedKeyUsage=serverAuth",
        `subjectAltName=${SERVER_NAMES.join(",")}`,
        "",
      ].join("\n"),
    );
    await openssl([
      "x509",
      "-req",
      "-in",
      "server.csr",
      "-CA",
      "ca.pem",
      "-CAkey",
      "ca.key",
      "-set_serial",
      `0x${crypto.randomUUID().replaceAll("-", "").slice(0, 16)}`,
      "-days",
      "825",
      "-sha256",
      "-extfile",
      "server.ext",
      "-out",
      "server.crt",
    ], work);
    const [key, crt, ca] = await Promise.all(
      ["server.key", "server.crt", "ca.pem"].map((f) => Deno.readTextFile(join(work, f))),
    );
    // Kafka's PEM keystore: the (unencrypted PKCS#8) key first, then the chain.
    await Deno.writeTextFile(
      join(work, "server.pem"),
      `${key.trim()}\n${crt.trim()}\n${ca.trim()}\n`,
      {
        mode: 0o600,
      },
    );
    await Deno.chmod(join(work, "server.pem"), 0o600);
    await Deno.chmod(join(work, "ca.key"), 0o600);
    await Deno.chmod(join(work, "ca.pem"), 0o644);
    // The keystore last: its presence marks a complete set.
    await Deno.rename(join(work, "ca.key"), files.caKeyFile);
    await Deno.rename(join(work, "ca.pem"), files.caFile);
    await Deno.rename(join(work, "server.pem"), files.keystoreFile);
  } finally {
    await Deno.remove(work, { recursive: true }).catch(() => {});
  }
  return files;
}
