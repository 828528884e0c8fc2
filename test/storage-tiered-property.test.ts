// Model-based properties: random operation sequences on a 3-tier store with two
// directories per tier, checked against a model of which blocks exist, their bytes
// and their pins, plus the quota invariant at every disk write.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { isStrataError } from '../actors/protocol/envelope.js';
import type { AnnotatorSpec } from '../storage/annotator.js';
import { TIER_ALIASES, type TierAlias, type TieredBlockStore } from '../storage/tiered-store.js';
import { allViolations, bytes, fixture, type Layout } from './storage-tiered-helpers.js';

const LAYOUT: Layout[] = [
  { alias: 'MEM', quotas: [30, 20] },
  { alias: 'SSD', quotas: [40, 30] },
  { alias: 'HDD', quotas: [50, 60] },
];

type Op =
  | { t: 'put'; id: number; size: number; tier: TierAlias | undefined }
  | { t: 'get' | 'remove' | 'pin' | 'unpin' | 'promote'; id: number }
  | { t: 'free'; id: number; force: boolean };

const id = fc.integer({ min: 0, max: 10 });
const opArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 4, arbitrary: fc.record({ t: fc.constant('put' as const), id, size: fc.oneof({ weight: 5, arbitrary: fc.integer({ min: 0, max: 25 }) }, { weight: 1, arbitrary: fc.integer({ min: 26, max: 65 }) }), tier: fc.option(fc.constantFrom(...TIER_ALIASES), { nil: undefined, freq: 3 }) }) },
  { weight: 3, arbitrary: fc.record({ t: fc.constant('get' as const), id }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constantFrom('remove' as const, 'unpin' as const, 'promote' as const), id }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant('pin' as const), id }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant('free' as const), id, force: fc.boolean() }) },
);
const specArb = fc.record({
  allocator: fc.constantFrom('MaxFree' as const, 'RoundRobin' as const, 'Greedy' as const),
  annotator: fc.constantFrom<AnnotatorSpec>({ kind: 'LRU' }, { kind: 'LRFU', stepFactor: 0.25, attenuationFactor: 2 }, { kind: 'LRFU', stepFactor: 0.9, attenuationFactor: 8 }),
});

/** Content is a function of (id, size), so stale or misplaced bytes show. */
const content = (blockId: number, size: number) => bytes(blockId * 101 + size, size);

interface ModelBlock {
  size: number;
  pinned: boolean;
}

/** Whether the tier has a directory that could take `size` bytes with every unpinned block gone. */
function couldHold(s: TieredBlockStore, model: Map<number, ModelBlock>, level: number, size: number): boolean {
  return LAYOUT[level]!.quotas.some((quota, dir) => {
    let pinned = 0;
    for (const [bid, b] of model) {
      const loc = s.location(bid)!;
      if (b.pinned && loc.level === level && loc.dir === dir) pinned += b.size;
    }
    return quota >= size && quota - pinned >= size;
  });
}

function checkState(s: TieredBlockStore, model: Map<number, ModelBlock>): void {
  expect(s.blockIds()).toEqual([...model.keys()].sort((a, b) => a - b));
  for (const [bid, b] of model) expect(s.isPinned(bid)).toBe(b.pinned);
  for (const d of s.dirUsage()) {
    let sum = 0;
    let count = 0;
    for (const [bid, b] of model) {
      const loc = s.location(bid)!;
      if (loc.level === d.level && loc.dir === d.dir) {
        sum += b.size;
        count++;
      }
    }
    expect(d.usedBytes).toBe(sum);
    expect(d.blocks).toBe(count);
    expect(d.usedBytes).toBeLessThanOrEqual(d.quotaBytes);
  }
}

