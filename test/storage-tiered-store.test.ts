import { describe, expect, it } from 'vitest';
import { isStrataError } from '../actors/protocol/envelope.js';
import { MemDisk } from '../sim/disk.js';
import { TieredBlockStore } from '../storage/tiered-store.js';
import { THREE_TIERS, allViolations, bytes, fixture } from './storage-tiered-helpers.js';

const code = (c: string) => (e: unknown) => isStrataError(e) && e.code === c;
const noLog = { log: () => undefined };

describe('TieredBlockStore: placement', () => {
  it('puts new blocks in the top tier, reads them back and counts usage per tier and dir', async () => {
    const f = fixture([
      { alias: 'MEM', quotas: [100] },
      { alias: 'SSD', quotas: [200, 300] },
    ]);
    const s = await f.open();
    expect(s.levels).toEqual(['MEM', 'SSD']);
    expect(await s.put(1, bytes(1, 40))).toEqual({ location: { tier: 'MEM', level: 0, dir: 0, path: 'worker/mem0/1' }, evicted: [] });
    expect(await s.get(1)).toEqual(bytes(1, 40));
    expect(await s.get(2)).toBeUndefined();
    expect(s.has(1)).toBe(true);
    expect(s.usedBytes()).toBe(40);
    expect(s.usedBytes('MEM')).toBe(40);
    expect(s.usedBytes('SSD')).toBe(0);
    expect(s.capacityBytes()).toBe(600);
    expect(s.capacityBytes('SSD', 1)).toBe(300);
    // A requested tier; MaxFree picks the emptier directory.
    expect((await s.put(2, bytes(2, 10), { tier: 'SSD' })).location).toMatchObject({ tier: 'SSD', dir: 1 });
    expect(s.blockIds()).toEqual([1, 2]);
    expect(s.stats()).toMatchObject({ blocks: 2, hits: 1, misses: 1 });
    expect(s.drainChanges()).toEqual({ added: [1, 2], removed: [] });
    expect(await s.remove(1)).toBe(true);
    expect(await s.remove(1)).toBe(false);
    expect(s.drainChanges()).toEqual({ added: [], removed: [1] });
    expect(await f.disks[0]![0]!.inner.list('worker/mem0')).toEqual(['.tmp']);
    await expect(s.put(3, bytes(3, 1), { tier: 'HDD' })).rejects.toSatisfy(code('INVALID_ARGUMENT'));
    await expect(s.put(-1, bytes(3, 1))).rejects.toSatisfy(code('INVALID_ARGUMENT'));
  });

  it('a block too large for every top-tier directory goes to the first tier that can hold it', async () => {
    const f = fixture([
      { alias: 'MEM', quotas: [20] },
      { alias: 'HDD', quotas: [100] },
    ]);
    const s = await f.open();
    expect((await s.put(1, bytes(1, 50))).location.tier).toBe('HDD');
    await expect(s.put(2, bytes(2, 50), { tier: 'MEM' })).rejects.toSatisfy(code('RESOURCE_EXHAUSTED'));
    await expect(s.put(3, bytes(3, 101))).rejects.toSatisfy(code('RESOURCE_EXHAUSTED'));
    expect(s.blockIds()).toEqual([1]);
  });

  it('MaxFree, Greedy and RoundRobin choose directories as in Alluxio', async () => {
    const dirsOf = async (allocator: 'MaxFree' | 'Greedy' | 'RoundRobin') => {
      const s = await fixture([{ alias: 'MEM', quotas: [100, 100, 100] }], { allocator }).open();
      const out: number[] = [];
      for (let i = 0; i < 6; i++) out.push((await s.put(i, bytes(i, 10 + i))).location.dir);
      return out;
    };
    // MaxFree: each block goes where most space is left.
    expect(await dirsOf('MaxFree')).toEqual([0, 1, 2, 0, 1, 2]);
    expect(await dirsOf('Greedy')).toEqual([0, 0, 0, 0, 0, 0]);
    expect(await dirsOf('RoundRobin')).toEqual([0, 1, 2, 0, 1, 2]);

    const s = await fixture([{ alias: 'MEM', quotas: [100, 100] }], { allocator: 'MaxFree' }).open();
    await s.put(1, bytes(1, 50));
    await s.put(2, bytes(2, 10));
    await s.put(3, bytes(3, 45));
    expect([1, 2, 3].map((id) => s.location(id)!.dir)).toEqual([0, 1, 1]);
    expect((await s.put(4, bytes(4, 5))).location.dir).toBe(0);
  });

  it('putting the same bytes again is an access; other bytes replace the block', async () => {
    const s = await fixture(THREE_TIERS).open();
    await s.put(1, bytes(1, 10));
    await s.put(2, bytes(2, 10));
    await s.put(1, bytes(1, 10));
    expect(s.evictionOrder('MEM')).toEqual([2, 1]);
    s.pin(2);
    await s.put(2, bytes(99, 5));
    expect(await s.get(2)).toEqual(bytes(99, 5));
    expect(s.isPinned(2)).toBe(true);
    expect(s.usedBytes('MEM')).toBe(15);
  });
});

