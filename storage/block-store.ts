// A worker's block storage with a byte quota. For now one MEM tier; tiers,
// allocators and annotators (LRFU) come later, which is why the eviction order
// is a separate, pluggable Evictor and the store only enforces quota and pins.
import { StrataError } from '../actors/protocol/envelope.js';

/**
 * Decides which blocks go first when space is needed. The store tells it about
 * every block entering, being read and leaving; it never needs to know about pins.
 */
export interface Evictor {
  added(blockId: number, bytes: number): void;
  accessed(blockId: number): void;
  removed(blockId: number): void;
  /**
   * Blocks in the order they should be evicted, first victim first. The store may
   * stop iterating early and does not change the evictor while iterating.
   */
  order(): Iterable<number>;
}

/** Least recently used first. A Map keeps insertion order, so re-inserting on access makes every operation O(1). */
export class LruEvictor implements Evictor {
  private readonly recency = new Map<number, true>();

  added(blockId: number): void {
    this.recency.delete(blockId);
    this.recency.set(blockId, true);
  }

  accessed(blockId: number): void {
    if (this.recency.delete(blockId)) this.recency.set(blockId, true);
  }

  removed(blockId: number): void {
    this.recency.delete(blockId);
  }

  order(): Iterable<number> {
    return this.recency.keys();
  }
}

export interface BlockStoreOptions {
  /** The quota: used bytes never exceed it. */
  capacityBytes: number;
  /** Defaults to an LruEvictor. */
  evictor?: Evictor;
  /** Names the tier in error messages, e.g. 'MEM'. */
  tierAlias?: string;
}

interface StoredBlock {
  data: Uint8Array;
  pins: number;
}

export interface BlockChanges {
  added: number[];
  removed: number[];
}

export class BlockStore {
  readonly capacityBytes: number;
  readonly tierAlias: string;
  private readonly evictor: Evictor;
  private readonly blocks = new Map<number, StoredBlock>();
  private used = 0;
  private pinned = 0;
  // Net changes since the last drain: a block added then removed (or removed then
  // re-added) in between is in neither set, because the master's view is unchanged.
  private addedSinceDrain = new Set<number>();
  private removedSinceDrain = new Set<number>();

  constructor(opts: BlockStoreOptions) {
    if (!(opts.capacityBytes >= 0) || !Number.isFinite(opts.capacityBytes)) {
      throw new StrataError('INVALID_ARGUMENT', `block store capacity must be a finite number of bytes >= 0, got ${opts.capacityBytes}`);
    }
    this.capacityBytes = opts.capacityBytes;
    this.evictor = opts.evictor ?? new LruEvictor();
    this.tierAlias = opts.tierAlias ?? 'MEM';
  }

  get usedBytes(): number {
    return this.used;
  }

  get availableBytes(): number {
    return this.capacityBytes - this.used;
  }

  /** Bytes held by pinned blocks: the part of the quota eviction cannot reclaim. */
  get pinnedBytes(): number {
    return this.pinned;
  }

  get blockCount(): number {
    return this.blocks.size;
  }

  /**
   * Stores a block, evicting unpinned blocks in the evictor's order until it fits.
   * The store keeps `data` as given; callers must not modify it afterwards. A block
   * already present is replaced and keeps its pins. Nothing is evicted when the
   * block cannot fit even with every evictable block gone: that throws
   * RESOURCE_EXHAUSTED and leaves the store as it was.
   */
  put(blockId: number, data: Uint8Array): { evicted: number[] } {
    checkBlockId(blockId);
    const size = data.byteLength;
    const old = this.blocks.get(blockId);
    const oldSize = old?.data.byteLength ?? 0;
    const pinnedOthers = this.pinned - (old && old.pins > 0 ? oldSize : 0);
    if (size + pinnedOthers > this.capacityBytes) {
      throw new StrataError(
        'RESOURCE_EXHAUSTED',
        `block ${blockId} of ${size} bytes does not fit in the ${this.tierAlias} tier: capacity ${this.capacityBytes} bytes, ` +
          `${pinnedOthers} bytes pinned by other blocks`,
      );
    }

    const mustFree = this.used - oldSize + size - this.capacityBytes;
    const victims: number[] = [];
    if (mustFree > 0) {
      let freed = 0;
      for (const id of this.evictor.order()) {
        if (id === blockId) continue;
        const b = this.blocks.get(id);
        if (!b || b.pins > 0) continue;
        victims.push(id);
        freed += b.data.byteLength;
        if (freed >= mustFree) break;
      }
      if (freed < mustFree) {
        // Only reachable when the evictor's order misses blocks the store holds.
        throw new StrataError('INTERNAL', `evictor offered ${freed} of the ${mustFree} bytes needed for block ${blockId}`);
      }
      for (const id of victims) this.drop(id);
    }

    if (old) {
      this.used += size - oldSize;
      if (old.pins > 0) this.pinned += size - oldSize;
      old.data = data;
      this.evictor.accessed(blockId);
    } else {
      this.blocks.set(blockId, { data, pins: 0 });
      this.used += size;
      this.evictor.added(blockId, size);
      if (this.removedSinceDrain.has(blockId)) this.removedSinceDrain.delete(blockId);
      else this.addedSinceDrain.add(blockId);
    }
    return { evicted: victims };
  }

