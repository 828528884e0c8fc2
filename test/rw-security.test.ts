// Workers take UFS locations from the master, never from clients: a client that
// names a UFS path in its messages (as the old protocol let it) cannot make a
// worker read, write or persist anything outside the namespace's own files.
import { describe, expect, it } from 'vitest';
import { MASTER_ID } from '../actors/master/master.js';
import type { WorkerActor } from '../actors/worker/worker.js';
import { Raw, bed, bytes } from './data-bed.js';
import { blockIdOf } from '../actors/block-id.js';

describe('UFS locations come from the master', () => {
  it('a client naming UFS paths cannot make a worker read, write or persist them', async () => {
    const { sim, cluster, c } = await bed(31, { others: [['client-raw', (env) => new Raw(env)]] });
    const raw = cluster.actor<Raw>('client-raw');
    const w = () => cluster.actor<WorkerActor>('worker-0');
    const ufs = cluster.ufsDisk('sim://ufs');
    const other = cluster.ufsDisk('sim://other');
    await other.writeFile('secret', bytes(100, 9));
    const done = await sim.settle(c().writeFile('/done', bytes(5000, 1)));
    const hostile = { ufsMount: 'sim://other', ufsPath: 'secret', fileOffset: 0, blockLength: 100, blockSize: 4096 };

    // Reads: block ids of files that do not exist find nothing, whatever path rides along.
    expect(await sim.settle(raw.refusal('worker-0', { t: 'ReadBlock', blockId: blockIdOf(999), offset: 0, length: 100, window: 1, cache: true, ...hostile }))).toBe('NOT_FOUND');
    // Writes: only to a file being written, at the master's path for it.
    expect(await sim.settle(raw.refusal('worker-0', { t: 'WriteOpen', fileId: 999, cache: true, ...hostile }))).toBe('NOT_FOUND');
    expect(await sim.settle(raw.refusal('worker-0', { t: 'WriteOpen', fileId: done.fileId, cache: true, ...hostile }))).toBe('FAILED_PRECONDITION');
    // A cached write for a complete file would poison its blocks: refused too.
    expect(await sim.settle(raw.refusal('worker-0', { t: 'WriteOpen', fileId: done.fileId, cache: true, ufs: false }))).toBe('FAILED_PRECONDITION');
    // Persisting is the leading master's to ask.
    const task = { t: 'RunTask', jobId: 1, taskId: 1, kind: 'persist', user: 'root', files: [{ path: '/done', fileId: done.fileId, length: 5000, blockSize: 4096, persisted: false, ufsMount: 'sim://other', ufsPath: 'secret', mtimeMs: 0 }] };
    expect(await sim.settle(raw.refusal('worker-0', task))).toBe('PERMISSION_DENIED');
    expect(await sim.settle(raw.refusal('worker-0', { t: 'CancelTask', jobId: 1, taskId: 1 }))).toBe('PERMISSION_DENIED');
    // And the master tells UFS locations to registered workers only.
    expect(await sim.settle(raw.refusal(MASTER_ID, { t: 'GetUfsLocation', fileId: done.fileId, write: false }))).toBe('UNAVAILABLE');

    expect(Buffer.from(await other.readFile('secret')).equals(Buffer.from(bytes(100, 9)))).toBe(true);
    expect(await other.list('')).toEqual(['secret']);
    expect(w().counters.ufsBlockReads).toBe(0);
    expect(Buffer.from(await ufs.readFile('done')).equals(Buffer.from(bytes(5000, 1)))).toBe(true);
    // The honest path still works end to end.
    expect(Buffer.from(await sim.settle(c().readFile('/done'))).equals(Buffer.from(bytes(5000, 1)))).toBe(true);
  });

  it('writes land at the path the master chose, under a read-only mount not at all', async () => {
    const { sim, cluster, c } = await bed(32);
    await cluster.ufsDisk('sim://ro').writeFile('old', bytes(10, 1));
    await sim.settle(c().mount('/ro', 'sim://ro', { readOnly: true }));
    await expect(sim.settle(c().writeFile('/ro/new', bytes(10, 2)))).rejects.toMatchObject({ code: 'PERMISSION_DENIED' });
    expect(await cluster.ufsDisk('sim://ro').list('')).toEqual(['old']);
    await sim.settle(c().mkdir('/a/b', true));
    await sim.settle(c().writeFile('/a/b/f', bytes(6000, 3)));
    expect(Buffer.from(await cluster.ufsDisk('sim://ufs').readFile('a/b/f')).equals(Buffer.from(bytes(6000, 3)))).toBe(true);
  });
});
