// Helpers of the in-process benchmark scripts (decode_bench.ts, encode_bench.ts); not a bench.
import process from "node:process";

/** CPU time of this process so far (user + system), µs. */
export function cpuMicros(): number {
  const u = process.cpuUsage();
  return u.user + u.system;
}

/** The median of `xs`. */
export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 === 1 ? s[s.length >> 1] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

/** The V8 flags this process was started with (from /proc, where there is one). */
export function v8Flags(): string | undefined {
  try {
    const args = Deno.readTextFileSync("/proc/self/cmdline").split("\0");
    return args.find((a) => a.startsWith("--v8-flags="))?.slice(11);
  } catch {
    return undefined;
  }
}
