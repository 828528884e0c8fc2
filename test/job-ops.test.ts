// The job service's operator surface in the simulator: the jobservice report
// (jobs by status, tasks per job worker, recent jobs and failures), the job
// counters in the master's metrics, and distributedMv leaving no empty sources.
import { describe, expect, it } from 'vitest';
import { MASTER_ID } from '../actors/master/master.js';
import { metricsOf } from '../actors/metrics.js';
import { JOB_METRIC } from '../actors/job/job-metrics.js';
import { sourceDirs } from '../actors/job/move-sources.js';
import { jobServiceLines } from '../cli/jobservice-report.js';
import { bed } from './helpers/job-bed.js';

type Bed = Awaited<ReturnType<typeof bed>>;

/** Submits a copy of /in whose last task's source is deleted before it runs: the job fails. */
async function failingCopy(t: Bed): Promise<number> {
  const id = await t.sim.settle(t.jobs().submit({ kind: 'copy', path: '/in', dst: '/copy', activeJobs: 1 }));
  const plan = await t.sim.settle(t.jobs().get(id, true));
  await t.sim.settle(t.c().delete(plan.tasks!.at(-1)!.files[0]!));
  expect((await t.sim.settle(t.jobs().wait(id, { pollMs: 50 }))).status).toBe('FAILED');
  return id;
}

describe('fsadmin report jobservice', () => {
  it('shows the tasks each job worker runs now, jobs by status, the newest jobs and the failures', async () => {
    const t = await bed(21, 6, { slowUfs: true });
    const load = await t.sim.settle(t.jobs().submit({ kind: 'load', path: '/in', activeJobs: 4 }));
    await t.sim.run({ until: t.sim.now + 120 });
    const mid = await t.sim.settle(t.jobs().report());
    expect(mid.master).toBe(MASTER_ID);
    expect(mid.workers.map((w) => w.id)).toEqual(t.workers);
    const running = mid.workers.reduce((n, w) => n + w.running, 0);
    expect(running).toBeGreaterThan(0);
    expect(running).toBeLessThanOrEqual(4);
    expect(mid.statuses.find((s) => s.status === 'RUNNING')?.count).toBe(1);
    expect((await t.sim.settle(t.jobs().wait(load, { pollMs: 50 }))).status).toBe('COMPLETED');

    const copy = await failingCopy(t);
    const r = await t.sim.settle(t.jobs().report(1));
    expect(r.workers.every((w) => w.running === 0)).toBe(true);
    expect(Object.fromEntries(r.statuses.map((s) => [s.status, s.count]))).toEqual({ RUNNING: 0, COMPLETED: 1, FAILED: 1, CANCELED: 0 });
    expect(r.recent.map((j) => j.id)).toEqual([copy]);
    expect(r.failures.map((j) => j.id)).toEqual([copy]);
    expect(r.failures[0]!.error).toMatch(/NOT_FOUND|no longer exists/);

    const lines = jobServiceLines(await t.sim.settle(t.jobs().report()));
    expect(lines[0]).toBe(`Job service of the leading master ${MASTER_ID}:`);
    expect(lines).toContain('Job workers: 3');
    expect(lines).toContain('Status: COMPLETED  Count: 1');
    expect(lines).toContain('Status: FAILED     Count: 1');
    expect(lines).toContain('2 most recent jobs:');
    expect(lines).toContain('1 most recent failed jobs:');
    const failedRow = lines.slice(lines.indexOf('1 most recent failed jobs:')).find((l) => l.includes('copy'));
    expect(failedRow).toMatch(new RegExp(`\\s${copy}\\s+copy\\s+FAILED\\s+5/6\\s`));
  });
});

