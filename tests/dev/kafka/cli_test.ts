/**
 * The local broker's CLI (`deno task kafka:up` / `kafka:down`): usage, `status` of a state dir
 * with no broker, and a missing prerequisite as one line with exit code 2. No broker is started.
 */

import assert from "node:assert/strict";
import { freePort } from "../../support/kafka.ts";
import { cli } from "./_cli.ts";

Deno.test("no command prints the usage and exits 1; --help exits 0", async () => {
  const none = await cli([]);
  assert.equal(none.code, 1);
  assert.match(none.stdout, /^usage: dev\/kafka\/cli\.ts up\|down\|status /);
  const help = await cli(["--help"]);
  assert.equal(help.code, 0);
  assert.match(help.stdout, /^usage: /);
});

Deno.test("status and down of a state dir with no broker: exit 3, then 0", async () => {
  const dir = await Deno.makeTempDir({ prefix: "kafka-broker-test-" });
  try {
    const status = await cli(["status", "--dir", dir, "--port", String(freePort())]);
    assert.equal(status.code, 3, status.stderr);
    assert.match(status.stdout, new RegExp(`^not running from ${dir}`));
    const down = await cli(["down", "--dir", dir]);
    assert.equal(down.code, 0, down.stderr);
    assert.match(down.stdout, new RegExp(`^no Kafka running from ${dir}`));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a missing java gives one line and exit code 2", async () => {
  const dir = await Deno.makeTempDir({ prefix: "kafka-broker-test-" });
  try {
    const r = await cli(["up", "--dir", dir, "--port", String(freePort())], {
      JAVA_HOME: "/nonexistent-jdk",
    });
    assert.equal(r.code, 2);
    const lines = r.stderr.trim().split("\n").filter((l) =>
      !/TimeoutNegativeWarning|Timeout duration/.test(l)
    );
    assert.equal(lines.length, 1, r.stderr);
    assert.match(lines[0], /^ToolMissingError: .*java.*JDK 17/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
