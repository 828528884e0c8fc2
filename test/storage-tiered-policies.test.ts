import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { GreedyAllocator, MaxFreeAllocator, RoundRobinAllocator, createAllocator } from '../storage/allocator.js';
import { LrfuAnnotator, LruAnnotator, RankedSet, type Annotator, type Score } from '../storage/annotator.js';
import { TIERED_STORE_PROPERTY_KEYS, readTieredStoreLayout } from '../storage/tiered-conf.js';
import { decodeMeta, encodeMeta } from '../storage/block-file.js';

const space = (...free: number[]) => free.map((availableBytes) => ({ availableBytes }));

describe('allocators', () => {
  it('MaxFree picks the directory with the most free space, the first on ties, none when nothing fits', () => {
    const a = new MaxFreeAllocator();
    expect(a.choose(0, space(10, 50, 30), 5)).toBe(1);
    expect(a.choose(0, space(40, 50, 50), 5)).toBe(1);
    expect(a.choose(0, space(10, 50, 30), 51)).toBeUndefined();
  });

  it('Greedy picks the first directory with enough space', () => {
    const a = new GreedyAllocator();
    expect(a.choose(0, space(10, 50, 30), 5)).toBe(0);
    expect(a.choose(0, space(10, 50, 30), 20)).toBe(1);
    expect(a.choose(0, space(10, 50, 30), 60)).toBeUndefined();
  });

  it('RoundRobin rotates per tier and skips directories without room', () => {
    const a = new RoundRobinAllocator();
    const dirs = space(100, 100, 100);
    expect([0, 1, 2, 3].map(() => a.choose(0, dirs, 10))).toEqual([0, 1, 2, 0]);
    // Another tier has its own cursor.
    expect(a.choose(1, dirs, 10)).toBe(0);
    // Directory 1 is next for tier 0 but too full: it goes on to 2, then continues from there.
    expect(a.choose(0, space(100, 5, 100), 10)).toBe(2);
    expect(a.choose(0, space(100, 5, 100), 10)).toBe(0);
    expect(a.choose(0, space(1, 1, 1), 10)).toBeUndefined();
  });

  it('every allocator answers a directory with room whenever one exists', () => {
    fc.assert(
      fc.property(fc.constantFrom('MaxFree', 'RoundRobin', 'Greedy' as const), fc.array(fc.nat(100), { minLength: 1, maxLength: 5 }), fc.nat(120), (kind, free, need) => {
        const a = createAllocator(kind);
        const i = a.choose(0, space(...free), need);
        if (free.some((f) => f >= need)) expect(free[i!]!).toBeGreaterThanOrEqual(need);
        else expect(i).toBeUndefined();
      }),
    );
  });
});

/** Replays accesses ('c' creates, others access) and returns the ids in eviction order. */
function order(ann: Annotator, accesses: number[]): number[] {
  const scores = new Map<number, Score>();
  const set = new RankedSet();
  for (const id of accesses) {
    const old = scores.get(id);
    if (old) set.delete(id, old);
    const s = old ? ann.accessed(old) : ann.created();
    scores.set(id, s);
    set.insert(id, s);
  }
  return [...set.ids()];
}

describe('annotators', () => {
  it('LRU orders by last access', () => {
    expect(order(new LruAnnotator(), [1, 2, 3, 1, 2])).toEqual([3, 1, 2]);
  });

  it('LRFU with the defaults lets a frequently used older block outrank a once-used newer one', () => {
    const accesses = [1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2];
    expect(order(new LrfuAnnotator(0.25, 2), accesses)).toEqual([2, 1]);
    // LRU on the same history evicts the frequent block, which was used less recently.
    expect(order(new LruAnnotator(), accesses)).toEqual([1, 2]);
  });

  it('LRFU forgets old frequency: enough later accesses to others make the old favourite the victim', () => {
    const accesses = [1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 2];
    expect(order(new LrfuAnnotator(0.25, 2), accesses)[0]).toBe(1);
  });

  it('LRFU with step factor 0 is LFU; with step 1 and a large attenuation it is LRU', () => {
    const accesses = [1, 1, 1, 2, 2, 3, 4, 4, 4, 4];
    expect(order(new LrfuAnnotator(0, 2), accesses)).toEqual([3, 2, 1, 4]);
    expect(order(new LrfuAnnotator(1, 1e6), [1, 1, 1, 2, 3, 1, 2])).toEqual(order(new LruAnnotator(), [1, 1, 1, 2, 3, 1, 2]));
  });

  it('LRFU ranks agree with CRF values computed at the current time', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 5 }), { minLength: 1, maxLength: 60 }), fc.double({ min: 0, max: 1, noNaN: true }), fc.double({ min: 2, max: 10, noNaN: true }), (accesses, step, att) => {
        const ann = new LrfuAnnotator(step, att);
        const scores = new Map<number, Score>();
        for (const id of accesses) {
          const old = scores.get(id);
          scores.set(id, old ? ann.accessed(old) : ann.created());
        }
        // The direct definition: CRF(now) = sum over accesses of (1/att)^(step * age).
        const now = accesses.length;
        const crf = new Map<number, number>();
        accesses.forEach((id, i) => crf.set(id, (crf.get(id) ?? 0) + Math.pow(1 / att, step * (now - (i + 1)))));
        for (const [id, s] of scores) expect(ann.crfNow(s)).toBeCloseTo(crf.get(id)!, 6);
        const ids = [...scores.keys()];
        for (const a of ids) for (const b of ids) {
          const da = crf.get(a)!;
          const db = crf.get(b)!;
          if (Math.abs(da - db) > 1e-9 * Math.max(da, db)) expect(scores.get(a)!.rank < scores.get(b)!.rank).toBe(da < db);
        }
      }),
    );
  });

  it('rejects factors outside Alluxio’s ranges', () => {
    expect(() => new LrfuAnnotator(1.5, 2)).toThrow(RangeError);
    expect(() => new LrfuAnnotator(0.25, 1.5)).toThrow(RangeError);
  });
});

