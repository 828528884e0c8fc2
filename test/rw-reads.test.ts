// The read path in the simulator: positioned reads and seeks across block
// boundaries with each read type, the client cache and its prefetch, and one UFS
// read for concurrent misses on a block.
import { describe, expect, it } from 'vitest';
import { isStrataError } from '../actors/protocol/envelope.js';
import type { WorkerActor, WorkerOptions } from '../actors/worker/worker.js';
import { bed, bytes, workerOpts } from './data-bed.js';
import { blockIdOf } from '../actors/block-id.js';

const BLOCK = 4096;
const buf = (u: Uint8Array): Buffer => Buffer.from(u.buffer, u.byteOffset, u.byteLength);
const cacheOpts = { cache: { maxBytes: 64 * 1024, pageBytes: 1024, prefetchPages: 3 } };

describe('positioned reads', () => {
  it('read any range, across block boundaries, by position, by seek and sequentially', async () => {
    const { sim, c } = await bed(21);
    const data = bytes(3 * BLOCK + 1000, 5);
    await sim.settle(c().writeFile('/f', data));
    for (const cache of [false, true]) {
      const r = await sim.settle(c().openFile('/f', { cache }));
      expect(r.length).toBe(data.byteLength);
      for (const [pos, len] of [[0, 10], [BLOCK - 3, 7], [BLOCK - 1, 2 * BLOCK + 2], [3 * BLOCK + 990, 10], [5, data.byteLength - 5], [100, 0]] as const) {
        const got = await sim.settle(r.read(len, pos));
        expect(buf(got).equals(buf(data.subarray(pos, pos + len)))).toBe(true);
      }
      // A positioned read leaves the position alone; sequential reads move it.
      expect(r.position).toBe(0);
      r.seek(BLOCK - 100);
      const a = await sim.settle(r.read(300));
      const b = await sim.settle(r.read(300));
      expect(buf(a).equals(buf(data.subarray(BLOCK - 100, BLOCK + 200)))).toBe(true);
      expect(buf(b).equals(buf(data.subarray(BLOCK + 200, BLOCK + 500)))).toBe(true);
      expect(r.position).toBe(BLOCK + 500);
      // Into a caller's buffer; short at the end of the file, empty past it.
      const into = new Uint8Array(50);
      expect(await sim.settle(r.read(into, data.byteLength - 20))).toBe(20);
      expect(buf(into.subarray(0, 20)).equals(buf(data.subarray(data.byteLength - 20)))).toBe(true);
      r.seek(data.byteLength);
      expect((await sim.settle(r.read(10))).byteLength).toBe(0);
    }
  });

  it('refuses positions outside the file, negative lengths and use after close with clear errors', async () => {
    const { sim, c } = await bed(22);
    await sim.settle(c().writeFile('/f', bytes(5000, 1)));
    const r = await sim.settle(c().openFile('/f'));
    expect(() => r.seek(5001)).toThrow(/cannot seek to 5001/);
    expect(() => r.seek(-1)).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
    await expect(sim.settle(r.read(10, 6000))).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    await expect(sim.settle(r.read(-1))).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    await expect(sim.settle(c().readRange(r['info' as never], 4000, 2000, () => {}))).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    r.close();
    await expect(sim.settle(r.read(1, 0))).rejects.toMatchObject({ code: 'FAILED_PRECONDITION' });
    await sim.settle(c().mkdir('/d'));
    await expect(sim.settle(c().openFile('/d'))).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    await expect(sim.settle(c().openFile('/missing'))).rejects.toMatchObject({ code: 'NOT_FOUND' });
  });
});

