/**
 * The engine's Kafka sink with one transactional id per input partition (Kafka's original
 * exactly-once design, as Kafka Streams' first one): copies of a query that share the input's
 * partitions through the consumer group each commit their partitions' output and offsets with
 * the partition's own transactional producer, `<query>-<topic>-<partition>`.
 *
 * Taking a partition over (the group assigned it to this copy) initialises its transactional
 * id before its position is read: the broker bumps the epoch, which fences the copy that held
 * it before (its next commit of that partition fails, so it can never commit that partition's
 * offsets again) and aborts, or completes, the transaction it left open. Only then is the
 * group's committed offset read, so it is stable. A batch is one transaction per partition,
 * committed side by side; a partition whose producer was fenced drops out of the batch as a
 * conflict (the engine reads the positions again), the others' transactions stand on their own.
 *
 * The changelog keeps one meta record per partition (`__meta__/<partition>`: the settings and
 * the partition's offset, used where the group's offsets expired). A stateful transform is one
 * instance per partition (its state keyed by what the partition holds, as the second stage of
 * a repartitioned aggregation): its changelog records are keyed `<partition>|<key>`, it is
 * rebuilt from them when the partition is taken over, and its position follows its meta record
 * (written in the same transaction as its state).
 *
 * A query started before this sink existed (one transactional id, the query name) resumes from
 * its group offsets: opening fences that id once, settling a transaction it left open.
 *
 * @module
 */
import type { Message } from "kafkajs";
import { ensureTopic, requireTopic, sizeConfigs } from "../kafka/client.ts";
import {
  committedOffsets,
  FencedError,
  openTransactionalSink,
  type TopicMessages,
  type TransactionalSink,
} from "../kafka/sink.ts";
import type { SourceSlice } from "../kafka/stream_source.ts";
import { faultFromEnv, maybeFault } from "./fault.ts";
import {
  ChangelogError,
  type ChangelogMeta,
  changelogTopic,
  checkTopicLoop,
  ensureChangelog,
  type KafkaSinkOptions,
  META_KEY,
  readChangelog,
  type Transform,
  type Transformed,
} from "./kafka_sink.ts";
import type { BatchInfo, Committed, Conflicted, Sink } from "./sink.ts";
import type { EventTimeProgress } from "./progress.ts";

/** Event time over partitions: late and dropped add up; windows too; the highest watermark. */
function mergeEventTime(a: EventTimeProgress | undefined, b: EventTimeProgress): EventTimeProgress {
  if (!a) return { ...b };
  const marks = [a.watermark, b.watermark].filter((w): w is number => w !== null);
  return {
    late: a.late + b.late,
    dropped: a.dropped + b.dropped,
    windows: a.windows + b.windows,
    watermark: marks.length ? Math.max(...marks) : null,
  };
}

/** The transactional id of one input partition's task. */
export function partitionTransactionalId(query: string, topic: string, partition: number): string {
  return `${query}-${topic}-${partition}`;
}

/** One partition's share of a batch: its transaction's records and its end offset. */
interface PartitionTxn {
  partition: number;
  end: bigint;
  topics: TopicMessages[];
  out: Transformed;
}

/** A prepared batch: one transaction per partition. */
interface PartitionedBatch {
  txns: PartitionTxn[];
  transformMs: number;
}

/**
 * The per-partition transactional sink of a stateless transform.
 *
 * @example
 * ```ts
 * import type { Admin, Kafka } from "kafkajs";
 * import { filterTransform } from "../insights/transform.ts";
 * import { partitionedKafkaSink, partitionTransactionalId } from "./partition_sink.ts";
 * const query = "processed_orders-filter-chicago";
 * console.log(partitionTransactionalId(query, "retail-data-new", 2));
 * // processed_orders-filter-chicago-retail-data-new-2
 * // Needs a broker, so the doc test only type-checks it:
 * function sinkOf(kafka: Kafka, admin: Admin) {
 *   const filter = filterTransform({ city: "Chicago" }, { query });
 *   return partitionedKafkaSink(() => filter, {
 *     kafka, admin, query, topic: "retail-data-new", outputTopic: "processed_orders",
 *     deadLetterTopic: "processed_orders_dead_letters", transactionTimeoutMs: 60_000,
 *     servers: "localhost:9092", log: (tag, message) => console.error(tag, message),
 *   }); // a partition's producer is opened (fencing its last owner) when the group assigns it
 * }
 * ```
 */
