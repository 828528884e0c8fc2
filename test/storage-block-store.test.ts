import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { isStrataError } from '../actors/protocol/envelope.js';
import { BlockStore, LruEvictor, type Evictor } from '../storage/block-store.js';

const block = (n: number, fill = 1): Uint8Array => new Uint8Array(n).fill(fill);
const code = (c: string) => (e: unknown) => isStrataError(e) && e.code === c;

describe('BlockStore', () => {
  it('stores, reads and removes blocks within the quota', () => {
    const s = new BlockStore({ capacityBytes: 100 });
    expect(s.put(1, block(10, 7))).toEqual({ evicted: [] });
    expect(s.has(1)).toBe(true);
    expect(s.get(1)).toEqual(block(10, 7));
    expect(s.get(2)).toBeUndefined();
    expect(s.usedBytes).toBe(10);
    expect(s.availableBytes).toBe(90);
    expect(s.remove(1)).toBe(true);
    expect(s.remove(1)).toBe(false);
    expect(s.usedBytes).toBe(0);
    expect(s.blockIds()).toEqual([]);
  });

  it('evicts the least recently used block first; a get counts as a use', () => {
    const s = new BlockStore({ capacityBytes: 30 });
    s.put(1, block(10));
    s.put(2, block(10));
    s.put(3, block(10));
    s.get(1);
    expect(s.put(4, block(10)).evicted).toEqual([2]);
    expect(s.put(5, block(10)).evicted).toEqual([3]);
    expect(s.has(3)).toBe(false);
    // has() is not a use: 1 is still the oldest.
    s.has(1);
    expect(s.put(6, block(10)).evicted).toEqual([1]);
    expect(s.blockIds()).toEqual([4, 5, 6]);
  });

  it('evicts as many blocks as it takes, oldest first', () => {
    const s = new BlockStore({ capacityBytes: 40 });
    for (let i = 1; i <= 4; i++) s.put(i, block(10));
    expect(s.put(9, block(25)).evicted).toEqual([1, 2, 3]);
    expect(s.usedBytes).toBe(35);
  });

  it('never evicts a pinned block, and pins nest', () => {
    const s = new BlockStore({ capacityBytes: 30 });
    s.put(1, block(10));
    s.put(2, block(10));
    s.put(3, block(10));
    s.pin(1);
    s.pin(1);
    expect(s.pinnedBytes).toBe(10);
    expect(s.put(4, block(10)).evicted).toEqual([2]);
    expect(s.put(5, block(20)).evicted).toEqual([3, 4]);
    s.unpin(1);
    expect(s.isPinned(1)).toBe(true);
    expect(s.put(6, block(10)).evicted).toEqual([5]);
    s.unpin(1);
    expect(s.pinnedBytes).toBe(0);
    expect(s.put(7, block(20)).evicted).toEqual([1]);
  });

  it('refuses a block that cannot fit even after evicting everything evictable, and evicts nothing', () => {
    const s = new BlockStore({ capacityBytes: 30, tierAlias: 'MEM' });
    s.put(1, block(10));
    s.put(2, block(10));
    s.pin(2);
    expect(() => s.put(3, block(31))).toThrow(/block 3 of 31 bytes does not fit in the MEM tier: capacity 30/);
    let err: unknown;
    try {
      s.put(3, block(21));
    } catch (e) {
      err = e;
    }
    expect(isStrataError(err, 'RESOURCE_EXHAUSTED')).toBe(true);
    expect((err as Error).message).toMatch(/10 bytes pinned/);
    expect(s.blockIds()).toEqual([1, 2]);
    expect(s.usedBytes).toBe(20);
    expect(s.drainChanges()).toEqual({ added: [1, 2], removed: [] });
    // Exactly filling what pins leave is fine.
    expect(s.put(3, block(20)).evicted).toEqual([1]);
  });

  it('replacing a block frees its old bytes and keeps its pins', () => {
    const s = new BlockStore({ capacityBytes: 30 });
    s.put(1, block(10));
    s.put(2, block(10));
    s.pin(2);
    expect(s.put(2, block(20, 9)).evicted).toEqual([]);
    expect(s.usedBytes).toBe(30);
    expect(s.pinnedBytes).toBe(20);
    expect(s.put(2, block(25)).evicted).toEqual([1]);
    expect(s.usedBytes).toBe(25);
    expect(s.drainChanges()).toEqual({ added: [2], removed: [] });
  });

  it('pin errors: missing block, unpinned block, removing a pinned block', () => {
    const s = new BlockStore({ capacityBytes: 10 });
    expect(() => s.pin(1)).toThrow(expect.objectContaining({ code: 'NOT_FOUND' }));
    s.put(1, block(1));
    expect(() => s.unpin(1)).toThrow(expect.objectContaining({ code: 'FAILED_PRECONDITION' }));
    s.pin(1);
    expect(() => s.remove(1)).toThrow(expect.objectContaining({ code: 'FAILED_PRECONDITION' }));
    s.unpin(1);
    expect(s.remove(1)).toBe(true);
    expect(() => s.put(-1, block(1))).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
  });

  it('drainChanges reports net additions and removals since the last drain', () => {
    const s = new BlockStore({ capacityBytes: 30 });
    expect(s.drainChanges()).toEqual({ added: [], removed: [] });
    s.put(2, block(10));
    s.put(1, block(10));
    expect(s.drainChanges()).toEqual({ added: [1, 2], removed: [] });
    expect(s.drainChanges()).toEqual({ added: [], removed: [] });

    s.remove(1);
    s.put(3, block(10));
    s.remove(3); // added then removed: the master never needs to hear of it
    expect(s.drainChanges()).toEqual({ added: [], removed: [1] });

    s.remove(2);
    s.put(2, block(10)); // removed then re-added: still there as far as the master knows
    expect(s.drainChanges()).toEqual({ added: [], removed: [] });

    s.put(4, block(10));
    s.put(5, block(10));
    s.put(6, block(10)); // evicts 2
    expect(s.drainChanges()).toEqual({ added: [4, 5, 6], removed: [2] });
    s.put(7, block(30)); // evicts 4, 5, 6
    expect(s.drainChanges()).toEqual({ added: [7], removed: [4, 5, 6] });
  });

  it('takes a pluggable evictor', () => {
    // First in, first out: reads do not protect a block.
    class FifoEvictor implements Evictor {
      private readonly q = new Set<number>();
      added(id: number): void {
        this.q.add(id);
      }
      accessed(): void {}
      removed(id: number): void {
        this.q.delete(id);
      }
      order(): Iterable<number> {
        return this.q;
      }
    }
    const s = new BlockStore({ capacityBytes: 20, evictor: new FifoEvictor() });
    s.put(1, block(10));
    s.put(2, block(10));
    s.get(1);
    expect(s.put(3, block(10)).evicted).toEqual([1]);
  });

  it('LruEvictor orders by last use', () => {
    const e = new LruEvictor();
    e.added(1);
    e.added(2);
    e.added(3);
    e.accessed(1);
    e.accessed(99); // unknown blocks are ignored
    e.removed(2);
    expect([...e.order()]).toEqual([3, 1]);
  });
});

