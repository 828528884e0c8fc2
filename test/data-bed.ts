// A quiet simulated data cluster for tests of the read and write paths: one
// master, workers with a small MEM tier, and one client, registered and ready;
// and a node that speaks the wire protocol directly.
import type { Actor, Env } from '../actors/env.js';
import { isStrataError, type Envelope, type Message } from '../actors/protocol/envelope.js';
import { Rpc } from '../actors/rpc.js';
import { StrataClient, type ClientOptions } from '../actors/client/client.js';
import { MASTER_ID, MasterActor, type MasterOptions } from '../actors/master/master.js';
import { WorkerActor, type WorkerOptions } from '../actors/worker/worker.js';
import { createSimBed } from '../sim/scenario.js';

export const masterOpts: MasterOptions = { rootUfs: 'sim://ufs', blockSize: 4096, workerTimeoutMs: 3000, rpcTimeoutMs: 2000, journalDir: 'journal' };
export const workerOpts: WorkerOptions = {
  masterId: MASTER_ID, address: 'sim://w', heartbeatIntervalMs: 200, rpcTimeoutMs: 1000, chunkSize: 1024,
  tiers: { levels: [{ alias: 'MEM', dirs: [{ path: 'tiers/mem', quotaBytes: 1 << 20, mediumType: 'MEM' }] }], allocator: 'MaxFree', annotator: { kind: 'LRU' } },
};
export const clientOpts: ClientOptions = { masterId: MASTER_ID, rpcTimeoutMs: 500, retryForMs: 0, chunkSize: 1024, readWindow: 4, blockSize: 4096, writeType: 'CACHE_THROUGH', readType: 'CACHE', user: 'strata' };

export function bytes(n: number, seed: number): Uint8Array {
  return Uint8Array.from({ length: n }, (_, i) => (i * 31 + seed) & 0xff);
}

/** A quiet simulated cluster of one master, workers, clients (one by default) and any other actors, registered and ready. */
export async function bed(
  seed: number,
  o: { master?: Partial<MasterOptions>; worker?: Partial<WorkerOptions>; client?: Partial<ClientOptions>; workers?: string[]; clients?: string[]; others?: Array<[string, (env: Env) => Actor]> } = {},
) {
  const b = createSimBed(seed, { network: 'quiet' });
  const workers = o.workers ?? ['worker-0'];
  const clients = o.clients ?? ['client-0'];
  b.cluster.addNode(MASTER_ID, (env) => new MasterActor(env, { ...masterOpts, ...o.master }));
  for (const id of workers) b.cluster.addNode(id, (env) => new WorkerActor(env, { ...workerOpts, address: `sim://${id}`, ...o.worker }));
  for (const id of clients) b.cluster.addNode(id, (env) => new StrataClient(env, { ...clientOpts, ...o.client }));
  for (const [id, make] of o.others ?? []) b.cluster.addNode(id, make);
  await b.sim.settle(Promise.all([MASTER_ID, ...workers, ...clients, ...(o.others ?? []).map(([id]) => id)].map((id) => b.cluster.start(id))));
  await b.sim.run({ until: b.sim.now + 1000 });
  return { ...b, c: (id = 'client-0') => b.cluster.actor<StrataClient>(id) };
}

/** A node speaking the wire protocol directly (a hostile or outdated client). */
export class Raw implements Actor {
  readonly rpc: Rpc;
  constructor(env: Env) {
    this.rpc = new Rpc(env, 1000);
  }
  async start(): Promise<void> {}
  receive(e: Envelope): void {
    this.rpc.handle(e);
  }
  async stop(): Promise<void> {
    this.rpc.stop();
  }
  /** The error code of a request that must fail. */
  refusal(to: string, m: Message & Record<string, unknown>): Promise<string> {
    return this.rpc.request(to, m, 'Never').then(
      () => 'ANSWERED',
      (e: unknown) => (isStrataError(e) ? e.code : String(e)),
    );
  }
}
