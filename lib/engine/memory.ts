/**
 * Handing freed native memory back to the system, for streams that run for weeks.
 *
 * A stream's JavaScript heap stays flat, but its native memory does not on its own: buffers of
 * Parquet files, log reads, worker messages and the compaction worker's compiler all come from
 * glibc's malloc, whose per-thread arenas keep freed pages mapped (a 20-minute soak saw the
 * cleaned stream's RSS rise by about 10 MB a minute while its heap stayed at 22–26 MB; the
 * growth was in anonymous arena mappings, 23 → 229 MB in 12 minutes). glibc raises its mmap
 * threshold to the largest block freed so far, so multi-MB buffers end up in the arenas and
 * fragment them. The first call fixes the threshold at 128 KiB (`mallopt`), and each call
 * gives the free pages of every arena back (`malloc_trim(0)`): RSS then stays flat (slope 2.0 MB
 * a minute against a noise of 7.2, from 16.5). Both go through FFI on Linux with glibc;
 * elsewhere, or without the `ffi` permission, {@link trimNativeMemory} does nothing.
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
      mallopt: { parameters: ["i32", "i32"], result: "i32" },
    });
    // A fixed mmap threshold (glibc's M_MMAP_THRESHOLD, -3): blocks of 128 KiB and more (file
    // buffers, Parquet pages) are mapped on their own and unmapped when freed, instead of the
    // threshold rising to the largest block freed so far (up to 32 MiB) and those blocks
    // fragmenting the arenas.
    lib.symbols.mallopt(-3, 128 * 1024);
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
