// A small data-path cluster built from the production actors (master, workers,
// clients) over a simulated UFS preloaded with files whose bytes the checker
// knows, plus the read checker shared by the read-through and eviction scenarios.
import { StrataClient, type ClientOptions } from '../../actors/client/client.js';
import { isStrataError } from '../../actors/protocol/envelope.js';
import { MASTER_ID, MasterActor, type MasterOptions } from '../../actors/master/master.js';
import { WorkerActor, type WorkerOptions } from '../../actors/worker/worker.js';
import type { TieredStoreLayout } from '../../storage/tiered-conf.js';
import { swarmDiskFaults, type StorageModel } from '../env.js';
import { Prng } from '../prng.js';
import type { ScenarioContext } from '../scenario.js';

export const UFS = 'sim://ufs';
/** Elections in a few hundred ms: failover happens many times within a scenario's fault window. */
export const RAFT_TIMING = { electionTimeoutMinMs: 300, electionTimeoutMaxMs: 600, heartbeatIntervalMs: 50 };

export interface DataClusterSpec {
  workers: number;
  clients: number;
  files: number;
  maxFileBytes: number;
  blockSize: number;
  workerCapacity: number;
  chunkSize: number;
  /** Fault the master's and workers' disks (torn writes, bad reads, EIO) as the seed draws. */
  diskFaults: boolean;
  /** Every file's length uniform in [minFileBytes, maxFileBytes] (no empty or block-sized specials). */
  minFileBytes?: number;
  /** Defaults to 500 ms, which keeps the fault scenarios' recovery quick. */
  heartbeatIntervalMs?: number;
  /** Chunks a client lets a worker send ahead; defaults to 4. */
  readWindow?: number;
  /** 1 (default): one master with a local journal, named MASTER_ID; 3: a Raft group master-0..2. */
  masters?: 1 | 3;
  /** Each worker's tiers; defaults to one MEM directory of workerCapacity bytes. */
  tiers?: TieredStoreLayout;
  /** client-0 runs on worker-0's machine, so it reads the blocks worker-0 holds short-circuit. */
  sharedHost?: boolean;
  /** Overrides of the masters' and clients' options (persistence interval, durable replication, …). */
  master?: Partial<MasterOptions>;
  client?: Partial<ClientOptions>;
}

export interface DataCluster {
  masters: string[];
  workers: string[];
  /** The servers' disk model when the spec asks for disk faults. */
  diskModel: StorageModel | undefined;
  clients: string[];
  files: Map<string, Uint8Array>;
  /** Runs until the master knows every worker (bounded), so a workload does not start against an empty cluster. */
  waitForWorkers(): Promise<void>;
  /** The master serving requests: the single master, or the Raft group's caught-up leader. */
  leader(): MasterActor | undefined;
  /** Reads one file on one client, checking every byte; returns whether it succeeded. */
  read(client: string, path: string): Promise<boolean>;
  stats: { reads: number; ok: number; cleanErrors: number; bytes: number };
}

function fileBytes(seed: number, index: number, length: number): Uint8Array {
  const rng = new Prng((seed * 7919 + index * 104729) >>> 0);
  const out = new Uint8Array(length);
  const view = new DataView(out.buffer);
  let i = 0;
  for (; i + 4 <= length; i += 4) view.setUint32(i, rng.int(2 ** 32));
  for (; i < length; i++) out[i] = rng.int(256);
  return out;
}