  /** The block's bytes, or undefined; a hit counts as an access for eviction. */
  get(blockId: number): Uint8Array | undefined {
    const b = this.blocks.get(blockId);
    if (!b) return undefined;
    this.evictor.accessed(blockId);
    return b.data;
  }

  /** Whether the block is stored; not an access. */
  has(blockId: number): boolean {
    return this.blocks.has(blockId);
  }

  /** Size in bytes of a stored block; not an access. */
  sizeOf(blockId: number): number | undefined {
    return this.blocks.get(blockId)?.data.byteLength;
  }

  /**
   * Removes a block; false if it was not stored. A pinned block is in use and is
   * refused with FAILED_PRECONDITION rather than pulled from under its reader.
   */
  remove(blockId: number): boolean {
    const b = this.blocks.get(blockId);
    if (!b) return false;
    if (b.pins > 0) throw new StrataError('FAILED_PRECONDITION', `block ${blockId} is pinned (${b.pins}) and cannot be removed`);
    this.drop(blockId);
    return true;
  }

  /**
   * Protects a block from eviction until a matching unpin. Pins nest, so several
   * readers can hold the same block. NOT_FOUND if the block is not stored.
   */
  pin(blockId: number): void {
    const b = this.blocks.get(blockId);
    if (!b) throw new StrataError('NOT_FOUND', `block ${blockId} is not in the ${this.tierAlias} tier`);
    if (b.pins === 0) this.pinned += b.data.byteLength;
    b.pins++;
  }

  /** Releases one pin; FAILED_PRECONDITION if the block is not pinned, since that is a bookkeeping bug. */
  unpin(blockId: number): void {
    const b = this.blocks.get(blockId);
    if (!b || b.pins === 0) throw new StrataError('FAILED_PRECONDITION', `block ${blockId} is not pinned`);
    b.pins--;
    if (b.pins === 0) this.pinned -= b.data.byteLength;
  }

  isPinned(blockId: number): boolean {
    return (this.blocks.get(blockId)?.pins ?? 0) > 0;
  }

  /** Stored block ids in ascending order. */
  blockIds(): number[] {
    return [...this.blocks.keys()].sort((a, b) => a - b);
  }

  /** Blocks added and removed since the last call (each sorted ascending), for the worker's heartbeat. */
  drainChanges(): BlockChanges {
    const changes = {
      added: [...this.addedSinceDrain].sort((a, b) => a - b),
      removed: [...this.removedSinceDrain].sort((a, b) => a - b),
    };
    this.addedSinceDrain = new Set();
    this.removedSinceDrain = new Set();
    return changes;
  }

  private drop(blockId: number): void {
    const b = this.blocks.get(blockId)!;
    this.blocks.delete(blockId);
    this.used -= b.data.byteLength;
    this.evictor.removed(blockId);
    if (this.addedSinceDrain.has(blockId)) this.addedSinceDrain.delete(blockId);
    else this.removedSinceDrain.add(blockId);
  }
}

function checkBlockId(blockId: number): void {
  if (!Number.isSafeInteger(blockId) || blockId < 0) throw new StrataError('INVALID_ARGUMENT', `invalid block id ${blockId}`);
}
