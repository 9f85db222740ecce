/**
 * The Apache Kafka broker's jars, fetched from Maven Central with `mvn` (the POM next to this file,
 * `broker.pom.xml`, names them) into a libs directory shared by every state directory.
 *
 * Environment: `KAFKA_MAVEN_REPO_LOCAL` (a Maven local repo other than ~/.m2, e.g. to time a cold
 * download).
 *
 * @module
 */
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { readText, run, sha256 } from "./_io.ts";
import { JarsUnavailableError } from "./errors.ts";
import { DEFAULT_LIBS_DIR } from "./state_dir.ts";

/** Kafka version whose jars `broker.pom.xml` resolves. */
export const KAFKA_VERSION = "4.3.1";

const POM = fileURLToPath(new URL("./broker.pom.xml", import.meta.url));

/**
 * Copy the broker jars named by `broker.pom.xml` into `libsDir` with Maven, unless a previous run
 * with the same POM already did (a marker file records the POM's hash).
 *
 * @example
 * ```ts
 * const libs = await ensureJars();
 * console.log(`java -cp '${libs}/*' kafka.Kafka server.properties`);
 * ```
 */
export async function ensureJars(
  libsDir: string = DEFAULT_LIBS_DIR,
  log: (line: string) => void = () => {},
): Promise<string> {
  const libs = resolve(libsDir);
  const marker = join(libs, ".resolved");
  const pomHash = await sha256(await Deno.readTextFile(POM));
  if ((await readText(marker))?.trim() === pomHash) return libs;
  const args = [
    "-q",
    "-B",
    "-f",
    POM,
    "dependency:copy-dependencies",
    "-DincludeScope=runtime",
    `-DoutputDirectory=${libs}`,
  ];
  log(`resolving the Kafka ${KAFKA_VERSION} jars with Maven into ${libs}`);
  // A changed POM must not leave old jars (or a CDS archive of them) on the classpath.
  await Deno.mkdir(libs, { recursive: true });
  for await (const entry of Deno.readDir(libs)) {
    if (/\.(jar|jsa|part)$/.test(entry.name)) await Deno.remove(join(libs, entry.name));
  }
  const repo = Deno.env.get("KAFKA_MAVEN_REPO_LOCAL");
  if (repo) args.push(`-Dmaven.repo.local=${repo}`);
  const { code, out } = await run("mvn", args, "install Maven 3 (apt-get install maven)");
  if (code !== 0) {
    const ansi = new RegExp(`${String.fromCharCode(27)}\\[[0-9;]*m`, "g");
    const clean = out.replace(ansi, "");
    const reason = clean.split("\n").find((l) => /ERROR/.test(l))?.replace(/^\[ERROR\]\s*/, "") ??
      `mvn exit ${code}`;
    throw new JarsUnavailableError(
      `could not fetch the Kafka ${KAFKA_VERSION} jars with Maven (${
        reason.slice(0, 300)
      }); check that Maven Central (or the mirror in ~/.m2/settings.xml) is reachable`,
    );
  }
  await Deno.writeTextFile(marker, pomHash + "\n");
  return libs;
}
