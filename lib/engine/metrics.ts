/**
 * Metrics of every stream, for Prometheus: a small registry (counters, gauges, histograms) with
 * its own encoder of the text exposition format (version 0.0.4: `# HELP` and `# TYPE` lines,
 * escaped label values, histograms as cumulative `_bucket{le="…"}` series with `_sum` and
 * `_count`), and {@link StreamMetrics}, which the run loop (lib/engine/loop.ts) feeds with one
 * call per event: a source and sink opened, partitions positioned, a batch committed (or
 * dropped), a commit failed, Kafka answering or not (the outage tracker, watched). Gauges that
 * move between batches (lag, partitions assigned, the idle flag, the broker) are read when
 * scraped. lib/engine/metrics_server.ts serves them with `/healthz` (lib/engine/health.ts).
 *
 * Every metric starts with {@link METRIC_PREFIX} and carries a `query` label; README's
 * "Metrics and health" lists them.
 *
 * @module
 */
import { parquetWasmBytes } from "../delta/parquet.ts";
import type { GroupSourceStatus } from "../kafka/group_source.ts";
import type { SourceSlice, StreamSource } from "../kafka/stream_source.ts";
import { type HealthFacts, type HealthStatus, healthStatus } from "./health.ts";
import type { Outage } from "./outage.ts";
import type { Committed, Conflicted, Sink } from "./sink.ts";
import type { MaintenanceProgress } from "./progress.ts";

/** The prefix of every stream metric. */
export const METRIC_PREFIX = "orders_stream_";

/** Label names and values of one series. */
export type Labels = Record<string, string>;

/** The metric types this registry writes. */
export type MetricType = "counter" | "gauge" | "histogram";

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

/**
 * A `# HELP` text escaped for the exposition format (backslash and line feed).
 *
 * @example
 * ```ts
 * import { escapeHelp } from "./metrics.ts";
 * console.log(escapeHelp("a\\b\nc")); // a\\b\nc
 * ```
 */
export function escapeHelp(text: string): string {
  return text.replace(/\\/g, "\\\\").replace(/\n/g, "\\n");
}

/**
 * A label value escaped for the exposition format (backslash, double quote and line feed).
 *
 * @example
 * ```ts
 * import { escapeLabelValue } from "./metrics.ts";
 * console.log(escapeLabelValue('say "hi"')); // say \"hi\"
 * ```
 */
export function escapeLabelValue(value: string): string {
  return value.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n");
}

/**
 * A sample value as the exposition format writes it (`NaN`, `+Inf`, `-Inf`, or the number).
 *
 * @example
 * ```ts
 * import { formatValue } from "./metrics.ts";
 * console.log(formatValue(Infinity), formatValue(0.25)); // +Inf 0.25
 * ```
 */
export function formatValue(value: number): string {
  if (Number.isNaN(value)) return "NaN";
  if (value === Infinity) return "+Inf";
  if (value === -Infinity) return "-Inf";
  return String(value);
}

/** `{a="x",b="y"}`, or nothing for no labels. */
function labelText(labels: readonly (readonly [string, string])[]): string {
  if (labels.length === 0) return "";
  return `{${labels.map(([k, v]) => `${k}="${escapeLabelValue(v)}"`).join(",")}}`;
}

interface Series {
  labels: [string, string][];
  value: number;
  /** Histograms: observations per bucket (not cumulative), the last one is +Inf. */
  buckets?: number[];
  sum?: number;
}

/** One metric family: its name, help, type and series. */
class Family {
  readonly series = new Map<string, Series>();
  constructor(
    readonly name: string,
    readonly help: string,
    readonly type: MetricType,
    readonly bounds: number[] = [],
  ) {
    if (!NAME.test(name)) throw new TypeError(`invalid metric name '${name}'`);
  }

