/**
 * The streams as the dashboard sees them: each one's `/metrics` endpoint (lib/engine/metrics.ts,
 * served by `--metrics-port`) scraped on every update, parsed from the Prometheus text format,
 * and turned into per-partition lag and throughput (offsets per second between two scrapes),
 * records per second, dead letters by reason, and whether Kafka and the stream are healthy. A
 * stream that does not answer is reported as down, with why, never as zero lag.
 *
 * @module
 */
import { METRIC_PREFIX } from "../engine/metrics.ts";

/** One sample of the exposition text. */
export interface Sample {
  /** Metric name. */
  name: string;
  /** Label values by name. */
  labels: Record<string, string>;
  /** The value. */
  value: number;
}

/**
 * Parses the Prometheus text format (version 0.0.4): comments and blank lines are skipped,
 * label values unescaped; a line that is not a sample is skipped too.
 *
 * @example
 * ```ts
 * import { parseExposition } from "./metrics.ts";
 * parseExposition('# TYPE x gauge\nx{a="1",b="q\\"t"} 2.5\ny 3\n');
 * // [{ name: "x", labels: { a: "1", b: 'q"t' }, value: 2.5 }, { name: "y", labels: {}, value: 3 }]
 * ```
 */
export function parseExposition(text: string): Sample[] {
  const out: Sample[] = [];
  for (const raw of text.split("\n")) {
    const line = raw.trim();
    if (line === "" || line.startsWith("#")) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})?\s+(\S+)/.exec(line);
    if (!m) continue;
    const labels: Record<string, string> = {};
    if (m[3]) {
      const re = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g;
      for (const l of m[3].matchAll(re)) {
        labels[l[1]] = l[2].replace(/\\(.)/g, (_, c) => (c === "n" ? "\n" : c));
      }
    }
    const v = m[4] === "+Inf" ? Infinity : m[4] === "-Inf" ? -Infinity : Number(m[4]);
    out.push({ name: m[1], labels, value: v });
  }
  return out;
}

/** A stream's metrics endpoint. */
export interface StreamEndpoint {
  /** Name shown on the page (e.g. "cleaned"). */
  name: string;
  /** The `/metrics` URL. */
  url: string;
}

/** One input partition of a stream. */
export interface PartitionRow {
  /** Partition number. */
  partition: number;
  /** Records between the high watermark and the committed offset. */
  lag: number;
  /** Next offset the output holds. */
  committed: number;
  /** Offsets committed per second since the previous scrape (null on the first). */
  rate: number | null;
}

/** A stream at one scrape. */
export interface StreamView {
  /** Its name. */
  name: string;
  /** Its metrics URL. */
  url: string;
  /** Whether the endpoint answered. */
  up: boolean;
  /** Why not, or the health reason; empty when all is well. */
  message: string;
  /** The query's name (label `query`). */
  query: string;
  /** 1/0 of `healthy`, or null when unknown. */
  healthy: boolean | null;
  /** 1/0 of `broker_up`, or null when unknown. */
  brokerUp: boolean | null;
  /** Per partition, ascending. */
  partitions: PartitionRow[];
  /** Lag summed over the partitions. */
  lag: number;
  /** Input records per second since the previous scrape (null on the first). */
  recordsPerSecond: number | null;
  /** Input records committed in all. */
  records: number;
  /** Dead letters by reason (the stream's counter). */
  deadLetters: Record<string, number>;
  /** When it was scraped (ms). */
  scrapedAt: number;
}

const P = METRIC_PREFIX;

/** A stream that gave no figures (not scraped yet, or down), with the reason. */
export function downView(e: StreamEndpoint, message: string, at: number): StreamView {
  return {
    name: e.name,
    url: e.url,
    up: false,
    message,
    query: "",
    healthy: null,
    brokerUp: null,
    partitions: [],
    lag: 0,
    recordsPerSecond: null,
    records: 0,
    deadLetters: {},
    scrapedAt: at,
  };
}

/**
 * Endpoints from a flag value: `name=URL|PORT|HOST:PORT`, comma-separated; a bare port or
 * host:port becomes `http://HOST:PORT/metrics` (host 127.0.0.1 when only a port is given).
 *
 * @example
 * ```ts
 * import { parseEndpoints } from "./metrics.ts";
 * parseEndpoints("cleaned=9102,producer=http://127.0.0.1:9103/metrics");
 * // [{ name: "cleaned", url: "http://127.0.0.1:9102/metrics" },
 * //  { name: "producer", url: "http://127.0.0.1:9103/metrics" }]
 * ```
 */
