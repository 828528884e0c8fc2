// A worker's tiered block store, after Alluxio's: ordered tiers (MEM, SSD, HDD),
// each with directories that have a quota and a Disk. New blocks go to the top
// tier; when a directory must make room, its blocks leave in the annotator's
// order and move down to the next tier that can take them (making room there the
// same way) — a block leaves the worker only when no lower tier can hold it.
//
// Unpersisted blocks (written MUST_CACHE or ASYNC_THROUGH and not yet in the
// UFS) are the only copy of their data: the evictor may move them down a tier but
// never out of the worker, so a new block that would need that fails with
// RESOURCE_EXHAUSTED instead of losing data. The owner marks a block persisted
// once its file is in the UFS; from then on it is evicted like any other.
//
// Every block is a file with a checksummed metadata record (storage/block-file.ts),
// so a restarted worker recovers its cache; what fails verification is dropped,
// never served.
//
// Concurrency: operations that change where blocks are (put, remove, free,
// promote, dropping a corrupt block) run one at a time. Reads do not wait for
// them: a reader registers on the file it reads, and a file is deleted only after
// its readers are done, so a read never sees a block vanish underneath it.
//
// Accounting: a directory's used bytes count committed blocks, space reserved for
// blocks being written or moved in, and files waiting to be deleted. Space is
// reserved before a byte is written and released only after the file is gone, so
// the bytes on a directory's disk never exceed its quota at any instant.
import type { Disk, Logger } from '../actors/env.js';
import { Mutex } from '../actors/mutex.js';
import { StrataError, isStrataError } from '../actors/protocol/envelope.js';
import { createAllocator, type Allocator, type AllocatorKind } from './allocator.js';
import { RankedSet, createAnnotator, type Annotator, type AnnotatorSpec, type Score } from './annotator.js';
import {
  DATA_NAME,
  META_NAME,
  TIER_ALIASES,
  TMP_DIR,
  dataName,
  decodeMeta,
  encodeMeta,
  joinPath,
  metaName,
  type TierAlias,
} from './block-file.js';
import { crc32 } from './crc32.js';

export type { TierAlias } from './block-file.js';
export { TIER_ALIASES } from './block-file.js';

export interface TierDirOptions {
  readonly disk: Disk;
  /** The directory on `disk` that holds this dir's blocks; created if missing. */
  readonly path: string;
  readonly quotaBytes: number;
}

export interface TierLevelOptions {
  readonly alias: TierAlias;
  readonly dirs: readonly TierDirOptions[];
}

export interface TieredStoreOptions {
  /** Top tier first; aliases must follow the order MEM, SSD, HDD (a tier may be absent). */
  readonly levels: readonly TierLevelOptions[];
  readonly allocator?: AllocatorKind;
  readonly annotator?: AnnotatorSpec;
  /** Stamps block metadata reported by `info`; eviction order uses the annotator's logical clock. */
  readonly clock: () => number;
  readonly log: Logger;
  /** Called synchronously for each event, including those of recovery during `open`. */
  readonly onEvent?: (e: TieredStoreEvent) => void;
  /**
   * Check every read against the block's CRC32 (default true). Recovery always
   * verifies every block; per-read checks also catch corruption that appears later
   * (bad media, bit flips), at the cost of checksumming each block served.
   */
  readonly verifyReads?: boolean;
  /**
   * Treat recovered blocks as unpersisted until `markPersisted` (default false),
   * except those stored as persisted (their metadata says so): a block stored
   * unpersisted may have reached the UFS since, which only an owner that can ask
   * (the worker asks its master) learns, so it is kept safe meanwhile; one stored
   * persisted never needs asking, and must not hold the tier until an answer comes.
   */
  readonly recoverUnpersisted?: boolean;
}

export interface BlockLocation {
  readonly tier: TierAlias;
  /** Position of the tier, 0 = top. */
  readonly level: number;
  /** Position of the directory within its tier. */
  readonly dir: number;
  /** The block file's path on its directory's disk. */
  readonly path: string;
}

export type TieredStoreEvent =
  /** The block left the worker to make room. */
  | { readonly t: 'evicted'; readonly blockId: number; readonly from: BlockLocation }
  /** The block moved down a tier (or more) to make room. */
  | { readonly t: 'moved'; readonly blockId: number; readonly from: BlockLocation; readonly to: BlockLocation }
  | { readonly t: 'promoted'; readonly blockId: number; readonly from: BlockLocation; readonly to: BlockLocation }
  /** The block failed verification (on read, move or recovery) and was dropped. */
  | { readonly t: 'corrupt'; readonly blockId: number; readonly at: BlockLocation; readonly reason: string }
  /** Recovery threw away a file that was not a committed block (an interrupted write). */
  | { readonly t: 'discarded'; readonly disk: Disk; readonly path: string; readonly reason: string };

export interface TieredStoreStats {
  blocks: number;
  hits: number;
  misses: number;
  /** Blocks that left the worker to make room. */
  evictions: number;
  /** Moves down a tier to make room. */
  moves: number;
  promotions: number;
  /** Blocks dropped because they failed verification, at any time. */
  corruptDropped: number;
  /** Blocks kept by the last recovery. */
  recovered: number;
  /** Files recovery threw away as uncommitted, plus blocks it dropped for lack of quota. */
  discarded: number;
}

export interface DirUsage {
  readonly tier: TierAlias;
  readonly level: number;
  readonly dir: number;
  readonly path: string;
  readonly quotaBytes: number;
  /** Bytes counted against the quota, including writes and deletes in progress. */
  readonly usedBytes: number;
  readonly blocks: number;
}

export interface BlockInfo {
  readonly blockId: number;
  readonly length: number;
  readonly crc: number;
  readonly location: BlockLocation;
  readonly pinned: boolean;
  /** False: the only copy of the data; it may move down a tier but never leaves the worker. */
  readonly persisted: boolean;
  /** From the store's clock: when the block was committed (or recovered) and last read. */
  readonly createdMs: number;
  readonly lastAccessMs: number;
}

