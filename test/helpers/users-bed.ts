// One simulated master with permission checks on, and one client per user, each
// naming its own user and groups (SIMPLE authentication): the bed of the
// permission tests.
import { StrataClient, type ClientOptions } from '../../actors/client/client.js';
import { MASTER_ID, MasterActor, type MasterOptions } from '../../actors/master/master.js';
import { createSimBed, type SimBed } from '../../sim/scenario.js';

export const SUPERUSER = 'root';
export const SUPERGROUP = 'admins';

/**
 * Starts the master (root UFS `rootUfs`) and a client named after each user of
 * `users` (user → groups). `prepare` runs first, e.g. to put files in a UFS.
 */
export async function usersBed(seed: number, users: Record<string, string[]>, opts: { rootUfs?: string; prepare?: (b: SimBed) => Promise<void> } = {}) {
  const b = createSimBed(seed, { network: 'quiet' });
  await opts.prepare?.(b);
  const masterOpts: MasterOptions = {
    rootUfs: opts.rootUfs ?? 'sim://root', blockSize: 1024, workerTimeoutMs: 3000, rpcTimeoutMs: 2000, journalDir: 'journal',
    permissions: { superuser: SUPERUSER, supergroup: SUPERGROUP, umask: 0o022 },
  };
  const client: ClientOptions = { masterId: MASTER_ID, rpcTimeoutMs: 1000, chunkSize: 256, readWindow: 4, blockSize: 1024, writeType: 'CACHE_THROUGH', readType: 'CACHE', retryForMs: 0 };
  b.cluster.addNode(MASTER_ID, (env) => new MasterActor(env, masterOpts));
  for (const [user, groups] of Object.entries(users)) b.cluster.addNode(user, (env) => new StrataClient(env, { ...client, user, groups }));
  await b.sim.settle(Promise.all([MASTER_ID, ...Object.keys(users)].map((id) => b.cluster.start(id))));
  const as = (user: string) => b.cluster.actor<StrataClient>(user);
  const run = <T>(p: Promise<T>) => b.sim.settle(p);
  return { ...b, as, run };
}
