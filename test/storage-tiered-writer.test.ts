// TieredBlockStore.openWriter: a block written piece by piece as a client streams it.
import { describe, expect, it } from 'vitest';
import { DiskError } from '../actors/env.js';
import { isStrataError } from '../actors/protocol/envelope.js';
import { allViolations, bytes, fixture } from './storage-tiered-helpers.js';

const code = (c: string) => (e: unknown) => isStrataError(e) && e.code === c;

describe('TieredBlockStore: block writers', () => {
  it('reserves the block\'s space when opened, takes pieces, and stores the block on commit', async () => {
    const f = fixture([{ alias: 'MEM', quotas: [100] }]);
    const s = await f.open();
    const data = bytes(7, 40);
    const w = await s.openWriter(7, 40);
    expect(s.usedBytes()).toBe(40);
    expect(s.has(7)).toBe(false);
    await w.append(data.subarray(0, 15));
    await w.append(data.subarray(15, 16));
    await w.append(data.subarray(16));
    expect(w.written).toBe(40);
    // Not stored until committed: readers and the heartbeat do not see it.
    expect(s.has(7)).toBe(false);
    expect(s.drainChanges()).toEqual({ added: [], removed: [] });
    expect(await w.commit()).toEqual({ location: { tier: 'MEM', level: 0, dir: 0, path: 'worker/mem0/7' }, evicted: [] });
    expect(await s.get(7)).toEqual(data);
    expect(s.info(7)).toMatchObject({ length: 40, persisted: true });
    expect(s.usedBytes()).toBe(40);
    expect(s.drainChanges()).toEqual({ added: [7], removed: [] });
    expect(await f.disks[0]![0]!.inner.list('worker/mem0/.tmp')).toEqual([]);
    // A restart finds it committed and verified.
    const again = await f.open();
    expect(await again.get(7)).toEqual(data);
    expect(allViolations(f)).toEqual([]);
  });

  it('makes room as put does, and refuses with RESOURCE_EXHAUSTED what no tier can hold', async () => {
    const f = fixture([
      { alias: 'MEM', quotas: [50] },
      { alias: 'SSD', quotas: [50] },
    ]);
    const s = await f.open();
    await s.put(1, bytes(1, 30));
    await s.put(2, bytes(2, 30));
    const w = await s.openWriter(3, 30, { unpersisted: true });
    // Room in MEM: the least recently used block moved down, pushing the one below out.
    expect(s.location(2)?.tier).toBe('SSD');
    expect(s.has(1)).toBe(false);
    await w.append(bytes(3, 30));
    await w.commit();
    expect(s.location(3)?.tier).toBe('MEM');
    expect(s.isPersisted(3)).toBe(false);
    await expect(s.openWriter(4, 51)).rejects.toSatisfy(code('RESOURCE_EXHAUSTED'));
    await expect(s.openWriter(4, 0)).rejects.toSatisfy(code('INVALID_ARGUMENT'));
    await expect(s.openWriter(-4, 5)).rejects.toSatisfy(code('INVALID_ARGUMENT'));
    expect(allViolations(f)).toEqual([]);
  });

  it('refuses bytes beyond the reserved length and a commit short of it; abort leaves nothing and gives the space back', async () => {
    const f = fixture([{ alias: 'MEM', quotas: [100] }]);
    const s = await f.open();
    const w = await s.openWriter(9, 10);
    await w.append(bytes(9, 6));
    await expect(w.append(bytes(9, 5))).rejects.toSatisfy(code('INVALID_ARGUMENT'));
    await expect(w.commit()).rejects.toSatisfy(code('INVALID_ARGUMENT'));
    await w.abort();
    await w.abort();
    expect(s.usedBytes()).toBe(0);
    expect(s.has(9)).toBe(false);
    expect(await f.disks[0]![0]!.inner.list('worker/mem0/.tmp')).toEqual([]);
    await expect(w.append(bytes(9, 1))).rejects.toSatisfy(code('FAILED_PRECONDITION'));
    await expect(w.commit()).rejects.toSatisfy(code('FAILED_PRECONDITION'));
  });

  it('a disk that fails a piece fails the writer with UNAVAILABLE; abort gives the space back', async () => {
    const f = fixture([{ alias: 'MEM', quotas: [100] }]);
    const s = await f.open();
    const w = await s.openWriter(5, 20);
    await w.append(bytes(5, 10));
    f.disks[0]![0]!.inner.faults = { beforeOp: (op) => { if (op === 'append') throw new DiskError('EIO', 'bad sector'); } };
    await expect(w.append(bytes(5, 10))).rejects.toSatisfy(code('UNAVAILABLE'));
    await expect(w.commit()).rejects.toSatisfy(code('UNAVAILABLE'));
    f.disks[0]![0]!.inner.faults = {};
    await w.abort();
    expect(s.usedBytes()).toBe(0);
    expect(s.has(5)).toBe(false);
  });

  it('committing bytes a stored block already has keeps that block; other bytes replace it, keeping its pin', async () => {
    const f = fixture([{ alias: 'MEM', quotas: [100] }]);
    const s = await f.open();
    await s.put(1, bytes(1, 20), { unpersisted: true });
    s.pin(1);
    const same = await s.openWriter(1, 20);
    await same.append(bytes(1, 20));
    await same.commit();
    expect(s.usedBytes()).toBe(20);
    expect(s.isPersisted(1)).toBe(true);
    const other = await s.openWriter(1, 30);
    await other.append(bytes(2, 30));
    await other.commit();
    expect(await s.get(1)).toEqual(bytes(2, 30));
    expect(s.isPinned(1)).toBe(true);
    expect(s.usedBytes()).toBe(30);
    expect(await f.disks[0]![0]!.inner.list('worker/mem0/.tmp')).toEqual([]);
  });

  it('a crash before the commit leaves no block; one after keeps it', async () => {
    const f = fixture([{ alias: 'MEM', quotas: [100] }]);
    const s = await f.open();
    const done = await s.openWriter(1, 10);
    await done.append(bytes(1, 10));
    await done.commit();
    const open = await s.openWriter(2, 10);
    await open.append(bytes(2, 10));
    const d = f.disks[0]![0]!;
    d.inner.crash();
    await d.resync();
    const r = await f.open();
    expect(r.blockIds()).toEqual([1]);
    expect(await r.get(1)).toEqual(bytes(1, 10));
    expect(r.usedBytes()).toBe(10);
    expect(f.events.filter((e) => e.t === 'discarded')).toHaveLength(1);
  });

  it('never puts a directory over its quota with writers, puts and evictions interleaved', async () => {
    const f = fixture([
      { alias: 'MEM', quotas: [40] },
      { alias: 'SSD', quotas: [60] },
    ]);
    for (const d of f.disks.flat()) d.hops = 2;
    const s = await f.open();
    const jobs: Array<Promise<unknown>> = [];
    for (let id = 1; id <= 12; id++) {
      const size = 5 + ((id * 7) % 15);
      jobs.push(
        id % 3 === 0
          ? s.put(id, bytes(id, size))
          : (async () => {
              const w = await s.openWriter(id, size);
              await w.append(bytes(id, size).subarray(0, 3));
              await w.append(bytes(id, size).subarray(3));
              await w.commit();
            })(),
      );
    }
    const results = await Promise.allSettled(jobs);
    for (const r of results) if (r.status === 'rejected') expect(r.reason).toSatisfy(code('RESOURCE_EXHAUSTED'));
    for (const id of s.blockIds()) expect(await s.get(id)).toEqual(bytes(id, 5 + ((id * 7) % 15)));
    for (const d of s.dirUsage()) expect(d.usedBytes).toBeLessThanOrEqual(d.quotaBytes);
    expect(s.usedBytes()).toBe(s.blockIds().reduce((n, id) => n + s.info(id)!.length, 0));
    expect(allViolations(f)).toEqual([]);
  });
});