describe('TieredBlockStore: eviction', () => {
  it('moves LRU blocks down a tier at a time; only the last tier lets blocks leave the worker', async () => {
    const f = fixture(THREE_TIERS);
    const s = await f.open();
    for (const id of [1, 2, 3]) await s.put(id, bytes(id, 10));
    await s.get(1);
    // MEM is full; 2 is the least recently used and moves to SSD.
    expect((await s.put(4, bytes(4, 10))).evicted).toEqual([]);
    expect(s.location(2)!.tier).toBe('SSD');
    expect(f.events.at(-1)).toMatchObject({ t: 'moved', blockId: 2, from: { tier: 'MEM' }, to: { tier: 'SSD' } });
    // Nine blocks fill the three tiers; blocks cascade MEM -> SSD -> HDD in LRU order (2, 3, 1, 4, 5, ...).
    for (const id of [5, 6, 7, 8, 9]) expect((await s.put(id, bytes(id, 10))).evicted).toEqual([]);
    expect(s.evictionOrder('HDD')).toEqual([2, 3, 1]);
    expect((await s.put(10, bytes(10, 10))).evicted).toEqual([2]);
    expect((await s.put(11, bytes(11, 10))).evicted).toEqual([3]);
    expect(s.evictionOrder('MEM')).toEqual([9, 10, 11]);
    expect(s.evictionOrder('SSD')).toEqual([6, 7, 8]);
    expect(s.evictionOrder('HDD')).toEqual([1, 4, 5]);
    expect(s.blockIds()).toEqual([1, 4, 5, 6, 7, 8, 9, 10, 11]);
    const left = f.events.filter((e) => e.t === 'evicted');
    expect(left.map((e) => e.blockId)).toEqual([2, 3]);
    for (const e of left) expect(e.t === 'evicted' && e.from.tier).toBe('HDD');
    expect(s.stats()).toMatchObject({ evictions: 2 });
    expect(s.stats().moves).toBe(f.events.filter((e) => e.t === 'moved').length);
    for (const id of s.blockIds()) expect(await s.get(id)).toEqual(bytes(id, 10));
    expect(allViolations(f)).toEqual([]);
    const ch = s.drainChanges();
    expect(ch.removed).toEqual([]); // 2 and 3 were added and removed since the last drain
    expect(ch.added).toEqual([1, 4, 5, 6, 7, 8, 9, 10, 11]);
  });

  it('reports blocks that left the worker in put’s result', async () => {
    const s = await fixture([
      { alias: 'MEM', quotas: [20] },
      { alias: 'SSD', quotas: [20] },
    ]).open();
    for (const id of [1, 2, 3, 4]) await s.put(id, bytes(id, 10));
    expect(s.drainChanges().added).toEqual([1, 2, 3, 4]);
    expect((await s.put(5, bytes(5, 10))).evicted).toEqual([1]);
    expect((await s.put(6, bytes(6, 20))).evicted).toEqual([2, 3]);
    expect(s.drainChanges()).toEqual({ added: [5, 6], removed: [1, 2, 3] });
  });

  it('evicts from the directory that frees enough space first in eviction order', async () => {
    const f = fixture([
      { alias: 'MEM', quotas: [30, 30] },
      { alias: 'SSD', quotas: [100] },
    ]);
    const s = await f.open();
    // MaxFree alternates: 1,3 in dir 0; 2,4 in dir 1.
    for (const id of [1, 2, 3, 4]) await s.put(id, bytes(id, 12));
    expect([1, 2, 3, 4].map((id) => s.location(id)!.dir)).toEqual([0, 1, 0, 1]);
    await s.get(1);
    // 20 bytes: dir 0 has 6 free and 1 is recent; dir 1 frees 2 (oldest) to have 18, then 4 to have 30.
    // In LRU order 2 (dir 1), 3 (dir 0: 6+12 = 18), 4 (dir 1: 6+24 = 30 >= 20): dir 1 gets there first.
    await s.put(5, bytes(5, 20));
    expect(s.location(5)).toMatchObject({ tier: 'MEM', dir: 1 });
    expect(s.location(2)!.tier).toBe('SSD');
    expect(s.location(4)!.tier).toBe('SSD');
    expect(s.location(3)!.tier).toBe('MEM');
  });

  it('never evicts or moves a pinned block; put fails cleanly when pins leave no room', async () => {
    const f = fixture(THREE_TIERS);
    const s = await f.open();
    for (const id of [1, 2, 3]) await s.put(id, bytes(id, 10));
    s.pin(1);
    s.pin(1); // a flag, not a count
    await s.put(4, bytes(4, 10));
    expect(s.location(1)!.tier).toBe('MEM');
    expect(s.location(2)!.tier).toBe('SSD');
    s.pin(3);
    s.pin(4);
    // MEM is all pinned: a MEM-only put fails without evicting, an unrestricted one lands in SSD.
    const before = s.stats();
    await expect(s.put(5, bytes(5, 10), { tier: 'MEM' })).rejects.toSatisfy(code('RESOURCE_EXHAUSTED'));
    expect(s.stats()).toEqual(before);
    expect((await s.put(5, bytes(5, 10))).location.tier).toBe('SSD');
    for (let id = 6; id < 20; id++) await s.put(id, bytes(id, 10));
    for (const id of [1, 3, 4]) expect(s.location(id)!.tier).toBe('MEM');
    s.unpin(1);
    s.unpin(1);
    s.unpin(42); // harmless
    await s.put(30, bytes(30, 10), { tier: 'MEM' });
    expect(s.location(1)!.tier).toBe('SSD');
    expect(() => s.pin(999)).toThrow(/not stored/);
    expect(allViolations(f)).toEqual([]);
  });

  it('free honours pins unless forced; remove always removes', async () => {
    const s = await fixture(THREE_TIERS).open();
    await s.put(1, bytes(1, 10));
    await s.put(2, bytes(2, 10));
    s.pin(1);
    s.pin(2);
    await expect(s.free(1)).rejects.toSatisfy(code('FAILED_PRECONDITION'));
    expect(await s.free(1, { force: true })).toBe(true);
    expect(await s.remove(2)).toBe(true);
    expect(await s.free(3)).toBe(false);
    await s.put(3, bytes(3, 10));
    expect(await s.free(3)).toBe(true);
    expect(s.blockIds()).toEqual([]);
    expect(s.usedBytes()).toBe(0);
  });

  it('LRFU keeps a frequently read older block over a newer one read once; LRU does not', async () => {
    const survivor = async (annotator: { kind: 'LRU' } | { kind: 'LRFU'; stepFactor: number; attenuationFactor: number }) => {
      const s = await fixture(
        [
          { alias: 'MEM', quotas: [20] },
          { alias: 'SSD', quotas: [100] },
        ],
        { annotator },
      ).open();
      await s.put(1, bytes(1, 10));
      for (let i = 0; i < 9; i++) await s.get(1);
      await s.put(2, bytes(2, 10));
      await s.put(3, bytes(3, 10));
      return s.evictionOrder('MEM');
    };
    expect(await survivor({ kind: 'LRFU', stepFactor: 0.25, attenuationFactor: 2 })).toEqual([3, 1]);
    expect(await survivor({ kind: 'LRU' })).toEqual([2, 3]);
  });
});

