// `fs mount --shared` (Alluxio's shared mount): what is loaded from that UFS gives
// other users the access its owner has, so users other than the one who mounted
// it can write there; an ordinary mount keeps them out. Journaled: a restarted
// master replays the same modes.
import { describe, expect, it } from 'vitest';
import { StrataClient, type ClientOptions } from '../actors/client/client.js';
import { MASTER_ID, MasterActor, type MasterOptions } from '../actors/master/master.js';
import { createSimBed } from '../sim/scenario.js';

const masterOpts: MasterOptions = {
  rootUfs: 'sim://root', blockSize: 1024, workerTimeoutMs: 3000, rpcTimeoutMs: 2000, journalDir: 'journal',
  permissions: { superuser: 'root', supergroup: 'admins', umask: 0o022 },
};
const base: ClientOptions = { masterId: MASTER_ID, rpcTimeoutMs: 1000, chunkSize: 256, readWindow: 4, blockSize: 1024, writeType: 'CACHE_THROUGH', readType: 'CACHE', retryForMs: 0 };

describe('shared mounts', () => {
  it('give others the owner\'s access to what is loaded from the UFS; an ordinary mount does not', async () => {
    const b = createSimBed(45, { network: 'quiet' });
    for (const lake of ['sim://shared', 'sim://private']) await b.cluster.ufsDisk(lake).writeFile('events/day1.log', new Uint8Array(100));
    b.cluster.addNode(MASTER_ID, (env) => new MasterActor(env, masterOpts));
    for (const user of ['root', 'bob']) b.cluster.addNode(user, (env) => new StrataClient(env, { ...base, user, groups: [user] }));
    await b.sim.settle(Promise.all([MASTER_ID, 'root', 'bob'].map((id) => b.cluster.start(id))));
    const as = (user: string) => b.cluster.actor<StrataClient>(user);
    const run = <T>(p: Promise<T>) => b.sim.settle(p);

    await run(as('root').mount('/shared', 'sim://shared', { shared: true }));
    await run(as('root').mount('/private', 'sim://private'));
    const mode = async (p: string) => (await run(as('root').getStatus(p))).mode;
    expect([await mode('/shared/events'), await mode('/shared/events/day1.log')]).toEqual([0o757, 0o646]);
    expect([await mode('/private/events'), await mode('/private/events/day1.log')]).toEqual([0o755, 0o644]);
    await run(as('bob').mkdir('/shared/events/bobs', false));
    await expect(run(as('bob').mkdir('/private/events/bobs', false))).rejects.toMatchObject({ code: 'PERMISSION_DENIED' });
    expect((await b.cluster.ufsDisk('sim://shared').stat('events/bobs'))?.isDir).toBe(true);
    expect(await b.cluster.ufsDisk('sim://private').stat('events/bobs')).toBeNull();

    // Replayed from the journal after a restart, with the same modes.
    b.cluster.crash(MASTER_ID);
    await b.sim.settle(b.cluster.start(MASTER_ID));
    expect([await mode('/shared/events'), await mode('/shared/events/day1.log'), await mode('/private/events')]).toEqual([0o757, 0o646, 0o755]);
  });
});
