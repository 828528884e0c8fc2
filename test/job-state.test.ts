// The job state machine and the plans, without a cluster: entries apply the same
// way everywhere, retries of a request make one job, snapshots restore the same
// state, and plans split, replicate and place tasks as documented.
import { describe, expect, it } from 'vitest';
import { JobState, packMasterSnapshot, unpackMasterSnapshot, type JobEntry } from '../actors/job/state.js';
import { copyTarget, pickWorker, planTasks, validateRequest, workerAllowed, type PlanFile } from '../actors/job/plans.js';
import { Namespace, checkEntry } from '../actors/master/namespace.js';
import { isStrataError } from '../actors/protocol/envelope.js';

const ref = (id: number, length = 10) => ({ id, path: `/f${id}`, length });
const create = (tasks: number, extra: Partial<JobEntry> = {}): JobEntry => ({
  op: 'job', a: 'create', kind: 'load', path: '/', user: 'u', opts: {}, tasks: Array.from({ length: tasks }, (_, i) => [ref(i + 1)]), mtimeMs: 1, ...extra,
});
const progress = (id: number, results: Array<{ task: number; ok: boolean; bytes?: number; error?: string }>, mtimeMs = 2): JobEntry => ({
  op: 'job', a: 'progress', id, results: results.map((r) => ({ bytes: 0, ...r })), mtimeMs,
});

describe('JobState', () => {
  it('a job completes when every task is done, counting files and bytes; a failed task fails it', () => {
    const s = new JobState();
    const job = s.apply(create(3))!;
    expect(job).toMatchObject({ id: 1, status: 'RUNNING', open: 3 });
    s.apply(progress(1, [{ task: 0, ok: true, bytes: 10 }, { task: 2, ok: true, bytes: 10 }]));
    expect(s.info(job, false)).toMatchObject({ status: 'RUNNING', filesDone: 2, filesTotal: 3, bytesDone: 20, bytesTotal: 30 });
    // A result for a task already finished (a duplicate after a failover) changes nothing.
    s.apply(progress(1, [{ task: 0, ok: false, error: 'late' }]));
    expect(job.tasks[0]!.state).toBe('DONE');
    s.apply(progress(1, [{ task: 1, ok: true, bytes: 10 }], 7));
    expect(s.info(job, false)).toMatchObject({ status: 'COMPLETED', endMs: 7, tasksDone: 3 });
    const j2 = s.apply(create(2))!;
    s.apply(progress(j2.id, [{ task: 0, ok: true, bytes: 10 }, { task: 1, ok: false, error: 'UNAVAILABLE: gone' }]));
    expect(s.info(j2, true)).toMatchObject({ status: 'FAILED', tasksFailed: 1, error: expect.stringContaining('UNAVAILABLE: gone') });
  });

  it('an empty plan completes at once; cancel ends a running job and later results are ignored', () => {
    const s = new JobState();
    expect(s.apply(create(0))!.status).toBe('COMPLETED');
    const j = s.apply(create(2))!;
    s.apply({ op: 'job', a: 'cancel', id: j.id, reason: 'by u', mtimeMs: 5 });
    expect(s.info(j, true)).toMatchObject({ status: 'CANCELED', error: 'by u', endMs: 5 });
    expect(j.tasks.map((t) => t.state)).toEqual(['CANCELED', 'CANCELED']);
    s.apply(progress(j.id, [{ task: 0, ok: true, bytes: 10 }]));
    expect(s.info(j, false).filesDone).toBe(0);
  });

  it('a retried submit (same client request) is the same job', () => {
    const s = new JobState();
    const a = s.apply(create(1, { req: { c: 'client-1', r: 9 } }))!;
    const b = s.apply(create(1, { req: { c: 'client-1', r: 9 } }))!;
    expect(b.id).toBe(a.id);
    expect(s.all()).toHaveLength(1);
    expect(s.jobOfRequest('client-1', 9)).toBe(a.id);
  });

  it('keeps at most `capacity` finished jobs, forgetting the oldest', () => {
    const s = new JobState(2);
    for (let i = 0; i < 4; i++) s.apply(create(0));
    expect(s.all().map((j) => j.id)).toEqual([3, 4]);
  });

  it('replication targets are set and forgotten by entries', () => {
    const s = new JobState();
    s.apply({ op: 'job', a: 'replication', files: [{ id: 5, min: 2, max: 3 }, { id: 6, min: 1, max: -1 }], mtimeMs: 1 });
    expect([...s.replication]).toEqual([[5, { min: 2, max: 3 }], [6, { min: 1, max: -1 }]]);
    s.apply({ op: 'job', a: 'replication', files: [{ id: 5, min: 0, max: -1 }], mtimeMs: 2 });
    expect([...s.replication.keys()]).toEqual([6]);
  });

  it('snapshot and restore give the same state, and two replicas applying the same entries agree', () => {
    const entries: JobEntry[] = [
      create(3, { req: { c: 'c', r: 1 } }), progress(1, [{ task: 1, ok: true, bytes: 10 }]), create(2, { kind: 'copy', dst: '/d' }),
      { op: 'job', a: 'cancel', id: 2, mtimeMs: 4 }, { op: 'job', a: 'replication', files: [{ id: 3, min: 1, max: 2 }], mtimeMs: 5 },
    ];
    const a = new JobState();
    const b = new JobState();
    for (const e of entries) {
      expect(checkEntry(e)).toBeNull();
      a.apply(e);
      b.apply(e);
    }
    expect(Buffer.from(a.snapshot()).equals(Buffer.from(b.snapshot()))).toBe(true);
    const c = new JobState();
    c.restore(a.snapshot());
    expect(Buffer.from(c.snapshot()).equals(Buffer.from(a.snapshot()))).toBe(true);
    expect(c.info(c.get(1)!, true)).toEqual(a.info(a.get(1)!, true));
    // The next job gets the next id on the restored replica too.
    expect(c.apply(create(1))!.id).toBe(a.apply(create(1))!.id);
    expect(c.jobOfRequest('c', 1)).toBe(1);
  });

  it('the master checkpoint carries the namespace and the jobs; an older one is the namespace alone', () => {
    const ns = new Namespace('sim://ufs').snapshot();
    const jobs = new JobState().snapshot();
    const both = unpackMasterSnapshot(packMasterSnapshot(ns, jobs));
    expect([...both.namespace]).toEqual([...ns]);
    expect(both.jobs && [...both.jobs]).toEqual([...jobs]);
    const old = unpackMasterSnapshot(ns);
    expect(old).toEqual({ namespace: ns, jobs: undefined });
  });

  it('the journal refuses a malformed job entry', () => {
    expect(checkEntry({ op: 'job', a: 'explode', mtimeMs: 1 })).toMatch(/expected one of/);
    expect(checkEntry({ op: 'job', a: 'create', mtimeMs: 'x' })).toMatch(/mtimeMs/);
  });
});

