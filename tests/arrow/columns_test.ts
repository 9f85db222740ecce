import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { type Data, makeVector, Type } from "apache-arrow";
import {
  binaryFromBytes,
  int32Data,
  int64Data,
  int64Values,
  isValidUtf8,
  setInt64,
  timestampData,
  timestampFromMs,
  utf8FromBytes,
  utf8FromStrings,
  utf8Repeat,
} from "../../lib/arrow/columns.ts";

const enc = new TextEncoder();
const fatal = new TextDecoder("utf-8", { fatal: true });
const lenient = new TextDecoder();

/** The column's values as JS values (null for nulls). */
const read = (d: Data) => [...makeVector(d)];

/** A small seeded generator (xorshift32), so a failing case can be replayed. */
function random(seed: number) {
  let x = seed | 0 || 1;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) / 4294967296;
  };
}

/** What TextDecoder's fatal mode says about the bytes. */
function strictlyValid(b: Uint8Array): boolean {
  try {
    fatal.decode(b);
    return true;
  } catch {
    return false;
  }
}

/** A copy of `b` at byte offset `shift` of a larger buffer (for unaligned views). */
function shifted(b: Uint8Array, shift: number): Uint8Array {
  const out = new Uint8Array(b.length + shift + 3).fill(0xff);
  out.set(b, shift);
  return out.subarray(shift, shift + b.length);
}

Deno.test("isValidUtf8: well-formed text", () => {
  assert.equal(isValidUtf8(new Uint8Array(0)), true);
  assert.equal(isValidUtf8(enc.encode("plain")), true);
  assert.equal(isValidUtf8(enc.encode("Müller 李 🎉")), true);
  assert.equal(isValidUtf8(enc.encode("\uFEFFbom")), true);
  assert.equal(isValidUtf8(new Uint8Array([0xef, 0xbf, 0xbf])), true); // U+FFFF
  assert.equal(isValidUtf8(new Uint8Array([0xf4, 0x8f, 0xbf, 0xbf])), true); // U+10FFFF
  assert.equal(isValidUtf8(new Uint8Array([0xed, 0x9f, 0xbf])), true); // U+D7FF
});

Deno.test("isValidUtf8: ill-formed sequences", () => {
  const bad = [
    [0xc3], // truncated 2-byte
    [0xe2, 0x82], // truncated 3-byte
    [0xf0, 0x9f, 0x8e], // truncated 4-byte
    [0x80], // lone continuation
    [0xc0, 0x80], // overlong NUL
    [0xc1, 0xbf], // overlong
    [0xe0, 0x80, 0x80], // overlong 3-byte
    [0xf0, 0x80, 0x80, 0x80], // overlong 4-byte
    [0xed, 0xa0, 0x80], // surrogate U+D800
    [0xed, 0xbf, 0xbf], // surrogate U+DFFF
    [0xf4, 0x90, 0x80, 0x80], // above U+10FFFF
    [0xf5, 0x80, 0x80, 0x80],
    [0xff],
    [0x61, 0xc3, 0x28], // bad continuation
  ];
  for (const b of bad) assert.equal(isValidUtf8(new Uint8Array(b)), false, `${b}`);
});

Deno.test("isValidUtf8: long values at every alignment, the bad byte anywhere", () => {
  const ascii = enc.encode("x".repeat(300));
  for (let shift = 0; shift < 4; shift++) {
    assert.equal(isValidUtf8(shifted(ascii, shift)), true);
    for (const at of [0, 1, 3, 4, 31, 32, 63, 64, 65, 127, 128, 200, 296, 298, 299]) {
      const b = ascii.slice();
      b[at] = 0xff;
      assert.equal(isValidUtf8(shifted(b, shift)), false, `shift ${shift}, at ${at}`);
      b[at] = 0xc3;
      if (at + 1 < b.length) b[at + 1] = 0xa9; // "é"
      assert.equal(isValidUtf8(shifted(b, shift)), at + 1 < b.length, `shift ${shift}, é at ${at}`);
    }
  }
});

