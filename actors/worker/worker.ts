// A worker: caches blocks in its MEM tier, streams them to clients with
// credit-based flow control, reads through to the UFS on a miss (one UFS read per
// block however many clients miss at once), writes files through to the UFS, and
// keeps the master informed by registration and heartbeats.
import { TieredBlockStore, type TierLevelOptions } from '../../storage/tiered-store.js';
import type { TieredStoreLayout } from '../../storage/tiered-conf.js';
import type { Infer } from '../../transport/schema.js';
import type { Actor, Disk, Env, OpenFile, Timer } from '../env.js';
import { StrataError, isStrataError, type Envelope, type Message } from '../protocol/envelope.js';
import type * as M from '../protocol/master.js';
import * as W from '../protocol/worker.js';
import { Rpc, serve, type Handler } from '../rpc.js';
import { MasterChannel } from '../master-channel.js';
import { blockIdOf, fileOfBlock, indexOfBlock } from '../block-id.js';
import { metricsOf } from '../metrics.js';
import { registerWorkerMetrics, workerReport } from './worker-metrics.js';
import { JobWorker, type JobWorkerHost } from '../job/job-worker.js';
import { ufsTempPath } from '../ufs-temp.js';
import { BlockFill } from './block-fill.js';
import { WrittenBlocks } from './written-blocks.js';

export interface WorkerOptions {
  masterId: string;
  /** Every master, when there are several; registration and heartbeats follow the leader. */
  masterIds?: readonly string[];
  /** How clients reach this worker (ws://host:port); a function when the port is known only after listening. */
  address: string | (() => string);
  /** The tiers: levels top first, each with directories and quotas (Alluxio's tieredstore keys). */
  tiers: TieredStoreLayout;
  /** Checksum every block read from the tiers (recovery always verifies); strata.worker.block.verify.reads. */
  verifyReads?: boolean;
  heartbeatIntervalMs: number;
  rpcTimeoutMs: number;
  /** How long a short-circuit reader may hold a block file before the worker takes it back (default 30 s). */
  localLeaseMs?: number;
  chunkSize: number;
}

type Req<S> = Envelope<Infer<S> & Message>;
/** What a read asks for, streamed (ReadBlock) or in one reply (ReadRange). */
type BlockRead = Omit<Infer<typeof W.ReadRange>, 't'>;

/** Where a block's bytes are in the UFS (WorkerActor.blockSource). */
interface UfsBlock {
  ufs: Disk;
  path: string;
  fileOffset: number;
  blockLength: number;
  /** Rejects (FAILED_PRECONDITION) when the UFS file is no longer the one the master knows. */
  unchanged: () => Promise<void>;
}

/** A block being read through from the UFS (WorkerActor.readThrough). */
interface Miss {
  fill: Promise<BlockFill>;
  settled: Promise<Uint8Array>;
}

/** Chunks a writer may have unacknowledged: enough to cover the round trip and a disk hiccup, bounded memory per stream. */
const WRITE_WINDOW = 16;

/** Where a read stream's chunks come from: memory (sync) or a leased block file. */
interface ChunkSource {
  read(pos: number, length: number): Uint8Array | Promise<Uint8Array>;
  /** Gives back what the source holds (a block lease, an open file). */
  close(): void;
}

interface ReadStream {
  to: string;
  id: number;
  /** The request, for an error reply on the stream. */
  req: Envelope;
  source: ChunkSource;
  /** A chunk is being read from the source. */
  reading: boolean;
  pos: number;
  end: number;
  seq: number;
  credits: number;
  cached: boolean;
  idle: Timer;
}

interface WriteStream {
  from: string;
  id: number;
  /** Undefined for MUST_CACHE: the blocks are the only copy. */
  ufs: Disk | undefined;
  path: string;
  fileId: number;
  /** Undefined for THROUGH: nothing is cached. */
  blocks: WrittenBlocks | undefined;
  nextSeq: number;
  waiting: Map<number, Req<typeof W.WriteChunk>>;
  applying: boolean;
  length: number;
  /** Set once closed, so a duplicated WriteClose gets the same answer. */
  done?: Infer<typeof W.WriteDone>;
  /** Woken whenever the applier finishes a run (several WriteClose duplicates may wait). */
  waiters: Array<() => void>;
  failed?: StrataError;
  idle: Timer;
}

/** A byte-bounded LRU of block data (Map order is recency order). */
class HotBlocks {
  private readonly blocks = new Map<number, Uint8Array>();
  private bytes = 0;
  constructor(private readonly maxBytes: number) {}

  get(id: number): Uint8Array | undefined {
    const b = this.blocks.get(id);
    if (b) {
      this.blocks.delete(id);
      this.blocks.set(id, b);
    }
    return b;
  }

  set(id: number, data: Uint8Array): void {
    this.delete(id);
    if (data.byteLength > this.maxBytes) return;
    this.blocks.set(id, data);
    this.bytes += data.byteLength;
    for (const [old, b] of this.blocks) {
      if (this.bytes <= this.maxBytes) break;
      this.blocks.delete(old);
      this.bytes -= b.byteLength;
    }
  }

  delete(id: number): void {
    const b = this.blocks.get(id);
    if (!b) return;
    this.blocks.delete(id);
    this.bytes -= b.byteLength;
  }
}

