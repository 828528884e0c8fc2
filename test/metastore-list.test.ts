// listChildren reads a directory's uncached children from the store in one go and
// awaits it: entries applied meanwhile must never leave it with a listing that
// mixes two moments, and what it read must not displace the cache.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Namespace, ROOT_ID, type Inode } from '../actors/master/namespace.js';
import { HeapInodeStore } from '../storage/metastore.js';
import { RocksInodeStore } from '../storage/metastore-rocks.js';
import { made, applyToBoth } from './helpers/namespace-entries.js';
import { LISTINGS_DROPPED, MemKv, TINY_CACHE } from './helpers/metastores.js';

const view = (kids: Inode[]) => kids.map((k) => [k.id, k.name, k.length, k.completed, k.mode]);
const step = fc.tuple(fc.nat(), fc.nat(), fc.nat());

/** Counts the reads a Kv serves. */
function counted(kv: MemKv) {
  const n = { get: 0, getMany: 0, getSync: 0 };
  const [get, getMany, getSync] = [kv.get.bind(kv), kv.getMany.bind(kv), kv.getSync.bind(kv)];
  kv.get = (key) => (n.get++, get(key));
  kv.getMany = (keys) => (n.getMany++, getMany(keys));
  kv.getSync = (key) => (n.getSync++, getSync(key));
  return n;
}

