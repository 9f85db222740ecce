import assert from "node:assert/strict";
import { canonicalIpynb, splitCells, toIpynb } from "../../lib/notebook/ipynb.ts";
import { checkNotebooks, syncNotebooks } from "../../lib/notebook/sync.ts";

const SCRIPT = `// Demo: shows one thing.
// Second line of prose.
//
//   deno task demo -- --flag

// %% Setup: imports
import { x } from "./x.ts";

const a = 1;

// %% [markdown]
// Some *markdown* between cells.

// %%
console.log(a);
`;

Deno.test("splitCells: header as markdown, a title cell per marker, code trimmed", () => {
  assert.deepEqual(splitCells(SCRIPT), [
    {
      kind: "markdown",
      source:
        "# Demo\n\nShows one thing.\nSecond line of prose.\n\n```sh\ndeno task demo -- --flag\n```",
    },
    { kind: "markdown", source: "## Setup: imports" },
    { kind: "code", source: 'import { x } from "./x.ts";\n\nconst a = 1;' },
    { kind: "markdown", source: "Some *markdown* between cells." },
    { kind: "code", source: "console.log(a);" },
  ]);
});

Deno.test("toIpynb: nbformat 4.5, deno kernelspec, no outputs, stable ids, deterministic", () => {
  const text = toIpynb(SCRIPT, { sourceName: "demo.ts" });
  assert.equal(text, toIpynb(SCRIPT, { sourceName: "demo.ts" }));
  const nb = JSON.parse(text);
  assert.equal(nb.nbformat, 4);
  assert.equal(nb.nbformat_minor, 5);
  assert.deepEqual(nb.metadata.kernelspec, {
    display_name: "Deno",
    language: "typescript",
    name: "deno",
  });
  assert.equal(nb.metadata.retail_orders.generated_from, "demo.ts");
  assert.deepEqual(nb.cells.map((c: { id: string }) => c.id), [
    "cell-00",
    "cell-01",
    "cell-02",
    "cell-03",
    "cell-04",
  ]);
  const code = nb.cells.filter((c: { cell_type: string }) => c.cell_type === "code");
  assert.equal(code.length, 2);
  for (const c of code) {
    assert.deepEqual(c.outputs, []);
    assert.equal(c.execution_count, null);
  }
  assert.deepEqual(code[1].source, ["console.log(a);\n"]);
  assert.match(nb.cells[0].source.join(""), /Generated from `notebooks\/demo.ts`/);
  // Re-serializing changes nothing: the text is already canonical.
  assert.equal(canonicalIpynb(text), text);
});

Deno.test("checkNotebooks: reports missing, differing and orphan notebooks; sync fixes them", async () => {
  const dir = await Deno.makeTempDir({ prefix: "ipynb-" });
  try {
    await Deno.writeTextFile(`${dir}/a.ts`, SCRIPT);
    await Deno.writeTextFile(`${dir}/b.ts`, SCRIPT.replace("const a = 1;", "const a = 2;"));
    await Deno.writeTextFile(`${dir}/plain.ts`, "export const notANotebook = 1;\n");
    await Deno.writeTextFile(`${dir}/gone.ipynb`, "{}");
    assert.deepEqual(await checkNotebooks(dir), [
      { notebook: "a.ipynb", problem: "missing" },
      { notebook: "b.ipynb", problem: "missing" },
      { notebook: "gone.ipynb", problem: "orphan" },
    ]);
    assert.deepEqual(await syncNotebooks(dir), ["a.ipynb", "b.ipynb"]);
    await Deno.remove(`${dir}/gone.ipynb`);
    assert.deepEqual(await checkNotebooks(dir), []);
    // Editing the script without syncing is drift.
    await Deno.writeTextFile(`${dir}/b.ts`, SCRIPT.replace("const a = 1;", "const a = 3;"));
    assert.deepEqual(await checkNotebooks(dir), [{ notebook: "b.ipynb", problem: "differs" }]);
    assert.deepEqual(await syncNotebooks(dir), ["b.ipynb"]);
    assert.deepEqual(await syncNotebooks(dir), []);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("the committed notebooks/*.ipynb match their scripts (deno task notebooks:sync)", async () => {
  const dir = new URL("../../notebooks", import.meta.url).pathname;
  assert.deepEqual(await checkNotebooks(dir), []);
});