export class WorkerActor implements Actor, JobWorkerHost {
  private readonly rpc: Rpc;
  private readonly masters: MasterChannel;
  /** Open once start() has recovered it from disk. */
  store!: TieredBlockStore;
  private storeReady = false;
  private readonly ufsByUri = new Map<string, Disk>();
  private readonly misses = new Map<number, Miss>();
  /** Block files lent to short-circuit readers, by lease id. */
  private readonly leases = new Map<number, { from: string; blockId: number; release(): void; timer: Timer }>();
  private nextLease = 1;
  private readonly reads = new Map<string, ReadStream>();
  private readonly writes = new Map<string, WriteStream>();
  private readonly opening = new Map<string, Promise<unknown>>();
  /**
   * Blocks recently stored or served, kept in memory so a hot block is not read
   * back from its tier file for every reader: as in Alluxio, the MEM tier is
   * memory, so it is as large as the MEM tier (its files keep the cache across a
   * restart); 256 MiB without one. Always a subset of the store (dropped when the
   * store evicts, drops or moves a block down).
   */
  private readonly hot: HotBlocks;
  private readonly handlers: ReadonlyMap<string, Handler>;
  private timer: Timer | undefined;
  private registered = false;
  private stopped = false;
  /** Block changes drained for a heartbeat that failed: sent again with the next one. */
  private unsent = { added: new Set<number>(), removed: new Set<number>() };
  /**
   * Blocks the master told this worker to free: it forgot their locations at once,
   * so one cached again before the next heartbeat must be reported as added, even
   * though the store nets the drop and the re-add out to no change.
   */
  private readonly freedByMaster = new Set<number>();
  /**
   * When each file last had write-stream activity here, kept for 2 × the RPC
   * timeout: a file with none for that long (nor since this worker started) has
   * no live writer on this worker, so its only-copy blocks may be released if the
   * master says the file was deleted or never completed.
   */
  private readonly lastWrite = new Map<number, number>();
  private startedMs = 0;
  /** Bytes served, split as Alluxio's metrics do; read by the metrics issue. */
  readonly counters = { bytesReadCache: 0, bytesReadUfs: 0, bytesWrittenUfs: 0, ufsBlockReads: 0, blocksEvicted: 0, bytesServed: 0, bytesWrittenCache: 0, blocksLent: 0 };
  /** The job worker hosted here: runs the job master's tasks. */
  readonly jobs: JobWorker;

  constructor(
    private readonly env: Env,
    private readonly opts: WorkerOptions,
  ) {
    this.rpc = new Rpc(env, opts.rpcTimeoutMs);
    this.masters = new MasterChannel(env, this.rpc, opts.masterIds ?? [opts.masterId], opts.rpcTimeoutMs);
    const mem = opts.tiers.levels.find((l) => l.alias === 'MEM');
    this.hot = new HotBlocks(mem ? mem.dirs.reduce((n, d) => n + d.quotaBytes, 0) : 256 * 1024 * 1024);
    const h: Array<[string, Handler]> = [
      ['ReadBlock', (r) => this.readBlock(r as Req<typeof W.ReadBlock>)],
      ['ReadCredit', (r) => this.credit(r as Req<typeof W.ReadCredit>)],
      ['ReadCancel', (r) => this.cancelRead(r as Req<typeof W.ReadCancel>)],
      ['ReadRange', (r) => this.readRange(r as Req<typeof W.ReadRange>)],
      ['OpenLocalBlock', (r) => this.openLocalBlock(r as Req<typeof W.OpenLocalBlock>)],
      ['CloseLocalBlock', (r) => this.closeLocalBlock(r as Req<typeof W.CloseLocalBlock>)],
      ['CacheBlock', (r) => this.cacheBlock(r as Req<typeof W.CacheBlock>)],
      ['WriteOpen', (r) => this.writeOpen(r as Req<typeof W.WriteOpen>)],
      ['WriteChunk', (r) => this.writeChunk(r as Req<typeof W.WriteChunk>)],
      ['WriteClose', (r) => this.writeClose(r as Req<typeof W.WriteClose>)],
    ];
    this.jobs = new JobWorker(env, this, {
      masterId: opts.masterId, ...(opts.masterIds ? { masterIds: opts.masterIds } : {}), rpcTimeoutMs: opts.rpcTimeoutMs, chunkSize: opts.chunkSize, readWindow: 8, blockSize: 64 * 1024 * 1024,
    });
    h.push(...this.jobs.handlers());
    this.handlers = new Map(h);
    registerWorkerMetrics(metricsOf(env), this);
  }

  async start(): Promise<void> {
    const levels: TierLevelOptions[] = this.opts.tiers.levels.map((l) => ({
      alias: l.alias,
      dirs: l.dirs.map((d) => {
        // A relative directory lives in this worker's own storage; an absolute one (/dev/shm/…) is its own disk.
        if (!d.path.startsWith('/')) return { disk: this.env.disk, path: d.path, quotaBytes: d.quotaBytes };
        return { disk: this.env.openUfs(`file://${d.path}`), path: '', quotaBytes: d.quotaBytes };
      }),
    }));
    this.store = await TieredBlockStore.open({
      levels, allocator: this.opts.tiers.allocator, annotator: this.opts.tiers.annotator,
      clock: () => this.env.now(), log: this.env.log, verifyReads: this.opts.verifyReads ?? true,
      // Whether a recovered block's file reached the UFS is the master's to say (heartbeat `persistedFiles`).
      recoverUnpersisted: true,
      onEvent: (e) => {
        if (e.t === 'evicted') this.counters.blocksEvicted++;
        if (e.t === 'evicted' || e.t === 'corrupt' || (e.t === 'moved' && e.to.tier !== 'MEM')) this.hot.delete(e.blockId);
      },
    });
    this.storeReady = true;
    this.startedMs = this.env.now();
    const st = this.store.stats();
    if (st.recovered > 0 || st.corruptDropped > 0) {
      this.env.log.log('info', `recovered ${st.recovered} cached blocks; dropped ${st.corruptDropped} that failed their checksum`);
    }
    this.tick();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.timer?.cancel();
    for (const [key, s] of [...this.reads]) this.endRead(key, s);
    for (const s of this.writes.values()) s.idle.cancel();
    for (const id of [...this.leases.keys()]) this.closeLease(id);
    this.rpc.stop();
    await this.jobs.stop();
    if (this.storeReady) await this.store.close();
  }

