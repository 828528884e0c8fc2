// How a tiered-store block lies in its directory:
//
//   <dir>/<blockId>        the block's bytes, nothing else, so a short-circuit
//                          reader can use the file as it is
//   <dir>/<blockId>.meta   32 bytes: magic "SBLK", version, tier, flags, block id,
//                          length, CRC-32 of the bytes, CRC-32 of the record
//   <dir>/.tmp/            blocks being written
//
// A block is committed when its .meta file exists under its final name. Both files
// are written in .tmp, fsynced, and renamed data first, meta last; a crash at any
// point leaves either a committed block or files that recovery recognises as
// uncommitted (anything in .tmp, a data file without a .meta).
import { crc32 } from './crc32.js';

export const META_BYTES = 32;
export const TMP_DIR = '.tmp';
const MAGIC = 0x4b4c4253; // "SBLK" read as a little-endian u32
const VERSION = 1;
const TWO_32 = 0x1_0000_0000;

export const TIER_ALIASES = ['MEM', 'SSD', 'HDD'] as const;
export type TierAlias = (typeof TIER_ALIASES)[number];

export interface BlockMetaRecord {
  readonly blockId: number;
  readonly length: number;
  readonly crc: number;
  readonly tier: TierAlias;
  /**
   * The data was known to exist elsewhere (the UFS) when the block was stored. A
   * record without the flag (older records included) says nothing either way.
   */
  readonly persisted?: boolean;
}

/** Flag bits (byte 6); records written before it existed have 0 there. */
const FLAG_PERSISTED = 1;

export function joinPath(dir: string, name: string): string {
  const d = dir.replace(/\/+$/, '');
  return d === '' ? name : `${d}/${name}`;
}

export const dataName = (blockId: number): string => String(blockId);
export const metaName = (blockId: number): string => `${blockId}.meta`;
export const DATA_NAME = /^(0|[1-9]\d*)$/;
export const META_NAME = /^(0|[1-9]\d*)\.meta$/;

export function encodeMeta(m: BlockMetaRecord): Uint8Array {
  const out = new Uint8Array(META_BYTES);
  const v = new DataView(out.buffer);
  v.setUint32(0, MAGIC, true);
  v.setUint8(4, VERSION);
  v.setUint8(5, TIER_ALIASES.indexOf(m.tier));
  v.setUint8(6, m.persisted ? FLAG_PERSISTED : 0);
  v.setUint32(8, Math.floor(m.blockId / TWO_32), true);
  v.setUint32(12, m.blockId % TWO_32, true);
  v.setUint32(16, Math.floor(m.length / TWO_32), true);
  v.setUint32(20, m.length % TWO_32, true);
  v.setUint32(24, m.crc >>> 0, true);
  v.setUint32(28, crc32(out.subarray(0, 28)), true);
  return out;
}

/** The record, or a reason it cannot be trusted. */
export function decodeMeta(b: Uint8Array): BlockMetaRecord | string {
  if (b.byteLength !== META_BYTES) return `metadata is ${b.byteLength} bytes, expected ${META_BYTES}`;
  const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
  if (v.getUint32(28, true) !== crc32(b.subarray(0, 28))) return 'metadata checksum mismatch';
  if (v.getUint32(0, true) !== MAGIC) return 'bad metadata magic';
  if (v.getUint8(4) !== VERSION) return `unknown metadata version ${v.getUint8(4)}`;
  const tier = TIER_ALIASES[v.getUint8(5)];
  if (tier === undefined) return `unknown tier code ${v.getUint8(5)}`;
  return {
    blockId: v.getUint32(8, true) * TWO_32 + v.getUint32(12, true),
    length: v.getUint32(16, true) * TWO_32 + v.getUint32(20, true),
    crc: v.getUint32(24, true),
    tier,
    ...((v.getUint8(6) & FLAG_PERSISTED) !== 0 ? { persisted: true } : {}),
  };
}
