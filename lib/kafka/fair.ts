/**
 * Fair shares of a micro-batch across partitions (pure, no I/O).
 *
 * A stream that cuts its buffer in fetch order lets one partition fill several micro-batches
 * while the others wait; with event-time windows that moves the event-time frontier (and so
 * the watermark) ahead on one partition, and the others' on-time records are then dropped as
 * late. As Spark's Kafka source does, {@link fairShares} divides the per-trigger limit across
 * partitions in proportion to what each has LEFT to read, so that all partitions move forward
 * together and finish their backlogs at about the same micro-batch.
 *
 * The rule, for a limit `T` and per partition `p` what is buffered `b[p]` and what is left to
 * read `l[p]` (from its position to its known end; taken as at least `b[p]`):
 *
 * 1. The budget is `B = min(T, Σ l[p])`.
 * 2. The shares divide `B` in proportion to `l[p]`: the quota is `B · l[p] / Σ l`, rounded by
 *    largest remainder (ties: more left first, then input order), so they sum to exactly `B`
 *    and no share exceeds `l[p]`.
 * 3. None starves: when the limit allows (`B ≥ n`, the number of partitions with `l[p] > 0`),
 *    a partition with something left whose quota is below 1 gets exactly 1, and the rest of
 *    the budget is divided as in 2 among the others (repeated while that leaves another quota
 *    below 1). When `B < n`, step 2 alone gives 1 to the partitions with the most left, and as
 *    they are taken the others come first.
 * 4. What is taken is the share capped at what is buffered: `min(share[p], b[p])`. A share
 *    that is not buffered yet is NOT given to the other partitions (they would run ahead); a
 *    caller takes less and waits for the fetch. A partition whose left-to-read is entirely
 *    buffered (caught up) is never short: its share is at most what it has.
 * 5. Progress: if that leaves nothing to take while something is buffered (shares that went
 *    to partitions with nothing buffered yet, as with a limit smaller than the partitions),
 *    the buffered partition with the most left takes 1 offset.
 *
 * @example
 * ```ts
 * import { fairShares } from "./fair.ts";
 * const take = fairShares(500, new Map([
 *   [0, { buffered: 40_000n, left: 100_000n }],
 *   [1, { buffered: 0n, left: 20_000n }],
 * ]));
 * console.log(take); // Map(2) { 0 => 417, 1 => 0 }
 * // 417 is partition 0's share; 1's share, 83, is not fetched yet
 * ```
 *
 * @module
 */

/** What one partition has to give, in offsets (bigint, or a safe non-negative integer). */
export interface PartitionBacklog {
  /** Offsets fetched and not yet handed out. */
  buffered: bigint | number;
  /**
   * Offsets from the partition's position to its known end (high watermark, or the
   * available-now end); taken as at least `buffered` when smaller (an end not known yet).
   */
  left: bigint | number;
}

/** The outcome of {@link fairShareDetail}: the shares before and after the buffer cap. */
export interface FairShares<K> {
  /** The budget `min(limit, total left)`: what the shares sum to. */
  budget: number;
  /** Per partition its proportional share (not capped by what is buffered). */
  shares: Map<K, number>;
  /** Per partition what to take now: the share capped at what is buffered (+ the progress rule). */
  take: Map<K, number>;
  /** Sum of `take`. */
  total: number;
  /** True when every partition can take its whole share now (`total === budget`). */
  filled: boolean;
}

const toBig = (v: bigint | number, what: string): bigint => {
  if (typeof v === "bigint") {
    if (v < 0n) throw new RangeError(`${what} must be ≥ 0, got ${v}`);
    return v;
  }
  if (!Number.isSafeInteger(v) || v < 0) {
    throw new RangeError(`${what} must be a non-negative safe integer, got ${v}`);
  }
  return BigInt(v);
};

/**
 * Divides `amount` among `weights` in proportion, rounding by largest remainder: the parts sum
 * to exactly `amount` (which must be ≤ the sum of the weights, and the sum > 0 when amount > 0).
 * Ties of remainder go to the larger weight, then to the earlier entry.
 */
function largestRemainder(amount: bigint, weights: bigint[]): bigint[] {
  const sum = weights.reduce((a, b) => a + b, 0n);
  if (amount === 0n || sum === 0n) return weights.map(() => 0n);
  const parts = weights.map((w) => (amount * w) / sum);
  let rest = amount - parts.reduce((a, b) => a + b, 0n);
  const order = weights.map((w, i) => ({ i, w, rem: (amount * w) % sum }))
    .sort((x, y) =>
      x.rem === y.rem ? (x.w === y.w ? x.i - y.i : (y.w > x.w ? 1 : -1)) : (y.rem > x.rem ? 1 : -1)
    );
  for (const { i } of order) {
    if (rest === 0n) break;
    parts[i]++;
    rest--;
  }
  return parts;
}

