// Mount URIs that could hide an overlap with a mounted UFS ('.', '..', encoded
// separators) are refused; a read-only mount refuses a rename inside it too.
import { describe, expect, it } from 'vitest';
import { StrataClient, type ClientOptions } from '../actors/client/client.js';
import { MASTER_ID, MasterActor, type MasterOptions } from '../actors/master/master.js';
import { createSimBed } from '../sim/scenario.js';

const masterOpts: MasterOptions = { rootUfs: 'sim://root', blockSize: 1024, workerTimeoutMs: 3000, rpcTimeoutMs: 2000, journalDir: 'journal' };
const clientOpts: ClientOptions = { masterId: MASTER_ID, rpcTimeoutMs: 1000, chunkSize: 256, readWindow: 4, blockSize: 1024, writeType: 'CACHE_THROUGH', readType: 'CACHE', user: 'strata', retryForMs: 0 };

describe('mount URIs and read-only mounts', () => {
  it('refuse URIs with dot segments or encoded separators, and renames under a read-only mount', async () => {
    const b = createSimBed(49, { network: 'quiet' });
    await b.cluster.ufsDisk('sim://lake').writeFile('events/day1.log', new Uint8Array(10));
    b.cluster.addNode(MASTER_ID, (env) => new MasterActor(env, masterOpts));
    b.cluster.addNode('client-0', (env) => new StrataClient(env, clientOpts));
    await b.sim.settle(Promise.all([MASTER_ID, 'client-0'].map((id) => b.cluster.start(id))));
    const c = () => b.cluster.actor<StrataClient>('client-0');
    const run = <T>(p: Promise<T>) => b.sim.settle(p);
    for (const uri of ['sim://lake/../root', 'sim://lake/./events', 'file:///tmp/a/..', 'sim://lake%2F..%2Froot', 'sim://lake/%2e%2e']) {
      await expect(run(c().mount('/m', uri)), uri).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    }
    expect(await run(c().exists('/m'))).toBe(false);
    await run(c().mount('/lake', 'sim://lake', { readOnly: true }));
    await expect(run(c().rename('/lake/events/day1.log', '/lake/events/day2.log'))).rejects.toMatchObject({ code: 'PERMISSION_DENIED' });
    expect(await b.cluster.ufsDisk('sim://lake').list('events')).toEqual(['day1.log']);
  });
});
