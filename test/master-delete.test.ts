// fs rm flags: a delete first checks that the UFS holds nothing strata does not
// know under the path (-U skips that), and --strataOnly leaves the UFS alone.
import { describe, expect, it } from 'vitest';
import { namespaceBed } from './master-sim-bed.js';

const bed = () => namespaceBed(7, { 'd/a.txt': 10, 'd/sub/b.txt': 20 }, { never: {}, always: { syncIntervalMs: 0 } });

describe('delete flags', () => {
  it('a checked delete refuses a tree the UFS has more in than strata knows; -U deletes it anyway', async () => {
    const { ufs, as, run } = await bed();
    const c = as('never');
    expect((await run(c.listStatus('/d/sub'))).map((f) => f.name)).toEqual(['b.txt']);
    await ufs.writeFile('d/sub/unseen.txt', new Uint8Array(1));
    await expect(run(c.delete('/d', true))).rejects.toMatchObject({ code: 'FAILED_PRECONDITION', message: expect.stringContaining('/d/sub/unseen.txt') });
    // Nothing was lost: strata and the UFS still hold everything.
    expect((await run(c.getStatus('/d/sub/b.txt'))).length).toBe(20);
    expect(await ufs.stat('d/sub/unseen.txt')).not.toBeNull();
    // A file alone is always in sync with itself.
    await run(c.delete('/d/a.txt'));
    expect(await ufs.stat('d/a.txt')).toBeNull();
    await run(c.delete('/d', true, { unchecked: true }));
    await expect(run(c.getStatus('/d'))).rejects.toMatchObject({ code: 'NOT_FOUND' });
    expect(await ufs.stat('d')).toBeNull();
  });

  it('a checked delete passes once strata has loaded what the UFS holds', async () => {
    const { ufs, as, run } = await bed();
    await run(as('never').listStatus('/d/sub'));
    await ufs.writeFile('d/sub/unseen.txt', new Uint8Array(1));
    await run(as('never').loadMetadata('/d', true));
    await run(as('never').delete('/d', true));
    expect(await ufs.stat('d')).toBeNull();
  });

  it('--strataOnly removes from the namespace only; a sync brings it back', async () => {
    const { ufs, as, run } = await bed();
    const c = as('never');
    const before = await run(c.getStatus('/d/a.txt'));
    await run(c.delete('/d/a.txt', false, { strataOnly: true }));
    expect(await ufs.stat('d/a.txt')).toMatchObject({ size: 10 });
    await expect(run(c.getStatus('/d/a.txt'))).rejects.toMatchObject({ code: 'NOT_FOUND' });
    expect((await run(c.listStatus('/d'))).map((f) => f.name)).toEqual(['sub']);
    // A directory too, with what is below it, even though the UFS holds more there than strata knows.
    await ufs.writeFile('d/sub/unseen.txt', new Uint8Array(1));
    await run(c.delete('/d/sub', true, { strataOnly: true }));
    expect(await ufs.stat('d/sub/b.txt')).toMatchObject({ size: 20 });
    expect(await ufs.stat('d/sub/unseen.txt')).not.toBeNull();
    // The next sync finds both again, the file as a new inode.
    const back = await run(as('always').getStatus('/d/a.txt'));
    expect(back.length).toBe(10);
    expect(back.fileId).not.toBe(before.fileId);
    expect((await run(as('always').listStatus('/d/sub'))).map((f) => f.name)).toEqual(['b.txt', 'unseen.txt']);
  });
});