describe('TieredBlockStore: promotion', () => {
  it('promote moves a block to the top tier, pushing the LRU block down', async () => {
    const f = fixture(THREE_TIERS);
    const s = await f.open();
    for (let id = 1; id <= 7; id++) await s.put(id, bytes(id, 10));
    expect(s.location(1)!.tier).toBe('HDD');
    const r = await s.promote(1);
    expect(r).toEqual({ promoted: true, evicted: [] });
    expect(s.location(1)!.tier).toBe('MEM');
    // 5 was MEM's least recently used: down to SSD, whose LRU block (2) went to HDD.
    expect(s.location(5)!.tier).toBe('SSD');
    expect(s.location(2)!.tier).toBe('HDD');
    expect(await s.get(1)).toEqual(bytes(1, 10));
    expect(s.stats().promotions).toBe(1);
    expect(f.events.filter((e) => e.t === 'promoted')).toHaveLength(1);
    expect(await s.promote(1)).toEqual({ promoted: true, evicted: [] });
    expect(await s.promote(99)).toEqual({ promoted: false, evicted: [] });
    expect(allViolations(f)).toEqual([]);
  });

  it('promote into a full hierarchy evicts from the bottom, never the promoted block itself', async () => {
    const s = await fixture(THREE_TIERS).open();
    for (let id = 1; id <= 9; id++) await s.put(id, bytes(id, 10));
    // 1 is the least recently used block of the whole worker, in HDD.
    expect(s.evictionOrder('HDD')[0]).toBe(1);
    const r = await s.promote(1);
    expect(r.promoted).toBe(true);
    expect(s.location(1)!.tier).toBe('MEM');
    // MEM's LRU (7) went to SSD, SSD's (4) to HDD, and HDD's next after 1 (2) left the worker.
    expect(r.evicted).toEqual([2]);
    expect(s.blockIds()).toEqual([1, 3, 4, 5, 6, 7, 8, 9]);
    expect(s.evictionOrder('HDD')).toEqual([3, 4]);
  });

  it('promote leaves the block where it is when the top tier is pinned full', async () => {
    const s = await fixture(THREE_TIERS).open();
    for (let id = 1; id <= 4; id++) await s.put(id, bytes(id, 10));
    for (const id of [2, 3, 4]) s.pin(id);
    expect(await s.promote(1)).toEqual({ promoted: false, evicted: [] });
    expect(s.location(1)!.tier).toBe('SSD');
  });
});