/**
 * How many offsets to take now from each partition for a micro-batch of at most `limit`
 * offsets: each partition's share is proportional to what it has left to read, capped at what
 * it has buffered (see the module doc for the exact rule).
 *
 * @param limit the most offsets in the micro-batch (a non-negative integer)
 * @param partitions per partition id, what it has buffered and left to read
 * @returns per partition id (every key of `partitions`), the offsets to take now
 *
 * @example
 * ```ts
 * import { fairShares } from "./fair.ts";
 * // Partition 0 was fetched far ahead; 1 and 2 are fetched a little; limit 60.
 * const take = fairShares(60, new Map([
 *   [0, { buffered: 5000, left: 6000 }],
 *   [1, { buffered: 20, left: 6000 }],
 *   [2, { buffered: 20, left: 6000 }],
 * ]));
 * console.log(take); // Map(3) { 0 => 20, 1 => 20, 2 => 20 }
 * ```
 */
export function fairShares<K>(limit: number, partitions: Map<K, PartitionBacklog>): Map<K, number> {
  return fairShareDetail(limit, partitions).take;
}

/**
 * {@link fairShares} with the uncapped shares and the budget, so a caller can tell whether the
 * whole budget is buffered (`filled`) or part of it waits for a fetch.
 *
 * @example
 * ```ts
 * import { fairShareDetail } from "./fair.ts";
 * const d = fairShareDetail(100, new Map([
 *   ["a", { buffered: 10n, left: 50n }],
 *   ["b", { buffered: 50n, left: 50n }],
 * ]));
 * console.log(d.budget, d.shares, d.take, d.filled);
 * // 100 Map(2) { "a" => 50, "b" => 50 } Map(2) { "a" => 10, "b" => 50 } false
 * ```
 */
export function fairShareDetail<K>(
  limit: number,
  partitions: Map<K, PartitionBacklog>,
): FairShares<K> {
  if (!Number.isSafeInteger(limit) || limit < 0) {
    throw new RangeError(`limit must be a non-negative safe integer, got ${limit}`);
  }
  const keys = [...partitions.keys()];
  const buffered: bigint[] = [];
  const left: bigint[] = [];
  for (const k of keys) {
    const p = partitions.get(k)!;
    const b = toBig(p.buffered, "buffered");
    const l = toBig(p.left, "left");
    buffered.push(b);
    left.push(l > b ? l : b);
  }
  const totalLeft = left.reduce((a, b) => a + b, 0n);
  const budget = BigInt(limit) < totalLeft ? BigInt(limit) : totalLeft;
  const n = BigInt(left.filter((l) => l > 0n).length);
  // Partitions given exactly 1 because their quota is below 1 (only when the limit allows).
  const one = left.map(() => false);
  let rest = budget;
  let restLeft = totalLeft;
  if (n > 0n && n <= budget) {
    // Smallest first: each fix lowers the others' quotas, so one pass finds them all.
    const bySize = left.map((l, i) => ({ l, i })).filter((x) => x.l > 0n)
      .sort((x, y) => (x.l === y.l ? x.i - y.i : (x.l < y.l ? -1 : 1)));
    for (const { l, i } of bySize) {
      if (rest * l >= restLeft) break;
      one[i] = true;
      rest -= 1n;
      restLeft -= l;
    }
  }
  const parts = largestRemainder(rest, left.map((l, i) => (one[i] ? 0n : l)));
  const shares = parts.map((s, i) => (one[i] ? 1n : s));
  const take = shares.map((s, i) => (s < buffered[i] ? s : buffered[i]));
  let total = take.reduce((a, b) => a + b, 0n);
  if (total === 0n && budget > 0n) {
    // Progress: the shares all went to partitions with nothing buffered yet.
    let best = -1;
    for (let i = 0; i < keys.length; i++) {
      if (buffered[i] > 0n && (best < 0 || left[i] > left[best])) best = i;
    }
    if (best >= 0) {
      take[best] = 1n;
      total = 1n;
    }
  }
  return {
    budget: Number(budget),
    shares: new Map(keys.map((k, i) => [k, Number(shares[i])])),
    take: new Map(keys.map((k, i) => [k, Number(take[i])])),
    total: Number(total),
    filled: total === budget,
  };
}