describe('job service metrics', () => {
  it('count jobs started, completed, failed and canceled, and tasks run, failed and retried', async () => {
    const t = await bed(22, 6);
    const m = metricsOf(t.cluster.env(MASTER_ID));
    const v = (d: { name: string }) => m.value(d.name) ?? -1;
    for (const d of Object.values(JOB_METRIC)) expect(v(d)).toBe(0);

    const load = await t.sim.settle(t.jobs().submit({ kind: 'load', path: '/in' }));
    expect((await t.sim.settle(t.jobs().wait(load, { pollMs: 50 }))).status).toBe('COMPLETED');
    expect([v(JOB_METRIC.jobsStarted), v(JOB_METRIC.jobsCompleted), v(JOB_METRIC.tasksRun), v(JOB_METRIC.tasksFailed)]).toEqual([1, 1, 6, 0]);

    await failingCopy(t);
    expect([v(JOB_METRIC.jobsStarted), v(JOB_METRIC.jobsFailed), v(JOB_METRIC.tasksFailed)]).toEqual([2, 1, 1]);

    const slow = await t.sim.settle(t.jobs().submit({ kind: 'copy', path: '/in/d0', dst: '/slow', activeJobs: 1 }));
    await t.sim.settle(t.jobs().cancel(slow));
    expect([v(JOB_METRIC.jobsStarted), v(JOB_METRIC.jobsCanceled), v(JOB_METRIC.jobsCompleted)]).toEqual([3, 1, 1]);

    // A worker lost with tasks in flight: they are tried again elsewhere.
    const again = await t.sim.settle(t.jobs().submit({ kind: 'copy', path: '/in/d1', dst: '/again', activeJobs: 6 }));
    t.cluster.crash('worker-0');
    t.cluster.crash('worker-1');
    expect((await t.sim.settle(t.jobs().wait(again, { pollMs: 100 }))).status).toBe('COMPLETED');
    expect(v(JOB_METRIC.tasksRetried)).toBeGreaterThan(0);
    expect(v(JOB_METRIC.jobsCompleted)).toBe(2);
  });
});

describe('distributedMv', () => {
  it('removes the source directories its files left empty', async () => {
    const t = await bed(23, 6);
    const mv = await t.sim.settle(t.jobs().submit({ kind: 'move', path: '/in', dst: '/moved' }));
    expect((await t.sim.settle(t.jobs().wait(mv, { pollMs: 50 }))).status).toBe('COMPLETED');
    for (const p of t.data.keys()) expect(await t.sim.settle(t.c().exists(p.replace('/in', '/moved')))).toBe(true);
    expect(await t.sim.settle(t.c().exists('/in'))).toBe(false);
    expect(await t.sim.settle(t.ufs.stat('in'))).toBeNull();
  });

  it('keeps a source directory that is not empty, and an empty one no file came from', async () => {
    const t = await bed(24, 6);
    await t.sim.settle(t.c().mkdir('/in/empty'));
    const mv = await t.sim.settle(t.jobs().submit({ kind: 'move', path: '/in', dst: '/moved' }));
    expect((await t.sim.settle(t.jobs().wait(mv, { pollMs: 50 }))).status).toBe('COMPLETED');
    expect(await t.sim.settle(t.c().exists('/in/d0'))).toBe(false);
    expect(await t.sim.settle(t.c().exists('/in/d1'))).toBe(false);
    expect(await t.sim.settle(t.c().exists('/in/empty'))).toBe(true);
    expect((await t.sim.settle(t.c().listStatus('/in'))).map((f) => f.name)).toEqual(['empty']);
  });

  it('keeps every source directory when a file did not move', async () => {
    const t = await bed(25, 6);
    const mv = await t.sim.settle(t.jobs().submit({ kind: 'move', path: '/in', dst: '/moved', activeJobs: 1 }));
    const plan = await t.sim.settle(t.jobs().get(mv, true));
    const lost = plan.tasks!.at(-1)!.files[0]!;
    await t.sim.settle(t.c().delete(lost));
    expect((await t.sim.settle(t.jobs().wait(mv, { pollMs: 50 }))).status).toBe('FAILED');
    // Every other file moved, yet the directories stay: the move did not complete.
    const dir = lost.slice(0, lost.lastIndexOf('/'));
    const other = dir.endsWith('d0') ? '/in/d1' : '/in/d0';
    expect(await t.sim.settle(t.c().exists(other))).toBe(true);
    expect(await t.sim.settle(t.c().listStatus(other))).toEqual([]);
  });

  it('looks only at the directories between the moved files and the source', () => {
    const f = (path: string) => ({ id: 0, path, length: 1 });
    const tasks = [{ id: 0, files: [f('/a/b/c/x'), f('/a/b/y')], state: 'DONE' as const, bytes: 1, attempts: 1 }];
    expect(sourceDirs({ path: '/a/b/', tasks })).toEqual(['/a/b/c', '/a/b']);
    expect(sourceDirs({ path: '/a/b/c/x', tasks: [{ ...tasks[0]!, files: [f('/a/b/c/x')] }] })).toEqual([]);
  });
});
