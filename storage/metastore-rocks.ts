// The ROCKS metastore: inodes live in a key-value store (classic-level on a real
// host), one record per inode holding its attributes and its directory edges
// (child name → id), with a bounded in-memory cache in front (Alluxio's
// `inode.cache.max.size` and high/low water marks).
//
// The state machine applies entries synchronously, so a cache miss is a
// synchronous read (`getSync`) and writes are write-back: a changed inode stays
// in the cache, dirty, until a batch carries it to the store; only clean inodes
// are evicted. Which ids exist is kept in a bitmap (a bit per id ever assigned),
// so misses for absent ids never reach the store and a checkpoint can walk the
// live ids in order.
//
// Eviction is CLOCK, an approximation of LRU: a hit only gives the inode credit,
// and the hand, going round, spends one credit per pass and evicts what has none.
// (Moving an entry to the end of a Map on every hit, the usual JS LRU, makes V8
// rehash the whole table every few hits once evictions have shrunk it.) A
// directory gets more credit than a file: its record carries all its edges, so
// reloading it costs far more, and every lookup below it passes through it.
//
// A directory's file children are also kept together in one listing record
// (storage/metastore-listing.ts), so listStatus reads one record instead of one per
// child. The write-back keeps it current: a batch that changes a directory's files
// rebuilds its record when the directory is small or the change large next to it,
// and otherwise drops it (rewriting a large record for a few changes would multiply
// what a batch writes), to be rebuilt by the next listing of the directory.
//
// Write-back has backpressure: once the changes not yet in the store pass the high
// water mark, `writable` makes the master's writers wait until they are back under
// the low one; and entries applied without waiting (journal replay, followers) get
// their dirty inodes encoded and evicted, so what stays in memory is compact bytes.
//
// The store is a cache of journaled state, never the source of truth: the master
// empties it on start and rebuilds it from the checkpoint and the journal, so a
// store left ahead of or behind the journal by a crash cannot leak into state.
import { packRecord, unpackRecord } from '../transport/codec.js';
import type { Kv } from '../actors/env.js';
import { StrataError } from '../actors/protocol/envelope.js';
import type { Inode, InodeStore } from './metastore.js';
import { decodeListing, encodeListing } from './metastore-listing.js';

export interface RocksStoreOptions {
  /** strata.master.metastore.inode.cache.max.size: inodes held in memory at most (and the most changes not yet written). */
  cacheMaxSize: number;
  /** Above this fraction of the maximum, clean inodes are evicted... */
  highWaterMark: number;
  /** ...down to this fraction. */
  lowWaterMark: number;
  /** Changes gathered before a batch is written. */
  batchSize?: number;
  /**
   * A write-back rebuilds the listing record of a directory with `c` changes when
   * c x listingFactor + listingSmall >= its children, and drops it otherwise
   * (defaults 8 and 256; tests lower them to exercise both).
   */
  listingFactor?: number;
  listingSmall?: number;
}

type Record = [
  parent: number, name: string, isDir: boolean, length: number, mtimeMs: number, blockSize: number,
  completed: boolean, persisted: boolean, childrenLoaded: boolean, mountId: number, owner: string, group: string,
  mode: number, pinned: 0 | 1, ttl: 0 | [number, 'DELETE' | 'FREE'], childNames: string[], childIds: number[],
];

export function encodeInode(n: Inode): Uint8Array {
  const names: string[] = [];
  const ids: number[] = [];
  if (n.children) for (const [k, v] of n.children) (names.push(k), ids.push(v));
  const r: Record = [
    n.parent, n.name, n.isDir, n.length, n.mtimeMs, n.blockSize, n.completed, n.persisted, n.childrenLoaded,
    n.mountId ?? 0, n.owner, n.group, n.mode, n.pinned ? 1 : 0, n.ttl ? [n.ttl.ms, n.ttl.action] : 0, names, ids,
  ];
  return packRecord(r);
}

export function decodeInode(id: number, bytes: Uint8Array): Inode {
  const [parent, name, isDir, length, mtimeMs, blockSize, completed, persisted, childrenLoaded, mountId, owner, group, mode, pinned, ttl, names, ids] =
    unpackRecord(bytes) as Record;
  let children: Map<string, number> | undefined;
  if (isDir) {
    children = new Map();
    for (let i = 0; i < names.length; i++) children.set(names[i]!, ids[i]!);
  }
  return {
    id, parent, name, isDir, length, mtimeMs, blockSize, completed, persisted, childrenLoaded, owner, group, mode, children,
    ...(mountId ? { mountId } : {}), ...(pinned ? { pinned: true } : {}), ...(ttl ? { ttl: { ms: ttl[0], action: ttl[1] } } : {}),
  };
}