export function parseEndpoints(text: string): StreamEndpoint[] {
  const out: StreamEndpoint[] = [];
  for (const part of text.split(",").map((s) => s.trim()).filter((s) => s !== "")) {
    const eq = part.indexOf("=");
    if (eq <= 0) {
      throw new RangeError(`'${part}' is not name=PORT or name=URL (e.g. cleaned=9102)`);
    }
    const name = part.slice(0, eq).trim();
    const where = part.slice(eq + 1).trim();
    let url: string;
    if (/^\d+$/.test(where)) url = `http://127.0.0.1:${where}/metrics`;
    else if (/^[\w.-]+:\d+$/.test(where)) url = `http://${where}/metrics`;
    else if (/^https?:\/\//.test(where)) url = where;
    else throw new RangeError(`'${where}' is not a port, host:port or http URL`);
    const port = Number(new URL(url).port || 80);
    if (!(port > 0 && port < 65536)) throw new RangeError(`'${where}': port out of range`);
    out.push({ name, url });
  }
  return out;
}

/**
 * Scrapes the endpoints every time {@link StreamScraper.scrape} is called and keeps the previous
 * scrape of each for rates.
 *
 * @example
 * ```ts
 * import { StreamScraper } from "./metrics.ts";
 * const scraper = new StreamScraper([{ name: "cleaned", url: "http://127.0.0.1:9/metrics" }]);
 * const [v] = await scraper.scrape();
 * [v.up, v.message]; // [false, "no answer from http://127.0.0.1:9/metrics (is the stream running with --metrics-port?)"]
 * ```
 */
export class StreamScraper {
  readonly endpoints: readonly StreamEndpoint[];
  readonly #timeoutMs: number;
  #prev = new Map<string, { at: number; records: number; committed: Map<number, number> }>();

  constructor(endpoints: readonly StreamEndpoint[], timeoutMs = 2000) {
    this.endpoints = endpoints;
    this.#timeoutMs = timeoutMs;
  }

  /** Scrapes every endpoint (in parallel). */
  scrape(): Promise<StreamView[]> {
    return Promise.all(this.endpoints.map((e) => this.#one(e)));
  }

  async #one(e: StreamEndpoint): Promise<StreamView> {
    const now = Date.now();
    const down = (message: string): StreamView => {
      this.#prev.delete(e.name);
      return downView(e, message, now);
    };
    let text: string;
    try {
      const res = await fetch(e.url, { signal: AbortSignal.timeout(this.#timeoutMs) });
      text = await res.text();
      if (!res.ok) return down(`${e.url} answered ${res.status}`);
    } catch (err) {
      const timedOut = (err as Error)?.name === "TimeoutError";
      return down(
        timedOut
          ? `${e.url} did not answer within ${this.#timeoutMs} ms`
          : `no answer from ${e.url} (is the stream running with --metrics-port?)`,
      );
    }
    const samples = parseExposition(text);
    if (!samples.some((s) => s.name.startsWith(P))) {
      return down(`${e.url} answered, but with no ${P}* metrics: is it a stream's endpoint?`);
    }
    const get = (name: string) => samples.filter((s) => s.name === `${P}${name}`);
    const one = (name: string) => get(name)[0]?.value;
    const lag = new Map(get("partition_lag_records").map((s) => [Number(s.labels.partition), s]));
    const committed = new Map(
      get("committed_offset").map((s) => [Number(s.labels.partition), s.value]),
    );
    const records = get("input_records_total").reduce((n, s) => n + s.value, 0);
    const prev = this.#prev.get(e.name);
    const dt = prev ? (now - prev.at) / 1000 : 0;
    const partitions = [...new Set([...committed.keys(), ...lag.keys()])].sort((a, b) => a - b)
      .map((p) => {
        const c = committed.get(p) ?? 0;
        const before = prev?.committed.get(p);
        return {
          partition: p,
          lag: lag.get(p)?.value ?? 0,
          committed: c,
          rate: before !== undefined && dt > 0 ? Math.max(0, (c - before) / dt) : null,
        };
      });
    this.#prev.set(e.name, { at: now, records, committed });
    const deadLetters: Record<string, number> = {};
    for (const s of get("dead_letters_total")) {
      deadLetters[s.labels.reason ?? "unknown"] = (deadLetters[s.labels.reason ?? "unknown"] ??
        0) + s.value;
    }
    const healthy = one("healthy");
    const brokerUp = one("broker_up");
    const unreachable = one("broker_unreachable_seconds") ?? 0;
    let message = "";
    if (brokerUp === 0) {
      message = `the stream cannot reach Kafka (for ${Math.round(unreachable)} s)`;
    } else if (healthy === 0) {
      message = "unhealthy (see its /healthz)";
      try {
        const h = await fetch(new URL("/healthz", e.url), {
          signal: AbortSignal.timeout(this.#timeoutMs),
        });
        const reason = (await h.text()).trim();
        if (!h.ok && reason) message = reason;
      } catch {
        // keep the generic message
      }
    }
    return {
      name: e.name,
      url: e.url,
      up: true,
      message,
      query: get("batches_total")[0]?.labels.query ?? "",
      healthy: healthy === undefined ? null : healthy === 1,
      brokerUp: brokerUp === undefined ? null : brokerUp === 1,
      partitions,
      lag: partitions.reduce((n, p) => n + p.lag, 0),
      recordsPerSecond: prev && dt > 0 ? Math.max(0, (records - prev.records) / dt) : null,
      records,
      deadLetters,
      scrapedAt: now,
    };
  }
}
