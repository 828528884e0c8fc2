// WrittenBlocks: how a worker cuts a streamed file into blocks and writes them
// to its tiered store, with and without a declared length.
import { describe, expect, it } from 'vitest';
import { isStrataError } from '../actors/protocol/envelope.js';
import { WrittenBlocks, type BlockSink } from '../actors/worker/written-blocks.js';
import type { BlockWriter, TieredBlockStore } from '../storage/tiered-store.js';
import { bytes, fixture } from './storage-tiered-helpers.js';

const code = (c: string) => (e: unknown) => isStrataError(e) && e.code === c;

/** Wraps a store's writers to record, in order, when each block is opened, appended to and committed. */
function recording(store: TieredBlockStore): { sink: BlockSink; events: string[] } {
  const events: string[] = [];
  return {
    events,
    sink: {
      openWriter: async (id, length, opts) => {
        const w = await store.openWriter(id, length, opts);
        events.push(`open ${id} ${length}`);
        const wrapped: BlockWriter = {
          blockId: id,
          get written() {
            return w.written;
          },
          append: async (d) => {
            events.push(`append ${id} ${d.byteLength}`);
            await w.append(d);
          },
          commit: async () => {
            const r = await w.commit();
            events.push(`commit ${id}`);
            return r;
          },
          abort: async () => {
            events.push(`abort ${id}`);
            await w.abort();
          },
        };
        return wrapped;
      },
    },
  };
}

function setup(opts: { quota?: number; length?: number; onlyCopy?: boolean; blockSize?: number } = {}) {
  const f = fixture([{ alias: 'MEM', quotas: [opts.quota ?? 1000] }]);
  return f.open().then((store) => {
    const rec = recording(store);
    const logs: string[] = [];
    const stored: Array<[number, number]> = [];
    const blocks = new WrittenBlocks({
      store: rec.sink,
      blockId: (i) => 100 + i,
      blockSize: opts.blockSize ?? 10,
      length: opts.length,
      onlyCopy: opts.onlyCopy ?? false,
      self: 'worker-t',
      log: { log: (_l, msg) => logs.push(msg) },
      onStored: (id, n) => stored.push([id, n]),
    });
    return { store, blocks, events: rec.events, logs, stored };
  });
}

const file = bytes(3, 25);
/** Pieces that straddle block boundaries (blocks of 10). */
const pieces = [file.subarray(0, 4), file.subarray(4, 13), file.subarray(13, 20), file.subarray(20)];

describe('WrittenBlocks', () => {
  it('with a declared length, writes each block as its bytes arrive and commits it when full', async () => {
    const { store, blocks, events, stored } = await setup({ length: 25 });
    await blocks.add(pieces[0]!);
    // The first block is open and has its first bytes before the rest arrive.
    expect(events).toEqual(['open 100 10', 'append 100 4']);
    await blocks.add(pieces[1]!);
    expect(events.slice(2)).toEqual(['append 100 6', 'open 101 10', 'append 101 3']);
    await blocks.add(pieces[2]!);
    await blocks.add(pieces[3]!);
    await blocks.finish();
    // The last block's length came from the declared length: 5 bytes.
    expect(events).toContain('open 102 5');
    expect(stored).toEqual([[100, 10], [101, 10], [102, 5]]);
    expect(blocks.stored).toEqual([100, 101, 102]);
    expect(await store.get(100)).toEqual(file.subarray(0, 10));
    expect(await store.get(101)).toEqual(file.subarray(10, 20));
    expect(await store.get(102)).toEqual(file.subarray(20));
    expect(store.isPersisted(100)).toBe(true);
  });

  it('without a declared length, keeps a block\'s pieces until it is full (or the file ends), then writes them', async () => {
    const { store, blocks, events } = await setup({ onlyCopy: true });
    await blocks.add(pieces[0]!);
    expect(events).toEqual([]);
    await blocks.add(pieces[1]!);
    await blocks.add(pieces[2]!);
    await blocks.add(pieces[3]!);
    await blocks.finish();
    expect(events.filter((e) => e.startsWith('open'))).toEqual(['open 100 10', 'open 101 10', 'open 102 5']);
    expect(events.filter((e) => e.startsWith('append 100'))).toEqual(['append 100 4', 'append 100 6']);
    expect(blocks.stored).toEqual([100, 101, 102]);
    expect(Buffer.concat([(await store.get(100))!, (await store.get(101))!, (await store.get(102))!]).equals(file)).toBe(true);
    // The only copy: unpersisted until the master says otherwise.
    expect(store.isPersisted(101)).toBe(false);
  });

  it('refuses more bytes than declared, and fewer at the end', async () => {
    const more = (await setup({ length: 12 })).blocks;
    await more.add(file.subarray(0, 10));
    await expect(more.add(file.subarray(10, 13))).rejects.toSatisfy(code('INVALID_ARGUMENT'));
    await expect(more.finish()).rejects.toSatisfy(code('INVALID_ARGUMENT'));
    const fewer = await setup({ length: 12 });
    await fewer.blocks.add(file.subarray(0, 11));
    await expect(fewer.blocks.finish()).rejects.toSatisfy(code('INVALID_ARGUMENT'));
    await fewer.blocks.abandon();
    // The half-written second block gave its space back; the first was committed and is the caller's to drop.
    expect(fewer.store.usedBytes()).toBe(10);
    expect(fewer.blocks.stored).toEqual([100]);
  });

  it('the only copy: a block the store cannot take fails the write with RESOURCE_EXHAUSTED', async () => {
    for (const length of [25, undefined]) {
      const { blocks, store } = await setup({ quota: 15, onlyCopy: true, ...(length === undefined ? {} : { length }) });
      const failed = (async () => {
        for (const p of pieces) await blocks.add(p);
        await blocks.finish();
      })();
      await expect(failed).rejects.toSatisfy(code('RESOURCE_EXHAUSTED'));
      await blocks.abandon();
      expect(blocks.stored).toEqual([100]);
      expect(store.usedBytes()).toBe(10);
    }
  });

  it('written through: a block the store cannot take only costs the cache, and later blocks are still cached', async () => {
    const { blocks, store, logs } = await setup({ quota: 15, length: 25 });
    await blocks.add(pieces[0]!);
    // Block 101 starts in this piece, and cannot be reserved while block 100 holds 10 of the 15 bytes.
    await blocks.add(pieces[1]!);
    await blocks.add(pieces[2]!);
    await store.remove(100);
    await blocks.add(pieces[3]!);
    await blocks.finish();
    expect(blocks.stored).toEqual([100, 102]);
    expect(logs.some((m) => m.includes('block 101 written through but not cached'))).toBe(true);
    expect(await store.get(102)).toEqual(file.subarray(20));
  });

  it('abandon aborts the block being written and gives its space back', async () => {
    const { blocks, store, events } = await setup({ length: 25 });
    await blocks.add(pieces[0]!);
    await blocks.add(pieces[1]!);
    await blocks.abandon();
    expect(events).toContain('abort 101');
    // Block 100 was committed; block 101's reservation is gone.
    expect(store.usedBytes()).toBe(10);
    await expect(blocks.add(pieces[2]!)).rejects.toSatisfy(code('FAILED_PRECONDITION'));
  });
});