describe('TieredBlockStore: verification on read', () => {
  it('a block whose file was damaged is dropped and reported, never served', async () => {
    const f = fixture(THREE_TIERS);
    const s = await f.open();
    await s.put(1, bytes(1, 10));
    await s.put(2, bytes(2, 10));
    s.drainChanges();
    const disk = f.disks[0]![0]!.inner;
    const data = await disk.readFile('worker/mem0/1');
    data[3]! ^= 0x40;
    await disk.writeFile('worker/mem0/1', data);
    expect(await s.get(1)).toBeUndefined();
    expect(s.has(1)).toBe(false);
    expect(f.events.at(-1)).toMatchObject({ t: 'corrupt', blockId: 1, reason: 'checksum mismatch' });
    expect(s.stats().corruptDropped).toBe(1);
    expect(s.drainChanges()).toEqual({ added: [], removed: [1] });
    expect(await disk.list('worker/mem0')).toEqual(['.tmp', '2', '2.meta']);
    expect(s.usedBytes()).toBe(10);
    // A read error is treated the same way.
    disk.faults.beforeOp = (op, p) => {
      if (op === 'read' && p === 'worker/mem0/2') throw new Error('EIO');
    };
    expect(await s.get(2)).toBeUndefined();
    disk.faults = {};
    expect(s.has(2)).toBe(false);
  });

  it('a corrupt block found while moving it down is dropped, not copied', async () => {
    const f = fixture(THREE_TIERS);
    const s = await f.open();
    for (const id of [1, 2, 3]) await s.put(id, bytes(id, 10));
    const disk = f.disks[0]![0]!.inner;
    await disk.writeFile('worker/mem0/1', bytes(7, 10));
    await s.put(4, bytes(4, 10));
    expect(s.has(1)).toBe(false);
    expect(s.location(4)!.tier).toBe('MEM');
    expect(s.usedBytes('SSD')).toBe(0);
    expect(f.events.map((e) => e.t)).toContain('corrupt');
  });

  it('a put that the disk fails leaves no block and no reserved space behind', async () => {
    const f = fixture(THREE_TIERS);
    const s = await f.open();
    f.disks[0]![0]!.inner.faults.beforeOp = (op) => {
      if (op === 'fsync') throw new Error('EIO');
    };
    await expect(s.put(1, bytes(1, 10))).rejects.toSatisfy(code('UNAVAILABLE'));
    f.disks[0]![0]!.inner.faults = {};
    expect(s.has(1)).toBe(false);
    expect(s.usedBytes()).toBe(0);
    expect(await f.disks[0]![0]!.inner.list('worker/mem0/.tmp')).toEqual([]);
    await s.put(1, bytes(1, 10));
    expect(await s.get(1)).toEqual(bytes(1, 10));
  });
});

