/**
 * The local broker's lifecycle on its own free ports and temp state dir (never the shared broker
 * on 9092): start, serve a client, `up` again is harmless, stop by pid, process gone.
 */

import assert from "node:assert/strict";
import { Kafka, logLevel } from "kafkajs";
import { brokerStatus, PortInUseError, startBroker, stopBroker } from "../../../dev/kafka/mod.ts";
import { freePort, uniqueName } from "../../support/kafka.ts";
import { cli } from "./_cli.ts";

async function processExists(pid: number): Promise<boolean> {
  try {
    const stat = await Deno.readTextFile(`/proc/${pid}/stat`);
    return !/^\d+ \(.*\) [ZX] /.test(stat);
  } catch {
    return false;
  }
}

Deno.test("a second broker: concurrent start, produce/consume, up again, stop by pid", async () => {
  const dir = await Deno.makeTempDir({ prefix: "kafka-broker-test-" });
  const port = freePort();
  const controllerPort = freePort();
  try {
    // Two starts at once (as parallel test runs would do): one starts it, the other finds it.
    const both = await Promise.all([
      startBroker({ port, controllerPort, dir }),
      startBroker({ port, controllerPort, dir }),
    ]);
    assert.deepEqual(both.map((b) => b.alreadyRunning).sort(), [false, true]);
    assert.equal(both[0].pid, both[1].pid);
    const info = both.find((b) => !b.alreadyRunning)!;
    assert.equal(info.bootstrap, `127.0.0.1:${port}`);
    assert.ok(await processExists(info.pid));
    assert.equal((await Deno.readTextFile(`${dir}/broker.pid`)).trim(), String(info.pid));

    // A client can create a topic and round-trip one record.
    const kafka = new Kafka({ brokers: [info.bootstrap], logLevel: logLevel.NOTHING });
    const topic = uniqueName("broker");
    const admin = kafka.admin();
    await admin.connect();
    assert.equal(await admin.createTopics({ topics: [{ topic }], waitForLeaders: true }), true);
    await admin.disconnect();
    const producer = kafka.producer();
    await producer.connect();
    await producer.send({ topic, messages: [{ key: "11599", value: "hello" }] });
    await producer.disconnect();
    const consumer = kafka.consumer({ groupId: uniqueName("broker"), maxWaitTimeInMs: 500 });
    await consumer.connect();
    await consumer.subscribe({ topics: [topic], fromBeginning: true });
    const got = await new Promise<string>((resolve) => {
      consumer.run({
        eachMessage: async ({ message }) => {
          resolve(`${message.key}=${message.value}`);
          await Promise.resolve();
        },
      });
    });
    await consumer.disconnect();
    assert.equal(got, "11599=hello");

    // `up` again, in-process and through the CLI, finds the same broker and starts nothing.
    const again = await startBroker({ dir });
    assert.equal(again.alreadyRunning, true);
    assert.equal(again.pid, info.pid);
    const up = await cli(["up", "--dir", dir]);
    assert.equal(up.code, 0, up.stderr);
    assert.match(
      up.stdout,
      new RegExp(`already running on 127\\.0\\.0\\.1:${port} \\(pid ${info.pid}\\)`),
    );

    const status = await brokerStatus({ dir });
    assert.equal(status.running, true);
    assert.equal(status.answering, true);
    assert.equal(status.pid, info.pid);
    assert.ok((status.rssKiB ?? 0) > 0);

    // Stop by pid: the process goes away, the pid file too; a second stop is harmless.
    const stopped = await stopBroker({ dir });
    assert.deepEqual(stopped, { stopped: true, pid: info.pid, killed: false });
    assert.equal(await processExists(info.pid), false);
    await assert.rejects(Deno.stat(`${dir}/broker.pid`), Deno.errors.NotFound);
    assert.deepEqual(await stopBroker({ dir }), { stopped: false });
    const after = await cli(["status", "--dir", dir]);
    assert.equal(after.code, 3);
    assert.match(after.stdout, /^not running/);
  } finally {
    await stopBroker({ dir, graceMs: 5000 });
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a port taken by someone else is reported, nothing is started", async () => {
  const dir = await Deno.makeTempDir({ prefix: "kafka-broker-test-" });
  const squatter = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (squatter.addr as Deno.NetAddr).port;
  try {
    await assert.rejects(startBroker({ port, controllerPort: freePort(), dir }), PortInUseError);
    await assert.rejects(Deno.stat(`${dir}/broker.pid`), Deno.errors.NotFound);
  } finally {
    squatter.close();
    await Deno.remove(dir, { recursive: true });
  }
});