  /** The series of a label set, created at 0. */
  at(labels: Labels): Series {
    const entries = Object.entries(labels);
    for (const [k] of entries) {
      if (!LABEL.test(k) || k.startsWith("__") || (this.type === "histogram" && k === "le")) {
        throw new TypeError(`invalid label name '${k}' on ${this.name}`);
      }
    }
    const key = JSON.stringify(entries.slice().sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
    let s = this.series.get(key);
    if (!s) {
      s = { labels: entries, value: 0 };
      if (this.type === "histogram") {
        s.buckets = new Array(this.bounds.length + 1).fill(0);
        s.sum = 0;
      }
      this.series.set(key, s);
    }
    return s;
  }

  encode(out: string[]): void {
    out.push(`# HELP ${this.name} ${escapeHelp(this.help)}`);
    out.push(`# TYPE ${this.name} ${this.type}`);
    for (const s of this.series.values()) {
      if (this.type !== "histogram") {
        out.push(`${this.name}${labelText(s.labels)} ${formatValue(s.value)}`);
        continue;
      }
      let cumulative = 0;
      const les = [...this.bounds.map(formatValue), "+Inf"];
      for (let i = 0; i < les.length; i++) {
        cumulative += s.buckets![i];
        const labels = [...s.labels, ["le", les[i]] as [string, string]];
        out.push(`${this.name}_bucket${labelText(labels)} ${cumulative}`);
      }
      out.push(`${this.name}_sum${labelText(s.labels)} ${formatValue(s.sum!)}`);
      out.push(`${this.name}_count${labelText(s.labels)} ${cumulative}`);
    }
  }
}

/** A counter: only goes up. */
export interface Counter {
  /** Adds `by` (default 1, never negative) to the series of `labels`. */
  inc(labels: Labels, by?: number): void;
}

/** A gauge: any value, set when known. */
export interface Gauge {
  /** Sets the series of `labels`. */
  set(labels: Labels, value: number): void;
  /** Forgets every series (for sets of series that change: partitions, tables). */
  clear(): void;
}

/** A histogram over fixed bucket bounds. */
export interface Histogram {
  /** Counts one observation. */
  observe(labels: Labels, value: number): void;
  /** Creates the series of `labels` with no observation yet (so it is scraped at 0). */
  init(labels: Labels): void;
}

/**
 * Metric families, written in the order they were registered.
 *
 * @example
 * ```ts
 * import { Registry } from "./metrics.ts";
 * const r = new Registry();
 * r.counter("jobs_total", "Jobs done.").inc({ kind: "a" }, 2);
 * r.histogram("job_seconds", "Job time.", [0.1, 1]).observe({}, 0.5);
 * console.log(r.encode());
 * // # HELP jobs_total Jobs done.
 * // # TYPE jobs_total counter
 * // jobs_total{kind="a"} 2
 * // # HELP job_seconds Job time.
 * // # TYPE job_seconds histogram
 * // job_seconds_bucket{le="0.1"} 0
 * // job_seconds_bucket{le="1"} 1
 * // job_seconds_bucket{le="+Inf"} 1
 * // job_seconds_sum 0.5
 * // job_seconds_count 1
 * ```
 */
export class Registry {
  #families = new Map<string, Family>();

  #add(family: Family): Family {
    if (this.#families.has(family.name)) {
      throw new TypeError(`metric '${family.name}' is registered twice`);
    }
    this.#families.set(family.name, family);
    return family;
  }

  /** Registers a counter (its name should end in `_total`). */
  counter(name: string, help: string): Counter {
    const f = this.#add(new Family(name, help, "counter"));
    return {
      inc(labels, by = 1) {
        if (!(by >= 0)) throw new RangeError(`counter ${name} cannot go down (by ${by})`);
        f.at(labels).value += by;
      },
    };
  }

  /** Registers a gauge. */
  gauge(name: string, help: string): Gauge {
    const f = this.#add(new Family(name, help, "gauge"));
    return {
      set(labels, value) {
        f.at(labels).value = value;
      },
      clear() {
        f.series.clear();
      },
    };
  }

  /** Registers a histogram with these (increasing, finite) upper bounds; `+Inf` is added. */
  histogram(name: string, help: string, bounds: readonly number[]): Histogram {
    for (let i = 0; i < bounds.length; i++) {
      if (!Number.isFinite(bounds[i]) || (i > 0 && bounds[i] <= bounds[i - 1])) {
        throw new RangeError(`histogram ${name}: bounds must increase and be finite`);
      }
    }
    const f = this.#add(new Family(name, help, "histogram", [...bounds]));
    return {
      observe(labels, value) {
        const s = f.at(labels);
        let i = 0;
        while (i < f.bounds.length && value > f.bounds[i]) i++;
        s.buckets![i]++;
        s.sum! += value;
      },
      init(labels) {
        f.at(labels);
      },
    };
  }

