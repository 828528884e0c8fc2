import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { crc32, crc32Js, crc32Native } from '../storage/crc32.js';

const enc = (s: string): Uint8Array => new TextEncoder().encode(s);

// Published CRC-32/ISO-HDLC check values.
const VECTORS: Array<[Uint8Array, number]> = [
  [new Uint8Array(0), 0x00000000],
  [enc('a'), 0xe8b7be43],
  [enc('abc'), 0x352441c2],
  [enc('123456789'), 0xcbf43926],
  [enc('The quick brown fox jumps over the lazy dog'), 0x414fa339],
  [new Uint8Array(32), 0x190a55ad],
  [new Uint8Array(32).fill(0xff), 0xff6cab0b],
];

const impls: Array<[string, (d: Uint8Array, i?: number) => number]> = [['js', crc32Js], ['exported', crc32]];
if (crc32Native) impls.push(['native', crc32Native]);

describe('crc32', () => {
  it('has the native zlib implementation on this Node', () => {
    // Node >= 20.15 ships zlib.crc32; the project requires a Node that has it in CI.
    expect(crc32Native).toBeDefined();
  });

  for (const [name, fn] of impls) {
    it(`${name}: matches known check values`, () => {
      for (const [data, want] of VECTORS) expect(fn(data)).toBe(want);
    });

    it(`${name}: continues from a previous crc`, () => {
      const all = enc('123456789');
      for (let cut = 0; cut <= all.length; cut++) {
        expect(fn(all.subarray(cut), fn(all.subarray(0, cut)))).toBe(0xcbf43926);
      }
    });
  }

  it('js agrees with native on random data, offsets and lengths', () => {
    const native = crc32Native;
    if (!native) return;
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), fc.nat(7), fc.nat(), (data, skip, seed) => {
        const view = data.subarray(Math.min(skip, data.length));
        const initial = seed >>> 0;
        expect(crc32Js(view)).toBe(native(view));
        expect(crc32Js(view, initial)).toBe(native(view, initial));
      }),
      { numRuns: 500 },
    );
  });

  it('js agrees with native on a large buffer', () => {
    const big = new Uint8Array(1 << 20);
    for (let i = 0; i < big.length; i++) big[i] = (i * 2654435761) >>> 24;
    if (crc32Native) expect(crc32Js(big)).toBe(crc32Native(big));
  });
});