export interface BlockChanges {
  added: number[];
  removed: number[];
}

export interface PutResult {
  readonly location: BlockLocation;
  /** Blocks that left the worker to make room (not those that only moved down). */
  readonly evicted: number[];
}

/**
 * A block written piece by piece as its bytes arrive (a client's write stream),
 * so the bytes reach the disk while the rest are still on the wire and the block
 * is never assembled in memory. Its space is reserved when it is opened; it joins
 * the store, durable, on `commit`, or leaves nothing behind on `abort`.
 */
export interface BlockWriter {
  readonly blockId: number;
  /** Bytes appended so far. */
  readonly written: number;
  /** In call order; INVALID_ARGUMENT past the length reserved, UNAVAILABLE when the disk fails. */
  append(data: Uint8Array): Promise<void>;
  /** Makes the block durable and stores it, as `put` would store the same bytes. */
  commit(): Promise<PutResult>;
  /** Deletes what was written and gives the space back; idempotent, never throws. */
  abort(): Promise<void>;
}

export interface BlockLease {
  readonly disk: Disk;
  /** The block file on `disk`. */
  readonly path: string;
  readonly length: number;
  /** Idempotent. */
  release(): void;
}

export interface PromoteResult {
  /** Whether the block is in the top tier now. */
  readonly promoted: boolean;
  readonly evicted: number[];
}

class Dir {
  used = 0;
  blocks = 0;
  constructor(
    readonly level: number,
    readonly index: number,
    readonly alias: TierAlias,
    readonly disk: Disk,
    readonly path: string,
    readonly quotaBytes: number,
  ) {}

  get availableBytes(): number {
    return this.quotaBytes - this.used;
  }

  reserve(bytes: number): void {
    if (this.used + bytes > this.quotaBytes) {
      throw new StrataError('INTERNAL', `tiered store: reserving ${bytes} bytes would put ${this.alias} dir ${this.path} over its quota`);
    }
    this.used += bytes;
  }
}

/** One block file, which readers may be using. */
class FileRef {
  readers = 0;
  private waiters: Array<() => void> = [];
  constructor(readonly dir: Dir) {}

  release(): void {
    if (--this.readers > 0) return;
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }

  idle(): Promise<void> {
    return this.readers === 0 ? Promise.resolve() : new Promise((resolve) => this.waiters.push(resolve));
  }
}

interface Block {
  readonly id: number;
  readonly length: number;
  readonly crc: number;
  file: FileRef;
  score: Score;
  pinned: boolean;
  persisted: boolean;
  /** Being moved by the current operation: not a victim for the evictions it causes. */
  busy: boolean;
  /** Readers outside the store using the file directly (short-circuit): it must stay where it is. */
  leases: number;
  readonly createdMs: number;
  lastAccessMs: number;
}

interface Tier {
  readonly alias: TierAlias;
  readonly dirs: Dir[];
  readonly order: RankedSet;
}

/** Collects what one operation did, for its result. */
interface OpContext {
  evicted: number[];
}

type MoveOutcome = 'moved' | 'corrupt' | 'failed';

export class TieredBlockStore {
  private readonly tiers: Tier[];
  private readonly blocks = new Map<number, Block>();
  private readonly allocator: Allocator;
  private readonly annotator: Annotator;
  private readonly mutex = new Mutex();
  private readonly clock: () => number;
  private readonly log: Logger;
  private readonly onEvent: ((e: TieredStoreEvent) => void) | undefined;
  private readonly counters: Omit<TieredStoreStats, 'blocks'> = {
    hits: 0,
    misses: 0,
    evictions: 0,
    moves: 0,
    promotions: 0,
    corruptDropped: 0,
    recovered: 0,
    discarded: 0,
  };
  private addedSinceDrain = new Set<number>();
  private removedSinceDrain = new Set<number>();

  private readonly verifyReads: boolean;
  private readonly recoverUnpersisted: boolean;
  private nextWriter = 1;

  private constructor(opts: TieredStoreOptions) {
    validateLevels(opts.levels);
    this.tiers = opts.levels.map((l, level) => ({
      alias: l.alias,
      dirs: l.dirs.map((d, i) => new Dir(level, i, l.alias, d.disk, d.path, d.quotaBytes)),
      order: new RankedSet(),
    }));
    this.allocator = createAllocator(opts.allocator ?? 'MaxFree');
    this.annotator = createAnnotator(opts.annotator ?? { kind: 'LRU' });
    this.clock = opts.clock;
    this.log = opts.log;
    this.onEvent = opts.onEvent;
    this.verifyReads = opts.verifyReads ?? true;
    this.recoverUnpersisted = opts.recoverUnpersisted ?? false;
  }

  /**
   * Opens the store and recovers the blocks its directories hold: each committed
   * block is read back and kept only if its length and checksum match its
   * metadata; interrupted writes are deleted. Recovered blocks rank for eviction
   * in the order they were last written (oldest first).
   */
  static async open(opts: TieredStoreOptions): Promise<TieredBlockStore> {
    const store = new TieredBlockStore(opts);
    await store.recover();
    return store;
  }

  // ---- queries -------------------------------------------------------------

  get levels(): readonly TierAlias[] {
    return this.tiers.map((t) => t.alias);
  }

  has(blockId: number): boolean {
    return this.blocks.has(blockId);
  }

  location(blockId: number): BlockLocation | undefined {
    const b = this.blocks.get(blockId);
    return b && this.locationOf(b.id, b.file.dir);
  }

  info(blockId: number): BlockInfo | undefined {
    const b = this.blocks.get(blockId);
    if (!b) return undefined;
    return {
      blockId: b.id,
      length: b.length,
      crc: b.crc,
      location: this.locationOf(b.id, b.file.dir),
      pinned: b.pinned,
      persisted: b.persisted,
      createdMs: b.createdMs,
      lastAccessMs: b.lastAccessMs,
    };
  }

