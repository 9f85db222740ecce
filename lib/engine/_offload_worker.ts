/**
 * The offload worker's entry point (private to lib/engine/offload.ts): imports the module it
 * is told to serve, calls its `serve(init)`, then handles requests one at a time, in order.
 *
 * @module
 */
/// <reference no-default-lib="true" />
/// <reference lib="deno.worker" />
import { UserError } from "../errors.ts";
import type { OffloadRequest, OffloadResponse, Reply } from "./offload.ts";

let handle: ((request: unknown) => Promise<Reply<unknown>> | Reply<unknown>) | undefined;
let queue: Promise<void> = Promise.resolve();

function fail(id: number, e: unknown): void {
  const err = e as Error;
  self.postMessage(
    {
      type: "error",
      id,
      name: err?.name ?? "Error",
      message: err?.message ?? String(e),
      user: e instanceof UserError,
    } satisfies OffloadResponse,
  );
}

async function run(m: OffloadRequest): Promise<void> {
  if (m.type === "init") {
    try {
      const mod = await import(m.module) as {
        serve?: (init: unknown) => Promise<typeof handle>;
      };
      if (typeof mod.serve !== "function") {
        throw new TypeError(`${m.module} does not export serve(init)`);
      }
      handle = await mod.serve(m.init);
      self.postMessage({ type: "ready", id: 0 } satisfies OffloadResponse);
    } catch (e) {
      fail(0, e);
    }
    return;
  }
  try {
    const reply = await handle!(m.request);
    self.postMessage(
      { type: "result", id: m.id, value: reply.value } satisfies OffloadResponse,
      reply.transfer ?? [],
    );
  } catch (e) {
    fail(m.id, e);
  }
}

self.onmessage = (e: MessageEvent<OffloadRequest>) => {
  queue = queue.then(() => run(e.data));
};
