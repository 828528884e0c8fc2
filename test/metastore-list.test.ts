// listChildren reads a directory's uncached children from the store in one go and
// awaits it: entries applied meanwhile must never leave it with a listing that
// mixes two moments, and what it read must not displace the cache.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Namespace, ROOT_ID, type Inode } from '../actors/master/namespace.js';
import { HeapInodeStore } from '../storage/metastore.js';
import { RocksInodeStore } from '../storage/metastore-rocks.js';
import { nextEntry } from './helpers/namespace-entries.js';
import { MemKv, TINY_CACHE } from './helpers/metastores.js';

const view = (kids: Inode[]) => kids.map((k) => [k.id, k.name, k.length, k.completed, k.mode]);
const step = fc.tuple(fc.nat(), fc.nat(), fc.nat());

describe('listChildren', () => {
  it('equals a synchronous listing of the directory, with entries applied during the read', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(step, { maxLength: 60 }), fc.array(step, { maxLength: 6 }), fc.nat(), async (before, during, pick) => {
        const heap = new Namespace('sim://root', 'strata', 'supergroup', new HeapInodeStore());
        const rocks = new Namespace('sim://root', 'strata', 'supergroup', new RocksInodeStore(new MemKv(), TINY_CACHE));
        const both = (s: [number, number, number]) => {
          const e = nextEntry(heap, s);
          if (e) expect(rocks.apply(e)?.id).toBe(heap.apply(e)?.id);
        };
        for (const s of before) both(s);
        await rocks.store.flush();
        const dirs = [...heap.store.inOrder()].filter((n) => n.isDir);
        const dir = dirs[pick % dirs.length]!;
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
    let reads = 0;
    const getMany = kv.getMany.bind(kv);
    kv.getMany = (keys) => (reads++, getMany(keys));
    const getSync = kv.getSync.bind(kv);
    let syncReads = 0;
    kv.getSync = (key) => (syncReads++, getSync(key));
    const store = new RocksInodeStore(kv, { cacheMaxSize: 4, highWaterMark: 1, lowWaterMark: 0.5, batchSize: 1 });
    const ns = new Namespace('sim://root', 'strata', 'supergroup', store);
    for (let i = 0; i < 20; i++) ns.apply({ op: 'create', parent: ROOT_ID, name: `f${String(i).padStart(2, '0')}`, blockSize: 1024, mtimeMs: 0 });
    await store.flush();
    // Evict what the writes left in the cache; the root (a directory) stays the most credited.
    for (let i = 0; i < 5; i++) store.get(ROOT_ID);
    const root = ns.root();
    syncReads = 0;
    const cachedBefore = store.cached;
    const kids = await ns.listChildren(root);
    expect(kids.map((k) => k.name)).toEqual(Array.from({ length: 20 }, (_, i) => `f${String(i).padStart(2, '0')}`));
    expect(reads).toBe(1);
    expect(syncReads).toBe(0);
    expect(store.cached).toBe(cachedBefore);
  });
});