describe('TieredBlockStore: model-based', () => {
  it('sequential put/get/remove/free/pin/promote: quotas hold, pinned blocks stay, bytes are right', async () => {
    await fc.assert(
      fc.asyncProperty(specArb, fc.array(opArb, { minLength: 10, maxLength: 80, size: 'max' }), async (spec, ops) => {
        const model = new Map<number, ModelBlock>();
        // LRU model: the logical time of each block's last access.
        const lastUse = new Map<number, number>();
        let tick = 0;
        let promoting: number | undefined;
        const wrongVictims: string[] = [];
        let s: TieredBlockStore | undefined;
        const f = fixture(LAYOUT, {
          ...spec,
          // A victim must be the least recently used block its directory could give up.
          onEvent: (e) => {
            if (spec.annotator.kind !== 'LRU' || (e.t !== 'moved' && e.t !== 'evicted') || !s) return;
            for (const other of s.evictionOrder(e.from.tier, e.from.dir)) {
              if (other === promoting || model.get(other)?.pinned) continue;
              if (lastUse.get(other)! < lastUse.get(e.blockId)!) wrongVictims.push(`${e.t} ${e.blockId} before ${other}`);
            }
          },
        });
        s = await f.open();
        const pinnedAt = new Map<number, string>();
        const where = (bid: number) => JSON.stringify(s!.location(bid));
        for (const o of ops) {
          switch (o.t) {
            case 'put': {
              const old = model.get(o.id);
              const levels = o.tier === undefined ? [0, 1, 2] : [TIER_ALIASES.indexOf(o.tier)];
              // The old block goes first when replaced, so it pins nothing in the way.
              const same = old?.size === o.size;
              const without = new Map(model);
              if (!same) without.delete(o.id);
              const before = s.location(o.id);
              const firstFit = levels.find((l) => couldHold(s, without, l, o.size));
              const fits = same || firstFit !== undefined;
              try {
                const r = await s.put(o.id, content(o.id, o.size), o.tier ? { tier: o.tier } : {});
                lastUse.set(o.id, ++tick);
                expect(fits).toBe(true);
                for (const e of r.evicted) {
                  expect(model.get(e)?.pinned).toBe(false);
                  model.delete(e);
                }
                model.set(o.id, { size: o.size, pinned: old?.pinned ?? false });
                if (old?.pinned) pinnedAt.set(o.id, where(o.id));
                // The same bytes again only count as an access; the block stays where it is.
                if (same) expect(r.location).toEqual(before);
                else if (o.tier) expect(r.location.tier).toBe(o.tier);
                else expect(r.location.level).toBe(firstFit);
              } catch (e) {
                expect(isStrataError(e, 'RESOURCE_EXHAUSTED')).toBe(true);
                expect(fits).toBe(false);
                if (!same) model.delete(o.id);
              }
              break;
            }
            case 'get': {
              const b = model.get(o.id);
              expect(await s.get(o.id)).toEqual(b ? content(o.id, b.size) : undefined);
              if (b) lastUse.set(o.id, ++tick);
              break;
            }
            case 'remove':
              expect(await s.remove(o.id)).toBe(model.delete(o.id));
              break;
            case 'free': {
              const b = model.get(o.id);
              if (b?.pinned && !o.force) {
                await expect(s.free(o.id, { force: o.force })).rejects.toSatisfy((e: unknown) => isStrataError(e, 'FAILED_PRECONDITION'));
              } else {
                expect(await s.free(o.id, { force: o.force })).toBe(model.delete(o.id));
              }
              break;
            }
            case 'pin': {
              const b = model.get(o.id);
              if (b) {
                s.pin(o.id);
                b.pinned = true;
                pinnedAt.set(o.id, where(o.id));
              } else expect(() => s.pin(o.id)).toThrow();
              break;
            }
            case 'unpin': {
              s.unpin(o.id);
              const b = model.get(o.id);
              if (b) b.pinned = false;
              break;
            }
            case 'promote': {
              const b = model.get(o.id);
              promoting = o.id;
              const r = await s.promote(o.id);
              promoting = undefined;
              if (pinnedAt.has(o.id)) pinnedAt.set(o.id, where(o.id));
              for (const e of r.evicted) {
                expect(model.get(e)?.pinned).toBe(false);
                model.delete(e);
              }
              if (r.promoted) expect(s.location(o.id)!.level).toBe(0);
              else if (b) expect(couldHold(s, model, 0, b.size) && s.location(o.id)!.level !== 0).toBe(false);
              break;
            }
          }
          checkState(s, model);
          expect(wrongVictims).toEqual([]);
          // Pinned blocks never move, except up when promoted themselves.
          for (const [bid, b] of model) if (b.pinned) expect(where(bid)).toBe(pinnedAt.get(bid));
        }
        expect(allViolations(f)).toEqual([]);
        // Whatever happened, a restart recovers the same blocks with the same bytes.
        const r = await f.open();
        expect(r.blockIds()).toEqual(s.blockIds());
        for (const [bid, b] of model) expect(await r.get(bid)).toEqual(content(bid, b.size));
      }),
      { numRuns: 200 },
    );
  });

  it('concurrent operations: quotas hold at every write, reads return exact bytes or nothing', async () => {
    const batchArb = fc.array(fc.array(opArb, { minLength: 1, maxLength: 6 }), { minLength: 3, maxLength: 20, size: 'max' });
    await fc.assert(
      fc.asyncProperty(specArb, batchArb, fc.integer({ min: 0, max: 3 }), fc.integer({ min: 0, max: 12 }), async (spec, batches, hops, readHops) => {
        const f = fixture(LAYOUT, spec);
        for (const d of f.disks.flat()) {
          d.hops = hops;
          d.readHops = readHops;
        }
        const s = await f.open();
        const versions = new Map<number, Set<number>>();
        for (const batch of batches) {
          await Promise.all(
            batch.map(async (o) => {
              try {
                if (o.t === 'put') {
                  let v = versions.get(o.id);
                  if (!v) versions.set(o.id, (v = new Set()));
                  v.add(o.size);
                  await s.put(o.id, content(o.id, o.size), o.tier ? { tier: o.tier } : {});
                } else if (o.t === 'get') {
                  const got = await s.get(o.id);
                  if (got) expect(versions.get(o.id)?.has(got.byteLength) && got).toEqual(content(o.id, got.byteLength));
                } else if (o.t === 'remove') await s.remove(o.id);
                else if (o.t === 'free') await s.free(o.id, { force: o.force });
                else if (o.t === 'pin') {
                  if (s.has(o.id)) s.pin(o.id);
                } else if (o.t === 'unpin') s.unpin(o.id);
                else await s.promote(o.id);
              } catch (e) {
                if (!isStrataError(e, 'RESOURCE_EXHAUSTED') && !isStrataError(e, 'FAILED_PRECONDITION')) throw e;
              }
            }),
          );
          expect(allViolations(f)).toEqual([]);
          let total = 0;
          for (const bid of s.blockIds()) total += s.info(bid)!.length;
          expect(s.usedBytes()).toBe(total);
        }
        expect(s.stats().corruptDropped).toBe(0);
        for (const bid of s.blockIds()) expect(await s.get(bid)).toEqual(content(bid, s.info(bid)!.length));
      }),
      { numRuns: 150 },
    );
  });
});
