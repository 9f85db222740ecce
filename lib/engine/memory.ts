/**
 * Handing freed native memory back to the system, for streams that run for weeks.
 *
 * A stream's JavaScript heap stays flat, but its native memory does not on its own: buffers of
 * Parquet files, log reads, worker messages and the compaction worker's compiler all come from
 * glibc's malloc, whose per-thread arenas keep freed pages mapped (a 20-minute soak saw the
 * cleaned stream's RSS rise by about 10 MB a minute while its heap stayed at 22–26 MB; the
 * growth was in anonymous arena mappings). `malloc_trim(0)` gives the free pages of every
 * arena back. It is called through FFI on Linux with glibc; elsewhere, or without the `ffi`
 * permission, {@link trimNativeMemory} does nothing.
 *
 * @module
 */

type Trim = (pad: bigint) => number;

let trim: Trim | null | undefined;

function loadTrim(): Trim | null {
  if (Deno.build.os !== "linux") return null;
  try {
    const lib = Deno.dlopen("libc.so.6", {
      malloc_trim: { parameters: ["usize"], result: "i32" },
    });
    return (pad) => lib.symbols.malloc_trim(pad);
  } catch {
    return null; // not glibc, or no --allow-ffi
  }
}

/**
 * Returns the free pages of glibc's malloc arenas to the system (`malloc_trim(0)`); true when
 * it could run here. Cheap (a walk of the arenas' free lists, milliseconds).
 *
 * @example
 * ```ts
 * import { trimNativeMemory } from "./memory.ts";
 * trimNativeMemory(); // true on Linux with glibc and --allow-ffi
 * ```
 */
export function trimNativeMemory(): boolean {
  if (trim === undefined) trim = loadTrim();
  if (!trim) return false;
  trim(0n);
  return true;
}

/**
 * A trimmer that runs {@link trimNativeMemory} at most once per `everyMs` (default 30 s), for
 * a run loop to call after each batch; each call says whether it trimmed.
 *
 * @example
 * ```ts
 * import { memoryTrimmer } from "./memory.ts";
 * const after = memoryTrimmer(30_000);
 * after(); // true on Linux with glibc: the first call trims
 * after(); // false: less than 30 s since
 * ```
 */
export function memoryTrimmer(everyMs = 30_000, now: () => number = Date.now): () => boolean {
  let last = -Infinity;
  return () => {
    const t = now();
    if (t - last < everyMs) return false;
    last = t;
    return trimNativeMemory();
  };
}
