// Blocks of files that are gone leave the workers: a delete (also --strataOnly),
// an overwrite, a file changed in the UFS behind strata's back (metadata sync) and
// an unmount each have the master tell the holders to drop the old blocks with
// their next heartbeat, instead of leaving them to take cache space until evicted.
import { describe, expect, it } from 'vitest';
import type { WorkerActor } from '../actors/worker/worker.js';
import { bed, bytes } from './data-bed.js';
import { blockIdOf } from '../actors/block-id.js';


describe('blocks of files that are gone', () => {
  it('are dropped by the workers holding them after a delete, an overwrite, a UFS change and an unmount', async () => {
    const { sim, cluster, c } = await bed(41, { workers: ['worker-0', 'worker-1'], client: { syncIntervalMs: 0 } });
    const held = (fileId: number) => ['worker-0', 'worker-1'].filter((w) => cluster.actor<WorkerActor>(w).store.has(blockIdOf(fileId)));
    const heartbeats = () => sim.run({ until: sim.now + 700 });
    const write = async (path: string, seed: number, writeType: 'MUST_CACHE' | 'CACHE_THROUGH' = 'CACHE_THROUGH') => {
      const f = await sim.settle(c().writeFile(path, bytes(6000, seed), { writeType, overwrite: true }));
      await heartbeats();
      expect(held(f.fileId), `${path} cached`).not.toEqual([]);
      return f.fileId;
    };

    const deleted = await write('/deleted', 1, 'MUST_CACHE');
    const strataOnly = await write('/strata-only', 2);
    const old = await write('/rewritten', 3);
    await sim.settle(c().delete('/deleted'));
    await sim.settle(c().delete('/strata-only', false, { strataOnly: true }));
    const replacement = await write('/rewritten', 4);
    await heartbeats();
    expect(held(deleted)).toEqual([]);
    expect(held(strataOnly)).toEqual([]);
    expect(held(old)).toEqual([]);
    expect(held(replacement)).not.toEqual([]);

    // Changed in the UFS, to other bytes of the same length: the fingerprint's mtime
    // tells, the next sync replaces the inode, and the old blocks go.
    const changed = await write('/changed', 5);
    await cluster.ufsDisk('sim://ufs').writeFile('changed', bytes(6000, 6));
    const now = await sim.settle(c().getStatus('/changed'));
    expect(now.fileId).not.toBe(changed);
    expect(Buffer.from(await sim.settle(c().readFile('/changed'))).equals(Buffer.from(bytes(6000, 6)))).toBe(true);
    await heartbeats();
    expect(held(changed)).toEqual([]);

    // Unmounted: nothing under the mount point is left cached.
    await cluster.ufsDisk('sim://lake').writeFile('x', bytes(5000, 7));
    await sim.settle(c().mount('/lake', 'sim://lake'));
    const lake = (await sim.settle(c().getStatus('/lake/x'))).fileId;
    expect(Buffer.from(await sim.settle(c().readFile('/lake/x'))).equals(Buffer.from(bytes(5000, 7)))).toBe(true);
    await heartbeats();
    expect(held(lake)).not.toEqual([]);
    await sim.settle(c().unmount('/lake'));
    await heartbeats();
    expect(held(lake)).toEqual([]);
  });
});
