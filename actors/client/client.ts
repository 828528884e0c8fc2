// The native file system client: metadata from the master, data streamed from
// workers with credit-based flow control, failing over to other holders or a
// read-through on another worker when one dies mid-stream.
import type { Infer } from '../../transport/schema.js';
import type { Actor, Env } from '../env.js';
import { StrataError, isStrataError, type Envelope, type Message } from '../protocol/envelope.js';
import type * as M from '../protocol/master.js';
import * as W from '../protocol/worker.js';
import { Rpc } from '../rpc.js';
import { MasterChannel } from '../master-channel.js';
import { WorkerChooser, type LocationPolicy } from './location-policy.js';
import { ClientCache, type ClientCacheOptions } from './client-cache.js';
import { FileReader } from './file-reader.js';
import { LocalBlocks } from './local-blocks.js';
import { ClientMetricsReporter } from './client-metrics.js';
import { PassiveCache } from './passive-cache.js';

export type FileInfo = Infer<typeof M.FileInfo>;
export type BlockInfo = Infer<typeof M.BlockInfo>;
export type WorkerInfo = Infer<typeof M.WorkerInfo>;
export type MountPointInfo = Infer<typeof M.MountPointInfo>;
export type MasterInfo = Omit<Infer<typeof M.MasterInfoReply>, 't'>;
export type WriteType = 'MUST_CACHE' | 'CACHE_THROUGH' | 'THROUGH' | 'ASYNC_THROUGH';
/** What `writeFile` writes: bytes, a stream, or a function opening the stream (so a refused write can start over). */
export type WriteSource = Uint8Array | AsyncIterable<Uint8Array> | (() => AsyncIterable<Uint8Array>);
export type ReadType = 'CACHE' | 'CACHE_PROMOTE' | 'NO_CACHE';

export interface ClientOptions {
  masterId: string;
  /** Every master, when there are several (the leader is found and followed); defaults to [masterId]. */
  masterIds?: readonly string[];
  /** How long one metadata call keeps retrying across masters; defaults to 3 RPC timeouts. */
  retryForMs?: number;
  /** strata.user.file.replication.durable: workers that must hold every block before a write is acknowledged. */
  durableReplication?: number;
  /** strata.user.file.replication.min|max: replication targets set on every file this client writes. */
  replication?: { min: number; max: number };
  /** strata.user.block.write.location.policy.class (default LocalFirst), with its host options. */
  locationPolicy?: LocationPolicy;
  localHosts?: readonly string[];
  specificHost?: string;
  /** strata.user.file.metadata.sync.interval: -1 (default) never re-checks the UFS, 0 always, N ms when older. */
  syncIntervalMs?: number;
  /** strata.user.file.metadata.load.type: ONCE (default), ALWAYS or NEVER. */
  metadataLoadType?: 'ONCE' | 'ALWAYS' | 'NEVER';
  /** The user requests act for, and its groups (SIMPLE authentication); defaults to anonymous. */
  user?: string;
  groups?: readonly string[];
  rpcTimeoutMs: number;
  chunkSize: number;
  /** Chunks a worker may send ahead of what the client has consumed. */
  readWindow: number;
  blockSize: number;
  writeType: WriteType;
  readType: ReadType;
  /** strata.user.short.circuit.enabled (default true): read blocks cached on this host from their files. */
  shortCircuit?: boolean;
  /** strata.user.file.passive.cache.enabled (default false here, true from the configuration): copy blocks read from other hosts to a worker on this one. */
  passiveCache?: boolean;
  /** strata.user.client.cache.*: pages of files read through openFile, with prefetch; absent, no client cache. */
  cache?: ClientCacheOptions | undefined;
  /** strata.user.metrics.heartbeat.interval when strata.user.metrics.collection.enabled: byte counters to the master; absent, none. */
  metricsHeartbeatMs?: number | undefined;
}

export type Sink = (chunk: Uint8Array) => void | Promise<void>;

/** Addresses that mean this host whatever it is called. */
const LOOPBACK = ['127.0.0.1', 'localhost', '::1'];

/** Errors that another worker cannot fix: retrying elsewhere would only repeat them. */
const FINAL = new Set(['INVALID_ARGUMENT', 'NOT_FOUND', 'FAILED_PRECONDITION', 'PERMISSION_DENIED']);

