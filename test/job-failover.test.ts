// The job master follows the leader: a job submitted to one leader is finished by
// the next after a crash, from the journaled state alone; and a master restarted
// from its checkpoint (namespace and jobs) still knows every job.
import { describe, expect, it } from 'vitest';
import { StrataClient, type ClientOptions } from '../actors/client/client.js';
import { MasterActor, type MasterOptions } from '../actors/master/master.js';
import { WorkerActor, type WorkerOptions } from '../actors/worker/worker.js';
import { JobClient } from '../actors/job/job-client.js';
import { createSimBed } from '../sim/scenario.js';

const masters = ['master-0', 'master-1', 'master-2'];
const BS = 4096;

async function bed(seed: number) {
  const b = createSimBed(seed, { network: 'quiet' });
  const ufs = b.cluster.ufsDisk('sim://ufs');
  for (let i = 0; i < 12; i++) await ufs.writeFile(`src/f${i}`, Uint8Array.from({ length: 3000 + i * 1000 }, (_, k) => (k * 13 + i) & 0xff));
  const m: MasterOptions = {
    rootUfs: 'sim://ufs', blockSize: BS, workerTimeoutMs: 1500, rpcTimeoutMs: 1000, journalDir: 'journal',
    journal: { type: 'EMBEDDED', voters: masters, checkpointEntries: 10, electionTimeoutMinMs: 300, electionTimeoutMaxMs: 600, heartbeatIntervalMs: 50 },
    jobs: { tickMs: 50 },
  };
  for (const id of masters) b.cluster.addNode(id, (env) => new MasterActor(env, m));
  const w: WorkerOptions = {
    masterId: masters[0]!, masterIds: masters, address: 'sim://w', heartbeatIntervalMs: 100, rpcTimeoutMs: 1000, chunkSize: 1024,
    tiers: { levels: [{ alias: 'MEM', dirs: [{ path: 'tiers/mem', quotaBytes: 1 << 22, mediumType: 'MEM' }] }], allocator: 'MaxFree', annotator: { kind: 'LRU' } },
  };
  const workers = ['worker-0', 'worker-1', 'worker-2'];
  for (const id of workers) b.cluster.addNode(id, (env) => new WorkerActor(env, { ...w, address: `sim://${id}` }));
  const c: ClientOptions = { masterId: masters[0]!, masterIds: masters, rpcTimeoutMs: 800, retryForMs: 20_000, chunkSize: 1024, readWindow: 4, blockSize: BS, writeType: 'CACHE_THROUGH', readType: 'CACHE', user: 'strata' };
  b.cluster.addNode('client-0', (env) => new StrataClient(env, c));
  await b.sim.settle(Promise.all([...masters, ...workers, 'client-0'].map((id) => b.cluster.start(id))));
  const leader = () => masters.find((id) => b.cluster.isUp(id) && b.cluster.actor<MasterActor>(id).raftStatus?.role === 'leader');
  await b.sim.run({ until: b.sim.now + 5000, stopWhen: () => leader() !== undefined && b.cluster.actor<MasterActor>(leader()!).liveWorkers === 3 });
  const jobs = () => new JobClient(b.cluster.actor<StrataClient>('client-0'), b.cluster.env('client-0'));
  return { ...b, ufs, leader, jobs };
}

describe('job master failover', () => {
  it('a copy job started under one leader is finished by the next, each file copied once', async () => {
    const t = await bed(11);
    const first = t.leader()!;
    const id = await t.sim.settle(t.jobs().submit({ kind: 'copy', path: '/src', dst: '/dst', activeJobs: 1 }));
    // Some files copied, not all: then the leader dies.
    await t.sim.run({ until: t.sim.now + 10_000, stopWhen: () => (t.cluster.actor<MasterActor>(first).jobs.state.get(id)?.tasks.filter((x) => x.state === 'DONE').length ?? 0) >= 3 });
    const before = t.cluster.actor<MasterActor>(first).jobs.state.get(id)!.tasks.filter((x) => x.state === 'DONE').length;
    expect(before).toBeGreaterThanOrEqual(3);
    expect(before).toBeLessThan(12);
    t.cluster.crash(first);
    const done = await t.sim.settle(t.jobs().wait(id, { pollMs: 100 }));
    expect(done).toMatchObject({ status: 'COMPLETED', filesDone: 12, filesTotal: 12 });
    const next = t.leader()!;
    expect(next).not.toBe(first);
    expect(t.cluster.actor<MasterActor>(next).jobs.state.get(id)!.tasks.every((x) => x.state === 'DONE' && x.attempts === 1)).toBe(true);
    for (let i = 0; i < 12; i++) expect(Buffer.from(await t.ufs.readFile(`dst/f${i}`)).equals(Buffer.from(await t.ufs.readFile(`src/f${i}`)))).toBe(true);
    expect((await t.ufs.list('dst')).length).toBe(12);
  });

  it('a master restarted from its checkpoint and log knows every job', async () => {
    const t = await bed(12);
    const id = await t.sim.settle(t.jobs().submit({ kind: 'load', path: '/src', batchSize: 2 }));
    expect((await t.sim.settle(t.jobs().wait(id, { pollMs: 100 }))).status).toBe('COMPLETED');
    // Enough entries for checkpoints (every 10 entries) to have carried the job state.
    for (const m of masters) t.cluster.crash(m);
    await t.sim.settle(Promise.all(masters.map((m) => t.cluster.start(m))));
    await t.sim.run({ until: t.sim.now + 3000, stopWhen: () => t.leader() !== undefined });
    const j = await t.sim.settle(t.jobs().get(id));
    expect(j).toMatchObject({ status: 'COMPLETED', filesDone: 12, tasksTotal: 6 });
    // Standbys know it too once they have applied what the new leader commits.
    await t.sim.run({ until: t.sim.now + 1000 });
    for (const m of masters) expect(t.cluster.actor<MasterActor>(m).jobs.state.get(id)?.status).toBe('COMPLETED');
  });
});
