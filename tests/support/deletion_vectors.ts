/**
 * Test-side writers of deletion vectors (the library only reads them): Z85 text, the
 * RoaringBitmapArray format, and inline descriptors, for tests that need a file with a DV.
 *
 * @module
 */

/** Test-side Z85 encoder (pads to a multiple of 4 bytes). */
export function z85(bytes: Uint8Array): string {
  const A = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ.-:+=^!/*?&<>()[]{}@%$#";
  const padded = new Uint8Array(Math.ceil(bytes.length / 4) * 4);
  padded.set(bytes);
  let out = "";
  for (let i = 0; i < padded.length; i += 4) {
    let v = ((padded[i] << 24) >>> 0) + (padded[i + 1] << 16) + (padded[i + 2] << 8) +
      padded[i + 3];
    const chunk: string[] = [];
    for (let k = 0; k < 5; k++) {
      chunk.unshift(A[v % 85]);
      v = Math.floor(v / 85);
    }
    out += chunk.join("");
  }
  return out;
}

/**
 * Test-side RoaringBitmapArray encoder: array containers, or run containers for `runs`, or a
 * bitmap container when a container holds more than 4096 values.
 */
export function bitmapArray(rows: number[], useRuns = false): Uint8Array {
  const byHigh = new Map<number, number[]>();
  for (const r of rows) {
    const h = Math.floor(r / 2 ** 32);
    byHigh.set(h, [...(byHigh.get(h) ?? []), r % 2 ** 32]);
  }
  const parts: number[] = [];
  const u8 = (v: number) => parts.push(v & 0xff);
  const u16 = (v: number) => (u8(v), u8(v >>> 8));
  const u32 = (v: number) => (u16(v & 0xffff), u16(v >>> 16));
  u32(1681511377);
  u32(byHigh.size);
  u32(0);
  for (const [high, lows] of byHigh) {
    u32(high);
    const containers = new Map<number, number[]>();
    for (const v of lows) {
      containers.set(v >>> 16, [...(containers.get(v >>> 16) ?? []), v & 0xffff]);
    }
    const keys = [...containers.keys()];
    if (useRuns) {
      u32(12347 | ((keys.length - 1) << 16));
      const flags = new Array(Math.ceil(keys.length / 8)).fill(0);
      keys.forEach((_, i) => (flags[i >> 3] |= 1 << (i & 7)));
      flags.forEach(u8);
    } else {
      u32(12346);
      u32(keys.length);
    }
    for (const k of keys) {
      u16(k);
      u16(containers.get(k)!.length - 1);
    }
    if (!useRuns || keys.length >= 4) keys.forEach(() => u32(0)); // offsets (unused by the reader)
    for (const k of keys) {
      const vals = containers.get(k)!;
      if (useRuns) {
        const runs: [number, number][] = [];
        for (const v of vals) {
          const last = runs.at(-1);
          if (last && v === last[0] + last[1] + 1) last[1]++;
          else runs.push([v, 0]);
        }
        u16(runs.length);
        for (const [st, len] of runs) (u16(st), u16(len));
      } else if (vals.length <= 4096) vals.forEach(u16);
      else {
        const bits = new Uint8Array(8192);
        for (const v of vals) bits[v >> 3] |= 1 << (v & 7);
        bits.forEach(u8);
      }
    }
  }
  return new Uint8Array(parts);
}

/** An inline (`i`) deletion vector descriptor deleting `rows` (positions in the data file). */
export function inlineDv(rows: number[]): {
  storageType: string;
  pathOrInlineDv: string;
  sizeInBytes: number;
  cardinality: number;
} {
  const bitmap = bitmapArray(rows);
  return {
    storageType: "i",
    pathOrInlineDv: z85(bitmap),
    sizeInBytes: bitmap.length,
    cardinality: rows.length,
  };
}
