// The job service's CLI against an in-process cluster (a master and two workers
// over WebSocket on loopback): every command a user sees, and its errors.
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Conf, K } from '../actors/conf.js';
import type { NodeHost } from '../actors/node/nact-host.js';
import { isStrataError } from '../actors/protocol/envelope.js';
import { withClient } from '../cli/cluster.js';
import { registerJobCommands } from '../cli/job-commands.js';
import { registerOpsCommands } from '../cli/ops-commands.js';
import { cliRunner, startCliCluster, stopCliCluster } from './helpers/cli-cluster.js';
import { freePort } from './helpers/processes.js';

let dir: string;
let conf: Conf;
const hosts: NodeHost[] = [];

/** Runs one `strata ...` command line in this process; returns what it printed. */
const strata = cliRunner((program, out) => {
  registerJobCommands(program.command('fs'), program.command('job'), () => conf, out);
  registerOpsCommands(program, program.command('fsadmin'), () => conf, out);
});

async function fails(args: string[]): Promise<unknown> {
  return strata(...args).then(() => undefined, (e: unknown) => e);
}

beforeAll(async () => {
  // Job commands draw a bar on a terminal; here they must print plain lines, as into a log.
  Object.defineProperty(process.stdout, 'isTTY', { value: false, configurable: true });
  dir = mkdtempSync(join(tmpdir(), 'strata-jobcli-'));
  conf = new Conf().with({
    [K.workDir]: dir, [K.masterRpcPort]: String(await freePort()), [K.workerRpcPort]: '0', [K.workerHeartbeatInterval]: '100ms',
    [K.persistCheckInterval]: '100ms', [K.replicationCheckInterval]: '200ms', [K.userBlockSize]: '64KB', [K.logLevel]: 'error', [K.rpcTimeout]: '5s',
  });
  mkdirSync(join(dir, 'ufs', 'in', 'sub'), { recursive: true });
  for (let i = 0; i < 5; i++) writeFileSync(join(dir, 'ufs', 'in', i % 2 ? 'sub' : '', `f${i}`), Buffer.alloc(10_000 + i * 70_000, i + 1));
  // Both workers registered before the first job.
  hosts.push(...(await startCliCluster(conf, 2)));
}, 30_000);

afterAll(() => stopCliCluster(hosts, dir));