export class StrataClient implements Actor {
  private readonly rpc: Rpc;
  private readonly masters: MasterChannel;
  private readonly chooser: WorkerChooser;
  private nextRid: number;
  /** Counters for the metrics issue: where the bytes came from. */
  readonly counters = { bytesRead: 0, bytesReadShortCircuit: 0, bytesWritten: 0, readRetries: 0 };
  /** Shared by every file handle of this client. */
  readonly cache: ClientCache | undefined;
  private readonly local: LocalBlocks;
  private readonly reporter: ClientMetricsReporter | undefined;
  private readonly passive: PassiveCache | undefined;
  /** Worker addresses, and whether each is on this host. */
  private readonly localAddresses = new Map<string, boolean>();

  constructor(
    private readonly env: Env,
    readonly opts: ClientOptions,
  ) {
    this.rpc = new Rpc(env, opts.rpcTimeoutMs);
    this.rpc.identity = { user: opts.user ?? 'anonymous', groups: opts.groups ?? [] };
    this.chooser = new WorkerChooser(opts.locationPolicy ?? 'LocalFirst', {
      localHosts: opts.localHosts ?? LOOPBACK,
      ...(opts.specificHost ? { specificHost: opts.specificHost } : {}),
      random: () => env.random(),
    });
    this.masters = new MasterChannel(env, this.rpc, opts.masterIds ?? [opts.masterId], opts.retryForMs ?? 3 * opts.rpcTimeoutMs);
    // Random per life: a restarted client under the same id must not reuse a request id the masters remember.
    this.nextRid = 1 + Math.floor(env.random() * 2 ** 40);
    this.cache = opts.cache ? new ClientCache(opts.cache) : undefined;
    this.local = new LocalBlocks(env, this.rpc);
    // Only a client that knows its host can tell a worker on it.
    if (opts.passiveCache && env.hostName !== undefined) {
      this.passive = new PassiveCache(env, this.rpc, () => this.workers(), (address) => this.looksLocal(address, env.hostName!));
    }
    if (opts.metricsHeartbeatMs !== undefined && opts.metricsHeartbeatMs > 0) {
      this.reporter = new ClientMetricsReporter(env, opts.metricsHeartbeatMs, this.counters, (m) => this.master(m, 'Ok'));
    }
  }

  async start(): Promise<void> {
    this.reporter?.start();
  }

  async stop(): Promise<void> {
    this.reporter?.stop();
    this.local.closeAll();
    this.rpc.stop();
  }

  /** Reports this client's metrics to the master now, waiting at most `waitMs` (nothing when collection is off). */
  flushMetrics(waitMs: number): Promise<void> {
    return this.reporter?.flush(waitMs) ?? Promise.resolve();
  }

  receive(envelope: Envelope): void {
    // A client serves nothing: anything that is not an answer is refused.
    if (!this.rpc.handle(envelope)) this.rpc.replyError(envelope, new StrataError('INVALID_ARGUMENT', `a client does not serve ${envelope.m.t}`));
  }

  /** Whether `envelope` answers one of this client's requests (a client hosted inside another actor). */
  expects(envelope: Envelope): boolean {
    return this.rpc.expects(envelope);
  }

  /** A request to the leading master for another service's client (jobs); `mutation` gives it a request id for retries. */
  callMaster<T extends Message>(m: Message & Record<string, unknown>, expect: T['t'], mutation = false): Promise<T> {
    return mutation ? this.mutate<T>(m, expect) : this.master<T>(m, expect);
  }

  private master<T extends Message>(m: Message & Record<string, unknown>, expect: T['t']): Promise<T> {
    return this.masters.call<T>(m, expect);
  }

  /** A mutation: one request id for all its retries, so the master applies it at most once. */
  private mutate<T extends Message>(m: Message & Record<string, unknown>, expect: T['t']): Promise<T> {
    return this.masters.call<T>({ ...m, rid: this.nextRid++ }, expect);
  }

  // ---- metadata ----

  async getStatus(path: string, forRead = false): Promise<FileInfo> {
    return (await this.master<Infer<typeof M.FileInfoReply>>({ t: 'GetStatus', path, ...(forRead ? { forRead } : {}), ...this.sync() }, 'FileInfoReply')).info;
  }

