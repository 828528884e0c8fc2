// The job service under faults: a distributedLoad and a distributedCp run on a
// Raft group of masters while workers crash and restart, the leading master is
// crashed (the job master moves to the next leader) and the network misbehaves.
// Once the faults stop both jobs must complete with every file loaded, and
// copied, exactly once (one finished task per file in the journaled job state,
// no stray files at the target) and byte-identical to its source.
import { StrataClient, type ClientOptions } from '../../actors/client/client.js';
import { isStrataError } from '../../actors/protocol/envelope.js';
import { MasterActor, type MasterOptions } from '../../actors/master/master.js';
import { WorkerActor, type WorkerOptions } from '../../actors/worker/worker.js';
import { JobClient } from '../../actors/job/job-client.js';
import type { JobInfo } from '../../actors/protocol/job.js';
import { Prng } from '../prng.js';
import type { Scenario, ScenarioContext } from '../scenario.js';

const UFS = 'sim://ufs';
const BLOCK = 64 * 1024;
const RAFT_TIMING = { electionTimeoutMinMs: 300, electionTimeoutMaxMs: 600, heartbeatIntervalMs: 50 };

function fileBytes(seed: number, index: number, length: number): Uint8Array {
  const rng = new Prng((seed * 7919 + index * 104729) >>> 0);
  const out = new Uint8Array(length);
  for (let i = 0; i < length; i++) out[i] = rng.int(256);
  return out;
}

const same = (a: Uint8Array, b: Uint8Array) => Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength));

