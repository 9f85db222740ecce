/**
 * The broker's process, as the state directory knows it: the pid file, whether that pid is still
 * this directory's broker JVM, its memory, waiting for it to exit, and the start lock that lets
 * several test runs call `up` at once (one starts the broker, the others then find it).
 *
 * Liveness is read from Linux's `/proc`.
 *
 * @module
 */
import { join } from "node:path";
import { readText, sleep } from "./_io.ts";
import { BrokerStartError } from "./errors.ts";
import type { StatePaths } from "./state_dir.ts";

/** The pid in the pid file if that process is alive and is this dir's broker JVM. */
export async function livePid(p: StatePaths): Promise<number | undefined> {
  const text = await readText(p.pid);
  const pid = Number(text?.trim());
  if (!Number.isInteger(pid) || pid <= 0) return undefined;
  return (await isOurBroker(pid, p)) ? pid : undefined;
}

async function isOurBroker(pid: number, p: StatePaths): Promise<boolean> {
  if (!(await isAlive(pid))) return false;
  const cmdline = await readText(`/proc/${pid}/cmdline`);
  if (!cmdline) return false;
  const args = cmdline.split("\0");
  return args.includes("kafka.Kafka") && args.includes(p.props);
}

/** True while the process exists and is not a zombie. */
export async function isAlive(pid: number): Promise<boolean> {
  const stat = await readText(`/proc/${pid}/stat`);
  if (!stat) return false;
  const state = stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3);
  return state !== "Z" && state !== "X";
}

/** The process's command line arguments (empty when it is gone). */
export async function commandLine(pid: number): Promise<string[]> {
  const cmdline = (await readText(`/proc/${pid}/cmdline`)) ?? "";
  return cmdline.split("\0");
}

/** Resident memory of the process in KiB, when it runs. */
export async function rssKiB(pid: number): Promise<number | undefined> {
  const status = await readText(`/proc/${pid}/status`);
  const m = status?.match(/^VmRSS:\s+(\d+) kB$/m);
  return m ? Number(m[1]) : undefined;
}

/** Waits up to `timeoutMs` for the process to exit; true when it did. */
export async function waitUntilGone(pid: number, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (!(await isAlive(pid))) return true;
    await sleep(100);
  }
  return !(await isAlive(pid));
}

/** Sends `signal` to the process; a process that is already gone is fine. */
export function killQuietly(pid: number, signal: Deno.Signal): void {
  try {
    Deno.kill(pid, signal);
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
  }
}

/**
 * Run `fn` holding the state dir's start lock (a file with the holder's pid). A lock whose holder
 * is gone is taken over; one held longer than `timeoutMs` by a live process is an error.
 */
export async function withStartLock<T>(
  p: StatePaths,
  timeoutMs: number,
  fn: () => Promise<T>,
): Promise<T> {
  const lock = join(p.dir, "broker.lock");
  const deadline = Date.now() + timeoutMs;
  while (true) {
    try {
      const file = await Deno.open(lock, { createNew: true, write: true });
      await file.write(new TextEncoder().encode(`${Deno.pid}\n`));
      file.close();
      break;
    } catch (e) {
      if (!(e instanceof Deno.errors.AlreadyExists)) throw e;
    }
    const holder = Number((await readText(lock))?.trim() || NaN);
    const age = Date.now() -
      ((await Deno.stat(lock).catch(() => undefined))?.mtime?.getTime() ?? 0);
    const stale = Number.isInteger(holder) ? !(await isAlive(holder)) : age > 5000;
    if (stale) {
      await Deno.remove(lock).catch(() => {});
      continue;
    }
    if (Date.now() > deadline) {
      throw new BrokerStartError(
        `another start (pid ${holder}) has held ${lock} for too long; wait for it, or remove the ` +
          "lock file if that process is stuck",
        p.log,
      );
    }
    await sleep(200);
  }
  try {
    return await fn();
  } finally {
    await Deno.remove(lock).catch(() => {});
  }
}
