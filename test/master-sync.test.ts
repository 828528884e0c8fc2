// Metadata sync: with strata.user.file.metadata.sync.interval a file changed,
// added or removed in the UFS behind strata's back is noticed (a changed file gets
// a new inode, so no stale block can serve it); -1 keeps what was loaded once;
// checkConsistency reports and repairs; loadMetadata re-reads on demand.
import { describe, expect, it } from 'vitest';
import { namespaceBed } from './master-sim-bed.js';

const bed = () => namespaceBed(5, { 'd/a.txt': 100, 'd/gone.txt': 5 }, { always: { syncIntervalMs: 0 }, never: {}, second: { syncIntervalMs: 1000 } });

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