  /** Stored block ids in ascending order. */
  blockIds(): number[] {
    return [...this.blocks.keys()].sort((a, b) => a - b);
  }

  /** Block ids of one tier (or one of its directories), first eviction victim first. */
  evictionOrder(tier: TierAlias, dir?: number): number[] {
    const t = this.tier(tier);
    const out: number[] = [];
    for (const id of t.order.ids()) if (dir === undefined || this.blocks.get(id)!.file.dir.index === dir) out.push(id);
    return out;
  }

  /** Bytes counted against quotas: of the whole worker, one tier, or one directory of a tier. */
  usedBytes(tier?: TierAlias, dir?: number): number {
    return this.dirsOf(tier, dir).reduce((n, d) => n + d.used, 0);
  }

  capacityBytes(tier?: TierAlias, dir?: number): number {
    return this.dirsOf(tier, dir).reduce((n, d) => n + d.quotaBytes, 0);
  }

  dirUsage(): DirUsage[] {
    return this.tiers.flatMap((t) =>
      t.dirs.map((d) => ({ tier: t.alias, level: d.level, dir: d.index, path: d.path, quotaBytes: d.quotaBytes, usedBytes: d.used, blocks: d.blocks })),
    );
  }

  isPinned(blockId: number): boolean {
    return this.blocks.get(blockId)?.pinned ?? false;
  }

  stats(): TieredStoreStats {
    return { blocks: this.blocks.size, ...this.counters };
  }

  /**
   * Blocks added to and removed from the worker since the last call (each sorted),
   * for the heartbeat. Moves between tiers are not changes; recovered blocks are
   * the starting state, reported by `blockIds()` at registration.
   */
  drainChanges(): BlockChanges {
    const changes = {
      added: [...this.addedSinceDrain].sort((a, b) => a - b),
      removed: [...this.removedSinceDrain].sort((a, b) => a - b),
    };
    this.addedSinceDrain = new Set();
    this.removedSinceDrain = new Set();
    return changes;
  }

  // ---- pins ----------------------------------------------------------------

  /**
   * Keeps the block from being evicted or moved down, until `unpin`. Pinning is
   * a flag, not a count: the master's pin list is the truth and may be re-sent.
   * Pins are not persisted; after a restart the master re-pins. NOT_FOUND if the
   * block is not stored.
   */
  pin(blockId: number): void {
    const b = this.blocks.get(blockId);
    if (!b) throw new StrataError('NOT_FOUND', `block ${blockId} is not stored on this worker`);
    b.pinned = true;
  }

  /** Lets the block be evicted again; unpinning an unpinned or absent block does nothing. */
  unpin(blockId: number): void {
    const b = this.blocks.get(blockId);
    if (b) b.pinned = false;
  }

  // ---- persistence ---------------------------------------------------------

  /** Lets an unpersisted block leave the worker again (its file is in the UFS now); absent blocks are ignored. */
  markPersisted(blockId: number): void {
    const b = this.blocks.get(blockId);
    if (b) b.persisted = true;
  }

  isPersisted(blockId: number): boolean {
    return this.blocks.get(blockId)?.persisted ?? false;
  }

  /** Stored blocks not yet marked persisted, in ascending order. */
  unpersistedBlockIds(): number[] {
    const out: number[] = [];
    for (const b of this.blocks.values()) if (!b.persisted) out.push(b.id);
    return out.sort((a, b) => a - b);
  }

  // ---- data ----------------------------------------------------------------

  /**
   * Stores a block in `tier`, or in the highest tier that can make room for it.
   * The bytes are durable (fsynced) when this resolves. Storing a block that is
   * already present with the same bytes only counts as an access (it stays in
   * its tier); with other bytes, the old block is removed first and the new one
   * stored in its place, keeping its pin. `unpersisted`: the data exists nowhere
   * else, so the block must never be evicted out of the worker (default false).
   * RESOURCE_EXHAUSTED, with nothing evicted, when no allowed tier has a directory
   * that could hold the block even with every block that may leave gone from it
   * (possibly after some blocks moved down, when unpersisted blocks below fill up
   * as they arrive); UNAVAILABLE when the disk fails the write.
   */
  async put(blockId: number, data: Uint8Array, opts: { tier?: TierAlias; unpersisted?: boolean } = {}): Promise<PutResult> {
    checkBlockId(blockId);
    const levels = opts.tier === undefined ? this.tiers.map((_, i) => i) : [this.tiers.indexOf(this.tier(opts.tier))];
    return this.mutex.run(async () => {
      const ctx: OpContext = { evicted: [] };
      const crc = crc32(data);
      const old = this.blocks.get(blockId);
      let pinned = false;
      if (old) {
        if (old.length === data.byteLength && old.crc === crc) {
          if (!opts.unpersisted) old.persisted = true;
          this.touch(old);
          return { location: this.locationOf(old.id, old.file.dir), evicted: [] };
        }
        pinned = old.pinned;
        await this.drop(old);
      }
      const dir = await this.place(levels, blockId, data.byteLength, ctx);
      try {
        await this.writeFiles(dir, blockId, data, crc, !opts.unpersisted);
      } catch (e) {
        dir.used -= data.byteLength;
        throw new StrataError('UNAVAILABLE', `writing block ${blockId} to ${dir.alias} dir ${dir.path}: ${errorText(e)}`);
      }
      this.attachNew(blockId, data.byteLength, crc, dir, pinned, !opts.unpersisted);
      return { location: this.locationOf(blockId, dir), evicted: ctx.evicted };
    });
  }