const keyOf = (id: number): string => 'i' + id.toString(36);
const listingKeyOf = (dirId: number): string => 'l' + dirId.toString(36);

/** A growable bitmap of the ids in use. */
class IdSet {
  private bits = new Uint8Array(1024);
  size = 0;

  has(id: number): boolean {
    const byte = id >>> 3;
    return byte < this.bits.length && (this.bits[byte]! & (1 << (id & 7))) !== 0;
  }

  add(id: number): void {
    const byte = id >>> 3;
    if (byte >= this.bits.length) {
      const grown = new Uint8Array(Math.max(byte + 1, this.bits.length * 2));
      grown.set(this.bits);
      this.bits = grown;
    }
    if ((this.bits[byte]! & (1 << (id & 7))) === 0) this.size++;
    this.bits[byte]! |= 1 << (id & 7);
  }

  delete(id: number): void {
    if (!this.has(id)) return;
    this.bits[id >>> 3]! &= ~(1 << (id & 7));
    this.size--;
  }

  clear(): void {
    this.bits = new Uint8Array(1024);
    this.size = 0;
  }

  *ascending(): Generator<number> {
    for (let byte = 0; byte < this.bits.length; byte++) {
      const b = this.bits[byte]!;
      if (b === 0) continue;
      for (let bit = 0; bit < 8; bit++) if (b & (1 << bit)) yield byte * 8 + bit;
    }
  }
}

export class RocksInodeStore implements InodeStore {
  readonly type = 'ROCKS';
  private readonly ids = new IdSet();
  private readonly cache = new Map<number, Inode>();
  /** Cached ids in the order the clock hand visits them; -1 or ids no longer cached are dead slots. */
  private ring: number[] = [];
  private hand = 0;
  /** Per id, the passes of the hand an inode survives without being used again. */
  private credit = new Uint8Array(1024);
  /** Cached inodes changed since they were last encoded. */
  private readonly dirty = new Set<number>();
  /** Encoded but not yet handed to the store (null: delete). */
  private pending = new Map<number, Uint8Array | null>();
  /** Handed to the store in the batch now being written. */
  private inFlight = new Map<number, Uint8Array | null>();
  /** Directories whose listing record, as last enqueued, is current up to their dirty children. */
  private readonly listed = new IdSet();
  /** Listing records, by directory, as `pending` and `inFlight` hold inode records. */
  private pendingListings = new Map<number, Uint8Array | null>();
  private inFlightListings = new Map<number, Uint8Array | null>();
  private writing: Promise<void> | undefined;
  private readonly high: number;
  private readonly low: number;
  private readonly batchSize: number;
  private readonly listingFactor: number;
  private readonly listingSmall: number;
  /** The last failed write, reported by the next `flush` or `writable`. */
  private writeError: Error | undefined;
  private closed = false;
  /** Nesting depth of `hold`: evictions wait until it is back to 0. */
  private held = 0;
  /** Counts changes, so a listing that awaited a read can tell whether what it read still holds. */
  private version = 0;
  readonly stats = { hits: 0, misses: 0, dirMisses: 0, evictions: 0, batches: 0, readThrough: 0, listingsRebuilt: 0, listingsDropped: 0, spills: 0, waits: 0 };

  constructor(
    private readonly kv: Kv,
    opts: RocksStoreOptions,
  ) {
    if (!(opts.cacheMaxSize >= 1)) throw new RangeError(`inode cache max size must be at least 1, not ${opts.cacheMaxSize}`);
    if (!(opts.lowWaterMark > 0 && opts.lowWaterMark <= opts.highWaterMark && opts.highWaterMark <= 1)) {
      throw new RangeError(`inode cache water marks must satisfy 0 < low (${opts.lowWaterMark}) <= high (${opts.highWaterMark}) <= 1`);
    }
    this.high = Math.max(1, Math.floor(opts.cacheMaxSize * opts.highWaterMark));
    this.low = Math.max(1, Math.floor(opts.cacheMaxSize * opts.lowWaterMark));
    this.batchSize = opts.batchSize ?? 4096;
    this.listingFactor = opts.listingFactor ?? 8;
    this.listingSmall = opts.listingSmall ?? 256;
  }