  /** The text exposition of every family (families without series show HELP and TYPE only). */
  encode(): string {
    const out: string[] = [];
    for (const f of this.#families.values()) f.encode(out);
    return out.join("\n") + "\n";
  }
}

/** Bucket bounds of the duration histograms, seconds. */
export const DURATION_BUCKETS: readonly number[] = [
  0.005,
  0.01,
  0.025,
  0.05,
  0.1,
  0.25,
  0.5,
  1,
  2.5,
  5,
  10,
  30,
  60,
];

/** Settings of {@link StreamMetrics}. */
export interface StreamMetricsOptions {
  /** The query name (the `query` label). */
  query: string;
  /** The topic read. */
  topic: string;
  /** The consumer group's session timeout: no partition for longer is `idle`, ms. */
  sessionTimeoutMs: number;
  /** `/healthz` turns 503 after this long (see lib/engine/health.ts), ms. */
  healthTimeoutMs: number;
  /** The clock (tests), ms since the epoch. */
  now?: () => number;
}

const seconds = (ms: number) => ms / 1000;

/**
 * One query's metrics, fed by the run loop, read by the metrics server.
 *
 * @example
 * ```ts
 * import { StreamMetrics } from "./metrics.ts";
 * const m = new StreamMetrics({
 *   query: "orders_raw", topic: "retail-data-new", sessionTimeoutMs: 30_000,
 *   healthTimeoutMs: 60_000,
 * });
 * console.log(m.health()); // { ok: true }
 * console.log(m.render().includes('orders_stream_batches_total{query="orders_raw"} 0')); // true
 * ```
 */
export class StreamMetrics {
  readonly #o: StreamMetricsOptions;
  readonly #now: () => number;
  readonly #r = new Registry();
  readonly #q: Labels;
  #source?: StreamSource & Partial<GroupSourceStatus>;
  #transactional = false;
  #committed = new Map<number, bigint>();
  #latest = new Map<number, bigint>();
  #downSince?: number;
  #lastError = "";
  #lastCommitAt?: number;
  #caughtUpAt?: number;
  readonly #startedAt: number;

  readonly #lag: Gauge;
  readonly #committedG: Gauge;
  readonly #latestG: Gauge;
  readonly #assigned: Gauge;
  readonly #idle: Gauge;
  readonly #brokerUp: Gauge;
  readonly #unreachable: Gauge;
  readonly #healthy: Gauge;
  readonly #records: Counter;
  readonly #rows: Counter;
  readonly #dead: Counter;
  readonly #batches: Counter;
  readonly #dropped: Counter;
  readonly #failures: Counter;
  readonly #duration: Histogram;
  readonly #latency: Histogram;
  readonly #files: Counter;
  readonly #bytes: Counter;
  readonly #compactions: Counter;
  readonly #compacted: Counter;
  readonly #logRemoved: Counter;
  readonly #checkpoints: Counter;
  readonly #maintenanceFailures: Counter;
  readonly #version: Gauge;
  readonly #lastCommit: Gauge;
  readonly #txns: Counter;
  readonly #outputRecords: Counter;
  readonly #watermark: Gauge;
  readonly #lateDropped: Counter;
  readonly #lateAccepted: Counter;
  readonly #windows: Gauge;
  readonly #memory: Gauge;

