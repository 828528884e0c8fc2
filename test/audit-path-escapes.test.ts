// strata paths that try to leave the namespace or a mount's UFS root are refused at
// the master, whoever sends them: '.' and '..' components, encoded separators
// (%2F, %5C), backslashes and NUL. Nothing reaches the UFS. And UFS entries whose
// names would read as such paths are not loaded.
import { describe, expect, it } from 'vitest';
import { MASTER_ID } from '../actors/master/master.js';
import { Raw, bed, bytes } from './data-bed.js';

const BAD = ['/d/../../etc', '/d/./x', '/..', '/d/..%2F..%2Fetc', '/d/%2e%2e%2fx', '/d/a%5Cb', '/d/a\\b', '/d/a\u0000b', 'relative/x'];

describe('path escapes', () => {
  it('the master refuses every form of escaping path with INVALID_ARGUMENT and touches no UFS', async () => {
    const { sim, cluster, c } = await bed(43, { others: [['raw', (env) => new Raw(env)]] });
    const ufs = cluster.ufsDisk('sim://ufs');
    await sim.settle(c().mkdir('/d', true));
    const raw = cluster.actor<Raw>('raw');
    for (const path of BAD) {
      for (const m of [
        { t: 'GetStatus', path },
        { t: 'CreateDirectory', path, recursive: true },
        { t: 'CreateFile', path, overwrite: true },
        { t: 'Delete', path, recursive: true },
        { t: 'Rename', src: '/d', dst: path },
      ]) {
        expect(`${m.t} ${JSON.stringify(path)}: ${await sim.settle(raw.refusal(MASTER_ID, m))}`).toBe(`${m.t} ${JSON.stringify(path)}: INVALID_ARGUMENT`);
      }
    }
    expect((await ufs.list('')).sort()).toEqual(['d']);
    expect(await ufs.list('d')).toEqual([]);
  });

  it('UFS entries named like escapes are not loaded into the namespace', async () => {
    const { sim, cluster, c } = await bed(44);
    const ufs = cluster.ufsDisk('sim://ufs');
    for (const name of ['ok.txt', 'a%2Fb', '..%2fx', 'c%5Cd']) await ufs.writeFile(`u/${name}`, bytes(10, 1));
    expect((await sim.settle(c().listStatus('/u'))).map((f) => f.name)).toEqual(['ok.txt']);
  });
});