describe('plans', () => {
  const files: PlanFile[] = [1, 2, 3, 4, 5].map((id) => ({ id, path: `/d/f${id}`, length: id, completed: id !== 5, persisted: id !== 2 }));

  it('batches files, repeats each batch per replica, skips incomplete files', () => {
    const t = planTasks({ kind: 'load', path: '/d', batchSize: 2, replication: 2 }, files, () => undefined);
    expect(t.map((b) => b.map((f) => f.id))).toEqual([[1, 2], [1, 2], [3, 4], [3, 4]]);
  });

  it('persist takes only what the UFS lacks; copy targets follow the source tree', () => {
    expect(planTasks({ kind: 'persist', path: '/d' }, files, () => undefined).map((b) => b.map((f) => f.id))).toEqual([[2]]);
    const t = planTasks({ kind: 'copy', path: '/d', dst: '/e' }, files.slice(0, 1), (f) => copyTarget('/d', true, '/e', f.path));
    expect(t[0]![0]!.dst).toBe('/e/f1');
    expect(copyTarget('/d/f1', false, '/x', '/d/f1')).toBe('/x');
    expect(copyTarget('/', true, '/x', '/a/b')).toBe('/x/a/b');
  });

  it('refuses bad requests with INVALID_ARGUMENT', () => {
    for (const bad of [{ kind: 'copy' as const, path: '/a' }, { kind: 'load' as const, path: '/a', replication: 0 }, { kind: 'load' as const, path: '/a', batchSize: 0 }, { kind: 'replicate' as const, path: '/a' }]) {
      let err: unknown;
      try {
        validateRequest(bad);
      } catch (e) {
        err = e;
      }
      expect(isStrataError(err, 'INVALID_ARGUMENT')).toBe(true);
    }
  });

  it('host lists match worker ids and host names; the least busy worker with a free slot is picked', () => {
    const w = { id: 'worker-1', address: 'ws://10.0.0.7:29999' };
    expect(workerAllowed({}, w)).toBe(true);
    expect(workerAllowed({ hosts: ['10.0.0.7'] }, w)).toBe(true);
    expect(workerAllowed({ hosts: ['worker-2'] }, w)).toBe(false);
    expect(workerAllowed({ excludedHosts: ['worker-1'] }, w)).toBe(false);
    const busy = new Map([['a', 2], ['b', 1], ['c', 1]]);
    expect(pickWorker(['a', 'b', 'c'], (x) => busy.get(x)!, 10, 0)).toBe('b');
    expect(pickWorker(['a', 'b', 'c'], (x) => busy.get(x)!, 10, 2)).toBe('c');
    expect(pickWorker(['a', 'b', 'c'], (x) => busy.get(x)!, 1, 0)).toBeUndefined();
  });
});
