import assert from "node:assert/strict";
import { ConfigError } from "../../lib/config.ts";
import { parseProducerOptions } from "../../lib/orders/producer_options.ts";

Deno.test("producer options: defaults are 3 partitions, 2000 orders per send, progress on", () => {
  assert.deepEqual(parseProducerOptions({}), { partitions: 3, batchSize: 2000, quiet: false });
});

Deno.test("producer options: flags are read", () => {
  assert.deepEqual(
    parseProducerOptions({ partitions: "6", "batch-size": "500", quiet: true }),
    { partitions: 6, batchSize: 500, quiet: true },
  );
});

Deno.test("producer options: a count below 1 or not a whole number is a ConfigError", () => {
  for (
    const [flags, message] of [
      [{ partitions: "0" }, "--partitions must be ≥ 1"],
      [{ partitions: "two" }, "--partitions must be ≥ 1"],
      [{ "batch-size": "1.5" }, "--batch-size must be ≥ 1"],
      [{ "batch-size": "" }, "--batch-size must be ≥ 1"],
    ] as const
  ) {
    assert.throws(() => parseProducerOptions(flags), new ConfigError(message));
  }
});
