// A real master process with the ROCKS metastore (classic-level on disk): the
// namespace survives SIGKILL and a clean restart, rebuilt from the journal, and
// load type NEVER keeps a client from seeing what only the UFS holds.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { freePort, killAll, runCli, startCli, waitFor, type Proc } from './helpers/processes.js';

const dir = mkdtempSync(join(tmpdir(), 'strata-it-metastore-'));

afterAll(async () => {
  await killAll();
  rmSync(dir, { recursive: true, force: true });
});

describe('a master on the ROCKS metastore', () => {
  it('keeps its namespace across SIGKILL and restart, and honours the load type', async () => {
    const port = await freePort();
    const conf = Object.entries({
      'strata.work.dir': join(dir, 'data'),
      'strata.master.rpc.port': String(port),
      'strata.master.metastore': 'ROCKS',
      'strata.master.metastore.inode.cache.max.size': '20',
      'strata.user.rpc.timeout': '3s',
      'strata.logger.level': 'warn',
    }).flatMap(([k, v]) => ['--conf', `${k}=${v}`]);
    mkdirSync(join(dir, 'data', 'ufs', 'outside'), { recursive: true });
    writeFileSync(join(dir, 'data', 'ufs', 'outside', 'x.txt'), 'behind strata\'s back\n');
    const start = async (): Promise<Proc> => {
      const m = startCli(['master', ...conf], dir);
      await waitFor('master to listen', async () => m.output().includes('listening'));
      return m;
    };
    const ls = async (path: string, extra: string[] = []) => {
      const r = await runCli(['fs', 'ls', path, ...conf, ...extra], dir);
      expect(r.code, r.stderr).toBe(0);
      return r.stdout.toString().trim().split('\n').filter(Boolean).map((l) => l.split(/\s+/).pop()!);
    };
    let master = await start();
    const never = ['--conf', 'strata.user.file.metadata.load.type=NEVER'];
    expect(await ls('/', never)).toEqual([]);
    for (let i = 0; i < 30; i++) expect((await runCli(['fs', 'mkdir', `/d/e${i}`, ...conf], dir)).code).toBe(0);
    expect((await runCli(['fs', 'mv', '/d/e3', '/d/moved', ...conf], dir)).code).toBe(0);
    const before = await ls('/d');
    expect(before).toHaveLength(30);
    expect(before).toContain('/d/moved');
    await master.kill('SIGKILL');
    master = await start();
    expect(await ls('/d')).toEqual(before);
    expect(await ls('/outside')).toEqual(['/outside/x.txt']);
    await master.kill('SIGTERM');
    master = await start();
    expect(await ls('/d')).toEqual(before);
    expect(await ls('/', never)).toEqual(['/d', '/outside']);
  }, 120_000);
});