type Op =
  | { k: 'put'; id: number; size: number }
  | { k: 'get'; id: number }
  | { k: 'remove'; id: number }
  | { k: 'pin'; id: number }
  | { k: 'unpin'; id: number }
  | { k: 'drain' };

const id = fc.integer({ min: 0, max: 12 });
const op: fc.Arbitrary<Op> = fc.oneof(
  { weight: 5, arbitrary: fc.record({ k: fc.constant('put' as const), id, size: fc.integer({ min: 0, max: 60 }) }) },
  { weight: 3, arbitrary: fc.record({ k: fc.constant('get' as const), id }) },
  { weight: 1, arbitrary: fc.record({ k: fc.constant('remove' as const), id }) },
  { weight: 1, arbitrary: fc.record({ k: fc.constant('pin' as const), id }) },
  { weight: 1, arbitrary: fc.record({ k: fc.constant('unpin' as const), id }) },
  { weight: 1, arbitrary: fc.record({ k: fc.constant('drain' as const) }) },
);

describe('BlockStore (property)', () => {
  it('never exceeds its quota and behaves like a plain LRU model', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 150 }), fc.array(op, { maxLength: 120 }), (capacity, ops) => {
        // The evictor checks the quota at every step the store takes, not only between calls.
        let store!: BlockStore;
        const lru = new LruEvictor();
        const watching: Evictor = {
          added: (b, n) => {
            expect(store.usedBytes).toBeLessThanOrEqual(capacity);
            lru.added(b);
            void n;
          },
          accessed: (b) => lru.accessed(b),
          removed: (b) => lru.removed(b),
          order: () => lru.order(),
        };
        store = new BlockStore({ capacityBytes: capacity, evictor: watching });

        // Model: recency list (oldest first), sizes, pin counts, and the ids at the last drain.
        let recency: number[] = [];
        const sizes = new Map<number, number>();
        const pins = new Map<number, number>();
        let atLastDrain = new Set<number>();
        const touch = (b: number) => {
          recency = recency.filter((x) => x !== b);
          recency.push(b);
        };
        const drop = (b: number) => {
          recency = recency.filter((x) => x !== b);
          sizes.delete(b);
        };
        const used = () => [...sizes.values()].reduce((a, b) => a + b, 0);
        const pinnedCount = (b: number) => pins.get(b) ?? 0;

        for (const o of ops) {
          switch (o.k) {
            case 'put': {
              const old = sizes.get(o.id) ?? 0;
              const pinnedOthers = [...sizes].filter(([b]) => b !== o.id && pinnedCount(b) > 0).reduce((a, [, n]) => a + n, 0);
              if (o.size + pinnedOthers > capacity) {
                const before = store.blockIds();
                expect(() => store.put(o.id, block(o.size))).toThrow(expect.objectContaining({ code: 'RESOURCE_EXHAUSTED' }));
                expect(store.blockIds()).toEqual(before);
                break;
              }
              const expected: number[] = [];
              let need = used() - old + o.size - capacity;
              for (const b of recency) {
                if (need <= 0) break;
                if (b === o.id || pinnedCount(b) > 0) continue;
                expected.push(b);
                need -= sizes.get(b)!;
              }
              for (const b of expected) drop(b);
              const { evicted } = store.put(o.id, block(o.size));
              expect(evicted).toEqual(expected);
              for (const b of evicted) expect(pinnedCount(b)).toBe(0);
              sizes.set(o.id, o.size);
              touch(o.id);
              break;
            }
            case 'get': {
              const got = store.get(o.id);
              expect(got?.byteLength).toBe(sizes.get(o.id));
              if (sizes.has(o.id)) touch(o.id);
              break;
            }
            case 'remove': {
              if (pinnedCount(o.id) > 0) {
                expect(() => store.remove(o.id)).toThrow();
              } else {
                expect(store.remove(o.id)).toBe(sizes.has(o.id));
                drop(o.id);
              }
              break;
            }
            case 'pin': {
              if (sizes.has(o.id)) {
                store.pin(o.id);
                pins.set(o.id, pinnedCount(o.id) + 1);
              } else expect(() => store.pin(o.id)).toThrow();
              break;
            }
            case 'unpin': {
              if (sizes.has(o.id) && pinnedCount(o.id) > 0) {
                store.unpin(o.id);
                pins.set(o.id, pinnedCount(o.id) - 1);
              } else expect(() => store.unpin(o.id)).toThrow();
              break;
            }
            case 'drain': {
              const now = new Set(sizes.keys());
              const changes = store.drainChanges();
              expect(changes.added).toEqual([...now].filter((b) => !atLastDrain.has(b)).sort((a, b) => a - b));
              expect(changes.removed).toEqual([...atLastDrain].filter((b) => !now.has(b)).sort((a, b) => a - b));
              atLastDrain = now;
              break;
            }
          }
          for (const b of pins.keys()) if (!sizes.has(b)) pins.delete(b);
          expect(store.usedBytes).toBeLessThanOrEqual(capacity);
          expect(store.usedBytes).toBe(used());
          expect(store.blockIds()).toEqual([...sizes.keys()].sort((a, b) => a - b));
          expect([...lru.order()]).toEqual(recency);
        }
      }),
      { numRuns: 400 },
    );
  });
});
