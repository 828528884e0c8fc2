// `fs mount --shared` (Alluxio's shared mount): what is loaded from that UFS gives
// other users the access its owner has, so users other than the one who mounted
// it can write there; an ordinary mount keeps them out. Journaled: a restarted
// master replays the same modes.
import { describe, expect, it } from 'vitest';
import { MASTER_ID } from '../actors/master/master.js';
import { usersBed } from './helpers/users-bed.js';

describe('shared mounts', () => {
  it('give others the owner\'s access to what is loaded from the UFS; an ordinary mount does not', async () => {
    const b = await usersBed(45, { root: ['root'], bob: ['bob'] }, {
      prepare: async (bed) => {
        for (const lake of ['sim://shared', 'sim://private']) await bed.cluster.ufsDisk(lake).writeFile('events/day1.log', new Uint8Array(100));
      },
    });
    const { as, run } = b;

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