  receive(envelope: Envelope): void {
    if (this.jobs.takes(envelope)) return;
    if (!this.storeReady && envelope.re === undefined) {
      this.rpc.replyError(envelope, new StrataError('UNAVAILABLE', `${this.env.self} is still recovering its cache`));
      return;
    }
    serve(this.rpc, this.handlers, envelope, (e) => this.env.log.log('error', `internal error serving ${envelope.m.t}`, { error: String(e) }));
  }

  // ---- master ----

  private tick(): void {
    if (this.stopped) return;
    const next = () => {
      if (!this.stopped) this.timer = this.env.setTimer(this.opts.heartbeatIntervalMs, () => this.tick());
    };
    (this.registered ? this.heartbeat() : this.register()).then(next, next);
  }

  /** A heartbeat answered later than a few periods is useless: try again rather than wait. */
  private masterTimeoutMs(): number {
    return Math.min(this.opts.rpcTimeoutMs, Math.max(3 * this.opts.heartbeatIntervalMs, 500));
  }

  private async register(): Promise<void> {
    // Changes since the last drain are covered by the full block list.
    this.store.drainChanges();
    this.unsent = { added: new Set(), removed: new Set() };
    const unpersisted = this.store.unpersistedBlockIds();
    const unpersistedFiles = filesOf(unpersisted);
    try {
      const reply: Infer<typeof M.RegisterWorkerOk> = await this.rpc.request(this.masters.current, {
        t: 'RegisterWorker', workerId: this.env.self, address: typeof this.opts.address === 'string' ? this.opts.address : this.opts.address(),
        capacityBytes: this.store.capacityBytes(), usedBytes: this.store.usedBytes(), blocks: this.store.blockIds(),
        ...(unpersistedFiles.length ? { unpersistedFiles } : {}),
      } satisfies Infer<typeof M.RegisterWorker>, 'RegisterWorkerOk', this.masterTimeoutMs());
      this.markPersisted(unpersisted, reply.persistedFiles);
      this.registered = true;
    } catch (e) {
      this.env.log.log('warn', `registration with ${this.masters.current} failed: ${(e as Error).message}`);
      if (isStrataError(e)) this.masters.moveOn(e);
    }
  }

  private async heartbeat(): Promise<void> {
    const ch = this.store.drainChanges();
    // For every block that changed, or that the master dropped when it asked for it
    // to be freed, what the store holds now is what the master must hear.
    for (const b of new Set([...ch.added, ...ch.removed, ...this.freedByMaster])) {
      const present = this.store.has(b);
      (present ? this.unsent.removed : this.unsent.added).delete(b);
      (present ? this.unsent.added : this.unsent.removed).add(b);
    }
    this.freedByMaster.clear();
    const added = [...this.unsent.added];
    const removed = [...this.unsent.removed];
    // Only blocks stored before the question is asked may be released by its answer:
    // a block written meanwhile may belong to a file the master had not yet seen.
    const unpersisted = this.store.unpersistedBlockIds();
    const unpersistedFiles = filesOf(unpersisted);
    const releaseFiles = this.idleFiles(unpersistedFiles);
    try {
      const reply: Infer<typeof M.HeartbeatReply> = await this.rpc.request(this.masters.current, {
        t: 'WorkerHeartbeat', workerId: this.env.self, capacityBytes: this.store.capacityBytes(), usedBytes: this.store.usedBytes(), added, removed, metrics: workerReport(this),
        ...(unpersistedFiles.length ? { unpersistedFiles } : {}), ...(releaseFiles.length ? { releaseFiles } : {}),
      } satisfies Infer<typeof M.WorkerHeartbeat>, 'HeartbeatReply', this.masterTimeoutMs());
      for (const b of added) this.unsent.added.delete(b);
      for (const b of removed) this.unsent.removed.delete(b);
      this.markPersisted(unpersisted, reply.persistedFiles);
      await this.releaseAbandoned(unpersisted, reply.releasedFiles);
      await this.follow(reply);
      if (reply.cmd === 'register') {
        this.registered = false;
        await this.register();
      }
    } catch (e) {
      this.env.log.log('warn', `heartbeat to ${this.masters.current} failed: ${(e as Error).message}`);
      if (isStrataError(e)) {
        this.masters.moveOn(e);
        // A new leader knows nothing of this worker until it registers there.
        this.registered = false;
      }
    }
  }

  private markPersisted(asked: readonly number[], persistedFiles: readonly number[] | undefined): void {
    const persisted = new Set(persistedFiles ?? []);
    for (const b of asked) if (persisted.has(fileOfBlock(b))) this.store.markPersisted(b);
  }

  /** Of `files`, those that have had no write stream here for 2 × the RPC timeout (nor since this worker started). */
  private idleFiles(files: readonly number[]): number[] {
    const now = this.env.now();
    const bound = 2 * this.opts.rpcTimeoutMs;
    if (now - this.startedMs < bound) return [];
    for (const [id, at] of this.lastWrite) if (now - at >= bound) this.lastWrite.delete(id);
    const busy = new Set([...this.writes.values()].map((s) => s.fileId));
    return files.filter((id) => !busy.has(id) && !this.lastWrite.has(id));
  }

  /**
   * Removes the only-copy blocks (stored before the question) of files the master
   * released: deleted, or abandoned by their writer. A file that has had a write
   * stream here since the question keeps them; it is asked about again later.
   */
  private async releaseAbandoned(asked: readonly number[], releasedFiles: readonly number[] | undefined): Promise<void> {
    if (!releasedFiles?.length) return;
    const released = new Set(this.idleFiles(releasedFiles));
    if (released.size === 0) return;
    for (const b of asked) {
      if (!released.has(fileOfBlock(b)) || this.store.isPersisted(b)) continue;
      this.forgetBlock(b);
      await this.store.remove(b).catch((e: unknown) => this.env.log.log('warn', `could not remove block ${b} of an abandoned or deleted file: ${(e as Error).message}`));
    }
    this.env.log.log('info', `released the blocks of ${released.size} abandoned or deleted files`);
  }

