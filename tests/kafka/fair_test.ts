/**
 * lib/kafka/fair.ts: shares proportional to what each partition has left to read, summing to
 * exactly min(limit, total left), capped at what is buffered, never starving a partition, and
 * never handing a partition's unfetched share to the others.
 */
import assert from "node:assert/strict";
import { fairShareDetail, fairShares, type PartitionBacklog } from "../../lib/kafka/fair.ts";

const sum = (m: Map<unknown, number>) => [...m.values()].reduce((a, b) => a + b, 0);
const backlog = (...xs: [number, number][]) =>
  new Map<number, PartitionBacklog>(xs.map(([buffered, left], p) => [p, { buffered, left }]));

Deno.test("fair: equal backlogs, all buffered: equal shares summing to the limit", () => {
  const d = fairShareDetail(
    60,
    backlog(...Array.from({ length: 6 }, () => [600, 600] as [number, number])),
  );
  assert.equal(d.budget, 60);
  assert.deepEqual([...d.take.values()], [10, 10, 10, 10, 10, 10]);
  assert.equal(d.total, 60);
  assert.equal(d.filled, true);
});

Deno.test("fair: skewed buffers: a partition fetched far ahead takes only its share", () => {
  // Partition 0 has 5,000 buffered; the others 100 each; every partition has 1,000 left.
  const d = fairShareDetail(
    600,
    backlog([5000, 5000], [100, 1000], [100, 1000], [100, 1000], [100, 1000], [100, 1000]),
  );
  // Left 5,000 : 1,000 ×5 = 1/2 : 1/10 each.
  assert.deepEqual([...d.shares.values()], [300, 60, 60, 60, 60, 60]);
  assert.deepEqual([...d.take.values()], [300, 60, 60, 60, 60, 60]);
  assert.equal(sum(d.shares), 600);
  assert.equal(d.filled, true);
});

Deno.test("fair: a partition with backlog but nothing buffered: its share is not given to the others", () => {
  const d = fairShareDetail(500, backlog([40_000, 100_000], [0, 20_000]));
  // 500 × 100,000 / 120,000 = 416.7 and 83.3.
  assert.deepEqual([...d.shares.values()], [417, 83]);
  assert.deepEqual([...d.take.values()], [417, 0], "partition 0 must not run ahead");
  assert.equal(d.total, 417);
  assert.equal(d.filled, false);
  // Same through the plain function.
  assert.deepEqual(
    fairShares(500, backlog([40_000, 100_000], [0, 20_000])),
    new Map([[0, 417], [1, 0]]),
  );
});

Deno.test("fair: shares are proportional to what is LEFT, not to what is buffered", () => {
  // Both have 300 buffered; partition 1 has three times as much left.
  const take = fairShares(100, backlog([300, 1000], [300, 3000]));
  assert.deepEqual([...take.values()], [25, 75]);
});

Deno.test("fair: caught-up partitions take what they have, the rest goes by backlog", () => {
  // Partitions 1 and 2 are caught up (everything left is buffered); 0 has a backlog.
  const d = fairShareDetail(1000, backlog([800, 2000], [5, 5], [0, 0]));
  assert.equal(d.budget, 1000);
  // 1000 × 2000 / 2005 = 997.51 and 2.49: the larger remainder rounds up.
  assert.deepEqual([...d.shares.values()], [998, 2, 0]);
  assert.deepEqual([...d.take.values()], [800, 2, 0], "0 takes what it has, not 1's share");
  // All caught up and the limit is larger than what is there: take everything.
  const all = fairShareDetail(1000, backlog([7, 7], [3, 3], [0, 0]));
  assert.equal(all.budget, 10);
  assert.deepEqual([...all.take.values()], [7, 3, 0]);
  assert.equal(all.filled, true);
});

Deno.test("fair: left smaller than buffered counts as buffered (an end not known yet)", () => {
  const d = fairShareDetail(10, backlog([8, 0], [8, 0]));
  assert.equal(d.budget, 10);
  assert.deepEqual([...d.take.values()], [5, 5]);
});

Deno.test("fair: every partition with something left gets at least 1 when the limit allows", () => {
  const d = fairShareDetail(
    6,
    backlog([1_000_000, 1_000_000], [1, 1], [1, 2], [2, 2], [5, 5], [0, 0], [9, 9]),
  );
  assert.deepEqual([...d.shares.values()], [1, 1, 1, 1, 1, 0, 1]);
  assert.equal(sum(d.shares), 6);
  // One more than the partitions: the extra offset goes to the largest backlog.
  assert.deepEqual(
    [
      ...fairShares(
        7,
        backlog([1_000_000, 1_000_000], [1, 1], [1, 2], [2, 2], [5, 5], [0, 0], [9, 9]),
      ).values(),
    ],
    [2, 1, 1, 1, 1, 0, 1],
  );
});

Deno.test("fair: limit smaller than the partitions: the ones with the most left go first", () => {
  const d = fairShareDetail(2, backlog([10, 10], [30, 30], [20, 20], [5, 5]));
  assert.deepEqual([...d.shares.values()], [0, 1, 1, 0]);
  assert.deepEqual([...d.take.values()], [0, 1, 1, 0]);
  // Equal backlogs: ties go in input order; as they are taken, the others come first.
  const left = [3, 3, 3];
  const order: number[] = [];
  for (let i = 0; i < 9; i++) {
    const take = fairShares(1, backlog(...left.map((l) => [l, l] as [number, number])));
    assert.equal(sum(take), 1);
    const p = [...take].find(([, n]) => n === 1)![0];
    order.push(p);
    left[p]--;
  }
  assert.deepEqual(order, [0, 1, 2, 0, 1, 2, 0, 1, 2]);
});

