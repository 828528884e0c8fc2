// Simulator speed: how many simulated seconds of a read-through workload one
// wall-clock second buys. 1 master and 5 workers built from the production
// actors (sim/scenarios/data-cluster.ts), the property registry's defaults for
// everything the issue does not pin (1 s heartbeats, 64 MiB blocks, 1 MiB
// chunks, window 8, 1 GB MEM tier), 2 clients, and reads arriving as a Poisson
// process at 10 per simulated second, each of a whole file of 64 KiB–1 MiB
// picked at random from 200 in the simulated UFS: misses read through the UFS
// and are cached, later reads hit the cache. Every read is checked byte for
// byte, every message is encoded, decoded and validated, as in any scenario.
// The network is quiet and nothing crashes: this measures the simulator's
// steady state, not recovery paths.
//
// Prints events/s and sim-s per wall-s for each seed, and
// `RESULT sim ratio=<x>` where x = (median simulated s per wall s) / 1000:
// the target is 1000 simulated seconds per wall second, so x >= 1
// meets it. Only the workload is timed, not building the cluster or the UFS.
import { PerformanceObserver, performance } from 'node:perf_hooks';
import { Conf, K } from '../actors/conf.js';
import { runScenarioObject, type Scenario } from '../sim/scenario.js';
import { buildDataCluster } from '../sim/scenarios/data-cluster.js';
import type { WorkerActor } from '../actors/worker/worker.js';
import { runMain } from './entry.js';

const SIM_SECONDS = Number(process.env.BENCH_SIM_SECONDS ?? 1800);
const SEEDS = (process.env.BENCH_SEEDS ?? '1,2,3').split(',').map(Number);
const READS_PER_S = 10;
const TARGET = 1000;

interface Measure {
  seed: number;
  simS: number;
  wallS: number;
  events: number;
  reads: number;
  ok: number;
  bytes: number;
  ufsReads: number;
  gcMs: number;
  cpuS: number;
}

/** Wall time spent in garbage collection, summed, for the diagnostics line. */
let gcMs = 0;
new PerformanceObserver((list) => {
  for (const e of list.getEntries()) gcMs += e.duration;
}).observe({ entryTypes: ['gc'] });

function workload(out: Measure[], simSeconds: number): Scenario {
  const conf = new Conf();
  return {
    name: 'bench-read-through',
    description: 'read-through at 10 reads/s on 1 master + 5 workers, quiet network',
    network: 'quiet',
    async run(ctx) {
      const { sim, rng } = ctx;
      const dc = await buildDataCluster(ctx, {
        workers: 5,
        clients: 2,
        files: 200,
        minFileBytes: 64 * 1024,
        maxFileBytes: 1024 * 1024,
        blockSize: conf.bytes(K.userBlockSize),
        workerCapacity: conf.bytes(K.workerLevel0Quota),
        chunkSize: conf.bytes(K.userChunkSize),
        readWindow: conf.int(K.workerReadWindow),
        heartbeatIntervalMs: conf.ms(K.workerHeartbeatInterval),
        diskFaults: false,
      });
      await dc.waitForWorkers();
      const paths = [...dc.files.keys()];
      const pending: Array<Promise<boolean>> = [];
      const start = sim.now;
      const end = start + simSeconds * 1000;
      const events0 = sim.events;
      const arrive = (): void => {
        if (sim.now >= end) return;
        pending.push(dc.read(rng.pick(dc.clients), rng.pick(paths)));
        sim.schedule(rng.exp(1000 / READS_PER_S), 'scenario', 'read', arrive);
      };
      sim.schedule(rng.exp(1000 / READS_PER_S), 'scenario', 'read', arrive);
      const t0 = performance.now();
      const cpu0 = process.cpuUsage();
      const gc0 = gcMs;
      await ctx.run({ until: end });
      await ctx.settle(Promise.all(pending));
      const wallS = (performance.now() - t0) / 1000;
      const gc = gcMs - gc0;
      const cpu = process.cpuUsage(cpu0);
      ctx.check(dc.stats.ok === dc.stats.reads, () => `${dc.stats.reads - dc.stats.ok} of ${dc.stats.reads} reads failed on a quiet network`);
      const ufsReads = dc.workers.reduce((n, id) => n + ctx.cluster.actor<WorkerActor>(id).counters.ufsBlockReads, 0);
      out.push({ seed: ctx.seed, simS: (sim.now - start) / 1000, wallS, events: sim.events - events0, reads: dc.stats.reads, ok: dc.stats.ok, bytes: dc.stats.bytes, ufsReads, gcMs: gc, cpuS: (cpu.user + cpu.system) / 1e6 });
    },
  };
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};

async function main(): Promise<void> {
  console.log(`sim: read-through, 1 master + 5 workers + 2 clients, ${READS_PER_S} reads/s of 64 KiB-1 MiB, default heartbeats; ${SIM_SECONDS} simulated s per seed, seeds ${SEEDS.join(',')}`);
  const results: Measure[] = [];
  const scenario = workload(results, SIM_SECONDS);
  // One unreported seed first, so the JIT has compiled the hot paths before anything is timed.
  const warm = await runScenarioObject(workload([], 300), 0);
  if (!warm.ok) throw new Error(`warm-up seed 0 failed: ${warm.reason}`);
  for (const seed of SEEDS) {
    const r = await runScenarioObject(scenario, seed);
    if (!r.ok) throw new Error(`seed ${seed} failed: ${r.reason}\n${(r.logs ?? []).slice(-20).join('\n')}`);
    const m = results[results.length - 1]!;
    console.log(
      `  seed ${seed}: ${m.simS.toFixed(0)} sim-s in ${m.wallS.toFixed(2)} wall-s = ${(m.simS / m.wallS).toFixed(0).padStart(5)} sim-s/wall-s ` +
        `(${(m.simS / m.cpuS).toFixed(0)} per cpu-s), ` +
        `${(m.events / m.wallS / 1000).toFixed(0)}k events/s (${m.events} events), ${m.reads} reads (${m.ufsReads} read through), ${(m.bytes / 1024 / 1024).toFixed(0)} MiB checked, gc ${m.gcMs.toFixed(0)} ms, trace ${r.trace}`,
    );
  }
  const speed = median(results.map((m) => m.simS / m.wallS));
  const eps = median(results.map((m) => m.events / m.wallS));
  // Wall time is what the target is about; CPU time shows how much of it other load on the machine took.
  const perCpu = median(results.map((m) => m.simS / m.cpuS));
  console.log(`median ${speed.toFixed(0)} sim-s/wall-s (${perCpu.toFixed(0)} per cpu-s), ${(eps / 1000).toFixed(0)}k events/s (target ${TARGET} sim-s/wall-s)`);
  // ratio = (simulated seconds per wall second) / 1000: >= 1 meets the target.
  console.log(`RESULT sim ratio=${(speed / TARGET).toFixed(3)}`);
}

runMain(main);
