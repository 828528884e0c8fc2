// A worker restart keeps its cache, verified: blocks whose files are whole are
// served from the cache again; a block damaged while the worker was down fails its
// checksum at recovery, is dropped, and the next read gets the file's bytes from
// the UFS (and caches them again) — the damaged bytes are never served.
import { describe, expect, it } from 'vitest';
import type { WorkerActor } from '../actors/worker/worker.js';
import { bed, bytes } from './data-bed.js';
import { blockIdOf } from '../actors/block-id.js';

describe('worker restart', () => {
  it('keeps verified blocks, drops a corrupt one, and re-reads it from the UFS instead of serving it', async () => {
    const { sim, cluster, c } = await bed(46);
    const w = () => cluster.actor<WorkerActor>('worker-0');
    const good = await sim.settle(c().writeFile('/good', bytes(3000, 1)));
    const bad = await sim.settle(c().writeFile('/bad', bytes(3000, 2)));
    const [goodBlock, badBlock] = [blockIdOf(good.fileId), blockIdOf(bad.fileId)];
    expect(w().store.has(goodBlock) && w().store.has(badBlock)).toBe(true);

    await sim.settle(cluster.stop('worker-0'));
    const disk = cluster.disk('worker-0');
    const path = `tiers/mem/${badBlock}`;
    const damaged = await disk.readFile(path);
    damaged[1234]! ^= 0x10;
    await disk.writeFile(path, damaged);
    await disk.fsync(path);
    await sim.settle(cluster.start('worker-0'));
    await sim.run({ until: sim.now + 1000 });

    expect(w().store.stats()).toMatchObject({ recovered: 1, corruptDropped: 1 });
    expect(w().store.has(goodBlock)).toBe(true);
    expect(w().store.has(badBlock)).toBe(false);
    const ufsReads = w().counters.ufsBlockReads;
    expect(Buffer.from(await sim.settle(c().readFile('/good'))).equals(Buffer.from(bytes(3000, 1)))).toBe(true);
    expect(w().counters.ufsBlockReads).toBe(ufsReads);
    expect(Buffer.from(await sim.settle(c().readFile('/bad'))).equals(Buffer.from(bytes(3000, 2)))).toBe(true);
    expect(w().counters.ufsBlockReads).toBe(ufsReads + 1);
    expect(w().store.has(badBlock)).toBe(true);
  });
});
