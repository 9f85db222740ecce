/**
 * The Java Kafka client's partition choice for keyed records (the real kafka-clients jar of the
 * local broker, through tests/support/JavaPartitioner.java), to compare with kafkajs.
 *
 * @module
 */
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { ensureJars } from "../../dev/kafka/mod.ts";

const JAVA_PROGRAM = fileURLToPath(new URL("./JavaPartitioner.java", import.meta.url));

/** Hex of a string's UTF-8 bytes. */
export const hex = (s: string) =>
  Array.from(new TextEncoder().encode(s), (b) => b.toString(16).padStart(2, "0")).join("");

/** What the Java program says of one key. */
export interface JavaAnswer {
  key: string;
  murmur2: number;
  partitions: Record<string, number>;
}

/** Ask the Java client (real kafka-clients jar) where each key goes. */
export async function javaPartitions(
  keys: string[],
  counts: number[],
): Promise<Map<string, JavaAnswer>> {
  const libs = await ensureJars();
  const out = await new Deno.Command("java", {
    args: [
      "-XX:TieredStopAtLevel=1",
      "-cp",
      `${libs}/*`,
      JAVA_PROGRAM,
      counts.join(","),
      ...keys.map((k) => `x${hex(k)}`),
    ],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const stderr = new TextDecoder().decode(out.stderr);
  assert.equal(out.code, 0, `JavaPartitioner failed: ${stderr}`);
  const answers = new TextDecoder().decode(out.stdout).trim().split("\n").map((l) =>
    JSON.parse(l) as JavaAnswer
  );
  assert.equal(answers.length, keys.length);
  return new Map(keys.map((k, i) => {
    assert.equal(answers[i].key, hex(k));
    return [k, answers[i]];
  }));
}
