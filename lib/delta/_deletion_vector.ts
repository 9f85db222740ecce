/**
 * Deletion vectors (reader side, private to lib/delta): decode a `deletionVector` descriptor of an
 * `add` into the set of deleted row positions of its data file.
 *
 * Formats (Delta PROTOCOL.md, "Deletion Vectors" and appendix "Deletion Vector Format"):
 * - descriptor `storageType` `u` (file `<prefix>/deletion_vector_<uuid>.bin`, the uuid Z85-encoded
 *   in the last 20 characters of `pathOrInlineDv`), `p` (absolute path) or `i` (inline, Z85);
 * - file: version byte 1, then per DV at `offset`: data size (int32 big-endian), the bitmap,
 *   CRC-32 (big-endian) of the bitmap;
 * - bitmap: magic 1681511377 (LE), then a 64-bit Roaring bitmap in the portable format
 *   (uint64 count of 32-bit bitmaps, each a uint32 high key and a portable 32-bit Roaring bitmap).
 *
 * @module
 */
import type { Storage } from "../storage/storage.ts";
import { DeltaError } from "./errors.ts";

/** Thrown for a deletion vector that cannot be read or does not check out. */
export class DeletionVectorError extends DeltaError {
  override name = "DeletionVectorError";
}

/** The `deletionVector` field of an `add` action. */
export interface DeletionVectorDescriptor {
  storageType: string;
  pathOrInlineDv: string;
  offset?: number | null;
  sizeInBytes: number;
  cardinality: number;
}

const Z85 = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ.-:+=^!/*?&<>()[]{}@%$#";
const Z85_INDEX = new Map([...Z85].map((c, i) => [c, i]));

/** Decode Z85 text (length a multiple of 5) into bytes. */
export function z85Decode(text: string): Uint8Array {
  if (text.length % 5 !== 0) {
    throw new DeletionVectorError(`Z85 text length ${text.length} is not a multiple of 5`);
  }
  const out = new Uint8Array((text.length / 5) * 4);
  for (let i = 0, o = 0; i < text.length; i += 5, o += 4) {
    let v = 0;
    for (let k = 0; k < 5; k++) {
      const d = Z85_INDEX.get(text[i + k]);
      if (d === undefined) throw new DeletionVectorError(`'${text[i + k]}' is not a Z85 character`);
      v = v * 85 + d;
    }
    if (v > 0xffffffff) throw new DeletionVectorError("Z85 group out of range");
    out[o] = v >>> 24;
    out[o + 1] = (v >>> 16) & 0xff;
    out[o + 2] = (v >>> 8) & 0xff;
    out[o + 3] = v & 0xff;
  }
  return out;
}

/** The relative path of a `u` deletion vector file. */
export function uuidDvPath(pathOrInlineDv: string): string {
  if (pathOrInlineDv.length < 20) {
    throw new DeletionVectorError(`bad 'u' deletion vector id '${pathOrInlineDv}'`);
  }
  const prefix = pathOrInlineDv.slice(0, -20);
  const b = z85Decode(pathOrInlineDv.slice(-20));
  const hex = Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
  const uuid = `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${
    hex.slice(20)
  }`;
  return `${prefix ? `${prefix}/` : ""}deletion_vector_${uuid}.bin`;
}

const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

