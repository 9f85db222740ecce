import assert from "node:assert/strict";
import { openStorage, UnsupportedSchemeError } from "../../lib/storage/mod.ts";

Deno.test("openStorage accepts plain paths and file:// URLs", async () => {
  const root = await Deno.makeTempDir();
  try {
    const a = openStorage(root);
    await a.put("f.txt", new Uint8Array([1, 2, 3]));
    const b = openStorage(`file://${root}/`);
    assert.deepEqual(await b.get("f.txt"), new Uint8Array([1, 2, 3]));
    assert.equal(b.url, `file://${root}/`);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("openStorage rejects unknown schemes with a typed error", () => {
  assert.throws(() => openStorage("s3://bucket/x"), UnsupportedSchemeError);
});
