// Streams written through a worker in the simulator: with a declared length the
// worker writes blocks as they arrive, without one it keeps each block's pieces
// until the block is full; either way every write type reads back byte for byte.
// A stream that yields other than its declared length fails cleanly, leaving
// nothing on the worker or in the UFS.
import { describe, expect, it } from 'vitest';
import { isStrataError } from '../actors/protocol/envelope.js';
import type { WorkerActor } from '../actors/worker/worker.js';
import { bed, bytes } from './data-bed.js';

/** The bytes in uneven pieces (blocks are 4096 bytes, chunks 1024), so pieces straddle both. */
async function* pieces(data: Uint8Array): AsyncGenerator<Uint8Array> {
  for (let off = 0, i = 0; off < data.byteLength; i++) {
    const n = 700 + ((i * 379) % 1500);
    yield data.subarray(off, Math.min(data.byteLength, off + n));
    off += n;
  }
}

describe('streamed writes', () => {
  it('round-trip with and without a declared length, for every write type', async () => {
    const { sim, cluster, c } = await bed(21);
    const ufs = cluster.ufsDisk('sim://ufs');
    const data = bytes(4096 * 3 + 1234, 5);
    for (const writeType of ['MUST_CACHE', 'CACHE_THROUGH', 'THROUGH', 'ASYNC_THROUGH'] as const) {
      for (const length of [data.byteLength, undefined]) {
        const path = `/${writeType}-${length ?? 'stream'}`;
        const f = await sim.settle(c().writeFile(path, () => pieces(data), { writeType, ...(length === undefined ? {} : { length }) }));
        expect(f.length).toBe(data.byteLength);
        expect(f.blocks.map((b) => b.length)).toEqual([4096, 4096, 4096, 1234]);
        if (writeType === 'CACHE_THROUGH' || writeType === 'THROUGH') expect((await ufs.stat(path.slice(1)))?.size).toBe(data.byteLength);
        const w = cluster.actor<WorkerActor>('worker-0');
        const cached = f.blocks.filter((b) => w.store.has(b.id)).length;
        expect(cached).toBe(writeType === 'THROUGH' ? 0 : 4);
        expect(Buffer.from(await sim.settle(c().readFile(path))).equals(Buffer.from(data))).toBe(true);
      }
    }
  });

  it('a stream that yields fewer or more bytes than declared fails with INVALID_ARGUMENT and leaves nothing behind', async () => {
    const { sim, cluster, c } = await bed(22);
    const ufs = cluster.ufsDisk('sim://ufs');
    const data = bytes(4096 * 2 + 100, 6);
    const w = () => cluster.actor<WorkerActor>('worker-0');
    for (const writeType of ['MUST_CACHE', 'CACHE_THROUGH'] as const) {
      for (const declared of [data.byteLength - 1, data.byteLength + 1]) {
        const path = `/${writeType}-${declared}`;
        const err = await sim.settle(c().writeFile(path, () => pieces(data), { writeType, length: declared }).then(() => undefined, (e: unknown) => e));
        expect(isStrataError(err, 'INVALID_ARGUMENT')).toBe(true);
        expect((err as Error).message).toMatch(/declared to hold/);
        await sim.run({ until: sim.now + 500 });
        expect(w().store.blockIds()).toEqual([]);
        expect(w().store.usedBytes()).toBe(0);
        expect((await ufs.list('')).filter((n) => n.includes(writeType))).toEqual([]);
      }
    }
    await expect(sim.settle(c().writeFile('/bad', () => pieces(data), { length: -1 }))).rejects.toSatisfy((e: unknown) => isStrataError(e, 'INVALID_ARGUMENT'));
  });
});