Deno.test("isValidUtf8: agrees with TextDecoder on every 1- and 2-byte input", () => {
  const b1 = new Uint8Array(1);
  const b2 = new Uint8Array(2);
  for (let a = 0; a < 256; a++) {
    b1[0] = a;
    assert.equal(isValidUtf8(b1), strictlyValid(b1), `${a}`);
    for (let c = 0; c < 256; c++) {
      b2[0] = a;
      b2[1] = c;
      assert.equal(isValidUtf8(b2), strictlyValid(b2), `${a} ${c}`);
    }
  }
});

Deno.test("isValidUtf8: agrees with TextDecoder on random and mutated inputs", () => {
  const rnd = random(42);
  const text = enc.encode("Zürich Straße 12 — 李小龙 🎉 ok ".repeat(8));
  for (let k = 0; k < 20_000; k++) {
    let b: Uint8Array;
    if (k % 2 === 0) {
      b = new Uint8Array(1 + Math.floor(rnd() * 8));
      for (let i = 0; i < b.length; i++) {
        // Mostly high bytes, so multi-byte forms come up often.
        b[i] = rnd() < 0.8 ? 0x80 + Math.floor(rnd() * 128) : Math.floor(rnd() * 128);
      }
    } else {
      b = text.slice(Math.floor(rnd() * 40), 60 + Math.floor(rnd() * (text.length - 60)));
      const flips = Math.floor(rnd() * 3);
      for (let f = 0; f < flips; f++) b[Math.floor(rnd() * b.length)] = Math.floor(rnd() * 256);
    }
    assert.equal(isValidUtf8(b), strictlyValid(b), `case ${k}: ${[...b]}`);
  }
});

Deno.test("utf8FromBytes: values and nulls, bytes copied as they are", () => {
  const d = utf8FromBytes([
    enc.encode("11599"),
    null,
    enc.encode("Müller 🎉"),
    undefined,
    enc.encode(""),
  ]);
  assert.equal(d.type.typeId, Type.Utf8);
  assert.deepEqual(read(d), ["11599", null, "Müller 🎉", null, ""]);
  assert.equal(d.nullCount, 2);
  assert.deepEqual([...d.valueOffsets], [0, 5, 5, 17, 17, 17]);
  const none = utf8FromBytes([enc.encode("a"), enc.encode("b")]);
  assert.equal(none.nullCount, 0);
});

Deno.test("utf8FromBytes: invalid UTF-8 is replaced with U+FFFD, valid neighbours untouched", () => {
  const long = enc.encode(`{"name":"${"é".repeat(40)}"}`);
  const broken = long.slice();
  broken[50] = 0xff;
  const values = [
    enc.encode("ok"),
    new Uint8Array([0x61, 0xff]),
    long,
    broken,
    new Uint8Array([0xc3]),
    new Uint8Array([0xed, 0xa0, 0x80]),
    null,
    enc.encode("\uFEFFbom kept"),
  ];
  const d = utf8FromBytes(values);
  assert.deepEqual(read(d), [
    "ok",
    "a\uFFFD",
    lenient.decode(long),
    lenient.decode(broken),
    "\uFFFD",
    "\uFFFD\uFFFD\uFFFD",
    null,
    "bom kept", // Arrow's reader drops the BOM; the bytes keep it (below)
  ]);
  const o = d.valueOffsets;
  assert.deepEqual(d.values.subarray(o[7], o[8]), enc.encode("\uFEFFbom kept"));
  assert.equal(isValidUtf8(d.values), true);
  assert.equal(d.nullCount, 1);
});

Deno.test("utf8FromBytes: Kafka buffers (views into one larger buffer at odd offsets)", () => {
  const pool = Buffer.from("xx" + "a".repeat(100) + "Zürich" + "b".repeat(70) + "\xff", "latin1");
  const values = [
    pool.subarray(2, 102),
    pool.subarray(1, 110),
    pool.subarray(3, pool.length),
  ];
  const d = utf8FromBytes(values);
  assert.deepEqual(read(d), values.map((v) => lenient.decode(v)));
});

