// `strata fs rm` flags against an in-process cluster on a local directory UFS:
// -U skips the check that the UFS holds nothing strata has not loaded, and
// --strataOnly leaves the UFS file (a later metadata load brings it back).
// Also: a write through to the local UFS is published by rename, leaving no
// temporary file.
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Conf, K } from '../actors/conf.js';
import type { NodeHost } from '../actors/node/nact-host.js';
import { isStrataError } from '../actors/protocol/envelope.js';
import { withClient } from '../cli/cluster.js';
import { registerFsCommands } from '../cli/fs-commands.js';
import { cliRunner, startCliCluster, stopCliCluster } from './helpers/cli-cluster.js';
import { freePort } from './helpers/processes.js';

let dir: string;
let conf: Conf;
const hosts: NodeHost[] = [];

/** Runs one `strata ...` command line in this process; returns what it printed. */
const strata = cliRunner((program, out) => registerFsCommands(program.command('fs'), () => conf, out));

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'strata-rmcli-'));
  conf = new Conf().with({
    [K.workDir]: dir, [K.masterRpcPort]: String(await freePort()), [K.workerRpcPort]: '0', [K.workerHeartbeatInterval]: '100ms',
    [K.userBlockSize]: '64KB', [K.logLevel]: 'error', [K.rpcTimeout]: '5s',
  });
  mkdirSync(join(dir, 'ufs', 'd', 'sub'), { recursive: true });
  writeFileSync(join(dir, 'ufs', 'd', 'a.txt'), 'aaaa');
  writeFileSync(join(dir, 'ufs', 'd', 'sub', 'b.txt'), 'bbbbbb');
  hosts.push(...(await startCliCluster(conf, 1)));
}, 30_000);

afterAll(() => stopCliCluster(hosts, dir));

describe('fs rm flags', () => {
  it('--strataOnly removes from strata only; loadMetadata brings it back', async () => {
    await strata('fs', 'ls', '-R', '/d');
    expect(await strata('fs', 'rm', '--strataOnly', '/d/a.txt')).toEqual(['/d/a.txt has been removed from strata only']);
    expect(readFileSync(join(dir, 'ufs', 'd', 'a.txt'), 'utf8')).toBe('aaaa');
    expect(await withClient(conf, (c) => c.exists('/d/a.txt'))).toBe(false);
    await strata('fs', 'loadMetadata', '/d');
    expect((await withClient(conf, (c) => c.getStatus('/d/a.txt'))).length).toBe(4);
  });

  it('rm -R refuses a tree the UFS holds more in than strata knows; -U removes it', async () => {
    await strata('fs', 'ls', '-R', '/d');
    writeFileSync(join(dir, 'ufs', 'd', 'sub', 'unseen.txt'), 'x');
    const e = await strata('fs', 'rm', '-R', '/d').then(() => undefined, (err: unknown) => err);
    expect(isStrataError(e, 'FAILED_PRECONDITION')).toBe(true);
    expect((e as Error).message).toContain('/d/sub/unseen.txt');
    expect(existsSync(join(dir, 'ufs', 'd', 'sub', 'b.txt'))).toBe(true);
    expect(await strata('fs', 'rm', '-R', '-U', '/d')).toEqual(['/d has been removed']);
    expect(existsSync(join(dir, 'ufs', 'd'))).toBe(false);
  });
});

describe('publishing to a local UFS', () => {
  it('a THROUGH rewrite lands whole under its own name, with no temporary file left', async () => {
    await withClient(conf, (c) => c.writeFile('/w/f.bin', Buffer.alloc(200_000, 1), { writeType: 'THROUGH' }));
    const info = await withClient(conf, (c) => c.writeFile('/w/f.bin', Buffer.alloc(200_000, 2), { writeType: 'CACHE_THROUGH', overwrite: true }));
    expect(readdirSync(join(dir, 'ufs', 'w'))).toEqual(['f.bin']);
    expect(readFileSync(join(dir, 'ufs', 'w', 'f.bin')).equals(Buffer.alloc(200_000, 2))).toBe(true);
    expect(info.length).toBe(200_000);
    expect(Buffer.from(await withClient(conf, (c) => c.readFile('/w/f.bin', 'NO_CACHE'))).equals(Buffer.alloc(200_000, 2))).toBe(true);
  });
});
