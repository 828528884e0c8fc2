// Random reads from several clients while the network misbehaves and workers
// (and the master) crash and restart. Every read must return exactly the UFS
// bytes or a clean error; once the faults stop, every file must be readable.
import { MASTER_ID } from '../../actors/master/master.js';
import { LOCAL_DISK } from '../env.js';
import type { Scenario } from '../scenario.js';
import { buildDataCluster, restartDown } from './data-cluster.js';
import { healMaster } from './master-ops.js';

export const readThrough: Scenario = {
  name: 'read-through',
  description: 'random reads under network faults and worker/master crashes; every read returns exactly the UFS bytes or a clean error',
  async run(ctx) {
    const { sim, net, cluster, rng } = ctx;
    const dc = await buildDataCluster(ctx, {
      workers: 4, clients: 2, files: 12, maxFileBytes: 1_200_000, blockSize: 256 * 1024,
      workerCapacity: 64 * 1024 * 1024, chunkSize: 64 * 1024, diskFaults: true,
    });
    const paths = [...dc.files.keys()];
    const servers = [MASTER_ID, ...dc.workers];
    const faultEnd = sim.now + 12_000;

    await dc.waitForWorkers();
    const pending: Array<Promise<boolean>> = [];
    for (const c of dc.clients) {
      const loop = (): void => {
        if (sim.now >= faultEnd) return;
        pending.push(dc.read(c, rng.pick(paths)));
        sim.schedule(rng.range(40, 250), 'scenario', 'read', loop);
      };
      sim.schedule(rng.range(0, 100), 'scenario', 'read', loop);
    }
    for (let t = sim.now + rng.range(500, 2500); t < faultEnd; t += rng.range(500, 2500)) {
      sim.at(t, 'scenario', 'crash', () => {
        // Workers die often, the master now and then.
        const id = rng.chance(0.15) ? MASTER_ID : rng.pick(dc.workers);
        if (!cluster.isUp(id)) return;
        cluster.crash(id);
        sim.schedule(rng.range(50, 3000), 'scenario', 'restart', () => {
          if (cluster.state(id) === 'down') cluster.start(id).catch(() => undefined);
        });
      });
    }
    await ctx.run({ until: faultEnd });
    await ctx.settle(Promise.all(pending));

    // Liveness: faults off, everything restarted; every file must now be readable from every client.
    net.faultsOff();
    for (const id of servers) cluster.setDiskModel(id, LOCAL_DISK);
    ctx.check(await healMaster(ctx), 'the master did not come back after the faults stopped');
    await restartDown(ctx, dc.workers);
    await ctx.run({ until: sim.now + 5000 });
    for (const c of dc.clients) {
      for (const p of paths) {
        const ok = await ctx.settle(dc.read(c, p));
        ctx.check(ok, `${c} could not read ${p} after the faults stopped`);
      }
    }
    ctx.log(`reads=${dc.stats.reads} ok=${dc.stats.ok} cleanErrors=${dc.stats.cleanErrors} bytes=${dc.stats.bytes}`);
  },
};