  private sync(): { syncMs?: number; load?: 'ALWAYS' | 'NEVER' } {
    const s = this.opts.syncIntervalMs;
    const load = this.opts.metadataLoadType;
    return { ...(s !== undefined && s >= 0 ? { syncMs: s } : {}), ...(load && load !== 'ONCE' ? { load } : {}) };
  }

  /** Paths whose metadata differs from the UFS under `path`; with `repair`, brought in line. */
  async checkConsistency(path: string, repair = false): Promise<string[]> {
    return (await this.master<Infer<typeof M.ConsistencyReply>>({ t: 'CheckConsistency', path, repair }, 'ConsistencyReply')).inconsistent;
  }

  /** Re-reads a path's directory (and with `recursive`, everything below) from the UFS. */
  async loadMetadata(path: string, recursive = false): Promise<void> {
    await this.master({ t: 'LoadMetadata', path, recursive }, 'Ok');
  }

  /** Drops the cached blocks of the files under `path` (pinned ones too with `force`). */
  async free(path: string, force = false): Promise<void> {
    await this.mutate({ t: 'Free', path, force }, 'Ok');
  }

  /** chown/chgrp/chmod/pin: any of owner, group, mode and pinned; `recursive` for the whole subtree. */
  async setAttribute(
    path: string,
    attrs: { owner?: string; group?: string; mode?: number; pinned?: boolean; ttl?: number; ttlAction?: 'DELETE' | 'FREE' },
    recursive = false,
  ): Promise<void> {
    await this.mutate({ t: 'SetAttribute', path, ...attrs, recursive }, 'Ok');
  }

  async listStatus(path: string): Promise<FileInfo[]> {
    return (await this.master<Infer<typeof M.ListStatusReply>>({ t: 'ListStatus', path, ...this.sync() }, 'ListStatusReply')).entries;
  }

  async exists(path: string): Promise<boolean> {
    try {
      await this.getStatus(path);
      return true;
    } catch (e) {
      if (isStrataError(e, 'NOT_FOUND')) return false;
      throw e;
    }
  }

  async mkdir(path: string, recursive = false): Promise<void> {
    await this.mutate({ t: 'CreateDirectory', path, recursive }, 'Ok');
  }

  /** `unchecked`: do not first check that the UFS agrees; `strataOnly`: leave the UFS copy in place. */
  async delete(path: string, recursive = false, opts: { unchecked?: boolean; strataOnly?: boolean } = {}): Promise<void> {
    await this.mutate({ t: 'Delete', path, recursive, ...(opts.unchecked ? { unchecked: true } : {}), ...(opts.strataOnly ? { strataOnly: true } : {}) }, 'Ok');
  }

  async rename(src: string, dst: string): Promise<void> {
    await this.mutate({ t: 'Rename', src, dst }, 'Ok');
  }

  async mount(path: string, ufsUri: string, opts: { readOnly?: boolean; shared?: boolean; options?: Array<[string, string]> } = {}): Promise<void> {
    await this.mutate({ t: 'Mount', path, ufsUri, readOnly: opts.readOnly ?? false, shared: opts.shared ?? false, options: opts.options ?? [] }, 'Ok');
  }

  async unmount(path: string): Promise<void> {
    await this.mutate({ t: 'Unmount', path }, 'Ok');
  }

  async updateMount(path: string, opts: { readOnly: boolean; shared: boolean; options: Array<[string, string]> }): Promise<void> {
    await this.mutate({ t: 'UpdateMount', path, ...opts }, 'Ok');
  }

  async mountTable(): Promise<MountPointInfo[]> {
    return (await this.master<Infer<typeof M.MountTableReply>>({ t: 'GetMountTable' }, 'MountTableReply')).mounts;
  }

  async workers(): Promise<WorkerInfo[]> {
    const ws = (await this.master<Infer<typeof M.WorkersReply>>({ t: 'GetWorkers' }, 'WorkersReply')).workers;
    for (const w of ws) this.env.learnAddress(w.id, w.address);
    return ws;
  }

  /** One master's own view (leader or standby), not routed to the leader. */
  async masterInfoOf(masterId: string): Promise<MasterInfo> {
    const { t: _t, ...info } = await this.rpc.request<Infer<typeof M.MasterInfoReply>>(masterId, { t: 'GetMasterInfo' }, 'MasterInfoReply');
    return info;
  }

