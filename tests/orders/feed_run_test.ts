/**
 * The live feed's pacing on a virtual clock: counts and timestamps per send, no real waiting and
 * no timed assertions (the real rate is measured in the e2e test and the README's figures).
 */
import assert from "node:assert/strict";
import type { Message } from "kafkajs";
import { feedIds, type FeedRecord, loadFeedCatalog, OrderFeed } from "../../lib/orders/feed.ts";
import {
  FEED_TOPIC_MAX_MESSAGE_BYTES,
  type FeedClock,
  type FeedProgress,
  feedReasons,
  runLiveFeed,
  TOO_LARGE_NEEDS,
  tooLargeFits,
} from "../../lib/orders/feed_run.ts";
import { parseOrder } from "../../lib/orders/validate.ts";

const catalog = await loadFeedCatalog();
const WALL0 = 1_765_000_000_000;

/** A clock whose sleeps advance virtual time at once; `spend` simulates a slow send. */
function virtualClock(): FeedClock & { t: number; sleeps: number[]; spend(ms: number): void } {
  const c = {
    t: 0,
    sleeps: [] as number[],
    now: () => c.t,
    wall: () => WALL0 + Math.floor(c.t),
    sleep: (ms: number, signal?: AbortSignal) => {
      c.sleeps.push(ms);
      if (!signal?.aborted) c.t += Math.max(0, ms);
      return Promise.resolve();
    },
    spend: (ms: number) => void (c.t += ms),
  };
  return c;
}

interface Send {
  at: number;
  messages: Message[];
}

function recorder(clock: { t: number }, onSend?: (s: Send) => void) {
  const sends: Send[] = [];
  const send = (messages: Message[]) => {
    const s = { at: clock.t, messages };
    sends.push(s);
    onSend?.(s);
    return Promise.resolve();
  };
  return { sends, send };
}

Deno.test("pacing: 2,000/s for 10 s is exactly 20,000 records in 50 ms sends, never ahead, never behind", async () => {
  const clock = virtualClock();
  const { sends, send } = recorder(clock);
  const feed = new OrderFeed(catalog, { seed: 1, badRate: 0.05, ...feedIds(WALL0) });
  const summary = await runLiveFeed(feed, send, { rate: 2000, durationMs: 10_000, clock });
  assert.equal(summary.sent, 20_000);
  assert.equal(summary.stoppedBy, "duration");
  assert.equal(summary.seconds, 10);
  assert.equal(summary.ordersPerSecond, 2000);
  // One send per 50 ms tick, two more around each too_large record (it goes alone).
  const tooLarge = summary.byReason.too_large ?? 0;
  assert.equal(tooLarge, 2);
  assert.equal(sends.length, 200 + 2 * tooLarge);
  assert.equal(summary.sends, sends.length);
  const ticks = new Map<number, number>();
  for (const s of sends) {
    ticks.set(s.at, (ticks.get(s.at) ?? 0) + s.messages.length);
    // Each record stamped with the wall clock of its send.
    assert.ok(s.messages.every((m) => m.timestamp === String(WALL0 + s.at)));
  }
  assert.deepEqual([...ticks.keys()], Array.from({ length: 200 }, (_, i) => (i + 1) * 50));
  // 100 records per tick: never ahead of the schedule, and caught up at every tick (no drift).
  assert.ok([...ticks.values()].every((n) => n === 100));
  const bad = sends.flatMap((s) => s.messages).filter((m) => !parseOrder(m.value as Uint8Array).ok);
  assert.equal(bad.length, summary.bad);
  assert.ok(summary.bad > 850 && summary.bad < 1150, `bad ${summary.bad}`);
  assert.equal(Object.values(summary.byReason).reduce((a, b) => a + b, 0), summary.bad);
});

Deno.test("pacing: a slow send is caught up at once; the total still ends on schedule", async () => {
  const clock = virtualClock();
  const { sends, send } = recorder(clock, () => {
    // The 10th send takes 1.3 s (a broker hiccup).
    if (sends.length === 10) clock.spend(1300);
  });
  const feed = new OrderFeed(catalog, { seed: 2, ...feedIds(WALL0) });
  const summary = await runLiveFeed(feed, send, {
    rate: 1000,
    durationMs: 5000,
    batchSize: 500,
    clock,
  });
  assert.equal(summary.sent, 5000);
  // After the hiccup (t = 1,800 ms) the 1,300 records due are sent at once, in sends ≤ 500.
  const after = sends.filter((s) => s.at === 1800);
  assert.deepEqual(after.map((s) => s.messages.length), [500, 500, 300]);
  let total = 0;
  for (const s of sends) {
    total += s.messages.length;
    assert.ok(total <= s.at, `ahead of schedule at ${s.at} ms`);
  }
  assert.equal(clock.t, 5000);
});

Deno.test("pacing: a low rate sleeps until each record is due; a fractional rate is kept", async () => {
  const clock = virtualClock();
  const { sends, send } = recorder(clock);
  const feed = new OrderFeed(catalog, { seed: 3, ...feedIds(WALL0) });
  const summary = await runLiveFeed(feed, send, { rate: 0.5, durationMs: 10_000, clock });
  assert.equal(summary.sent, 5);
  assert.deepEqual(sends.map((s) => s.at), [2000, 4000, 6000, 8000, 10_000]);
  assert.ok(clock.sleeps.length <= 10, `${clock.sleeps.length} sleeps`);
  const odd = virtualClock();
  const r = recorder(odd);
  const s3 = await runLiveFeed(new OrderFeed(catalog, { seed: 3, ...feedIds(WALL0) }), r.send, {
    rate: 3,
    durationMs: 2000,
    clock: odd,
  });
  assert.equal(s3.sent, 6);
  assert.deepEqual(r.sends.map((s) => s.at), [334, 667, 1000, 1334, 1667, 2000]);
});

