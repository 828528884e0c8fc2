// A quiet simulated master over the in-memory UFS 'sim://ufs', with files put in
// the UFS before it starts and clients that differ only in their options (such as
// the metadata sync interval). No workers: for namespace tests.
import { StrataClient, type ClientOptions } from '../actors/client/client.js';
import { MASTER_ID, MasterActor, type MasterOptions } from '../actors/master/master.js';
import { createSimBed } from '../sim/scenario.js';

const masterOpts: MasterOptions = { rootUfs: 'sim://ufs', blockSize: 1024, workerTimeoutMs: 3000, rpcTimeoutMs: 2000, journalDir: 'journal' };
const base: ClientOptions = { masterId: MASTER_ID, rpcTimeoutMs: 1000, chunkSize: 256, readWindow: 4, blockSize: 1024, writeType: 'CACHE_THROUGH', readType: 'CACHE', user: 'strata', retryForMs: 0 };

/** `files`: UFS path → length; `clients`: client id → its options over the defaults. */
export async function namespaceBed(seed: number, files: Record<string, number>, clients: Record<string, Partial<ClientOptions>>) {
  const b = createSimBed(seed, { network: 'quiet' });
  const ufs = b.cluster.ufsDisk('sim://ufs');
  for (const [path, length] of Object.entries(files)) await ufs.writeFile(path, new Uint8Array(length));
  b.cluster.addNode(MASTER_ID, (env) => new MasterActor(env, masterOpts));
  for (const [id, o] of Object.entries(clients)) b.cluster.addNode(id, (env) => new StrataClient(env, { ...base, ...o }));
  await b.sim.settle(Promise.all([MASTER_ID, ...Object.keys(clients)].map((id) => b.cluster.start(id))));
  const as = (id: string) => b.cluster.actor<StrataClient>(id);
  const run = <T>(p: Promise<T>) => b.sim.settle(p);
  return { ...b, ufs, as, run };
}