  /** A consistent snapshot of the namespace from the leader (fsadmin backup). */
  async backup(): Promise<{ masterId: string; seq: number; inodes: number; data: Uint8Array }> {
    const { t: _t, ...b } = await this.master<Infer<typeof M.BackupReply>>({ t: 'Backup' }, 'BackupReply');
    return b;
  }

  /** Checkpoints the embedded journal now; the index it covers. */
  async checkpoint(): Promise<number> {
    return (await this.master<Infer<typeof M.CheckpointReply>>({ t: 'Checkpoint' }, 'CheckpointReply')).index;
  }

  /** Asks the leader to hand leadership to another master (fsadmin journal quorum elect). */
  async transferLeadership(to: string): Promise<void> {
    await this.master({ t: 'TransferLeadership', to }, 'Ok');
  }

  /** Removes a master from the embedded journal's quorum (fsadmin journal quorum remove). */
  async removeMaster(id: string): Promise<void> {
    await this.mutate({ t: 'RemoveMaster', id }, 'Ok');
  }

  async masterInfo(): Promise<MasterInfo> {
    const { t: _t, ...info } = await this.master<Infer<typeof M.MasterInfoReply>>({ t: 'GetMasterInfo' }, 'MasterInfoReply');
    return info;
  }

  // ---- reads ----

  async readFile(path: string, readType = this.opts.readType): Promise<Uint8Array> {
    const parts: Uint8Array[] = [];
    let total = 0;
    const info = await this.read(path, (c) => {
      parts.push(c);
      total += c.byteLength;
    }, readType);
    if (total !== info.length) throw new StrataError('INTERNAL', `read ${total} bytes of ${path}, expected ${info.length}`);
    // A file that came in one chunk is that chunk: the bytes are ours already, so no copy.
    if (parts.length === 1) return parts[0]!;
    const out = Buffer.concat(parts, total);
    return new Uint8Array(out.buffer, out.byteOffset, out.byteLength);
  }

  /** Streams the whole file into `sink`, in order. */
  async read(path: string, sink: Sink, readType = this.opts.readType): Promise<FileInfo> {
    const info = await this.getStatus(path, true);
    if (info.isDir) throw new StrataError('INVALID_ARGUMENT', `${path} is a directory`);
    if (!info.completed) throw new StrataError('FAILED_PRECONDITION', `${path} is still being written`);
    for (const block of info.blocks) await this.readBlock(info, block, 0, block.length, sink, readType);
    return info;
  }

  /**
   * A handle for positioned reads, seeks and sequential reads of the file as it is
   * now; `cache: false` bypasses the client cache for this handle.
   */
  async openFile(path: string, opts: { readType?: ReadType; cache?: boolean } = {}): Promise<FileReader> {
    const info = await this.getStatus(path, true);
    if (info.isDir) throw new StrataError('INVALID_ARGUMENT', `${path} is a directory`);
    if (!info.completed) throw new StrataError('FAILED_PRECONDITION', `${path} is still being written`);
    return new FileReader(this, info, opts.readType ?? this.opts.readType, opts.cache === false ? undefined : this.cache);
  }

