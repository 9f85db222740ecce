/**
 * Probes of a local broker from the outside: is a loopback port free to listen on, does a broker
 * at an address answer metadata requests, and waiting until a starting one does (or dies).
 *
 * @module
 */
import { Kafka, logLevel } from "kafkajs";
import { readText, sleep } from "./_io.ts";
import { BrokerStartError } from "./errors.ts";
import { isAlive } from "./pid.ts";
import { HOST } from "./state_dir.ts";

/**
 * True when a kafkajs admin gets metadata listing at least one broker within `timeoutMs`.
 *
 * @example
 * ```ts
 * if (!(await answers("127.0.0.1:9092"))) console.log("run: deno task kafka:up");
 * ```
 */
export async function answers(bootstrap: string, timeoutMs = 3000): Promise<boolean> {
  const kafka = new Kafka({
    clientId: "local-broker-probe",
    brokers: [bootstrap],
    logLevel: logLevel.NOTHING,
    connectionTimeout: Math.min(timeoutMs, 1000),
    requestTimeout: timeoutMs,
    retry: { retries: 0 },
  });
  const admin = kafka.admin({ retry: { retries: 0 } });
  try {
    await admin.connect();
    const cluster = await admin.describeCluster();
    return cluster.brokers.length > 0;
  } catch {
    return false;
  } finally {
    await admin.disconnect().catch(() => {});
  }
}

/** True when nothing listens on `port` of the loopback address (checked by listening briefly). */
export function portFree(port: number): boolean {
  try {
    const listener = Deno.listen({ hostname: HOST, port });
    listener.close();
    return true;
  } catch (e) {
    if (e instanceof Deno.errors.AddrInUse) return false;
    throw e;
  }
}

async function tail(file: string, lines = 25): Promise<string> {
  const text = (await readText(file)) ?? "";
  return text.trimEnd().split("\n").slice(-lines).join("\n");
}

/**
 * Waits until the broker at `bootstrap` (process `pid`, logging to `logFile`) serves metadata;
 * a BrokerStartError with the log's last lines when it exits first or `timeoutMs` passes.
 */
export async function waitReady(
  bootstrap: string,
  pid: number,
  logFile: string,
  timeoutMs: number,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (true) {
    if (!(await isAlive(pid))) {
      throw new BrokerStartError(
        `the broker (pid ${pid}) exited during startup; last lines of ${logFile}:\n${await tail(
          logFile,
        )}`,
        logFile,
      );
    }
    if (await answers(bootstrap, 2000)) return;
    if (Date.now() > deadline) {
      throw new BrokerStartError(
        `the broker (pid ${pid}) did not serve metadata on ${bootstrap} within ${
          Math.round(timeoutMs / 1000)
        } s; last lines of ${logFile}:\n${await tail(logFile)}`,
        logFile,
      );
    }
    await sleep(250);
  }
}
