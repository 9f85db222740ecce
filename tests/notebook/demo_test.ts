import assert from "node:assert/strict";
import { pathToFileURL } from "node:url";
import { DemoStepError, outputTail, runStep } from "../../lib/notebook/demo.ts";

Deno.test("demo: a step's tail skips blank lines and kafkajs timer warnings", () => {
  const text = "one\n\n  \n(node) TimeoutNegativeWarning: -1 is negative\ntwo\nthree\n";
  assert.deepEqual(outputTail(text, 2), ["two", "three"]);
  assert.deepEqual(outputTail(text, 10), ["one", "two", "three"]);
});

Deno.test("demo: runStep shows the last lines, skips a missing script, stops on a failure", async () => {
  const dir = await Deno.makeTempDir({ prefix: "demo-" });
  try {
    await Deno.writeTextFile(
      `${dir}/ok.ts`,
      "console.log('a'); console.log(''); console.error('b ' + Deno.args.join(','));",
    );
    await Deno.writeTextFile(`${dir}/fail.ts`, "console.log('broken'); Deno.exit(3);");
    const printed: string[] = [];
    const logged: string[] = [];
    const options = {
      base: pathToFileURL(`${dir}/`),
      print: (l: string) => printed.push(l),
      log: (tag: string, m: string) => logged.push(`${tag}: ${m}`),
    };

    await runStep({ title: "ok", script: "ok.ts", args: ["x", "y"], tail: 5 }, options);
    assert.deepEqual(printed, ["    a", "    b x,y"], "stdout, then stderr, indented");

    await runStep({ title: "later", script: "missing.ts", args: [], tail: 5 }, options);
    await assert.rejects(
      () => runStep({ title: "fail", script: "fail.ts", args: [], tail: 1 }, options),
      new DemoStepError("fail failed (exit 3); see the lines above"),
    );
    assert.deepEqual(printed.at(-1), "    broken");
    assert.deepEqual(logged, [
      "step: ok",
      "skip: later: missing.ts is not there yet",
      "step: fail",
    ]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
