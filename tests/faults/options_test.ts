// The --broker-timeout flag: default, seconds to ms, bad values refused.
import assert from "node:assert/strict";
import { ConfigError } from "../../lib/config.ts";
import { DEFAULT_BROKER_TIMEOUT_S, parseStreamOptions } from "../../lib/engine/options.ts";

Deno.test("--broker-timeout: default 300 s, given in seconds, positive integers only", () => {
  assert.equal(DEFAULT_BROKER_TIMEOUT_S, 300);
  assert.equal(parseStreamOptions({}, "q").brokerTimeoutMs, 300_000);
  assert.equal(parseStreamOptions({ "broker-timeout": "12" }, "q").brokerTimeoutMs, 12_000);
  for (const bad of ["0", "-5", "1.5", "ten"]) {
    assert.throws(
      () => parseStreamOptions({ "broker-timeout": bad }, "q"),
      (e) =>
        e instanceof ConfigError && /--broker-timeout must be a positive integer/.test(e.message),
      bad,
    );
  }
});
