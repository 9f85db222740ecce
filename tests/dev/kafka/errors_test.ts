/**
 * The local broker's errors say what to do in their message, so each is a UserError (shown as
 * one line, no stack trace) and keeps its own name for `catch` blocks and the CLI's output.
 */

import assert from "node:assert/strict";
import { isUserError } from "../../../lib/errors.ts";
import {
  BrokerStartError,
  JarsUnavailableError,
  PortInUseError,
  TlsSetupError,
  ToolMissingError,
} from "../../../dev/kafka/mod.ts";

Deno.test("every broker error is a UserError with its own name", () => {
  const errors = [
    new ToolMissingError("'mvn' not found"),
    new JarsUnavailableError("no Maven Central"),
    new PortInUseError("port taken"),
    new BrokerStartError("exited", "/tmp/broker.log"),
    new TlsSetupError("'openssl' not found"),
  ];
  assert.deepEqual(errors.map((e) => isUserError(e)), [true, true, true, true, true]);
  assert.deepEqual(errors.map((e) => e.name), [
    "ToolMissingError",
    "JarsUnavailableError",
    "PortInUseError",
    "BrokerStartError",
    "TlsSetupError",
  ]);
  assert.equal((errors[3] as BrokerStartError).logFile, "/tmp/broker.log");
});
