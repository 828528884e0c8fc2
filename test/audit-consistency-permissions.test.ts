// checkConsistency and loadMetadata under permissions: reporting what a directory
// holds needs read on it (as a listing does), repairing needs write on the
// directory that changes, and loading a directory's entries is listing it.
import { describe, expect, it } from 'vitest';
import { StrataClient, type ClientOptions } from '../actors/client/client.js';
import { MASTER_ID, MasterActor, type MasterOptions } from '../actors/master/master.js';
import { createSimBed } from '../sim/scenario.js';

const masterOpts: MasterOptions = {
  rootUfs: 'sim://root', blockSize: 1024, workerTimeoutMs: 3000, rpcTimeoutMs: 2000, journalDir: 'journal',
  permissions: { superuser: 'root', supergroup: 'admins', umask: 0o022 },
};
const base: ClientOptions = { masterId: MASTER_ID, rpcTimeoutMs: 1000, chunkSize: 256, readWindow: 4, blockSize: 1024, writeType: 'CACHE_THROUGH', readType: 'CACHE', retryForMs: 0 };

describe('checkConsistency and loadMetadata permissions', () => {
  it('need read to report or load, and write to repair', async () => {
    const b = createSimBed(47, { network: 'quiet' });
    const ufs = b.cluster.ufsDisk('sim://root');
    await ufs.writeFile('home/alice/f.txt', new Uint8Array(10));
    b.cluster.addNode(MASTER_ID, (env) => new MasterActor(env, masterOpts));
    for (const user of ['root', 'alice', 'bob']) b.cluster.addNode(user, (env) => new StrataClient(env, { ...base, user, groups: [user] }));
    await b.sim.settle(Promise.all([MASTER_ID, 'root', 'alice', 'bob'].map((id) => b.cluster.start(id))));
    const as = (user: string) => b.cluster.actor<StrataClient>(user);
    const run = <T>(p: Promise<T>) => b.sim.settle(p);
    const denied = { code: 'PERMISSION_DENIED' };

    expect((await run(as('root').listStatus('/home/alice'))).map((f) => f.name)).toEqual(['f.txt']);
    await run(as('root').setAttribute('/home/alice', { owner: 'alice', group: 'alice', mode: 0o711 }, true));
    await ufs.writeFile('home/alice/new.txt', new Uint8Array(1));
    await ufs.writeFile('home/alice/f.txt', new Uint8Array(20));

    // bob may pass through /home/alice but not list it: no report of what it holds, no load, no repair.
    await expect(run(as('bob').checkConsistency('/home/alice'))).rejects.toMatchObject(denied);
    await expect(run(as('bob').loadMetadata('/home/alice'))).rejects.toMatchObject(denied);
    await run(as('root').setAttribute('/home/alice', { mode: 0o755 }));
    expect(await run(as('bob').checkConsistency('/home/alice'))).toEqual(['/home/alice/f.txt', '/home/alice/new.txt']);
    // Reading is not writing: a repair, of the directory or of one file in it, is refused.
    await expect(run(as('bob').checkConsistency('/home/alice', true))).rejects.toMatchObject(denied);
    await expect(run(as('bob').checkConsistency('/home/alice/f.txt', true))).rejects.toMatchObject(denied);
    expect((await run(as('root').getStatus('/home/alice/f.txt'))).length).toBe(10);
    // The owner repairs.
    expect(await run(as('alice').checkConsistency('/home/alice/f.txt', true))).toEqual(['/home/alice/f.txt']);
    expect((await run(as('alice').getStatus('/home/alice/f.txt'))).length).toBe(20);
  });
});
