// ReadRange: a positioned read of up to one chunk in one request and one reply.
// The client uses it for ranges a stream would send as one chunk; the worker
// serves it as it serves ReadBlock (hit, read-through, NO_CACHE) and refuses bad
// ranges and unknown blocks with clear errors; a block that leaves the cache
// between the worker's lookup and its read is read through, not lost.
import { describe, expect, it } from 'vitest';
import { METRIC, metricsOf } from '../actors/metrics.js';
import { READ_RANGE_MAX_BYTES, type WorkerRequest } from '../actors/protocol/worker.js';
import type { WorkerActor } from '../actors/worker/worker.js';
import type { Message } from '../actors/protocol/envelope.js';
import { Raw, bed, bytes } from './data-bed.js';
import { blockIdOf } from '../actors/block-id.js';

const BLOCK = 4096;
const buf = (u: Uint8Array): Buffer => Buffer.from(u.buffer, u.byteOffset, u.byteLength);
const served = (cluster: Awaited<ReturnType<typeof bed>>['cluster'], op: string): number =>
  metricsOf(cluster.env('worker-0')).value(METRIC.rpcServer.name, { op }) ?? 0;

describe('ReadRange', () => {
  it('answers a cached range in one reply, counted as a cache read served remotely', async () => {
    const { sim, cluster, c } = await bed(41, { others: [['client-raw', (env) => new Raw(env)]] });
    const raw = cluster.actor<Raw>('client-raw');
    const w = () => cluster.actor<WorkerActor>('worker-0');
    const data = bytes(2 * BLOCK, 3);
    const f = await sim.settle(c().writeFile('/r', data));
    const block1 = blockIdOf(f.fileId, 1);
    const cache0 = w().counters.bytesReadCache;
    const remote0 = w().counters.bytesServed;
    const reply = await sim.settle(raw.rpc.request<Message & { data: Uint8Array; cached: boolean }, WorkerRequest>('worker-0', { t: 'ReadRange', blockId: block1, offset: 100, length: 700, cache: true }, 'BlockRange'));
    expect(buf(reply.data).equals(buf(data.subarray(BLOCK + 100, BLOCK + 800)))).toBe(true);
    expect(reply.cached).toBe(true);
    expect(w().counters.bytesReadCache - cache0).toBe(700);
    expect(w().counters.bytesServed - remote0).toBe(700);
    // An empty range at the very end of the block is a range too.
    const empty = await sim.settle(raw.rpc.request<Message & { data: Uint8Array }, WorkerRequest>('worker-0', { t: 'ReadRange', blockId: block1, offset: BLOCK, length: 0, cache: true }, 'BlockRange'));
    expect(empty.data.byteLength).toBe(0);
  });

  it('refuses ranges outside the block, oversized ranges, malformed requests and unknown blocks', async () => {
    const { sim, cluster, c } = await bed(42, { others: [['client-raw', (env) => new Raw(env)]] });
    const raw = cluster.actor<Raw>('client-raw');
    const w = () => cluster.actor<WorkerActor>('worker-0');
    const f = await sim.settle(c().writeFile('/r', bytes(BLOCK + 10, 4)));
    const block0 = blockIdOf(f.fileId);
    const ask = (m: Record<string, unknown>) => sim.settle(raw.refusal('worker-0', { t: 'ReadRange', blockId: block0, offset: 0, length: 10, cache: true, ...m }));
    // Past the end of a full block, and of the short last block.
    expect(await ask({ offset: BLOCK - 5, length: 10 })).toBe('INVALID_ARGUMENT');
    expect(await ask({ blockId: block0 + 1, offset: 5, length: 6 })).toBe('INVALID_ARGUMENT');
    expect(await ask({ length: READ_RANGE_MAX_BYTES + 1 })).toBe('INVALID_ARGUMENT');
    // The codec refuses what is not a ReadRange at all.
    expect(await ask({ offset: -1 })).toBe('INVALID_ARGUMENT');
    expect(await ask({ length: 'ten' })).toBe('INVALID_ARGUMENT');
    expect(await ask({ cache: undefined })).toBe('INVALID_ARGUMENT');
    // A block of a file that does not exist, and one past the end of a file that does.
    expect(await ask({ blockId: blockIdOf(999) })).toBe('NOT_FOUND');
    expect(await ask({ blockId: block0 + 2 })).toBe('NOT_FOUND');
    // None of it read anything from the UFS, and the block is still served.
    expect(w().counters.ufsBlockReads).toBe(0);
    const ok = await sim.settle(raw.rpc.request<Message & { data: Uint8Array }, WorkerRequest>('worker-0', { t: 'ReadRange', blockId: block0 + 1, offset: 0, length: 10, cache: true }, 'BlockRange'));
    expect(buf(ok.data).equals(buf(bytes(BLOCK + 10, 4).subarray(BLOCK)))).toBe(true);
  });

  it('is what a client sends for ranges of up to one chunk; larger ranges stream', async () => {
    const { sim, cluster, c } = await bed(43);
    const data = bytes(3 * BLOCK, 5);
    await sim.settle(c().writeFile('/r', data));
    const r = await sim.settle(c().openFile('/r', { cache: false }));
    const ranges0 = served(cluster, 'ReadRange');
    const streams0 = served(cluster, 'ReadBlock');
    // The test client's chunk is 1 KiB: a range of 1 KiB inside a block is one ReadRange;
    // one crossing a block boundary is one per block.
    expect(buf(await sim.settle(r.read(1024, 10))).equals(buf(data.subarray(10, 1034)))).toBe(true);
    expect(buf(await sim.settle(r.read(200, BLOCK - 100))).equals(buf(data.subarray(BLOCK - 100, BLOCK + 100)))).toBe(true);
    expect(served(cluster, 'ReadRange') - ranges0).toBe(3);
    expect(served(cluster, 'ReadBlock') - streams0).toBe(0);
    expect(buf(await sim.settle(r.read(1025, 0))).equals(buf(data.subarray(0, 1025)))).toBe(true);
    expect(served(cluster, 'ReadBlock') - streams0).toBe(1);
    expect(c().counters.bytesRead).toBeGreaterThanOrEqual(1024 + 200 + 1025);
  });

  it('keeps the read types: NO_CACHE reads only the range from the UFS, CACHE reads the block through and caches it', async () => {
    const { sim, cluster, c } = await bed(44);
    const w = () => cluster.actor<WorkerActor>('worker-0');
    const data = bytes(2 * BLOCK, 6);
    const f = await sim.settle(c().writeFile('/t', data, { writeType: 'THROUGH' }));
    const block0 = blockIdOf(f.fileId);
    const nc = await sim.settle(c().openFile('/t', { readType: 'NO_CACHE', cache: false }));
    const ufs0 = w().counters.bytesReadUfs;
    expect(buf(await sim.settle(nc.read(300, 1000))).equals(buf(data.subarray(1000, 1300)))).toBe(true);
    expect(w().counters.bytesReadUfs - ufs0).toBe(300);
    expect(w().store.has(block0)).toBe(false);
    const cached = await sim.settle(c().openFile('/t', { readType: 'CACHE', cache: false }));
    expect(buf(await sim.settle(cached.read(300, 1000))).equals(buf(data.subarray(1000, 1300)))).toBe(true);
    expect(w().counters.bytesReadUfs - ufs0).toBe(300 + BLOCK);
    expect(w().store.has(block0)).toBe(true);
    expect(served(cluster, 'ReadBlock')).toBe(0);
  });

  it('reads a block through when it leaves the cache between the lookup and the read', async () => {
    const { sim, cluster, c } = await bed(45);
    const w = () => cluster.actor<WorkerActor>('worker-0');
    const data = bytes(BLOCK, 7);
    const f = await sim.settle(c().writeFile('/e', data));
    const block0 = blockIdOf(f.fileId);
    // A restarted worker has its blocks on disk and none in memory: reads go to the store.
    await sim.settle(cluster.restart('worker-0'));
    await sim.run({ until: sim.now + 1000 });
    const r = await sim.settle(c().openFile('/e', { cache: false }));
    expect(r.length).toBe(BLOCK);
    const store = w().store;
    const get = store.get.bind(store);
    let evicted = 0;
    store.get = async (id: number) => {
      const got = await get(id);
      // Freed while its bytes were being read: they may no longer be served as the block's.
      if (id === block0 && evicted++ === 0) await w().dropBlock(id);
      return got;
    };
    const ufsReads = w().counters.ufsBlockReads;
    expect(buf(await sim.settle(r.read(500, 2000))).equals(buf(data.subarray(2000, 2500)))).toBe(true);
    expect(evicted).toBeGreaterThan(0);
    expect(w().counters.ufsBlockReads - ufsReads).toBe(1);
    expect(store.has(block0)).toBe(true);
  });

  it('fails cleanly when the only copy of a block is gone from the worker the client was told about', async () => {
    const { sim, cluster, c } = await bed(46);
    const w = () => cluster.actor<WorkerActor>('worker-0');
    const data = bytes(BLOCK, 8);
    const f = await sim.settle(c().writeFile('/m', data, { writeType: 'MUST_CACHE' }));
    const r = await sim.settle(c().openFile('/m', { cache: false }));
    expect(buf(await sim.settle(r.read(100, 0))).equals(buf(data.subarray(0, 100)))).toBe(true);
    await sim.settle(w().dropBlock(blockIdOf(f.fileId)));
    const err = await sim.settle(r.read(100, 200).then(() => undefined, (e: unknown) => e));
    expect(err).toMatchObject({ code: 'UNAVAILABLE' });
    expect(String((err as Error).message)).toMatch(/not persisted/);
  });
});

