/**
 * The KRaft node's config: the ports written into server.properties are read back by
 * `status`/`down` (no flags needed), and the ports a start picks by default.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { portsFromProps, resolvePorts, serverProperties } from "../../../dev/kafka/kraft.ts";
import { statePaths } from "../../../dev/kafka/state_dir.ts";

Deno.test("ports written by serverProperties are read back from the state dir", async () => {
  const dir = await Deno.makeTempDir({ prefix: "kafka-kraft-test-" });
  const p = statePaths({ dir });
  try {
    assert.deepEqual(await portsFromProps(p.props), {}, "no config yet");
    await Deno.writeTextFile(p.props, serverProperties(19092, 19093, join(dir, "data")));
    assert.deepEqual(await portsFromProps(p.props), {
      port: 19092,
      controllerPort: 19093,
      saslPort: undefined,
    });
    const sasl = { port: 19094, keystoreFile: "/k.pem", users: { a: "b" }, superUsers: [] };
    await Deno.writeTextFile(p.props, serverProperties(19092, 19093, join(dir, "data"), sasl));
    assert.deepEqual(await portsFromProps(p.props), {
      port: 19092,
      controllerPort: 19093,
      saslPort: 19094,
    });
    // The saved ports win over the defaults; a new --port moves the others along with it.
    assert.deepEqual(await resolvePorts({ saslSsl: true }, p), {
      port: 19092,
      controllerPort: 19093,
      saslPort: 19094,
    });
    assert.deepEqual(await resolvePorts({ port: 29092, saslSsl: true }, p), {
      port: 29092,
      controllerPort: 29093,
      saslPort: 29094,
    });
    assert.equal((await resolvePorts({ saslSsl: false }, p)).saslPort, undefined);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a fresh state dir defaults to 9092, 9093 and 9094", async () => {
  const dir = await Deno.makeTempDir({ prefix: "kafka-kraft-test-" });
  try {
    assert.deepEqual(await resolvePorts({ saslSsl: true }, statePaths({ dir })), {
      port: 9092,
      controllerPort: 9093,
      saslPort: 9094,
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
