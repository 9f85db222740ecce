/**
 * Following a topic from given offsets, for micro-batch streams: one long-lived consumer
 * (a throw-away group id, so nothing is committed and a restart never waits for a rebalance)
 * fetches ahead into a bounded buffer, and {@link Tail.next} cuts the buffer into slices of at
 * most `maxOffsets` offsets. Each slice says, per partition, exactly which offsets it covers
 * (`[start, end)`), counting transaction markers and aborted records, so the end offsets are
 * the positions to commit. With `ends` (available-now) every partition stops at its end.
 *
 * @module
 */
import type { Consumer, Kafka } from "kafkajs";
import type { KafkaRecord, PartitionRange } from "./source.ts";

/** Options of {@link openTail}. */
export interface TailOptions {
  /** Stop each partition at this offset (exclusive); partitions not listed never stop. */
  ends?: Map<number, bigint>;
  /** High watermarks known at start (for lag and "caught up" before the first fetch). */
  highWatermarks?: Map<number, bigint>;
  /** Timestamp type reported on records (0 CreateTime, 1 LogAppendTime; default 0). */
  timestampType?: number;
  /** Bytes of record values buffered ahead before fetching pauses (default 64 MiB). */
  maxBufferedBytes?: number;
  /** Max bytes per partition per fetch (default 2 MiB). */
  maxBytesPerPartition?: number;
  /** Longest wait of a fetch for new data, ms (default 200). */
  maxWaitTimeInMs?: number;
}

/** A cut of the stream: records in partition order plus the offset ranges they cover. */
export interface Slice {
  /** The records in fetch order (each partition's in offset order). */
  records: KafkaRecord[];
  /** Per partition the offsets covered, `[start, end)`; `end` is the next position. */
  ranges: PartitionRange[];
  /** Number of offsets covered (records plus markers/aborted ones). */
  offsets: number;
}

/** Limits of one {@link Tail.next} call. */
export interface NextOptions {
  /** At most this many offsets in the slice. */
  maxOffsets: number;
  /** After the first record arrives, wait at most this long for more before cutting (ms). */
  lingerMs: number;
  /** Ends the wait: next() then resolves undefined. */
  signal?: AbortSignal;
}

/** A running tail of a topic. */
export interface Tail {
  /** The next slice; undefined when every partition reached its end, or on abort. */
  next(options: NextOptions): Promise<Slice | undefined>;
  /** Next offset to hand out, per partition. */
  positions(): Map<number, bigint>;
  /** Offsets between the positions and the last known high watermarks (or the ends). */
  lag(): number;
  /** Stops the consumer. */
  close(): Promise<void>;
}

interface Chunk {
  partition: number;
  start: bigint;
  next: bigint;
  records: KafkaRecord[];
  bytes: number;
}

/**
 * Starts following `topic` from `starts` (one entry per partition to read).
 *
 * @example
 * ```ts
 * const tail = await openTail(kafka, "retail-data-new", new Map([[0, 0n], [1, 0n]]));
 * for (let s; (s = await tail.next({ maxOffsets: 10_000, lingerMs: 500 }));) console.log(s.offsets);
 * await tail.close();
 * ```
 */