describe('TieredBlockStore: concurrency', () => {
  it('a read in progress is served even if the block is removed or moved meanwhile', async () => {
    const f = fixture(THREE_TIERS);
    const s = await f.open();
    await s.put(1, bytes(1, 10));
    await s.put(2, bytes(2, 10));
    for (const d of f.disks.flat()) d.readHops = 20;
    const read = s.get(1);
    const removed = s.remove(1);
    expect(await read).toEqual(bytes(1, 10));
    expect(await removed).toBe(true);
    expect(s.has(1)).toBe(false);
    // 2 is read while a put pushes it down to SSD.
    await s.put(3, bytes(3, 20));
    const read2 = s.get(2);
    const put = s.put(4, bytes(4, 10));
    expect(await read2).toEqual(bytes(2, 10));
    await put;
    expect(s.location(2)!.tier).toBe('SSD');
    expect(s.stats().corruptDropped).toBe(0);
  });
});

describe('TieredBlockStore: configuration', () => {
  it('refuses bad layouts', async () => {
    const d = new MemDisk();
    const open = (levels: Parameters<typeof TieredBlockStore.open>[0]['levels']) => TieredBlockStore.open({ levels, clock: () => 0, log: noLog });
    await expect(open([])).rejects.toSatisfy(code('INVALID_ARGUMENT'));
    await expect(open([{ alias: 'SSD', dirs: [{ disk: d, path: 'a', quotaBytes: 1 }] }, { alias: 'MEM', dirs: [{ disk: d, path: 'b', quotaBytes: 1 }] }])).rejects.toThrow(/ordered/);
    await expect(open([{ alias: 'MEM', dirs: [] }])).rejects.toThrow(/no directories/);
    await expect(open([{ alias: 'MEM', dirs: [{ disk: d, path: 'a', quotaBytes: -1 }] }])).rejects.toThrow(/quota/);
    await expect(open([{ alias: 'MEM', dirs: [{ disk: d, path: 'a', quotaBytes: 1 }, { disk: d, path: 'a/b', quotaBytes: 1 }] }])).rejects.toThrow(/overlap/);
    // The same path on different disks is fine.
    const s = await open([{ alias: 'MEM', dirs: [{ disk: d, path: 'a', quotaBytes: 1 }, { disk: new MemDisk(), path: 'a', quotaBytes: 1 }] }]);
    expect(s.capacityBytes()).toBe(2);
  });
});