  /** The block is about to leave the store: nothing here may keep serving it. */
  private forgetBlock(b: number): void {
    this.hot.delete(b);
    // A short-circuit reader keeps the file it opened (an unlinked file stays readable);
    // its lease must not hold up the store until it expires.
    for (const [id, l] of this.leases) if (l.blockId === b) this.closeLease(id);
  }

  /** Applies the master's pins (no eviction of pinned files' blocks) and frees. */
  private async follow(reply: Infer<typeof M.HeartbeatReply>): Promise<void> {
    if (reply.pinnedFiles) {
      const pinned = new Set(reply.pinnedFiles);
      for (const b of this.store.blockIds()) {
        const want = pinned.has(fileOfBlock(b));
        if (want && !this.store.isPinned(b)) this.store.pin(b);
        else if (!want && this.store.isPinned(b)) this.store.unpin(b);
      }
    }
    for (const b of reply.free ?? []) {
      this.freedByMaster.add(b);
      this.forgetBlock(b);
      await this.store.free(b, { force: true }).catch((e: unknown) => this.env.log.log('warn', `could not free block ${b}: ${(e as Error).message}`));
    }
  }

  // ---- reads ----

  private ufs(uri: string): Disk {
    let d = this.ufsByUri.get(uri);
    if (!d) this.ufsByUri.set(uri, (d = this.env.openUfs(uri)));
    return d;
  }

  private async readBlock(r: Req<typeof W.ReadBlock>): Promise<void> {
    const { source, cached } = await this.blockReader(r.m);
    this.startRead(r, source, r.m.offset, cached);
  }

  /** A small range as one reply: what ReadBlock would stream, without a stream. */
  private async readRange(r: Req<typeof W.ReadRange>): Promise<Infer<typeof W.BlockRange>> {
    const m = r.m;
    if (m.length > W.READ_RANGE_MAX_BYTES) {
      throw new StrataError('INVALID_ARGUMENT', `a range read takes at most ${W.READ_RANGE_MAX_BYTES} bytes, not ${m.length} (stream larger ranges with ReadBlock)`);
    }
    const { source, cached } = await this.blockReader(m);
    try {
      const data = await source.read(m.offset, m.length);
      this.counters.bytesServed += m.length;
      return { t: 'BlockRange', data, cached };
    } catch (e) {
      throw e instanceof StrataError ? e : new StrataError('UNAVAILABLE', `reading block ${m.blockId} on ${this.env.self} failed: ${(e as Error).message}`);
    } finally {
      source.close();
    }
  }

  /**
   * Where the bytes of a read come from, its range checked against the block: the
   * hot set, the block's tier file, or the UFS (read through, or for NO_CACHE only
   * the range). `cached`: the block is in this worker's cache.
   */
  private async blockReader(m: BlockRead): Promise<{ source: ChunkSource; cached: boolean }> {
    // The hot set spares re-reading a just-served block from its tier file; the store
    // still counts the access, or its LRU order would forget every hot block's use.
    let data = this.hot.get(m.blockId);
    if (data !== undefined && !this.store.recordAccess(m.blockId)) data = undefined;
    const fromHot = data !== undefined;
    if (!data && this.opts.verifyReads === false && this.store.has(m.blockId) && this.store.location(m.blockId)?.tier !== 'MEM') {
      // Unverified reads from the lower tiers stream the range straight from the block file,
      // chunk by chunk: no copy of the whole block in memory, and no bytes read that are not sent.
      if (m.promote) await this.promote(m.blockId);
      const file = await this.fileSource(m.blockId, m.offset + m.length);
      if (file) {
        try {
          checkRange(m, file.length);
        } catch (e) {
          file.close();
          throw e;
        }
        this.counters.bytesReadCache += m.length;
        return { source: file, cached: true };
      }
    }
    data ??= await this.store.get(m.blockId);
    if (data && !this.store.has(m.blockId)) data = undefined;
    if (!data) {
      if (!m.cache && !this.misses.has(m.blockId)) return { source: await this.ufsRangeSource(m), cached: false };
      // A miss streams the block as it is read through. The read's end waits until the whole
      // block is read, checked unchanged in the UFS and cached: only then is what was sent good.
      const miss = this.readThrough(m.blockId, m.cache);
      const fill = await miss.fill;
      checkRange(m, fill.length);
      const end = m.offset + m.length;
      const read = (pos: number, n: number): Uint8Array | Promise<Uint8Array> =>
        pos + n < end ? fill.read(pos, pos + n) : miss.settled.then((block) => block.subarray(pos, pos + n));
      return { source: { read, close: () => undefined }, cached: m.cache };
    }
    if (!fromHot) this.hot.set(m.blockId, data);
    checkRange(m, data.byteLength);
    this.counters.bytesReadCache += m.length;
    // CACHE_PROMOTE: a block read from a lower tier moves up to the top one.
    if (m.promote) void this.promote(m.blockId);
    const bytes = data;
    return { source: { read: (pos, n) => bytes.subarray(pos, pos + n), close: () => undefined }, cached: true };
  }

  /** CACHE_PROMOTE: moves the block up to the top tier; failing to only costs the promotion. */
  private async promote(blockId: number): Promise<void> {
    await this.store.promote(blockId).catch((e: unknown) => this.env.log.log('warn', `could not promote block ${blockId}: ${(e as Error).message}`));
  }

  private startRead(r: Req<typeof W.ReadBlock>, source: ChunkSource, offset: number, cached: boolean): void {
    const key = `${r.f}:${r.id}`;
    const s: ReadStream = {
      to: r.f, id: r.id, req: r, source, reading: false, pos: offset, end: offset + r.m.length, seq: 0, credits: Math.max(1, r.m.window), cached,
      idle: this.idleTimer(() => this.endRead(key, s)),
    };
    this.reads.set(key, s);
    this.counters.bytesServed += r.m.length;
    this.pump(key, s);
  }