describe('NO_CACHE misses', () => {
  it('stream the range from the UFS chunk by chunk, byte for byte, caching nothing', async () => {
    const { sim, cluster, c } = await bed(47);
    const w = () => cluster.actor<WorkerActor>('worker-0');
    const data = bytes(2 * BLOCK + 300, 9);
    const f = await sim.settle(c().writeFile('/n', data, { writeType: 'THROUGH' }));
    const ufs0 = w().counters.bytesReadUfs;
    const chunks: number[] = [];
    const got: Uint8Array[] = [];
    await sim.settle(c().read('/n', (chunk) => void (chunks.push(chunk.byteLength), got.push(chunk)), 'NO_CACHE'));
    expect(buf(Buffer.concat(got)).equals(buf(data))).toBe(true);
    // Chunks of the client's chunk size, not one piece per block.
    expect(Math.max(...chunks)).toBe(1024);
    expect(w().counters.bytesReadUfs - ufs0).toBe(data.byteLength);
    for (let i = 0; i < 3; i++) expect(w().store.has(blockIdOf(f.fileId, i))).toBe(false);
  });

  it('fail, not serve a mix of two files, when the UFS file changes while it streams', async () => {
    const { sim, cluster, c } = await bed(48, { client: { readWindow: 1 } });
    const ufs = cluster.ufsDisk('sim://ufs');
    await sim.settle(c().writeFile('/x', bytes(BLOCK, 1), { writeType: 'THROUGH' }));
    await sim.run({ until: sim.now + 50 });
    let first = true;
    const err = await sim.settle(
      c().read('/x', async () => {
        if (!first) return;
        first = false;
        // Same length, another file: only its modification time tells.
        await ufs.writeFile('x', bytes(BLOCK, 2));
      }, 'NO_CACHE').then(() => undefined, (e: unknown) => e),
    );
    expect(first).toBe(false);
    expect(err).toMatchObject({ code: 'FAILED_PRECONDITION' });
  });
});

describe('cache misses read through', () => {
  it('stream the block while it is being read from the UFS, and end the read only once it is cached', async () => {
    const { sim, cluster, c } = await bed(49);
    const w = () => cluster.actor<WorkerActor>('worker-0');
    const data = bytes(2 * BLOCK, 10);
    const f = await sim.settle(c().writeFile('/c', data, { writeType: 'THROUGH' }));
    const block0 = blockIdOf(f.fileId);
    const cachedAtFirstChunk: boolean[] = [];
    const got: Uint8Array[] = [];
    await sim.settle(
      c().read('/c', (chunk) => {
        if (got.length === 0 || got.length === 4) cachedAtFirstChunk.push(w().store.has(block0 + got.length / 4));
        got.push(chunk);
      }, 'CACHE'),
    );
    expect(buf(Buffer.concat(got)).equals(buf(data))).toBe(true);
    // The first chunk of each block left before the block was in the cache; both are cached now.
    expect(cachedAtFirstChunk).toEqual([false, false]);
    expect(w().store.has(block0)).toBe(true);
    expect(w().store.has(block0 + 1)).toBe(true);
    expect(w().counters.ufsBlockReads).toBe(2);
    expect(w().counters.bytesReadUfs).toBe(data.byteLength);
  });
});