describe('read types on positioned reads', () => {
  it('NO_CACHE reads only the range from the UFS and leaves no block behind; CACHE caches the whole block', async () => {
    const { sim, cluster, c } = await bed(23);
    const w = () => cluster.actor<WorkerActor>('worker-0');
    const data = bytes(2 * BLOCK, 9);
    const f = await sim.settle(c().writeFile('/t', data, { writeType: 'THROUGH' }));
    const block0 = blockIdOf(f.fileId);
    const r = await sim.settle(c().openFile('/t', { readType: 'NO_CACHE', cache: false }));
    const ufsBefore = w().counters.bytesReadUfs;
    const got = await sim.settle(r.read(100, BLOCK - 50));
    expect(buf(got).equals(buf(data.subarray(BLOCK - 50, BLOCK + 50)))).toBe(true);
    expect(w().counters.bytesReadUfs - ufsBefore).toBe(100);
    expect(w().store.has(block0)).toBe(false);
    expect(w().store.has(block0 + 1)).toBe(false);
    const cached = await sim.settle(c().openFile('/t', { readType: 'CACHE', cache: false }));
    expect(buf(await sim.settle(cached.read(10, 20))).equals(buf(data.subarray(20, 30)))).toBe(true);
    expect(w().store.has(block0)).toBe(true);
    expect(w().store.has(block0 + 1)).toBe(false);
  });

  it('CACHE_PROMOTE moves a block read from a lower tier up to the top one', async () => {
    const twoTiers: Partial<WorkerOptions> = {
      tiers: {
        ...workerOpts.tiers,
        levels: [
          { alias: 'MEM', dirs: [{ path: 'tiers/mem', quotaBytes: 2 * BLOCK, mediumType: 'MEM' }] },
          { alias: 'SSD', dirs: [{ path: 'tiers/ssd', quotaBytes: 16 * BLOCK, mediumType: 'SSD' }] },
        ],
      },
    };
    const { sim, cluster, c } = await bed(24, { worker: twoTiers });
    const w = () => cluster.actor<WorkerActor>('worker-0');
    const first = await sim.settle(c().writeFile('/first', bytes(BLOCK, 1)));
    for (let i = 0; i < 3; i++) await sim.settle(c().writeFile(`/push${i}`, bytes(BLOCK, i + 2)));
    const id = blockIdOf(first.fileId);
    expect(w().store.location(id)?.tier).toBe('SSD');
    const plain = await sim.settle(c().openFile('/first', { readType: 'CACHE', cache: false }));
    await sim.settle(plain.read(10, 0));
    await sim.run({ until: sim.now + 100 });
    expect(w().store.location(id)?.tier).toBe('SSD');
    const r = await sim.settle(c().openFile('/first', { readType: 'CACHE_PROMOTE', cache: false }));
    expect(buf(await sim.settle(r.read(10, 5))).equals(buf(bytes(BLOCK, 1).subarray(5, 15)))).toBe(true);
    await sim.run({ until: sim.now + 100 });
    expect(w().store.location(id)?.tier).toBe('MEM');
  });
});

describe('unverified reads of cached blocks', () => {
  it('of a lower tier stream the range asked for from the block file, chunk by chunk, byte for byte', async () => {
    // An SSD-only worker: MEM-tier blocks are served from memory.
    const ssd: Partial<WorkerOptions> = { verifyReads: false, tiers: { ...workerOpts.tiers, levels: [{ alias: 'SSD', dirs: [{ path: 'tiers/ssd', quotaBytes: 1 << 20, mediumType: 'SSD' }] }] } };
    const { sim, cluster, c } = await bed(29, { worker: ssd });
    const w = () => cluster.actor<WorkerActor>('worker-0');
    const data = bytes(3 * BLOCK + 500, 6);
    await sim.settle(c().writeFile('/u', data));
    // A restarted worker has its blocks on disk and none in memory.
    await sim.settle(cluster.restart('worker-0'));
    await sim.run({ until: sim.now + 1000 });
    const ufsReads = w().counters.ufsBlockReads;
    expect(buf(await sim.settle(c().readFile('/u'))).equals(buf(data))).toBe(true);
    const r = await sim.settle(c().openFile('/u', { cache: false }));
    for (const [pos, len] of [[1000, 5000], [BLOCK - 1, 2], [3 * BLOCK, 500], [0, 0]] as const) {
      expect(buf(await sim.settle(r.read(len, pos))).equals(buf(data.subarray(pos, pos + len)))).toBe(true);
    }
    expect(w().counters.ufsBlockReads).toBe(ufsReads);
    expect(w().counters.bytesReadCache).toBe(data.byteLength + 5000 + 2 + 500);
    // Every lease went back: the blocks can be freed.
    await sim.settle(c().free('/u'));
    await sim.run({ until: sim.now + 1000 });
    expect(w().store.blockIds()).toEqual([]);
  });
});

