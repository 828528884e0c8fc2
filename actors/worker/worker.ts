// A worker: caches blocks in its MEM tier, streams them to clients with
// credit-based flow control, reads through to the UFS on a miss (one UFS read per
// block however many clients miss at once), writes files through to the UFS, and
// keeps the master informed by registration and heartbeats.
import { TieredBlockStore, type TierLevelOptions } from '../../storage/tiered-store.js';
import type { TieredStoreLayout } from '../../storage/tiered-conf.js';
import type { Infer } from '../../transport/schema.js';
import type { Actor, Disk, Env, Timer } from '../env.js';
import { StrataError, isStrataError, type Envelope, type Message } from '../protocol/envelope.js';
import type * as M from '../protocol/master.js';
import * as W from '../protocol/worker.js';
import { Rpc, serve, type Handler } from '../rpc.js';
import { MasterChannel } from '../master-channel.js';
import { BLOCKS_PER_FILE } from '../master/namespace.js';

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
  chunkSize: number;
}

type Req<S> = Envelope<Infer<S> & Message>;

interface ReadStream {
  to: string;
  id: number;
  data: Uint8Array;
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
  blockSize: number;
  cache: boolean;
  nextSeq: number;
  waiting: Map<number, Req<typeof W.WriteChunk>>;
  applying: boolean;
  length: number;
  block: Uint8Array[];
  blockBytes: number;
  blockIndex: number;
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

export class WorkerActor implements Actor {
  private readonly rpc: Rpc;
  private readonly masters: MasterChannel;
  /** Open once start() has recovered it from disk. */
  store!: TieredBlockStore;
  private storeReady = false;
  private readonly ufsByUri = new Map<string, Disk>();
  private readonly misses = new Map<number, Promise<Uint8Array>>();
  private readonly reads = new Map<string, ReadStream>();
  private readonly writes = new Map<string, WriteStream>();
  private readonly opening = new Map<string, Promise<unknown>>();
  /**
   * Blocks recently stored or served, kept in memory so a hot block is not read
   * back from its tier file for every reader. Bounded by bytes; always a subset of
   * the store (dropped when the store evicts or drops a block).
   */
  private readonly hot = new HotBlocks(256 * 1024 * 1024);
  private readonly handlers: ReadonlyMap<string, Handler>;
  private timer: Timer | undefined;
  private registered = false;
  private stopped = false;
  /** Block changes drained for a heartbeat that failed: sent again with the next one. */
  private unsent = { added: new Set<number>(), removed: new Set<number>() };
  /** Bytes served, split as Alluxio's metrics do; read by the metrics issue. */
  readonly counters = { bytesReadCache: 0, bytesReadUfs: 0, bytesWrittenUfs: 0, ufsBlockReads: 0, blocksEvicted: 0 };

