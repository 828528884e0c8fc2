// The simulator's zero-copy paths for bulk bytes: large byte fields cross the
// simulated network as split frames (head decoded and validated, tail length
// checked), and a shared UFS hands out views that later writes cannot change.
import { describe, expect, it } from 'vitest';
import type { BlockChunk } from '../actors/protocol/worker.js';
import { MemDisk } from '../sim/disk.js';
import type { Infer } from '../transport/schema.js';
import { recorders } from './sim-harness.js';

const big = (n: number, seed: number): Uint8Array => Uint8Array.from({ length: n }, (_, i) => (i * 31 + seed) & 0xff);

describe('split frames in the simulated network', () => {
  it('delivers a large byte field intact and validated', async () => {
    const bed = await recorders(['a', 'b']);
    const data = big(300_000, 7);
    const chunk: Infer<typeof BlockChunk> = { t: 'BlockChunk', seq: 3, data, last: true, cached: false };
    bed.node('a').env.send('b', { f: 'a', to: 'b', id: 0, re: 5, m: chunk });
    await bed.sim.run();
    const got = bed.node('b').got.map((g) => g.envelope.m as unknown as { t: string; seq: number; data: Uint8Array; last: boolean });
    expect(got.map((m) => [m.t, m.seq, m.last, m.data.byteLength])).toEqual([['BlockChunk', 3, true, 300_000]]);
    expect(Buffer.from(got[0]!.data).equals(Buffer.from(data))).toBe(true);
    expect(bed.net.stats.bytes).toBeGreaterThan(300_000);
  });

  it('still rejects a malformed message whose bytes were split off, answering with an Error', async () => {
    const bed = await recorders(['a', 'b']);
    const m = { t: 'BlockChunk', seq: -1, data: big(100_000, 1), last: true, cached: false };
    bed.node('a').env.send('b', { f: 'a', to: 'b', id: 9, m } as never);
    await bed.sim.run();
    expect(bed.node('b').got).toEqual([]);
    expect(bed.net.stats.invalid).toBe(1);
    expect(bed.node('a').got.map((g) => [g.envelope.re, g.envelope.m.t])).toEqual([[9, 'Error']]);
  });

  it('refuses a split frame over the size limit', async () => {
    const bed = await recorders(['a', 'b']);
    bed.net.maxFrameBytes = 200_000;
    const chunk: Infer<typeof BlockChunk> = { t: 'BlockChunk', seq: 0, data: big(250_000, 2), last: true, cached: false };
    bed.node('a').env.send('b', { f: 'a', to: 'b', id: 0, m: chunk });
    await bed.sim.run();
    expect(bed.node('b').got).toEqual([]);
    expect(bed.net.stats.invalid).toBe(1);
  });
});

describe('MemDisk shareReads', () => {
  it('returns views that truncate, append and writeFile never change', async () => {
    const d = new MemDisk(() => 0, { shareReads: true });
    await d.writeFile('f', Uint8Array.from([1, 2, 3, 4, 5, 6]));
    const whole = await d.read('f', 0, 6);
    await d.truncate('f', 2);
    await d.append('f', Uint8Array.from([9, 9, 9, 9]));
    await d.writeFile('g', Uint8Array.from([7]));
    expect([...whole]).toEqual([1, 2, 3, 4, 5, 6]);
    expect([...(await d.read('f', 0, 10))]).toEqual([1, 2, 9, 9, 9, 9]);
  });

  it('gives a fault hook a copy, so corrupting a read never corrupts the file', async () => {
    const d = new MemDisk(() => 0, { shareReads: true });
    await d.writeFile('f', Uint8Array.from([1, 2, 3]));
    d.faults.onRead = (_p, data) => {
      data[0] = 0xff;
      return data;
    };
    expect([...(await d.read('f', 0, 3))]).toEqual([0xff, 2, 3]);
    d.faults.onRead = undefined;
    expect([...(await d.read('f', 0, 3))]).toEqual([1, 2, 3]);
  });
});
