/**
 * Test helpers for tests that talk to a real Kafka broker: the bootstrap address from the
 * environment, unique topic names, topic create/delete, free ports and a raw ApiVersions probe.
 *
 * Tests need a running broker: `deno task kafka:up` (127.0.0.1:9092), or set
 * `KAFKA_BOOTSTRAP_SERVERS`. Set `KAFKA_TEST_LOG=info|warn|error|debug` to see kafkajs logs.
 *
 * @module
 */

import { type Admin, Kafka, type KafkaConfig, logLevel } from "kafkajs";

// kafkajs warns on every producer that its default partitioner changed in v2; we rely on the new one.
Deno.env.set("KAFKAJS_NO_PARTITIONER_WARNING", "1");

/** Bootstrap servers for tests: `KAFKA_BOOTSTRAP_SERVERS`, default `127.0.0.1:9092`. */
export function bootstrapServers(): string[] {
  const env = Deno.env.get("KAFKA_BOOTSTRAP_SERVERS") ?? "127.0.0.1:9092";
  return env.split(",").map((s) => s.trim()).filter(Boolean);
}

/**
 * A topic (or group, or transactional id) name no other test run uses.
 *
 * @example
 * ```ts
 * uniqueName("compat"); // "test-compat-1a2b3c4d"
 * ```
 */
export function uniqueName(area: string): string {
  return `test-${area}-${crypto.randomUUID().slice(0, 8)}`;
}

function testLogLevel(): logLevel {
  switch (Deno.env.get("KAFKA_TEST_LOG")?.toLowerCase()) {
    case "debug":
      return logLevel.DEBUG;
    case "info":
      return logLevel.INFO;
    case "warn":
      return logLevel.WARN;
    case "error":
      return logLevel.ERROR;
    default:
      // kafkajs logs retriable broker answers ("coordinator is loading") at ERROR level.
      return logLevel.NOTHING;
  }
}

/** A kafkajs client for tests on the test broker (quiet unless `KAFKA_TEST_LOG` is set). */
export function testKafka(overrides: Partial<KafkaConfig> = {}): Kafka {
  return new Kafka({
    clientId: "tests",
    brokers: bootstrapServers(),
    logLevel: testLogLevel(),
    connectionTimeout: 3000,
    ...overrides,
  });
}

/** Run `fn` with a connected admin client, disconnecting afterwards. */
export async function withAdmin<T>(kafka: Kafka, fn: (admin: Admin) => Promise<T>): Promise<T> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    return await fn(admin);
  } finally {
    await admin.disconnect();
  }
}

/** Create a topic and wait until every partition has a leader. */
export async function createTopic(kafka: Kafka, topic: string, numPartitions = 1): Promise<void> {
  await withAdmin(kafka, async (admin) => {
    await admin.createTopics({ topics: [{ topic, numPartitions }], waitForLeaders: true });
  });
}

/** Delete topics, ignoring ones that do not exist. */
export async function deleteTopics(kafka: Kafka, topics: string[]): Promise<void> {
  await withAdmin(kafka, async (admin) => {
    const existing = new Set(await admin.listTopics());
    const present = topics.filter((t) => existing.has(t));
    if (present.length > 0) await admin.deleteTopics({ topics: present });
  });
}

/** A TCP port on 127.0.0.1 that was free a moment ago. */
export function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  return port;
}

/** One API a broker supports, from its ApiVersions answer. */
export interface ApiVersionRange {
  /** Kafka API key (0 = Produce, 1 = Fetch, ...). */
  apiKey: number;
  /** Lowest request version the broker accepts. */
  minVersion: number;
  /** Highest request version the broker accepts. */
  maxVersion: number;
}

/**
 * Ask a broker which request versions it supports with a hand-written ApiVersions v0 request
 * (independent of kafkajs, so it can judge kafkajs).
 */
export async function brokerApiVersions(bootstrap = bootstrapServers()[0]): Promise<
  ApiVersionRange[]
> {
  const [hostname, port] = [
    bootstrap.slice(0, bootstrap.lastIndexOf(":")),
    bootstrap.slice(
      bootstrap.lastIndexOf(":") + 1,
    ),
  ];
  const clientId = new TextEncoder().encode("tests");
  // size, api_key=18, api_version=0, correlation_id=1, client_id (int16 length + bytes)
  const req = new Uint8Array(4 + 2 + 2 + 4 + 2 + clientId.length);
  const dv = new DataView(req.buffer);
  dv.setInt32(0, req.length - 4);
  dv.setInt16(4, 18);
  dv.setInt16(6, 0);
  dv.setInt32(8, 1);
  dv.setInt16(12, clientId.length);
  req.set(clientId, 14);

  const conn = await Deno.connect({ hostname, port: Number(port) });
  try {
    await conn.write(req);
    const chunks: Uint8Array[] = [];
    let have = 0;
    let need = Infinity;
    const buf = new Uint8Array(64 * 1024);
    while (have < need) {
      const n = await conn.read(buf);
      if (n === null) throw new Error(`broker ${bootstrap} closed the connection`);
      chunks.push(buf.slice(0, n));
      have += n;
      if (need === Infinity && have >= 4) {
        const all = concat(chunks);
        need = 4 + new DataView(all.buffer).getInt32(0);
      }
    }
    const res = new DataView(concat(chunks).buffer);
    const errorCode = res.getInt16(8);
    if (errorCode !== 0) throw new Error(`ApiVersions error code ${errorCode}`);
    const count = res.getInt32(10);
    const out: ApiVersionRange[] = [];
    for (let i = 0, o = 14; i < count; i++, o += 6) {
      out.push({
        apiKey: res.getInt16(o),
        minVersion: res.getInt16(o + 2),
        maxVersion: res.getInt16(o + 4),
      });
    }
    return out;
  } finally {
    conn.close();
  }
}

function concat(chunks: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
  let o = 0;
  for (const c of chunks) {
    out.set(c, o);
    o += c.length;
  }
  return out;
}
