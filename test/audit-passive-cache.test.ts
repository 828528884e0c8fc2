// Passive caching: a client that has a block streamed from a worker on another
// host gets a copy onto the worker on its own host, fetched from the holder (not
// from the UFS), so its next read is short-circuit. Not for NO_CACHE reads, not
// with strata.user.file.passive.cache.enabled off, and unpersisted (MUST_CACHE)
// blocks are copied too.
import { describe, expect, it } from 'vitest';
import { StrataClient, type ClientOptions } from '../actors/client/client.js';
import { MASTER_ID, MasterActor } from '../actors/master/master.js';
import { WorkerActor } from '../actors/worker/worker.js';
import { createSimBed } from '../sim/scenario.js';
import { bytes, clientOpts, masterOpts, workerOpts } from './data-bed.js';
import { blockIdOf } from '../actors/block-id.js';


async function bed() {
  const b = createSimBed(48, { network: 'quiet' });
  const { cluster, sim } = b;
  cluster.addNode(MASTER_ID, (env) => new MasterActor(env, masterOpts));
  // worker-0 and the readers share a machine; worker-1 is elsewhere, and the writer puts everything there.
  cluster.addNode('worker-0', (env) => new WorkerActor(env, { ...workerOpts, address: 'sim://worker-0' }), { host: 'worker-0' });
  cluster.addNode('worker-1', (env) => new WorkerActor(env, { ...workerOpts, address: 'sim://worker-1' }));
  const reader = (passiveCache: boolean): ClientOptions => ({ ...clientOpts, passiveCache });
  cluster.addNode('writer', (env) => new StrataClient(env, { ...clientOpts, locationPolicy: 'SpecificHost', specificHost: 'worker-1' }));
  cluster.addNode('reader', (env) => new StrataClient(env, reader(true)), { host: 'worker-0' });
  cluster.addNode('reader-off', (env) => new StrataClient(env, reader(false)), { host: 'worker-0' });
  await sim.settle(Promise.all([MASTER_ID, 'worker-0', 'worker-1', 'writer', 'reader', 'reader-off'].map((id) => cluster.start(id))));
  await sim.run({ until: sim.now + 1000 });
  const c = (id: string) => cluster.actor<StrataClient>(id);
  const w0 = () => cluster.actor<WorkerActor>('worker-0');
  const settle = () => sim.run({ until: sim.now + 1000 });
  return { ...b, c, w0, settle };
}

describe('passive caching', () => {
  it('copies blocks read from another host to the worker on this host, from the holder; the next read is local', async () => {
    const { sim, c, w0, settle } = await bed();
    const data = bytes(10_000, 1);
    const persisted = await sim.settle(c('writer').writeFile('/p', data, { writeType: 'CACHE_THROUGH' }));
    const unpersisted = await sim.settle(c('writer').writeFile('/u', bytes(5000, 2), { writeType: 'MUST_CACHE' }));
    await settle();
    expect(w0().store.has(blockIdOf(persisted.fileId))).toBe(false);

    // Off, or NO_CACHE: nothing is copied.
    await sim.settle(c('reader-off').readFile('/p'));
    await sim.settle(c('reader').readFile('/p', 'NO_CACHE'));
    await settle();
    expect(w0().store.has(blockIdOf(persisted.fileId))).toBe(false);

    const ufsReads = w0().counters.ufsBlockReads;
    expect(Buffer.from(await sim.settle(c('reader').readFile('/p'))).equals(Buffer.from(data))).toBe(true);
    await settle();
    await sim.settle(c('reader').readFile('/u'));
    await settle();
    for (const i of [0, 1, 2]) expect(w0().store.has(blockIdOf(persisted.fileId, i)), `block ${i} of /p`).toBe(true);
    for (const i of [0, 1]) expect(w0().store.has(blockIdOf(unpersisted.fileId, i)), `block ${i} of /u`).toBe(true);
    expect(w0().counters.ufsBlockReads).toBe(ufsReads);
    expect(w0().jobs.counters.blocksCachedPassively).toBe(5);

    // The master knows the new copies, and the next read on this host is short-circuit.
    const before = c('reader').counters.bytesReadShortCircuit;
    expect((await sim.settle(c('reader').getStatus('/p'))).blocks.every((b) => b.locations.some((l) => l.workerId === 'worker-0'))).toBe(true);
    expect(Buffer.from(await sim.settle(c('reader').readFile('/p'))).equals(Buffer.from(data))).toBe(true);
    expect(c('reader').counters.bytesReadShortCircuit - before).toBe(data.byteLength);
  });
});