describe('strata job and job-backed fs commands', () => {
  it('fs distributedLoad waits and reports files and bytes; job ls and job stat show it', async () => {
    const out = await strata('fs', 'distributedLoad', '/in', '--replication', '2', '--batch-size', '2');
    expect(out.at(-1)).toMatch(/^Job \d+ COMPLETED: 10\/10 files/);
    // Off a terminal the progress is plain lines, the last one at 100%.
    expect(out.at(-2)).toMatch(/^load \/in: [\d.]+[KMG]?B of [\d.]+[KMG]?B \(100%\), files 10\/10, [\d.]+[KMG]?B\/s, ETA 0s$/);
    expect(out.slice(1, -1).every((l) => l.startsWith('load /in: '))).toBe(true);
    const id = /^Job (\d+)/.exec(out.at(-1)!)![1]!;
    const ls = await strata('job', 'ls');
    expect(ls.some((l) => l.includes(`${id}  load`) && l.includes('COMPLETED'))).toBe(true);
    const stat = JSON.parse((await strata('job', 'stat', '-v', '--json', id))[0]!);
    expect(stat).toMatchObject({ kind: 'load', status: 'COMPLETED', filesDone: 10, tasksTotal: 6 });
    expect(stat.tasks).toHaveLength(6);
    // Every file is now on both workers.
    await new Promise((r) => setTimeout(r, 300));
    const files = await withClient(conf, async (c) => Promise.all(['/in/f0', '/in/sub/f1', '/in/f4'].map((p) => c.getStatus(p))));
    for (const f of files) for (const b of f.blocks) expect(b.locations.map((l) => l.workerId).sort()).toEqual(['worker-0', 'worker-1']);
  });

  it('fs load --local loads onto the workers on this host (both, on loopback); --json prints the job', async () => {
    await withClient(conf, (c) => c.writeFile('/local-one', Buffer.alloc(3000, 5), { writeType: 'THROUGH' }));
    const printed = await strata('fs', 'load', '--local', '--json', '/local-one');
    expect(printed).toHaveLength(1); // --json: no progress lines
    const j = JSON.parse(printed[0]!);
    expect(j).toMatchObject({ kind: 'load', status: 'COMPLETED', filesDone: 1, bytesDone: 3000 });
    await new Promise((r) => setTimeout(r, 300));
    expect((await withClient(conf, (c) => c.getStatus('/local-one'))).blocks[0]!.locations).toHaveLength(1);
  });

  it('fs distributedCp copies byte for byte and refuses an existing target; distributedMv moves', async () => {
    const cp = await strata('fs', 'distributedCp', '/in', '/copy');
    expect(cp.at(-1)).toMatch(/COMPLETED: 5\/5 files/);
    expect(cp.at(-2)).toMatch(/^copy \/in: .* \(100%\), files 5\/5, .*ETA 0s$/);
    for (const p of ['f0', 'sub/f1', 'f4']) expect(readFileSync(join(dir, 'ufs', 'copy', p)).equals(readFileSync(join(dir, 'ufs', 'in', p)))).toBe(true);
    const e = await fails(['fs', 'distributedCp', '/in/f0', '/copy/f0']);
    expect(isStrataError(e, 'ALREADY_EXISTS')).toBe(true);
    expect((await strata('fs', 'distributedMv', '/copy/sub', '/moved')).at(-1)).toMatch(/COMPLETED: 2\/2 files/);
    expect(readFileSync(join(dir, 'ufs', 'moved', 'f1')).equals(readFileSync(join(dir, 'ufs', 'in', 'sub', 'f1')))).toBe(true);
    expect(await withClient(conf, (c) => c.exists('/copy/sub/f1'))).toBe(false);
    // The emptied source directory went with its files, in strata and in the UFS.
    expect(await withClient(conf, (c) => c.exists('/copy/sub'))).toBe(false);
    expect(existsSync(join(dir, 'ufs', 'copy', 'sub'))).toBe(false);
    expect(await withClient(conf, (c) => c.exists('/copy/f0'))).toBe(true);
  });

  it('fs persist writes a MUST_CACHE file to the UFS', async () => {
    await withClient(conf, (c) => c.writeFile('/cached', Buffer.alloc(5000, 7), { writeType: 'MUST_CACHE' }));
    expect((await strata('fs', 'persist', '/cached')).at(-1)).toMatch(/COMPLETED: 1\/1 files/);
    expect(readFileSync(join(dir, 'ufs', 'cached')).equals(Buffer.alloc(5000, 7))).toBe(true);
  });

  it('fs setReplication adds and evicts copies; bad flags are refused', async () => {
    await strata('fs', 'setReplication', '--min', '2', '/in/f2');
    const copies = () => withClient(conf, async (c) => Math.min(...(await c.getStatus('/in/f2')).blocks.map((b) => b.locations.length)));
    for (let i = 0; i < 60 && (await copies()) !== 2; i++) await new Promise((r) => setTimeout(r, 100));
    expect(await copies()).toBe(2);
    await strata('fs', 'setReplication', '--min', '0', '--max', '1', '/in/f2');
    for (let i = 0; i < 60 && (await copies()) !== 1; i++) await new Promise((r) => setTimeout(r, 100));
    expect(await copies()).toBe(1);
    expect(isStrataError(await fails(['fs', 'setReplication', '--min', '3', '--max', '2', '/in/f2']), 'INVALID_ARGUMENT')).toBe(true);
    expect(isStrataError(await fails(['fs', 'setReplication', '/in/f2']), 'INVALID_ARGUMENT')).toBe(true);
  });

  it('job cancel stops a job; --async returns its id; unknown jobs are NOT_FOUND', async () => {
    const sub = JSON.parse((await strata('fs', 'distributedCp', '/in', '/cancelled', '--active-jobs', '1', '--async', '--json'))[0]!);
    expect(await strata('job', 'cancel', String(sub.jobId))).toEqual([`Canceled job ${sub.jobId}`]);
    const stat = JSON.parse((await strata('job', 'stat', '--json', String(sub.jobId)))[0]!);
    expect(['CANCELED', 'COMPLETED']).toContain(stat.status);
    if (stat.status === 'CANCELED') expect(stat.filesDone).toBeLessThan(5);
    expect(isStrataError(await fails(['job', 'stat', '99999']), 'NOT_FOUND')).toBe(true);
    expect(isStrataError(await fails(['job', 'stat', 'x']), 'INVALID_ARGUMENT')).toBe(true);
    expect(isStrataError(await fails(['fs', 'distributedLoad', '/nope']), 'NOT_FOUND')).toBe(true);
    expect(isStrataError(await fails(['fs', 'distributedLoad', '/in', '--replication', '0']), 'INVALID_ARGUMENT')).toBe(true);
  });

  it('fsadmin report jobservice shows the job workers, jobs by status and the recent jobs', async () => {
    const text = await strata('fsadmin', 'report', 'jobservice');
    expect(text[0]).toMatch(/^Job service of the leading master \S+:$/);
    expect(text).toContain('Job workers: 2');
    expect(text.some((l) => /^\s+worker-0\s+127\.0\.0\.1:\d+\s+\d+\s+\d+$/.test(l))).toBe(true);
    const r = JSON.parse((await strata('fsadmin', 'report', 'jobservice', '--json', '--limit', '3')).join('\n'));
    const all = JSON.parse((await strata('job', 'ls', '--json'))[0]!) as Array<{ id: number; status: string }>;
    for (const s of ['COMPLETED', 'CANCELED', 'FAILED', 'RUNNING']) expect(r.statuses.find((x: { status: string }) => x.status === s).count).toBe(all.filter((j) => j.status === s).length);
    expect(r.recent.map((j: { id: number }) => j.id)).toEqual(all.map((j) => j.id).sort((a, b) => b - a).slice(0, 3));
    expect(r.workers.map((w: { id: string }) => w.id)).toEqual(['worker-0', 'worker-1']);
    expect(Object.keys(r).sort()).toEqual(['failures', 'master', 'recent', 'statuses', 'workers']);
    expect(isStrataError(await fails(['fsadmin', 'report', 'jobservice', '--limit', 'many']), 'INVALID_ARGUMENT')).toBe(true);
  });
});