Deno.test("utf8FromBytes: agrees with decode-then-encode on random batches", () => {
  const rnd = random(7);
  const text = enc.encode('{"city":"São Paulo","name":"李","n":1} '.repeat(4));
  for (let batch = 0; batch < 300; batch++) {
    const values: (Uint8Array | null)[] = [];
    // Mostly short batches; every tenth a long one of mostly ASCII rows, some empty.
    const long = batch % 10 === 0;
    const rows = long ? 200 : Math.floor(rnd() * 12);
    for (let r = 0; r < rows; r++) {
      if (rnd() < 0.1) {
        values.push(null);
        continue;
      }
      if (long && rnd() < 0.8) {
        values.push(enc.encode("k".repeat(Math.floor(rnd() * 90))));
        continue;
      }
      const b = text.slice(Math.floor(rnd() * 20), Math.floor(rnd() * text.length));
      if (rnd() < 0.2 && b.length > 0) {
        b[Math.floor(rnd() * b.length)] = 0x80 + Math.floor(rnd() * 128);
      }
      values.push(b);
    }
    const invalid: number[] = [];
    const d = utf8FromBytes(values, invalid);
    assert.deepEqual(
      read(d),
      values.map((v) => (v === null ? null : lenient.decode(v))),
      `batch ${batch}`,
    );
    assert.equal(isValidUtf8(d.values), true);
    // The rows reported invalid are exactly those TextDecoder's fatal mode rejects, ascending.
    const expected = values.flatMap((v, i) => (v !== null && !strictlyValid(v) ? [i] : []));
    assert.deepEqual(invalid, expected, `batch ${batch}: invalid rows`);
  }
});

Deno.test("binaryFromBytes: exact bytes and nulls; with rows, only those rows are set", () => {
  const values = [
    enc.encode("a"),
    null,
    new Uint8Array([0x62, 0xff]),
    new Uint8Array(0),
    shifted(
      new Uint8Array([0xc0, 0xaf, 0x00]),
      3,
    ),
  ];
  const bytes = (d: Data) => read(d).map((v) => (v === null ? null : [...(v as Uint8Array)]));
  const all = binaryFromBytes(values);
  assert.equal(all.typeId, Type.Binary);
  assert.deepEqual(bytes(all), [[0x61], null, [0x62, 0xff], [], [0xc0, 0xaf, 0x00]]);
  assert.equal(all.nullCount, 1);
  const some = binaryFromBytes(values, [2, 4]);
  assert.deepEqual(bytes(some), [null, null, [0x62, 0xff], null, [0xc0, 0xaf, 0x00]]);
  assert.equal(some.nullCount, 3);
  assert.deepEqual([...some.valueOffsets], [0, 0, 0, 2, 2, 5]);
  const none = binaryFromBytes(values, []);
  assert.deepEqual(bytes(none), [null, null, null, null, null]);
  assert.equal(none.nullCount, 5);
  assert.deepEqual(bytes(binaryFromBytes([])), []);
  // A listed row that is null stays null.
  assert.deepEqual(bytes(binaryFromBytes(values, [1, 3])), [null, null, null, [], null]);
});

Deno.test("utf8FromBytes: empty and all-null columns", () => {
  const empty = utf8FromBytes([]);
  assert.equal(empty.length, 0);
  assert.deepEqual([...empty.valueOffsets], [0]);
  assert.deepEqual(read(empty), []);
  const nulls = utf8FromBytes([null, null, null]);
  assert.deepEqual(read(nulls), [null, null, null]);
  assert.equal(nulls.nullCount, 3);
});

Deno.test("utf8FromStrings: values and nulls; the input array is left as it was", () => {
  const values = ["Mary", null, "Zürich", undefined, "", "李 🎉"];
  const copy = values.slice();
  const d = utf8FromStrings(values);
  assert.equal(d.type.typeId, Type.Utf8);
  assert.deepEqual(read(d), ["Mary", null, "Zürich", null, "", "李 🎉"]);
  assert.equal(d.nullCount, 2);
  assert.deepEqual(values, copy);
  const ascii = utf8FromStrings(["Chicago", "IL"]);
  assert.deepEqual(read(ascii), ["Chicago", "IL"]);
  assert.deepEqual([...ascii.valueOffsets], [0, 7, 9]);
  assert.equal(ascii.nullCount, 0);
});

Deno.test("utf8FromStrings: lone surrogates become U+FFFD, also where neighbours would pair up", () => {
  // Joined, "\uD83D" + "\uDE00" is one emoji (4 bytes); apart they are 3 + 3 bytes.
  const values = ["a\uD83D", "\uDE00b", "é", "\uD83D", "\uDE00"];
  const d = utf8FromStrings(values);
  assert.deepEqual(read(d), ["a\uFFFD", "\uFFFDb", "é", "\uFFFD", "\uFFFD"]);
  assert.equal(isValidUtf8(d.values), true);
  assert.equal(d.valueOffsets[5], d.values.length);
});

