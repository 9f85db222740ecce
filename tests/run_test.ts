import assert from "node:assert/strict";
import { summaryCounts } from "./run.ts";

Deno.test("summaryCounts reads deno test's last summary line, with or without colours", () => {
  assert.deepEqual(summaryCounts("x\nok | 12 passed (3 steps) | 0 failed (5s)\n"), {
    passed: 12,
    failed: 0,
  });
  const coloured =
    "\x1b[31mFAILED\x1b[0m | 44 passed | 2 failed | 1 ignored \x1b[38;5;245m(1m2s)\x1b[0m";
  assert.deepEqual(summaryCounts(`ok | 1 passed | 0 failed\n${coloured}\n`), {
    passed: 44,
    failed: 2,
  });
  assert.equal(summaryCounts("error: Module not found"), undefined);
});
