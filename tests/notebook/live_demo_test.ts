/**
 * The live demo's process handling (lib/notebook/live_demo.ts) with small real scripts: a stop
 * signals every process once, in stage order, and each ends by itself (exit 0, no kill); a
 * process that ends on its own stops the others and is reported.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { liveProcesses, runLive } from "../../lib/notebook/live_demo.ts";

const WAITER = `
const name = Deno.args[0];
Deno.addSignalListener("SIGINT", async () => {
  await Deno.writeTextFile(Deno.args[1] + "/" + name + ".stopped", String(Date.now()));
  Deno.exit(0);
});
await Deno.writeTextFile(Deno.args[1] + "/" + name + ".up", "");
setInterval(() => {}, 1000);
`;

Deno.test("live demo: the feed, three streams and the dashboard with their ports", () => {
  const ps = liveProcesses({ rate: 20, port: 9000 });
  assert.deepEqual(ps.map((p) => [p.name, p.stage]), [
    ["feed", 0],
    ["raw", 1],
    ["cleaned", 1],
    ["producer", 1],
    ["dashboard", 2],
  ]);
  assert.deepEqual(ps[0].args.slice(0, 2), ["--rate", "20"]);
  assert.deepEqual(ps[4].args, [
    "--port",
    "9000",
    "--metrics",
    "raw=9101,cleaned=9102,producer=9103",
  ]);
});

Deno.test("live demo: a stop signals each process once, in stage order; an early exit stops the rest", async () => {
  const dir = await Deno.makeTempDir({ prefix: "live-demo-" });
  try {
    await Deno.writeTextFile(join(dir, "waiter.ts"), WAITER);
    await Deno.writeTextFile(
      join(dir, "quits.ts"),
      // Ends by itself once d is up (so d has its signal listener when it is stopped).
      `while (!(await Deno.stat(${
        JSON.stringify(join(dir, "d.up"))
      }).then(() => true, () => false))) {
  await new Promise((r) => setTimeout(r, 50));
}`,
    );
    const proc = (name: string, stage: number) => ({
      name,
      title: name,
      script: "waiter.ts",
      args: [name, dir],
      stage,
    });
    const stop = new AbortController();
    const up = (async () => {
      for (;;) {
        const ready = await Promise.all(
          ["a", "b", "c"].map((n) => Deno.stat(join(dir, `${n}.up`)).then(() => true, () => false)),
        );
        if (ready.every(Boolean)) return stop.abort();
        await new Promise((r) => setTimeout(r, 100));
      }
    })();
    const events: string[] = [];
    const ended = await runLive([proc("a", 0), proc("b", 1), proc("c", 2)], {
      base: `file://${dir}/`,
      logDir: join(dir, "logs"),
      signal: stop.signal,
      log: (tag, m) => events.push(`${tag} ${m}`),
    });
    await up;
    assert.deepEqual(ended, []);
    const at = await Promise.all(
      ["a", "b", "c"].map(async (n) => Number(await Deno.readTextFile(join(dir, `${n}.stopped`)))),
    );
    assert.ok(at[0] <= at[1] && at[1] <= at[2], `stopped in stage order: ${at}`);
    assert.deepEqual(events.filter((e) => e.startsWith("stopped")), [
      "stopped a (exit 0)",
      "stopped b (exit 0)",
      "stopped c (exit 0)",
    ]);
    assert.ok(!events.some((e) => e.startsWith("kill")));

    // One process ends by itself: the others are stopped and it is reported.
    const ended2 = await runLive(
      [proc("d", 0), { name: "q", title: "q", script: "quits.ts", args: [], stage: 1 }],
      {
        base: `file://${dir}/`,
        logDir: join(dir, "logs"),
        signal: new AbortController().signal,
        log: () => {},
      },
    );
    assert.deepEqual(ended2, ["q"]);
    await Deno.stat(join(dir, "d.stopped"));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
