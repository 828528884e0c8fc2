// What an acknowledged write promises, tested by crashing everything:
// - CACHE_THROUGH and THROUGH: once acknowledged, the file survives any crash of
//   any masters and workers (all at once included) and reads back exactly;
// - ASYNC_THROUGH with strata.user.file.replication.durable = N: survives N-1
//   worker crashes before it is persisted, and, once persisted, any crash;
// - MUST_CACHE data whose every holder died fails cleanly on read: a typed error
//   within a bounded time, never wrong bytes, never a hang.
import type { StrataClient, WriteType } from '../../actors/client/client.js';
import { isStrataError } from '../../actors/protocol/envelope.js';
import { VERSION_HEADER_BYTES, identifyVersion, versionBytes } from '../checkers/file-versions.js';
import { LOCAL_DISK } from '../env.js';
import type { Scenario, ScenarioContext } from '../scenario.js';
import { buildDataCluster, restartDown, type DataCluster } from './data-cluster.js';
import { healMasters } from './master-ops.js';

const BLOCK = 64 * 1024;
/** Long enough that no ASYNC_THROUGH file is persisted before the worker crash that must not lose it. */
const PERSIST_INTERVAL_MS = 10_000;

export const durability: Scenario = {
  name: 'durability',
  description: 'acknowledged CACHE_THROUGH/THROUGH writes survive crashes of every node; ASYNC_THROUGH with replication.durable=N (2 or 3 of 3 workers) survives N-1 worker crashes before persisting; MUST_CACHE with every holder dead fails cleanly',
  async run(ctx) {
    // strata.user.file.replication.durable for every write here (MUST_CACHE and ASYNC_THROUGH keep N copies).
    const durable = ctx.rng.pick([2, 3]);
    const dc = await buildDataCluster(ctx, {
      masters: 3, workers: 3, clients: 2, files: 0, maxFileBytes: 0, blockSize: BLOCK, workerCapacity: 4 * 1024 * 1024,
      chunkSize: 16 * 1024, diskFaults: true, heartbeatIntervalMs: 300,
      // The unpersisted window is made by configuration, not by timing: a file waits 20 s
      // (strata.user.file.persistence.initial.wait.time) before its first persist job.
      master: { persistCheckIntervalMs: PERSIST_INTERVAL_MS, jobs: { persistence: { initialWaitMs: 20_000 } } }, client: { rpcTimeoutMs: 800, retryForMs: 2400, durableReplication: durable },
    });
    const files = new Files(ctx, dc);
    await files.mkdir('/d');
    await dc.waitForWorkers();
    await throughWritesSurviveEverything(ctx, dc, files);
    await asyncSurvivesWorkerCrash(ctx, dc, files, durable);
    await mustCacheFailsCleanly(ctx, dc, files);
    ctx.log(`written=${files.written.size} durable=${durable} ${[...files.acked].map(([t, n]) => `${t}=${n}`).join(' ')}`);
  },
};

/** Unique files with known bytes, the writes that were acknowledged, and the checks on reading them. */
class Files {
  readonly versions = new Map<number, Uint8Array>();
  /** Acknowledged files: path → version. */
  readonly written = new Map<string, number>();
  readonly acked = new Map<WriteType, number>();
  private next = 1;

  constructor(
    private readonly ctx: ScenarioContext,
    private readonly dc: DataCluster,
  ) {}

  client(i = 0): StrataClient {
    return this.ctx.cluster.actor<StrataClient>(this.dc.clients[i]!);
  }

  async mkdir(dir: string): Promise<void> {
    for (let attempt = 0; ; attempt++) {
      if (await this.ctx.settle(this.client().mkdir(dir, true).then(() => true, () => false))) return;
      this.ctx.check(attempt < 100, `could not create ${dir} in 100 attempts`);
      await healMasters(this.ctx, this.dc.masters);
    }
  }

  /** Writes a new file; true when acknowledged. Errors must be clean. Inside a run. */
  async write(clientIndex: number, dir: string, writeType: WriteType): Promise<boolean> {
    const v = this.next++;
    const bytes = versionBytes(v, VERSION_HEADER_BYTES + this.ctx.rng.int(3 * BLOCK));
    this.versions.set(v, bytes);
    const path = `${dir}/f${v}`;
    try {
      await this.client(clientIndex).writeFile(path, bytes, { writeType });
    } catch (e) {
      if (!isStrataError(e)) throw e;
      this.ctx.log(`write ${path} (${writeType}): ${e.code} ${e.message}`);
      return false;
    }
    this.written.set(path, v);
    this.acked.set(writeType, (this.acked.get(writeType) ?? 0) + 1);
    return true;
  }