Deno.test("fair: progress: shares that went to unbuffered partitions still leave 1 to take", () => {
  // Limit 2 < 3 partitions; the two with the most left have nothing buffered.
  const d = fairShareDetail(2, backlog([0, 10], [0, 10], [5, 5]));
  assert.deepEqual([...d.shares.values()], [1, 1, 0]);
  assert.deepEqual([...d.take.values()], [0, 0, 1]);
  assert.equal(d.total, 1);
  // Nothing buffered anywhere: nothing to take.
  const none = fairShareDetail(100, backlog([0, 50], [0, 50]));
  assert.equal(none.budget, 100);
  assert.equal(none.total, 0);
  assert.deepEqual([...none.take.values()], [0, 0]);
});

Deno.test("fair: zero left, zero limit, no partitions", () => {
  assert.deepEqual(fairShareDetail(100, backlog([0, 0], [0, 0])), {
    budget: 0,
    shares: new Map([[0, 0], [1, 0]]),
    take: new Map([[0, 0], [1, 0]]),
    total: 0,
    filled: true,
  });
  assert.deepEqual([...fairShares(0, backlog([5, 5], [5, 5])).values()], [0, 0]);
  assert.equal(fairShares(10, new Map()).size, 0);
});

Deno.test("fair: bigint backlogs beyond 2^53 stay exact", () => {
  const huge = 2n ** 62n;
  const d = fairShareDetail(
    1000,
    new Map([
      ["a", { buffered: 10_000n, left: huge }],
      ["b", { buffered: 10_000n, left: huge * 3n }],
      ["c", { buffered: 10_000n, left: 1n }],
    ]),
  );
  assert.deepEqual(d.shares, new Map([["a", 250], ["b", 749], ["c", 1]]));
  assert.equal(sum(d.take), 1000);
});

Deno.test("fair: exact sums and bounds over many random cases", () => {
  // xorshift32: deterministic, and its low bits are not periodic like a plain LCG's.
  let x = 0x9e3779b9;
  const rand = (n: number) => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) % n;
  };
  let lifted = 0;
  for (let c = 0; c < 5000; c++) {
    const parts = 1 + rand(12);
    const xs: [number, number][] = Array.from({ length: parts }, (_, p) => {
      const big = p === 0 && rand(3) === 0; // often one partition holds far more
      const left = rand(4) === 0 ? 0 : big ? 50_000 + rand(100_000) : rand(5000);
      return [rand(4) === 0 ? left : rand(left + 1), left];
    });
    const limit = rand(3) === 0 ? rand(parts + 2) : rand(3000);
    const d = fairShareDetail(limit, backlog(...xs));
    const what = JSON.stringify({ limit, xs, shares: [...d.shares.values()] });
    const totalLeft = xs.reduce((a, [, l]) => a + l, 0);
    const withLeft = xs.filter(([, l]) => l > 0).length;
    const quota = (l: number) => (totalLeft === 0 ? 0 : (d.budget * l) / totalLeft);
    const anyBelowOne = xs.some(([, l]) => l > 0 && quota(l) < 1);
    assert.equal(d.budget, Math.min(limit, totalLeft));
    assert.equal(sum(d.shares), d.budget, what);
    xs.forEach(([b, l], p) => {
      const share = d.shares.get(p)!;
      assert.ok(share <= l, `a share never exceeds what is left: ${what}`);
      assert.ok(d.take.get(p)! <= b, `never more than buffered: ${what}`);
      if (d.budget >= withLeft && l > 0) assert.ok(share >= 1, `none starves: ${what}`);
      if (d.budget < withLeft || !anyBelowOne) {
        // Plain largest remainder: within 1 of the exact proportion.
        assert.ok(Math.abs(share - quota(l)) < 1, `proportional: ${what}`);
      } else {
        // Some were lifted to 1: the others only give up to them, never gain.
        assert.ok(share <= Math.max(1, Math.ceil(quota(l))), `lifted: ${what}`);
        lifted++;
      }
      xs.forEach(([, l2], q) => {
        if (l > l2) assert.ok(share >= d.shares.get(q)!, `more left, no smaller share: ${what}`);
      });
    });
    const capped = xs.map(([b], p) => Math.min(b, d.shares.get(p)!));
    const buffered = xs.reduce((a, [b]) => a + b, 0);
    if (capped.some((n) => n > 0) || d.budget === 0 || buffered === 0) {
      assert.deepEqual([...d.take.values()], capped, `take = share capped: ${what}`);
    } else {
      // Progress: exactly one offset, from the buffered partition with the most left.
      assert.equal(d.total, 1, what);
      const p = [...d.take].find(([, n]) => n === 1)![0];
      const most = Math.max(...xs.filter(([b]) => b > 0).map(([, l]) => l));
      assert.ok(xs[p][0] > 0 && xs[p][1] === most, what);
    }
    assert.equal(d.total, sum(d.take));
    assert.equal(d.filled, d.total === d.budget);
  }
  assert.ok(lifted > 100, `the lifting rule must be exercised (${lifted})`);
});

Deno.test("fair: rejects negative or unsafe inputs", () => {
  assert.throws(() => fairShares(-1, backlog([1, 1])), RangeError);
  assert.throws(() => fairShares(1.5, backlog([1, 1])), RangeError);
  assert.throws(() => fairShares(10, backlog([-1, 1])), RangeError);
  assert.throws(() => fairShares(10, new Map([[0, { buffered: 0n, left: -1n }]])), RangeError);
  assert.throws(() => fairShares(10, backlog([2 ** 53, 2 ** 53])), RangeError);
});
