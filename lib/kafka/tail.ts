/**
 * Following a topic from given offsets, for micro-batch streams: one long-lived consumer
 * (a throw-away group id, so nothing is committed and a restart never waits for a rebalance)
 * fetches ahead into a bounded buffer, and {@link Tail.next} cuts the buffer into slices of at
 * most `maxOffsets` offsets. Each slice says, per partition, exactly which offsets it covers
 * (`[start, end)`), counting transaction markers and aborted records, so the end offsets are
 * the positions to commit. With `ends` (available-now) every partition stops at its end.
 *
 * A slice is shared fairly across partitions (lib/kafka/fair.ts), not cut in fetch order: each
 * partition's share is proportional to what it has left to read (to its end, or to its last
 * known high watermark), capped at what is fetched. So with a backlog every partition moves on
 * at the same relative pace and the event-time frontier advances on all of them together (a
 * partition fetched ahead cannot fill whole slices and push a watermark past the others). A
 * share not fetched yet is not given to the other partitions: the slice waits for it (at most
 * the linger) or comes out smaller than `maxOffsets`.
 *
 * @module
 */
import type { Consumer, Kafka } from "kafkajs";
import { fairShareDetail, type PartitionBacklog } from "./fair.ts";
import type { KafkaRecord, PartitionRange } from "./source.ts";
import type { KafkaHealth, PartitionSlice, StreamSource } from "./stream_source.ts";
import { installAbortedFilter } from "./_aborted.ts";

// kafkajs skips aborted transactions wrongly when they interleave (see _aborted.ts).
installAbortedFilter();

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
  /**
   * At most this many offsets in the slice, shared across partitions in proportion to what
   * each has left to read (see the module doc).
   */
  maxOffsets: number;
  /**
   * After the first record arrives, wait at most this long for the rest of the slice's shares
   * to be fetched before cutting what is there (ms).
   */
  lingerMs: number;
  /** Ends the wait: next() then resolves undefined. */
  signal?: AbortSignal;
}

/** A running tail of a topic. */
export interface Tail {
  /**
   * The next slice; undefined when every partition reached its end, or on abort. It is cut as
   * soon as every partition's fair share is fetched, or everything is fetched (caught up), or
   * the buffer is full, or after the linger; it may then hold fewer than `maxOffsets` offsets,
   * but never none.
   */
  next(options: NextOptions): Promise<Slice | undefined>;
  /** Next offset to hand out, per partition. */
  positions(): Map<number, bigint>;
  /** The latest offset known per partition: its end (available-now) or its high watermark. */
  latestOffsets(): Map<number, bigint>;
  /** With ends: every partition reached its end and everything was handed out. */
  finished(): boolean;
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

/** What a buffered record counts for against maxBufferedBytes. */
const recordBytes = (r: { key: Uint8Array | null; value: Uint8Array | null }) =>
  (r.value?.byteLength ?? 0) + (r.key?.byteLength ?? 0) + 64;

/**
 * Starts following `topic` from `starts` (one entry per partition to read).
 *
 * @example
 * ```ts
 * import type { Kafka } from "kafkajs";
 * import { openTail } from "./tail.ts";
 * // Needs a broker, so the doc test only type-checks it:
 * async function follow(kafka: Kafka) {
 *   const ends = new Map([[0, 5000n], [1, 5000n]]); // stop there (available-now)
 *   const tail = await openTail(kafka, "retail-data-new", new Map([[0, 0n], [1, 0n]]), { ends });
 *   for (let s; (s = await tail.next({ maxOffsets: 1000, lingerMs: 500 }));) {
 *     console.log(s.offsets, s.ranges); // e.g. 1000 [{ partition: 0, start: 0n, end: 500n }, …]
 *   }
 *   await tail.close();
 * }
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
  // Fetched and not yet taken, in fetch order; per partition they cover [cursor, fetchPos).
  let chunks: Chunk[] = [];
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
      const record: KafkaRecord = {
        topic,
        partition,
        offset: m.offset,
        key: m.key ?? null,
        value: m.value ?? null,
        timestamp: Number(m.timestamp),
        timestampType,
      };
      records.push(record);
      bytes += recordBytes(record);
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

  /** Per partition: offsets fetched and not taken, and offsets left to its end (or known high). */
  const backlog = () => {
    const out = new Map<number, PartitionBacklog>();
    for (const [p, pos] of cursor) {
      const target = endOf(p) ?? hw.get(p) ?? pos;
      out.set(p, { buffered: fetchPos.get(p)! - pos, left: target > pos ? target - pos : 0n });
    }
    return out;
  };

