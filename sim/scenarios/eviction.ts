// Random reads of far more data than the workers' tiny MEM tiers hold: the quota
// is never exceeded at any instant, blocks are evicted, and evicted blocks read
// back correctly (through the UFS again).
import type { WorkerActor } from '../../actors/worker/worker.js';
import { swarmFaults } from '../network.js';
import type { Scenario } from '../scenario.js';
import { buildDataCluster } from './data-cluster.js';

export const eviction: Scenario = {
  name: 'eviction',
  description: 'random reads with a tiny MEM quota; used bytes never exceed the quota and evicted blocks read back correctly',
  // Loss, duplication, reordering and clogs, but no partitions: this scenario is about the tier, and must keep reading.
  network: (rng) => ({ ...swarmFaults(rng), partitionP: 0 }),
  async run(ctx) {
    const { sim, cluster, rng } = ctx;
    const capacity = 512 * 1024;
    const dc = await buildDataCluster(ctx, {
      workers: 2, clients: 2, files: 16, maxFileBytes: 900_000, blockSize: 128 * 1024,
      workerCapacity: capacity, chunkSize: 32 * 1024, diskFaults: false,
    });
    const paths = [...dc.files.keys()];
    const end = 10_000;
    const watch = (): void => {
      for (const id of dc.workers) {
        if (!cluster.isUp(id)) continue;
        const w = cluster.actor<WorkerActor>(id);
        if (!w.store) continue;
        const used = w.store.usedBytes();
        ctx.check(used <= capacity, () => `${id} holds ${used} bytes in a ${capacity}-byte MEM tier`);
      }
      if (sim.now < end) sim.schedule(2, 'scenario', 'watch', watch);
    };
    watch();
    await dc.waitForWorkers();
    const pause = (ms: number) => new Promise<void>((r) => sim.schedule(ms, 'scenario', 'pause', r));
    const runs = dc.clients.map(async (c) => {
      while (sim.now < end) {
        // A failed read backs off a little instead of spinning on the same fault.
        if (!(await dc.read(c, rng.pick(paths)))) await pause(rng.range(50, 200));
      }
    });
    await ctx.settle(Promise.all(runs));
    // Every file once more, now that most of it has been evicted at least once.
    for (const p of paths) await ctx.settle(dc.read(dc.clients[0]!, p));
    const evicted = dc.workers.reduce((n, id) => n + cluster.actor<WorkerActor>(id).counters.blocksEvicted, 0);
    ctx.check(evicted > 0, 'no block was ever evicted: the scenario did not exercise eviction');
    ctx.check(dc.stats.ok >= 10, () => `only ${dc.stats.ok} of ${dc.stats.reads} reads succeeded: too few to judge eviction`);
    ctx.log(`reads=${dc.stats.reads} ok=${dc.stats.ok} evicted=${evicted}`);
  },
};