  constructor(o: StreamMetricsOptions) {
    this.#o = o;
    this.#now = o.now ?? Date.now;
    this.#startedAt = this.#now();
    this.#q = { query: o.query };
    const r = this.#r;
    const p = METRIC_PREFIX;
    this.#lag = r.gauge(
      `${p}partition_lag_records`,
      "Offsets between the partition's high watermark and the committed offset.",
    );
    this.#committedG = r.gauge(
      `${p}committed_offset`,
      "Next offset to read per partition, as the output (Delta txn or Kafka group) holds it.",
    );
    this.#latestG = r.gauge(`${p}latest_offset`, "High watermark last seen per partition.");
    this.#assigned = r.gauge(`${p}partitions_assigned`, "Partitions this copy of the query holds.");
    this.#idle = r.gauge(
      `${p}idle`,
      "1 when the query has held no partition for longer than the session timeout.",
    );
    this.#brokerUp = r.gauge(`${p}broker_up`, "1 while Kafka answers, 0 while it is unreachable.");
    this.#unreachable = r.gauge(
      `${p}broker_unreachable_seconds`,
      "How long Kafka has been unreachable (0 while it answers).",
    );
    this.#healthy = r.gauge(`${p}healthy`, "1 while /healthz answers 200, else 0.");
    this.#records = r.counter(`${p}input_records_total`, "Kafka records read and committed.");
    this.#rows = r.counter(`${p}output_rows_total`, "Rows written per table (or topic).");
    this.#dead = r.counter(
      `${p}dead_letters_total`,
      "Records rejected as dead letters, by reason.",
    );
    this.#batches = r.counter(`${p}batches_total`, "Micro-batches committed.");
    this.#dropped = r.counter(
      `${p}batches_dropped_total`,
      "Micro-batches dropped because another writer moved the offsets (read again).",
    );
    this.#failures = r.counter(
      `${p}commit_failures_total`,
      "Commits that failed (the query restarts from the output, or ends).",
    );
    this.#duration = r.histogram(
      `${p}batch_duration_seconds`,
      "Time of a micro-batch from its slice to its committed result.",
      DURATION_BUCKETS,
    );
    this.#latency = r.histogram(
      `${p}commit_latency_seconds`,
      "Time of the sink's commit of a micro-batch (Delta files and commits, or the transaction).",
      DURATION_BUCKETS,
    );
    this.#files = r.counter(`${p}files_written_total`, "Delta data files added per table.");
    this.#bytes = r.counter(
      `${p}bytes_written_total`,
      "Bytes of Delta data files added per table.",
    );
    this.#compactions = r.counter(
      `${p}compactions_total`,
      "Auto-compaction commits (table maintenance, over the query's tables).",
    );
    this.#compacted = r.counter(
      `${p}compacted_files_total`,
      "Small data files that auto-compaction replaced.",
    );
    this.#logRemoved = r.counter(
      `${p}log_files_removed_total`,
      "Expired _delta_log files (commits, checkpoints) deleted by log cleanup.",
    );
    this.#checkpoints = r.counter(
      `${p}checkpoints_total`,
      "Checkpoints written by table maintenance.",
    );
    this.#maintenanceFailures = r.counter(
      `${p}maintenance_failures_total`,
      "Table maintenance steps that failed (logged; retried later; ingestion goes on).",
    );
    this.#version = r.gauge(`${p}table_version`, "Delta table version last committed.");
    this.#lastCommit = r.gauge(
      `${p}last_commit_timestamp_seconds`,
      "When the last micro-batch was committed (Unix time).",
    );
    this.#txns = r.counter(
      `${p}transactions_total`,
      "Kafka transactions of micro-batches, by outcome (committed, aborted).",
    );
    this.#outputRecords = r.counter(
      `${p}output_records_total`,
      "Records sent to the output topic (without dead letters and changelog).",
    );
    this.#watermark = r.gauge(
      `${p}watermark_timestamp_seconds`,
      "Event-time watermark of a windowed query (Unix time).",
    );
    this.#lateDropped = r.counter(
      `${p}late_records_dropped_total`,
      "Records beyond the watermark, dropped.",
    );
    this.#lateAccepted = r.counter(
      `${p}late_records_accepted_total`,
      "Late records still inside the watermark, accepted.",
    );
    this.#windows = r.gauge(`${p}windows`, "Windows held in state.");
    this.#memory = r.gauge(
      `${p}memory_bytes`,
      "Process memory at the last batch: rss, heap_used, heap_total, external (wasm, buffers), " +
        "and wasm (the stream thread's Parquet module).",
    );
    // Series known from the start, so rates and alerts see them at 0.
    this.#records.inc({ ...this.#q, topic: o.topic }, 0);
    for (const c of [this.#batches, this.#dropped, this.#failures]) c.inc(this.#q, 0);
    for (const h of [this.#duration, this.#latency]) h.init(this.#q);
  }

  /**
   * Wraps the query's outage tracker: every failure and answer passes through (sources report
   * to the returned tracker), and the broker gauges and the health check see them.
   */
  watchOutage(outage: Outage): Outage {
    return {
      failed: (error) => {
        this.#downSince ??= this.#now();
        this.#lastError = outage.explain(error);
        outage.failed(error);
      },
      answered: () => {
        this.#downSince = undefined;
        outage.answered();
      },
      get down() {
        return outage.down;
      },
      check: () => outage.check(),
      delay: (attempt) => outage.delay(attempt),
      explain: (error) => outage.explain(error),
    };
  }

  /** A new source and sink (the start, or a restart after an outage). */
  opened(source: StreamSource, sink: Sink): void {
    this.#source = source as StreamSource & Partial<GroupSourceStatus>;
    this.#transactional = sink.transactional === true;
    const q = this.#q;
    if (this.#transactional) {
      this.#txns.inc({ ...q, outcome: "committed" }, 0);
      this.#txns.inc({ ...q, outcome: "aborted" }, 0);
    } else {
      const maintenance = [
        this.#compactions,
        this.#compacted,
        this.#logRemoved,
        this.#checkpoints,
        this.#maintenanceFailures,
      ];
      for (const c of maintenance) c.inc(q, 0);
    }
  }

  /** Partitions got their positions (`resume`) with the topic's watermarks read then. */
  positioned(resume: Map<number, bigint>, marks: Map<number, { high: bigint }>): void {
    for (const [p, off] of resume) this.#committed.set(p, off);
    for (const [p, m] of marks) this.#seen(p, m.high);
  }

  /** Table maintenance done (with a batch, or by background work that ended after it). */
  maintenance(m: MaintenanceProgress): void {
    const q = this.#q;
    this.#compactions.inc(q, m.compactions ?? 0);
    this.#compacted.inc(q, m.filesCompacted ?? 0);
    this.#logRemoved.inc(q, m.logFilesRemoved ?? 0);
    this.#checkpoints.inc(q, m.checkpoints ?? 0);
    this.#maintenanceFailures.inc(q, m.failures ?? 0);
  }

  #seen(partition: number, latest: bigint): void {
    const had = this.#latest.get(partition);
    if (had === undefined || latest > had) this.#latest.set(partition, latest);
  }

  /**
   * A batch's result: committed (records, rows, dead letters, durations, files, maintenance,
   * offsets, event time) or dropped on a conflict. `t0` is when its slice was taken and `c0`
   * when its commit began (performance.now()).
   */
  batch(slice: SourceSlice, result: Committed | Conflicted, time: { t0: number; c0: number }) {
    const q = this.#q;
    if (!result.ok) {
      this.#dropped.inc(q);
      return;
    }
    const end = performance.now();
    const now = this.#now();
    this.#lastCommitAt = now;
    const m = Deno.memoryUsage();
    const memory = {
      rss: m.rss,
      heap_used: m.heapUsed,
      heap_total: m.heapTotal,
      external: m.external,
      wasm: parquetWasmBytes(),
    };
    for (const [kind, v] of Object.entries(memory)) this.#memory.set({ ...q, kind }, v);
    this.#batches.inc(q);
    this.#duration.observe(q, seconds(end - time.t0));
    this.#latency.observe(q, seconds(end - time.c0));
    this.#lastCommit.set(q, seconds(now));
    let records = 0;
    for (const part of slice.partitions) {
      records += part.messages.length;
      this.#committed.set(part.partition, part.end);
    }
    for (const [p, latest] of slice.latest) this.#seen(p, latest);
    this.#records.inc({ ...q, topic: this.#o.topic }, records);
    const where = this.#transactional ? "topic" : "table";
    for (const [name, s] of Object.entries(result.sink)) {
      this.#rows.inc({ ...q, [where]: name }, s.rows);
      if (s.version !== undefined) this.#version.set({ ...q, table: name }, s.version);
    }
    const reasons = result.deadLetterReasons ?? {};
    let named = 0;
    for (const [reason, n] of Object.entries(reasons)) {
      this.#dead.inc({ ...q, reason }, n);
      named += n;
    }
    if ((result.deadLetters ?? 0) > named) {
      this.#dead.inc({ ...q, reason: "unknown" }, result.deadLetters! - named);
    }
    for (const [table, w] of Object.entries(result.written ?? {})) {
      this.#files.inc({ ...q, table }, w.files);
      this.#bytes.inc({ ...q, table }, w.bytes);
    }
    if (result.maintenance) this.maintenance(result.maintenance);
    if (this.#transactional) {
      this.#txns.inc({ ...q, outcome: "committed" });
      if (result.output) {
        this.#outputRecords.inc({ ...q, topic: result.output.topic }, result.output.records);
      }
    }
    const e = result.eventTime;
    if (e) {
      if (e.watermark !== null) this.#watermark.set(q, seconds(e.watermark));
      this.#lateDropped.inc(q, e.dropped);
      this.#lateAccepted.inc(q, e.late);
      this.#windows.set(q, e.windows);
    }
  }

  /** A commit failed (a Kafka sink: its transaction is aborted). */
  commitFailed(): void {
    this.#failures.inc(this.#q);
    if (this.#transactional) this.#txns.inc({ ...this.#q, outcome: "aborted" });
  }

  /** Per assigned, positioned partition: its committed offset, latest offset and lag. */
  #partitions(): { partition: number; committed: bigint; latest?: bigint }[] {
    const source = this.#source;
    if (!source) return [];
    for (const [p, latest] of source.latestOffsets?.() ?? []) this.#seen(p, latest);
    const waiting = new Set(source.unpositioned());
    return [...source.positions().keys()]
      .filter((p) => !waiting.has(p) && this.#committed.has(p))
      .sort((a, b) => a - b)
      .map((partition) => ({
        partition,
        committed: this.#committed.get(partition)!,
        latest: this.#latest.get(partition),
      }));
  }

  /** The facts the health check judges, now. */
  #facts(): HealthFacts {
    const now = this.#now();
    const parts = this.#partitions();
    let lag: number | undefined;
    for (const p of parts) {
      if (p.latest === undefined) continue;
      lag = (lag ?? 0) + Math.max(0, Number(p.latest - p.committed));
    }
    if (lag === 0) this.#caughtUpAt = now;
    return {
      now,
      startedAt: this.#startedAt,
      brokerDownSince: this.#downSince,
      brokerError: this.#lastError,
      lastCommitAt: this.#lastCommitAt,
      caughtUpAt: this.#caughtUpAt,
      lag,
    };
  }

  /** 200 or 503 with a one-line reason (see lib/engine/health.ts). */
  health(): HealthStatus {
    return healthStatus(this.#facts(), this.#o.healthTimeoutMs);
  }

  /** The exposition text, with the gauges read now. */
  render(): string {
    const q = this.#q;
    const now = this.#now();
    const parts = this.#partitions();
    for (const g of [this.#lag, this.#committedG, this.#latestG]) g.clear();
    for (const p of parts) {
      const l = { ...q, partition: String(p.partition) };
      this.#committedG.set(l, Number(p.committed));
      if (p.latest === undefined) continue;
      this.#latestG.set(l, Number(p.latest));
      this.#lag.set(l, Math.max(0, Number(p.latest - p.committed)));
    }
    const held = this.#source?.positions().size ?? 0;
    this.#assigned.set(q, held);
    const idleSince = this.#source?.idleSince?.();
    this.#idle.set(
      q,
      idleSince !== undefined && now - idleSince >= this.#o.sessionTimeoutMs ? 1 : 0,
    );
    this.#brokerUp.set(q, this.#downSince === undefined ? 1 : 0);
    this.#unreachable.set(q, this.#downSince === undefined ? 0 : seconds(now - this.#downSince));
    this.#healthy.set(q, this.health().ok ? 1 : 0);
    return this.#r.encode();
  }
}