  /**
   * A leased block file as a chunk source, reading one chunk ahead of the one
   * asked for so the disk works while the network sends; undefined if the block is gone.
   */
  private async fileSource(blockId: number, end: number): Promise<(ChunkSource & { length: number }) | undefined> {
    const lease = this.store.lease(blockId);
    if (!lease) return undefined;
    let file: OpenFile | undefined;
    try {
      file = lease.disk.openRead ? await lease.disk.openRead(lease.path) : undefined;
    } catch (e) {
      lease.release();
      this.env.log.log('warn', `could not open block ${blockId}: ${(e as Error).message}`);
      return undefined;
    }
    const readAt = (pos: number, n: number): Promise<Uint8Array> =>
      (file ? file.read(pos, n) : lease.disk.read(lease.path, pos, n)).then((c) => {
        if (c.byteLength !== n) throw new StrataError('INTERNAL', `block ${blockId} file ended at ${pos + c.byteLength}, inside its ${lease.length} bytes`);
        return c;
      });
    const source = this.readingAhead(readAt, end, () => {
      void file?.close();
      lease.release();
    });
    return { ...source, length: lease.length };
  }

  /**
   * A chunk source over `readAt` that reads one chunk ahead of the one asked for
   * (up to `end`), so the disk works while the network sends the last chunk.
   */
  private readingAhead(readAt: (pos: number, n: number) => Promise<Uint8Array>, end: number, close: () => void): ChunkSource {
    let ahead: { pos: number; chunk: Promise<Uint8Array> } | undefined;
    const chunkSize = this.opts.chunkSize;
    return {
      read: (pos, n) => {
        const chunk = ahead?.pos === pos ? ahead.chunk : readAt(pos, n);
        const next = pos + n;
        ahead = next < end ? { pos: next, chunk: readAt(next, Math.min(chunkSize, end - next)) } : undefined;
        // A read ahead that is never used must not surface as an unhandled rejection.
        ahead?.chunk.catch(() => undefined);
        return chunk;
      },
      close,
    };
  }

  /**
   * Where a block lives in the UFS, from the master (never from the client), after
   * checking that the UFS file still is the one the master knows: the path may now
   * hold another file (renamed, replaced, changed behind strata's back), whose bytes
   * must not be served or cached under this block's id.
   */
  private async blockSource(blockId: number): Promise<UfsBlock> {
    const loc = await this.ufsLocation(fileOfBlock(blockId), false);
    const fileOffset = indexOfBlock(blockId) * loc.blockSize;
    if (fileOffset >= loc.length) throw new StrataError('NOT_FOUND', `block ${blockId} is past the end of ${loc.ufsPath} (${loc.length} bytes)`);
    // UNAVAILABLE, not final: another worker may still hold the only copy.
    if (!loc.persisted) throw new StrataError('UNAVAILABLE', `block ${blockId} is not cached on ${this.env.self} and its file is not persisted`);
    const ufs = this.ufs(loc.ufsMount);
    // Checked before the read and again after it (`unchanged`): the file may be rewritten while it is read.
    const unchanged = async (): Promise<void> => {
      const st = await ufs.stat(loc.ufsPath);
      if (!st || st.isDir || st.size !== loc.length || Math.abs(st.mtimeMs - loc.mtimeMs) >= 1) {
        throw new StrataError('FAILED_PRECONDITION', `${loc.ufsPath} in the UFS no longer matches what strata knows of it (length ${loc.length}, modified ${loc.mtimeMs})`);
      }
    };
    await unchanged();
    return { ufs, path: loc.ufsPath, fileOffset, blockLength: Math.min(loc.blockSize, loc.length - fileOffset), unchanged };
  }

  private ufsLocation(fileId: number, write: boolean): Promise<Infer<typeof W.UfsLocation>> {
    return this.masters.call<Infer<typeof W.UfsLocation>>({ t: 'GetUfsLocation', fileId, write } satisfies Infer<typeof W.GetUfsLocation>, 'UfsLocation');
  }

  /**
   * A NO_CACHE miss: only the bytes asked for come from the UFS, and nothing is
   * cached. They stream chunk by chunk as they are read, not after the whole range
   * is in memory; the last chunk goes only once the UFS file is known to be the
   * same one the read started on.
   */
  private async ufsRangeSource(m: BlockRead): Promise<ChunkSource> {
    const src = await this.blockSource(m.blockId);
    checkRange(m, src.blockLength);
    this.counters.ufsBlockReads++;
    const end = m.offset + m.length;
    const file = await this.ufsBlockFile(src);
    const readAt = async (pos: number, n: number): Promise<Uint8Array> => {
      const data = await file.read(pos, n);
      if (data.byteLength !== n) throw new StrataError('FAILED_PRECONDITION', `${src.path} changed in the UFS: read ${data.byteLength} of ${n} bytes of block ${m.blockId} at ${pos}`);
      this.counters.bytesReadUfs += n;
      if (pos + n >= end) await src.unchanged();
      return data;
    };
    return this.readingAhead(readAt, end, file.close);
  }

  /** Positioned reads of a block in the UFS: through one open file when the UFS can hold one, else a read each. */
  private async ufsBlockFile(src: UfsBlock): Promise<{ read(pos: number, n: number): Promise<Uint8Array>; close(): void }> {
    const file = src.ufs.openRead ? await src.ufs.openRead(src.path) : undefined;
    return {
      read: (pos, n) => (file ? file.read(src.fileOffset + pos, n) : src.ufs.read(src.path, src.fileOffset + pos, n)),
      close: () => void file?.close(),
    };
  }