  /**
   * Opens a block of exactly `length` bytes to be written piece by piece (see
   * BlockWriter), reserving its space now in the highest tier that can make room,
   * with the same RESOURCE_EXHAUSTED as `put`. A block already stored under the
   * id is dealt with on commit, as `put` would.
   */
  async openWriter(blockId: number, length: number, opts: { unpersisted?: boolean } = {}): Promise<BlockWriter> {
    checkBlockId(blockId);
    if (!Number.isSafeInteger(length) || length <= 0) throw new StrataError('INVALID_ARGUMENT', `block ${blockId}: cannot write a block of ${length} bytes`);
    const ctx: OpContext = { evicted: [] };
    const dir = await this.mutex.run(() => this.place(this.tiers.map((_, i) => i), blockId, length, ctx));
    const n = this.nextWriter++;
    // Named per writer: two writers of one id (or a put) never share a temporary file.
    const tmp = { data: joinPath(joinPath(dir.path, TMP_DIR), `${blockId}.w${n}`), meta: joinPath(joinPath(dir.path, TMP_DIR), `${blockId}.w${n}.meta`) };
    let written = 0;
    let crc = 0;
    let state: 'open' | 'committing' | 'committed' = 'open';
    let failure: StrataError | undefined;
    let released = false;
    const release = async (): Promise<void> => {
      if (released) return;
      released = true;
      for (const p of [tmp.data, tmp.meta]) await dir.disk.remove(p).catch(() => undefined);
      dir.used -= length;
    };
    try {
      await dir.disk.writeFile(tmp.data, new Uint8Array(0));
    } catch (e) {
      await release();
      throw new StrataError('UNAVAILABLE', `writing block ${blockId} to ${dir.alias} dir ${dir.path}: ${errorText(e)}`);
    }
    return {
      blockId,
      get written() {
        return written;
      },
      append: async (data) => {
        if (state !== 'open' || released) throw new StrataError('FAILED_PRECONDITION', `block ${blockId} is no longer open for writing`);
        if (failure) throw failure;
        if (written + data.byteLength > length) {
          throw new StrataError('INVALID_ARGUMENT', `block ${blockId}: ${written + data.byteLength} bytes written, ${length} reserved`);
        }
        // Counted at the call, so appends made back to back checksum in the order the disk applies them.
        written += data.byteLength;
        crc = crc32(data, crc);
        try {
          await dir.disk.append(tmp.data, data);
        } catch (e) {
          failure ??= new StrataError('UNAVAILABLE', `writing block ${blockId} to ${dir.alias} dir ${dir.path}: ${errorText(e)}`);
          throw failure;
        }
      },
      commit: async () => {
        if (state !== 'open' || released) throw new StrataError('FAILED_PRECONDITION', `block ${blockId} is no longer open for writing`);
        if (failure) throw failure;
        if (written !== length) throw new StrataError('INVALID_ARGUMENT', `block ${blockId}: ${written} bytes written, ${length} reserved`);
        state = 'committing';
        try {
          await dir.disk.fsync(tmp.data);
          await this.writeMeta(dir, blockId, length, crc, tmp.meta, !opts.unpersisted);
        } catch (e) {
          await release();
          throw new StrataError('UNAVAILABLE', `writing block ${blockId} to ${dir.alias} dir ${dir.path}: ${errorText(e)}`);
        }
        return this.mutex.run(async () => {
          const old = this.blocks.get(blockId);
          let pinned = false;
          if (old) {
            if (old.length === length && old.crc === crc) {
              state = 'committed';
              await release();
              if (!opts.unpersisted) old.persisted = true;
              this.touch(old);
              return { location: this.locationOf(old.id, old.file.dir), evicted: ctx.evicted };
            }
            pinned = old.pinned;
            await this.drop(old);
          }
          try {
            await this.publish(dir, blockId, tmp.data, tmp.meta);
          } catch (e) {
            await release();
            await dir.disk.remove(joinPath(dir.path, dataName(blockId))).catch(() => undefined);
            throw new StrataError('UNAVAILABLE', `writing block ${blockId} to ${dir.alias} dir ${dir.path}: ${errorText(e)}`);
          }
          state = 'committed';
          this.attachNew(blockId, length, crc, dir, pinned, !opts.unpersisted);
          return { location: this.locationOf(blockId, dir), evicted: ctx.evicted };
        });
      },
      abort: async () => {
        // A commit in progress finishes or fails on its own; it cleans up after itself if it fails.
        if (state === 'open') await release();
      },
    };
  }

  /**
   * The directory, in the first of `levels` that could hold the block, with its
   * space reserved (after evictions); RESOURCE_EXHAUSTED when none could.
   */
  private async place(levels: number[], blockId: number, bytes: number, ctx: OpContext): Promise<Dir> {
    const limits = this.holdLimits();
    const level = levels.find((l) => bytes <= limits[l]!);
    if (level === undefined) {
      const space = levels.map((l) => `${this.tiers[l]!.alias} ${this.usedBytes(this.tiers[l]!.alias)}/${this.capacityBytes(this.tiers[l]!.alias)} bytes used`);
      throw new StrataError(
        'RESOURCE_EXHAUSTED',
        `block ${blockId} of ${bytes} bytes does not fit in ${levels.map((l) => this.tiers[l]!.alias).join(' or ')} (${space.join(', ')}): ` +
          `no directory has that much quota free of pinned, in-use and unpersisted blocks`,
      );
    }
    return this.makeRoom(level, bytes, ctx);
  }

  private attachNew(blockId: number, length: number, crc: number, dir: Dir, pinned: boolean, persisted: boolean): void {
    const now = this.clock();
    this.attach({
      id: blockId,
      length,
      crc,
      file: new FileRef(dir),
      score: this.annotator.created(),
      pinned,
      persisted,
      busy: false,
      leases: 0,
      createdMs: now,
      lastAccessMs: now,
    });
    this.noteAdded(blockId);
  }