  /** Streams bytes [offset, offset + length) of the file `info` describes into `sink`, in order. */
  async readRange(info: FileInfo, offset: number, length: number, sink: Sink, readType: ReadType = this.opts.readType): Promise<void> {
    if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(length) || offset < 0 || length < 0 || offset + length > info.length) {
      throw new StrataError('INVALID_ARGUMENT', `range [${offset}, ${offset + length}) is not within ${info.path} of ${info.length} bytes`);
    }
    for (const block of info.blocks) {
      const from = Math.max(offset, block.offset);
      const to = Math.min(offset + length, block.offset + block.length);
      if (from < to) await this.readBlock(info, block, from - block.offset, to - from, sink, readType);
    }
  }

  private async readBlock(info: FileInfo, block: BlockInfo, offset: number, length: number, sink: Sink, readType: ReadType): Promise<void> {
    let pos = offset;
    const end = offset + length;
    const holders = shuffle(block.locations.map((l) => l.workerId), () => this.env.random());
    // A holder on this host first (short-circuit, no network), as Alluxio's reads prefer a local worker.
    const host = this.env.hostName;
    if (host !== undefined) {
      const local = (w: string) => this.looksLocal(block.locations.find((l) => l.workerId === w)!.address, host);
      holders.sort((a, b) => Number(local(b)) - Number(local(a)));
    }
    for (const l of block.locations) this.env.learnAddress(l.workerId, l.address);
    let others: string[] | undefined;
    let lastError: StrataError | undefined;
    const tried = new Set<string>();
    for (let attempt = 0; attempt < 6; attempt++) {
      let worker = holders.find((w) => !tried.has(w));
      if (!worker && !info.persisted) {
        // MUST_CACHE data lives only on workers: with no holder left there is nothing to read through.
        throw new StrataError('UNAVAILABLE', `block ${block.id} of ${info.path} is not persisted and no live worker holds it${lastError ? ` (${lastError.message})` : ''}`);
      }
      if (!worker) {
        // No holder left: read through on a live worker that caches the block on the way.
        others ??= shuffle((await this.workers()).filter((w) => w.state === 'LIVE').map((w) => w.id), () => this.env.random());
        worker = others.find((w) => !tried.has(w));
        if (!worker) {
          if (tried.size === 0) break;
          tried.clear();
          worker = others[0] ?? holders[0];
          if (!worker) break;
        }
      }
      tried.add(worker);
      /** The caller's sink failed: its error is the read's, and no other worker is asked. */
      let sinkFailure: { error: unknown } | undefined;
      try {
        const deliver: Sink = (chunk) => {
          pos += chunk.byteLength;
          try {
            const r = sink(chunk);
            return r && r.catch((error: unknown) => {
              sinkFailure = { error };
              throw error;
            });
          } catch (error) {
            sinkFailure = { error };
            throw error;
          }
        };
        if (holders.includes(worker) && (await this.readLocal(worker, block, pos, end, readType, deliver))) return;
        if (end - pos <= this.rangeMaxBytes) await this.fetchRange(worker, block, pos, end, readType, deliver);
        else await this.streamBlock(worker, block, pos, end, readType, deliver);
        if (readType !== 'NO_CACHE' && holders.includes(worker)) this.passive?.afterRemoteRead(info, block, worker);
        return;
      } catch (e) {
        if (sinkFailure) throw sinkFailure.error;
        const se = isStrataError(e) ? e : new StrataError('INTERNAL', String(e));
        if (FINAL.has(se.code)) throw se;
        lastError = se;
        this.counters.readRetries++;
      }
    }
    throw new StrataError('UNAVAILABLE', `no worker could serve block ${block.id} of ${info.path}${lastError ? `: ${lastError.message}` : ' (no live workers)'}`);
  }

  /**
   * Short-circuit: reads [from, end) of a block straight from its file when the
   * worker is on this host. False when that cannot be done (another host, a tier
   * other processes cannot open, the file gone): the caller streams instead.
   */
  private async readLocal(worker: string, block: BlockInfo, from: number, end: number, readType: ReadType, sink: Sink): Promise<boolean> {
    if (this.opts.shortCircuit === false || !this.local.usable(worker)) return false;
    const address = block.locations.find((l) => l.workerId === worker)?.address ?? '';
    if (!this.looksLocal(address, this.env.hostName!)) return false;
    const data = await this.local.read(worker, block.id, block.length, from, end - from, readType === 'CACHE_PROMOTE');
    if (!data) return false;
    this.counters.bytesRead += data.byteLength;
    this.counters.bytesReadShortCircuit += data.byteLength;
    await sink(data);
    return true;
  }

  private looksLocal(address: string, host: string): boolean {
    // Asked on every short-circuit read (4 KiB positioned reads too): parsing the URL each time shows.
    const known = this.localAddresses.get(address);
    if (known !== undefined) return known;
    const local = this.parseLocal(address, host);
    this.localAddresses.set(address, local);
    return local;
  }

  private parseLocal(address: string, host: string): boolean {
    let h: string;
    try {
      h = new URL(address).hostname.replace(/^\[|\]$/g, '');
    } catch {
      return false;
    }
    return h === host || (this.opts.localHosts ?? LOOPBACK).includes(h);
  }

  /** Ranges a stream would send as one chunk are asked for in one request (ReadRange) instead. */
  private get rangeMaxBytes(): number {
    return Math.min(W.READ_RANGE_MAX_BYTES, this.opts.chunkSize);
  }

  /** One attempt: [from, end) of a block from one worker in one request and one reply. */
  private async fetchRange(worker: string, block: BlockInfo, from: number, end: number, readType: ReadType, sink: Sink): Promise<void> {
    const r: Infer<typeof W.BlockRange> = await this.rpc.request(worker, {
      t: 'ReadRange', blockId: block.id, offset: from, length: end - from, cache: readType !== 'NO_CACHE',
      ...(readType === 'CACHE_PROMOTE' ? { promote: true } : {}),
    } satisfies Infer<typeof W.ReadRange>, 'BlockRange');
    if (r.data.byteLength !== end - from) throw new StrataError('INTERNAL', `${worker} answered ${r.data.byteLength} bytes of block ${block.id} for a range of ${end - from}`);
    this.counters.bytesRead += r.data.byteLength;
    await sink(r.data);
  }

  /** One attempt: streams [from, end) of a block from one worker, delivering chunks in order. */
  private async streamBlock(worker: string, block: BlockInfo, from: number, end: number, readType: ReadType, sink: Sink): Promise<void> {
    const window = Math.max(1, this.opts.readWindow);
    const batch = Math.max(1, window >> 2);
    let owed = 0;
    const early = new Map<number, Infer<typeof W.BlockChunk>>();
    let expect = 0;
    /** Chunks wait here only behind a sink that has not finished with an earlier one. */
    let sinkChain: Promise<void> | undefined;
    let handle: { id: number; cancel(reason?: string): void } | undefined;
    let sinkError: unknown;
    const failed = (e: unknown): void => {
      sinkError = e;
      handle?.cancel('the reader failed');
    };
    const consumed = (c: Infer<typeof W.BlockChunk>): void => {
      if (sinkError || c.last || !handle) return;
      // Credits go back a few at a time: one message per chunk costs both sides more
      // than the bytes do, and the worker still holds at least window - batch credits.
      if (++owed >= batch) {
        this.rpc.send(worker, { t: 'ReadCredit', stream: handle.id, n: owed } satisfies Infer<typeof W.ReadCredit>);
        owed = 0;
      }
    };
    /** Hands a chunk to the sink as it arrives; a sink that returns a promise holds back the chunks after it. */
    const toSink = (c: Infer<typeof W.BlockChunk>): void | Promise<void> => {
      if (sinkError) return;
      let r: void | Promise<void>;
      try {
        r = sink(c.data);
      } catch (e) {
        failed(e);
        return;
      }
      if (!r) {
        consumed(c);
        return;
      }
      return r.then(() => consumed(c), failed);
    };
    const deliver = (c: Infer<typeof W.BlockChunk>) => {
      this.counters.bytesRead += c.data.byteLength;
      const after = sinkChain ? sinkChain.then(() => toSink(c)) : toSink(c);
      if (!after) return;
      const chain: Promise<void> = after.then(() => {
        if (sinkChain === chain) sinkChain = undefined;
      });
      sinkChain = chain;
    };
    const h = this.rpc.stream(worker, {
      t: 'ReadBlock', blockId: block.id, offset: from, length: end - from, window, cache: readType !== 'NO_CACHE',
      ...(readType === 'CACHE_PROMOTE' ? { promote: true } : {}),
    } satisfies Infer<typeof W.ReadBlock>, 'BlockChunk', this.opts.rpcTimeoutMs, (m) => {
      const c = m as Infer<typeof W.BlockChunk>;
      if (c.seq < expect || early.has(c.seq)) return false;
      early.set(c.seq, c);
      let last = false;
      for (let next = early.get(expect); next; next = early.get(expect)) {
        early.delete(expect);
        expect++;
        deliver(next);
        last ||= next.last;
      }
      return last;
    });
    handle = h;
    try {
      await h.done;
    } finally {
      while (sinkChain) await sinkChain;
    }
    if (sinkError) throw sinkError;
  }

  // ---- writes ----

  /**
   * Writes a whole file through one worker to the UFS (caching its blocks with
   * CACHE_THROUGH). A worker that has no room for blocks that would be the only
   * copy (MUST_CACHE, ASYNC_THROUGH) refuses with RESOURCE_EXHAUSTED; the write
   * then starts over on the next worker the location policy picks, if the source
   * can be read again (bytes, or a function returning a fresh stream).
   */
  async writeFile(path: string, source: WriteSource, opts: { overwrite?: boolean; writeType?: WriteType; length?: number } = {}): Promise<FileInfo> {
    const writeType = opts.writeType ?? this.opts.writeType;
    // Bytes know their length; a stream may be told it (a local file's size), so workers write blocks as they arrive.
    const declared = source instanceof Uint8Array ? source.byteLength : opts.length;
    if (declared !== undefined && (!Number.isSafeInteger(declared) || declared < 0)) throw new StrataError('INVALID_ARGUMENT', `${path}: a length of ${declared} bytes`);
    const workersOnly = writeType === 'MUST_CACHE' || writeType === 'ASYNC_THROUGH';
    const created = (await this.mutate<Infer<typeof M.FileInfoReply>>({ t: 'CreateFile', path, overwrite: opts.overwrite ?? false, blockSize: this.opts.blockSize }, 'FileInfoReply')).info;
    const live = (await this.workers()).filter((w) => w.state === 'LIVE');
    if (live.length === 0) throw new StrataError('UNAVAILABLE', 'no live workers to write through');
    // strata.user.file.replication.durable: the write is acknowledged only once that many workers hold every block.
    const durable = writeType === 'THROUGH' ? 1 : Math.max(1, this.opts.durableReplication ?? 1);
    const replayable = typeof source === 'function' || source instanceof Uint8Array;
    const refused: string[] = [];
    let refusal: StrataError | undefined;
    let done: FileInfo;
    for (;;) {
      const candidates = live.filter((w) => !refused.includes(w.id));
      let primary: string;
      try {
        primary = this.chooser.choose(candidates, path, created.blockSize).id;
      } catch (e) {
        // The policy allows no other worker (SpecificHost): the refusal is the answer.
        if (refusal) throw refusal;
        throw e;
      }
      const others = shuffle(candidates.map((w) => w.id).filter((w) => w !== primary), () => this.env.random());
      if (others.length < durable - 1) throw new StrataError('UNAVAILABLE', `${durable} durable copies asked for, but only ${others.length + 1} workers are live`);
      const targets = [primary, ...others.slice(0, durable - 1)];
      try {
        const length = await this.writeTo(targets, path, created.fileId, writeType, typeof source === 'function' ? source() : source, declared);
        done = (await this.mutate<Infer<typeof M.FileInfoReply>>({ t: 'CompleteFile', path, length, fileId: created.fileId, ...(workersOnly ? { persisted: false } : {}), ...(writeType === 'ASYNC_THROUGH' ? { asyncPersist: true } : {}) }, 'FileInfoReply')).info;
        break;
      } catch (e) {
        if (!isStrataError(e, 'RESOURCE_EXHAUSTED')) throw e;
        refused.push(...targets);
        refusal = new StrataError('RESOURCE_EXHAUSTED', `no room to write ${path} (refused by ${refused.join(', ')}): ${e.message}`);
        if (!replayable || refused.length >= live.length) {
          throw replayable ? refusal : new StrataError('RESOURCE_EXHAUSTED', `${refusal.message} (the source is a stream, so it cannot be written again elsewhere)`);
        }
        this.env.log.log('info', `${targets.join(', ')} had no room for ${path}; trying another worker`, { error: e.message });
      }
    }
    const rep = this.opts.replication;
    if (rep) await this.mutate({ t: 'SetReplication', path, min: rep.min, max: rep.max, recursive: false }, 'Ok');
    return done;
  }

  /**
   * Streams the file to every target (the first also writes the UFS unless
   * workers-only); returns its length, which must be `declared` when given.
   */
  private async writeTo(
    targets: readonly string[],
    path: string,
    fileId: number,
    writeType: WriteType,
    source: Uint8Array | AsyncIterable<Uint8Array>,
    declared: number | undefined,
  ): Promise<number> {
    const mismatch = (n: number): StrataError =>
      new StrataError('INVALID_ARGUMENT', `${path}: the source yielded ${n > declared! ? 'more than' : n === 0 ? 'none' : `${n}`} of the ${declared} bytes it was declared to hold`);
    const workersOnly = writeType === 'MUST_CACHE' || writeType === 'ASYNC_THROUGH';
    const streams: Array<{ worker: string; stream: number; window: number }> = [];
    let seq = 0;
    let length = 0;
    try {
      for (const [i, worker] of targets.entries()) {
        // Only the primary writes the UFS; replicas only cache.
        const toUfs = i === 0 && !workersOnly;
        const ready: Infer<typeof W.WriteReady> = await this.rpc.request(worker, {
          t: 'WriteOpen', fileId, cache: writeType !== 'THROUGH', ...(toUfs ? {} : { ufs: false }),
          // Known up front, the length lets the worker write each block to disk as it arrives.
          ...(declared !== undefined ? { length: declared } : {}),
        } satisfies Infer<typeof W.WriteOpen>, 'WriteReady');
        streams.push({ worker, stream: ready.stream, window: Math.max(1, ready.window) });
      }
      const window = Math.min(...streams.map((t) => t.window));
      const inflight = new Set<Promise<void>>();
      let failure: unknown;
      for await (const data of rechunk(source, this.opts.chunkSize)) {
        while (inflight.size >= window) await Promise.race(inflight);
        if (failure) throw failure;
        if (declared !== undefined && length + data.byteLength > declared) throw mismatch(length + data.byteLength);
        const n = seq++;
        const p: Promise<void> = Promise.all(streams.map((t) => this.sendChunk(t.worker, t.stream, n, data))).then(
          () => void inflight.delete(p),
          (e: unknown) => {
            inflight.delete(p);
            failure ??= e;
          },
        );
        inflight.add(p);
        length += data.byteLength;
        this.counters.bytesWritten += data.byteLength;
      }
      await Promise.all(inflight);
      if (failure) throw failure;
      if (declared !== undefined && length !== declared) throw mismatch(length);
      for (const t of streams) {
        const done: Infer<typeof W.WriteDone> = await this.rpc.request(t.worker, { t: 'WriteClose', stream: t.stream, chunks: seq, abort: false } satisfies Infer<typeof W.WriteClose>, 'WriteDone');
        if (done.length !== length) throw new StrataError('INTERNAL', `${t.worker} wrote ${done.length} bytes of ${path}, client sent ${length}`);
      }
    } catch (e) {
      for (const t of streams) this.rpc.send(t.worker, { t: 'WriteClose', stream: t.stream, chunks: seq, abort: true } satisfies Infer<typeof W.WriteClose>);
      throw e;
    }
    return length;
  }


  private async sendChunk(worker: string, stream: number, seq: number, data: Uint8Array): Promise<void> {
    // A lost chunk or ack is resent; the worker applies each seq once and acks duplicates.
    for (let attempt = 0; ; attempt++) {
      try {
        await this.rpc.request(worker, { t: 'WriteChunk', stream, seq, data } satisfies Infer<typeof W.WriteChunk>, 'WriteAck');
        return;
      } catch (e) {
        if (!isStrataError(e, 'DEADLINE_EXCEEDED') || attempt >= 2) throw e;
      }
    }
  }
}

async function* rechunk(source: Uint8Array | AsyncIterable<Uint8Array>, size: number): AsyncGenerator<Uint8Array> {
  if (source instanceof Uint8Array) {
    for (let off = 0; off < source.byteLength; off += size) yield source.subarray(off, Math.min(source.byteLength, off + size));
    return;
  }
  let pending: Uint8Array[] = [];
  let bytes = 0;
  for await (const piece of source) {
    let off = 0;
    while (off < piece.byteLength) {
      const n = Math.min(size - bytes, piece.byteLength - off);
      pending.push(piece.subarray(off, off + n));
      bytes += n;
      off += n;
      if (bytes === size) {
        yield pending.length === 1 ? pending[0]! : Buffer.concat(pending, bytes);
        pending = [];
        bytes = 0;
      }
    }
  }
  if (bytes > 0) yield pending.length === 1 ? pending[0]! : Buffer.concat(pending, bytes);
}

function shuffle<T>(items: T[], random: () => number): T[] {
  const a = [...items];
  for (let i = a.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [a[i], a[j]] = [a[j]!, a[i]!];
  }
  return a;
}
