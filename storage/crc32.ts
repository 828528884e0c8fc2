// CRC-32 (IEEE 802.3, the polynomial zlib and gzip use), so journal records and
// block files can be checked with any standard tool. Node's zlib has a native
// implementation from 20.15 on; older runtimes get the slicing-by-8 table code below.
import * as zlib from 'node:zlib';

type Crc32Fn = (data: Uint8Array, initial?: number) => number;

// Eight 256-entry tables let the loop fold eight input bytes per step instead of one,
// which is what keeps the fallback within a small factor of the native code.
const TABLES: Uint32Array[] = (() => {
  const t: Uint32Array[] = [];
  for (let k = 0; k < 8; k++) t.push(new Uint32Array(256));
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let i = 0; i < 8; i++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[0]![n] = c >>> 0;
  }
  for (let n = 0; n < 256; n++) {
    let c = t[0]![n]!;
    for (let k = 1; k < 8; k++) {
      c = t[0]![c & 0xff]! ^ (c >>> 8);
      t[k]![n] = c >>> 0;
    }
  }
  return t;
})();

/** The table-driven implementation; exported so tests can check it against the native one. */
export function crc32Js(data: Uint8Array, initial = 0): number {
  const [t0, t1, t2, t3, t4, t5, t6, t7] = TABLES as [Uint32Array, Uint32Array, Uint32Array, Uint32Array, Uint32Array, Uint32Array, Uint32Array, Uint32Array];
  let crc = ~initial >>> 0;
  let i = 0;
  const n = data.length;
  const end8 = n - (n % 8);
  while (i < end8) {
    const a = (data[i]! | (data[i + 1]! << 8) | (data[i + 2]! << 16) | (data[i + 3]! << 24)) ^ crc;
    crc =
      t7[a & 0xff]! ^
      t6[(a >>> 8) & 0xff]! ^
      t5[(a >>> 16) & 0xff]! ^
      t4[a >>> 24]! ^
      t3[data[i + 4]!]! ^
      t2[data[i + 5]!]! ^
      t1[data[i + 6]!]! ^
      t0[data[i + 7]!]!;
    i += 8;
  }
  while (i < n) crc = t0[(crc ^ data[i++]!) & 0xff]! ^ (crc >>> 8);
  return ~crc >>> 0;
}

// Looked up rather than imported by name: the binding is absent before Node 20.15.
const nativeCrc = (zlib as { crc32?: (data: Uint8Array, value?: number) => number }).crc32;

/** The native implementation, or undefined when this Node lacks `zlib.crc32`. */
// zlib's crc32() answers 0 for an empty buffer (it sees a null pointer) whatever the
// running value, which would break piecewise use such as header-then-empty-payload.
export const crc32Native: Crc32Fn | undefined = nativeCrc
  ? (data, initial = 0) => (data.byteLength === 0 ? initial >>> 0 : nativeCrc(data, initial) >>> 0)
  : undefined;

/**
 * CRC-32 of `data`, continuing from `initial` (the CRC of the bytes before it),
 * so a record's checksum can be computed piecewise without concatenating.
 */
export const crc32: Crc32Fn = crc32Native ?? crc32Js;
