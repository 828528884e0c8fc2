// Metadata sync: with strata.user.file.metadata.sync.interval a file changed,
// added or removed in the UFS behind strata's back is noticed (a changed file gets
// a new inode, so no stale block can serve it); -1 keeps what was loaded once;
// checkConsistency reports and repairs; loadMetadata re-reads on demand.
import { describe, expect, it } from 'vitest';
import { StrataClient, type ClientOptions } from '../actors/client/client.js';
import { MASTER_ID, MasterActor, type MasterOptions } from '../actors/master/master.js';
import { createSimBed } from '../sim/scenario.js';

const masterOpts: MasterOptions = { rootUfs: 'sim://ufs', blockSize: 1024, workerTimeoutMs: 3000, rpcTimeoutMs: 2000, journalDir: 'journal' };
const base: ClientOptions = { masterId: MASTER_ID, rpcTimeoutMs: 1000, chunkSize: 256, readWindow: 4, blockSize: 1024, writeType: 'CACHE_THROUGH', readType: 'CACHE', user: 'strata', retryForMs: 0 };

async function bed() {
  const b = createSimBed(5, { network: 'quiet' });
  const ufs = b.cluster.ufsDisk('sim://ufs');
  await ufs.writeFile('d/a.txt', new Uint8Array(100));
  await ufs.writeFile('d/gone.txt', new Uint8Array(5));
  b.cluster.addNode(MASTER_ID, (env) => new MasterActor(env, masterOpts));
  b.cluster.addNode('always', (env) => new StrataClient(env, { ...base, syncIntervalMs: 0 }));
  b.cluster.addNode('never', (env) => new StrataClient(env, base));
  b.cluster.addNode('second', (env) => new StrataClient(env, { ...base, syncIntervalMs: 1000 }));
  await b.sim.settle(Promise.all([MASTER_ID, 'always', 'never', 'second'].map((id) => b.cluster.start(id))));
  const as = (id: string) => b.cluster.actor<StrataClient>(id);
  const run = <T>(p: Promise<T>) => b.sim.settle(p);
  return { ...b, ufs, as, run };
}

describe('metadata sync', () => {
  it('notices changed, new and removed files when the interval says so', async () => {
    const { ufs, as, run, sim } = await bed();
    const before = await run(as('never').getStatus('/d/a.txt'));
    expect((await run(as('never').listStatus('/d'))).map((f) => f.name)).toEqual(['a.txt', 'gone.txt']);
    sim.schedule(10, 'scenario', 'tick', () => undefined);
    await sim.run({ until: sim.now + 10 });
    await ufs.writeFile('d/a.txt', new Uint8Array(300));
    await ufs.writeFile('d/new.txt', new Uint8Array(7));
    await ufs.remove('d/gone.txt');
    // -1: what was loaded stays.
    expect((await run(as('never').getStatus('/d/a.txt'))).length).toBe(100);
    // An interval not yet passed: still the old view.
    expect((await run(as('second').getStatus('/d/a.txt'))).length).toBe(100);
    // 0: the change is seen, as a new inode (new block ids).
    const after = await run(as('always').getStatus('/d/a.txt'));
    expect(after.length).toBe(300);
    expect(after.fileId).not.toBe(before.fileId);
    expect((await run(as('always').listStatus('/d'))).map((f) => f.name)).toEqual(['a.txt', 'new.txt']);
    await expect(run(as('always').getStatus('/d/gone.txt'))).rejects.toMatchObject({ code: 'NOT_FOUND' });
  });

  it('syncs every due directory on the path, not just the parent', async () => {
    const { ufs, as, run, sim } = await bed();
    await ufs.writeFile('d/sub/x.txt', new Uint8Array(1));
    // Everything down to /d/sub is loaded, by each client.
    for (const id of ['always', 'second']) expect((await run(as(id).listStatus('/d/sub'))).map((f) => f.name)).toEqual(['x.txt']);
    await ufs.writeFile('d/new/deeper/f.txt', new Uint8Array(3));
    await ufs.writeFile('d/sub/more/g.txt', new Uint8Array(4));
    await ufs.writeFile('top/h.txt', new Uint8Array(5));
    // Within the interval nothing on the path is re-read.
    await expect(run(as('second').getStatus('/d/new/deeper/f.txt'))).rejects.toMatchObject({ code: 'NOT_FOUND' });
    // Always: each directory on the way (/, /d, /d/sub) is re-read, whatever depth the new entry starts at.
    expect((await run(as('always').getStatus('/d/new/deeper/f.txt'))).length).toBe(3);
    expect((await run(as('always').getStatus('/d/sub/more/g.txt'))).length).toBe(4);
    expect((await run(as('always').listStatus('/top'))).map((f) => f.name)).toEqual(['h.txt']);
    // Gone from the UFS two levels down: a sync of the directory holding it drops it.
    await ufs.remove('d/sub/more/g.txt');
    await expect(run(as('always').getStatus('/d/sub/more/g.txt'))).rejects.toMatchObject({ code: 'NOT_FOUND' });
    // Once the interval has passed, the slower client sees the same.
    sim.schedule(1500, 'scenario', 'tick', () => undefined);
    await sim.run({ until: sim.now + 1500 });
    await ufs.writeFile('d/sub/later/i.txt', new Uint8Array(6));
    expect((await run(as('second').getStatus('/d/sub/later/i.txt'))).length).toBe(6);
  });

  it('checkConsistency reports what differs and repairs it with repair; loadMetadata re-reads', async () => {
    const { ufs, as, run } = await bed();
    await run(as('never').listStatus('/d'));
    await ufs.writeFile('d/a.txt', new Uint8Array(1));
    await ufs.writeFile('d/more.txt', new Uint8Array(1));
    expect(await run(as('never').checkConsistency('/'))).toEqual(['/d/a.txt', '/d/more.txt']);
    expect(await run(as('never').checkConsistency('/d/a.txt'))).toEqual(['/d/a.txt']);
    expect(await run(as('never').checkConsistency('/', true))).toEqual(['/d/a.txt', '/d/more.txt']);
    expect(await run(as('never').checkConsistency('/'))).toEqual([]);
    await ufs.writeFile('d/later.txt', new Uint8Array(1));
    await run(as('never').loadMetadata('/d'));
    expect((await run(as('never').listStatus('/d'))).map((f) => f.name)).toContain('later.txt');
  });
});