describe('client cache', () => {
  it('serves repeated reads from client memory and prefetches ahead of a sequential reader', async () => {
    const { sim, cluster, c } = await bed(25, { client: cacheOpts });
    const w = () => cluster.actor<WorkerActor>('worker-0');
    const data = bytes(3 * BLOCK, 3);
    await sim.settle(c().writeFile('/s', data));
    const cache = c().cache!;
    const r = await sim.settle(c().openFile('/s'));
    const served = () => w().counters.bytesReadCache;
    const before = served();
    // A sequential reader in 512-byte steps: pages arrive ahead of it.
    const parts: Uint8Array[] = [];
    for (let i = 0; i < 4; i++) parts.push(await sim.settle(r.read(512)));
    expect(buf(Buffer.concat(parts)).equals(buf(data.subarray(0, 2048)))).toBe(true);
    await sim.run({ until: sim.now + 200 });
    expect(cache.counters.prefetched).toBeGreaterThan(0);
    const file = await sim.settle(c().getStatus('/s'));
    // Page 0 and 1 read, the next ones fetched ahead.
    for (let p = 0; p < 5; p++) expect(cache.has(cache.key(file, p))).toBe(true);
    const afterPrefetch = served();
    expect(afterPrefetch - before).toBeGreaterThanOrEqual(5 * 1024);
    // Re-reading cached pages costs the worker nothing.
    const again = await sim.settle(r.read(2048, 1000));
    expect(buf(again).equals(buf(data.subarray(1000, 3048)))).toBe(true);
    expect(served()).toBe(afterPrefetch);
    // Reading to the end, byte for byte.
    r.seek(0);
    const all: Uint8Array[] = [];
    for (let chunk = await sim.settle(r.read(700)); chunk.byteLength > 0; chunk = await sim.settle(r.read(700))) all.push(chunk);
    expect(buf(Buffer.concat(all)).equals(buf(data))).toBe(true);
    expect(cache.usedBytes).toBeLessThanOrEqual(64 * 1024);
  });

  it('never serves pages of an older version of a file, and stays within its size', async () => {
    const { sim, c } = await bed(26, { client: { cache: { maxBytes: 4096, pageBytes: 1024, prefetchPages: 2 } } });
    await sim.settle(c().writeFile('/v', bytes(8000, 1)));
    const r1 = await sim.settle(c().openFile('/v'));
    expect(buf(await sim.settle(r1.read(8000, 0))).equals(buf(bytes(8000, 1)))).toBe(true);
    expect(c().cache!.usedBytes).toBeLessThanOrEqual(4096);
    await sim.settle(c().writeFile('/v', bytes(8000, 2), { overwrite: true }));
    const r2 = await sim.settle(c().openFile('/v'));
    expect(buf(await sim.settle(r2.read(3000, 100))).equals(buf(bytes(8000, 2).subarray(100, 3100)))).toBe(true);
    expect(c().cache!.counters.evicted).toBeGreaterThan(0);
  });
});

describe('concurrent cache misses', () => {
  it('cause one UFS read per block, however many clients miss it at once', async () => {
    const clients = ['client-0', 'client-1', 'client-2', 'client-3'];
    const { sim, cluster, c } = await bed(27, { clients });
    const w = () => cluster.actor<WorkerActor>('worker-0');
    const data = bytes(2 * BLOCK + 10, 7);
    await sim.settle(c().writeFile('/m', data, { writeType: 'THROUGH' }));
    expect(w().counters.ufsBlockReads).toBe(0);
    const reads = await sim.settle(Promise.all(clients.map((id) => c(id).readFile('/m'))));
    for (const got of reads) expect(buf(got).equals(buf(data))).toBe(true);
    expect(w().counters.ufsBlockReads).toBe(3);
    expect(w().counters.bytesReadUfs).toBe(data.byteLength);
  });

  it('a file changed in the UFS behind strata is not served or cached under the old blocks', async () => {
    const { sim, cluster, c } = await bed(28);
    const w = () => cluster.actor<WorkerActor>('worker-0');
    const f = await sim.settle(c().writeFile('/x', bytes(5000, 1), { writeType: 'THROUGH' }));
    await cluster.ufsDisk('sim://ufs').writeFile('x', bytes(5000, 2));
    const err = await sim.settle(c().readFile('/x').then(() => undefined, (e: unknown) => e));
    expect(isStrataError(err, 'FAILED_PRECONDITION')).toBe(true);
    expect(w().store.has(blockIdOf(f.fileId))).toBe(false);
  });
});