  /** Empties the key-value store: what it held is not trusted (see the header). */
  static async open(kv: Kv, opts: RocksStoreOptions): Promise<RocksInodeStore> {
    await kv.clear();
    return new RocksInodeStore(kv, opts);
  }

  get size(): number {
    return this.ids.size;
  }

  get cached(): number {
    return this.cache.size;
  }

  /** Changes not yet in the store: dirty inodes and encoded records waiting or being written. */
  get backlog(): number {
    return this.dirty.size + this.pending.size + this.inFlight.size;
  }

  get(id: number): Inode | undefined {
    if (!this.ids.has(id)) return undefined;
    const hit = this.cache.get(id);
    if (hit) {
      this.stats.hits++;
      this.use(hit);
      return hit;
    }
    this.stats.misses++;
    const n = this.load(id);
    if (n.isDir) this.stats.dirMisses++;
    this.cache.set(id, n);
    this.ring.push(id);
    this.use(n);
    this.evictIfFull();
    return n;
  }

  async listChildren(dir: Inode): Promise<Inode[] | undefined> {
    const edges = dir.children;
    if (!edges || edges.size === 0) return [];
    const at = this.version;
    const out: Inode[] = [];
    if (this.listed.has(dir.id)) {
      // One record, read as a cache miss is: the await of an asynchronous read cost more than the read.
      const bytes = this.pendingListings.get(dir.id) ?? this.inFlightListings.get(dir.id) ?? this.kv.getSync(listingKeyOf(dir.id));
      if (!bytes) throw new Error(`metastore has no listing record of directory ${dir.id}, which it says is listed`);
      // The record matches the edges the directory had when it was last written; since
      // then, only a dirty directory can have lost or renamed children.
      const rows = decodeListing(bytes, dir.id, this.dirty.has(dir.id) ? (name, id) => edges.get(name) === id : () => true);
      // A row is current unless its inode changed since: then the cached object is.
      for (const r of rows) out.push(this.dirty.has(r.id) ? this.cache.get(r.id)! : r);
      if (out.length === edges.size) return out;
    }
    // Child directories and children added since, or every child when there is no record.
    const have = new Set<number>(out.map((n) => n.id));
    const missing: number[] = [];
    for (const id of edges.values()) {
      if (have.has(id)) continue;
      const c = this.cache.get(id);
      if (c) out.push(c);
      else missing.push(id);
    }
    const read = await this.readDetached(missing);
    if (!read || this.version !== at) return undefined;
    for (const n of read) out.push(n);
    if (!this.listed.has(dir.id)) {
      // Nothing changed since the call: what was read is the directory's listing now.
      this.setListing(dir.id, out.filter((n) => !n.isDir));
      if (!this.writing && this.pendingListings.size >= this.batchSize) this.startWrite();
    }
    return out;
  }

  async writable(): Promise<void> {
    if (this.backlog <= this.high) return;
    this.stats.waits++;
    while (this.backlog > this.low && !this.closed) {
      if (!this.writing) this.startWrite();
      const w = this.writing;
      if (!w) break;
      await w;
      if (this.writeError) {
        const e = this.writeError;
        this.writeError = undefined;
        throw new StrataError('UNAVAILABLE', `the metastore cannot write back changes: ${e.message}`);
      }
    }
  }

  put(n: Inode): void {
    this.version++;
    this.ids.add(n.id);
    const had = this.cache.get(n.id);
    if (had !== n) {
      this.cache.set(n.id, n);
      if (!had) this.ring.push(n.id);
    }
    this.use(n);
    this.dirty.add(n.id);
    this.afterChange();
  }

  remove(id: number): void {
    this.version++;
    this.ids.delete(id);
    this.cache.delete(id);
    this.dirty.delete(id);
    this.pending.set(id, null);
    this.dropListing(id);
    this.afterChange();
  }

  hold(): void {
    this.held++;
  }

  release(): void {
    if (--this.held === 0) this.afterChange();
  }

  *inOrder(): Generator<Inode> {
    for (const id of this.ids.ascending()) yield this.cache.get(id) ?? this.load(id);
  }