  /** Reads a file: exactly its bytes (true), or a clean error (false); anything else fails the run. Inside a run. */
  async read(path: string, clientIndex = 0): Promise<boolean> {
    try {
      const got = await this.client(clientIndex).readFile(path);
      const which = identifyVersion(got, this.versions);
      this.ctx.check(which.ok && which.version === this.written.get(path), () => `read of ${path} returned ${which.ok ? `version ${which.version}` : which.reason}, not version ${this.written.get(path)}`);
      return true;
    } catch (e) {
      if (!isStrataError(e)) throw e;
      this.ctx.log(`read ${path}: ${e.code} ${e.message}`);
      return false;
    }
  }

  /** The file must read back exactly; clean errors are retried a few times (a worker may still be registering). */
  async mustRead(path: string, what: string): Promise<void> {
    for (let attempt = 0; attempt < 6; attempt++) {
      if (await this.ctx.settle(this.read(path), { timeoutMs: 60_000 })) return;
      await this.ctx.run({ until: this.ctx.sim.now + 1000 });
    }
    this.ctx.fail(`${what}: ${path} (acknowledged) could not be read`);
  }

  async holders(path: string): Promise<string[]> {
    const info = await this.ctx.settle(this.client().getStatus(path));
    return [...new Set(info.blocks.flatMap((b) => b.locations.map((l) => l.workerId)))];
  }
}

/** Everything back up, faults off, the leader serving and the workers registered. */
async function heal(ctx: ScenarioContext, dc: DataCluster, workers = dc.workers): Promise<void> {
  ctx.net.faultsOff();
  for (const id of [...dc.masters, ...dc.workers]) ctx.cluster.setDiskModel(id, LOCAL_DISK);
  ctx.check(await healMasters(ctx, dc.masters), 'the masters did not come back');
  await restartDown(ctx, workers);
  await dc.waitForWorkers();
}

function crashAll(ctx: ScenarioContext, ids: readonly string[]): void {
  for (const id of ids) ctx.cluster.crash(id);
}

async function throughWritesSurviveEverything(ctx: ScenarioContext, dc: DataCluster, files: Files): Promise<void> {
  const { sim, cluster, rng } = ctx;
  const servers = [...dc.masters, ...dc.workers];
  const end = sim.now + 6000;
  const writers = dc.clients.map(async (_, i) => {
    while (sim.now < end) {
      await files.write(i, '/d', rng.pick<WriteType>(['CACHE_THROUGH', 'THROUGH']));
      // Now and then read back something already acknowledged, under the same faults.
      const done = [...files.written.keys()];
      if (done.length > 0 && rng.chance(0.3)) await files.read(rng.pick(done), i);
    }
  });
  // Random crashes, and once every server at the same instant.
  const blackout = sim.now + rng.range(1500, 4500);
  sim.at(blackout, 'scenario', 'blackout', () => {
    crashAll(ctx, servers);
    sim.schedule(rng.range(100, 1500), 'scenario', 'restart', () => {
      for (const id of servers) if (cluster.state(id) === 'down') cluster.start(id).catch(() => undefined);
    });
  });
  for (let t = sim.now + rng.range(300, 1200); t < end; t += rng.range(400, 1500)) {
    sim.at(t, 'scenario', 'crash', () => {
      const id = rng.pick(servers);
      if (!cluster.isUp(id)) return;
      cluster.crash(id);
      sim.schedule(rng.range(50, 2000), 'scenario', 'restart', () => {
        if (cluster.state(id) === 'down') cluster.start(id).catch(() => undefined);
      });
    });
  }
  await ctx.settle(Promise.all(writers));
  await heal(ctx, dc);
  // One write of each type on the quiet network, so even a seed whose faults let
  // nothing through has acknowledged writes to lose.
  // (A leader elected just now learns the workers at their next heartbeat: a few tries.)
  for (const t of ['CACHE_THROUGH', 'THROUGH'] as const) {
    let acked = false;
    for (let i = 0; i < 10 && !acked; i++) {
      acked = await ctx.settle(files.write(0, '/d', t));
      if (!acked) await ctx.run({ until: sim.now + 500 });
    }
    ctx.check(acked, `no ${t} write was acknowledged in 10 tries on a quiet network`);
  }
  // And once more, cleanly timed: every server down together, then back.
  crashAll(ctx, servers);
  await ctx.run({ until: sim.now + rng.range(10, 1000) });
  await heal(ctx, dc);
  for (const path of files.written.keys()) await files.mustRead(path, 'CACHE_THROUGH/THROUGH after every node crashed');
}

