// Clients write, read, delete and rename whole files with every write and read
// type, against three Raft masters and four workers, while the network misbehaves,
// disks fault, workers crash and restart and the leader fails over. Every read
// must return exactly the bytes of one version (never torn, mixed or stale-block
// bytes), and the versions and NOT_FOUNDs the clients saw must be linearizable:
// a read returns the latest version a linearization allows, including versions
// whose write was still in flight or whose outcome its writer never learned.
import type { ReadType, StrataClient, WriteType } from '../../actors/client/client.js';
import { isStrataError } from '../../actors/protocol/envelope.js';
import type { MasterActor } from '../../actors/master/master.js';
import type { WorkerActor } from '../../actors/worker/worker.js';
import { checkLinearizable, type Operation } from '../checkers/linearizability.js';
import { VERSION_HEADER_BYTES, fileModel, identifyVersion, versionBytes, type FileInput, type FileOutput } from '../checkers/file-versions.js';
import { LOCAL_DISK } from '../env.js';
import type { Scenario, ScenarioContext } from '../scenario.js';
import { buildDataCluster, restartDown, type DataCluster } from './data-cluster.js';
import { healMasters } from './master-ops.js';
import { checkNoLingeringBlocks } from './lingering-blocks.js';

const DIR = '/c';
const NAMES = ['a', 'b', 'c'];
export const WRITE_TYPES: readonly WriteType[] = ['MUST_CACHE', 'CACHE_THROUGH', 'THROUGH', 'ASYNC_THROUGH'];
export const READ_TYPES: readonly ReadType[] = ['CACHE', 'CACHE_PROMOTE', 'NO_CACHE'];
const BLOCK = 64 * 1024;
/** Error codes that say for sure what a mutation did; any other leaves its outcome unknown. */
const DEFINITE = new Set(['NOT_FOUND', 'ALREADY_EXISTS']);

/** `sharedHost`: client-0 shares worker-0's machine and reads what worker-0 caches short-circuit. */
function consistencyScenario(name: string, sharedHost: boolean): Scenario {
  return {
    name,
    description: sharedHost
      ? 'consistency, with client-0 on worker-0\'s machine reading the blocks it caches short-circuit (from the block files, under leases)'
      : 'write/read/delete/rename with every write and read type from 3 clients under network, disk, worker and master-failover faults; reads return whole versions, linearizably',
    async run(ctx) {
      const dc = await buildDataCluster(ctx, {
        masters: 3, workers: 4, clients: 3, files: 0, maxFileBytes: 0, blockSize: BLOCK, workerCapacity: 2 * 1024 * 1024,
        chunkSize: 16 * 1024, diskFaults: true, heartbeatIntervalMs: 300, sharedHost,
        master: { persistCheckIntervalMs: 300 }, client: { rpcTimeoutMs: 800, retryForMs: 2400, passiveCache: sharedHost },
      });
      await runFileWorkload(ctx, dc, { rounds: 6, roundMs: 2000, crashWorkers: true, crashMasters: true });
    },
  };
}

export const consistency = consistencyScenario('consistency', false);
export const consistencyShortCircuit = consistencyScenario('consistency-sc', true);

export interface WorkloadOptions {
  /** Rounds of faults, each ended by a quiet barrier that settles every operation's outcome. */
  rounds: number;
  roundMs: number;
  crashWorkers: boolean;
  crashMasters: boolean;
}

