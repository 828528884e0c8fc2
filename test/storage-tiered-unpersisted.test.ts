// Unpersisted blocks (MUST_CACHE, ASYNC_THROUGH before persistence, files still
// being written) are the only copy of their data: the evictor may move them down
// but never out of the worker, and a put that would need that fails cleanly.
import { describe, expect, it } from 'vitest';
import { StrataError, isStrataError } from '../actors/protocol/envelope.js';
import { THREE_TIERS, allViolations, bytes, fixture } from './storage-tiered-helpers.js';

async function rejection(p: Promise<unknown>): Promise<StrataError> {
  try {
    await p;
  } catch (e) {
    if (e instanceof StrataError) return e;
    throw e;
  }
  throw new Error('expected a rejection');
}

describe('TieredBlockStore: unpersisted blocks', () => {
  it('never evicts an unpersisted block: a put that would need it fails with RESOURCE_EXHAUSTED and loses nothing', async () => {
    const f = fixture([{ alias: 'MEM', quotas: [30] }]);
    const s = await f.open();
    for (const id of [1, 2, 3]) await s.put(id, bytes(id, 10), { unpersisted: true });
    expect(s.unpersistedBlockIds()).toEqual([1, 2, 3]);
    expect(s.info(1)).toMatchObject({ persisted: false });
    for (const opts of [{}, { unpersisted: true }]) {
      const e = await rejection(s.put(4, bytes(4, 10), opts));
      expect(e.code).toBe('RESOURCE_EXHAUSTED');
      expect(e.message).toContain('MEM 30/30 bytes used');
    }
    expect(s.blockIds()).toEqual([1, 2, 3]);
    for (const id of [1, 2, 3]) expect(await s.get(id)).toEqual(bytes(id, 10));
    expect(f.events.filter((e) => e.t === 'evicted')).toEqual([]);
    expect(s.usedBytes()).toBe(30);
  });

  it('evicts persisted blocks around unpersisted ones, even when those are older', async () => {
    const f = fixture([{ alias: 'MEM', quotas: [30] }]);
    const s = await f.open();
    await s.put(1, bytes(1, 10), { unpersisted: true });
    await s.put(2, bytes(2, 10));
    await s.put(3, bytes(3, 10), { unpersisted: true });
    expect((await s.put(4, bytes(4, 10))).evicted).toEqual([2]);
    // Block 4 is now the only persisted one, however recently used.
    expect((await s.put(5, bytes(5, 10))).evicted).toEqual([4]);
    expect(s.blockIds()).toEqual([1, 3, 5]);
  });

  it('a block marked persisted becomes evictable in its LRU place', async () => {
    const f = fixture([{ alias: 'MEM', quotas: [30] }]);
    const s = await f.open();
    for (const id of [1, 2, 3]) await s.put(id, bytes(id, 10), { unpersisted: true });
    await expect(s.put(4, bytes(4, 10))).rejects.toSatisfy((e: unknown) => isStrataError(e, 'RESOURCE_EXHAUSTED'));
    s.markPersisted(2);
    s.markPersisted(3);
    expect(s.isPersisted(2)).toBe(true);
    expect(s.unpersistedBlockIds()).toEqual([1]);
    expect((await s.put(4, bytes(4, 10))).evicted).toEqual([2]);
    expect((await s.put(5, bytes(5, 10))).evicted).toEqual([3]);
    s.markPersisted(99); // absent: ignored
  });

  it('storing the same bytes again as persisted (read through after persistence) frees the block for eviction', async () => {
    const f = fixture([{ alias: 'MEM', quotas: [20] }]);
    const s = await f.open();
    await s.put(1, bytes(1, 10), { unpersisted: true });
    await s.put(1, bytes(1, 10));
    expect(s.isPersisted(1)).toBe(true);
    // An unpersisted re-put of a persisted block does not take persistence back.
    await s.put(1, bytes(1, 10), { unpersisted: true });
    expect(s.isPersisted(1)).toBe(true);
  });

  it('moves unpersisted blocks down a tier to make room, and fails once no tier below has room', async () => {
    const f = fixture([
      { alias: 'MEM', quotas: [20] },
      { alias: 'SSD', quotas: [20] },
    ]);
    const s = await f.open();
    for (const id of [1, 2, 3, 4]) await s.put(id, bytes(id, 10), { unpersisted: true });
    expect(s.evictionOrder('MEM')).toEqual([3, 4]);
    expect(s.evictionOrder('SSD')).toEqual([1, 2]);
    expect(f.events.filter((e) => e.t === 'moved').map((e) => e.blockId)).toEqual([1, 2]);
    const e = await rejection(s.put(5, bytes(5, 10), { unpersisted: true }));
    expect(e.code).toBe('RESOURCE_EXHAUSTED');
    expect(e.message).toMatch(/MEM 20\/20 bytes used, SSD 20\/20 bytes used/);
    expect(s.blockIds()).toEqual([1, 2, 3, 4]);
    for (const id of [1, 2, 3, 4]) expect(await s.get(id)).toEqual(bytes(id, 10));
    // A persisted block in the SSD tier makes room for one more move down.
    s.markPersisted(1);
    expect((await s.put(5, bytes(5, 10), { unpersisted: true })).evicted).toEqual([1]);
    expect(s.evictionOrder('SSD').sort()).toEqual([2, 3]);
    expect(f.events.filter((ev) => ev.t === 'evicted').map((ev) => ev.blockId)).toEqual([1]);
    expect(allViolations(f)).toEqual([]);
  });

  it('recovered blocks stored unpersisted stay so until marked when the owner asks for it; those stored persisted are evictable at once', async () => {
    const safe = fixture([{ alias: 'MEM', quotas: [30] }], { recoverUnpersisted: true });
    const s1 = await safe.open();
    await s1.put(1, bytes(1, 10), { unpersisted: true });
    await s1.put(2, bytes(2, 10), { unpersisted: true });
    await s1.put(3, bytes(3, 10));
    // Marked in memory only: whether it was persisted since is the master's to say again after a restart.
    s1.markPersisted(2);
    await s1.close();
    const s2 = await safe.open();
    expect(s2.unpersistedBlockIds()).toEqual([1, 2]);
    // The block stored persisted makes room without anyone being asked (a worker restarted with a full MEM tier of written-through blocks).
    expect((await s2.put(4, bytes(4, 10), { unpersisted: true })).evicted).toEqual([3]);
    await expect(s2.put(5, bytes(5, 10))).rejects.toSatisfy((e: unknown) => isStrataError(e, 'RESOURCE_EXHAUSTED'));
    s2.markPersisted(1);
    expect((await s2.put(5, bytes(5, 10))).evicted).toEqual([1]);

    const plain = fixture([{ alias: 'MEM', quotas: [20] }]);
    const p1 = await plain.open();
    await p1.put(1, bytes(1, 10), { unpersisted: true });
    await p1.close();
    expect((await plain.open()).unpersistedBlockIds()).toEqual([]);
  });

  it('a block keeps what it was stored as when it moves down a tier, across a restart', async () => {
    const f = fixture([
      { alias: 'MEM', quotas: [10] },
      { alias: 'SSD', quotas: [20] },
    ], { recoverUnpersisted: true });
    const s1 = await f.open();
    await s1.put(1, bytes(1, 10));
    await s1.put(2, bytes(2, 10), { unpersisted: true });
    await s1.put(3, bytes(3, 10));
    expect(s1.evictionOrder('SSD').sort()).toEqual([1, 2]);
    await s1.close();
    const s2 = await f.open();
    expect(s2.unpersistedBlockIds()).toEqual([2]);
    expect(s2.isPersisted(1)).toBe(true);
    expect(s2.isPersisted(3)).toBe(true);
  });

  it('random puts, reads, promotions and persistence on three tiers never lose an unpersisted block', async () => {
    let refused = 0;
    for (let seed = 1; seed <= 20; seed++) {
      let x = seed * 2654435761;
      const rand = (n: number): number => {
        x = (Math.imul(x, 1103515245) + 12345) >>> 0;
        return (x >>> 8) % n;
      };
      const f = fixture(THREE_TIERS);
      const s = await f.open();
      const owned = new Map<number, number>(); // unpersisted block -> length
      for (let step = 0; step < 200; step++) {
        const id = rand(40);
        const op = rand(10);
        if (op < 5) {
          const len = 1 + rand(12);
          const unpersisted = rand(2) === 0;
          try {
            await s.put(id, bytes(id, len), { unpersisted });
            if (unpersisted && !s.isPersisted(id)) owned.set(id, len);
            else owned.delete(id);
          } catch (e) {
            if (!isStrataError(e, 'RESOURCE_EXHAUSTED')) throw e;
            refused++;
            // A failed replacement of an unpersisted block drops the old bytes only if the new ones were stored.
            if (owned.has(id) && !s.has(id)) owned.delete(id);
          }
        } else if (op < 7) {
          s.markPersisted(id);
          owned.delete(id);
        } else if (op < 9) {
          await s.promote(id);
        } else {
          await s.get(id);
        }
        for (const [b, len] of owned) {
          expect(s.has(b), `seed ${seed} step ${step}: unpersisted block ${b} is gone`).toBe(true);
          expect(s.info(b)?.length).toBe(len);
        }
      }
      for (const [b, len] of owned) expect(await s.get(b)).toEqual(bytes(b, len));
      expect(allViolations(f)).toEqual([]);
    }
    expect(refused, 'the stores never filled up with unpersisted blocks').toBeGreaterThan(20);
  });
});