  /**
   * A miss: one UFS read of the whole block however many readers miss it at once,
   * chunk by chunk. `fill` serves the block as it arrives; `settled` is the whole
   * block once read, checked unchanged and (with `cache`) cached. Until then, later
   * misses of the block join this one.
   */
  private readThrough(blockId: number, cache: boolean): Miss {
    const known = this.misses.get(blockId);
    if (known) return known;
    const fill = (async () => {
      const src = await this.blockSource(blockId);
      this.counters.ufsBlockReads++;
      const step = this.opts.chunkSize;
      const file = await this.ufsBlockFile(src);
      return new BlockFill(src.blockLength, async (append) => {
        try {
          for (let off = 0; off < src.blockLength; off += step) {
            const n = Math.min(step, src.blockLength - off);
            const piece = await file.read(off, n);
            if (piece.byteLength !== n) {
              throw new StrataError('FAILED_PRECONDITION', `${src.path} changed in the UFS: block ${blockId} ends at ${off + piece.byteLength} of its ${src.blockLength} bytes`);
            }
            append(piece);
          }
        } finally {
          file.close();
        }
        await src.unchanged();
      });
    })();
    const settled = fill.then((f) => f.done).then(async (data) => {
      this.counters.bytesReadUfs += data.byteLength;
      if (cache) await this.cache(blockId, data, 'served without caching');
      return data;
    });
    const miss: Miss = { fill, settled };
    this.misses.set(blockId, miss);
    const clear = (): void => {
      if (this.misses.get(blockId) === miss) this.misses.delete(blockId);
    };
    settled.then(clear, clear);
    return miss;
  }

  // ---- short-circuit ----

  /** Lends a cached block's file to a client on this host (Alluxio's local block reader). */
  private async openLocalBlock(r: Req<typeof W.OpenLocalBlock>): Promise<Infer<typeof W.LocalBlock>> {
    const m = r.m;
    if (!this.env.hostName || m.host !== this.env.hostName) {
      throw new StrataError('FAILED_PRECONDITION', `${this.env.self} runs on ${this.env.hostName ?? 'a host without a shared file system'}, not ${m.host}`);
    }
    if (m.promote) await this.promote(m.blockId);
    const lease = this.store.lease(m.blockId);
    if (!lease) throw new StrataError('NOT_FOUND', `block ${m.blockId} is not cached on ${this.env.self}`);
    const dirUri = lease.disk.localUri;
    if (dirUri === undefined) {
      lease.release();
      throw new StrataError('FAILED_PRECONDITION', `block ${m.blockId} is in a tier other processes cannot open`);
    }
    const id = this.nextLease++;
    const leaseMs = this.opts.localLeaseMs ?? 30_000;
    // A client that dies holding a lease must not keep the block from eviction for good.
    const timer = this.env.setTimer(leaseMs, () => this.closeLease(id));
    this.leases.set(id, { from: r.f, blockId: m.blockId, release: lease.release, timer });
    this.counters.blocksLent++;
    return { t: 'LocalBlock', lease: id, dirUri, path: lease.path, length: lease.length, leaseMs };
  }

  /** Passive caching: a client on this host asks for a copy of a block it read remotely (see W.CacheBlock). */
  private cacheBlock(r: Req<typeof W.CacheBlock>): Message {
    void this.jobs.cacheBlock(r.m.path, r.m.blockId, r.u ?? 'anonymous').catch((e: unknown) => this.env.log.log('info', `did not cache block ${r.m.blockId} of ${r.m.path} passively: ${(e as Error).message}`));
    return { t: 'Ok' };
  }

  private closeLocalBlock(r: Req<typeof W.CloseLocalBlock>): void {
    if (this.leases.get(r.m.lease)?.from === r.f) this.closeLease(r.m.lease);
  }

  private closeLease(id: number): void {
    const l = this.leases.get(id);
    if (!l) return;
    this.leases.delete(id);
    l.timer.cancel();
    l.release();
  }

  /** Caches a block if it fits; a full or failing tier only costs the cache, never the read or write. */
  private async cache(blockId: number, data: Uint8Array, otherwise: string): Promise<void> {
    try {
      await this.store.put(blockId, data);
      this.hot.set(blockId, data);
    } catch (e) {
      this.env.log.log('warn', `block ${blockId} ${otherwise}: ${(e as Error).message}`);
    }
  }

  private idleTimer(onIdle: () => void): Timer {
    return this.env.setTimer(this.opts.rpcTimeoutMs, onIdle);
  }

  private pump(key: string, s: ReadStream): void {
    while (!s.reading && s.credits > 0 && (s.pos < s.end || s.seq === 0)) {
      const n = Math.min(this.opts.chunkSize, s.end - s.pos);
      const got = s.source.read(s.pos, n);
      if (got instanceof Uint8Array) {
        this.sendChunk(key, s, got);
        continue;
      }
      s.reading = true;
      got.then(
        (chunk) => {
          s.reading = false;
          if (this.reads.get(key) !== s) return;
          this.sendChunk(key, s, chunk);
          this.pump(key, s);
        },
        (e: unknown) => {
          s.reading = false;
          if (this.reads.get(key) !== s) return;
          this.endRead(key, s);
          this.rpc.replyError(s.req, e instanceof StrataError ? e : new StrataError('UNAVAILABLE', `reading a block on ${this.env.self} failed: ${(e as Error).message}`));
        },
      );
    }
  }

  private sendChunk(key: string, s: ReadStream, chunk: Uint8Array): void {
    s.pos += chunk.byteLength;
    const last = s.pos >= s.end;
    this.rpc.send(s.to, { t: 'BlockChunk', seq: s.seq++, data: chunk, last, cached: s.cached } satisfies Infer<typeof W.BlockChunk>, s.id);
    s.credits--;
    if (last) this.endRead(key, s);
  }

  private endRead(key: string, s: ReadStream): void {
    s.idle.cancel();
    if (this.reads.get(key) === s) this.reads.delete(key);
    s.source.close();
  }

  private credit(r: Req<typeof W.ReadCredit>): void {
    const key = `${r.f}:${r.m.stream}`;
    const s = this.reads.get(key);
    if (!s) return;
    s.credits += r.m.n;
    s.idle.cancel();
    s.idle = this.idleTimer(() => this.endRead(key, s));
    this.pump(key, s);
  }