export async function openTail(
  kafka: Kafka,
  topic: string,
  starts: Map<number, bigint>,
  options: TailOptions = {},
): Promise<Tail> {
  const ends = options.ends;
  const maxBuffered = options.maxBufferedBytes ?? 64 << 20;
  const timestampType = options.timestampType ?? 0;
  const fetchPos = new Map(starts);
  const cursor = new Map(starts);
  const hw = new Map<number, bigint>(options.highWatermarks ?? []);
  const chunks: Chunk[] = [];
  let bufferedBytes = 0;
  let bufferedOffsets = 0n;
  let closed = false;
  let failure: unknown;
  let wakeReader: (() => void) | undefined;
  let wakeFetcher: (() => void) | undefined;
  const notifyReader = () => {
    const w = wakeReader;
    wakeReader = undefined;
    w?.();
  };
  const notifyFetcher = () => {
    const w = wakeFetcher;
    wakeFetcher = undefined;
    w?.();
  };
  const endOf = (p: number) => ends?.get(p);
  const fetchedAll = () =>
    ends !== undefined && [...fetchPos].every(([p, pos]) => pos >= (endOf(p) ?? pos + 1n));
  const drained = () =>
    ends !== undefined && [...cursor].every(([p, pos]) => pos >= (endOf(p) ?? pos + 1n));
  const caughtUp = () =>
    [...fetchPos].every(([p, pos]) => {
      const end = endOf(p);
      if (end !== undefined && pos >= end) return true;
      const h = hw.get(p);
      return h !== undefined && pos >= h;
    });

  const consumer: Consumer = kafka.consumer({
    groupId: `tail-${topic}-${crypto.randomUUID()}`,
    maxBytesPerPartition: options.maxBytesPerPartition ?? 2 << 20,
    maxBytes: 32 << 20,
    maxWaitTimeInMs: options.maxWaitTimeInMs ?? 200,
    allowAutoTopicCreation: false,
    // A crash ends the tail (next() rethrows it) instead of a restart in the background that
    // could outlive close(): the caller decides whether to open a new tail.
    retry: { restartOnFailure: () => Promise.resolve(false) },
  });

  const pauseIfDone = (partition: number) => {
    const end = endOf(partition);
    if (end !== undefined && fetchPos.get(partition)! >= end) {
      consumer.pause([{ topic, partitions: [partition] }]);
    }
  };

  /** Takes a fetched batch (or a batch's progress): records past the position, up to the end. */
  const accept = (
    partition: number,
    messages: {
      offset: string;
      key: Uint8Array | null;
      value: Uint8Array | null;
      timestamp: string;
    }[],
    lastOffset: string,
    highWatermark: string,
  ) => {
    const pos = fetchPos.get(partition);
    if (pos === undefined) return; // a partition we were not asked to read
    const h = BigInt(highWatermark);
    if (h > (hw.get(partition) ?? -1n)) hw.set(partition, h);
    const end = endOf(partition);
    const records: KafkaRecord[] = [];
    let bytes = 0;
    // Offsets are compared as bigints only where a batch straddles the position or the end.
    const n = messages.length;
    const whole = n > 0 && BigInt(messages[0].offset) >= pos &&
      (end === undefined || BigInt(messages[n - 1].offset) < end);
    for (const m of messages) {
      if (!whole) {
        const off = BigInt(m.offset);
        if (off < pos) continue;
        if (end !== undefined && off >= end) break;
      }
      records.push({
        topic,
        partition,
        offset: m.offset,
        key: m.key ?? null,
        value: m.value ?? null,
        timestamp: Number(m.timestamp),
        timestampType,
      });
      bytes += (m.value?.byteLength ?? 0) + (m.key?.byteLength ?? 0) + 64;
    }
    let next = BigInt(lastOffset) + 1n;
    if (end !== undefined && next > end) next = end;
    if (next <= pos) return;
    fetchPos.set(partition, next);
    chunks.push({ partition, start: pos, next, records, bytes });
    bufferedBytes += bytes;
    bufferedOffsets += next - pos;
    pauseIfDone(partition);
    notifyReader();
  };

  consumer.on(consumer.events.END_BATCH_PROCESS, ({ payload }) => {
    // Batches of only markers or aborted records never reach eachBatch; this says how far
    // they went (firstOffset null would mean nothing at or past the fetch offset).
    if (payload.batchSize === 0 && payload.firstOffset !== null) {
      accept(payload.partition, [], payload.lastOffset, payload.highWatermark);
    }
  });
  consumer.on(consumer.events.CRASH, ({ payload }) => {
    failure = payload.error;
    notifyReader();
  });
  let joined = 0;
  consumer.on(consumer.events.GROUP_JOIN, () => {
    // After a rebalance of the throw-away group, continue where the buffer ends.
    if (joined++ > 0) seekAll();
  });
  const seekAll = () => {
    for (const [partition, pos] of fetchPos) {
      const end = endOf(partition);
      if (end !== undefined && pos >= end) continue;
      consumer.seek({ topic, partition, offset: pos.toString() });
    }
  };

  try {
    await consumer.connect();
    // From the beginning: the first fetch then starts at once (from "latest" it would long-poll
    // an empty partition before the seeks apply); records before the starts are skipped.
    await consumer.subscribe({ topics: [topic], fromBeginning: true });
    await startFetching();
  } catch (e) {
    closed = true;
    await consumer.disconnect().catch(() => {});
    throw e;
  }
  seekAll();
  for (const p of fetchPos.keys()) pauseIfDone(p);

  async function startFetching() {
    await consumer.run({
      autoCommit: false,
      eachBatchAutoResolve: false,
      eachBatch: async ({ batch, heartbeat, resolveOffset }) => {
        while (bufferedBytes >= maxBuffered && !closed) {
          await new Promise<void>((wake) => {
            wakeFetcher = wake;
            setTimeout(wake, 1000);
          });
          await heartbeat();
        }
        if (closed) return;
        accept(batch.partition, batch.messages, batch.lastOffset(), batch.highWatermark);
        // Moves the fetch position on (nothing is committed: autoCommit is off).
        resolveOffset(batch.lastOffset());
      },
    });
  }

  const take = (maxOffsets: number): Slice => {
    const records: KafkaRecord[] = [];
    const ranges = new Map<number, PartitionRange>();
    let remaining = BigInt(Math.max(1, maxOffsets));
    let offsets = 0n;
    while (chunks.length > 0 && remaining > 0n) {
      const c = chunks[0];
      const span = c.next - c.start;
      let end: bigint;
      if (span <= remaining) {
        for (const r of c.records) records.push(r);
        end = c.next;
        chunks.shift();
        bufferedBytes -= c.bytes;
      } else {
        end = c.start + remaining;
        let i = 0;
        while (i < c.records.length && BigInt(c.records[i].offset) < end) i++;
        const taken = c.records.splice(0, i);
        let bytes = 0;
        for (const r of taken) {
          records.push(r);
          bytes += (r.value?.byteLength ?? 0) + (r.key?.byteLength ?? 0) + 64;
        }
        c.bytes -= bytes;
        bufferedBytes -= bytes;
        c.start = end;
      }
      const moved = end - (ranges.get(c.partition)?.end ?? cursor.get(c.partition)!);
      const range = ranges.get(c.partition);
      if (range) range.end = end;
      else {ranges.set(c.partition, {
          partition: c.partition,
          start: cursor.get(c.partition)!,
          end,
        });}
      cursor.set(c.partition, end);
      remaining -= moved;
      offsets += moved;
      bufferedOffsets -= moved;
    }
    notifyFetcher();
    return {
      records,
      ranges: [...ranges.values()].sort((a, b) => a.partition - b.partition),
      offsets: Number(offsets),
    };
  };

  const wait = (ms: number, signal?: AbortSignal) =>
    new Promise<void>((resolve) => {
      const timer = setTimeout(done, ms);
      function done() {
        clearTimeout(timer);
        signal?.removeEventListener("abort", done);
        resolve();
      }
      wakeReader = done;
      signal?.addEventListener("abort", done, { once: true });
    });

  return {
    async next({ maxOffsets, lingerMs, signal }) {
      let lingerStart: number | undefined;
      while (true) {
        if (failure) throw failure;
        if (signal?.aborted || closed) return undefined;
        if (chunks.length === 0) {
          if (drained()) return undefined;
          await wait(1000, signal);
          continue;
        }
        lingerStart ??= performance.now();
        const lingered = performance.now() - lingerStart;
        if (
          bufferedOffsets >= BigInt(maxOffsets) || caughtUp() || fetchedAll() ||
          lingered >= lingerMs || bufferedBytes >= maxBuffered
        ) {
          return take(maxOffsets);
        }
        await wait(Math.max(1, lingerMs - lingered), signal);
      }
    },
    positions: () => new Map(cursor),
    lag() {
      let lag = 0n;
      for (const [p, pos] of cursor) {
        const target = endOf(p) ?? hw.get(p) ?? pos;
        if (target > pos) lag += target - pos;
      }
      return Number(lag);
    },
    async close() {
      closed = true;
      notifyFetcher();
      notifyReader();
      await consumer.disconnect();
    },
  };
}
