import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { DiskError } from '../actors/env.js';
import { TIER_ALIASES, type TieredBlockStore } from '../storage/tiered-store.js';
import { THREE_TIERS, allViolations, bytes, fixture, type Fixture, type Layout } from './storage-tiered-helpers.js';

async function fill(f: Fixture, n: number, size = 10) {
  const s = await f.open();
  for (let id = 1; id <= n; id++) await s.put(id, bytes(id, size));
  return s;
}

describe('TieredBlockStore: recovery', () => {
  it('a restart keeps every committed block where it was, verified', async () => {
    const f = fixture([
      { alias: 'MEM', quotas: [20, 20] },
      { alias: 'SSD', quotas: [30] },
      { alias: 'HDD', quotas: [50, 50] },
    ]);
    const s1 = await fill(f, 14);
    await s1.remove(9);
    const ids = s1.blockIds();
    const where = ids.map((id) => s1.location(id));
    const usage = s1.dirUsage();
    await s1.close();

    const s2 = await f.open();
    expect(s2.blockIds()).toEqual(ids);
    expect(ids.map((id) => s2.location(id))).toEqual(where);
    expect(s2.dirUsage()).toEqual(usage);
    expect(s2.stats()).toMatchObject({ recovered: ids.length, corruptDropped: 0, discarded: 0 });
    for (const id of ids) expect(await s2.get(id)).toEqual(bytes(id, 10));
    // The recovered set is the starting state, not news for the master.
    expect(s2.drainChanges()).toEqual({ added: [], removed: [] });
    // Recovered blocks are evictable like any other.
    await s2.put(100, bytes(100, 20), { tier: 'MEM' });
    expect(allViolations(f)).toEqual([]);
  });

  it('drops a block whose file or metadata was damaged, and keeps the rest', async () => {
    const f = fixture(THREE_TIERS);
    const s1 = await fill(f, 7);
    expect(s1.location(1)!.tier).toBe('HDD');
    expect(s1.location(4)!.tier).toBe('SSD');
    const hdd = f.disks[2]![0]!.inner;
    const ssd = f.disks[1]![0]!.inner;
    const data = await hdd.readFile('worker/hdd0/1');
    data[5]! ^= 1;
    await hdd.writeFile('worker/hdd0/1', data);
    await hdd.fsync('worker/hdd0/1');
    const meta = await ssd.readFile('worker/ssd0/4.meta');
    meta[17]! ^= 0x80;
    await ssd.writeFile('worker/ssd0/4.meta', meta);
    // A truncated block file: its length no longer matches the metadata.
    await ssd.truncate('worker/ssd0/3', 3);

    const s2 = await f.open();
    expect(s2.blockIds()).toEqual([2, 5, 6, 7]);
    const corrupt = f.events.filter((e) => e.t === 'corrupt');
    expect(corrupt.map((e) => (e.t === 'corrupt' ? [e.blockId, e.at.tier, e.reason] : []))).toEqual([
      [3, 'SSD', 'block file has 3 bytes, metadata says 10'],
      [4, 'SSD', 'metadata checksum mismatch'],
      [1, 'HDD', 'checksum mismatch'],
    ]);
    expect(s2.stats().corruptDropped).toBe(3);
    expect(await hdd.list('worker/hdd0')).toEqual([]);
    expect(await ssd.list('worker/ssd0')).toEqual(['2', '2.meta']);
    expect(s2.usedBytes('SSD')).toBe(10);
    for (const id of s2.blockIds()) expect(await s2.get(id)).toEqual(bytes(id, 10));
  });

  it('discards interrupted writes: temp files and block files without metadata', async () => {
    const f = fixture(THREE_TIERS);
    const s1 = await fill(f, 2);
    await s1.close();
    const mem = f.disks[0]![0]!.inner;
    await mem.writeFile('worker/mem0/.tmp/7', bytes(7, 10));
    await mem.writeFile('worker/mem0/.tmp/7.meta', new Uint8Array(32));
    await mem.writeFile('worker/mem0/8', bytes(8, 10));
    await mem.writeFile('worker/mem0/notes.txt', new Uint8Array(3));

    const s2 = await f.open();
    expect(s2.blockIds()).toEqual([1, 2]);
    const discarded = f.events.filter((e) => e.t === 'discarded').map((e) => (e.t === 'discarded' ? e.path : ''));
    expect(discarded).toEqual(['worker/mem0/.tmp/7', 'worker/mem0/.tmp/7.meta', 'worker/mem0/8']);
    expect(s2.stats().discarded).toBe(3);
    // Files that are not the store's are left alone (and logged).
    expect(await mem.list('worker/mem0')).toEqual(['1', '1.meta', '2', '2.meta', 'notes.txt']);
    expect(f.logs.some((l) => l.msg.includes('unknown file'))).toBe(true);
  });

  it('keeps one copy of a block a crash left in two tiers, and drops blocks over a lowered quota', async () => {
    const f = fixture(THREE_TIERS);
    await fill(f, 2);
    const mem = f.disks[0]![0]!.inner;
    const hdd = f.disks[2]![0]!.inner;
    for (const n of ['1', '1.meta']) await hdd.writeFile(`worker/hdd0/${n}`, await mem.readFile(`worker/mem0/${n}`));
    const s2 = await f.open();
    expect(s2.location(1)!.tier).toBe('MEM');
    expect(await hdd.list('worker/hdd0')).toEqual([]);

    const small = fixture([{ alias: 'MEM', quotas: [15] }]);
    small.disks[0]![0] = f.disks[0]![0]!;
    const s3 = await small.open();
    expect(s3.blockIds()).toEqual([1]);
    expect(s3.usedBytes()).toBe(10);
    expect(small.events.filter((e) => e.t === 'discarded')).toHaveLength(1);
  });

  it('after a power loss at any point, with torn unsynced writes, keeps every committed block and only blocks that verify', async () => {
    const layout: Layout[] = [
      { alias: 'MEM', quotas: [25, 25] },
      { alias: 'SSD', quotas: [30, 30] },
      { alias: 'HDD', quotas: [40, 40] },
    ];
    const sizeOf = (id: number) => 5 + ((id * 7) % 20);
    const op = fc.oneof(
      fc.record({ t: fc.constant('put' as const), id: fc.integer({ min: 0, max: 11 }), tier: fc.option(fc.constantFrom(...TIER_ALIASES), { nil: undefined }) }),
      fc.record({ t: fc.constantFrom('get' as const, 'remove' as const, 'promote' as const, 'write' as const), id: fc.integer({ min: 0, max: 11 }) }),
    );
    /** A block written in three pieces through a BlockWriter, as a client's write stream stores it. */
    const write = async (s: TieredBlockStore, id: number): Promise<void> => {
      const data = bytes(id, sizeOf(id));
      const w = await s.openWriter(id, data.byteLength);
      try {
        for (const at of [0, 2, 4]) await w.append(data.subarray(at, at === 4 ? undefined : at + 2));
        await w.commit();
      } catch (e) {
        await w.abort();
        throw e;
      }
    };
    await fc.assert(
      fc.asyncProperty(fc.array(op, { maxLength: 40 }), fc.nat(600), fc.array(fc.nat(40), { minLength: 1, maxLength: 8 }), async (ops, crashAt, torn) => {
        const f = fixture(layout);
        const s = await f.open();
        let n = 0;
        let dead = false;
        let committedAtCrash: number[] | undefined;
        let t = 0;
        for (const d of f.disks.flat()) {
          d.inner.faults = {
            beforeOp: () => {
              if (!dead && n++ >= crashAt) {
                dead = true;
                committedAtCrash = s.blockIds();
              }
              if (dead) throw new DiskError('EIO', 'power lost');
            },
            tornBytes: (_p, unsynced) => Math.min(unsynced, torn[t++ % torn.length]!),
          };
        }
        for (const o of ops) {
          try {
            if (o.t === 'put') await s.put(o.id, bytes(o.id, sizeOf(o.id)), o.tier ? { tier: o.tier } : {});
            else if (o.t === 'get') await s.get(o.id);
            else if (o.t === 'remove') await s.remove(o.id);
            else if (o.t === 'write') await write(s, o.id);
            else await s.promote(o.id);
          } catch {
            // Failures after the power loss (and RESOURCE_EXHAUSTED) are expected.
          }
        }
        committedAtCrash ??= s.blockIds();
        for (const d of f.disks.flat()) {
          d.inner.crash();
          d.inner.faults = {};
          await d.resync();
        }
        const r = await f.open();
        const recovered = r.blockIds();
        for (const id of committedAtCrash) expect(recovered).toContain(id);
        for (const id of recovered) expect(await r.get(id)).toEqual(bytes(id, sizeOf(id)));
        for (const d of r.dirUsage()) expect(d.usedBytes).toBeLessThanOrEqual(d.quotaBytes);
        expect(allViolations(f)).toEqual([]);
        // Nothing uncommitted survives recovery.
        for (const d of f.disks.flat()) for (const p of await d.inner.list('')) expect(p).toBe('worker');
        for (const [li, l] of layout.entries()) {
          for (let i = 0; i < l.quotas.length; i++) {
            const names = await f.disks[li]![i]!.inner.list(`worker/${l.alias.toLowerCase()}${i}`);
            const ids = names.filter((x) => !x.startsWith('.')).map((x) => Number(x.replace('.meta', '')));
            for (const id of ids) expect(r.location(id)).toMatchObject({ level: li, dir: i });
            const tmp = names.includes('.tmp') ? await f.disks[li]![i]!.inner.list(`worker/${l.alias.toLowerCase()}${i}/.tmp`) : [];
            expect(tmp).toEqual([]);
          }
        }
      }),
      { numRuns: 150 },
    );
  });
});