export function partitionedKafkaSink(
  transformFor: (partition: number) => Transform,
  o: KafkaSinkOptions,
): Sink<PartitionedBatch> {
  const fault = o.fault ?? faultFromEnv();
  const changelog = changelogTopic(o.query);
  const producers = new Map<number, TransactionalSink>();
  /** The transform of each partition held (stateless: one shared instance). */
  const transforms = new Map<number, Transform>();
  const probe = transformFor(-1);
  const stateful = probe.stateful;
  if (stateful) probe.close();
  const transformOf = (p: number) => {
    let t = transforms.get(p);
    if (!t) transforms.set(p, t = stateful ? transformFor(p) : probe);
    return t;
  };
  /** The state key prefix of a partition's changelog records. */
  const prefix = (p: number) => `${p}|`;
  /** Offsets the changelog's meta records hold (where the group's offsets expired). */
  const metaOffsets = new Map<number, bigint>();
  const metaMessage = (partition: number, offset: bigint): Message => ({
    key: `${META_KEY}/${partition}`,
    value: JSON.stringify(
      {
        version: 1,
        ...transformOf(partition).meta(),
        topic: o.topic,
        offsets: { [String(partition)]: offset.toString() },
      } satisfies ChangelogMeta,
    ),
  });
  const groupOffsets = (partition: number, offset: bigint) => ({
    groupId: o.query,
    topic: o.topic,
    partitions: [{ partition, offset }],
  });
  /** The stored offsets: the group's, else the changelog's (logged when `log`). */
  const read = async (partitions: number[], log = false, observing = false) => {
    const committed = await committedOffsets(o.admin, o.query, o.topic);
    return new Map(partitions.map((p) => {
      const c = committed.get(p);
      const m = metaOffsets.get(p);
      if (observing) {
        // Another copy's partition: this copy's view of the changelog is as old as its last
        // restore, while the group's offsets come fresh from the broker (both are committed in
        // the same transactions, so either is progress made).
        return [p, c !== undefined && m !== undefined ? (c > m ? c : m) : c ?? m];
      }
      if (log && c === undefined && m !== undefined) {
        o.log("restore", `p${p}: no group offset (expired?); using the changelog's ${m}`);
      } else if (log && stateful && m !== undefined && c !== m) {
        o.log("warn", `group offset p${p}=${c} differs from the changelog's ${m}; using ${m}`);
      }
      // State belongs to the changelog's offsets; a stateless transform follows the group.
      return [p, stateful ? m ?? c : c ?? m];
    }));
  };
  const drop = async (p: number) => {
    const producer = producers.get(p);
    producers.delete(p);
    const t = transforms.get(p);
    transforms.delete(p);
    if (stateful) t?.close();
    await producer?.close().catch(() => {});
  };
  /** A stateful partition's state and meta, rebuilt from the changelog. */
  const restore = async (partitions: number[]) => {
    const { partitionMetas, state } = await readChangelog(o.kafka, o.admin, changelog);
    for (const p of partitions) {
      const meta = partitionMetas.get(p);
      const t = transformOf(p);
      if (!meta) continue;
      checkTopic(meta);
      const own = state.filter((r) => r.key.startsWith(prefix(p)))
        .map((r) => ({ key: r.key.slice(prefix(p).length), value: r.value }));
      t.restore(meta, own);
      metaOffsets.set(p, BigInt(meta.offsets[String(p)]));
      o.log("restore", `p${p}: ${own.length} state records from ${changelog}`);
    }
  };
  const checkTopic = (m: ChangelogMeta) => {
    if (m.topic !== o.topic) {
      throw new ChangelogError(
        `query '${o.query}' ran on topic '${m.topic}'; it cannot continue on '${o.topic}': ` +
          "use the same topic or another --query-name",
      );
    }
  };

  return {
    committedTo: `${o.outputTopic} (exactly once)`,
    depth: 1,
    transactional: true,
    async open() {
      checkTopicLoop(o);
      const partitions = await requireTopic(o.admin, o.topic, o.servers);
      const sizes = await sizeConfigs(o.admin, o.topic);
      await ensureTopic(o.admin, o.outputTopic, partitions, sizes);
      await ensureTopic(o.admin, o.deadLetterTopic, 1, sizes);
      await ensureChangelog(o.admin, changelog);
      // The query's transactional id before per-partition ids: fence it once (an instance of
      // the older build stops; a transaction it left open is settled before offsets are read).
      await (await openTransactionalSink(o.kafka, {
        transactionalId: o.query,
        transactionTimeout: o.transactionTimeoutMs,
      })).close();
      const { meta, partitionMetas } = await readChangelog(o.kafka, o.admin, changelog);
      if (meta && stateful) {
        throw new ChangelogError(
          `query '${o.query}' keeps its windows in one copy (changelog ${changelog}); they cannot ` +
            "be split over partitions: run it without --repartition, or start over with another " +
            "--query-name",
        );
      }
      const metas = [...(meta ? [meta] : []), ...partitionMetas.values()];
      for (const m of metas) checkTopic(m);
      // Settings are checked against one meta record (every record carries the same ones).
      if (metas.length > 0 && !stateful) probe.restore(metas[0], []);
      for (const m of metas) {
        for (const [p, off] of Object.entries(m.offsets)) metaOffsets.set(Number(p), BigInt(off));
      }
    },
    async stored(partitions) {
      // Take each partition over first (fencing its last owner), then read its offset.
      await Promise.all(partitions.map(async (p) => {
        await drop(p);
        producers.set(
          p,
          await openTransactionalSink(o.kafka, {
            transactionalId: partitionTransactionalId(o.query, o.topic, p),
            transactionTimeout: o.transactionTimeoutMs,
          }),
        );
      }));
      if (stateful) await restore(partitions);
      return await read(partitions, true);
    },
    observe: (partitions) => read(partitions, false, true),
    async begin(resume, fresh) {
      o.log(
        "start",
        [...resume].map(([p, s]) => `p${p}@${s}${fresh.includes(p) ? " (new)" : ""}`).join(" "),
      );
      // A new partition records where it starts, so a restart does not resolve it again.
      try {
        await Promise.all(fresh.map((p) =>
          producers.get(p)!.commit(
            [{ topic: changelog, messages: [metaMessage(p, resume.get(p)!)] }],
            groupOffsets(p, resume.get(p)!),
          )
        ));
      } catch (e) {
        if (!(e instanceof FencedError)) throw e;
        o.log("conflict", `${o.query}: another copy took a partition over first; re-reading`);
        return false;
      }
      return true;
    },
    async prepare(slice: SourceSlice) {
      const t0 = performance.now();
      const txns: PartitionTxn[] = [];
      for (const part of slice.partitions) {
        const p = part.partition;
        const out = await transformOf(p).apply({ latest: slice.latest, partitions: [part] });
        const topics: TopicMessages[] = [];
        if (out.output.length > 0) topics.push({ topic: o.outputTopic, messages: out.output });
        topics.push({
          topic: changelog,
          messages: [
            ...out.state.map((r) => ({ key: prefix(p) + r.key, value: r.value })),
            metaMessage(p, part.end),
          ],
        });
        if (out.dead.length > 0) topics.push({ topic: o.deadLetterTopic, messages: out.dead });
        txns.push({ partition: p, end: part.end, topics, out });
      }
      return { txns, transformMs: performance.now() - t0 };
    },
    async commit(b: PartitionedBatch, batch: BatchInfo): Promise<Committed | Conflicted> {
      const t0 = performance.now();
      maybeFault(fault, "before-send", batch.seq);
      const outcomes = await Promise.allSettled(b.txns.map(async (t) => {
        const producer = producers.get(t.partition);
        if (!producer) throw new FencedError(`partition ${t.partition} is not held`);
        await producer.commit(t.topics, groupOffsets(t.partition, t.end), {
          afterSend: () => maybeFault(fault, "after-send", batch.seq),
          beforeCommit: () => maybeFault(fault, "before-commit", batch.seq),
        });
      }));
      const fenced: number[] = [];
      const done: number[] = [];
      let failure: unknown;
      let output = 0, dead = 0;
      let eventTime: EventTimeProgress | undefined;
      const reasons: Record<string, number> = {};
      outcomes.forEach((r, i) => {
        const t = b.txns[i];
        if (r.status === "rejected") {
          if (r.reason instanceof FencedError) fenced.push(t.partition);
          else failure ??= r.reason;
          return;
        }
        done.push(t.partition);
        output += t.out.output.length;
        dead += t.out.dead.length;
        if (t.out.eventTime) eventTime = mergeEventTime(eventTime, t.out.eventTime);
        for (const [k, n] of Object.entries(t.out.deadReasons)) reasons[k] = (reasons[k] ?? 0) + n;
      });
      for (const p of fenced) await drop(p);
      const sink = {
        [o.outputTopic]: { rows: output },
        [o.deadLetterTopic]: { rows: dead },
      };
      // Any failure: the partitions that committed stand; the engine reads every position again.
      if (failure !== undefined && fenced.length === 0) throw failure;
      if (fenced.length > 0 || failure !== undefined) {
        return {
          ok: false,
          conflict: `partition(s) ${fenced.join(",")} taken over by another copy of the query`,
          sink,
          committed: { partitions: done, deadLetters: dead, deadLetterReasons: reasons },
        };
      }
      maybeFault(fault, "after-commit", batch.seq);
      return {
        ok: true,
        sink,
        deadLetters: dead,
        deadLetterReasons: reasons,
        output: { topic: o.outputTopic, records: output },
        ...(eventTime ? { eventTime } : {}),
        durationMs: { transform: b.transformMs, commit: performance.now() - t0 },
      };
    },
    async close() {
      await Promise.all([...producers.keys()].map(drop));
      probe.close();
    },
  };
}