  /**
   * The block's bytes, read from its file and verified against its checksum, or
   * undefined if it is not stored. A block that fails verification (or cannot be
   * read) is dropped and undefined returned: the caller re-reads it from the UFS.
   * A hit counts as an access for eviction.
   */
  async get(blockId: number): Promise<Uint8Array | undefined> {
    for (let attempt = 0; ; attempt++) {
      const b = this.blocks.get(blockId);
      if (!b) {
        this.counters.misses++;
        return undefined;
      }
      const file = b.file;
      file.readers++;
      let data: Uint8Array | undefined;
      let problem: string | undefined;
      try {
        data = await file.dir.disk.readFile(joinPath(file.dir.path, dataName(blockId)));
        problem = this.verifyReads ? verify(data, b.length, b.crc) : data.byteLength === b.length ? undefined : `expected ${b.length} bytes, read ${data.byteLength}`;
      } catch (e) {
        problem = `read failed: ${errorText(e)}`;
      } finally {
        file.release();
      }
      if (problem === undefined) {
        if (this.blocks.get(blockId) === b) this.touch(b);
        this.counters.hits++;
        return data;
      }
      // The block moved while we read its old file; that copy was verified when moved, so try it.
      if (b.file !== file && this.blocks.get(blockId) === b && attempt === 0) continue;
      await this.mutex.run(async () => {
        if (this.blocks.get(blockId) === b && b.file === file) await this.dropCorrupt(b, problem);
      });
      this.counters.misses++;
      return undefined;
    }
  }

  /**
   * Lends the block's file to a reader outside the store (a short-circuit client):
   * until `release`, the block is neither evicted nor moved, and removing or freeing
   * it waits. Undefined if the block is not stored. Counts as an access.
   */
  lease(blockId: number): BlockLease | undefined {
    const b = this.blocks.get(blockId);
    if (!b) return undefined;
    const file = b.file;
    file.readers++;
    b.leases++;
    this.touch(b);
    this.counters.hits++;
    let released = false;
    return {
      disk: file.dir.disk,
      path: joinPath(file.dir.path, dataName(blockId)),
      length: b.length,
      release: () => {
        if (released) return;
        released = true;
        b.leases--;
        file.release();
      },
    };
  }

  /**
   * Counts an access served from the caller's own copy of the block (the worker's
   * in-memory hot set), so the eviction order sees it as get() would. False if the
   * block is not stored.
   */
  recordAccess(blockId: number): boolean {
    const b = this.blocks.get(blockId);
    if (!b) return false;
    this.touch(b);
    this.counters.hits++;
    return true;
  }

  /**
   * Moves the block to the top tier (Alluxio's CACHE_PROMOTE), moving others down
   * or out to make room. `promoted` is false when the block is absent or the top
   * tier cannot make room for it; the block then stays where it is.
   */
  async promote(blockId: number): Promise<PromoteResult> {
    return this.mutex.run(async () => {
      const ctx: OpContext = { evicted: [] };
      const b = this.blocks.get(blockId);
      if (!b) return { promoted: false, evicted: [] };
      if (b.file.dir.level === 0) return { promoted: true, evicted: [] };
      // A leased file is being read in place: moving it would leave the reader's copy to be deleted under it.
      if (b.leases > 0) return { promoted: false, evicted: [] };
      if (!this.couldHold(0, b.length)) return { promoted: false, evicted: [] };
      b.busy = true;
      try {
        let dst: Dir;
        try {
          dst = await this.makeRoom(0, b.length, ctx);
        } catch (e) {
          if (isStrataError(e, 'RESOURCE_EXHAUSTED')) return { promoted: false, evicted: ctx.evicted };
          throw e;
        }
        const from = this.locationOf(b.id, b.file.dir);
        const outcome = await this.move(b, dst);
        if (outcome !== 'moved') return { promoted: false, evicted: ctx.evicted };
        this.counters.promotions++;
        this.emit({ t: 'promoted', blockId, from, to: this.locationOf(b.id, dst) });
        return { promoted: true, evicted: ctx.evicted };
      } finally {
        b.busy = false;
      }
    });
  }

  /**
   * Removes the block from the worker, pinned or not (its file was deleted, or
   * the master says so). False if it was not stored. Resolves once the file is gone.
   */
  async remove(blockId: number): Promise<boolean> {
    return this.mutex.run(async () => {
      const b = this.blocks.get(blockId);
      if (!b) return false;
      await this.drop(b);
      return true;
    });
  }

  /**
   * `fs free`: removes the block unless it is pinned, in which case it fails with
   * FAILED_PRECONDITION — unless `force`, which frees pinned blocks too.
   */
  async free(blockId: number, opts: { force?: boolean } = {}): Promise<boolean> {
    return this.mutex.run(async () => {
      const b = this.blocks.get(blockId);
      if (!b) return false;
      if (b.pinned && !opts.force) throw new StrataError('FAILED_PRECONDITION', `block ${blockId} is pinned; free it with force`);
      await this.drop(b);
      return true;
    });
  }

  /** Waits for operations in progress; the store does not hold files open, so nothing else is needed. */
  async close(): Promise<void> {
    await this.mutex.run(async () => undefined);
  }

  // ---- making room -----------------------------------------------------------

  /** Whether some directory of the tier could hold `bytes` once the blocks that may leave it were gone. */
  private couldHold(level: number, bytes: number): boolean {
    return bytes <= this.holdLimits()[level]!;
  }

  /**
   * For each tier, the largest block one of its directories could take once every
   * block that may leave it has left. A persisted block may always leave (out of
   * the worker if nothing lower takes it); an unpersisted one only if a lower tier
   * could take it, so the limits are worked out from the bottom tier up. Each
   * unpersisted block is judged alone: when several must go down at once, the
   * tier below may fill before the last, and the put fails cleanly after moves.
   */
  private holdLimits(): number[] {
    const limits: number[] = new Array<number>(this.tiers.length).fill(0);
    let below = 0;
    for (let level = this.tiers.length - 1; level >= 0; level--) {
      const reclaimable = new Map<Dir, number>();
      for (const id of this.tiers[level]!.order.ids()) {
        const b = this.blocks.get(id)!;
        if (this.mayLeave(b, below)) reclaimable.set(b.file.dir, (reclaimable.get(b.file.dir) ?? 0) + b.length);
      }
      for (const d of this.tiers[level]!.dirs) limits[level] = Math.max(limits[level]!, Math.min(d.quotaBytes, d.availableBytes + (reclaimable.get(d) ?? 0)));
      below = Math.max(below, limits[level]!);
    }
    return limits;
  }

