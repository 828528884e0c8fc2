// The job service end to end in the simulator, one behaviour per test: distributed
// load (with replication and host lists), copy, move, persist, ASYNC_THROUGH
// persistence, setReplication, cancel, and retry when a worker is lost.
import { describe, expect, it } from 'vitest';
import { StrataClient } from '../actors/client/client.js';
import { JobClient } from '../actors/job/job-client.js';
import { isStrataError } from '../actors/protocol/envelope.js';

import { bed, bytes, clientOpts } from './helpers/job-bed.js';

describe('job service', () => {
  it('distributedLoad caches every file once, with progress, and a second run loads nothing', async () => {
    const t = await bed(1, 6);
    const id = await t.sim.settle(t.jobs().submit({ kind: 'load', path: '/in' }));
    const done = await t.sim.settle(t.jobs().wait(id, { pollMs: 50 }));
    expect(done).toMatchObject({ status: 'COMPLETED', filesTotal: 6, filesDone: 6, tasksFailed: 0 });
    expect(done.bytesDone).toBe([...t.data.values()].reduce((n, d) => n + d.byteLength, 0));
    const loaded = t.workers.reduce((n, w) => n + t.worker(w).jobs.counters.bytesLoaded, 0);
    expect(loaded).toBe(done.bytesTotal);
    await t.sim.run({ until: t.sim.now + 300 });
    for (const p of t.data.keys()) expect((await t.holders(p)).length).toBe(1);
    // Everything is cached: a second load reads nothing from the UFS.
    const again = await t.sim.settle(t.jobs().submit({ kind: 'load', path: '/in' }));
    expect((await t.sim.settle(t.jobs().wait(again, { pollMs: 50 }))).status).toBe('COMPLETED');
    expect(t.workers.reduce((n, w) => n + t.worker(w).jobs.counters.bytesLoaded, 0)).toBe(loaded);
  });

  it('a file freed and loaded again at once is known to be cached (the master hears of the new copy)', async () => {
    const t = await bed(10, 0, { workers: 1 });
    await t.sim.settle(t.c().writeFile('/again', bytes(6000, 2), { writeType: 'CACHE_THROUGH' }));
    await t.sim.run({ until: t.sim.now + 300 });
    expect(await t.holders('/again')).toEqual(['worker-0']);
    await t.sim.settle(t.c().free('/again'));
    // Loaded again the moment the worker has dropped it, before its next heartbeat.
    await t.sim.run({ until: t.sim.now + 1000, stopWhen: () => t.worker('worker-0').store.blockIds().length === 0 });
    const id = await t.sim.settle(t.jobs().submit({ kind: 'load', path: '/again' }));
    expect((await t.sim.settle(t.jobs().wait(id, { pollMs: 10 }))).status).toBe('COMPLETED');
    await t.sim.run({ until: t.sim.now + 500 });
    expect(t.worker('worker-0').store.blockIds().length).toBe(2);
    expect(await t.holders('/again')).toEqual(['worker-0']);
  });

  it('--replication puts each file on that many workers, within --hosts', async () => {
    const t = await bed(2, 4, { workers: 4 });
    const id = await t.sim.settle(t.jobs().submit({ kind: 'load', path: '/in', replication: 2, batchSize: 2, excludedHosts: ['worker-3'] }));
    expect((await t.sim.settle(t.jobs().wait(id, { pollMs: 50 }))).status).toBe('COMPLETED');
    await t.sim.run({ until: t.sim.now + 300 });
    for (const p of t.data.keys()) {
      const h = await t.holders(p);
      expect(h.length).toBe(2);
      expect(h).not.toContain('worker-3');
    }
  });

  it('distributedCp copies byte for byte; distributedMv moves; an existing target is refused', async () => {
    const t = await bed(3, 5);
    const cp = await t.sim.settle(t.jobs().submit({ kind: 'copy', path: '/in', dst: '/out' }));
    expect((await t.sim.settle(t.jobs().wait(cp, { pollMs: 50 }))).status).toBe('COMPLETED');
    for (const [p, d] of t.data) expect(Buffer.from(await t.sim.settle(t.c().readFile(p.replace('/in', '/out')))).equals(Buffer.from(d))).toBe(true);
    const refused = await t.sim.settle(t.jobs().submit({ kind: 'copy', path: '/in/d0/f0', dst: '/out/d0/f0' }).then(() => undefined, (e: unknown) => e));
    expect(isStrataError(refused, 'ALREADY_EXISTS')).toBe(true);
    const mv = await t.sim.settle(t.jobs().submit({ kind: 'move', path: '/out', dst: '/moved' }));
    expect((await t.sim.settle(t.jobs().wait(mv, { pollMs: 50 }))).status).toBe('COMPLETED');
    for (const [p, d] of t.data) {
      expect(Buffer.from(await t.sim.settle(t.c().readFile(p.replace('/in', '/moved')))).equals(Buffer.from(d))).toBe(true);
      expect(await t.sim.settle(t.c().exists(p.replace('/in', '/out')))).toBe(false);
    }
  });

  it('ASYNC_THROUGH files are persisted by persist jobs; fs persist persists MUST_CACHE files', async () => {
    const t = await bed(4, 0);
    const d = bytes(10_000, 9);
    await t.sim.settle(t.c().writeFile('/async', d, { writeType: 'ASYNC_THROUGH' }));
    await t.sim.settle(t.c().writeFile('/cached', d, { writeType: 'MUST_CACHE' }));
    await t.sim.run({ until: t.sim.now + 2000 });
    expect((await t.sim.settle(t.c().getStatus('/async'))).persisted).toBe(true);
    expect(Buffer.from(await t.ufs.readFile('async')).equals(Buffer.from(d))).toBe(true);
    const kinds = (await t.sim.settle(t.jobs().list())).map((j) => `${j.kind}:${j.status}`);
    expect(kinds).toContain('persist:COMPLETED');
    expect((await t.sim.settle(t.c().getStatus('/cached'))).persisted).toBe(false);
    const id = await t.sim.settle(t.jobs().submit({ kind: 'persist', path: '/cached' }));
    expect((await t.sim.settle(t.jobs().wait(id, { pollMs: 50 }))).status).toBe('COMPLETED');
    expect((await t.sim.settle(t.c().getStatus('/cached'))).persisted).toBe(true);
    expect(Buffer.from(await t.ufs.readFile('cached')).equals(Buffer.from(d))).toBe(true);
  });

  it('deleting a file being persisted cancels its persist job and leaves nothing in the UFS', async () => {
    const t = await bed(5, 0, { slowUfs: true });
    const big = bytes(200_000, 3);
    await t.sim.settle(t.c().writeFile('/doomed', big, { writeType: 'ASYNC_THROUGH' }));
    // The persist task must be on a worker, writing, when the file goes.
    const running = async () => {
      const j = (await t.sim.settle(t.jobs().list())).find((x) => x.kind === 'persist');
      return j && (await t.sim.settle(t.jobs().get(j.id, true))).tasks?.[0]?.state === 'RUNNING' ? j : undefined;
    };
    let job = await running();
    for (let i = 0; i < 40 && !job; i++) {
      await t.sim.run({ until: t.sim.now + 25 });
      job = await running();
    }
    expect(job).toBeDefined();
    await t.sim.settle(t.c().delete('/doomed'));

    await t.sim.run({ until: t.sim.now + 1500 });
    const after = await t.sim.settle(t.jobs().get(job!.id));
    expect(after).toMatchObject({ status: 'CANCELED', error: expect.stringContaining('deleted while it was being persisted') });
    // The worker stops the task: by the cancel, or earlier, when the deleted file's blocks leave the worker
    // (the master tells holders to drop them) and the task's next read of the block fails.
    const counters = t.workers.map((w) => t.worker(w).jobs.counters);
    expect(counters.reduce((n, c) => n + c.tasksCanceled + c.tasksFailed, 0)).toBe(1);
    expect(counters.reduce((n, c) => n + c.tasksDone, 0)).toBe(0);
    expect((await t.ufs.list('')).filter((n) => n.startsWith('doomed'))).toEqual([]);
  });

  it('a persist that keeps failing is tried again after a doubling interval, then given up', async () => {
    const t = await bed(12, 0, { workers: 2, master: { jobs: { tickMs: 50, maxAttempts: 2, persistence: { initialIntervalMs: 400, maxIntervalMs: 10_000, maxTotalWaitMs: 3000 } } } });
    // The only copy is on a worker that dies: no persist job can succeed.
    await t.sim.settle(t.c().writeFile('/stuck', bytes(5000, 1), { writeType: 'ASYNC_THROUGH' }));
    const holder = (await t.holders('/stuck'))[0]!;
    t.cluster.crash(holder);
    await t.sim.run({ until: t.sim.now + 15_000 });
    const jobs = (await t.sim.settle(t.jobs().list())).filter((j) => j.kind === 'persist').sort((a, b) => a.id - b.id);
    expect(jobs.every((j) => j.status === 'FAILED')).toBe(true);
    // Tried again after waits that double (0.4 s, 0.8 s, ...; the scheduler runs every 0.2 s), until 3 s have passed.
    const waits = jobs.slice(1).map((j, i) => j.createdMs - jobs[i]!.endMs!);
    expect(jobs.length).toBeGreaterThanOrEqual(3);
    expect(waits[0]).toBeGreaterThanOrEqual(400);
    for (let i = 1; i < waits.length; i++) expect(waits[i]!).toBeGreaterThan(waits[i - 1]! * 1.5);
    // Given up: no persist job started in the last 10 s.
    expect(jobs.at(-1)!.createdMs).toBeLessThan(jobs[0]!.createdMs + 6000);
    expect((await t.sim.settle(t.c().getStatus('/stuck'))).persisted).toBe(false);
  });

  it('setReplication --min adds copies and --max removes them', async () => {
    const t = await bed(6, 1);
    const p = '/in/d0/f0';
    await t.sim.settle(t.jobs().setReplication(p, 3, undefined, false));
    await t.sim.run({ until: t.sim.now + 2000 });
    expect((await t.holders(p)).length).toBe(3);
    await t.sim.settle(t.jobs().setReplication(p, 1, 1, false));
    await t.sim.run({ until: t.sim.now + 2000 });
    expect((await t.holders(p)).length).toBe(1);
    const bad = await t.sim.settle(t.jobs().setReplication(p, 3, 2, false).then(() => undefined, (e: unknown) => e));
    expect(isStrataError(bad, 'INVALID_ARGUMENT')).toBe(true);
  });

  it('a client with strata.user.file.replication.min gets that many copies of what it writes', async () => {
    const t = await bed(9, 0);
    t.cluster.addNode('client-r', (env) => new StrataClient(env, { ...clientOpts, replication: { min: 2, max: -1 } }));
    await t.sim.settle(t.cluster.start('client-r'));
    await t.sim.settle(t.cluster.actor<StrataClient>('client-r').writeFile('/two', bytes(9000, 4), { writeType: 'THROUGH' }));
    await t.sim.run({ until: t.sim.now + 2000 });
    expect((await t.holders('/two')).length).toBe(2);
  });

  it('cancel stops a job: its pending tasks never run', async () => {
    const t = await bed(7, 8);
    const id = await t.sim.settle(t.jobs().submit({ kind: 'load', path: '/in', activeJobs: 1 }));
    // Only its owner (or the superuser) may cancel a job.
    t.cluster.addNode('client-alice', (env) => new StrataClient(env, { ...clientOpts, user: 'alice' }));
    await t.sim.settle(t.cluster.start('client-alice'));
    const alice = new JobClient(t.cluster.actor<StrataClient>('client-alice'), t.cluster.env('client-alice'));
    expect(isStrataError(await t.sim.settle(alice.cancel(id).then(() => undefined, (e: unknown) => e)), 'PERMISSION_DENIED')).toBe(true);
    await t.sim.settle(t.jobs().cancel(id));
    const j = await t.sim.settle(t.jobs().get(id, true));
    expect(j.status).toBe('CANCELED');
    const loadedAtCancel = t.workers.reduce((n, w) => n + t.worker(w).jobs.counters.bytesLoaded, 0);
    await t.sim.run({ until: t.sim.now + 2000 });
    expect((await t.sim.settle(t.jobs().get(id))).status).toBe('CANCELED');
    expect(j.tasks!.filter((x) => x.state === 'CANCELED').length).toBeGreaterThan(0);
    // At most the one task in flight at the cancel finished its file.
    expect(t.workers.reduce((n, w) => n + t.worker(w).jobs.counters.bytesLoaded, 0) - loadedAtCancel).toBeLessThanOrEqual(Math.max(...[...t.data.values()].map((d) => d.byteLength)));
  });

  it('a task on a worker that is lost runs again on another', async () => {
    const t = await bed(8, 6);
    // The first worker to get a task crashes before answering.
    const id = await t.sim.settle(t.jobs().submit({ kind: 'load', path: '/in', activeJobs: 6 }));
    t.cluster.crash('worker-0');
    const done = await t.sim.settle(t.jobs().wait(id, { pollMs: 100 }));
    expect(done.status).toBe('COMPLETED');
    await t.sim.run({ until: t.sim.now + 300 });
    for (const p of t.data.keys()) {
      const h = await t.holders(p);
      expect(h.length).toBe(1);
      expect(h).not.toContain('worker-0');
    }
  });
});
