// Eviction never loses data that exists nowhere else. Before this was enforced, a
// MUST_CACHE write larger than a worker's MEM tier evicted its own earlier blocks:
// the write was acknowledged and reads then failed ("not persisted and no live
// worker holds it").
import { describe, expect, it } from 'vitest';
import { StrataError } from '../actors/protocol/envelope.js';
import type { WorkerActor, WorkerOptions } from '../actors/worker/worker.js';
import { bed, bytes, workerOpts } from './data-bed.js';
import { blockIdOf } from '../actors/block-id.js';

const BLOCK = 4096;
/** A MEM tier of eight blocks. */
const small: Partial<WorkerOptions> = {
  tiers: { ...workerOpts.tiers, levels: [{ alias: 'MEM', dirs: [{ path: 'tiers/mem', quotaBytes: 8 * BLOCK, mediumType: 'MEM' }] }] },
};
const same = (a: Uint8Array, b: Uint8Array) => Buffer.from(a).equals(Buffer.from(b));

async function failure(p: Promise<unknown>): Promise<StrataError> {
  const e = await p.then(() => undefined, (x: unknown) => x);
  if (!(e instanceof StrataError)) throw new Error(`expected a StrataError, got ${String(e)}`);
  return e;
}

describe('eviction and unpersisted data', () => {
  it('a MUST_CACHE write larger than the only worker fails with RESOURCE_EXHAUSTED instead of evicting its own blocks', async () => {
    const { sim, cluster, c } = await bed(41, { worker: small });
    const w = () => cluster.actor<WorkerActor>('worker-0');
    const big = bytes(20 * BLOCK, 5);
    const e = await failure(sim.settle(c().writeFile('/big', big, { writeType: 'MUST_CACHE' })));
    expect(e.code).toBe('RESOURCE_EXHAUSTED');
    expect(e.message).toMatch(/worker-0/);
    expect(e.message).toMatch(/MEM 32768\/32768 bytes used/);
    // Nothing acknowledged: the file never completed, and the refused blocks were given back.
    expect((await sim.settle(c().getStatus('/big'))).completed).toBe(false);
    await sim.run({ until: sim.now + 500 });
    expect(w().store.usedBytes()).toBe(0);
    expect(w().counters.blocksEvicted).toBe(0);
    // A file that fits is written and read back whole.
    const fits = bytes(8 * BLOCK, 6);
    await sim.settle(c().writeFile('/fits', fits, { writeType: 'MUST_CACHE' }));
    expect(same(await sim.settle(c().readFile('/fits')), fits)).toBe(true);
  });

  it('a later MUST_CACHE write never evicts an earlier unpersisted file; one that cannot fit is refused', async () => {
    const { sim, cluster, c } = await bed(42, { worker: small });
    const a = bytes(6 * BLOCK, 1);
    await sim.settle(c().writeFile('/a', a, { writeType: 'MUST_CACHE' }));
    await sim.run({ until: sim.now + 1000 });
    const e = await failure(sim.settle(c().writeFile('/b', bytes(6 * BLOCK, 2), { writeType: 'MUST_CACHE' })));
    expect(e.code).toBe('RESOURCE_EXHAUSTED');
    expect(same(await sim.settle(c().readFile('/a')), a)).toBe(true);
    expect(cluster.actor<WorkerActor>('worker-0').counters.blocksEvicted).toBe(0);
    // CACHE_THROUGH data is in the UFS: it only caches what fits, and the write succeeds.
    const t = bytes(6 * BLOCK, 3);
    await sim.settle(c().writeFile('/through', t, { writeType: 'CACHE_THROUGH' }));
    expect(same(await sim.settle(c().readFile('/through')), t)).toBe(true);
    expect(same(await sim.settle(c().readFile('/a')), a)).toBe(true);
  });

  it('a refused write starts over on the next worker the location policy picks', async () => {
    const { sim, cluster, c } = await bed(43, { worker: small, workers: ['worker-0', 'worker-1'], client: { localHosts: ['worker-0'] } });
    const a = bytes(5 * BLOCK, 1);
    const b = bytes(5 * BLOCK, 2);
    await sim.settle(c().writeFile('/a', a, { writeType: 'MUST_CACHE' }));
    // LocalFirst prefers worker-0, which still reports room for a block but not for five.
    const fb = await sim.settle(c().writeFile('/b', b, { writeType: 'MUST_CACHE' }));
    const fa = await sim.settle(c().getStatus('/a'));
    expect(cluster.actor<WorkerActor>('worker-0').store.has(blockIdOf(fa.fileId))).toBe(true);
    expect(cluster.actor<WorkerActor>('worker-1').store.has(blockIdOf(fb.fileId))).toBe(true);
    await sim.run({ until: sim.now + 500 });
    // The refused attempt left nothing on worker-0.
    expect(cluster.actor<WorkerActor>('worker-0').store.has(blockIdOf(fb.fileId))).toBe(false);
    expect(same(await sim.settle(c().readFile('/a')), a)).toBe(true);
    expect(same(await sim.settle(c().readFile('/b')), b)).toBe(true);
    // With both workers refusing, one clear error names them.
    const e = await failure(sim.settle(c().writeFile('/c', bytes(5 * BLOCK, 3), { writeType: 'MUST_CACHE' })));
    expect(e.code).toBe('RESOURCE_EXHAUSTED');
    expect(e.message).toMatch(/refused by worker-0, worker-1|refused by worker-1, worker-0/);
  });

  it('blocks become evictable once the master records their file as persisted (ASYNC_THROUGH)', async () => {
    const { sim, cluster, c } = await bed(44, { worker: small, master: { persistCheckIntervalMs: 200 } });
    const w = () => cluster.actor<WorkerActor>('worker-0');
    const data = bytes(6 * BLOCK, 4);
    const f = await sim.settle(c().writeFile('/async', data, { writeType: 'ASYNC_THROUGH' }));
    const first = blockIdOf(f.fileId);
    expect(w().store.isPersisted(first)).toBe(false);
    await sim.run({ until: sim.now + 3000 });
    expect((await sim.settle(c().getStatus('/async'))).persisted).toBe(true);
    expect(w().store.unpersistedBlockIds()).toEqual([]);
    // Now a MUST_CACHE file may push the persisted one out; it reads back from the UFS.
    const m = bytes(6 * BLOCK, 5);
    await sim.settle(c().writeFile('/must', m, { writeType: 'MUST_CACHE' }));
    expect(w().counters.blocksEvicted).toBeGreaterThan(0);
    expect(w().store.has(first)).toBe(false);
    expect(same(await sim.settle(c().readFile('/async')), data)).toBe(true);
    expect(same(await sim.settle(c().readFile('/must')), m)).toBe(true);
  });

  it('a restarted worker keeps recovered MUST_CACHE blocks until the master says otherwise', async () => {
    const { sim, cluster, c } = await bed(45, { worker: small });
    const a = bytes(6 * BLOCK, 7);
    await sim.settle(c().writeFile('/a', a, { writeType: 'MUST_CACHE' }));
    cluster.crash('worker-0');
    await sim.settle(cluster.start('worker-0'));
    await sim.run({ until: sim.now + 1000 });
    expect(cluster.actor<WorkerActor>('worker-0').store.unpersistedBlockIds().length).toBe(6);
    await failure(sim.settle(c().writeFile('/b', bytes(6 * BLOCK, 8), { writeType: 'MUST_CACHE' })));
    expect(same(await sim.settle(c().readFile('/a')), a)).toBe(true);
  });
});