  /** The largest block some tier below `level` could take. */
  private limitBelow(level: number): number {
    return Math.max(0, ...this.holdLimits().slice(level + 1));
  }

  /** Whether the block may leave its directory, given the largest block a lower tier could take. */
  private mayLeave(b: Block, limitBelow: number): boolean {
    return this.evictable(b) && (b.persisted || b.length <= limitBelow);
  }

  private evictable(b: Block): boolean {
    return !b.pinned && !b.busy && b.leases === 0;
  }

  /**
   * Reserves `bytes` in a directory of the tier, chosen by the allocator, evicting
   * from the tier until one can take them. RESOURCE_EXHAUSTED if that becomes
   * impossible (blocks were pinned meanwhile), possibly after some evictions.
   */
  private async makeRoom(level: number, bytes: number, ctx: OpContext): Promise<Dir> {
    const tier = this.tiers[level]!;
    for (;;) {
      const i = this.allocator.choose(level, tier.dirs, bytes);
      if (i !== undefined) {
        const dir = tier.dirs[i]!;
        dir.reserve(bytes);
        return dir;
      }
      const victim = this.nextVictim(level, bytes);
      if (victim === undefined) {
        throw new StrataError(
          'RESOURCE_EXHAUSTED',
          `cannot make room for ${bytes} bytes in the ${tier.alias} tier (${this.usedBytes(tier.alias)}/${this.capacityBytes(tier.alias)} bytes used): ` +
            `its blocks are pinned, in use, or unpersisted with no room below`,
        );
      }
      await this.evict(victim, ctx);
    }
  }

  /**
   * The next block to evict so that a directory of the tier can take `bytes`: the
   * directory that gets there first in eviction order is the one emptied, so the
   * blocks removed are the fewest the annotator's order allows.
   */
  private nextVictim(level: number, bytes: number): Block | undefined {
    const freed = new Map<Dir, number>();
    const first = new Map<Dir, Block>();
    const below = this.limitBelow(level);
    for (const id of this.tiers[level]!.order.ids()) {
      const b = this.blocks.get(id)!;
      const d = b.file.dir;
      if (!this.mayLeave(b, below) || d.quotaBytes < bytes) continue;
      if (!first.has(d)) first.set(d, b);
      const f = (freed.get(d) ?? 0) + b.length;
      freed.set(d, f);
      if (d.availableBytes + f >= bytes) return first.get(d);
    }
    return undefined;
  }

  /**
   * Moves the block to the next lower tier that can make room for it, or out of
   * the worker — unless it is unpersisted: then RESOURCE_EXHAUSTED (or UNAVAILABLE
   * when the disk failed the move), and the block stays where it is.
   */
  private async evict(b: Block, ctx: OpContext): Promise<void> {
    b.busy = true;
    try {
      const from = this.locationOf(b.id, b.file.dir);
      for (let level = b.file.dir.level + 1; level < this.tiers.length; level++) {
        if (!this.couldHold(level, b.length)) continue;
        let dst: Dir;
        try {
          dst = await this.makeRoom(level, b.length, ctx);
        } catch (e) {
          if (isStrataError(e, 'RESOURCE_EXHAUSTED')) continue;
          throw e;
        }
        const outcome = await this.move(b, dst);
        if (outcome === 'moved') {
          this.counters.moves++;
          this.emit({ t: 'moved', blockId: b.id, from, to: this.locationOf(b.id, dst) });
          return;
        }
        if (outcome === 'corrupt') return;
        if (!b.persisted) throw new StrataError('UNAVAILABLE', `block ${b.id} is not persisted and could not be moved down: the disk failed the copy`);
        break;
      }
      if (!b.persisted) {
        throw new StrataError('RESOURCE_EXHAUSTED', `block ${b.id} is not persisted and no lower tier has room for its ${b.length} bytes`);
      }
      await this.drop(b);
      ctx.evicted.push(b.id);
      this.counters.evictions++;
      this.emit({ t: 'evicted', blockId: b.id, from });
    } finally {
      b.busy = false;
    }
  }

  /**
   * Copies the block into `dst` (whose space is reserved), switches it there and
   * deletes the old file. The copy is verified on the way: a corrupt block is
   * dropped rather than spread. On a write failure the block stays where it was.
   */
  private async move(b: Block, dst: Dir): Promise<MoveOutcome> {
    const src = b.file;
    src.readers++;
    let data: Uint8Array | undefined;
    let problem: string | undefined;
    try {
      data = await src.dir.disk.readFile(joinPath(src.dir.path, dataName(b.id)));
      problem = verify(data, b.length, b.crc);
    } catch (e) {
      problem = `read failed: ${errorText(e)}`;
    } finally {
      src.release();
    }
    if (problem !== undefined) {
      dst.used -= b.length;
      await this.dropCorrupt(b, problem);
      return 'corrupt';
    }
    try {
      await this.writeFiles(dst, b.id, data!, b.crc, b.persisted);
    } catch (e) {
      dst.used -= b.length;
      this.log.log('warn', 'tiered store: moving a block failed', { blockId: b.id, from: src.dir.path, to: dst.path, error: errorText(e) });
      return 'failed';
    }
    const oldTier = this.tiers[src.dir.level]!;
    const newTier = this.tiers[dst.level]!;
    oldTier.order.delete(b.id, b.score);
    src.dir.blocks--;
    b.file = new FileRef(dst);
    newTier.order.insert(b.id, b.score);
    dst.blocks++;
    await this.deleteFiles(src, b.id, b.length);
    return 'moved';
  }

  // ---- bookkeeping ---------------------------------------------------------------