  private cancelRead(r: Req<typeof W.ReadCancel>): void {
    const key = `${r.f}:${r.m.stream}`;
    const s = this.reads.get(key);
    if (s) this.endRead(key, s);
  }

  // ---- persistence (ASYNC_THROUGH) ----

  /** Writes a file from its cached blocks to the UFS path the master names, durably. */
  async persistBlocks(m: { fileId: number; ufsMount: string; ufsPath: string; blocks: ReadonlyArray<{ id: number; length: number }> }, canceled: () => boolean): Promise<{ length: number; mtimeMs: number }> {
    const ufs = this.ufs(m.ufsMount);
    await ufs.writeFile(m.ufsPath, new Uint8Array(0));
    let length = 0;
    try {
      for (const b of m.blocks) {
        if (canceled()) throw new StrataError('FAILED_PRECONDITION', `persisting file ${m.fileId} was canceled`);
        const data = this.hot.get(b.id) ?? (await this.store.get(b.id));
        if (!data || data.byteLength !== b.length) throw new StrataError('FAILED_PRECONDITION', `block ${b.id} of file ${m.fileId} is no longer cached on ${this.env.self}`);
        await ufs.append(m.ufsPath, data);
        length += data.byteLength;
      }
      await ufs.fsync(m.ufsPath);
    } catch (e) {
      await ufs.remove(m.ufsPath).catch(() => undefined);
      throw e;
    }
    this.counters.bytesWrittenUfs += length;
    const st = await ufs.stat(m.ufsPath);
    return { length, mtimeMs: st?.mtimeMs ?? 0 };
  }

  // ---- job worker hooks (actors/job/job-worker.ts) ----

  async loadBlock(b: { blockId: number; ufsMount: string; ufsPath: string; fileOffset: number; blockLength: number; ufsLength: number; ufsMtimeMs: number }): Promise<void> {
    if (this.store.has(b.blockId)) return;
    // The UFS location comes from the master again, as for any read-through, and is checked there.
    await this.readThrough(b.blockId, true).settled;
  }

  hasBlock(id: number): boolean {
    return this.store.has(id);
  }

  putBlock(id: number, data: Uint8Array): Promise<void> {
    return this.cache(id, data, 'replicated but not cached');
  }

  async dropBlock(id: number): Promise<void> {
    this.hot.delete(id);
    if (this.store.has(id)) await this.store.free(id, { force: true });
  }

  // ---- writes ----

  private async writeOpen(r: Req<typeof W.WriteOpen>): Promise<Infer<typeof W.WriteReady>> {
    const key = `${r.f}:${r.id}`;
    this.lastWrite.set(r.m.fileId, this.env.now());
    const opening = this.opening.get(key);
    if (opening) await opening;
    if (!this.writes.has(key)) {
      const m = r.m;
      const toUfs = m.ufs !== false;
      if (!toUfs && !m.cache) throw new StrataError('INVALID_ARGUMENT', 'a write that skips the UFS (MUST_CACHE) must cache');
      // The master names the file's UFS location and checks the file is being written:
      // a client cannot point this worker at another path, or cache blocks for another file.
      // A duplicate of this WriteOpen arriving during the awaits must not truncate the file again.
      const opened = (async () => {
        const loc = await this.ufsLocation(m.fileId, true);
        if (loc.blockSize <= 0) throw new StrataError('INTERNAL', `the master gave file ${m.fileId} a block size of ${loc.blockSize}`);
        const ufs = this.ufs(loc.ufsMount);
        // Written beside the file and published by the master when it completes it.
        const path = toUfs ? ufsTempPath(loc.ufsPath, m.fileId) : loc.ufsPath;
        if (toUfs) await ufs.writeFile(path, new Uint8Array(0));
        return { ufs, loc, path };
      })();
      this.opening.set(key, opened.catch(() => undefined));
      let o: Awaited<typeof opened>;
      try {
        o = await opened;
      } finally {
        this.opening.delete(key);
      }
      if (this.writes.has(key)) return { t: 'WriteReady', stream: r.id, window: WRITE_WINDOW };
      const blocks = m.cache
        ? new WrittenBlocks({
            store: this.store,
            blockId: (i) => blockIdOf(m.fileId, i),
            blockSize: o.loc.blockSize,
            length: m.length,
            onlyCopy: !toUfs,
            self: this.env.self,
            log: this.env.log,
            onStored: (_, bytes) => void (this.counters.bytesWrittenCache += bytes),
          })
        : undefined;
      this.writes.set(key, {
        from: r.f, id: r.id, ufs: toUfs ? o.ufs : undefined, path: o.path, fileId: m.fileId, blocks,
        nextSeq: 0, waiting: new Map(), applying: false, length: 0, waiters: [],
        idle: this.idleTimer(() => this.abandon(key)),
      });
    }
    return { t: 'WriteReady', stream: r.id, window: WRITE_WINDOW };
  }

  private abandon(key: string): void {
    const s = this.writes.get(key);
    if (!s) return;
    this.writes.delete(key);
    if (s.done) return;
    this.env.log.log('warn', `write of ${s.path} from ${s.from} abandoned after ${this.opts.rpcTimeoutMs} ms idle`);
    s.failed = new StrataError('DEADLINE_EXCEEDED', `write of ${s.path} idle for ${this.opts.rpcTimeoutMs} ms`);
    for (const w of s.waiters.splice(0)) w();
    void this.dropStored(s);
    void this.dropTemp(s);
  }

  /** The UFS file of a write that will not complete is never published: nothing may keep it. */
  private async dropTemp(s: WriteStream): Promise<void> {
    await s.ufs?.remove(s.path).catch((e: unknown) => this.env.log.log('warn', `could not remove ${s.path} of an abandoned write: ${(e as Error).message}`));
  }