  constructor(
    private readonly env: Env,
    private readonly opts: WorkerOptions,
  ) {
    this.rpc = new Rpc(env, opts.rpcTimeoutMs);
    this.masters = new MasterChannel(env, this.rpc, opts.masterIds ?? [opts.masterId], opts.rpcTimeoutMs);
    const h: Array<[string, Handler]> = [
      ['ReadBlock', (r) => this.readBlock(r as Req<typeof W.ReadBlock>)],
      ['ReadCredit', (r) => this.credit(r as Req<typeof W.ReadCredit>)],
      ['ReadCancel', (r) => this.cancelRead(r as Req<typeof W.ReadCancel>)],
      ['WriteOpen', (r) => this.writeOpen(r as Req<typeof W.WriteOpen>)],
      ['WriteChunk', (r) => this.writeChunk(r as Req<typeof W.WriteChunk>)],
      ['WriteClose', (r) => this.writeClose(r as Req<typeof W.WriteClose>)],
      ['PersistFile', (r) => this.persistFile(r as Req<typeof W.PersistFile>)],
    ];
    this.handlers = new Map(h);
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
      onEvent: (e) => {
        if (e.t === 'evicted') this.counters.blocksEvicted++;
        if (e.t === 'evicted' || e.t === 'corrupt') this.hot.delete(e.blockId);
      },
    });
    this.storeReady = true;
    const st = this.store.stats();
    if (st.recovered > 0 || st.corruptDropped > 0) {
      this.env.log.log('info', `recovered ${st.recovered} cached blocks; dropped ${st.corruptDropped} that failed their checksum`);
    }
    this.tick();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.timer?.cancel();
    for (const s of this.reads.values()) s.idle.cancel();
    for (const s of this.writes.values()) s.idle.cancel();
    this.rpc.stop();
    if (this.storeReady) await this.store.close();
  }

  receive(envelope: Envelope): void {
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
    try {
      await this.rpc.request(this.masters.current, {
        t: 'RegisterWorker', workerId: this.env.self, address: typeof this.opts.address === 'string' ? this.opts.address : this.opts.address(),
        capacityBytes: this.store.capacityBytes(), usedBytes: this.store.usedBytes(), blocks: this.store.blockIds(),
      } satisfies Infer<typeof M.RegisterWorker>, 'RegisterWorkerOk', this.masterTimeoutMs());
      this.registered = true;
    } catch (e) {
      this.env.log.log('warn', `registration with ${this.masters.current} failed: ${(e as Error).message}`);
      if (isStrataError(e)) this.masters.moveOn(e);
    }
  }

  private async heartbeat(): Promise<void> {
    const ch = this.store.drainChanges();
    for (const b of ch.added) {
      if (!this.unsent.removed.delete(b)) this.unsent.added.add(b);
    }
    for (const b of ch.removed) {
      if (!this.unsent.added.delete(b)) this.unsent.removed.add(b);
    }
    const added = [...this.unsent.added];
    const removed = [...this.unsent.removed];
    try {
      const reply: Infer<typeof M.HeartbeatReply> = await this.rpc.request(this.masters.current, {
        t: 'WorkerHeartbeat', workerId: this.env.self, capacityBytes: this.store.capacityBytes(), usedBytes: this.store.usedBytes(), added, removed,
      } satisfies Infer<typeof M.WorkerHeartbeat>, 'HeartbeatReply', this.masterTimeoutMs());
      for (const b of added) this.unsent.added.delete(b);
      for (const b of removed) this.unsent.removed.delete(b);
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

  /** Applies the master's pins (no eviction of pinned files' blocks) and frees. */
  private async follow(reply: Infer<typeof M.HeartbeatReply>): Promise<void> {
    if (reply.pinnedFiles) {
      const pinned = new Set(reply.pinnedFiles);
      for (const b of this.store.blockIds()) {
        const want = pinned.has(Math.floor(b / BLOCKS_PER_FILE));
        if (want && !this.store.isPinned(b)) this.store.pin(b);
        else if (!want && this.store.isPinned(b)) this.store.unpin(b);
      }
    }
    for (const b of reply.free ?? []) {
      this.hot.delete(b);
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
    const m = r.m;
    if (m.offset + m.length > m.blockLength) {
      throw new StrataError('INVALID_ARGUMENT', `read of [${m.offset}, ${m.offset + m.length}) is outside block ${m.blockId} of ${m.blockLength} bytes`);
    }
    // The hot set spares re-reading a just-served block from its tier file; the store
    // still counts the access, or its LRU order would forget every hot block's use.
    const hot = this.hot.get(m.blockId);
    let data = hot !== undefined && this.store.recordAccess(m.blockId) ? hot : await this.store.get(m.blockId);
    if (data && !this.store.has(m.blockId)) data = undefined;
    if (data) this.hot.set(m.blockId, data);
    let cached = true;
    if (!data || data.byteLength !== m.blockLength) {
      data = await this.readThrough(m);
      cached = this.store.has(m.blockId);
    } else {
      this.counters.bytesReadCache += m.length;
      // CACHE_PROMOTE: a block read from a lower tier moves up to the top one.
      if (m.promote) void this.store.promote(m.blockId).catch((e: unknown) => this.env.log.log('warn', `could not promote block ${m.blockId}: ${(e as Error).message}`));
    }
    const key = `${r.f}:${r.id}`;
    const s: ReadStream = {
      to: r.f, id: r.id, data, pos: m.offset, end: m.offset + m.length, seq: 0, credits: Math.max(1, m.window), cached,
      idle: this.idleTimer(() => this.reads.delete(key)),
    };
    this.reads.set(key, s);
    this.pump(key, s);
  }

  private readThrough(m: Infer<typeof W.ReadBlock>): Promise<Uint8Array> {
    let p = this.misses.get(m.blockId);
    if (!p) {
      p = (async () => {
        this.counters.ufsBlockReads++;
        const ufs = this.ufs(m.ufsMount);
        // The path may now hold another file (renamed, replaced, changed behind strata's back):
        // its bytes must not be served or cached under this block's id. Checked before the
        // read and again after it, since the file may be rewritten while we read.
        const { ufsLength, ufsMtimeMs } = m;
        if (ufsLength == null || ufsMtimeMs == null) {
          // Not persisted (MUST_CACHE, ASYNC_THROUGH not yet written): the path in the UFS is
          // absent or another file's, so reading it would be a false NOT_FOUND or wrong bytes.
          throw new StrataError('UNAVAILABLE', `block ${m.blockId} is not cached on ${this.env.self} and its file is not persisted: nothing to read through`);
        }
        const unchanged = async (): Promise<void> => {
          const st = await ufs.stat(m.ufsPath);
          if (!st || st.isDir || st.size !== ufsLength || Math.abs(st.mtimeMs - ufsMtimeMs) >= 1) {
            throw new StrataError('FAILED_PRECONDITION', `${m.ufsPath} in the UFS no longer matches what strata knows of it (length ${ufsLength}, modified ${ufsMtimeMs})`);
          }
        };
        await unchanged();
        const data = await ufs.read(m.ufsPath, m.fileOffset, m.blockLength);
        await unchanged();
        if (data.byteLength !== m.blockLength) {
          throw new StrataError('FAILED_PRECONDITION', `${m.ufsPath} changed in the UFS: block ${m.blockId} expected ${m.blockLength} bytes, found ${data.byteLength}`);
        }
        this.counters.bytesReadUfs += data.byteLength;
        if (m.cache) await this.cache(m.blockId, data, 'served without caching');
        return data;
      })();
      this.misses.set(m.blockId, p);
      const clear = () => this.misses.delete(m.blockId);
      p.then(clear, clear);
    }
    return p;
  }

  /**
   * A written block: written through, a full tier only costs the cache; with
   * MUST_CACHE the cache is the only copy, so not fitting fails the write.
   */
  private async cacheWritten(s: WriteStream, id: number, block: Uint8Array): Promise<void> {
    if (s.ufs) return this.cache(id, block, 'written through but not cached');
    try {
      await this.store.put(id, block);
      this.hot.set(id, block);
    } catch (e) {
      s.failed ??= new StrataError('RESOURCE_EXHAUSTED', `MUST_CACHE write of ${s.path}: block ${id} does not fit on ${this.env.self}: ${(e as Error).message}`);
    }
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
    while (s.credits > 0 && (s.pos < s.end || s.seq === 0)) {
      const n = Math.min(this.opts.chunkSize, s.end - s.pos);
      const chunk = s.data.subarray(s.pos, s.pos + n);
      s.pos += n;
      const last = s.pos >= s.end;
      this.rpc.send(s.to, { t: 'BlockChunk', seq: s.seq++, data: chunk, last, cached: s.cached } satisfies Infer<typeof W.BlockChunk>, s.id);
      s.credits--;
      if (last) {
        s.idle.cancel();
        this.reads.delete(key);
        return;
      }
    }
  }

  private credit(r: Req<typeof W.ReadCredit>): void {
    const key = `${r.f}:${r.m.stream}`;
    const s = this.reads.get(key);
    if (!s) return;
    s.credits += r.m.n;
    s.idle.cancel();
    s.idle = this.idleTimer(() => this.reads.delete(key));
    this.pump(key, s);
  }

  private cancelRead(r: Req<typeof W.ReadCancel>): void {
    const key = `${r.f}:${r.m.stream}`;
    this.reads.get(key)?.idle.cancel();
    this.reads.delete(key);
  }

  // ---- persistence (ASYNC_THROUGH) ----

  /** Writes a file from its cached blocks to the UFS path the master names, durably. */
  private async persistFile(r: Req<typeof W.PersistFile>): Promise<Infer<typeof W.PersistDone>> {
    const m = r.m;
    const ufs = this.ufs(m.ufsMount);
    await ufs.writeFile(m.ufsPath, new Uint8Array(0));
    let length = 0;
    try {
      for (const b of m.blocks) {
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
    return { t: 'PersistDone', length, mtimeMs: st?.mtimeMs ?? 0 };
  }

  // ---- writes ----

  private async writeOpen(r: Req<typeof W.WriteOpen>): Promise<Infer<typeof W.WriteReady>> {
    const key = `${r.f}:${r.id}`;
    const opening = this.opening.get(key);
    if (opening) await opening;
    if (!this.writes.has(key)) {
      const m = r.m;
      if (m.blockSize <= 0) throw new StrataError('INVALID_ARGUMENT', 'block size must be positive');
      const ufs = this.ufs(m.ufsMount);
      const toUfs = m.ufs !== false;
      if (!toUfs && !m.cache) throw new StrataError('INVALID_ARGUMENT', 'a write that skips the UFS (MUST_CACHE) must cache');
      // A duplicate of this WriteOpen arriving during the await must not truncate the file again.
      const created = toUfs ? ufs.writeFile(m.ufsPath, new Uint8Array(0)) : Promise.resolve();
      this.opening.set(key, created.catch(() => undefined));
      try {
        await created;
      } finally {
        this.opening.delete(key);
      }
      if (this.writes.has(key)) return { t: 'WriteReady', stream: r.id, window: 8 };
      this.writes.set(key, {
        from: r.f, id: r.id, ufs: toUfs ? ufs : undefined, path: m.ufsPath, fileId: m.fileId, blockSize: m.blockSize, cache: m.cache,
        nextSeq: 0, waiting: new Map(), applying: false, length: 0, block: [], blockBytes: 0, blockIndex: 0, waiters: [],
        idle: this.idleTimer(() => this.abandon(key)),
      });
    }
    return { t: 'WriteReady', stream: r.id, window: 8 };
  }

  private abandon(key: string): void {
    const s = this.writes.get(key);
    if (!s) return;
    this.writes.delete(key);
    if (s.done) return;
    this.env.log.log('warn', `write of ${s.path} from ${s.from} abandoned after ${this.opts.rpcTimeoutMs} ms idle`);
    s.failed = new StrataError('DEADLINE_EXCEEDED', `write of ${s.path} idle for ${this.opts.rpcTimeoutMs} ms`);
    for (const w of s.waiters.splice(0)) w();
  }

  private stream(from: string, id: number): WriteStream {
    const s = this.writes.get(`${from}:${id}`);
    if (!s) throw new StrataError('NOT_FOUND', `no open write stream ${id} from ${from}`);
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
      for (let r = s.waiting.get(s.nextSeq); r; r = s.waiting.get(s.nextSeq)) {
        s.waiting.delete(s.nextSeq);
        const data = r.m.data;
        if (s.ufs) await s.ufs.append(s.path, data);
        this.counters.bytesWrittenUfs += data.byteLength;
        s.length += data.byteLength;
        if (s.cache) for (const [id, block] of this.fillBlock(s, data)) await this.cacheWritten(s, id, block);
        s.nextSeq++;
        this.rpc.reply(r, { t: 'WriteAck', seq: r.m.seq });
      }
    } catch (e) {
      s.failed = e instanceof StrataError ? e : new StrataError('UNAVAILABLE', `writing ${s.path} to the UFS failed: ${(e as Error).message}`);
      for (const r of s.waiting.values()) this.rpc.replyError(r, s.failed);
      s.waiting.clear();
    } finally {
      s.applying = false;
      for (const w of s.waiters.splice(0)) w();
    }
  }

  /** Adds written bytes to the block being filled; returns the blocks this completed. */
  private fillBlock(s: WriteStream, data: Uint8Array): Array<[number, Uint8Array]> {
    const done: Array<[number, Uint8Array]> = [];
    let off = 0;
    while (off < data.byteLength) {
      const n = Math.min(s.blockSize - s.blockBytes, data.byteLength - off);
      s.block.push(data.subarray(off, off + n));
      s.blockBytes += n;
      off += n;
      if (s.blockBytes === s.blockSize) done.push(this.takeBlock(s)!);
    }
    return done;
  }

  /** Closes the block being filled (also a last, partial one). */
  private takeBlock(s: WriteStream): [number, Uint8Array] | undefined {
    if (s.blockBytes === 0) return undefined;
    const block = Buffer.concat(s.block, s.blockBytes);
    const id = s.fileId * BLOCKS_PER_FILE + s.blockIndex;
    s.block = [];
    s.blockBytes = 0;
    s.blockIndex++;
    return [id, new Uint8Array(block.buffer, block.byteOffset, block.byteLength)];
  }

  private async writeClose(r: Req<typeof W.WriteClose>): Promise<Infer<typeof W.WriteDone> | void> {
    const key = `${r.f}:${r.m.stream}`;
    const s = this.stream(r.f, r.m.stream);
    if (s.done) return s.done;
    if (r.m.abort) {
      this.writes.delete(key);
      s.idle.cancel();
      await s.ufs?.remove(s.path);
      throw new StrataError('FAILED_PRECONDITION', `write of ${s.path} aborted by the client`);
    }
    while (s.nextSeq < r.m.chunks && !s.failed) {
      // Chunks may still be on the wire: wait for the applier; the idle timer bounds the wait.
      await new Promise<void>((resolve) => s.waiters.push(resolve));
    }
    if (s.failed) throw s.failed;
    await s.ufs?.fsync(s.path);
    const last = s.cache ? this.takeBlock(s) : undefined;
    if (last) await this.cacheWritten(s, last[0], last[1]);
    if (s.failed) throw s.failed;
    // The master learns of the new blocks before the client completes the file, so a
    // reader right after the write finds them (for MUST_CACHE they are the only copy).
    if (s.cache && this.registered) await this.heartbeat();
    const st = s.ufs ? await s.ufs.stat(s.path) : null;
    s.done = { t: 'WriteDone', length: s.length, mtimeMs: Math.max(0, Math.floor(st?.mtimeMs ?? 0)) };
    return s.done;
  }
}
