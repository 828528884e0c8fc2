// How a streamed read hands chunks to its sink: in order whether the sink is
// synchronous or returns a promise (later chunks wait for it), and a sink that
// fails, either way, fails the read with its error.
import { describe, expect, it } from 'vitest';
import { bed, bytes } from './data-bed.js';

const buf = (u: Uint8Array): Buffer => Buffer.from(u.buffer, u.byteOffset, u.byteLength);

describe('streamed read sinks', () => {
  it('deliver every chunk in order to a synchronous sink and to a slow asynchronous one', async () => {
    const { sim, c } = await bed(31);
    const data = bytes(3 * 4096 + 777, 8);
    await sim.settle(c().writeFile('/f', data, { writeType: 'MUST_CACHE' }));
    const sync: Uint8Array[] = [];
    await sim.settle(c().read('/f', (chunk) => void sync.push(chunk)));
    expect(sync.length).toBeGreaterThan(4);
    expect(buf(Buffer.concat(sync)).equals(buf(data))).toBe(true);
    const slow: Uint8Array[] = [];
    let busy = false;
    await sim.settle(c().read('/f', async (chunk) => {
      // A chunk arriving while the sink still works on the last one would be out of turn.
      expect(busy).toBe(false);
      busy = true;
      for (let i = 0; i < 5; i++) await Promise.resolve();
      slow.push(chunk);
      busy = false;
    }));
    expect(buf(Buffer.concat(slow)).equals(buf(data))).toBe(true);
  });

  it('fail the read with the sink\'s own error, thrown or rejected', async () => {
    const { sim, c } = await bed(32);
    await sim.settle(c().writeFile('/f', bytes(3 * 4096, 9), { writeType: 'MUST_CACHE' }));
    let n = 0;
    await expect(sim.settle(c().read('/f', () => {
      if (++n === 2) throw new Error('disk full');
    }))).rejects.toThrow('disk full');
    let m = 0;
    await expect(sim.settle(c().read('/f', async () => {
      if (++m === 3) throw new Error('pipe closed');
    }))).rejects.toThrow('pipe closed');
  });
});