Deno.test("utf8FromStrings: empty and all-null columns", () => {
  const empty = utf8FromStrings([]);
  assert.equal(empty.length, 0);
  assert.deepEqual(read(empty), []);
  assert.deepEqual(read(utf8FromStrings([null, undefined])), [null, null]);
  assert.deepEqual(read(utf8FromStrings(["", ""])), ["", ""]);
});

Deno.test("utf8Repeat: one value n times, null, empty string, none", () => {
  assert.deepEqual(read(utf8Repeat("retail-data-new", 3)), Array(3).fill("retail-data-new"));
  for (const n of [1, 2, 5, 17, 1000]) {
    const d = utf8Repeat("Zü", n);
    assert.deepEqual(read(d), Array(n).fill("Zü"));
    assert.equal(d.values.length, 3 * n);
    assert.equal(d.nullCount, 0);
  }
  assert.deepEqual(read(utf8Repeat("", 4)), ["", "", "", ""]);
  const nulls = utf8Repeat(null, 10);
  assert.deepEqual(read(nulls), Array(10).fill(null));
  assert.equal(nulls.nullCount, 10);
  assert.deepEqual(read(utf8Repeat("x", 0)), []);
  assert.equal(utf8Repeat(null, 0).nullCount, 0);
});

Deno.test("int64Values + setInt64: numbers without BigInt, bigints as they are", () => {
  const values = [0, 1, -1, 4294967295, 4294967296, -4294967297, 2 ** 53 - 1, -(2 ** 53 - 1)];
  const v = int64Values(values.length + 2);
  values.forEach((x, i) => setInt64(v, i, x));
  setInt64(v, values.length, 9007199254740993n);
  setInt64(v, values.length + 1, -(2n ** 63n));
  assert.deepEqual(
    [...v.big],
    [...values.map(BigInt), 9007199254740993n, -(2n ** 63n)],
  );
  assert.throws(() => setInt64(v, 0, 1.5), RangeError);
  assert.throws(() => setInt64(v, 0, NaN), RangeError);
  setInt64(v, 0, 2 ** 60); // an integer beyond 2^53 still goes in exactly
  assert.equal(v.big[0], 2n ** 60n);
});

Deno.test("int64Data: from Int64Values or a BigInt64Array, nullable with a bitmap", () => {
  const v = int64Values(3);
  setInt64(v, 0, 7);
  setInt64(v, 2, 9);
  const d = int64Data(v);
  assert.equal(d.type.typeId, Type.Int);
  assert.deepEqual(read(d), [7n, 0n, 9n]);
  const nullable = int64Data(v, new Uint8Array([0b101]), 1);
  assert.deepEqual(read(nullable), [7n, null, 9n]);
  assert.equal(int64Data(v, new Uint8Array([0b101])).nullCount, 1); // counted by Arrow
  assert.deepEqual(read(int64Data(new BigInt64Array([1n, -2n]))), [1n, -2n]);
  assert.equal(int64Data(new BigInt64Array(0)).length, 0);
});

Deno.test("int32Data: from numbers or an Int32Array", () => {
  assert.deepEqual(read(int32Data([2, 0, -1])), [2, 0, -1]);
  const own = new Int32Array([5, 6]);
  assert.equal(int32Data(own).values, own);
  assert.deepEqual(read(int32Data([3, 4], new Uint8Array([0b10]), 1)), [null, 4]);
  assert.equal(int32Data([]).length, 0);
});

Deno.test("timestampData / timestampFromMs: microseconds since the epoch, UTC", () => {
  const d = timestampFromMs([1700000000123, 0, 1.0004, -1]);
  assert.equal(d.type.typeId, Type.Timestamp);
  assert.equal(String(d.type), "Timestamp<MICROSECOND, UTC>");
  assert.deepEqual([...d.values], [1700000000123000n, 0n, 1000n, -1000n]);
  const t = timestampData(new BigInt64Array([5n]));
  assert.equal(String(t.type), "Timestamp<MICROSECOND, UTC>");
  assert.equal(t.values[0], 5n);
  assert.equal(timestampFromMs([]).length, 0);
});
