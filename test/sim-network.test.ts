import { describe, expect, it } from 'vitest';
import { encode } from '../transport/codec.js';
import { Prng } from '../sim/prng.js';
import { swarmFaults } from '../sim/network.js';
import { recorders, seqs } from './sim-harness.js';

describe('simulated network', () => {
  it('delivers through the codec with a per-link delay', async () => {
    const bed = await recorders(['a', 'b']);
    const t0 = bed.sim.now;
    bed.node('a').send('b', 1);
    await bed.sim.run();
    const got = bed.node('b').got;
    expect(got).toHaveLength(1);
    expect(got[0]!.envelope).toEqual({ f: 'a', to: 'b', id: 0, m: { t: 'ReadCredit', stream: 7, n: 1 } });
    expect(got[0]!.at - t0).toBeGreaterThan(0.05);
    expect(bed.net.stats.delivered).toBe(1);
  });

  it('drops across a partition, both ways, until healed', async () => {
    const bed = await recorders(['a', 'b', 'c']);
    bed.net.partition(['a'], ['b', 'c']);
    bed.node('a').send('b', 1);
    bed.node('b').send('a', 2);
    bed.node('b').send('c', 3);
    await bed.sim.run();
    expect(seqs(bed.node('b'))).toEqual([]);
    expect(seqs(bed.node('a'))).toEqual([]);
    expect(seqs(bed.node('c'))).toEqual([3]);
    expect(bed.net.stats.droppedPartition).toBe(2);
    bed.net.heal();
    bed.node('a').send('b', 4);
    await bed.sim.run();
    expect(seqs(bed.node('b'))).toEqual([4]);
  });

  it('drops messages already in flight when a partition starts', async () => {
    const bed = await recorders(['a', 'b'], { baseDelayMs: [10, 10] });
    bed.node('a').send('b', 1);
    bed.sim.schedule(5, 'scenario', 'cut', () => bed.net.isolate('b'));
    await bed.sim.run();
    expect(seqs(bed.node('b'))).toEqual([]);
  });

  it('cuts only one direction in an asymmetric partition', async () => {
    const bed = await recorders(['a', 'b']);
    bed.net.blockOneWay('a', 'b');
    bed.node('a').send('b', 1);
    bed.node('b').send('a', 2);
    await bed.sim.run();
    expect(seqs(bed.node('b'))).toEqual([]);
    expect(seqs(bed.node('a'))).toEqual([2]);
  });

  it('splits into a majority and a minority', async () => {
    const ids = ['n0', 'n1', 'n2', 'n3', 'n4'];
    const bed = await recorders(ids);
    const [major, minor] = bed.net.splitRandom(new Prng(5));
    expect(major.length).toBeGreaterThan(minor.length);
    expect([...major, ...minor].sort()).toEqual(ids);
    expect(bed.net.isCut(major[0]!, minor[0]!)).toBe(true);
    expect(bed.net.isCut(minor[0]!, major[0]!)).toBe(true);
    if (major.length > 1) expect(bed.net.isCut(major[0]!, major[1]!)).toBe(false);
  });

  it('duplicates messages', async () => {
    const bed = await recorders(['a', 'b'], { duplicateP: 1 });
    for (let i = 0; i < 10; i++) bed.node('a').send('b', i);
    await bed.sim.run();
    expect(seqs(bed.node('b'))).toHaveLength(20);
    expect(new Set(seqs(bed.node('b'))).size).toBe(10);
    expect(bed.net.stats.duplicated).toBe(10);
  });

  it('loses messages at the configured rate', async () => {
    const bed = await recorders(['a', 'b'], { lossP: 0.3 });
    for (let i = 0; i < 2000; i++) bed.node('a').send('b', i);
    await bed.sim.run();
    const lost = 2000 - seqs(bed.node('b')).length;
    expect(lost).toBe(bed.net.stats.droppedLoss);
    expect(lost).toBeGreaterThan(500);
    expect(lost).toBeLessThan(700);
  });

  it('reorders only when reordering is on', async () => {
    const send = async (reorder: boolean): Promise<number[]> => {
      const bed = await recorders(['a', 'b'], { reorder, jitterMs: 20 });
      for (let i = 0; i < 100; i++) bed.node('a').send('b', i);
      await bed.sim.run();
      return seqs(bed.node('b'));
    };
    const fifo = await send(false);
    const mixed = await send(true);
    const inOrder = Array.from({ length: 100 }, (_, i) => i);
    expect(fifo).toEqual(inOrder);
    expect(mixed).not.toEqual(inOrder);
    expect([...mixed].sort((x, y) => x - y)).toEqual(inOrder);
  });

  it('holds messages on a clogged link, then releases them in order', async () => {
    const bed = await recorders(['a', 'b']);
    const t0 = bed.sim.now;
    bed.net.clog('a', 'b', 500);
    for (let i = 0; i < 5; i++) bed.node('a').send('b', i);
    bed.node('b').send('a', 99);
    await bed.sim.run();
    const got = bed.node('b').got;
    expect(seqs(bed.node('b'))).toEqual([0, 1, 2, 3, 4]);
    for (const g of got) expect(g.at - t0).toBeGreaterThanOrEqual(500);
    expect(bed.node('a').got[0]!.at - t0).toBeLessThan(5);
  });

  it('holds a message that is in flight when its link clogs', async () => {
    const bed = await recorders(['a', 'b'], { baseDelayMs: [10, 10] });
    bed.node('a').send('b', 1);
    bed.sim.schedule(5, 'scenario', 'clog', () => bed.net.clog('a', 'b', 300));
    await bed.sim.run();
    expect(bed.node('b').got[0]!.at).toBeGreaterThanOrEqual(305);
  });

  it('drops messages to a crashed node, including those in flight across a restart', async () => {
    const bed = await recorders(['a', 'b'], { baseDelayMs: [10, 10] });
    bed.node('a').send('b', 1);
    bed.cluster.crash('b');
    await bed.sim.settle(bed.cluster.start('b'));
    bed.node('a').send('b', 2);
    await bed.sim.run();
    expect(seqs(bed.node('b'))).toEqual([2]);
    bed.cluster.crash('b');
    bed.node('a').send('b', 3);
    await bed.sim.run();
    expect(bed.net.stats.droppedDown).toBe(2);
  });

  it('counts and drops invalid frames, answering addressable ones with an Error', async () => {
    const bed = await recorders(['a', 'b']);
    bed.net.sendFrame('a', 'b', new Uint8Array([0xc1, 0xff, 0x00]));
    bed.net.sendFrame('a', 'b', encode({ f: 'a', to: 'b', id: 42, m: { t: 'NoSuchMessage' } }));
    bed.net.sendFrame('a', 'b', encode({ f: 'a', to: 'b', id: 43, m: { t: 'ReadCredit', stream: -1, n: 0 } as never }));
    await bed.sim.run();
    expect(bed.node('b').got).toEqual([]);
    expect(bed.net.stats.invalid).toBe(3);
    const errors = bed.node('a').got.map((g) => g.envelope);
    expect(errors.map((e) => [e.re, e.m.t, (e.m as unknown as { code: string }).code])).toEqual([
      [42, 'Error', 'INVALID_ARGUMENT'],
      [43, 'Error', 'INVALID_ARGUMENT'],
    ]);
  });

  it('refuses frames over the size limit', async () => {
    const bed = await recorders(['a', 'b']);
    bed.net.maxFrameBytes = 1024;
    bed.cluster.env('a').send('b', { f: 'a', to: 'b', id: 5, m: { t: 'BlockChunk', seq: 0, data: new Uint8Array(4096), last: true, cached: false } as never });
    await bed.sim.run();
    expect(bed.net.stats.invalid).toBe(1);
    expect(bed.node('b').got).toEqual([]);
  });

  it('injects partitions and clogs from the nemesis, and stops when faults are off', async () => {
    const bed = await recorders(['a', 'b', 'c'], { partitionP: 1, partitionMs: [100, 200], clogP: 1, clogMs: [10, 50], nemesisIntervalMs: 100 });
    bed.net.startNemesis();
    let cutSeen = 0;
    for (let t = 0; t < 2000; t += 10) {
      bed.sim.schedule(t, 'scenario', 'probe', () => {
        if (bed.net.isCut('a', 'b') || bed.net.isCut('b', 'a') || bed.net.isCut('a', 'c') || bed.net.isCut('c', 'a') || bed.net.isCut('b', 'c') || bed.net.isCut('c', 'b')) cutSeen++;
      });
    }
    await bed.sim.run({ for: 2000 });
    expect(cutSeen).toBeGreaterThan(20);
    bed.net.faultsOff();
    // With no faults left the nemesis stops ticking and the queue drains.
    expect((await bed.sim.run({ maxEvents: 1000 })).reason).toBe('idle');
    bed.node('a').send('b', 1);
    await bed.sim.run();
    expect(seqs(bed.node('b'))).toEqual([1]);
  });

  it('draws different fault mixes for different seeds', () => {
    const mixes = new Set<string>();
    for (let s = 0; s < 20; s++) mixes.add(JSON.stringify(swarmFaults(new Prng(s))));
    expect(mixes.size).toBe(20);
    const enabled = [0, 1, 2, 3, 4, 5, 6, 7].map((s) => swarmFaults(new Prng(s)).lossP > 0);
    expect(enabled).toContain(true);
    expect(enabled).toContain(false);
  });
});