/** The random file workload and its checks; the options say which faults besides the network's and the disks'. */
export async function runFileWorkload(ctx: ScenarioContext, dc: DataCluster, opts: WorkloadOptions): Promise<void> {
  const { sim, cluster, net, rng } = ctx;
  const client = (id: string) => cluster.actor<StrataClient>(id);
  for (let attempt = 0; ; attempt++) {
    if (await ctx.settle(client(dc.clients[0]!).mkdir(DIR, true).then(() => true, () => false))) break;
    ctx.check(attempt < 100, `could not create ${DIR} in 100 attempts`);
    await healMasters(ctx, dc.masters);
  }
  await dc.waitForWorkers();

  const versions = new Map<number, Uint8Array>();
  const history: Array<Operation<FileInput, FileOutput>> = [];
  const stats = { reads: 0, readOk: 0, readNotFound: 0, readErrors: 0, writes: 0, writeOk: 0, byType: new Map<string, number>() };
  let nextVersion = 1;
  const record = (op: Operation<FileInput, FileOutput>): void => {
    history.push(op);
    if (process.env.LINDEBUG) ctx.log(`${op.client} ${fileModel.describe!(op.input, op.output)} [${op.call.toFixed(1)}, ${op.ret?.toFixed(1) ?? '?'}]`);
  };
  const path = () => `${DIR}/${rng.pick(NAMES)}`;

  /** Reads a path and judges the bytes; the output, or undefined after a clean error (which observed nothing). */
  const read = async (id: string, p: string, readType: ReadType): Promise<FileOutput | undefined> => {
    stats.reads++;
    try {
      const got = await client(id).readFile(p, readType);
      const which = identifyVersion(got, versions);
      if (!which.ok) ctx.fail(`${id} read ${p} (${readType}) and got bytes of no version: ${which.reason}`);
      stats.readOk++;
      stats.byType.set(readType, (stats.byType.get(readType) ?? 0) + 1);
      return { code: 'OK', version: which.version };
    } catch (e) {
      if (!isStrataError(e)) throw e;
      if (e.code === 'NOT_FOUND') {
        stats.readNotFound++;
        return { code: 'NOT_FOUND' };
      }
      stats.readErrors++;
      ctx.log(`${id} read ${p}: ${e.code} ${e.message}`);
      return undefined;
    }
  };

  type Mutation = { op: 'write'; path: string; version: number } | Extract<FileInput, { op: 'delete' | 'rename' }>;
  const perform = async (id: string, m: Mutation): Promise<void> => {
    const c = client(id);
    if (m.op === 'write') {
      const writeType = rng.pick(WRITE_TYPES);
      stats.writes++;
      await c.writeFile(m.path, versions.get(m.version)!, { overwrite: true, writeType });
      stats.writeOk++;
      stats.byType.set(writeType, (stats.byType.get(writeType) ?? 0) + 1);
    } else if (m.op === 'delete') await c.delete(m.path, false);
    else await c.rename(m.src, m.dst);
  };
  /** What the model sees of a mutation: a write is its three steps at the master. */
  const steps = (m: Mutation): FileInput[] =>
    m.op === 'write' ? (['clear', 'create', 'complete'] as const).map((op) => ({ op, path: m.path, version: m.version })) : [m];

  /** One random operation from one client, recorded in the history; false when its outcome is unknown. */
  const step = async (id: string): Promise<boolean> => {
    const r = rng.next();
    const call = sim.now;
    if (r < 0.4) {
      const input: FileInput = { op: 'read', path: path() };
      const output = await read(id, input.path, rng.pick(READ_TYPES));
      if (output) record({ client: id, input, call, ret: sim.now, output });
      return true;
    }
    let m: Mutation;
    if (r < 0.75) {
      const version = nextVersion++;
      // From a few bytes to a few blocks, often ending mid-block.
      const length = VERSION_HEADER_BYTES + rng.int(rng.chance(0.3) ? 256 : 3 * BLOCK + 1);
      versions.set(version, versionBytes(version, length));
      m = { op: 'write', path: path(), version };
    } else if (r < 0.87) m = { op: 'delete', path: path() };
    else m = { op: 'rename', src: path(), dst: path() };
    try {
      await perform(id, m);
      for (const input of steps(m)) record({ client: id, input, call, ret: sim.now, output: { code: 'OK' } });
      return true;
    } catch (e) {
      if (!isStrataError(e)) throw e;
      ctx.log(`${id} ${JSON.stringify(m)}: ${e.code} ${e.message}`);
      // A mutation that failed may still have happened (an earlier attempt, a request
      // still in flight, a Raft entry a later leader commits): its effect stays open
      // until the round's barrier.
      if (DEFINITE.has(e.code) && m.op !== 'write') {
        record({ client: id, input: m, call, ret: sim.now, output: { code: e.code } });
        return true;
      }
      for (const input of steps(m)) record({ client: id, input, call });
      return false;
    }
  };

  const servers = [...dc.masters, ...dc.workers];
  const faults = { ...net.faults };
  for (let round = 0; round < opts.rounds; round++) {
    const first = history.length;
    const roundEnd = sim.now + opts.roundMs;
    const loops = dc.clients.map(async (id) => {
      // A client whose operation's outcome is unknown waits for the barrier: its
      // operation stays open until then, and every operation after it would be
      // concurrent with it, which the checker pays for exponentially.
      while (sim.now < roundEnd) {
        if (!(await step(id))) break;
        await new Promise<void>((res) => sim.schedule(rng.range(0, 80), 'scenario', 'think', res));
      }
    });
    for (let t = sim.now + rng.range(300, 1500); t < roundEnd; t += rng.range(400, 1500)) {
      sim.at(t, 'scenario', 'crash', () => {
        const leader = dc.masters.find((m) => cluster.isUp(m) && cluster.actor<MasterActor>(m).raftStatus?.role === 'leader');
        const victims = [...(opts.crashWorkers ? dc.workers : []), ...(opts.crashMasters ? dc.masters : [])];
        if (victims.length === 0) return;
        const id = opts.crashMasters && leader !== undefined && rng.chance(0.3) ? leader : rng.pick(victims);
        if (!cluster.isUp(id)) return;
        cluster.crash(id);
        sim.schedule(rng.range(50, 2000), 'scenario', 'restart', () => {
          if (cluster.state(id) === 'down') cluster.start(id).catch(() => undefined);
        });
      });
    }
    await ctx.settle(Promise.all(loops));

    // A barrier: faults off, every server back, the leader serving, and time for
    // stragglers to land. A mutation whose outcome its client never learned has
    // taken effect by now or never will: every request has been delivered or
    // dropped, and the leader, having committed in its own term, has applied every
    // entry that can ever commit. So its effect is bounded by the barrier's end.
    net.faultsOff();
    for (const id of servers) cluster.setDiskModel(id, LOCAL_DISK);
    ctx.check(await healMasters(ctx, dc.masters), `the masters did not come back after round ${round}`);
    await restartDown(ctx, dc.workers);
    let serving = false;
    for (let attempt = 0; attempt < 20 && !serving; attempt++) serving = await ctx.settle(client(dc.clients[0]!).getStatus(DIR).then(() => true, () => false));
    ctx.check(serving, `no master served ${DIR} after round ${round}`);
    await ctx.run({ until: sim.now + 3000 });
    for (const op of history.slice(first)) op.ret ??= sim.now;
    net.configure(faults);
    if (dc.diskModel) for (const id of servers) cluster.setDiskModel(id, dc.diskModel);
  }

  // Liveness: faults off for good; every path is read once more and judged with the rest.
  net.faultsOff();
  for (const id of servers) cluster.setDiskModel(id, LOCAL_DISK);
  await dc.waitForWorkers();
  for (const p of NAMES.map((n) => `${DIR}/${n}`)) {
    const call = sim.now;
    const output = await ctx.settle(read(dc.clients[0]!, p, 'CACHE'));
    if (output) record({ client: dc.clients[0]!, input: { op: 'read', path: p }, call, ret: sim.now, output });
  }

  const result = checkLinearizable(fileModel, history, { maxExplored: 3_000_000 });
  const known = history.filter((o) => o.ret !== undefined).length;
  ctx.log(`operations=${history.length} definite=${known} explored=${result.explored} reads=${stats.reads} readOk=${stats.readOk} readNotFound=${stats.readNotFound} readErrors=${stats.readErrors} writes=${stats.writes} writeOk=${stats.writeOk} shortCircuitBytes=${dc.clients.reduce((n, id) => n + (cluster.isUp(id) ? client(id).counters.bytesReadShortCircuit : 0), 0)} passiveCopies=${dc.workers.reduce((n, id) => n + (cluster.isUp(id) ? cluster.actor<WorkerActor>(id).jobs.counters.blocksCachedPassively : 0), 0)} ${[...stats.byType].map(([k, v]) => `${k}=${v}`).join(' ')}`);
  if (result.ok !== true) ctx.fail(`${result.ok === false ? 'not linearizable' : 'linearizability undecided'}: ${result.reason}`);
  // Heavy-fault seeds may get little done; none at all means nothing was tested.
  ctx.check(stats.readOk + stats.readNotFound >= 1 && stats.writeOk >= 1, () => `${stats.readOk + stats.readNotFound} reads were judged and ${stats.writeOk} writes acknowledged: the workload did not run`);
  // Abandoned, replaced and deleted files leave no only-copy blocks behind (workers: RPC timeout 2 s, heartbeats 300 ms).
  await checkNoLingeringBlocks(ctx, dc, NAMES.map((n) => `${DIR}/${n}`), 6000);
}
