// Writes through to the UFS (THROUGH, CACHE_THROUGH) go to a temporary name beside
// the file and are published by the master when it completes the file: no reader
// of the UFS sees a half-written file, a rewrite replaces the old file whole, and a
// write that does not complete leaves nothing behind.
import { describe, expect, it } from 'vitest';
import type { WorkerActor } from '../actors/worker/worker.js';
import { bed, bytes } from './data-bed.js';

/** A source that sends `first`, then waits for `open()` before sending `rest` (or failing). */
function gated(first: Uint8Array, rest: Uint8Array | Error) {
  let open!: () => void;
  const gate = new Promise<void>((resolve) => (open = resolve));
  async function* gen(): AsyncIterable<Uint8Array> {
    yield first;
    await gate;
    if (rest instanceof Error) throw rest;
    yield rest;
  }
  return { source: gen(), open };
}

describe('publishing writes to the UFS', () => {
  for (const writeType of ['THROUGH', 'CACHE_THROUGH'] as const) {
    it(`${writeType}: the UFS file is replaced whole at completion, never seen half-written`, async () => {
      const { sim, cluster, c } = await bed(21);
      const ufs = cluster.ufsDisk('sim://ufs');
      const old = bytes(6000, 1);
      await sim.settle(c().writeFile('/f', old, { writeType }));
      const before = await ufs.stat('f');
      // A rewrite of the same length: mid-write the UFS still holds the old file, whole.
      const next = bytes(6000, 2);
      const g = gated(next.subarray(0, 3000), next.subarray(3000));
      const writing = c().writeFile('/f', g.source, { writeType, overwrite: true });
      await sim.run({ until: sim.now + 300 });
      expect(Buffer.from(await ufs.readFile('f')).equals(Buffer.from(old))).toBe(true);
      // The write in progress is in the UFS under a hidden name strata never lists.
      expect((await ufs.list('')).filter((n) => n !== 'f')).toEqual([expect.stringMatching(/^\.f\.strata-\d+\.tmp$/)]);
      expect((await sim.settle(c().listStatus('/'))).map((f) => f.name)).toEqual(['f']);
      g.open();
      const done = await sim.settle(writing);
      expect(Buffer.from(await ufs.readFile('f')).equals(Buffer.from(next))).toBe(true);
      expect(await ufs.list('')).toEqual(['f']);
      const after = await ufs.stat('f');
      expect(done.mtimeMs).toBe(after!.mtimeMs);
      expect(after!.mtimeMs).toBeGreaterThan(before!.mtimeMs);
      expect(Buffer.from(await sim.settle(c().readFile('/f'))).equals(Buffer.from(next))).toBe(true);
    });
  }

  it('an aborted write leaves no file in the UFS, and an overwritten file in place', async () => {
    const { sim, cluster, c } = await bed(22);
    const ufs = cluster.ufsDisk('sim://ufs');
    const old = bytes(5000, 3);
    await sim.settle(c().writeFile('/kept', old));
    const g = gated(bytes(2500, 4), new Error('the source broke'));
    const writing = c().writeFile('/kept', g.source, { overwrite: true, writeType: 'THROUGH' }).then(() => 'written', (e: Error) => e.message);
    await sim.run({ until: sim.now + 300 });
    g.open();
    expect(await sim.settle(writing)).toBe('the source broke');
    await sim.run({ until: sim.now + 300 });
    expect(await ufs.list('')).toEqual(['kept']);
    expect(Buffer.from(await ufs.readFile('kept')).equals(Buffer.from(old))).toBe(true);
  });

  it('a write abandoned by a crashed client leaves no file in the UFS', async () => {
    const { sim, cluster, c } = await bed(23);
    const ufs = cluster.ufsDisk('sim://ufs');
    const g = gated(bytes(2500, 5), bytes(10, 6));
    void c().writeFile('/lost', g.source, { writeType: 'THROUGH' }).catch(() => undefined);
    await sim.run({ until: sim.now + 300 });
    expect((await ufs.list('')).length).toBe(1);
    cluster.crash('client-0');
    // The worker gives the stream up after its idle timeout.
    await sim.run({ until: sim.now + 3000 });
    expect(await ufs.list('')).toEqual([]);
  });
});

describe('a delete racing an open write', () => {
  for (const writeType of ['THROUGH', 'CACHE_THROUGH'] as const) {
    it(`${writeType}: the deleted file is not recreated in the UFS, and nothing of the write is left`, async () => {
      const { sim, cluster, c } = await bed(24);
      const ufs = cluster.ufsDisk('sim://ufs');
      const g = gated(bytes(2500, 7), bytes(5000, 8));
      const writing = c().writeFile('/raced', g.source, { writeType }).then(() => 'written', (e: { code?: string }) => e.code);
      await sim.run({ until: sim.now + 300 });
      await sim.settle(c().delete('/raced'));
      // The rest of the file streams to the worker after the delete.
      g.open();
      expect(await sim.settle(writing)).toBe('NOT_FOUND');
      await sim.run({ until: sim.now + 300 });
      expect(await ufs.list('')).toEqual([]);
      expect(await sim.settle(c().exists('/raced'))).toBe(false);
      // No block of the deleted file stays cached either.
      expect(cluster.actor<WorkerActor>('worker-0').store.usedBytes()).toBe(0);
    });
  }
});
