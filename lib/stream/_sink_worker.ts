/**
 * The sink worker's entry point (private to lib/stream): opens the sink, then builds and commits
 * the micro-batches it is sent, one at a time, in the order received.
 *
 * @module
 */
/// <reference no-default-lib="true" />
/// <reference lib="deno.worker" />
import { faultFromEnv } from "./fault.ts";
import { unpackChunk } from "./packed.ts";
import { openSink, type Sink } from "./sink.ts";
import { writeBatch } from "./writer.ts";
import type { WorkerRequest, WorkerResponse } from "./worker.ts";

let sink: Sink | undefined;
const fault = faultFromEnv();
let queue: Promise<void> = Promise.resolve();

function reply(m: WorkerResponse): void {
  self.postMessage(m);
}

async function handle(m: WorkerRequest): Promise<void> {
  try {
    if (m.type === "init") {
      sink = await openSink(m.spec);
      reply({ type: "ready", seq: 0 });
    } else {
      const chunks = m.chunks.map(unpackChunk);
      reply({
        type: "result",
        seq: m.plan.seq,
        result: await writeBatch(sink!, chunks, m.plan, fault),
      });
    }
  } catch (e) {
    const err = e as Error;
    reply({
      type: "error",
      seq: m.type === "batch" ? m.plan.seq : 0,
      name: err?.name ?? "Error",
      message: err?.message ?? String(e),
    });
  }
}

self.onmessage = (e: MessageEvent<WorkerRequest>) => {
  queue = queue.then(() => handle(e.data));
};