async function asyncSurvivesWorkerCrash(ctx: ScenarioContext, dc: DataCluster, files: Files, durable: number): Promise<void> {
  const { sim, rng } = ctx;
  // Fresh masters: the persistence checker's first round is a full interval away.
  crashAll(ctx, dc.masters);
  await heal(ctx, dc);
  const paths: string[] = [];
  for (let i = 0; i < 6; i++) {
    const before = files.written.size;
    if (await ctx.settle(files.write(i % dc.clients.length, '/a', 'ASYNC_THROUGH'))) paths.push([...files.written.keys()][before]!);
  }
  ctx.check(paths.length >= 3, () => `only ${paths.length} of 6 ASYNC_THROUGH writes were acknowledged on a quiet network`);
  for (const p of paths) {
    const h = await files.holders(p);
    ctx.check(h.length >= durable, () => `${p} was acknowledged with replication.durable=${durable} but only ${h.join(', ') || 'no worker'} holds it`);
    const info = await ctx.settle(files.client().getStatus(p));
    ctx.check(!info.persisted, () => `${p} was persisted before the crash: the scenario did not test the unpersisted window`);
  }
  // N-1 workers die (and stay dead) before anything is persisted.
  const victims = rng.shuffle([...dc.workers]).slice(0, durable - 1);
  crashAll(ctx, victims);
  for (const p of paths) await files.mustRead(p, `ASYNC_THROUGH after ${victims.join(', ')} crashed, unpersisted`);
  // Then it is persisted from the survivors, and survives everything.
  const persisted = async () => (await Promise.all(paths.map((p) => files.client().getStatus(p).then((i) => i.persisted, () => false)))).every(Boolean);
  let all = false;
  for (let t = 0; t < 60 && !all; t++) {
    await ctx.run({ until: sim.now + 1000 });
    all = await ctx.settle(persisted());
  }
  ctx.check(all, 'the ASYNC_THROUGH files were not persisted within 60 s after the crash');
  crashAll(ctx, [...dc.masters, ...dc.workers]);
  await heal(ctx, dc);
  for (const p of paths) await files.mustRead(p, 'ASYNC_THROUGH once persisted, after every node crashed');
}

async function mustCacheFailsCleanly(ctx: ScenarioContext, dc: DataCluster, files: Files): Promise<void> {
  const { sim, cluster } = ctx;
  const paths: string[] = [];
  for (let i = 0; i < 4; i++) {
    const before = files.written.size;
    if (await ctx.settle(files.write(0, '/m', 'MUST_CACHE'))) paths.push([...files.written.keys()][before]!);
  }
  ctx.check(paths.length >= 2, () => `only ${paths.length} of 4 MUST_CACHE writes were acknowledged on a quiet network`);
  // Every holder of the first file dies; files with a live holder must still read exactly.
  const dead = await files.holders(paths[0]!);
  crashAll(ctx, dead);
  for (const p of paths) {
    const alive = (await files.holders(p)).some((w) => cluster.isUp(w));
    const start = sim.now;
    const ok = await ctx.settle(files.read(p), { timeoutMs: 60_000 });
    if (alive) ctx.check(ok, () => `${p} (MUST_CACHE) has a live holder but could not be read`);
    else ctx.check(!ok, () => `${p} (MUST_CACHE) was read although every holder is dead`);
    ctx.check(sim.now - start < 30_000, () => `reading ${p} took ${(sim.now - start).toFixed(0)} ms`);
  }
  // The holders come back with whatever their disks kept: each read is exact or a clean error.
  await heal(ctx, dc);
  for (const p of paths) await ctx.settle(files.read(p), { timeoutMs: 60_000 });
}
