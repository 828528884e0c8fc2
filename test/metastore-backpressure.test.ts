// Write-back backpressure in the ROCKS metastore: changes not yet in the store
// stay bounded. Writers that can wait (the master, before journaling) wait in
// `writable`; entries applied without waiting get their dirty inodes encoded and
// evicted, so the objects in memory stay under the high water mark.
import { describe, expect, it } from 'vitest';
import { Namespace, ROOT_ID } from '../actors/master/namespace.js';
import { RocksInodeStore } from '../storage/metastore-rocks.js';
import { listing, made } from './helpers/namespace-entries.js';
import { MemKv } from './helpers/metastores.js';

/** A MemKv whose batches wait until `open` is called (or fail while `failing`). */
class GatedKv extends MemKv {
  private waiting: Array<() => void> = [];
  gated = true;
  failing = false;

  override async batch(ops: ReadonlyArray<readonly [string, Uint8Array | undefined]>): Promise<void> {
    if (this.gated) await new Promise<void>((r) => this.waiting.push(r));
    if (this.failing) throw new Error('disk full');
    return super.batch(ops);
  }

  open(): void {
    this.gated = false;
    for (const r of this.waiting.splice(0)) r();
  }
}

const turns = async (n: number) => {
  for (let i = 0; i < n; i++) await new Promise((r) => setImmediate(r));
};

const OPTS = { cacheMaxSize: 40, highWaterMark: 0.5, lowWaterMark: 0.25, batchSize: 8 };

describe('ROCKS metastore write-back backpressure', () => {
  it('makes writers wait while the unwritten backlog is above the high mark, until it is under the low one', async () => {
    const kv = new GatedKv();
    const store = new RocksInodeStore(kv, OPTS);
    const ns = new Namespace('sim://root', 'strata', 'supergroup', store);
    await store.writable();
    for (let i = 0; i < 60; i++) ns.apply({ op: 'create', parent: ROOT_ID, name: `f${i}`, blockSize: 1, mtimeMs: 0 });
    expect(store.backlog).toBeGreaterThan(20);
    let ready = false;
    const waiting = store.writable().then(() => (ready = true));
    await turns(5);
    // Nothing can land while the disk holds its batches.
    expect(ready).toBe(false);
    expect(store.stats.waits).toBe(1);
    kv.open();
    await waiting;
    expect(store.backlog).toBeLessThanOrEqual(10);
    // Under the high mark, a writer goes straight on.
    await store.writable();
    expect(store.stats.waits).toBe(1);
    await store.flush();
    expect(ns.children(ns.root())).toHaveLength(60);
  });

  it('fails waiting writers UNAVAILABLE when the write-back fails, and loses nothing', async () => {
    const kv = new GatedKv();
    kv.gated = false;
    kv.failing = true;
    const store = new RocksInodeStore(kv, OPTS);
    const ns = new Namespace('sim://root', 'strata', 'supergroup', store);
    for (let i = 0; i < 60; i++) ns.apply({ op: 'mkdir', parent: ROOT_ID, name: `d${i}`, mtimeMs: 0 });
    await expect(store.writable()).rejects.toMatchObject({ code: 'UNAVAILABLE', message: /disk full/ });
    kv.failing = false;
    await store.writable();
    await store.flush();
    expect([...kv.data.keys()].filter((k) => k.startsWith('i'))).toHaveLength(61);
    for (let i = 0; i < 60; i++) expect(ns.lookup(`/d${i}`)).toBeDefined();
  });

  it('keeps the cached objects under the high mark when entries are applied without waiting, and applies them like HEAP', async () => {
    const kv = new GatedKv();
    const store = new RocksInodeStore(kv, OPTS);
    const rocks = new Namespace('sim://root', 'strata', 'supergroup', store);
    const heap = new Namespace('sim://root');
    let most = 0;
    // As a journal replay does: one entry after another, no batch able to land.
    for (let d = 0; d < 10; d++) {
      const e = { op: 'mkdir', parent: ROOT_ID, name: `d${d}`, mtimeMs: d } as const;
      const dir = made(rocks.apply(e));
      heap.apply(e);
      for (let f = 0; f < 50; f++) {
        const c = { op: 'create', parent: dir.id, name: `f${f}`, blockSize: 1, mtimeMs: f } as const;
        rocks.apply(c);
        heap.apply(c);
        most = Math.max(most, store.cached);
      }
    }
    // One apply may add a few objects (an inode and its parent) before eviction runs.
    expect(most).toBeLessThanOrEqual(20 + 2);
    expect(store.stats.spills).toBeGreaterThan(0);
    expect(kv.batches).toBe(0);
    // Listings are right before and after the writes land.
    for (let d = 0; d < 10; d++) expect((await rocks.listChildren(rocks.lookup(`/d${d}`)!)).map((f) => f.name)).toEqual(heap.children(heap.lookup(`/d${d}`)!).map((f) => f.name));
    kv.open();
    await store.flush();
    expect(listing(rocks)).toEqual(listing(heap));
    for (let d = 0; d < 10; d++) expect((await rocks.listChildren(rocks.lookup(`/d${d}`)!)).map((f) => [f.name, f.mtimeMs])).toEqual(heap.children(heap.lookup(`/d${d}`)!).map((f) => [f.name, f.mtimeMs]));
  });
});