  replace(all: Iterable<Inode>): void {
    this.version++;
    this.ids.clear();
    this.cache.clear();
    this.ring = [];
    this.hand = 0;
    this.credit = new Uint8Array(1024);
    this.dirty.clear();
    // Keys of ids no longer in use may stay in the store: the id bitmap masks inode
    // records, and `listed` listing records; either is overwritten before it is used.
    this.pending = new Map();
    this.listed.clear();
    this.pendingListings = new Map();
    const files = new Map<number, Inode[]>();
    const dirs: number[] = [];
    for (const n of all) {
      this.ids.add(n.id);
      this.pending.set(n.id, encodeInode(n));
      if (n.isDir) dirs.push(n.id);
      else {
        const siblings = files.get(n.parent);
        if (siblings) siblings.push(n);
        else files.set(n.parent, [n]);
      }
    }
    for (const d of dirs) this.setListing(d, files.get(d) ?? []);
    this.startWrite();
  }

  async flush(): Promise<void> {
    while (this.writing || this.dirty.size > 0 || this.pending.size > 0 || this.pendingListings.size > 0) {
      if (!this.writing) this.startWrite();
      await this.writing;
      if (this.writeError) {
        const e = this.writeError;
        this.writeError = undefined;
        throw e;
      }
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    try {
      await this.flush();
    } finally {
      this.closed = true;
      await this.kv.close();
    }
  }

  private load(id: number): Inode {
    const bytes = this.unwritten(id) ?? this.kv.getSync(keyOf(id));
    // The bitmap says the id is in use, so a record must exist somewhere.
    if (!bytes) throw new Error(`metastore has no record of inode ${id}, which is in use`);
    return decodeInode(id, bytes);
  }

  /** The record of an inode encoded but not yet in the store. */
  private unwritten(id: number): Uint8Array | undefined {
    return this.pending.get(id) ?? this.inFlight.get(id) ?? undefined;
  }

  /** These inodes, none of them cached, as detached copies with one read of the store; undefined if one is gone. */
  private async readDetached(ids: readonly number[]): Promise<Inode[] | undefined> {
    const out: Inode[] = [];
    const toRead: number[] = [];
    for (const id of ids) {
      const bytes = this.ids.has(id) ? this.unwritten(id) : undefined;
      if (bytes) out.push(decodeInode(id, bytes));
      else toRead.push(id);
    }
    if (toRead.length === 0) return out;
    const found = await this.kv.getMany(toRead.map(keyOf));
    for (let k = 0; k < toRead.length; k++) {
      const bytes = found[k];
      // Missing only if removed and written meanwhile: the caller sees that change.
      if (!bytes) return undefined;
      out.push(decodeInode(toRead[k]!, bytes));
    }
    this.stats.readThrough += toRead.length;
    return out;
  }

  private afterChange(): void {
    // Not in the middle of a change (see hold): a write encodes dirty inodes and
    // rebuilds their directories' listing records, which must not see a half-applied
    // entry (a rename between taking the old name off and putting the new one on).
    if (this.held > 0) return;
    if (!this.writing && this.dirty.size + this.pending.size >= this.batchSize) this.startWrite();
    this.evictIfFull();
  }

  private use(n: Inode): void {
    if (n.id >= this.credit.length) {
      const grown = new Uint8Array(Math.max(n.id + 1, this.credit.length * 2));
      grown.set(this.credit);
      this.credit = grown;
    }
    this.credit[n.id] = n.isDir ? 3 : 1;
  }

  private evictIfFull(): void {
    if (this.held > 0) return;
    if (this.cache.size <= this.high) {
      // Removed inodes leave dead slots: drop them before the ring outgrows the cache.
      if (this.ring.length > 2 * this.cache.size + 1024) this.compactRing();
      return;
    }
    this.evictPass();
    if (this.cache.size > this.high && this.dirty.size > 0) {
      // Entries keep coming faster than batches land (nothing awaits `writable` during
      // a replay or on a follower): keep their changes as records instead of objects.
      this.stats.spills++;
      this.encodeDirty();
      this.evictPass();
    }
    // Only dirty inodes left above the mark: write them so they can go.
    if (this.cache.size > this.low && !this.writing && this.dirty.size > 0) this.startWrite();
  }

  private evictPass(): void {
    // At most four turns of the hand (a directory's full credit and one more): past
    // that, what is left is dirty and waits for its write.
    let steps = 4 * this.ring.length;
    while (this.cache.size > this.low && steps-- > 0) {
      if (this.hand >= this.ring.length) {
        this.compactRing();
        this.hand = 0;
        if (this.ring.length === 0) break;
      }
      const id = this.ring[this.hand]!;
      if (id < 0 || !this.cache.has(id)) this.ring[this.hand] = -1;
      else if (this.credit[id]! > 0) this.credit[id]!--;
      else if (!this.dirty.has(id)) {
        this.cache.delete(id);
        this.ring[this.hand] = -1;
        this.stats.evictions++;
      }
      this.hand++;
    }
  }

  /** Drops dead slots, keeping the order and the hand's place. */
  private compactRing(): void {
    const kept: number[] = [];
    let hand = 0;
    for (let i = 0; i < this.ring.length; i++) {
      const id = this.ring[i]!;
      if (id < 0 || !this.cache.has(id)) continue;
      if (i < this.hand) hand++;
      kept.push(id);
    }
    this.ring = kept;
    this.hand = hand;
  }

  /**
   * Encodes every dirty inode into `pending`, and brings the listing records of the
   * directories whose files changed up to date (or drops them) at the same moment:
   * a listing record is current for every child that is not dirty.
   */
  private encodeDirty(): void {
    // Per directory, how many of its files changed, plus one if its own edges may have.
    const touched = new Map<number, number>();
    for (const id of this.dirty) {
      const n = this.cache.get(id)!;
      this.pending.set(id, encodeInode(n));
      const dirId = n.isDir ? id : n.parent;
      touched.set(dirId, (touched.get(dirId) ?? 0) + 1);
    }
    this.dirty.clear();
    for (const [dirId, changed] of touched) this.refreshListing(dirId, changed);
  }

  private refreshListing(dirId: number, changed: number): void {
    if (!this.ids.has(dirId)) return;
    const dir = this.cache.get(dirId) ?? this.load(dirId);
    const edges = dir.children!;
    // A large record for a few changes: dropped (see the header).
    if (changed * this.listingFactor + this.listingSmall < edges.size) {
      this.dropListing(dirId);
      return;
    }
    const old = this.listed.has(dirId) ? (this.pendingListings.get(dirId) ?? this.inFlightListings.get(dirId) ?? this.kv.getSync(listingKeyOf(dirId))) : undefined;
    const before = old ? new Map(decodeListing(old, dirId, () => true).map((f) => [f.id, f])) : undefined;
    const files: Inode[] = [];
    for (const id of edges.values()) {
      const n = this.cache.get(id) ?? before?.get(id) ?? (this.unwritten(id) && this.load(id));
      if (n) {
        if (!n.isDir) files.push(n);
      } else if (!before) {
        // A child neither in memory nor in a current record: it cannot be told from a directory without a read.
        this.dropListing(dirId);
        return;
      }
      // Otherwise a current record lacks only directories.
    }
    this.setListing(dirId, files);
    this.stats.listingsRebuilt++;
  }

  private setListing(dirId: number, files: readonly Inode[]): void {
    this.listed.add(dirId);
    this.pendingListings.set(dirId, encodeListing(files));
  }

  private dropListing(dirId: number): void {
    if (!this.listed.has(dirId)) return;
    this.listed.delete(dirId);
    this.pendingListings.set(dirId, null);
    this.stats.listingsDropped++;
  }

  private startWrite(): void {
    if (this.writing || this.closed) return;
    this.encodeDirty();
    if (this.pending.size === 0 && this.pendingListings.size === 0) return;
    this.inFlight = this.pending;
    this.pending = new Map();
    this.inFlightListings = this.pendingListings;
    this.pendingListings = new Map();
    const ops: Array<[string, Uint8Array | undefined]> = [];
    for (const [id, v] of this.inFlight) ops.push([keyOf(id), v ?? undefined]);
    for (const [id, v] of this.inFlightListings) ops.push([listingKeyOf(id), v ?? undefined]);
    this.stats.batches++;
    // Not synced: after a crash the store is rebuilt from the journal anyway.
    this.writing = this.kv.batch(ops, false).then(
      () => {
        this.inFlight = new Map();
        this.inFlightListings = new Map();
        this.writing = undefined;
        this.evictIfFull();
        if (this.dirty.size + this.pending.size >= this.batchSize) this.startWrite();
      },
      (e: unknown) => {
        // Nothing is lost: what failed goes back to pending, behind anything newer.
        for (const [id, v] of this.inFlight) if (!this.pending.has(id) && !this.dirty.has(id)) this.pending.set(id, v);
        for (const [id, v] of this.inFlightListings) if (!this.pendingListings.has(id)) this.pendingListings.set(id, v);
        this.inFlight = new Map();
        this.inFlightListings = new Map();
        this.writing = undefined;
        this.writeError = e instanceof Error ? e : new Error(String(e));
      },
    );
  }
}