export async function buildDataCluster(ctx: ScenarioContext, spec: DataClusterSpec): Promise<DataCluster> {
  const { cluster, rng } = ctx;
  const ufs = cluster.ufsDisk(UFS);
  const files = new Map<string, Uint8Array>();
  for (let i = 0; i < spec.files; i++) {
    // Some empty files, some exactly one block, most of random length.
    const min = spec.minFileBytes;
    const len = min !== undefined ? min + rng.int(spec.maxFileBytes - min + 1) : i === 0 ? 0 : i === 1 ? spec.blockSize : rng.int(spec.maxFileBytes + 1);
    const path = `/data/d${i % 3}/f${i}`;
    const bytes = fileBytes(ctx.seed, i, len);
    files.set(path, bytes);
    await ufs.writeFile(path.slice(1), bytes);
  }

  const masters = spec.masters === 3 ? ['master-0', 'master-1', 'master-2'] : [MASTER_ID];
  const group = masters.length > 1 ? { journal: { type: 'EMBEDDED' as const, voters: masters, checkpointEntries: 50, ...RAFT_TIMING } } : {};
  const master: MasterOptions = { rootUfs: UFS, blockSize: spec.blockSize, workerTimeoutMs: 3000, rpcTimeoutMs: 2000, journalDir: 'journal', ...group, ...spec.master };
  const diskModel = spec.diskFaults ? swarmDiskFaults(rng.fork('disk')) : undefined;
  for (const id of masters) cluster.addNode(id, (env) => new MasterActor(env, master), { ...(diskModel ? { disk: diskModel } : {}), allowStartFailure: true });
  const masterIds = { masterId: masters[0]!, masterIds: masters };
  const workers = Array.from({ length: spec.workers }, (_, i) => `worker-${i}`);
  // A machine is named as its worker's address names it (sim://worker-0), which is how a client knows the worker is local.
  const hostOf = (id: string): { host?: string } => (spec.sharedHost && (id === 'worker-0' || id === 'client-0') ? { host: 'worker-0' } : {});
  const tiers: TieredStoreLayout = spec.tiers ?? { levels: [{ alias: 'MEM', dirs: [{ path: 'tiers/mem', quotaBytes: spec.workerCapacity, mediumType: 'MEM' }] }], allocator: 'MaxFree', annotator: { kind: 'LRU' } };
  for (const id of workers) {
    const w: WorkerOptions = { ...masterIds, address: `sim://${id}`, tiers, heartbeatIntervalMs: spec.heartbeatIntervalMs ?? 500, rpcTimeoutMs: 2000, chunkSize: spec.chunkSize };
    // Worker disks fault too: a block that fails its checksum must be dropped and read again, never served.
    cluster.addNode(id, (env) => new WorkerActor(env, w), { ...(diskModel ? { disk: diskModel, allowStartFailure: true } : {}), ...hostOf(id) });
  }
  const clients = Array.from({ length: spec.clients }, (_, i) => `client-${i}`);
  const c: ClientOptions = { ...masterIds, rpcTimeoutMs: 1500, chunkSize: spec.chunkSize, readWindow: spec.readWindow ?? 4, blockSize: spec.blockSize, writeType: 'CACHE_THROUGH', readType: 'CACHE', user: 'strata', ...spec.client };
  for (const id of clients) cluster.addNode(id, (env) => new StrataClient(env, c), hostOf(id));
  // A faulty disk may fail a start (EIO during recovery); such a node gets a few more tries, as a supervisor would.
  const all = [...masters, ...workers, ...clients];
  await ctx.settle(Promise.allSettled(all.map((id) => cluster.start(id))));
  for (let i = 0; i < 5 && all.some((id) => cluster.state(id) === 'down'); i++) await restartDown(ctx, all);

  const stats = { reads: 0, ok: 0, cleanErrors: 0, bytes: 0 };
  const read = async (client: string, path: string): Promise<boolean> => {
    const expected = files.get(path)!;
    stats.reads++;
    try {
      const got = await cluster.actor<StrataClient>(client).readFile(path);
      ctx.check(got.byteLength === expected.byteLength, () => `${client} read ${got.byteLength} bytes of ${path}, the UFS holds ${expected.byteLength}`);
      ctx.check(Buffer.from(got.buffer, got.byteOffset, got.byteLength).equals(expected), () => `${client} read wrong bytes of ${path} (first difference at ${firstDiff(got, expected)})`);
      stats.ok++;
      stats.bytes += got.byteLength;
      return true;
    } catch (e) {
      // A clean error (a typed code and message) is allowed under faults; anything else is a bug.
      if (!isStrataError(e)) throw e;
      stats.cleanErrors++;
      ctx.log(`${client} read ${path}: ${e.code} ${e.message}`);
      return false;
    }
  };
  const leader = (): MasterActor | undefined => {
    for (const id of masters) {
      if (!cluster.isUp(id)) continue;
      const m = cluster.actor<MasterActor>(id);
      if (!m.failed && (masters.length === 1 || m.raftStatus?.role === 'leader')) return m;
    }
    return undefined;
  };
  const waitForWorkers = async (): Promise<void> => {
    const all = () => (leader()?.liveWorkers ?? -1) >= workers.filter((w) => cluster.isUp(w)).length;
    await ctx.run({ until: ctx.sim.now + 20_000, stopWhen: all });
  };
  return { masters, workers, diskModel, clients, files, read, stats, waitForWorkers, leader };
}

function firstDiff(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.byteLength, b.byteLength);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return i;
  return n;
}

/** Restarts every node that is down, tolerating a start that fails (it is retried by the caller). */
export async function restartDown(ctx: ScenarioContext, ids: readonly string[]): Promise<void> {
  await ctx.settle(Promise.allSettled(ids.filter((id) => ctx.cluster.state(id) === 'down').map((id) => ctx.cluster.start(id))));
}
