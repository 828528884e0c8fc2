// The job service in real processes: a master and two workers on loopback, driven
// by the `strata` CLI as a user would; a worker killed in the middle of a job.
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort, killAll, runCli, startCli, waitFor, type Proc } from './helpers/processes.js';

let dir: string;
let conf: string[];
const workers: Proc[] = [];
const files = new Map<string, Buffer>();

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'strata-it-jobs-'));
  const c: Record<string, string> = {
    'strata.work.dir': join(dir, 'data'),
    'strata.master.rpc.port': String(await freePort()),
    'strata.master.worker.timeout': '2s',
    'strata.worker.block.heartbeat.interval': '200ms',
    'strata.user.rpc.timeout': '3s',
    'strata.user.block.size.bytes.default': '1MB',
    'strata.logger.level': 'warn',
  };
  conf = Object.entries(c).flatMap(([k, v]) => ['--conf', `${k}=${v}`]);
  for (let i = 0; i < 40; i++) {
    const data = randomBytes(20_000 + i * 50_000);
    files.set(`d${i % 4}/f${i}`, data);
    mkdirSync(join(dir, 'data', 'ufs', 'in', `d${i % 4}`), { recursive: true });
    writeFileSync(join(dir, 'data', 'ufs', 'in', `d${i % 4}`, `f${i}`), data);
  }
  const master = startCli(['master', ...conf], dir);
  await waitFor('master to listen', async () => master.output().includes('listening'));
  for (let i = 0; i < 2; i++) {
    const w = startCli(['worker', '--id', `worker-${i}`, ...conf, '--conf', `strata.worker.rpc.port=${await freePort()}`], dir);
    workers.push(w);
    await waitFor(`worker-${i} to listen`, async () => w.output().includes('listening'));
  }
  await waitFor('both workers to register', async () => {
    const r = await runCli(['fs', 'masterInfo', ...conf], dir);
    return r.code === 0 && r.stdout.toString().includes('liveWorkers=2');
  });
}, 60_000);

afterAll(async () => {
  await killAll();
  rmSync(dir, { recursive: true, force: true });
});

describe('the job service in real processes', () => {
  it('distributedCp finishes with one worker killed mid-job; every copy is byte-identical; job ls and stat report it', async () => {
    const sub = await runCli(['fs', 'distributedCp', '/in', '/out', '--active-jobs', '4', '--async', '--json', ...conf], dir);
    expect(sub.code, sub.stderr).toBe(0);
    const { jobId } = JSON.parse(sub.stdout.toString()) as { jobId: number };
    await workers[1]!.kill('SIGKILL');
    await waitFor('the copy job to finish', async () => {
      const r = await runCli(['job', 'stat', '--json', String(jobId), ...conf], dir);
      return r.code === 0 && (JSON.parse(r.stdout.toString()) as { status: string }).status !== 'RUNNING';
    }, 60_000);
    const stat = JSON.parse((await runCli(['job', 'stat', '-v', '--json', String(jobId), ...conf], dir)).stdout.toString()) as { status: string; filesDone: number; tasks: unknown[] };
    expect(stat).toMatchObject({ status: 'COMPLETED', filesDone: 40 });
    expect(stat.tasks).toHaveLength(40);
    for (const [p, data] of files) expect(readFileSync(join(dir, 'data', 'ufs', 'out', p)).equals(data), p).toBe(true);
    const ls = await runCli(['job', 'ls', ...conf], dir);
    expect(ls.stdout.toString()).toMatch(new RegExp(`${jobId}\\s+copy\\s+COMPLETED\\s+files 40/40`));
  }, 90_000);

  it('distributedLoad waits and prints progress; bad input fails with one line and exit 1', async () => {
    const r = await runCli(['fs', 'distributedLoad', '/in/d0', ...conf], dir);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout.toString()).toMatch(/Job \d+ COMPLETED: 10\/10 files/);
    const bad = await runCli(['fs', 'distributedLoad', '/nowhere', ...conf], dir);
    expect(bad.code).toBe(1);
    expect(bad.stderr.trim()).toMatch(/^NOT_FOUND: \/nowhere does not exist$/);
    const cancel = await runCli(['job', 'cancel', '424242', ...conf], dir);
    expect(cancel.code).toBe(1);
    expect(cancel.stderr.trim()).toBe('NOT_FOUND: no job 424242');
  }, 60_000);
});