  /**
   * A write given up will not complete its file, so the blocks it stored are
   * nobody's data; left behind (the only copy, unpersisted) they would hold the tier for good.
   */
  private async dropStored(s: WriteStream): Promise<void> {
    if (!s.blocks) return;
    await s.blocks.abandon();
    for (const id of s.blocks.stored.splice(0)) {
      this.hot.delete(id);
      await this.store.remove(id).catch((e: unknown) => this.env.log.log('warn', `could not drop block ${id} of an abandoned write: ${(e as Error).message}`));
    }
  }

  private stream(from: string, id: number): WriteStream {
    const s = this.writes.get(`${from}:${id}`);
    if (!s) throw new StrataError('NOT_FOUND', `no open write stream ${id} from ${from}`);
    this.lastWrite.set(s.fileId, this.env.now());
    s.idle.cancel();
    s.idle = this.idleTimer(() => this.abandon(`${from}:${id}`));
    return s;
  }

  private writeChunk(r: Req<typeof W.WriteChunk>): void {
    const s = this.stream(r.f, r.m.stream);
    if (s.failed) throw s.failed;
    if (r.m.seq < s.nextSeq) {
      this.rpc.reply(r, { t: 'WriteAck', seq: r.m.seq });
      return;
    }
    if (!s.waiting.has(r.m.seq)) s.waiting.set(r.m.seq, r);
    void this.apply(s);
  }

  /** Applies chunks strictly in order; the network may deliver them out of order or twice. */
  private async apply(s: WriteStream): Promise<void> {
    if (s.applying) return;
    s.applying = true;
    try {
      // A write given up (aborted, idle, its file gone) takes no more chunks: one written
      // after its files were dropped would bring them back.
      for (let r = s.waiting.get(s.nextSeq); r && !s.failed; r = s.waiting.get(s.nextSeq)) {
        s.waiting.delete(s.nextSeq);
        const data = r.m.data;
        // The UFS file and the block file take the chunk side by side: each waits on its own disk.
        const [ufs, cached] = await Promise.allSettled([s.ufs?.append(s.path, data), s.blocks?.add(data)]);
        if (ufs.status === 'rejected') throw ufs.reason;
        if (cached.status === 'rejected') throw cached.reason;
        if (s.ufs) this.counters.bytesWrittenUfs += data.byteLength;
        s.length += data.byteLength;
        s.nextSeq++;
        this.rpc.reply(r, { t: 'WriteAck', seq: r.m.seq });
      }
    } catch (e) {
      s.failed ??= e instanceof StrataError ? e : new StrataError('UNAVAILABLE', `writing ${s.path} to the UFS failed: ${(e as Error).message}`);
    } finally {
      if (s.failed) {
        for (const r of s.waiting.values()) this.rpc.replyError(r, s.failed);
        s.waiting.clear();
      }
      s.applying = false;
      for (const w of s.waiters.splice(0)) w();
    }
  }

  /**
   * Asks the master again whether the file is being written: a delete (or a
   * replacement) may have raced the stream, and its UFS file (which the delete
   * removed, and a later chunk recreated) and blocks must not outlive it. A delete
   * after this answer removes the UFS file itself; nothing is appended after it.
   */
  private async stillWritten(key: string, s: WriteStream): Promise<void> {
    try {
      await this.ufsLocation(s.fileId, true);
    } catch (e) {
      if (!isStrataError(e, 'NOT_FOUND') && !isStrataError(e, 'FAILED_PRECONDITION')) throw e;
      this.writes.delete(key);
      s.idle.cancel();
      await this.dropTemp(s);
      await this.dropStored(s);
      throw new StrataError(e.code, `file ${s.fileId} stopped being written while this worker streamed it (${e.message}); nothing of the write is kept`);
    }
  }

  private async writeClose(r: Req<typeof W.WriteClose>): Promise<Infer<typeof W.WriteDone> | void> {
    const key = `${r.f}:${r.m.stream}`;
    const s = this.stream(r.f, r.m.stream);
    if (s.done) return s.done;
    if (r.m.abort) {
      this.writes.delete(key);
      s.idle.cancel();
      const aborted = new StrataError('FAILED_PRECONDITION', `write of ${s.path} aborted by the client`);
      s.failed ??= aborted;
      await this.dropTemp(s);
      await this.dropStored(s);
      throw aborted;
    }
    while (s.nextSeq < r.m.chunks && !s.failed) {
      // Chunks may still be on the wire: wait for the applier; the idle timer bounds the wait.
      await new Promise<void>((resolve) => s.waiters.push(resolve));
    }
    if (s.failed) throw s.failed;
    // The UFS file and the cache settle side by side: each waits on its own disk.
    const [synced, cached] = await Promise.allSettled([s.ufs?.fsync(s.path), s.blocks?.finish()]);
    if (synced.status === 'rejected') throw synced.reason;
    if (cached.status === 'rejected') throw cached.reason;
    if (s.failed) throw s.failed;
    if (s.ufs) await this.stillWritten(key, s);
    // The master learns of the new blocks before the client completes the file, so a
    // reader right after the write finds them (for MUST_CACHE they are the only copy).
    if (s.blocks && this.registered) await this.heartbeat();
    const st = s.ufs ? await s.ufs.stat(s.path) : null;
    s.done = { t: 'WriteDone', length: s.length, mtimeMs: Math.max(0, Math.floor(st?.mtimeMs ?? 0)) };
    return s.done;
  }
}

function filesOf(blockIds: readonly number[]): number[] {
  return [...new Set(blockIds.map(fileOfBlock))];
}

function checkRange(m: { blockId: number; offset: number; length: number }, blockLength: number): void {
  if (m.offset + m.length > blockLength) {
    throw new StrataError('INVALID_ARGUMENT', `read of [${m.offset}, ${m.offset + m.length}) is outside block ${m.blockId} of ${blockLength} bytes`);
  }
}
