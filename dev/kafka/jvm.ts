/**
 * The broker's JVM: which `java` runs it, the check that it is 17+, the JVM flags, and the
 * class-data-sharing (CDS) archive that roughly halves the start-up CPU of every start after
 * the first.
 *
 * Environment: `JAVA_HOME` (else `java` on PATH); `KAFKA_BROKER_CDS=0` (no CDS archive; by
 * default the first broker records one in the libs dir when it stops, and later starts reuse it).
 *
 * @module
 */
import { join } from "node:path";
import { run, sha256 } from "./_io.ts";
import { ToolMissingError } from "./errors.ts";
import { KAFKA_VERSION } from "./jars.ts";

/** JVM flags sized for a small shared machine: small heap, serial GC. */
export const JVM_OPTS: readonly string[] = [
  "-Xms128m",
  "-Xmx512m",
  "-XX:+UseSerialGC",
  "-XX:+ExitOnOutOfMemoryError",
  "-Djava.awt.headless=true",
  // slf4j-simple: timestamps, and no 60-line config dumps at every component start.
  "-Dorg.slf4j.simpleLogger.showDateTime=true",
  "-Dorg.slf4j.simpleLogger.dateTimeFormat=yyyy-MM-dd'T'HH:mm:ss.SSS",
  "-Dorg.slf4j.simpleLogger.log.org.apache.kafka.common.config.AbstractConfig=warn",
];

/** The `java` to run: `$JAVA_HOME/bin/java`, else `java` from PATH. */
export function javaBin(): string {
  const home = Deno.env.get("JAVA_HOME");
  return home ? join(home, "bin", "java") : "java";
}

/** Check `java` is 17+; returns its `-version` text (identifies the JVM build for CDS). */
export async function checkJava(): Promise<string> {
  const hint = "install a JDK 17+ (apt-get install openjdk-17-jdk-headless) or set JAVA_HOME";
  const { code, out } = await run(javaBin(), ["-version"], hint);
  const m = out.match(/version "(\d+)(?:\.(\d+))?/);
  const major = m ? (m[1] === "1" ? Number(m[2]) : Number(m[1])) : NaN;
  if (code !== 0 || !(major >= 17)) {
    throw new ToolMissingError(
      `Kafka ${KAFKA_VERSION} needs Java 17+, '${javaBin()} -version' says: ${
        out.split("\n")[0] || `exit ${code}`
      }; ${hint}`,
    );
  }
  return out;
}

const RECORD = "-XX:ArchiveClassesAtExit=";

/**
 * Class-data-sharing flags: reuse the archive of the broker's classes when one exists for this
 * JVM build, else record one when this broker exits (roughly halves the next start's CPU time).
 * `KAFKA_BROKER_CDS=0` turns this off.
 */
export async function cdsArgs(libs: string, javaVersion: string): Promise<string[]> {
  if (Deno.env.get("KAFKA_BROKER_CDS") === "0") return [];
  const archive = join(libs, `kafka-${(await sha256(javaBin() + javaVersion)).slice(0, 12)}.jsa`);
  try {
    await Deno.stat(archive);
    return [`-XX:SharedArchiveFile=${archive}`];
  } catch {
    return [`${RECORD}${archive}.${crypto.randomUUID().slice(0, 8)}.part`];
  }
}

/** The partial archive a JVM with these arguments records at exit, if it records one. */
export function cdsRecording(jvmArgs: readonly string[]): string | undefined {
  return jvmArgs.find((a) => a.startsWith(RECORD))?.slice(RECORD.length);
}

/** After a broker that recorded a CDS archive exited: keep the first complete one, drop the rest. */
export async function settleCdsArchive(part: string | undefined, complete: boolean): Promise<void> {
  if (!part) return;
  const archive = part.replace(/\.[0-9a-f]{8}\.part$/, "");
  const size = (await Deno.stat(part).catch(() => undefined))?.size ?? 0;
  const exists = await Deno.stat(archive).then(() => true, () => false);
  if (complete && size > 0 && !exists) await Deno.rename(part, archive);
  else await Deno.remove(part).catch(() => {});
}
