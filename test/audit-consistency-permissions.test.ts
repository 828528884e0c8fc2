// checkConsistency and loadMetadata under permissions: reporting what a directory
// holds needs read on it (as a listing does), repairing needs write on the
// directory that changes, and loading a directory's entries is listing it.
import { describe, expect, it } from 'vitest';
import { usersBed } from './helpers/users-bed.js';

describe('checkConsistency and loadMetadata permissions', () => {
  it('need read to report or load, and write to repair', async () => {
    const b = await usersBed(47, { root: ['root'], alice: ['alice'], bob: ['bob'] }, {
      prepare: (bed) => bed.cluster.ufsDisk('sim://root').writeFile('home/alice/f.txt', new Uint8Array(10)),
    });
    const ufs = b.cluster.ufsDisk('sim://root');
    const { as, run } = b;
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