describe('RankedSet', () => {
  it('stays sorted under random inserts and deletes', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.boolean(), fc.integer({ min: 0, max: 30 }), fc.integer({ min: 0, max: 5 }))), (ops) => {
        const set = new RankedSet();
        const model = new Map<number, Score>();
        for (const [ins, id, rank] of ops) {
          const old = model.get(id);
          if (ins && !old) {
            const s = { rank, tick: id, crf: 1 };
            set.insert(id, s);
            model.set(id, s);
          } else if (!ins && old) {
            expect(set.delete(id, old)).toBe(true);
            model.delete(id);
          }
        }
        const expected = [...model.entries()].sort((a, b) => a[1].rank - b[1].rank || a[0] - b[0]).map(([id]) => id);
        expect([...set.ids()]).toEqual(expected);
        expect(set.size).toBe(model.size);
      }),
    );
  });
});

describe('block metadata records', () => {
  it('round-trip, and any flipped bit is detected', () => {
    fc.assert(
      fc.property(fc.nat({ max: Number.MAX_SAFE_INTEGER }), fc.nat({ max: 2 ** 40 }), fc.nat({ max: 0xffffffff }), fc.constantFrom('MEM', 'SSD', 'HDD' as const), fc.nat(255), (blockId, length, crc, tier, bit) => {
        const rec = { blockId, length, crc, tier };
        const enc = encodeMeta(rec);
        expect(decodeMeta(enc)).toEqual(rec);
        enc[bit >> 3]! ^= 1 << (bit & 7);
        expect(typeof decodeMeta(enc)).toBe('string');
      }),
    );
    expect(decodeMeta(new Uint8Array(31))).toMatch(/expected 32/);
  });
});

describe('tiered store properties', () => {
  it('lists every key with a default, and reads Alluxio-style values', () => {
    const names = TIERED_STORE_PROPERTY_KEYS.map((k) => k.name);
    expect(names).toContain('strata.worker.tieredstore.levels');
    expect(names).toContain('strata.worker.tieredstore.level2.dirs.mediumtype');
    expect(names).toContain('strata.worker.block.annotator.lrfu.attenuation.factor');
    const conf: Record<string, string> = {
      'strata.worker.tieredstore.levels': '2',
      'strata.worker.tieredstore.level0.dirs.path': '/dev/shm/strata',
      'strata.worker.tieredstore.level0.dirs.quota': '1GB',
      'strata.worker.tieredstore.level1.dirs.path': '/ssd0, /ssd1,/ssd2',
      'strata.worker.tieredstore.level1.dirs.quota': '10GB,20GB',
      'strata.worker.allocator.class': 'alluxio.worker.block.allocator.RoundRobinAllocator',
      'strata.worker.block.annotator.class': 'LRFU',
      'strata.worker.block.annotator.lrfu.step.factor': '0.5',
    };
    const layout = readTieredStoreLayout((k) => conf[k]);
    expect(layout.allocator).toBe('RoundRobin');
    expect(layout.annotator).toEqual({ kind: 'LRFU', stepFactor: 0.5, attenuationFactor: 2 });
    expect(layout.levels.map((l) => l.alias)).toEqual(['MEM', 'SSD']);
    expect(layout.levels[1]!.dirs).toEqual([
      { path: '/ssd0', quotaBytes: 10 * 1024 ** 3, mediumType: 'SSD' },
      { path: '/ssd1', quotaBytes: 20 * 1024 ** 3, mediumType: 'SSD' },
      { path: '/ssd2', quotaBytes: 20 * 1024 ** 3, mediumType: 'SSD' },
    ]);
    expect(() => readTieredStoreLayout((k) => (k === 'strata.worker.allocator.class' ? 'Fancy' : conf[k]))).toThrow(/allocator\.class/);
    expect(() => readTieredStoreLayout((k) => (k === 'strata.worker.tieredstore.level1.dirs.quota' ? 'lots' : conf[k]))).toThrow(/level1\.dirs\.quota/);
  });
});
