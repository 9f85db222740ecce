/**
 * `deno task fuzz [-- --seed S --count N --kinds a,b --max-bytes B --from I]`: the differential
 * fuzz run (parseOrder vs the independent oracle) at any length; prints the figures and every
 * disagreement category with its smallest record. Exits 1 when anything disagrees.
 *
 * ```sh
 * deno task fuzz -- --seed 7 --count 1000000
 * deno task fuzz -- --seed 7 --kinds nesting_10000,at_limit --count 200
 * deno run -A tests/fuzz/generate.ts --seed 7 --index 1234   # one record, to look at
 * ```
 *
 * @module
 */
import { type Kind, KINDS } from "./generate.ts";
import { report, runDifferential } from "./differential.ts";

function flag(args: string[], name: string): string | undefined {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : undefined;
}

if (import.meta.main) {
  const args = Deno.args[0] === "--" ? Deno.args.slice(1) : Deno.args;
  if (args.includes("--help")) {
    console.log(
      "Usage: deno task fuzz [-- --seed S] [--count N] [--from I] [--kinds k1,k2] [--max-bytes B]\n" +
        `kinds: ${KINDS.join(", ")}`,
    );
    Deno.exit(0);
  }
  const seed = Number(flag(args, "seed") ?? 20);
  const count = Number(flag(args, "count") ?? 100_000);
  const from = Number(flag(args, "from") ?? 0);
  const maxBytes = Number(flag(args, "max-bytes") ?? 1024 * 1024);
  const kinds = flag(args, "kinds")?.split(",") as Kind[] | undefined;
  for (const k of kinds ?? []) {
    if (!(KINDS as readonly string[]).includes(k)) {
      console.error(`unknown kind ${k}; kinds: ${KINDS.join(", ")}`);
      Deno.exit(2);
    }
  }
  if (![seed, count, from, maxBytes].every(Number.isSafeInteger)) {
    console.error("--seed, --count, --from and --max-bytes take integers");
    Deno.exit(2);
  }
  const started = performance.now();
  const s = runDifferential({
    seed,
    count,
    from,
    kinds,
    maxBytes,
    onProgress: (n) => {
      if (n % 100_000 === 0) {
        console.error(
          `… ${n.toLocaleString("en-US")} records, ${
            Math.round((performance.now() - started) / 1000)
          } s`,
        );
      }
    },
  });
  for (const line of report(s)) console.log(line);
  console.log(`wall time ${((performance.now() - started) / 1000).toFixed(1)} s`);
  Deno.exit(s.categories.size === 0 ? 0 : 1);
}
