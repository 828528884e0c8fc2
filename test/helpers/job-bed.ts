// A simulated cluster for job service tests: a master, job-running workers and a
// client, with files under /in in the shared UFS (their bytes kept to compare).
import { StrataClient, type ClientOptions } from '../../actors/client/client.js';
import { MASTER_ID, MasterActor, type MasterOptions } from '../../actors/master/master.js';
import { WorkerActor, type WorkerOptions } from '../../actors/worker/worker.js';
import { JobClient } from '../../actors/job/job-client.js';
import { createSimBed } from '../../sim/scenario.js';
import { SHARED_UFS } from '../../sim/env.js';

const BS = 4096;
const masterOpts: MasterOptions = { rootUfs: 'sim://ufs', blockSize: BS, workerTimeoutMs: 1500, rpcTimeoutMs: 2000, journalDir: 'journal', persistCheckIntervalMs: 200, jobs: { tickMs: 50, replicationCheckMs: 200 } };
const workerOpts: WorkerOptions = {
  masterId: MASTER_ID, address: 'sim://w', heartbeatIntervalMs: 100, rpcTimeoutMs: 1000, chunkSize: 1024,
  tiers: { levels: [{ alias: 'MEM', dirs: [{ path: 'tiers/mem', quotaBytes: 1 << 22, mediumType: 'MEM' }] }], allocator: 'MaxFree', annotator: { kind: 'LRU' } },
};
export const clientOpts: ClientOptions = { masterId: MASTER_ID, rpcTimeoutMs: 1000, chunkSize: 1024, readWindow: 4, blockSize: BS, writeType: 'CACHE_THROUGH', readType: 'CACHE', user: 'strata' };

export function bytes(n: number, seed: number): Uint8Array {
  return Uint8Array.from({ length: n }, (_, i) => (i * 31 + seed * 7) & 0xff);
}

export async function bed(seed: number, files: number, o: { workers?: number; master?: Partial<MasterOptions>; slowUfs?: boolean } = {}) {
  // A slow UFS (an object store far away) keeps a persist running long enough to be interrupted.
  const b = createSimBed(seed, { network: 'quiet', ...(o.slowUfs ? { cluster: { ufs: { ...SHARED_UFS, opLatencyMs: [20, 30] as const } } } : {}) });
  const ufs = b.cluster.ufsDisk('sim://ufs');
  const data = new Map<string, Uint8Array>();
  for (let i = 0; i < files; i++) {
    const d = bytes(1000 + i * 2500, i);
    data.set(`/in/d${i % 2}/f${i}`, d);
    await ufs.writeFile(`in/d${i % 2}/f${i}`, d);
  }
  const workers = Array.from({ length: o.workers ?? 3 }, (_, i) => `worker-${i}`);
  b.cluster.addNode(MASTER_ID, (env) => new MasterActor(env, { ...masterOpts, ...o.master }));
  for (const id of workers) b.cluster.addNode(id, (env) => new WorkerActor(env, { ...workerOpts, address: `sim://${id}` }));
  b.cluster.addNode('client-0', (env) => new StrataClient(env, clientOpts));
  await b.sim.settle(Promise.all([MASTER_ID, ...workers, 'client-0'].map((id) => b.cluster.start(id))));
  await b.sim.run({ until: b.sim.now + 500 });
  const c = () => b.cluster.actor<StrataClient>('client-0');
  const jobs = () => new JobClient(c(), b.cluster.env('client-0'));
  const holders = async (path: string) => {
    const info = await b.sim.settle(c().getStatus(path));
    return info.blocks.length === 0 ? [] : info.blocks.map((bl) => bl.locations.map((l) => l.workerId).sort()).reduce((a, x) => a.filter((w) => x.includes(w)));
  };
  const worker = (id: string) => b.cluster.actor<WorkerActor>(id);
  return { ...b, ufs, data, workers, c, jobs, holders, worker };
}