describe('listChildren', () => {
  it.each([
    ['listings rebuilt', TINY_CACHE],
    ['listings often dropped', LISTINGS_DROPPED],
  ])('equals a synchronous listing of the directory, with entries applied during the read (%s)', async (_, opts) => {
    await fc.assert(
      fc.asyncProperty(fc.array(step, { maxLength: 60 }), fc.array(step, { maxLength: 3 }), fc.array(step, { maxLength: 6 }), fc.nat(), fc.boolean(), async (before, between, during, pick, twice) => {
        const heap = new Namespace('sim://root', 'strata', 'supergroup', new HeapInodeStore());
        const rocks = new Namespace('sim://root', 'strata', 'supergroup', new RocksInodeStore(new MemKv(), opts));
        const both = (s: [number, number, number]) => applyToBoth(heap, rocks, s);
        for (const s of before) both(s);
        await rocks.store.flush();
        // Changes not yet written back when the listing starts (listing records lag behind them).
        for (const s of between) both(s);
        const dirs = [...heap.store.inOrder()].filter((n) => n.isDir);
        const dir = dirs[pick % dirs.length]!;
        // A first listing may build the directory's listing record; the second then reads it.
        if (twice) expect(view(await rocks.listChildren(rocks.get(dir.id)!))).toEqual(view(heap.children(dir)));
        const listings = [heap.listChildren(dir), rocks.listChildren(rocks.get(dir.id)!)];
        // Applied before the store answers (MemKv answers a turn later).
        for (const s of during) both(s);
        const [h, r] = await Promise.all(listings);
        const now = heap.get(dir.id);
        const expected = now ? view(heap.children(now)) : [];
        expect(view(h!)).toEqual(expected);
        expect(view(r!)).toEqual(expected);
      }),
      { numRuns: 200 },
    );
  });

  it('reads uncached children with one store read and leaves them uncached', async () => {
    const kv = new MemKv();
    const reads = counted(kv);
    const store = new RocksInodeStore(kv, { cacheMaxSize: 4, highWaterMark: 1, lowWaterMark: 0.5, batchSize: 1 });
    const ns = new Namespace('sim://root', 'strata', 'supergroup', store);
    for (let i = 0; i < 20; i++) ns.apply({ op: 'create', parent: ROOT_ID, name: `f${String(i).padStart(2, '0')}`, blockSize: 1024, mtimeMs: 0 });
    await store.flush();
    // Evict what the writes left in the cache; the root (a directory) stays the most credited.
    for (let i = 0; i < 5; i++) store.get(ROOT_ID);
    const root = ns.root();
    reads.getSync = reads.get = reads.getMany = 0;
    const cachedBefore = store.cached;
    const kids = await ns.listChildren(root);
    expect(kids.map((k) => k.name)).toEqual(Array.from({ length: 20 }, (_, i) => `f${String(i).padStart(2, '0')}`));
    // The root's listing record, and nothing else.
    expect(reads).toEqual({ get: 0, getMany: 0, getSync: 1 });
    expect(store.cached).toBe(cachedBefore);
  });

  it('lists changes not yet written back over a listing record that predates them', async () => {
    const store = new RocksInodeStore(new MemKv(), { cacheMaxSize: 1000, highWaterMark: 1, lowWaterMark: 0.5, batchSize: 1000 });
    const ns = new Namespace('sim://root', 'strata', 'supergroup', store);
    const dir = made(ns.apply({ op: 'mkdir', parent: ROOT_ID, name: 'd', mtimeMs: 0 }));
    for (let i = 0; i < 6; i++) ns.apply({ op: 'create', parent: dir.id, name: `f${i}`, blockSize: 1, mtimeMs: 0 });
    await store.flush();
    // Out of the cache, so the listing must come from the record.
    store.replace([...store.inOrder()]);
    await store.flush();
    const at = (name: string) => ns.lookup(`/d/${name}`)!.id;
    ns.apply({ op: 'delete', id: at('f1') });
    ns.apply({ op: 'rename', id: at('f2'), parent: dir.id, name: 'g2', mtimeMs: 1 });
    ns.apply({ op: 'rename', id: at('f3'), parent: ROOT_ID, name: 'f3', mtimeMs: 1 });
    ns.apply({ op: 'complete', id: at('f4'), length: 9, mtimeMs: 2 });
    ns.apply({ op: 'create', parent: dir.id, name: 'f1', blockSize: 1, mtimeMs: 3 });
    expect(store.stats.batches).toBe(2);
    const kids = await ns.listChildren(ns.get(dir.id)!);
    expect(kids.map((k) => [k.name, k.length, k.mtimeMs])).toEqual([['f0', 0, 0], ['f1', 0, 3], ['f4', 9, 2], ['f5', 0, 0], ['g2', 0, 0]]);
  });

  it("drops a large directory's listing record on a small change, reads its inodes once, then builds it again", async () => {
    const kv = new MemKv();
    const store = new RocksInodeStore(kv, { cacheMaxSize: 50, highWaterMark: 0.9, lowWaterMark: 0.5, batchSize: 64 });
    const ns = new Namespace('sim://root', 'strata', 'supergroup', store);
    const dir = made(ns.apply({ op: 'mkdir', parent: ROOT_ID, name: 'big', mtimeMs: 0 }));
    for (let i = 0; i < 400; i++) ns.apply({ op: 'create', parent: dir.id, name: `f${i}`, blockSize: 1024, mtimeMs: 0 });
    await store.flush();
    const key = 'l' + dir.id.toString(36);
    expect(kv.data.has(key)).toBe(true);
    // One file of 400 changes: 1 x 8 + 256 < 400, so the record goes rather than being rewritten.
    const f7 = ns.lookup('/big/f7')!;
    ns.apply({ op: 'complete', id: f7.id, length: 5, mtimeMs: 9 });
    await store.flush();
    expect(kv.data.has(key)).toBe(false);
    expect(store.stats.listingsDropped).toBe(1);
    const reads = counted(kv);
    const first = await ns.listChildren(ns.get(dir.id)!);
    expect(first).toHaveLength(400);
    expect(first.find((f) => f.name === 'f7')).toMatchObject({ length: 5, mtimeMs: 9, completed: true });
    expect(reads.getMany).toBe(1);
    await store.flush();
    expect(kv.data.has(key)).toBe(true);
    reads.get = reads.getMany = reads.getSync = 0;
    const second = await ns.listChildren(ns.get(dir.id)!);
    expect(view(second)).toEqual(view(first));
    expect(reads).toEqual({ get: 0, getMany: 0, getSync: 1 });
  });
});