  /**
   * Takes `want` offsets from each partition (at most what it has buffered), from its chunks in
   * offset order; the records come out in fetch order.
   */
  const take = (want: Map<number, number>): Slice => {
    const records: KafkaRecord[] = [];
    const ranges: PartitionRange[] = [];
    const rest = new Map<number, bigint>();
    let wanted = 0n;
    for (const [p, n] of want) {
      if (n <= 0) continue;
      rest.set(p, BigInt(n));
      wanted += BigInt(n);
      ranges.push({ partition: p, start: cursor.get(p)!, end: cursor.get(p)! });
    }
    let offsets = 0n;
    const kept: Chunk[] = [];
    let i = 0;
    for (; i < chunks.length && wanted > 0n; i++) {
      const c = chunks[i];
      const remaining = rest.get(c.partition) ?? 0n;
      if (remaining === 0n) {
        kept.push(c);
        continue;
      }
      const span = c.next - c.start;
      let end: bigint;
      if (span <= remaining) {
        for (const r of c.records) records.push(r);
        end = c.next;
        bufferedBytes -= c.bytes;
      } else {
        end = c.start + remaining;
        let k = 0;
        while (k < c.records.length && BigInt(c.records[k].offset) < end) k++;
        const taken = c.records.splice(0, k);
        let bytes = 0;
        for (const r of taken) {
          records.push(r);
          bytes += recordBytes(r);
        }
        c.bytes -= bytes;
        bufferedBytes -= bytes;
        kept.push(c);
      }
      const moved = end - c.start;
      c.start = end;
      rest.set(c.partition, remaining - moved);
      wanted -= moved;
      offsets += moved;
      bufferedOffsets -= moved;
      cursor.set(c.partition, end);
    }
    chunks = i < chunks.length ? kept.concat(chunks.slice(i)) : kept;
    for (const r of ranges) r.end = cursor.get(r.partition)!;
    notifyFetcher();
    return {
      records,
      ranges: ranges.filter((r) => r.end > r.start).sort((a, b) => a.partition - b.partition),
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
        // Every partition's share of the slice, capped at what it has fetched; at least one
        // offset whenever something is buffered. A full buffer is cut at once: taking the
        // shares that are there frees room, so the fetcher goes on to the partitions behind.
        const plan = fairShareDetail(Math.max(1, maxOffsets), backlog());
        if (
          plan.filled || caughtUp() || fetchedAll() || lingered >= lingerMs ||
          bufferedBytes >= maxBuffered
        ) {
          const slice = take(plan.take);
          // Never an empty slice while data is buffered (the caller would spin on it).
          if (slice.offsets === 0) {
            throw new Error(`tail of ${topic}: nothing taken from the buffer`);
          }
          return slice;
        }
        await wait(Math.max(1, lingerMs - lingered), signal);
      }
    },
    positions: () => new Map(cursor),
    finished: () => drained() && chunks.length === 0,
    latestOffsets() {
      const latest = new Map<number, bigint>();
      for (const [p, pos] of cursor) latest.set(p, endOf(p) ?? hw.get(p) ?? pos);
      return latest;
    },
    async close() {
      closed = true;
      notifyFetcher();
      notifyReader();
      await consumer.disconnect();
    },
  };
}

/** Settings of {@link tailSource}. */
export interface TailSourceOptions {
  /** The topic's partitions (all are read). */
  partitions: number[];
  /** The topic's timestamp type. */
  timestampType: number;
  /** Available-now: each partition ends here (exclusive). */
  ends?: Map<number, bigint>;
  /** High watermarks known at start (lag before the first fetch). */
  highWatermarks?: Map<number, bigint>;
  /** Where Kafka's answers and failures are reported (the query's outage tracker). */
  health?: KafkaHealth;
}

/**
 * The tail as a stream source (lib/kafka/stream_source.ts): every partition of the topic, read
 * by this process alone; the tail opens once the engine has set every partition's position.
 *
 * @example
 * ```ts
 * import { Kafka } from "kafkajs";
 * import { tailSource } from "./tail.ts";
 * const kafka = new Kafka({ brokers: ["localhost:9092"] }); // connects on first use
 * const source = tailSource(kafka, "retail-data-new", { partitions: [0, 1, 2], timestampType: 0 });
 * console.log(source.unpositioned()); // [ 0, 1, 2 ]: position() opens the tail once all are set
 * await source.close();
 * ```
 */
export function tailSource(
  kafka: Kafka,
  topic: string,
  o: TailSourceOptions,
): StreamSource & { latestOffsets(): Map<number, bigint> } {
  let tail: Tail | undefined;
  let waiting = [...o.partitions].sort((a, b) => a - b);
  const starts = new Map<number, bigint>();
  return {
    topic,
    timestampType: o.timestampType,
    start: () => Promise.resolve(),
    unpositioned: () => waiting,
    async position(given) {
      for (const [p, off] of given) starts.set(p, off);
      waiting = waiting.filter((p) => !given.has(p));
      if (waiting.length > 0 || tail) return;
      tail = await openTail(kafka, topic, starts, {
        ends: o.ends,
        highWatermarks: o.highWatermarks,
        timestampType: o.timestampType,
      });
    },
    async next(limits) {
      if (!tail) return undefined;
      const slice = await tail.next(limits);
      if (!slice) return undefined;
      o.health?.answered();
      const byPartition = new Map<number, PartitionSlice>();
      for (const r of slice.ranges) {
        byPartition.set(r.partition, {
          topic,
          partition: r.partition,
          timestampType: o.timestampType,
          messages: [],
          start: r.start,
          end: r.end,
        });
      }
      for (const rec of slice.records) {
        (byPartition.get(rec.partition)!.messages as KafkaRecord[]).push(rec);
      }
      return { partitions: [...byPartition.values()], latest: tail.latestOffsets() };
    },
    finished: () => tail?.finished() ?? false,
    reset() {
      // One reader of every partition: nothing moves them away; read the positions again.
      waiting = [...o.partitions].sort((a, b) => a - b);
      const t = tail;
      tail = undefined;
      t?.close().catch(() => {});
    },
    positions: () => tail?.positions() ?? new Map(starts),
    /** The latest offset known per partition (high watermark, or the end), for metrics. */
    latestOffsets: () => tail?.latestOffsets() ?? new Map(o.highWatermarks ?? []),
    check() {},
    async close() {
      const t = tail;
      tail = undefined;
      await t?.close();
    },
  };
}
