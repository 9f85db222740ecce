import assert from "node:assert/strict";
import { DurationError, formatDuration, parseDuration } from "../../lib/engine/duration.ts";

Deno.test("parseDuration reads the forms people write", () => {
  assert.equal(parseDuration("1 minute"), 60_000);
  assert.equal(parseDuration("10 minutes"), 600_000);
  assert.equal(parseDuration("30s"), 30_000);
  assert.equal(parseDuration("2h"), 7_200_000);
  assert.equal(parseDuration("1.5 hours"), 5_400_000);
  assert.equal(parseDuration("500ms"), 500);
  assert.equal(parseDuration("250"), 250);
  assert.throws(() => parseDuration("soon"), DurationError);
  assert.throws(() => parseDuration("5 fortnights"), DurationError);
});

Deno.test("formatDuration uses the largest whole unit", () => {
  assert.equal(formatDuration(60_000), "1m");
  assert.equal(formatDuration(600_000), "10m");
  assert.equal(formatDuration(90_000), "90s");
  assert.equal(formatDuration(86_400_000), "1d");
  assert.equal(formatDuration(1500), "1500ms");
});
