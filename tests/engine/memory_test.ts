import assert from "node:assert/strict";
import { memoryTrimmer, trimNativeMemory } from "../../lib/engine/memory.ts";

Deno.test("trimNativeMemory gives glibc's free pages back on Linux (where the streams run)", () => {
  // CI and the soak run on Linux with glibc and -A: the trim must be live there.
  assert.equal(trimNativeMemory(), Deno.build.os === "linux");
});

Deno.test("memoryTrimmer trims at most once per period", () => {
  let t = 1_000_000;
  const after = memoryTrimmer(30_000, () => t);
  const live = Deno.build.os === "linux";
  assert.equal(after(), live, "the first call trims");
  t += 29_999;
  assert.equal(after(), false, "29.999 s later: not yet");
  t += 1;
  assert.equal(after(), live, "30 s after the first: again");
  assert.equal(after(), false);
});
