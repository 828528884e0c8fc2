// Temporary files strata leaves in the UFS when a crash interrupts a write-through
// or a persist attempt: never imported as files, and removed by the leading master
// when it lists their directory, once older than strata.master.ufs.temp.file.max.age
// and owned by no open write (an incomplete file) or pending persist (a complete,
// unpersisted file).
import { describe, expect, it } from 'vitest';
import { persistTempName } from '../actors/job/persistence.js';
import type { TaskFile } from '../actors/protocol/job.js';
import { tempOwned } from '../actors/master/ufs-temp-sweeper.js';
import { strataTempOf, ufsTempPath } from '../actors/ufs-temp.js';
import { namespaceBed } from './master-sim-bed.js';
import { RawClient } from './helpers/raw-client.js';

const HOUR = 3_600_000;

function taskFile(fileId: number, ufsPath: string): TaskFile {
  return { path: `/${ufsPath}`, fileId, length: 0, blockSize: 1024, persisted: false, ufsMount: 'sim://ufs', ufsPath, mtimeMs: 0 };
}

describe('strata temporary UFS names', () => {
  it('are recognised with the file they belong to, for writes and persist attempts', () => {
    expect(strataTempOf(ufsTempPath('d/a.txt', 12).slice(2))).toEqual({ kind: 'write', fileId: 12 });
    const persist = persistTempName(taskFile(34, 'a.txt'), 'master-1', 3, 'worker-2', 1);
    expect(strataTempOf(persist)).toEqual({ kind: 'persist', fileId: 34 });
    expect(strataTempOf('a.txt')).toBeUndefined();
    expect(strataTempOf('.a.txt.strata-x.tmp')).toBeUndefined();
  });

  it('belong to an incomplete file (a write) or a complete unpersisted one (a persist), nothing else', () => {
    const file = (completed: boolean, persisted: boolean) => ({ isDir: false, completed, persisted });
    const write = { kind: 'write' as const, fileId: 1 };
    const persist = { kind: 'persist' as const, fileId: 1 };
    expect(tempOwned(write, file(false, false))).toBe(true);
    expect(tempOwned(write, file(true, true))).toBe(false);
    expect(tempOwned(write, file(true, false))).toBe(false);
    expect(tempOwned(persist, file(true, false))).toBe(true);
    expect(tempOwned(persist, file(true, true))).toBe(false);
    expect(tempOwned(persist, file(false, false))).toBe(false);
    expect(tempOwned(write, undefined)).toBe(false);
    expect(tempOwned(write, { isDir: true, completed: true, persisted: true })).toBe(false);
  });
});

describe('the leading master sweeping stale UFS temporary files', () => {
  it('removes old ones nothing owns when it lists their directory, keeps owned and young ones, and imports none', async () => {
    const b = await namespaceBed(3, { 'd/a.txt': 10 }, { always: { syncIntervalMs: 0 } });
    b.cluster.addNode('raw', (env) => new RawClient(env));
    await b.run(b.cluster.start('raw'));
    const raw = b.cluster.actor<RawClient>('raw');
    const a = await b.run(b.as('always').getStatus('/d/a.txt'));
    const created = (await b.run(raw.call({ t: 'CreateFile', path: '/d/w.txt', overwrite: false }, 'FileInfoReply'))) as unknown as { info: { fileId: number } };
    const owned = ufsTempPath('d/w.txt', created.info.fileId);
    const orphanWrite = ufsTempPath('d/gone.txt', 9999);
    // A persist attempt of a file that is persisted already: nothing will publish it.
    const orphanPersist = persistTempName(taskFile(a.fileId, 'd/a.txt'), 'master', 1, 'worker-0', 0);
    for (const p of [owned, orphanWrite, orphanPersist]) await b.ufs.writeFile(p, new Uint8Array(3));
    const names = async () => (await b.run(b.as('always').listStatus('/d'))).map((f) => f.name).sort();
    // Young: listed past, kept, and never imported as files.
    expect(await names()).toEqual(['a.txt', 'w.txt']);
    for (const p of [owned, orphanWrite, orphanPersist]) expect(await b.ufs.stat(p)).not.toBeNull();

    b.sim.schedule(HOUR + 1000, 'scenario', 'tick', () => undefined);
    await b.sim.run({ until: b.sim.now + HOUR + 1000 });
    const young = ufsTempPath('d/later.txt', 9998);
    await b.ufs.writeFile(young, new Uint8Array(3));
    expect(await names()).toEqual(['a.txt', 'w.txt']);
    expect(await b.ufs.stat(orphanWrite)).toBeNull();
    expect(await b.ufs.stat(orphanPersist)).toBeNull();
    expect(await b.ufs.stat(owned)).not.toBeNull();
    expect(await b.ufs.stat(young)).not.toBeNull();
    expect(await b.ufs.stat('d/a.txt')).not.toBeNull();
  });
});
