/**
 * Records of one partition packed into a few flat buffers, so a micro-batch crosses to the sink
 * worker by transfer (no copy, no structured clone of thousands of objects): offsets and
 * timestamps as Float64Arrays, keys and values as one byte buffer each with lengths (-1 = null).
 *
 * @module
 */
import type { RawChunk, RawMessage } from "../kafka/raw.ts";

/** One partition's records in flat buffers. */
export interface PackedChunk {
  /** Topic. */
  topic: string;
  /** Partition. */
  partition: number;
  /** 0 = CreateTime, 1 = LogAppendTime. */
  timestampType: number;
  /** Offsets (safe integers). */
  offsets: Float64Array;
  /** Timestamps, ms since the epoch. */
  timestamps: Float64Array;
  /** Key bytes, concatenated. */
  keyBytes: Uint8Array;
  /** Key lengths, -1 = null. */
  keyLengths: Int32Array;
  /** Value bytes, concatenated. */
  valueBytes: Uint8Array;
  /** Value lengths, -1 = null. */
  valueLengths: Int32Array;
}

function packBytes(list: (Uint8Array | null)[]): { bytes: Uint8Array; lengths: Int32Array } {
  let total = 0;
  for (const b of list) if (b) total += b.length;
  const bytes = new Uint8Array(total);
  const lengths = new Int32Array(list.length);
  let pos = 0;
  for (let i = 0; i < list.length; i++) {
    const b = list[i];
    if (!b) {
      lengths[i] = -1;
      continue;
    }
    bytes.set(b, pos);
    pos += b.length;
    lengths[i] = b.length;
  }
  return { bytes, lengths };
}

/** Packs a chunk's messages. */
export function packChunk(chunk: RawChunk): PackedChunk {
  const m = chunk.messages;
  const offsets = new Float64Array(m.length);
  const timestamps = new Float64Array(m.length);
  for (let i = 0; i < m.length; i++) {
    const o = Number(m[i].offset);
    if (!Number.isSafeInteger(o)) {
      throw new RangeError(`offset ${m[i].offset} is beyond 2^53; the stream cannot carry it`);
    }
    offsets[i] = o;
    timestamps[i] = Number(m[i].timestamp);
  }
  const keys = packBytes(m.map((x) => x.key ?? null));
  const values = packBytes(m.map((x) => x.value ?? null));
  return {
    topic: chunk.topic,
    partition: chunk.partition,
    timestampType: chunk.timestampType,
    offsets,
    timestamps,
    keyBytes: keys.bytes,
    keyLengths: keys.lengths,
    valueBytes: values.bytes,
    valueLengths: values.lengths,
  };
}

/** The buffers to transfer with a packed chunk. */
export function transferables(p: PackedChunk): ArrayBuffer[] {
  return [p.offsets, p.timestamps, p.keyBytes, p.keyLengths, p.valueBytes, p.valueLengths].map(
    (a) => a.buffer as ArrayBuffer,
  );
}

/** Unpacks into messages that view the packed buffers (no copy). */
export function unpackChunk(p: PackedChunk): RawChunk {
  const n = p.offsets.length;
  const messages: RawMessage[] = new Array(n);
  let kp = 0;
  let vp = 0;
  for (let i = 0; i < n; i++) {
    const kl = p.keyLengths[i];
    const vl = p.valueLengths[i];
    const key = kl < 0 ? null : p.keyBytes.subarray(kp, kp + kl);
    const value = vl < 0 ? null : p.valueBytes.subarray(vp, vp + vl);
    if (kl > 0) kp += kl;
    if (vl > 0) vp += vl;
    messages[i] = { key, value, offset: String(p.offsets[i]), timestamp: String(p.timestamps[i]) };
  }
  return { topic: p.topic, partition: p.partition, timestampType: p.timestampType, messages };
}