/** CRC-32 (IEEE) of bytes. */
export function crc32(bytes: Uint8Array): number {
  let c = 0xffffffff;
  for (let i = 0; i < bytes.length; i++) c = CRC_TABLE[(c ^ bytes[i]) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

const MAGIC = 1681511377;

/** Decode a RoaringBitmapArray (magic + portable 64-bit Roaring) into sorted row positions. */
export function decodeBitmapArray(bytes: Uint8Array): number[] {
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let p = 0;
  const need = (n: number) => {
    if (p + n > bytes.length) throw new DeletionVectorError("deletion vector bitmap is truncated");
  };
  need(12);
  if (dv.getUint32(0, true) !== MAGIC) {
    throw new DeletionVectorError("deletion vector has an unknown magic number");
  }
  p = 4;
  const count = Number(dv.getBigUint64(p, true));
  p += 8;
  const out: number[] = [];
  for (let b = 0; b < count; b++) {
    need(8);
    const high = dv.getUint32(p, true);
    p += 4;
    const cookie = dv.getUint32(p, true);
    p += 4;
    let size: number;
    let runFlags: Uint8Array | undefined;
    if ((cookie & 0xffff) === 12347) {
      size = (cookie >>> 16) + 1;
      const n = (size + 7) >> 3;
      need(n);
      runFlags = bytes.subarray(p, p + n);
      p += n;
    } else if (cookie === 12346) {
      need(4);
      size = dv.getUint32(p, true);
      p += 4;
    } else throw new DeletionVectorError(`bad Roaring cookie ${cookie}`);
    need(size * 4);
    const keys: number[] = [];
    const cards: number[] = [];
    for (let i = 0; i < size; i++) {
      keys.push(dv.getUint16(p, true));
      cards.push(dv.getUint16(p + 2, true) + 1);
      p += 4;
    }
    if (!runFlags || size >= 4) p += 4 * size; // container offsets (not needed when reading in order)
    const base = high * 2 ** 32;
    for (let i = 0; i < size; i++) {
      const hi16 = base + keys[i] * 65536;
      const isRun = runFlags ? ((runFlags[i >> 3] >> (i & 7)) & 1) === 1 : false;
      if (isRun) {
        need(2);
        const runs = dv.getUint16(p, true);
        p += 2;
        need(runs * 4);
        for (let r = 0; r < runs; r++) {
          const start = dv.getUint16(p, true);
          const len = dv.getUint16(p + 2, true);
          p += 4;
          for (let v = start; v <= start + len; v++) out.push(hi16 + v);
        }
      } else if (cards[i] <= 4096) {
        need(2 * cards[i]);
        for (let k = 0; k < cards[i]; k++) out.push(hi16 + dv.getUint16(p + 2 * k, true));
        p += 2 * cards[i];
      } else {
        need(8192);
        for (let w = 0; w < 8192; w++) {
          const byte = bytes[p + w];
          if (byte === 0) continue;
          for (let bit = 0; bit < 8; bit++) if ((byte >> bit) & 1) out.push(hi16 + w * 8 + bit);
        }
        p += 8192;
      }
    }
  }
  return out;
}

/**
 * Read the deleted row positions (sorted) of a data file from its deletion vector descriptor.
 * Checks size, CRC and cardinality; `resolve` turns an absolute (`p`) path into a storage path.
 */
export async function readDeletionVector(
  storage: Storage,
  dv: DeletionVectorDescriptor,
  resolve: (absolute: string) => string,
): Promise<number[]> {
  let bitmap: Uint8Array;
  if (dv.storageType === "i") {
    bitmap = z85Decode(dv.pathOrInlineDv).subarray(0, dv.sizeInBytes);
  } else if (dv.storageType === "u" || dv.storageType === "p") {
    const path = dv.storageType === "u"
      ? uuidDvPath(dv.pathOrInlineDv)
      : resolve(dv.pathOrInlineDv);
    const offset = dv.offset ?? 1;
    const bytes = await storage.getRange(path, offset, offset + 4 + dv.sizeInBytes + 4);
    if (bytes.length < 8 + dv.sizeInBytes) {
      throw new DeletionVectorError(
        `deletion vector file '${path}' is shorter than its descriptor says`,
      );
    }
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    const size = view.getInt32(0, false);
    if (size !== dv.sizeInBytes) {
      throw new DeletionVectorError(
        `deletion vector in '${path}' has size ${size}, descriptor says ${dv.sizeInBytes}`,
      );
    }
    bitmap = bytes.subarray(4, 4 + size);
    const crc = view.getUint32(4 + size, false);
    if (crc32(bitmap) !== crc) {
      throw new DeletionVectorError(`deletion vector in '${path}' fails its CRC-32 check`);
    }
  } else {
    throw new DeletionVectorError(`unknown deletion vector storageType '${dv.storageType}'`);
  }
  const rows = decodeBitmapArray(bitmap);
  if (rows.length !== dv.cardinality) {
    throw new DeletionVectorError(
      `deletion vector holds ${rows.length} rows, descriptor says ${dv.cardinality}`,
    );
  }
  return rows;
}

/**
 * The table-relative path of the file a deletion vector lives in (`u` and `p` descriptors), or
 * undefined for an inline one or a `p` path `resolve` cannot place inside the table.
 */
export function deletionVectorFile(
  dv: unknown,
  resolve: (absolute: string) => string,
): string | undefined {
  if (dv === undefined || dv === null) return undefined;
  const d = dv as DeletionVectorDescriptor;
  if (d.storageType === "u") return uuidDvPath(d.pathOrInlineDv);
  if (d.storageType !== "p") return undefined;
  try {
    return resolve(d.pathOrInlineDv);
  } catch {
    return undefined;
  }
}
