// Metastores for namespace tests: every namespace test runs over each of them.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Kv } from '../../actors/env.js';
import { HeapInodeStore, type InodeStore, type MetastoreType } from '../../storage/metastore.js';
import { RocksInodeStore } from '../../storage/metastore-rocks.js';
import { LevelKv } from '../../transport/level-kv.js';

/**
 * An in-memory Kv whose batches become visible only when their promise resolves,
 * as with classic-level, so a store that reads its own writes too early fails.
 */
export class MemKv implements Kv {
  readonly data = new Map<string, Uint8Array>();
  batches = 0;

  async get(key: string): Promise<Uint8Array | undefined> {
    return this.data.get(key);
  }
  getSync(key: string): Uint8Array | undefined {
    return this.data.get(key);
  }
  async getMany(keys: readonly string[]): Promise<Array<Uint8Array | undefined>> {
    // A turn later, as a real store answers: writes may land in between.
    await new Promise((r) => setImmediate(r));
    return keys.map((k) => this.data.get(k));
  }
  async batch(ops: ReadonlyArray<readonly [string, Uint8Array | undefined]>): Promise<void> {
    const copy = ops.map(([k, v]) => [k, v?.slice()] as const);
    await new Promise((r) => setImmediate(r));
    this.batches++;
    for (const [k, v] of copy) {
      if (v === undefined) this.data.delete(k);
      else this.data.set(k, v);
    }
  }
  async scan(prefix: string): Promise<Array<[string, Uint8Array]>> {
    return [...this.data].filter(([k]) => k.startsWith(prefix)).sort(([a], [b]) => (a < b ? -1 : 1));
  }
  async clear(): Promise<void> {
    this.data.clear();
  }
  async close(): Promise<void> {}
}

/** A cache this small evicts on nearly every step, so misses and write-back are exercised everywhere. */
export const TINY_CACHE = { cacheMaxSize: 8, highWaterMark: 0.75, lowWaterMark: 0.5, batchSize: 3 };

/** TINY_CACHE, with listing records dropped by any write-back that does not change every child. */
export const LISTINGS_DROPPED = { ...TINY_CACHE, listingFactor: 1, listingSmall: 0 };

export const METASTORES: readonly MetastoreType[] = ['HEAP', 'ROCKS'];

/** A fresh, empty store of the given type, over an in-memory Kv for ROCKS. */
export function memStore(type: MetastoreType, kv: Kv = new MemKv()): InodeStore {
  return type === 'HEAP' ? new HeapInodeStore() : new RocksInodeStore(kv, TINY_CACHE);
}

/** A ROCKS store over a real classic-level in a temporary folder; `done` closes and removes it. */
export async function levelStore(opts = TINY_CACHE): Promise<{ store: RocksInodeStore; kv: LevelKv; dir: string; done: () => Promise<void> }> {
  const dir = mkdtempSync(join(tmpdir(), 'strata-metastore-'));
  const kv = await LevelKv.open(join(dir, 'kv'));
  const store = await RocksInodeStore.open(kv, opts);
  return {
    store, kv, dir,
    done: async () => {
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