Deno.test("stop: an abort ends the feed after the send in flight, with its totals", async () => {
  const clock = virtualClock();
  const controller = new AbortController();
  const { sends, send } = recorder(clock, () => {
    if (sends.length === 7) controller.abort();
  });
  const progress: FeedProgress[] = [];
  const feed = new OrderFeed(catalog, { seed: 4, ...feedIds(WALL0) });
  const summary = await runLiveFeed(feed, send, {
    rate: 400,
    signal: controller.signal,
    clock,
    onProgress: (p) => progress.push(p),
  });
  assert.equal(summary.stoppedBy, "signal");
  assert.equal(sends.length, 7);
  assert.equal(summary.sent, 7 * 20);
  assert.equal(progress.length, 7);
  assert.deepEqual(progress.at(-1), { sent: 140, bad: 0, elapsedMs: 350, due: 140 });
});

Deno.test("sends: at most batchBytes per send; a too_large record goes alone", async () => {
  const clock = virtualClock();
  const { sends, send } = recorder(clock);
  // All bad: the 13th is too_large (1 MiB + 1 byte).
  const feed = new OrderFeed(catalog, { seed: 5, badRate: 1, ...feedIds(WALL0) });
  const summary = await runLiveFeed(feed, send, {
    rate: 200,
    durationMs: 1000,
    batchBytes: 4096,
    clock,
  });
  assert.equal(summary.sent, 200);
  assert.equal(summary.byReason.too_large, 1);
  const size = (m: Message) => (m.value as Uint8Array | null)?.byteLength ?? 0;
  const alone = sends.filter((s) => s.messages.some((m) => size(m) > 1 << 20));
  assert.equal(alone.length, 1);
  assert.equal(alone[0].messages.length, 1);
  for (const s of sends.filter((s) => s !== alone[0])) {
    assert.ok(s.messages.reduce((n, m) => n + size(m), 0) <= 4096);
  }
  assert.equal(sends.flatMap((s) => s.messages).length, 200);
  assert.equal(summary.bytes, sends.flatMap((s) => s.messages).reduce((n, m) => n + size(m), 0));
});

Deno.test("too_large needs a topic limit above 1 MiB + headers; the feed says when it leaves it out", () => {
  const big = FEED_TOPIC_MAX_MESSAGE_BYTES;
  // Kafka's default message.max.bytes, with its default 1 GiB segments.
  assert.equal(tooLargeFits({ maxMessageBytes: 1_048_588, segmentBytes: 1 << 30 }), false);
  assert.equal(tooLargeFits({ maxMessageBytes: big, segmentBytes: big }), true);
  assert.equal(tooLargeFits({ maxMessageBytes: big, segmentBytes: TOO_LARGE_NEEDS }), true);
  assert.equal(tooLargeFits({ maxMessageBytes: big, segmentBytes: TOO_LARGE_NEEDS - 1 }), false);
  // The local broker's 1 MiB segments refuse a batch of 1 MiB + 1, whatever max.message.bytes says.
  assert.equal(tooLargeFits({ maxMessageBytes: big, segmentBytes: 1 << 20 }), false);
  assert.equal(tooLargeFits({}), false); // unknown: DescribeConfigs refused
  const ok = feedReasons("t", { maxMessageBytes: big, segmentBytes: big });
  assert.ok(ok.reasons.includes("too_large"));
  assert.equal(ok.note, undefined);
  const small = feedReasons("orders", { maxMessageBytes: 1_048_588, segmentBytes: 1 << 20 });
  assert.ok(!small.reasons.includes("too_large"));
  assert.equal(small.reasons.length, ok.reasons.length - 1);
  assert.equal(
    small.note,
    "too_large records left out: orders cannot take a record of 1,049,601 bytes " +
      "(max.message.bytes 1,048,588 bytes, segment.bytes 1,048,576 bytes); " +
      "raise max.message.bytes and segment.bytes to send them too",
  );
  assert.match(
    feedReasons("o", {}).note!,
    /max\.message\.bytes unknown \(DescribeConfigs refused\)/,
  );
});

Deno.test("records: the feed's records become Kafka messages unchanged (key, value, tombstone)", async () => {
  const clock = virtualClock();
  const { sends, send } = recorder(clock);
  const records: FeedRecord[] = [];
  const inner = new OrderFeed(catalog, { seed: 6, badRate: 1, ...feedIds(WALL0) });
  const feed = { next: () => (records.push(inner.next()), records.at(-1)!) };
  await runLiveFeed(feed, send, { rate: 100, durationMs: 200, clock });
  const messages = sends.flatMap((s) => s.messages);
  assert.equal(messages.length, 20);
  messages.forEach((m, i) => {
    assert.equal(m.key, records[i].key);
    if (records[i].value === null) assert.equal(m.value, null);
    else assert.deepEqual(new Uint8Array(m.value as Uint8Array), records[i].value);
  });
  assert.ok(messages.some((m) => m.value === null)); // the tombstone
});
