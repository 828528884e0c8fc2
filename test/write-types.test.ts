// Write types end to end in the simulator: MUST_CACHE keeps the blocks on a worker
// only (and fails cleanly once no holder is left), CACHE_THROUGH caches and writes
// the UFS, THROUGH writes only the UFS.
import { describe, expect, it } from 'vitest';
import { isStrataError } from '../actors/protocol/envelope.js';
import type { WorkerActor, WorkerOptions } from '../actors/worker/worker.js';
import { bed, bytes, workerOpts } from './data-bed.js';
import { blockIdOf } from '../actors/block-id.js';

describe('write types', () => {
  it('MUST_CACHE, CACHE_THROUGH and THROUGH land where they should and read back byte for byte', async () => {
    const { sim, cluster, c } = await bed(9);
    const ufs = cluster.ufsDisk('sim://ufs');
    const data = bytes(10_000, 1);
    for (const writeType of ['MUST_CACHE', 'CACHE_THROUGH', 'THROUGH'] as const) {
      const f = await sim.settle(c().writeFile(`/${writeType}`, data, { writeType }));
      expect(f.persisted).toBe(writeType !== 'MUST_CACHE');
      expect(await ufs.stat(writeType)).toEqual(writeType === 'MUST_CACHE' ? null : expect.objectContaining({ size: 10_000 }));
      expect(Buffer.from(await sim.settle(c().readFile(`/${writeType}`))).equals(Buffer.from(data))).toBe(true);
    }
    // With its only holder down, MUST_CACHE data fails cleanly instead of reading anything else.
    cluster.crash('worker-0');
    const err = await sim.settle(c().readFile('/MUST_CACHE').then(() => undefined, (e: unknown) => e));
    expect(isStrataError(err)).toBe(true);
    expect((err as Error).message).toMatch(/not persisted and no live worker holds it/);
    // The persisted files are still readable through the UFS once the dead worker is dropped.
    await sim.settle(cluster.start('worker-0'));
    await sim.run({ until: sim.now + 1000 });
    expect(Buffer.from(await sim.settle(c().readFile('/THROUGH'))).equals(Buffer.from(data))).toBe(true);
  });
});

describe('pin and free', () => {
  it('pinned blocks survive a cache full of other reads; free drops blocks but keeps the data readable', async () => {
    // A MEM tier of four blocks: six more files force evictions.
    const small: Partial<WorkerOptions> = { tiers: { ...workerOpts.tiers, levels: [{ alias: 'MEM', dirs: [{ path: 'tiers/mem', quotaBytes: 16384, mediumType: 'MEM' }] }] } };
    const { sim, cluster, c } = await bed(10, { worker: small });
    const w = () => cluster.actor<WorkerActor>('worker-0');
    const keep = await sim.settle(c().writeFile('/keep', bytes(8192, 7)));
    await sim.settle(c().setAttribute('/keep', { pinned: true }, true));
    expect((await sim.settle(c().getStatus('/keep'))).pinned).toBe(true);
    await sim.run({ until: sim.now + 500 });
    for (let i = 0; i < 6; i++) await sim.settle(c().writeFile(`/other${i}`, bytes(8192, i)));
    const kept = blockIdOf(keep.fileId);
    expect(w().store.has(kept)).toBe(true);
    await expect(sim.settle(c().free('/keep'))).rejects.toThrow(/is pinned/);
    await sim.settle(c().free('/keep', true));
    await sim.run({ until: sim.now + 500 });
    expect(w().store.has(kept)).toBe(false);
    expect(Buffer.from(await sim.settle(c().readFile('/keep'))).equals(Buffer.from(bytes(8192, 7)))).toBe(true);
  });
});

describe('TTL', () => {
  it('deletes, or frees the blocks of, a file once its TTL has passed', async () => {
    const { sim, cluster, c } = await bed(12, { master: { ttlCheckIntervalMs: 100 } });
    await sim.settle(c().writeFile('/short', bytes(100, 1)));
    const cached = await sim.settle(c().writeFile('/cached', bytes(5000, 2)));
    await sim.settle(c().setAttribute('/short', { ttl: 2000, ttlAction: 'DELETE' }));
    await sim.settle(c().setAttribute('/cached', { ttl: 2000, ttlAction: 'FREE' }));
    expect((await sim.settle(c().getStatus('/short'))).ttl).toBe(2000);
    await sim.run({ until: sim.now + 500 });
    expect(await sim.settle(c().exists('/short'))).toBe(true);
    await sim.run({ until: sim.now + 3000 });
    expect(await sim.settle(c().exists('/short'))).toBe(false);
    expect(await cluster.ufsDisk('sim://ufs').stat('short')).toBeNull();
    const after = await sim.settle(c().getStatus('/cached'));
    expect(after.ttl).toBeUndefined();
    expect(cluster.actor<WorkerActor>('worker-0').store.has(blockIdOf(cached.fileId))).toBe(false);
    expect(Buffer.from(await sim.settle(c().readFile('/cached'))).equals(Buffer.from(bytes(5000, 2)))).toBe(true);
  });
});

describe('ASYNC_THROUGH', () => {
  it('is cached at once and persisted to the UFS soon after; a delete before that leaves nothing behind', async () => {
    const { sim, cluster, c } = await bed(13, { master: { persistCheckIntervalMs: 200 } });
    const ufs = cluster.ufsDisk('sim://ufs');
    const data = bytes(9000, 3);
    const f = await sim.settle(c().writeFile('/async', data, { writeType: 'ASYNC_THROUGH' }));
    expect(f.persisted).toBe(false);
    expect(await ufs.stat('async')).toBeNull();
    await sim.settle(c().writeFile('/doomed', data, { writeType: 'ASYNC_THROUGH' }));
    await sim.settle(c().delete('/doomed'));
    await sim.run({ until: sim.now + 2000 });
    expect((await sim.settle(c().getStatus('/async'))).persisted).toBe(true);
    expect(Buffer.from(await ufs.readFile('async')).equals(Buffer.from(data))).toBe(true);
    expect((await ufs.list('')).filter((n) => n.startsWith('doomed'))).toEqual([]);
    // Persisted: it survives losing the only worker's copy.
    await sim.settle(c().free('/async'));
    await sim.run({ until: sim.now + 500 });
    expect(Buffer.from(await sim.settle(c().readFile('/async'))).equals(Buffer.from(data))).toBe(true);
  });
});

describe('durable replication', () => {
  it('an ASYNC_THROUGH write with replication.durable = 2 survives losing one worker before it is persisted', async () => {
    const { sim, cluster, c } = await bed(14, { master: { persistCheckIntervalMs: 600_000 }, workers: ['worker-0', 'worker-1'], client: { durableReplication: 2, writeType: 'ASYNC_THROUGH' } });
    const data = bytes(9000, 4);
    const f = await sim.settle(c().writeFile('/twice', data));
    expect(f.persisted).toBe(false);
    const info = await sim.settle(c().getStatus('/twice'));
    expect(info.blocks.every((b) => b.locations.length === 2)).toBe(true);
    cluster.crash('worker-0');
    expect(Buffer.from(await sim.settle(c().readFile('/twice'))).equals(Buffer.from(data))).toBe(true);
  });
});