export const jobs: Scenario = {
  name: 'jobs',
  description: 'distributedLoad and distributedCp on 3 Raft masters under worker crashes, leader failover and network faults; every file loaded and copied exactly once, byte-identical',
  async run(ctx) {
    const { sim, cluster, net, rng } = ctx;
    const ufs = cluster.ufsDisk(UFS);
    const files = new Map<string, Uint8Array>();
    const count = 8 + rng.int(10);
    for (let i = 0; i < count; i++) {
      const len = i === 0 ? 0 : rng.int(3 * BLOCK + 1);
      const data = fileBytes(ctx.seed, i, len);
      files.set(`/src/d${i % 3}/f${i}`, data);
      await ufs.writeFile(`src/d${i % 3}/f${i}`, data);
    }
    const masters = ['master-0', 'master-1', 'master-2'];
    const masterOpts: MasterOptions = {
      rootUfs: UFS, blockSize: BLOCK, workerTimeoutMs: 1500, rpcTimeoutMs: 2000, journalDir: 'journal',
      journal: { type: 'EMBEDDED', voters: masters, checkpointEntries: 40, ...RAFT_TIMING },
      jobs: { tickMs: 100, taskTimeoutMs: 8000, maxAttempts: 1000 },
    };
    for (const id of masters) cluster.addNode(id, (env) => new MasterActor(env, masterOpts), { allowStartFailure: true });
    const workers = ['worker-0', 'worker-1', 'worker-2', 'worker-3'];
    for (const id of workers) {
      const w: WorkerOptions = {
        masterId: masters[0]!, masterIds: masters, address: `sim://${id}`, heartbeatIntervalMs: 200, rpcTimeoutMs: 2000, chunkSize: 16 * 1024,
        tiers: { levels: [{ alias: 'MEM', dirs: [{ path: 'tiers/mem', quotaBytes: 64 << 20, mediumType: 'MEM' }] }], allocator: 'MaxFree', annotator: { kind: 'LRU' } },
      };
      cluster.addNode(id, (env) => new WorkerActor(env, w), { allowStartFailure: true });
    }
    const clientOpts: ClientOptions = {
      masterId: masters[0]!, masterIds: masters, rpcTimeoutMs: 1500, retryForMs: 60_000, chunkSize: 16 * 1024, readWindow: 4, blockSize: BLOCK,
      writeType: 'CACHE_THROUGH', readType: 'NO_CACHE', user: 'strata',
    };
    cluster.addNode('client-0', (env) => new StrataClient(env, clientOpts));
    await ctx.settle(Promise.allSettled([...masters, ...workers, 'client-0'].map((id) => cluster.start(id))));
    const leader = () => masters.find((m) => cluster.isUp(m) && cluster.actor<MasterActor>(m).raftStatus?.role === 'leader');
    await ctx.run({ until: sim.now + 10_000, stopWhen: () => leader() !== undefined && cluster.actor<MasterActor>(leader()!).liveWorkers === workers.length });
    const client = () => cluster.actor<StrataClient>('client-0');
    const jc = () => new JobClient(client(), cluster.env('client-0'));

    const batchSize = 1 + rng.int(3);
    const submit = async (what: Parameters<JobClient['submit']>[0]): Promise<number> => {
      for (let attempt = 0; ; attempt++) {
        try {
          return await jc().submit(what);
        } catch (e) {
          if (!isStrataError(e) || attempt >= 5) throw e;
          ctx.log(`submit ${what.kind}: ${e.code} ${e.message}`);
        }
      }
    };
    const loadId = await ctx.settle(submit({ kind: 'load', path: '/src', batchSize }));
    const copyId = await ctx.settle(submit({ kind: 'copy', path: '/src', dst: '/dst', batchSize }));
    ctx.log(`load job ${loadId}, copy job ${copyId}, ${count} files, batch ${batchSize}`);

    // Faults: workers crash and come back; the leader is crashed once or twice.
    const faultEnd = sim.now + 6000;
    let leaderCrashes = 0;
    for (let t = sim.now + rng.range(100, 800); t < faultEnd; t += rng.range(300, 1200)) {
      sim.at(t, 'scenario', 'crash', () => {
        const lead = leader();
        const id = lead !== undefined && leaderCrashes < 2 && rng.chance(0.3) ? lead : rng.pick(workers);
        if (!cluster.isUp(id)) return;
        if (id === lead) leaderCrashes++;
        cluster.crash(id);
        sim.schedule(rng.range(200, 2500), 'scenario', 'restart', () => {
          if (cluster.state(id) === 'down') cluster.start(id).catch(() => undefined);
        });
      });
    }
    await ctx.run({ until: faultEnd });
    net.faultsOff();
    for (let round = 0; round < 5; round++) {
      await ctx.settle(Promise.allSettled([...masters, ...workers].filter((id) => cluster.state(id) === 'down').map((id) => cluster.start(id))));
      await ctx.run({ until: sim.now + 1000 });
    }

    // Both jobs must finish once the faults are over.
    const finished = async (id: number): Promise<JobInfo> => {
      for (let i = 0; i < 600; i++) {
        const j = await ctx.settle(jc().get(id).catch(() => undefined));
        if (j && j.status !== 'RUNNING') return j;
        await ctx.run({ until: sim.now + 200 });
      }
      return ctx.fail(`job ${id} did not finish within 120 s after the faults stopped`);
    };
    const total = [...files.values()].reduce((n, d) => n + d.byteLength, 0);
    for (const [id, what] of [[loadId, 'load'], [copyId, 'copy']] as const) {
      const j = await finished(id);
      ctx.check(j.status === 'COMPLETED', () => `${what} job ${id} ended ${j.status}: ${j.error ?? ''}`);
      ctx.check(j.filesDone === count && j.filesTotal === count && j.bytesDone === total, () => `${what} job ${id}: ${j.filesDone}/${j.filesTotal} files, ${j.bytesDone}/${total} bytes`);
      checkExactlyOnce(ctx, cluster.actor<MasterActor>(leader()!), id, [...files.keys()]);
    }
    ctx.log(`leader crashes ${leaderCrashes}`);

    // Every copy is byte-identical in the UFS and through the client; nothing else was left at the target.
    const dstNames: string[] = [];
    for (const d of await ufs.list('dst')) for (const n of await ufs.list(`dst/${d}`)) dstNames.push(`/dst/${d}/${n}`);
    const expected = [...files.keys()].map((p) => p.replace('/src', '/dst')).sort();
    if (JSON.stringify(dstNames.sort()) !== JSON.stringify(expected)) {
      const listed: string[] = [];
      for (const d of ['d0', 'd1', 'd2']) for (const e of await ctx.settle(client().listStatus(`/dst/${d}`))) listed.push(`${e.path}${e.completed ? '' : ' (incomplete)'}`);
      const sizes = await Promise.all(dstNames.map(async (n) => `${n}:${(await ufs.stat(n.slice(1)))?.size}`));
      ctx.fail(`the UFS target holds ${sizes.join(', ')}; expected ${expected.join(', ')}; strata lists ${listed.join(', ')}`);
    }
    for (const [p, data] of files) {
      const dst = p.replace('/src', '/dst');
      ctx.check(same(await ufs.readFile(dst.slice(1)), data), `${dst} in the UFS differs from ${p}`);
      const viaClient = await ctx.settle(client().readFile(dst));
      ctx.check(same(viaClient, data), `${dst} read through strata differs from ${p}`);
    }
  },
};

/** In the journaled state of the job, each file belongs to exactly one task, and that task is done. */
function checkExactlyOnce(ctx: ScenarioContext, master: MasterActor, jobId: number, paths: readonly string[]): void {
  const job = master.jobs.state.get(jobId);
  if (!job) return ctx.fail(`job ${jobId} is unknown to the leader`);
  const seen = new Map<string, number>();
  for (const t of job.tasks) {
    ctx.check(t.state === 'DONE', () => `job ${jobId} task ${t.id} is ${t.state}`);
    for (const f of t.files) seen.set(f.path, (seen.get(f.path) ?? 0) + 1);
  }
  for (const p of paths) ctx.check(seen.get(p) === 1, () => `job ${jobId} has ${seen.get(p) ?? 0} finished tasks for ${p}`);
  ctx.check(seen.size === paths.length, () => `job ${jobId} covers ${seen.size} files, expected ${paths.length}`);
}