  private attach(b: Block): void {
    this.blocks.set(b.id, b);
    this.tiers[b.file.dir.level]!.order.insert(b.id, b.score);
    b.file.dir.blocks++;
  }

  /** Forgets the block at once (so no new reader finds it), then deletes its files. */
  private async drop(b: Block): Promise<void> {
    this.blocks.delete(b.id);
    this.tiers[b.file.dir.level]!.order.delete(b.id, b.score);
    b.file.dir.blocks--;
    if (this.addedSinceDrain.has(b.id)) this.addedSinceDrain.delete(b.id);
    else this.removedSinceDrain.add(b.id);
    await this.deleteFiles(b.file, b.id, b.length);
  }

  private async dropCorrupt(b: Block, reason: string): Promise<void> {
    const at = this.locationOf(b.id, b.file.dir);
    this.log.log('warn', 'tiered store: dropping a block that failed verification', { blockId: b.id, path: at.path, reason });
    await this.drop(b);
    this.counters.corruptDropped++;
    this.emit({ t: 'corrupt', blockId: b.id, at, reason });
  }

  private touch(b: Block): void {
    const order = this.tiers[b.file.dir.level]!.order;
    order.delete(b.id, b.score);
    b.score = this.annotator.accessed(b.score);
    order.insert(b.id, b.score);
    b.lastAccessMs = this.clock();
  }

  private noteAdded(id: number): void {
    if (this.removedSinceDrain.has(id)) this.removedSinceDrain.delete(id);
    else this.addedSinceDrain.add(id);
  }

  // ---- files -------------------------------------------------------------------

  private async writeFiles(dir: Dir, id: number, data: Uint8Array, crc: number, persisted: boolean): Promise<void> {
    const disk = dir.disk;
    const tmpData = joinPath(joinPath(dir.path, TMP_DIR), dataName(id));
    const tmpMeta = joinPath(joinPath(dir.path, TMP_DIR), metaName(id));
    try {
      await disk.writeFile(tmpData, data);
      await disk.fsync(tmpData);
      await this.writeMeta(dir, id, data.byteLength, crc, tmpMeta, persisted);
      await this.publish(dir, id, tmpData, tmpMeta);
    } catch (e) {
      for (const p of [tmpData, tmpMeta, joinPath(dir.path, dataName(id))]) await disk.remove(p).catch(() => undefined);
      throw e;
    }
  }

  private async writeMeta(dir: Dir, id: number, length: number, crc: number, tmpMeta: string, persisted: boolean): Promise<void> {
    await dir.disk.writeFile(tmpMeta, encodeMeta({ blockId: id, length, crc, tier: dir.alias, persisted }));
    await dir.disk.fsync(tmpMeta);
  }

  /** Commits a block whose data and metadata are durable in .tmp: data first, for a data file without metadata is an uncommitted block to recovery. */
  private async publish(dir: Dir, id: number, tmpData: string, tmpMeta: string): Promise<void> {
    await dir.disk.rename(tmpData, joinPath(dir.path, dataName(id)));
    await dir.disk.rename(tmpMeta, joinPath(dir.path, metaName(id)));
  }

  /**
   * Deletes a block's files once no reader uses them, metadata first so a crash
   * in between leaves an uncommitted data file, then gives the space back.
   */
  private async deleteFiles(file: FileRef, id: number, length: number): Promise<void> {
    await file.idle();
    const dir = file.dir;
    try {
      await dir.disk.remove(joinPath(dir.path, metaName(id)));
      await dir.disk.remove(joinPath(dir.path, dataName(id)));
    } catch (e) {
      // Left for recovery to sort out; holding the quota would wedge the directory for good.
      this.log.log('error', 'tiered store: deleting a block file failed', { blockId: id, dir: dir.path, error: errorText(e) });
    }
    dir.used -= length;
  }

  // ---- recovery --------------------------------------------------------------------

  private async recover(): Promise<void> {
    const found: Block[] = [];
    const mtimes = new Map<number, number>();
    for (const tier of this.tiers) {
      for (const dir of tier.dirs) {
        const disk = dir.disk;
        await disk.mkdir(dir.path);
        const tmp = joinPath(dir.path, TMP_DIR);
        const tmpStat = await disk.stat(tmp);
        if (tmpStat?.isDir) {
          for (const name of await disk.list(tmp)) this.discard(disk, joinPath(tmp, name), 'an interrupted write');
          await disk.remove(tmp);
        }
        const names = await disk.list(dir.path);
        const metas = new Set(names.filter((n) => META_NAME.test(n)));
        for (const name of names) {
          if (name === TMP_DIR || META_NAME.test(name)) continue;
          if (!DATA_NAME.test(name)) {
            this.log.log('warn', 'tiered store: ignoring an unknown file in a block directory', { dir: dir.path, name });
            continue;
          }
          if (!metas.has(metaName(Number(name)))) {
            await disk.remove(joinPath(dir.path, name));
            this.discard(disk, joinPath(dir.path, name), 'a block file without metadata (uncommitted)');
          }
        }
        for (const m of [...metas].sort(byNumber)) {
          const id = Number(m.slice(0, -'.meta'.length));
          const b = await this.recoverBlock(dir, id);
          if (b) {
            found.push(b);
            this.blocks.set(id, b);
            mtimes.set(id, (await disk.stat(joinPath(dir.path, dataName(id))))?.mtimeMs ?? 0);
          }
        }
      }
    }
    found.sort((a, b) => mtimes.get(a.id)! - mtimes.get(b.id)! || a.id - b.id);
    for (const b of found) {
      b.score = this.annotator.created();
      this.tiers[b.file.dir.level]!.order.insert(b.id, b.score);
      b.file.dir.blocks++;
    }
    this.counters.recovered = found.length;
    this.log.log('info', 'tiered store: recovered', {
      blocks: found.length,
      corrupt: this.counters.corruptDropped,
      discarded: this.counters.discarded,
      usage: this.dirUsage().map((d) => `${d.tier}[${d.dir}] ${d.usedBytes}/${d.quotaBytes}`),
    });
  }

