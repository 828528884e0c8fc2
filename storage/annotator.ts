// Annotators decide the eviction order of a worker's blocks, as in Alluxio: every
// access gives the block a new score, and the block with the lowest score goes
// first. Time here is a logical clock that ticks once per access (Alluxio's
// "logic time"), so the order depends only on the sequence of accesses, never on
// how fast they came — the same in a simulation and on a real host.
//
// A score is a fixed number for as long as the block is not accessed, so the
// store can keep blocks in a sorted set instead of re-ranking them at every
// eviction. For LRFU that takes a change of variable (see LrfuAnnotator).

export type AnnotatorKind = 'LRU' | 'LRFU';

export type AnnotatorSpec = { kind: 'LRU' } | { kind: 'LRFU'; stepFactor: number; attenuationFactor: number };

/** Alluxio's defaults for strata.worker.block.annotator.lrfu.{step,attenuation}.factor. */
export const LRFU_DEFAULT_STEP_FACTOR = 0.25;
export const LRFU_DEFAULT_ATTENUATION_FACTOR = 2.0;

export interface Score {
  /** Lower ranks are evicted first. */
  readonly rank: number;
  /** Logical time of the last access; breaks rank ties in favour of evicting the older block. */
  readonly tick: number;
  /** LRFU's combined recency and frequency value as of `tick` (1 for LRU). */
  readonly crf: number;
}

export interface Annotator {
  readonly kind: AnnotatorKind;
  /** The score of a block entering the store; creating a block is its first access. */
  created(): Score;
  /** The score after one more access. */
  accessed(prev: Score): Score;
}

export class LruAnnotator implements Annotator {
  readonly kind = 'LRU';
  private tick = 0;

  created(): Score {
    const t = ++this.tick;
    return { rank: t, tick: t, crf: 1 };
  }

  accessed(): Score {
    return this.created();
  }
}

/**
 * Least Recently/Frequently Used. Each access contributes F(age) to a block's
 * combined recency-frequency (CRF) value, with
 *
 *   F(x) = (1 / attenuationFactor) ^ (stepFactor * x)
 *
 * so CRF(now) = CRF(last) * F(now - last) + 1 at each access. A step factor
 * near 0 makes old accesses count almost fully (LFU); near 1 with a large
 * attenuation they fade at once (LRU).
 *
 * Comparing CRF(now) of two blocks accessed last at different times is the same
 * as comparing ln CRF(last) + stepFactor * last * ln(attenuationFactor): the
 * `now` term is common to both and drops out. That quantity is the rank, and
 * it stays fixed between accesses.
 */
export class LrfuAnnotator implements Annotator {
  readonly kind = 'LRFU';
  private tick = 0;
  private readonly lnDecayPerTick: number;

  constructor(
    readonly stepFactor: number,
    readonly attenuationFactor: number,
  ) {
    if (!(stepFactor >= 0 && stepFactor <= 1)) throw new RangeError(`LRFU step factor must be in [0, 1], got ${stepFactor}`);
    if (!(attenuationFactor >= 2) || !Number.isFinite(attenuationFactor)) {
      throw new RangeError(`LRFU attenuation factor must be a finite number >= 2, got ${attenuationFactor}`);
    }
    this.lnDecayPerTick = stepFactor * Math.log(attenuationFactor);
  }

  created(): Score {
    const t = ++this.tick;
    return this.score(1, t);
  }

  accessed(prev: Score): Score {
    const t = ++this.tick;
    // exp() of a large negative number underflows to 0: an access long ago counts for nothing.
    const crf = prev.crf * Math.exp(-this.lnDecayPerTick * (t - prev.tick)) + 1;
    return this.score(crf, t);
  }

  /** CRF of a block with score `s` as seen at the current logical time; for tests and diagnostics. */
  crfNow(s: Score): number {
    return s.crf * Math.exp(-this.lnDecayPerTick * (this.tick - s.tick));
  }

  private score(crf: number, tick: number): Score {
    return { rank: Math.log(crf) + this.lnDecayPerTick * tick, tick, crf };
  }
}

export function createAnnotator(spec: AnnotatorSpec = { kind: 'LRU' }): Annotator {
  return spec.kind === 'LRU' ? new LruAnnotator() : new LrfuAnnotator(spec.stepFactor, spec.attenuationFactor);
}

interface Ranked {
  readonly id: number;
  readonly score: Score;
}

function compare(a: Ranked, b: Ranked): number {
  return a.score.rank - b.score.rank || a.score.tick - b.score.tick || a.id - b.id;
}

/**
 * Block ids kept in eviction order (first victim first). A sorted array: blocks
 * moving between tiers keep their score, so inserts land anywhere, and a binary
 * search plus one splice is simpler than a balanced tree and fast at the block
 * counts a worker tier holds.
 */
export class RankedSet {
  private readonly items: Ranked[] = [];

  get size(): number {
    return this.items.length;
  }

  insert(id: number, score: Score): void {
    const item = { id, score };
    this.items.splice(this.lowerBound(item), 0, item);
  }

  /** Removes `id`, which must have been inserted with exactly `score`. */
  delete(id: number, score: Score): boolean {
    const item = { id, score };
    const i = this.lowerBound(item);
    const found = this.items[i];
    if (found === undefined || found.id !== id) return false;
    this.items.splice(i, 1);
    return true;
  }

  /** Ids in eviction order; do not modify the set while iterating. */
  *ids(): IterableIterator<number> {
    for (const it of this.items) yield it.id;
  }

  private lowerBound(item: Ranked): number {
    let lo = 0;
    let hi = this.items.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (compare(this.items[mid]!, item) < 0) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }
}
