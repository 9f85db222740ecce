import assert from "node:assert/strict";
import { localStorage } from "../../lib/storage/local.ts";
import { NotFoundError, StorageError } from "../../lib/storage/errors.ts";

const enc = (s: string) => new TextEncoder().encode(s);
const dec = (b: Uint8Array) => new TextDecoder().decode(b);

Deno.test("put, get, getRange, head, list, delete round trip", async () => {
  const root = await Deno.makeTempDir();
  try {
    const s = localStorage(root);
    await s.put("a/b/c.txt", enc("hello world"));
    await s.put("a/x.txt", enc("x"));
    await s.put("z.txt", enc("zz"));
    assert.equal(dec(await s.get("a/b/c.txt")), "hello world");
    assert.equal(dec(await s.getRange("a/b/c.txt", 6, 11)), "world");
    assert.equal((await s.head("a/b/c.txt"))?.size, 11);
    assert.equal(await s.head("nope.txt"), undefined);
    assert.deepEqual((await s.list("a/")).map((f) => f.path), ["a/b/c.txt", "a/x.txt"]);
    assert.deepEqual((await s.list("")).map((f) => f.path), ["a/b/c.txt", "a/x.txt", "z.txt"]);
    assert.deepEqual((await s.list("a/x")).map((f) => f.path), ["a/x.txt"]);
    assert.deepEqual(await s.list("missing/"), []);
    await s.put("a/x.txt", enc("replaced"));
    assert.equal(dec(await s.get("a/x.txt")), "replaced");
    await s.delete("a/x.txt");
    await s.delete("a/x.txt"); // missing is fine
    await assert.rejects(() => s.get("a/x.txt"), NotFoundError);
    await assert.rejects(() => s.get("../etc/passwd"), StorageError);
    // no temp files left behind
    assert.deepEqual((await s.list("")).map((f) => f.path), ["a/b/c.txt", "z.txt"]);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("putIfAbsent: exactly one of many concurrent writers wins, content complete", async () => {
  const root = await Deno.makeTempDir();
  try {
    const s = localStorage(root);
    for (let round = 0; round < 5; round++) {
      const path = `_delta_log/${String(round).padStart(20, "0")}.json`;
      const results = await Promise.all(
        Array.from({ length: 40 }, (_, i) => s.putIfAbsent(path, enc(`writer-${i}-`.repeat(500)))),
      );
      assert.equal(results.filter((r) => r).length, 1, `round ${round}: exactly one winner`);
      const winner = results.indexOf(true);
      assert.equal(dec(await s.get(path)), `writer-${winner}-`.repeat(500));
    }
    const names = (await s.list("_delta_log/")).map((f) => f.path);
    assert.equal(names.length, 5, `only the 5 commit files remain: ${names}`);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("putIfAbsent: separate processes racing, exactly one wins", async () => {
  const root = await Deno.makeTempDir();
  try {
    const script = `
      import { localStorage } from ${
      JSON.stringify(new URL("../../lib/storage/local.ts", import.meta.url).href)
    };
      const s = localStorage(Deno.args[0]);
      let wins = 0;
      for (let v = 0; v < 30; v++) {
        if (await s.putIfAbsent("log/" + v + ".json", new TextEncoder().encode(Deno.args[1]))) wins++;
      }
      console.log(wins);
    `;
    const file = `${root}/racer.ts`;
    await Deno.writeTextFile(file, script);
    const procs = Array.from(
      { length: 4 },
      (_, i) =>
        new Deno.Command(Deno.execPath(), { args: ["run", "-A", file, `${root}/t`, `p${i}`] })
          .output(),
    );
    const outs = await Promise.all(procs);
    const wins = outs.map((o) => {
      assert.equal(o.code, 0, new TextDecoder().decode(o.stderr));
      return Number(new TextDecoder().decode(o.stdout).trim());
    });
    assert.equal(wins.reduce((a, b) => a + b, 0), 30);
    const s = localStorage(`${root}/t`);
    assert.equal((await s.list("log/")).length, 30);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});