  /** Verifies one committed block; deletes it (and says why) if it cannot be kept. */
  private async recoverBlock(dir: Dir, id: number): Promise<Block | undefined> {
    const disk = dir.disk;
    const metaPath = joinPath(dir.path, metaName(id));
    const dataPath = joinPath(dir.path, dataName(id));
    const removeBoth = async (): Promise<void> => {
      await disk.remove(metaPath);
      await disk.remove(dataPath);
    };
    const at = this.locationOf(id, dir);
    let problem: string | undefined;
    let length = 0;
    let crc = 0;
    let storedPersisted = false;
    try {
      const meta = decodeMeta(await disk.readFile(metaPath));
      if (typeof meta === 'string') problem = meta;
      else if (meta.blockId !== id) problem = `metadata names block ${meta.blockId}`;
      else {
        length = meta.length;
        crc = meta.crc;
        storedPersisted = meta.persisted === true;
        const st = await disk.stat(dataPath);
        if (!st || st.isDir) problem = 'block file missing';
        else if (st.size !== length) problem = `block file has ${st.size} bytes, metadata says ${length}`;
        else problem = verify(await disk.readFile(dataPath), length, crc);
      }
    } catch (e) {
      problem = `read failed: ${errorText(e)}`;
    }
    if (problem !== undefined) {
      await removeBoth();
      this.counters.corruptDropped++;
      this.log.log('warn', 'tiered store: dropping a block that failed verification', { blockId: id, path: dataPath, reason: problem });
      this.emit({ t: 'corrupt', blockId: id, at, reason: problem });
      return undefined;
    }
    if (this.blocks.has(id)) {
      // A crash during a move leaves two good copies; the one in the higher tier (found first) stays.
      await removeBoth();
      this.discard(disk, dataPath, `a second copy of block ${id} (interrupted move)`);
      return undefined;
    }
    if (dir.used + length > dir.quotaBytes) {
      await removeBoth();
      this.discard(disk, dataPath, `no room under the ${dir.alias} dir quota of ${dir.quotaBytes} bytes (quota lowered?)`);
      return undefined;
    }
    dir.used += length;
    const now = this.clock();
    return { id, length, crc, file: new FileRef(dir), score: { rank: 0, tick: 0, crf: 1 }, pinned: false, persisted: storedPersisted || !this.recoverUnpersisted, busy: false, leases: 0, createdMs: now, lastAccessMs: now };
  }

  private discard(disk: Disk, path: string, reason: string): void {
    this.counters.discarded++;
    this.log.log('info', 'tiered store: discarding', { path, reason });
    this.emit({ t: 'discarded', disk, path, reason });
  }

  // ---- helpers ---------------------------------------------------------------------

  private emit(e: TieredStoreEvent): void {
    this.onEvent?.(e);
  }

  private tier(alias: TierAlias): Tier {
    const t = this.tiers.find((x) => x.alias === alias);
    if (!t) throw new StrataError('INVALID_ARGUMENT', `this worker has no ${alias} tier (it has ${this.levels.join(', ')})`);
    return t;
  }

  private dirsOf(tier?: TierAlias, dir?: number): Dir[] {
    const dirs = tier === undefined ? this.tiers.flatMap((t) => t.dirs) : this.tier(tier).dirs;
    if (dir === undefined) return dirs;
    const d = dirs[dir];
    if (!d) throw new StrataError('INVALID_ARGUMENT', `the ${tier} tier has no directory ${dir}`);
    return [d];
  }

  private locationOf(id: number, dir: Dir): BlockLocation {
    return { tier: dir.alias, level: dir.level, dir: dir.index, path: joinPath(dir.path, dataName(id)) };
  }
}

function verify(data: Uint8Array, length: number, crc: number): string | undefined {
  if (data.byteLength !== length) return `read ${data.byteLength} bytes, expected ${length}`;
  if (crc32(data) !== crc) return 'checksum mismatch';
  return undefined;
}

function validateLevels(levels: readonly TierLevelOptions[]): void {
  const bad = (msg: string): never => {
    throw new StrataError('INVALID_ARGUMENT', `tiered store: ${msg}`);
  };
  if (levels.length === 0) bad('at least one tier is needed');
  let prev = -1;
  const seen: Array<[Disk, string]> = [];
  for (const l of levels) {
    const rank = TIER_ALIASES.indexOf(l.alias);
    if (rank < 0) bad(`unknown tier alias ${String(l.alias)} (use ${TIER_ALIASES.join(', ')})`);
    if (rank <= prev) bad(`tiers must be ordered ${TIER_ALIASES.join(' > ')}, each at most once; got ${levels.map((x) => x.alias).join(', ')}`);
    prev = rank;
    if (l.dirs.length === 0) bad(`the ${l.alias} tier has no directories`);
    for (const d of l.dirs) {
      if (!Number.isSafeInteger(d.quotaBytes) || d.quotaBytes < 0) bad(`quota of ${l.alias} dir ${d.path} must be a whole number of bytes >= 0, got ${d.quotaBytes}`);
      const norm = d.path.replace(/^\/+|\/+$/g, '');
      // Two tiers sharing a directory would each delete the other's blocks at recovery.
      for (const [disk, p] of seen) {
        if (disk === d.disk && (p === norm || p.startsWith(norm + '/') || norm.startsWith(p + '/') || p === '' || norm === '')) {
          bad(`directories ${p || '/'} and ${norm || '/'} on the same disk overlap`);
        }
      }
      seen.push([d.disk, norm]);
    }
  }
}

function checkBlockId(blockId: number): void {
  if (!Number.isSafeInteger(blockId) || blockId < 0) throw new StrataError('INVALID_ARGUMENT', `invalid block id ${blockId}`);
}

function byNumber(a: string, b: string): number {
  return parseInt(a, 10) - parseInt(b, 10);
}

function errorText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
