// Allocators choose the directory of a tier that receives a new block, with
// Alluxio's semantics. They only look at free space; making room is the store's
// job, so an allocator answering "none" is what triggers eviction.

export type AllocatorKind = 'MaxFree' | 'RoundRobin' | 'Greedy';

export const ALLOCATOR_KINDS: readonly AllocatorKind[] = ['MaxFree', 'RoundRobin', 'Greedy'];

/** What an allocator may know about a directory. */
export interface DirSpace {
  readonly availableBytes: number;
}

export interface Allocator {
  readonly kind: AllocatorKind;
  /**
   * Index into `dirs` of the directory that should hold a block of `bytes`, or
   * undefined when no directory has that much free space. `tier` keys any
   * per-tier state (the round-robin cursor).
   */
  choose(tier: number, dirs: readonly DirSpace[], bytes: number): number | undefined;
}

/** The directory with the most free space, so tiers fill evenly; ties go to the lower index. */
export class MaxFreeAllocator implements Allocator {
  readonly kind = 'MaxFree';

  choose(_tier: number, dirs: readonly DirSpace[], bytes: number): number | undefined {
    let best: number | undefined;
    for (let i = 0; i < dirs.length; i++) {
      if (dirs[i]!.availableBytes < bytes) continue;
      if (best === undefined || dirs[i]!.availableBytes > dirs[best]!.availableBytes) best = i;
    }
    return best;
  }
}

/** The first directory with enough space: fills directories one after another. */
export class GreedyAllocator implements Allocator {
  readonly kind = 'Greedy';

  choose(_tier: number, dirs: readonly DirSpace[], bytes: number): number | undefined {
    for (let i = 0; i < dirs.length; i++) if (dirs[i]!.availableBytes >= bytes) return i;
    return undefined;
  }
}

/**
 * Starts after the directory it chose last in that tier and takes the first one
 * with enough space, so consecutive blocks spread over the directories (and
 * their devices) even when the directories are unevenly full.
 */
export class RoundRobinAllocator implements Allocator {
  readonly kind = 'RoundRobin';
  private readonly last = new Map<number, number>();

  choose(tier: number, dirs: readonly DirSpace[], bytes: number): number | undefined {
    const n = dirs.length;
    const start = ((this.last.get(tier) ?? -1) + 1) % Math.max(n, 1);
    for (let k = 0; k < n; k++) {
      const i = (start + k) % n;
      if (dirs[i]!.availableBytes >= bytes) {
        this.last.set(tier, i);
        return i;
      }
    }
    return undefined;
  }
}

export function createAllocator(kind: AllocatorKind = 'MaxFree'): Allocator {
  switch (kind) {
    case 'MaxFree':
      return new MaxFreeAllocator();
    case 'RoundRobin':
      return new RoundRobinAllocator();
    case 'Greedy':
      return new GreedyAllocator();
  }
}
