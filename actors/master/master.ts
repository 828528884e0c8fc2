// The master: owns the inode tree (journaled), the worker registry and block
// locations; loads metadata from the root UFS on first access.
import type { Actor, Disk, Env, Timer } from '../env.js';
import { StrataError, notLeader, type Envelope, type Message } from '../protocol/envelope.js';
import type { Infer } from '../../transport/schema.js';
import * as M from '../protocol/master.js';
import * as W from '../protocol/worker.js';
import { ReplyCache, Rpc, serve, type Handler } from '../rpc.js';
import { escapingName, joinPath, splitPath } from '../path.js';
import { fileOfBlock, indexOfBlock } from '../block-id.js';
import { ufsTempPath, strataTempOf } from '../ufs-temp.js';
import { sweepTemps } from './ufs-temp-sweeper.js';
import { Mutex } from '../mutex.js';
import { Namespace, RejectedEntry, ROOT_ID, type Inode, type JournalEntry, type UfsChild } from './namespace.js';
import { LocalJournal, RaftJournal, type JournalBackend, type RaftJournalOptions } from './journal-backend.js';
import { WorkerRegistry } from './workers.js';
import { PendingChanges, nameKey, requestKey } from './pending.js';
import { UnpersistedBlocks } from './unpersisted-blocks.js';
import { EXECUTE, READ, WRITE, check, isSuper, type Caller, type PermissionPolicy } from './permissions.js';
import { METRIC, metricsOf, timed } from '../metrics.js';
import { clusterMetrics, registerMasterMetrics } from './master-metrics.js';
import { RocksInodeStore, type RocksStoreOptions } from '../../storage/metastore-rocks.js';

/** strata.user.file.metadata.load.type: when a lookup or a listing consults the UFS. */
export type LoadType = 'ONCE' | 'ALWAYS' | 'NEVER';
import { JobMaster, type JobMasterOptions } from '../job/job-master.js';
import { packMasterSnapshot, unpackMasterSnapshot } from '../job/state.js';

export const MASTER_ID = 'master';
export const STRATA_VERSION = '0.1.0';

export interface MasterOptions {
  /** URI of the UFS mounted at '/'. */
  rootUfs: string;
  blockSize: number;
  workerTimeoutMs: number;
  rpcTimeoutMs: number;
  /** Folder on the master's disk for the journal. */
  journalDir: string;
  /** Who may do what; defaults to checks on, superuser 'strata', supergroup 'supergroup', umask 022. */
  permissions?: Partial<PermissionPolicy>;
  /** strata.master.persistence.checker.interval: how often ASYNC_THROUGH files are handed to workers to persist (default 1 s). */
  persistCheckIntervalMs?: number;
  /** strata.master.ttl.checker.interval: how often expired TTLs are acted on (default 1 min). */
  ttlCheckIntervalMs?: number;
  /** strata.master.ufs.temp.file.max.age: stale temporary UFS files nothing owns are removed past this age (default 1 h). */
  ufsTempMaxAgeMs?: number;
  /** A backup's namespace to start from (`strata master --restore`); only into an empty journal. */
  restore?: Uint8Array;
  /** UFS (default): this master alone, with a local write-ahead journal. EMBEDDED: a Raft group of masters. */
  journal?: { type: 'UFS' } | ({ type: 'EMBEDDED' } & Omit<RaftJournalOptions, 'dir'>);
  /** strata.master.metastore: HEAP (default) or ROCKS, rebuilt from the journal on every start. */
  metastore?: { type: 'HEAP' } | ({ type: 'ROCKS' } & RocksStoreOptions);
  /** The job service hosted with the leading master (strata.job.*, strata.master.persistence.*, replication checker). */
  jobs?: JobMasterOptions;
}

/** Requests any master answers, leader or not. */
const ANY_MASTER = new Set(['GetMasterInfo', 'GetQuorumInfo']);

type Req<S> = Envelope<Infer<S> & Message>;

/** What one pass of a pipelined change decided (see MasterActor.pipelined). */
type Step<T> = { wait: Promise<void> } | { result: T } | { done: Promise<T> };

export class MasterActor implements Actor {
  private readonly rpc: Rpc;
  private readonly ns: Namespace;
  private workers = new WorkerRegistry();
  /** The last entry applied: the one whose UFS side a new leader (or a restart) finishes. */
  private lastEntry: JournalEntry | undefined;
  /**
   * The term in which this master, as leader, has applied everything committed in
   * earlier terms. Until then a retried request could look new and be applied
   * twice, so requests wait. The local journal has one term, 0, always caught up.
   */
  private caughtUpTerm = 0;
  private restorePending = true;
  private readonly ufsByUri = new Map<string, Disk>();
  /** When each directory was last compared with the UFS (not journaled: a new master re-checks). */
  private readonly lastSync = new Map<number, number>();
  /** Changes proposed but not yet applied, by the keys they touch (see pending.ts). */
  private readonly pending = new PendingChanges();
  /** Blocks each worker is to drop (fs free, files gone), handed over with its next heartbeat reply. */
  private readonly toFree = new Map<string, Set<number>>();
  /** Answers workers about blocks they keep as the only copy. */
  private readonly unpersisted = new UnpersistedBlocks((id) => this.ns.get(id));
  private readonly lock = new Mutex();
  private readonly journal: JournalBackend;
  private expiryTimer: Timer | undefined;
  private ttlTimer: Timer | undefined;
  /** The job master: jobs journaled here, run while this master leads (ASYNC_THROUGH persistence too). */
  readonly jobs: JobMaster;
  private startedAtMs = 0;
  /** Set when the journal failed: state may be ahead of the journal, so nothing more is served. */
  private fatal: string | undefined;
  private readonly handlers: ReadonlyMap<string, Handler>;
  private readonly policy: PermissionPolicy;

  constructor(
    private readonly env: Env,
    private readonly opts: MasterOptions,
  ) {
    this.rpc = new Rpc(env, opts.rpcTimeoutMs);
    this.policy = { enabled: true, superuser: 'strata', supergroup: 'supergroup', umask: 0o022, ...opts.permissions };
    this.ns = new Namespace(opts.rootUfs, this.policy.superuser, this.policy.supergroup);
    const j = opts.journal;
    this.journal =
      j?.type === 'EMBEDDED'
        ? new RaftJournal(env, { ...j, dir: opts.journalDir }, {
              snapshot: () => packMasterSnapshot(this.ns.snapshot(), this.jobs.state.snapshot()),
              restore: (bytes) => {
                const b = unpackMasterSnapshot(bytes);
                this.ns.restore(b.namespace);
                if (b.jobs) this.jobs.state.restore(b.jobs);
                // What the last applied entry was is now unknown: never redo an older one.
                this.lastEntry = undefined;
              },
            }, () => this.onLeadership())
        : new LocalJournal(env.disk, opts.journalDir, env.log);
    this.jobs = new JobMaster({
      env, rpc: this.rpc, ns: this.ns, exclusive: (change) => this.exclusive(change), superuser: this.policy.superuser,
      workers: () => this.workers,
      serving: () => this.journal.isLeader() && this.caughtUpTerm === this.journal.term() && !this.failed,
      journal: (entry) => this.journalAndApply(entry),
      resolve: async (path, deep) => {
        const top = await this.resolve(path);
        const load = async (n: Inode): Promise<void> => {
          if (!n.isDir) return;
          await this.loadChildren(n);
          for (const child of this.ns.children(n)) await load(child);
        };
        if (deep) await load(top);
        return top;
      },
      access: (r, n, bits) => {
        const c = this.caller(r);
        this.traverse(c, n);
        this.allow(c, n, bits);
      },
      isSuper: (r) => isSuper(this.policy, this.caller(r)),
      ufsOf: (n) => this.ufsOf(n),
      ufsDisk: (uri) => this.ufsDisk(uri),
      remove: async (path) => {
        await this.delete({ f: env.self, to: env.self, id: 0, u: this.policy.superuser, g: [], m: { t: 'Delete', path, recursive: false } });
      },
    }, { ...opts.jobs, persistence: { schedulerMs: opts.persistCheckIntervalMs ?? 1000, ...opts.jobs?.persistence } });
    const dedup = new ReplyCache(() => env.now(), 10 * 60_000);
    const h: Array<[string, Handler]> = [
      ['RegisterWorker', (r) => this.registerWorker(r as Req<typeof M.RegisterWorker>)],
      ['WorkerHeartbeat', (r) => this.heartbeat(r as Req<typeof M.WorkerHeartbeat>)],
      ['ClientMetrics', (r) => this.clientMetrics(r as Req<typeof M.ClientMetrics>)],
      ['GetStatus', (r) => this.getStatus(r as Req<typeof M.GetStatus>)],
      ['GetUfsLocation', (r) => this.ufsLocation(r as Req<typeof W.GetUfsLocation>)],
      ['ListStatus', (r) => this.listStatus(r as Req<typeof M.ListStatus>)],
      ['CreateDirectory', dedup.wrap((r) => this.createDirectory(r as Req<typeof M.CreateDirectory>))],
      ['CreateFile', dedup.wrap((r) => this.createFile(r as Req<typeof M.CreateFile>))],
      ['CompleteFile', dedup.wrap((r) => this.completeFile(r as Req<typeof M.CompleteFile>))],
      ['Delete', dedup.wrap((r) => this.delete(r as Req<typeof M.Delete>))],
      ['Rename', dedup.wrap((r) => this.rename(r as Req<typeof M.Rename>))],
      ['Mount', dedup.wrap((r) => this.mount(r as Req<typeof M.Mount>))],
      ['Unmount', dedup.wrap((r) => this.unmount(r as Req<typeof M.Unmount>))],
      ['UpdateMount', dedup.wrap((r) => this.updateMount(r as Req<typeof M.UpdateMount>))],
      ['GetMountTable', () => this.mountTable()],
      ['SetAttribute', dedup.wrap((r) => this.setAttribute(r as Req<typeof M.SetAttribute>))],
      ['TransferLeadership', (r) => this.transferLeadership(r as Req<typeof M.TransferLeadership>)],
      ['Backup', (r) => this.backup(r)],
      ['CheckConsistency', (r) => this.checkConsistency(r as Req<typeof M.CheckConsistency>)],
      ['LoadMetadata', (r) => this.loadMetadata(r as Req<typeof M.LoadMetadata>)],
      ['Free', (r) => this.free(r as Req<typeof M.Free>)],
      ['Checkpoint', (r) => this.checkpoint(r)],
      ['RemoveMaster', dedup.wrap((r) => this.changeMembers(r as Req<typeof M.RemoveMaster>))],
      ['AddMaster', dedup.wrap((r) => this.changeMembers(r as Req<typeof M.AddMaster>))],
      ['GetWorkers', () => ({ t: 'WorkersReply', workers: this.workers.infos() })],
      ['GetMasterInfo', () => this.masterInfo()],
      ...this.jobs.handlers().map(([t, h]): [string, Handler] => [t, dedup.wrap(h)]),
    ];
    this.handlers = new Map(h);
    registerMasterMetrics(metricsOf(env), () => ({ paths: this.ns.size, liveWorkers: this.workers.infos().filter((w) => w.state === 'LIVE').map((w) => w.id), lostWorkers: this.workers.lostCount(), term: this.journal.term(), leader: this.journal.isLeader() }));
  }

  /** Why the master stopped serving (its journal failed), if it did: it must be restarted. */
  get failed(): string | undefined {
    return this.fatal ?? this.journal.failed;
  }

  /** The Raft status when the journal is embedded (role, term, leader, commit, applied). */
  get raftStatus() {
    return this.journal instanceof RaftJournal ? this.journal.status() : undefined;
  }

  get liveWorkers(): number {
    return this.workers.liveCount();
  }

  async start(): Promise<void> {
    this.startedAtMs = this.env.now();
    const ms = this.opts.metastore;
    if (ms?.type === 'ROCKS') this.ns.useStore(await RocksInodeStore.open(await this.env.openKv('metastore'), ms));
    const last = await this.journal.start((entry) => {
      if (entry.op === 'job') return this.jobs.apply(entry);
      this.lastEntry = entry;
      return this.ns.apply(entry);
    });
    await this.redoUfs(last);
    // A Raft group restores once it has a leader (see onLeadership).
    if (this.opts.restore && !(this.journal instanceof RaftJournal)) await this.restoreBackup(this.opts.restore);
    this.scheduleExpiry();
    this.scheduleTtlCheck();
    this.jobs.start();
  }

  private scheduleTtlCheck(): void {
    this.ttlTimer = this.env.setTimer(this.opts.ttlCheckIntervalMs ?? 60_000, () => {
      void this.checkTtls().finally(() => this.scheduleTtlCheck());
    });
  }

  /** The leader deletes, or frees the blocks of, whatever outlived its TTL (as the superuser). */
  async checkTtls(): Promise<void> {
    if (!this.journal.isLeader() || this.caughtUpTerm !== this.journal.term()) return;
    const now = this.env.now();
    for (const id of [...this.ns.ttlInodes]) {
      const n = this.ns.get(id);
      if (!n?.ttl || now < n.mtimeMs + n.ttl.ms) continue;
      const path = this.ns.pathOf(n);
      const as = (m: Message): Envelope => ({ f: this.env.self, to: this.env.self, id: 0, u: this.policy.superuser, g: [], m });
      try {
        if (n.ttl.action === 'DELETE') await this.delete(as({ t: 'Delete', path, recursive: true } as Message) as Req<typeof M.Delete>);
        else {
          await this.free(as({ t: 'Free', path, force: true } as Message) as Req<typeof M.Free>);
          // Freed once: the TTL has done its work.
          await this.exclusive(() => this.journalAndApply({ op: 'setAttr', id, ttl: -1 }));
        }
        this.env.log.log('info', `TTL expired: ${n.ttl.action === 'DELETE' ? 'deleted' : 'freed'} ${path}`);
      } catch (e) {
        this.env.log.log('warn', `TTL action on ${path} failed: ${(e as Error).message}`);
      }
    }
  }

  async stop(): Promise<void> {
    this.expiryTimer?.cancel();
    this.ttlTimer?.cancel();
    this.jobs.stop();
    this.rpc.stop();
    await this.journal.stop();
    await this.ns.store.close();
  }

  receive(envelope: Envelope): void {
    if (this.journal.receive(envelope)) return;
    const fatal = this.fatal ?? this.journal.failed;
    if (fatal && envelope.re === undefined) {
      this.rpc.replyError(envelope, new StrataError('UNAVAILABLE', `master stopped serving: ${fatal}`));
      return;
    }
    // Standbys answer only what any master can; everything else goes to the leader.
    if (envelope.re === undefined && !ANY_MASTER.has(envelope.m.t)) {
      if (!this.journal.isLeader()) {
        this.rpc.replyError(envelope, notLeader(this.env.self, this.journal.leader()));
        return;
      }
      if (this.caughtUpTerm !== this.journal.term()) {
        this.rpc.replyError(envelope, new StrataError('UNAVAILABLE', `${this.env.self} was just elected and is catching up; try again`));
        return;
      }
    }
    serve(this.rpc, this.handlers, envelope, (e) => this.env.log.log('error', `internal error serving ${envelope.m.t}`, { error: String(e) }));
  }

  // ---- workers ----

  private scheduleExpiry(): void {
    const period = Math.max(50, Math.floor(this.opts.workerTimeoutMs / 4));
    this.expiryTimer = this.env.setTimer(period, () => {
      for (const id of this.workers.expire(this.env.now(), this.opts.workerTimeoutMs)) {
        this.env.log.log('warn', `worker ${id} lost: no heartbeat for ${this.opts.workerTimeoutMs} ms; its block locations are dropped`);
      }
      this.scheduleExpiry();
    });
  }

  private registerWorker(r: Req<typeof M.RegisterWorker>): Message {
    const m = r.m;
    this.workers.register(m.workerId, m.address, m.capacityBytes, m.usedBytes, m.blocks.filter((b) => this.blockExists(b)), this.env.now());
    this.env.learnAddress(m.workerId, m.address);
    this.env.log.log('info', `worker ${m.workerId} registered at ${m.address} with ${m.blocks.length} blocks`);
    // A restarted worker learns at once which of its recovered blocks it may evict again.
    const { persistedFiles } = this.unpersisted.answer(m.unpersistedFiles ?? [], []);
    return { t: 'RegisterWorkerOk', ...(persistedFiles.length ? { persistedFiles } : {}) };
  }

  private heartbeat(r: Req<typeof M.WorkerHeartbeat>): Infer<typeof M.HeartbeatReply> {
    const m = r.m;
    clusterMetrics(metricsOf(this.env)).report(m.workerId, m.metrics ?? [], this.env.now());
    const known = this.workers.heartbeat(m.workerId, m.capacityBytes, m.usedBytes, m.added.filter((b) => this.blockExists(b)), m.removed, this.env.now());
    const free = this.toFree.get(m.workerId);
    this.toFree.delete(m.workerId);
    const { persistedFiles, releasedFiles } = this.unpersisted.answer(m.unpersistedFiles ?? [], m.releaseFiles ?? []);
    return {
      t: 'HeartbeatReply', cmd: known ? 'ok' : 'register', pinnedFiles: [...this.ns.pinnedFiles], ...(free?.size ? { free: [...free] } : {}),
      ...(persistedFiles.length ? { persistedFiles } : {}), ...(releasedFiles.length ? { releasedFiles } : {}),
    };
  }

  private clientMetrics(r: Req<typeof M.ClientMetrics>): Message {
    const bad = r.m.metrics.find((m) => !Number.isFinite(m.value) || m.value < 0);
    if (bad) throw new StrataError('INVALID_ARGUMENT', `client metric ${bad.name} must be a count, got ${bad.value}`);
    clusterMetrics(metricsOf(this.env)).clients.report(r.m.clientId, r.m.metrics, this.env.now());
    return { t: 'Ok' };
  }

  /** Blocks of deleted files are ignored; a file being written may report blocks before it completes. */
  private blockExists(block: number): boolean {
    const f = this.ns.get(fileOfBlock(block));
    if (f === undefined || f.isDir) return false;
    return !f.completed || indexOfBlock(block) < Math.ceil(f.length / f.blockSize);
  }

  // ---- namespace ----

  /** A change that depends on more than a few names: it runs under the lock once nothing proposed before it is pending. */
  private exclusive<T>(change: () => Promise<T>): Promise<T> {
    return this.lock.run(async () => {
      await this.pending.drained();
      return change();
    });
  }

  /**
   * A change validated under the lock and committed outside it: `step` either
   * answers at once, names a pending change it must wait for (then runs again), or
   * starts its change through `this.pending`, holding the keys it touches.
   */
  private async pipelined<T>(step: () => Promise<Step<T>>): Promise<T> {
    for (;;) {
      const s = await this.lock.run(step);
      if ('wait' in s) await s.wait;
      else return 'result' in s ? s.result : s.done;
    }
  }

  private async journalAndApply(entry: JournalEntry): Promise<Inode | undefined> {
    try {
      // Backpressure: a metastore whose write-back has fallen behind holds new changes here.
      await this.ns.store.writable();
      const result = (await timed(this.env, METRIC.journalCommit, this.journal.append(entry))) as Inode | RejectedEntry | undefined;
      if (result instanceof RejectedEntry) throw new StrataError('FAILED_PRECONDITION', `${result.message} (a concurrent change came first)`);
      return result;
    } catch (e) {
      if (e instanceof StrataError && e.code === 'FAILED_PRECONDITION') throw e;
      // Losing leadership is not a failure of this master: the client follows the hint.
      if (!this.journal.failed) throw e;
      this.fatal = this.journal.failed;
      this.env.log.log('error', this.fatal);
      throw new StrataError('UNAVAILABLE', this.fatal);
    }
  }

  /** A new leader knows no workers yet (they register again) and finishes the last entry's UFS side. */
  private onLeadership(): void {
    this.workers = new WorkerRegistry();
    metricsOf(this.env).inc(METRIC.leaderChanges);
    const term = this.journal.term();
    this.env.log.log('info', `${this.env.self} is the leader for term ${term}`);
    // After a read barrier everything committed before this term is applied, so
    // `lastEntry` is the last change any leader made: only its UFS side can be unfinished.
    void (async () => {
      // Retried while this master still leads that term: giving up would leave it leading but refusing everything.
      for (let attempt = 0; this.journal.isLeader() && this.journal.term() === term; attempt++) {
        try {
          await this.journal.readBarrier();
          await this.exclusive(() => this.redoUfs(this.lastEntry));
          if (this.journal.isLeader() && this.journal.term() === term) this.caughtUpTerm = term;
          if (this.opts.restore && this.restorePending) {
            this.restorePending = false;
            await this.exclusive(() => this.restoreBackup(this.opts.restore!));
          }
          return;
        } catch (e) {
          this.env.log.log('warn', `could not finish the previous leader's last change (attempt ${attempt + 1}): ${(e as Error).message}`);
          await new Promise<void>((r) => this.env.setTimer(Math.min(2000, 100 * 2 ** attempt), r));
        }
      }
    })();
  }

  private ufsDisk(uri: string): Disk {
    let d = this.ufsByUri.get(uri);
    if (!d) this.ufsByUri.set(uri, (d = this.env.openUfs(uri)));
    return d;
  }

  /** The UFS that holds an inode and its path there. */
  private ufsOf(inode: Inode): { disk: Disk; uri: string; path: string; readOnly: boolean } {
    const { mount, path } = this.ns.ufsLocation(inode);
    return { disk: this.ufsDisk(mount.uri), uri: mount.uri, path, readOnly: mount.readOnly };
  }

  /** Mutations under a read-only mount are refused before anything changes. */
  private writable(inode: Inode, what: string): void {
    const m = this.ns.mountOf(inode);
    if (m.readOnly) throw new StrataError('PERMISSION_DENIED', `${what} is under the read-only mount ${this.ns.pathOf(this.ns.get(m.inode)!)} (${m.uri})`);
  }

  /** Lists a UFS directory into the tree once (load type ONCE). */
  private async loadChildren(dir: Inode): Promise<void> {
    if (dir.childrenLoaded || !dir.persisted) return;
    await this.exclusive(async () => {
      if (dir.childrenLoaded || !this.ns.get(dir.id)) return;
      const children = await this.listUfs(dir);
      await this.journalAndApply({ op: 'load', dir: dir.id, children, blockSize: this.opts.blockSize });
      this.lastSync.set(dir.id, this.env.now());
    });
  }

  /** Load type ALWAYS: a name strata does not know is looked up in the UFS, every time. */
  private async loadOne(dir: Inode, name: string): Promise<Inode | undefined> {
    if (!dir.persisted || !validUfsName(name)) return undefined;
    const { disk, path: base } = this.ufsOf(dir);
    const st = await disk.stat(base === '' ? name : `${base}/${name}`).catch((e: { code?: string }) => {
      // Not there is an answer; a failing UFS is not, and must not read as NOT_FOUND.
      if (e.code === 'ENOENT' || e.code === 'ENOTDIR') return null;
      throw e;
    });
    if (!st) return undefined;
    return this.exclusive(async () => {
      const d = this.ns.get(dir.id);
      if (!d) return undefined;
      if (!this.ns.child(d, name)) {
        const child: UfsChild = { name, isDir: st.isDir, length: st.isDir ? 0 : st.size, mtimeMs: st.mtimeMs };
        await this.journalAndApply({ op: 'load', dir: d.id, children: [child], blockSize: this.opts.blockSize, partial: true });
      }
      const now = this.ns.get(dir.id);
      return now && this.ns.child(now, name);
    });
  }

  /** Load type ALWAYS on a listing: whatever the UFS has that strata does not is brought in (a sync also drops what is gone). */
  private async loadNew(dir: Inode): Promise<void> {
    if (!dir.persisted) return;
    const listing = await this.listUfs(dir);
    await this.exclusive(async () => {
      const d = this.ns.get(dir.id);
      if (!d) return;
      const add = listing.filter((u) => !d.children!.has(u.name));
      if (add.length > 0) await this.journalAndApply({ op: 'load', dir: d.id, children: add, blockSize: this.opts.blockSize });
    });
  }

  /** What the UFS holds in a directory, with each entry's fingerprint (length, modification time). */
  private async listUfs(dir: Inode): Promise<UfsChild[]> {
    const { disk, path: base } = this.ufsOf(dir);
    const names = await disk.list(base).catch((e: { code?: string }) => {
      if (e.code === 'ENOENT' || e.code === 'ENOTDIR') return [] as string[];
      throw e;
    });
    await sweepTemps({ disk, dir: base, now: this.env.now(), maxAgeMs: this.opts.ufsTempMaxAgeMs ?? 3_600_000, lookup: (id) => this.ns.get(id), log: this.env.log }, names);
    const children: UfsChild[] = [];
    for (const name of names) {
      if (!validUfsName(name)) continue;
      const st = await disk.stat(base === '' ? name : `${base}/${name}`);
      if (st) children.push({ name, isDir: st.isDir, length: st.isDir ? 0 : st.size, mtimeMs: st.mtimeMs });
    }
    return children;
  }

  /**
   * How a loaded directory differs from its UFS listing: entries gone from the UFS,
   * new there, or files whose fingerprint changed behind strata's back. Entries
   * strata is still writing, mount points, and directories holding one are strata's own.
   */
  private diffWithUfs(dir: Inode, ufs: readonly UfsChild[]): { remove: string[]; add: UfsChild[] } {
    const remove: string[] = [];
    const add: UfsChild[] = [];
    const inUfs = new Map(ufs.map((c) => [c.name, c]));
    for (const child of this.ns.children(dir)) {
      if (!child.persisted || !child.completed || child.mountId !== undefined || (child.isDir && this.ns.containsMountPoint(child))) continue;
      const u = inUfs.get(child.name);
      if (!u) remove.push(child.name);
      else if (u.isDir !== child.isDir || (!u.isDir && (u.length !== child.length || Math.abs(u.mtimeMs - child.mtimeMs) >= 1))) {
        remove.push(child.name);
        add.push(u);
      }
    }
    for (const u of ufs) if (!dir.children!.has(u.name)) add.push(u);
    return { remove, add };
  }

  /** Brings a directory in line with the UFS (metadata sync); returns the paths that changed. */
  private async syncDir(dir: Inode): Promise<string[]> {
    if (!dir.isDir || !dir.persisted) return [];
    if (!dir.childrenLoaded) {
      await this.loadChildren(dir);
      return [];
    }
    const listing = await this.listUfs(dir);
    return this.exclusive(async () => {
      if (!this.ns.get(dir.id)) return [];
      const { remove, add } = this.diffWithUfs(dir, listing);
      this.lastSync.set(dir.id, this.env.now());
      if (remove.length === 0 && add.length === 0) return [];
      const dropped = remove.flatMap((n) => {
        const c = this.ns.child(dir, n);
        return c ? this.ns.blockIdsUnder(c) : [];
      });
      await this.journalAndApply({ op: 'sync', dir: dir.id, remove, add, blockSize: this.opts.blockSize });
      this.removeBlocks(dropped);
      const base = this.ns.pathOf(dir);
      return [...new Set([...remove, ...add.map((a) => a.name)])].map((n) => (base === '/' ? `/${n}` : `${base}/${n}`));
    });
  }

  /** Syncs `dir` if the caller's interval says it is due (-1 never, 0 always, N ms). */
  private async syncIfDue(dir: Inode | undefined, intervalMs: number | undefined | null): Promise<void> {
    if (!dir || intervalMs == null || intervalMs < 0) return;
    const last = this.lastSync.get(dir.id);
    if (last !== undefined && this.env.now() - last <= intervalMs) return;
    await this.syncDir(dir);
  }

  /**
   * Syncs every directory on the way down to `path` that is due, as Alluxio syncs
   * each inode on a path: an entry new in the UFS several levels below a loaded
   * directory is found only if each directory above it is re-read. `self` adds
   * `path` itself when it is a directory (a listing). At most one UFS listing per
   * path component, and none for a directory synced within the interval.
   */
  private async syncPath(path: string, intervalMs: number | undefined | null, self: boolean): Promise<void> {
    if (intervalMs == null || intervalMs < 0) return;
    const parts = splitPath(path);
    let cur: Inode | undefined = this.ns.root();
    for (let i = 0; cur?.isDir && (i < parts.length || self); i++) {
      await this.syncIfDue(cur, intervalMs);
      if (i === parts.length) return;
      const dir: Inode | undefined = this.ns.get(cur.id);
      cur = dir && this.ns.child(dir, parts[i]!);
    }
  }

  /** Resolves a path, loading directories from the UFS on the way as the load type says. */
  private async resolve(path: string, load: LoadType = 'ONCE'): Promise<Inode> {
    let cur = this.ns.root();
    for (const part of splitPath(path)) {
      if (!cur.isDir) throw new StrataError('NOT_FOUND', `${path} does not exist (${this.ns.pathOf(cur)} is a file)`);
      if (load !== 'NEVER' && !cur.childrenLoaded) {
        await this.loadChildren(cur);
        // A metastore that evicts may hand out a fresh copy of the directory after the load.
        cur = this.ns.get(cur.id) ?? cur;
      }
      let next = this.ns.child(cur, part);
      if (!next && load === 'ALWAYS') next = await this.loadOne(cur, part);
      if (!next) throw new StrataError('NOT_FOUND', `${path} does not exist`);
      cur = next;
    }
    return cur;
  }

  private async resolveOrUndefined(path: string): Promise<Inode | undefined> {
    try {
      return await this.resolve(path);
    } catch (e) {
      if (e instanceof StrataError && e.code === 'NOT_FOUND') return undefined;
      throw e;
    }
  }

  private info(n: Inode, withBlocks: boolean): Infer<typeof M.FileInfo> {
    const blocks = withBlocks
      ? this.ns.blockIds(n).map((id, i) => ({ id, offset: i * n.blockSize, length: Math.min(n.blockSize, n.length - i * n.blockSize), locations: this.workers.locationsOf(id) }))
      : [];
    const ufs = this.ns.ufsLocation(n);
    return {
      fileId: n.id, path: this.ns.pathOf(n), name: n.name, isDir: n.isDir, length: n.length, mtimeMs: n.mtimeMs,
      blockSize: n.blockSize, completed: n.completed, persisted: n.persisted,
      ufsMount: ufs.mount.uri, ufsPath: ufs.path, owner: n.owner, group: n.group, mode: n.mode, pinned: n.pinned === true,
      ...(n.ttl ? { ttl: n.ttl.ms, ttlAction: n.ttl.action } : {}), blocks,
    };
  }

  private async getStatus(r: Req<typeof M.GetStatus>): Promise<Infer<typeof M.FileInfoReply>> {
    await this.journal.readBarrier();
    // A path's own entry lives in its parent's listing: that is what a sync re-reads.
    await this.syncPath(r.m.path, r.m.syncMs, false);
    const n = await this.resolve(r.m.path, r.m.load);
    const c = this.caller(r);
    this.traverse(c, n);
    if (r.m.forRead && !n.isDir) this.allow(c, n, READ);
    return { t: 'FileInfoReply', info: this.info(n, true) };
  }

  /** For workers only: the UFS location they read through from or write to (clients never name one). */
  private async ufsLocation(r: Req<typeof W.GetUfsLocation>): Promise<Infer<typeof W.UfsLocation>> {
    await this.journal.readBarrier();
    if (!this.workers.infos().some((w) => w.id === r.f)) throw new StrataError('UNAVAILABLE', `${r.f} is not a registered worker here`);
    const n = this.ns.get(r.m.fileId);
    if (!n || n.isDir) throw new StrataError('NOT_FOUND', `file ${r.m.fileId} does not exist`);
    if (r.m.write && n.completed) throw new StrataError('FAILED_PRECONDITION', `${this.ns.pathOf(n)} is complete: it is not being written`);
    if (!r.m.write && !n.completed) throw new StrataError('FAILED_PRECONDITION', `${this.ns.pathOf(n)} is still being written`);
    const ufs = this.ufsOf(n);
    if (r.m.write && ufs.readOnly) throw new StrataError('PERMISSION_DENIED', `${this.ns.pathOf(n)} is under a read-only mount`);
    return { t: 'UfsLocation', ufsMount: ufs.uri, ufsPath: ufs.path, blockSize: n.blockSize, length: n.length, mtimeMs: n.mtimeMs, persisted: n.persisted };
  }

  private async listStatus(r: Req<typeof M.ListStatus>): Promise<Infer<typeof M.ListStatusReply>> {
    await this.journal.readBarrier();
    await this.syncPath(r.m.path, r.m.syncMs, true);
    const load = r.m.load ?? 'ONCE';
    const n = await this.resolve(r.m.path, load);
    const c = this.caller(r);
    this.traverse(c, n);
    if (!n.isDir) return { t: 'ListStatusReply', entries: [this.info(n, true)] };
    this.allow(c, n, READ);
    if (load === 'ALWAYS' && n.childrenLoaded) await this.loadNew(n);
    else if (load !== 'NEVER') await this.loadChildren(n);
    const dir = this.ns.get(n.id) ?? n;
    return { t: 'ListStatusReply', entries: (await this.ns.listChildren(dir)).map((c) => this.info(c, true)) };
  }

  private async createDirectory(r: Req<typeof M.CreateDirectory>): Promise<Message> {
    const parts = splitPath(r.m.path);
    if (parts.length === 0) {
      if (r.m.recursive) return { t: 'Ok' };
      throw new StrataError('ALREADY_EXISTS', '/ already exists');
    }
    // Load what the UFS already has on the way down before deciding what is missing.
    if (!this.loadedDir(parts.slice(0, -1))) await this.resolveOrUndefined(r.m.path);
    const req = this.reqOf(r);
    const c = this.caller(r);
    const ok: Message = { t: 'Ok' };
    return this.pipelined(async (): Promise<Step<Message>> => {
      const retry = req && this.pending.conflict([requestKey(req)]);
      if (retry) return { wait: retry };
      if (this.applied(req) !== undefined) return { result: ok };
      let cur = this.ns.root();
      for (let i = 0; i < parts.length; i++) {
        const name = parts[i]!;
        const key = nameKey(cur.id, name);
        const busy = this.pending.conflict([key]);
        if (busy) return { wait: busy };
        const existing = this.ns.child(cur, name);
        const last = i === parts.length - 1;
        if (existing) {
          if (!existing.isDir) throw new StrataError('ALREADY_EXISTS', `${this.ns.pathOf(existing)} exists and is a file`);
          if (last && !r.m.recursive) throw new StrataError('ALREADY_EXISTS', `${r.m.path} already exists`);
          if (!last) this.allow(c, existing, EXECUTE);
          cur = existing;
          continue;
        }
        if (!last && !r.m.recursive) throw new StrataError('NOT_FOUND', `parent ${this.ns.pathOf(cur)}/${name} does not exist (use recursive)`);
        this.writable(cur, r.m.path);
        this.allow(c, cur, WRITE | EXECUTE);
        const parentUfs = this.ufsOf(cur);
        const ufsPath = parentUfs.path === '' ? name : `${parentUfs.path}/${name}`;
        const entry: JournalEntry = { op: 'mkdir', parent: cur.id, name, mtimeMs: this.env.now(), ...this.ownership(c, true), ...(last && req ? { req } : {}) };
        if (!last) {
          // A parent's id is assigned when its entry applies, and the child's entry names it.
          await parentUfs.disk.mkdir(ufsPath);
          cur = (await this.journalAndApply(entry))!;
          continue;
        }
        // The UFS directory first (a crash before the entry leaves only an empty
        // directory that a sync imports), and both outside the lock.
        return {
          done: this.pending.start([key, ...(req ? [requestKey(req)] : [])], async () => {
            await parentUfs.disk.mkdir(ufsPath);
            await this.journalAndApply(entry);
            return ok;
          }),
        };
      }
      return { result: ok };
    });
  }

  private async createFile(r: Req<typeof M.CreateFile>): Promise<Infer<typeof M.FileInfoReply>> {
    const parts = splitPath(r.m.path);
    if (parts.length === 0) throw new StrataError('INVALID_ARGUMENT', 'cannot create a file at /');
    const parentPath = '/' + parts.slice(0, -1).join('/');
    const req = this.reqOf(r);
    const prior = this.applied(req);
    if (prior !== undefined) return this.retriedInfo(prior, r.m.path);
    if (!this.loadedDir(parts.slice(0, -1))) {
      await this.createDirectory({ ...r, m: { t: 'CreateDirectory', path: parentPath, recursive: true } });
      await this.loadChildren(await this.resolve(parentPath));
    }
    const name = parts[parts.length - 1]!;
    const c = this.caller(r);
    const inode = await this.pipelined(async (): Promise<Step<Inode | Infer<typeof M.FileInfoReply>>> => {
      const retry = req && this.pending.conflict([requestKey(req)]);
      if (retry) return { wait: retry };
      const again = this.applied(req);
      if (again !== undefined) return { result: this.ns.get(again) ?? this.retriedInfo(again, r.m.path) };
      const parent = this.existing(parentPath);
      if (!parent.isDir || !parent.childrenLoaded) throw new StrataError('UNAVAILABLE', `${parentPath} changed while ${r.m.path} was being created; try again`);
      const key = nameKey(parent.id, name);
      const busy = this.pending.conflict([key]);
      if (busy) return { wait: busy };
      this.writable(parent, r.m.path);
      this.traverse(c, parent);
      this.allow(c, parent, WRITE | EXECUTE);
      const entry: JournalEntry = { op: 'create', parent: parent.id, name, blockSize: r.m.blockSize ?? this.opts.blockSize, mtimeMs: this.env.now(), ...this.ownership(c, false), ...(req ? { req } : {}) };
      const existing = this.ns.child(parent, name);
      if (!existing) return { done: this.pending.start([key, ...(req ? [requestKey(req)] : [])], async () => (await this.journalAndApply(entry))!) };
      if (existing.isDir) throw new StrataError('ALREADY_EXISTS', `${r.m.path} is a directory`);
      if (!r.m.overwrite) throw new StrataError('ALREADY_EXISTS', `${r.m.path} already exists`);
      // Replacing a file is rare: both entries commit under the lock.
      const replaced = this.ns.blockIds(existing);
      if (!existing.completed) {
        const eu = this.ufsOf(existing);
        await this.removeTemp(eu.disk, ufsTempPath(eu.path, existing.id));
      }
      await this.journalAndApply({ op: 'delete', id: existing.id });
      this.removeBlocks(replaced);
      return { result: (await this.journalAndApply(entry))! };
    });
    // A retry that raced its own first attempt is answered from what that attempt made.
    if ('t' in inode) return inode;
    return { t: 'FileInfoReply', info: this.info(inode, false) };
  }

  /** The directory at `parts` if it and every directory above it are already loaded from the UFS (the fast path of a create). */
  private loadedDir(parts: readonly string[]): Inode | undefined {
    let cur = this.ns.root();
    for (const part of parts) {
      if (!cur.isDir || !cur.childrenLoaded) return undefined;
      const next = this.ns.child(cur, part);
      if (!next) return undefined;
      cur = next;
    }
    return cur.isDir && cur.childrenLoaded ? cur : undefined;
  }

  private async completeFile(r: Req<typeof M.CompleteFile>): Promise<Infer<typeof M.FileInfoReply>> {
    const req = this.reqOf(r);
    const prior = this.applied(req);
    if (prior !== undefined) return this.retriedInfo(prior, r.m.path);
    await this.resolve(r.m.path);
    const c = this.caller(r);
    if (r.m.persisted !== false) return { t: 'FileInfoReply', info: this.info(await this.exclusive(() => this.publish(r, c, req)), true) };
    const done = await this.pipelined(async (): Promise<Step<Inode>> => {
      const retry = req && this.pending.conflict([requestKey(req)]);
      if (retry) return { wait: retry };
      const again = this.applied(req);
      if (again !== undefined) return { result: this.ns.get(again) ?? this.existing(r.m.path) };
      const f = this.existing(r.m.path);
      // Held by the file's name: a create that would replace the file, or another completion, waits.
      const key = nameKey(f.parent, f.name);
      const busy = this.pending.conflict([key]);
      if (busy) return { wait: busy };
      this.completable(f, r, c);
      this.unpersisted.checkCompletable(f.id, r.m.path);
      const keys = [key, ...(req ? [requestKey(req)] : [])];
      const entry: JournalEntry = { op: 'complete', id: f.id, length: r.m.length, mtimeMs: this.env.now(), persisted: false, ...(r.m.asyncPersist ? { asyncPersist: true } : {}), ...(req ? { req } : {}) };
      return { done: this.pending.start(keys, async () => (await this.journalAndApply(entry))!) };
    });
    return { t: 'FileInfoReply', info: this.info(done, true) };
  }

  /** Throws unless `f` is the file the request is completing, still being written, and the caller may write it. */
  private completable(f: Inode, r: Req<typeof M.CompleteFile>, c: Caller): void {
    if (f.isDir) throw new StrataError('INVALID_ARGUMENT', `${r.m.path} is a directory`);
    if (r.m.fileId != null && f.id !== r.m.fileId) throw new StrataError('FAILED_PRECONDITION', `${r.m.path} was replaced while it was being written`);
    this.traverse(c, f);
    this.allow(c, f, WRITE);
    if (f.completed) throw new StrataError('FAILED_PRECONDITION', `${r.m.path} is already complete`);
  }

  /**
   * Completes a file written through to the UFS: its temporary UFS file is renamed
   * into place, then the completion journaled with the published file's fingerprint.
   * Under the lock, so no delete, rename or replacement of the file interleaves.
   * A crash between the two leaves the file incomplete (its write unacknowledged).
   */
  private async publish(r: Req<typeof M.CompleteFile>, c: Caller, req: { c: string; r: number } | undefined): Promise<Inode> {
    const again = this.applied(req);
    if (again !== undefined) return this.ns.get(again) ?? this.existing(r.m.path);
    const f = this.existing(r.m.path);
    const fu = this.ufsOf(f);
    if (r.m.fileId != null && f.id !== r.m.fileId) await this.removeTemp(fu.disk, ufsTempPath(fu.path, r.m.fileId));
    this.completable(f, r, c);
    const tmp = ufsTempPath(fu.path, f.id);
    const st = await fu.disk.stat(tmp);
    if (!st || st.isDir) throw new StrataError('FAILED_PRECONDITION', `${r.m.path} was not written to the UFS`);
    if (st.size !== r.m.length) {
      await this.removeTemp(fu.disk, tmp);
      throw new StrataError('FAILED_PRECONDITION', `${r.m.path}: the UFS holds ${st.size} bytes, the client wrote ${r.m.length}`);
    }
    try {
      await fu.disk.rename(tmp, fu.path);
    } catch (e) {
      throw new StrataError('UNAVAILABLE', `the UFS could not publish ${r.m.path} (${tmp} to ${fu.path}): ${(e as Error).message}`);
    }
    const published = await fu.disk.stat(fu.path);
    if (!published || published.size !== r.m.length) throw new StrataError('FAILED_PRECONDITION', `${r.m.path} changed in the UFS as it was published`);
    return (await this.journalAndApply({ op: 'complete', id: f.id, length: r.m.length, mtimeMs: published.mtimeMs, ...(req ? { req } : {}) }))!;
  }

  /** A temporary write file that will never be published: gone already is fine. */
  private async removeTemp(disk: Disk, tmp: string): Promise<void> {
    await disk.remove(tmp).catch((e: unknown) => this.env.log.log('warn', `could not remove the unpublished write ${tmp}: ${(e as Error).message}`));
  }

  private async removeFromUfs(uri: string, ufsPath: string): Promise<void> {
    try {
      await this.ufsDisk(uri).remove(ufsPath);
    } catch (e) {
      this.env.log.log('warn', `deleted ${ufsPath} from the namespace but not from the UFS ${uri}: ${(e as Error).message}`);
    }
  }

  /** Idempotent: a rename the UFS already shows (source gone, target there) is done. */
  private async renameInUfs(uri: string, from: string, to: string): Promise<void> {
    const disk = this.ufsDisk(uri);
    if ((await disk.stat(from)) === null && (await disk.stat(to)) !== null) return;
    await disk.rename(from, to);
  }

  /**
   * Finishes the UFS side of the last journaled change: the changes that touch
   * the UFS after journaling (delete, rename) run alone under the lock, with no
   * pipelined change pending and none able to start, so only the last entry can
   * have been cut short by a crash (a pipelined mkdir touches the UFS first).
   */
  private async redoUfs(last: JournalEntry | undefined): Promise<void> {
    if (last?.op === 'delete' && last.ufsPath !== undefined) await this.removeFromUfs(last.ufsUri ?? this.opts.rootUfs, last.ufsPath);
    if (last?.op === 'rename' && last.fromUfs !== undefined && last.toUfs !== undefined) {
      await this.renameInUfs(last.ufsUri ?? this.opts.rootUfs, last.fromUfs, last.toUfs).catch((e: unknown) => this.env.log.log('warn', `could not finish renaming ${last.fromUfs} to ${last.toUfs} in the UFS: ${(e as Error).message}`));
    }
  }

  // ---- permissions ----

  private caller(r: Envelope): Caller {
    return { user: r.u ?? 'anonymous', groups: r.g ?? [] };
  }

  /** Execute on every directory above `n`: what it takes to reach it. */
  private traverse(c: Caller, n: Inode): void {
    if (isSuper(this.policy, c)) return;
    const chain: Inode[] = [];
    for (let cur = this.ns.get(n.parent); cur && n.id !== ROOT_ID; cur = cur.id === ROOT_ID ? undefined : this.ns.get(cur.parent)) chain.push(cur);
    for (const d of chain.reverse()) check(this.policy, c, d, EXECUTE, () => this.ns.pathOf(d));
  }

  private allow(c: Caller, n: Inode, bits: number): void {
    check(this.policy, c, n, bits, () => this.ns.pathOf(n));
  }

  /** What a caller's new inode gets: its owner, primary group, and the default mode less the umask. */
  private ownership(c: Caller, isDir: boolean): { owner: string; group: string; mode: number } {
    return { owner: c.user, group: c.groups[0] ?? c.user, mode: (isDir ? 0o777 : 0o666) & ~this.policy.umask };
  }

  /** The request a mutation completes, for the sessions that answer its retries. */
  private reqOf(r: Envelope<{ t: string; rid?: number | undefined }>): { c: string; r: number } | undefined {
    return r.m.rid === undefined || r.m.rid === null ? undefined : { c: r.f, r: r.m.rid };
  }

  /** The inode a retried request already created or changed (0 for none), if it was applied. */
  private applied(req: { c: string; r: number } | undefined): number | undefined {
    return req ? this.ns.sessions.lookup(req.c, req.r) : undefined;
  }

  private retriedInfo(id: number, path: string): Infer<typeof M.FileInfoReply> {
    const n = this.ns.get(id);
    if (!n) throw new StrataError('NOT_FOUND', `${path} was created by this request, then removed by another`);
    return { t: 'FileInfoReply', info: this.info(n, true) };
  }

  /**
   * Looks a path up again inside the lock: between resolving it (which may load
   * from the UFS) and taking the lock, another request may have moved or removed it.
   */
  private existing(path: string): Inode {
    const n = this.ns.lookup(path);
    if (!n) throw new StrataError('NOT_FOUND', `${path} does not exist`);
    return n;
  }

  private async delete(r: Req<typeof M.Delete>): Promise<Message> {
    const req = this.reqOf(r);
    if (this.applied(req) !== undefined) return { t: 'Ok' };
    const first = await this.resolve(r.m.path);
    if (first.id === ROOT_ID) throw new StrataError('INVALID_ARGUMENT', 'cannot delete /');
    if (first.isDir) await this.loadChildren(first);
    await this.exclusive(async () => {
      if (this.applied(req) !== undefined) return;
      const n = this.existing(r.m.path);
      if (n.isDir && !n.childrenLoaded) throw new StrataError('UNAVAILABLE', `${r.m.path} changed while it was being deleted; try again`);
      if (n.isDir && (n.children?.size ?? 0) > 0 && !r.m.recursive) throw new StrataError('FAILED_PRECONDITION', `${r.m.path} is a non-empty directory (use recursive)`);
      if (n.mountId !== undefined) throw new StrataError('FAILED_PRECONDITION', `${r.m.path} is a mount point; unmount it instead`);
      if (n.isDir && this.ns.containsMountPoint(n)) throw new StrataError('FAILED_PRECONDITION', `${r.m.path} contains a mount point; unmount it first`);
      // Only a delete that reaches the UFS needs it writable.
      if (!r.m.strataOnly) this.writable(n, r.m.path);
      const c = this.caller(r);
      this.traverse(c, n);
      this.allow(c, this.ns.get(n.parent)!, WRITE | EXECUTE);
      // Emptying a directory takes write and execute on it, all the way down.
      const dirs = (d: Inode): void => {
        if (!d.isDir || (d.children?.size ?? 0) === 0) return;
        this.allow(c, d, WRITE | EXECUTE);
        for (const child of this.ns.children(d)) dirs(child);
      };
      dirs(n);
      const blocks = this.ns.blockIdsUnder(n);
      if (r.m.strataOnly) {
        await this.journalAndApply({ op: 'delete', id: n.id, strataOnly: true, ...(req ? { req } : {}) });
        this.removeBlocks(blocks);
        return;
      }
      if (!r.m.unchecked) {
        const unknown = await this.unknownInUfs(n);
        if (unknown.length > 0) {
          throw new StrataError('FAILED_PRECONDITION', `${r.m.path} is not in sync with the UFS, which also holds ${unknown.slice(0, 3).join(', ')}${unknown.length > 3 ? ` and ${unknown.length - 3} more` : ''}; load them first (fs loadMetadata) or delete unchecked (rm -U)`);
        }
      }
      const ufs = this.ufsOf(n);
      // Journal first, UFS second: once journaled the delete has happened; a crash
      // before the UFS removal is finished by redoing it at the next start.
      await this.journalAndApply({ op: 'delete', id: n.id, ufsUri: ufs.uri, ufsPath: ufs.path, ...(req ? { req } : {}) });
      this.removeBlocks(blocks);
      await this.removeFromUfs(ufs.uri, ufs.path);
      // A file still being written: what its writer has put in the UFS so far goes too.
      if (!n.isDir && !n.completed) await this.removeTemp(ufs.disk, ufsTempPath(ufs.path, n.id));
    });
    return { t: 'Ok' };
  }

  /**
   * What the UFS holds under `n` that strata does not know, in the directories
   * strata has listed: a recursive UFS delete would remove it unseen. (A directory
   * never listed is, to strata, whatever the UFS holds.)
   */
  private async unknownInUfs(n: Inode): Promise<string[]> {
    const unknown: string[] = [];
    const walk = async (d: Inode): Promise<void> => {
      if (!d.isDir || !d.persisted || !d.childrenLoaded) return;
      const base = this.ns.pathOf(d);
      for (const u of await this.listUfs(d)) if (!d.children!.has(u.name)) unknown.push(joinPath(base, u.name));
      for (const child of this.ns.children(d)) await walk(child);
    };
    await walk(n);
    return unknown;
  }

  private async rename(r: Req<typeof M.Rename>): Promise<Message> {
    const req = this.reqOf(r);
    if (this.applied(req) !== undefined) return { t: 'Ok' };
    const first = await this.resolve(r.m.src);
    if (first.id === ROOT_ID) throw new StrataError('INVALID_ARGUMENT', 'cannot rename /');
    const parts = splitPath(r.m.dst);
    if (parts.length === 0) throw new StrataError('ALREADY_EXISTS', '/ already exists');
    const dstParentPath = '/' + parts.slice(0, -1).join('/');
    const parent = await this.resolve(dstParentPath);
    if (!parent.isDir) throw new StrataError('INVALID_ARGUMENT', `${dstParentPath} is not a directory`);
    await this.loadChildren(parent);
    const name = parts[parts.length - 1]!;
    await this.exclusive(async () => {
      if (this.applied(req) !== undefined) return;
      const src = this.existing(r.m.src);
      const dstParent = this.existing(dstParentPath);
      if (!dstParent.isDir || !dstParent.childrenLoaded) throw new StrataError('UNAVAILABLE', `${dstParentPath} changed during the rename; try again`);
      if (this.ns.child(dstParent, name)) throw new StrataError('ALREADY_EXISTS', `${r.m.dst} already exists`);
      if (this.ns.isAncestor(src, dstParent)) throw new StrataError('INVALID_ARGUMENT', `cannot move ${r.m.src} into itself (${r.m.dst})`);
      if (!src.completed) throw new StrataError('FAILED_PRECONDITION', `${r.m.src} is still being written`);
      if (src.mountId !== undefined) throw new StrataError('FAILED_PRECONDITION', `${r.m.src} is a mount point; unmount and mount it again instead`);
      if (src.isDir && this.ns.containsMountPoint(src)) throw new StrataError('FAILED_PRECONDITION', `${r.m.src} contains a mount point`);
      const srcMount = this.ns.mountOf(src);
      if (srcMount !== this.ns.mountOf(dstParent)) throw new StrataError('INVALID_ARGUMENT', `cannot rename ${r.m.src} to ${r.m.dst}: a rename never crosses a mount point`);
      this.writable(src, r.m.src);
      const c = this.caller(r);
      this.traverse(c, src);
      this.traverse(c, dstParent);
      this.allow(c, this.ns.get(src.parent)!, WRITE | EXECUTE);
      this.allow(c, dstParent, WRITE | EXECUTE);
      const srcUfs = this.ufsOf(src);
      const dstUfs = this.ufsOf(dstParent);
      const from = srcUfs.path;
      const to = dstUfs.path === '' ? name : `${dstUfs.path}/${name}`;
      const uri = srcUfs.uri;
      const oldParent = src.parent;
      const oldName = src.name;
      // As for delete: journaled first, and a crash before the UFS rename is finished at the next start.
      await this.journalAndApply({ op: 'rename', id: src.id, parent: dstParent.id, name, mtimeMs: this.env.now(), ...(src.persisted ? { ufsUri: uri, fromUfs: from, toUfs: to } : {}), ...(req ? { req } : {}) });
      if (!src.persisted) return;
      try {
        await this.renameInUfs(uri, from, to);
      } catch (e) {
        // The UFS refused: put the namespace back so it keeps matching the UFS.
        await this.journalAndApply({ op: 'rename', id: src.id, parent: oldParent, name: oldName, mtimeMs: this.env.now(), ...(req ? { undo: req } : {}) });
        throw new StrataError('UNAVAILABLE', `the UFS could not rename ${from} to ${to}: ${(e as Error).message}`);
      }
    });
    return { t: 'Ok' };
  }

  private async setAttribute(r: Req<typeof M.SetAttribute>): Promise<Message> {
    const req = this.reqOf(r);
    if (this.applied(req) !== undefined) return { t: 'Ok' };
    const first = await this.resolve(r.m.path);
    // A recursive change reaches what the UFS holds below, so load it first.
    const loadAll = async (n: Inode): Promise<void> => {
      if (!n.isDir || !r.m.recursive) return;
      await this.loadChildren(n);
      for (const child of this.ns.children(n)) await loadAll(child);
    };
    await loadAll(first);
    const c = this.caller(r);
    await this.exclusive(async () => {
      if (this.applied(req) !== undefined) return;
      const top = this.existing(r.m.path);
      this.traverse(c, top);
      const targets: Inode[] = [];
      const collect = (n: Inode) => {
        targets.push(n);
        if (r.m.recursive) for (const child of this.ns.children(n)) collect(child);
      };
      collect(top);
      for (const n of targets) {
        const path = this.ns.pathOf(n);
        if (r.m.owner !== undefined && r.m.owner !== null && !isSuper(this.policy, c)) {
          throw new StrataError('PERMISSION_DENIED', `only the superuser may change the owner of ${path}`);
        }
        if (r.m.pinned != null || r.m.ttl != null) this.allow(c, n, WRITE);
        if (((r.m.group ?? undefined) !== undefined || (r.m.mode ?? undefined) !== undefined) && !isSuper(this.policy, c) && n.owner !== c.user) {
          throw new StrataError('PERMISSION_DENIED', `only ${n.owner} (the owner) or the superuser may change ${path}`);
        }
        if (r.m.group !== undefined && r.m.group !== null && !isSuper(this.policy, c) && !c.groups.includes(r.m.group)) {
          throw new StrataError('PERMISSION_DENIED', `user ${c.user} is not in group ${r.m.group}`);
        }
      }
      for (const [i, n] of targets.entries()) {
        await this.journalAndApply({
          op: 'setAttr', id: n.id,
          ...(r.m.owner != null ? { owner: r.m.owner } : {}), ...(r.m.group != null ? { group: r.m.group } : {}), ...(r.m.mode != null ? { mode: r.m.mode } : {}),
          ...(r.m.pinned != null && !n.isDir ? { pinned: r.m.pinned } : {}),
          ...(r.m.ttl != null ? { ttl: r.m.ttl, ...(r.m.ttlAction != null ? { ttlAction: r.m.ttlAction } : {}) } : {}),
          ...(req && i === targets.length - 1 ? { req } : {}),
        });
      }
    });
    return { t: 'Ok' };
  }

  // ---- mounts ----

  private async mount(r: Req<typeof M.Mount>): Promise<Message> {
    const req = this.reqOf(r);
    if (this.applied(req) !== undefined) return { t: 'Ok' };
    const parts = splitPath(r.m.path);
    if (parts.length === 0) throw new StrataError('ALREADY_EXISTS', '/ is the root mount; change it with strata.master.mount.table.root.ufs');
    const parentPath = '/' + parts.slice(0, -1).join('/');
    const name = parts[parts.length - 1]!;
    // The overlap check below compares URIs as written: '.', '..' or an encoded separator could hide an overlap.
    const ufsSegments = r.m.ufsUri.replace(/^[a-z][a-z0-9+.-]*:\/\//i, '').split('/');
    if (ufsSegments.some((p) => escapingName(p) || /%2e/i.test(p))) {
      throw new StrataError('INVALID_ARGUMENT', `cannot mount ${r.m.ufsUri}: a UFS URI may not contain '.', '..' or encoded separators`);
    }
    await this.loadChildren(await this.resolve(parentPath));
    let disk: Disk;
    try {
      disk = this.ufsDisk(r.m.ufsUri);
    } catch (e) {
      throw new StrataError('INVALID_ARGUMENT', `cannot mount ${r.m.ufsUri}: ${(e as Error).message}`);
    }
    const root = await disk.stat('');
    if (!root || !root.isDir) throw new StrataError('NOT_FOUND', `cannot mount ${r.m.ufsUri}: it is not an existing directory`);
    await this.exclusive(async () => {
      if (this.applied(req) !== undefined) return;
      const parent = this.existing(parentPath);
      if (!parent.isDir) throw new StrataError('INVALID_ARGUMENT', `${parentPath} is not a directory`);
      const c = this.caller(r);
      this.traverse(c, parent);
      this.allow(c, parent, WRITE | EXECUTE);
      if (this.ns.child(parent, name)) throw new StrataError('ALREADY_EXISTS', `${r.m.path} already exists; a mount point must be a new path`);
      const norm = (u: string) => u.replace(/\/+$/, '');
      for (const m of this.ns.mountTable()) {
        const a = norm(m.uri);
        const b = norm(r.m.ufsUri);
        if (a === b || a.startsWith(b + '/') || b.startsWith(a + '/')) {
          throw new StrataError('INVALID_ARGUMENT', `${r.m.ufsUri} overlaps ${m.uri}, already mounted at ${this.ns.pathOf(this.ns.get(m.inode)!)}`);
        }
      }
      await this.journalAndApply({
        op: 'mount', parent: parent.id, name, uri: r.m.ufsUri, readOnly: r.m.readOnly, shared: r.m.shared,
        options: r.m.options, mtimeMs: this.env.now(), ...this.ownership(c, true), ...(req ? { req } : {}),
      });
    });
    return { t: 'Ok' };
  }

  private mountPoint(path: string, c: Caller): Inode {
    const n = this.existing(path);
    if (!isSuper(this.policy, c) && n.owner !== c.user) throw new StrataError('PERMISSION_DENIED', `only ${n.owner} (the mount point's owner) or the superuser may change the mount at ${path}`);
    if (n.mountId === undefined) throw new StrataError('INVALID_ARGUMENT', `${path} is not a mount point`);
    if (n.id === ROOT_ID) throw new StrataError('INVALID_ARGUMENT', 'the root mount cannot be changed here; set strata.master.mount.table.root.ufs');
    return n;
  }

  /**
   * A one-path mutation answered Ok: a retry already applied is answered at once;
   * otherwise the path is resolved (loading what it needs), then `change` runs
   * under the lock, where it is checked again.
   */
  private async simpleMutation(r: Envelope<{ t: string; path: string; rid?: number | undefined }>, change: (req: { c: string; r: number } | undefined) => Promise<void>): Promise<Message> {
    const req = this.reqOf(r);
    if (this.applied(req) !== undefined) return { t: 'Ok' };
    await this.resolve(r.m.path);
    await this.exclusive(async () => {
      if (this.applied(req) === undefined) await change(req);
    });
    return { t: 'Ok' };
  }

  private unmount(r: Req<typeof M.Unmount>): Promise<Message> {
    return this.simpleMutation(r, async (req) => {
      const n = this.mountPoint(r.m.path, this.caller(r));
      if (this.ns.containsMountPoint(n)) throw new StrataError('FAILED_PRECONDITION', `${r.m.path} contains another mount point; unmount that first`);
      const blocks = this.ns.blockIdsUnder(n);
      await this.journalAndApply({ op: 'unmount', id: n.id, ...(req ? { req } : {}) });
      this.removeBlocks(blocks);
    });
  }

  private updateMount(r: Req<typeof M.UpdateMount>): Promise<Message> {
    return this.simpleMutation(r, async (req) => {
      const n = this.mountPoint(r.m.path, this.caller(r));
      await this.journalAndApply({ op: 'updateMount', id: n.id, readOnly: r.m.readOnly, shared: r.m.shared, options: r.m.options, ...(req ? { req } : {}) });
    });
  }

  private mountTable(): Infer<typeof M.MountTableReply> {
    return {
      t: 'MountTableReply',
      mounts: this.ns.mountTable().map((m) => ({ path: this.ns.pathOf(this.ns.get(m.inode)!), ufsUri: m.uri, readOnly: m.readOnly, shared: m.shared, options: m.options })),
    };
  }

  private masterInfo(): Infer<typeof M.MasterInfoReply> {
    const raft = this.raftStatus;
    return {
      t: 'MasterInfoReply', masterId: this.env.self, rootUfs: this.opts.rootUfs, journalSeq: this.journal.lastSeq, inodes: this.ns.size,
      liveWorkers: this.workers.liveCount(), lostWorkers: this.workers.lostCount(), startedAtMs: this.startedAtMs, version: STRATA_VERSION,
      ...(raft ? { role: raft.role, term: raft.term, commit: raft.commit, voters: [...raft.voters], ...(raft.leader ? { leader: raft.leader } : {}) } : {}),
    };
  }

  // ---- free ----

  private async free(r: Req<typeof M.Free>): Promise<Message> {
    const top = await this.resolve(r.m.path);
    const c = this.caller(r);
    this.traverse(c, top);
    const files = this.ns.fileIdsUnder(top).map((id) => this.ns.get(id)!);
    for (const f of files) {
      // Freeing MUST_CACHE data would delete its only copy.
      if (!f.persisted) throw new StrataError('FAILED_PRECONDITION', `${this.ns.pathOf(f)} is not persisted; freeing it would lose it`);
      if (f.pinned && !r.m.force) throw new StrataError('FAILED_PRECONDITION', `${this.ns.pathOf(f)} is pinned; unpin it or use free -f`);
      this.allow(c, f, WRITE);
    }
    for (const f of files) this.removeBlocks(this.ns.blockIds(f));
    return { t: 'Ok' };
  }

  /**
   * Forgets where blocks are and has their holders drop them with their next
   * heartbeat reply: for `fs free`, and for the blocks of files that are gone
   * (deleted, replaced, changed in the UFS, unmounted), which would otherwise keep
   * their cache space until evicted. Only after the change is journaled.
   */
  private removeBlocks(blocks: readonly number[]): void {
    for (const block of blocks) {
      for (const loc of this.workers.locationsOf(block)) {
        let s = this.toFree.get(loc.workerId);
        if (!s) this.toFree.set(loc.workerId, (s = new Set()));
        s.add(block);
      }
    }
    this.workers.dropBlocks(blocks);
  }

  // ---- consistency with the UFS ----

  private async checkConsistency(r: Req<typeof M.CheckConsistency>): Promise<Infer<typeof M.ConsistencyReply>> {
    const top = await this.resolve(r.m.path);
    this.traverse(this.caller(r), top);
    const inconsistent: string[] = [];
    const walk = async (dir: Inode): Promise<void> => {
      if (!dir.isDir || !dir.childrenLoaded || !dir.persisted) return;
      // What a directory holds is for those who may list it (READ), repairing it for those who may change it.
      this.allow(this.caller(r), dir, r.m.repair ? READ | WRITE | EXECUTE : READ | EXECUTE);
      if (r.m.repair) {
        inconsistent.push(...(await this.syncDir(dir)));
      } else {
        const { remove, add } = this.diffWithUfs(dir, await this.listUfs(dir));
        const base = this.ns.pathOf(dir);
        for (const n of new Set([...remove, ...add.map((a) => a.name)])) inconsistent.push(base === '/' ? `/${n}` : `${base}/${n}`);
      }
      for (const child of this.ns.children(dir)) if (child.isDir && child.mountId === undefined) await walk(child);
    };
    if (top.isDir) await walk(top);
    else if (top.parent) {
      const parent = this.ns.get(top.parent)!;
      if (r.m.repair) this.allow(this.caller(r), parent, WRITE | EXECUTE);
      const u = (await this.listUfs(parent)).find((c) => c.name === top.name);
      if (!u || u.isDir || u.length !== top.length || Math.abs(u.mtimeMs - top.mtimeMs) >= 1) {
        inconsistent.push(r.m.path);
        if (r.m.repair) await this.syncDir(parent);
      }
    }
    return { t: 'ConsistencyReply', inconsistent: [...new Set(inconsistent)].sort() };
  }

  private async loadMetadata(r: Req<typeof M.LoadMetadata>): Promise<Message> {
    const top = await this.resolve(r.m.path);
    const c = this.caller(r);
    this.traverse(c, top);
    const walk = async (dir: Inode, depth: number): Promise<void> => {
      if (!dir.isDir) return;
      // Loading a directory's entries is listing it.
      this.allow(c, dir, READ | EXECUTE);
      await this.syncDir(dir);
      if (r.m.recursive) for (const child of this.ns.children(dir)) if (child.isDir && child.mountId === undefined) await walk(child, depth + 1);
    };
    await walk(top.isDir ? top : this.ns.get(top.parent)!, 0);
    return { t: 'Ok' };
  }

  // ---- backup, restore, checkpoint ----

  /** Starts from a backup, but only on an empty namespace: restoring over live state would lose it. */
  private async restoreBackup(data: Uint8Array): Promise<void> {
    if (this.ns.size > 1 || this.ns.mountTable().length > 1) {
      this.env.log.log('error', 'not restoring the backup: the journal is not empty (run `strata formatJournal` first)');
      throw new StrataError('FAILED_PRECONDITION', 'cannot restore a backup over an existing journal; run `strata formatJournal` first');
    }
    await this.journalAndApply({ op: 'restore', data });
    this.env.log.log('info', `restored a backup: ${this.ns.size} inodes`);
  }

  private async backup(r: Envelope): Promise<Infer<typeof M.BackupReply>> {
    this.superOnly(r, 'take a backup');
    await this.journal.readBarrier();
    // Under the lock no change is half done: the snapshot is one consistent point of the journal.
    return this.exclusive(async () => ({ t: 'BackupReply', masterId: this.env.self, seq: this.journal.lastSeq, inodes: this.ns.size, data: this.ns.snapshot() }));
  }

  private async checkpoint(r: Envelope): Promise<Infer<typeof M.CheckpointReply>> {
    this.superOnly(r, 'checkpoint the journal');
    if (!(this.journal instanceof RaftJournal) || !this.journal.raft) {
      throw new StrataError('FAILED_PRECONDITION', 'the UFS journal type has no checkpoints in this build; use the EMBEDDED journal or fsadmin backup');
    }
    return { t: 'CheckpointReply', index: await this.journal.raft.checkpoint() };
  }

  // ---- journal quorum administration ----

  private raft() {
    if (!(this.journal instanceof RaftJournal) || !this.journal.raft) throw new StrataError('FAILED_PRECONDITION', 'this master does not use the embedded journal');
    return this.journal.raft;
  }

  private superOnly(r: Envelope, what: string): void {
    const c = this.caller(r);
    if (!isSuper(this.policy, c)) throw new StrataError('PERMISSION_DENIED', `only the superuser may ${what} (user ${c.user} asked)`);
  }

  private transferLeadership(r: Req<typeof M.TransferLeadership>): Message {
    this.superOnly(r, 'move leadership');
    if (!this.raft().transferLeadership(r.m.to)) throw new StrataError('FAILED_PRECONDITION', `cannot hand leadership to ${r.m.to} now (not a voter, or a transfer is under way)`);
    return { t: 'Ok' };
  }

  private async changeMembers(r: Req<typeof M.RemoveMaster> | Req<typeof M.AddMaster>): Promise<Message> {
    this.superOnly(r, 'change the masters of the quorum');
    const voters = this.raft().status().voters;
    // Idempotent: a retried change that already took effect is done.
    if (r.m.t === 'RemoveMaster' ? !voters.includes(r.m.id) : voters.includes(r.m.id)) return { t: 'Ok' };
    if (r.m.t === 'RemoveMaster') await this.raft().removeServer(r.m.id);
    else await this.raft().addServer(r.m.id);
    return { t: 'Ok' };
  }
}

/** A UFS name that could not be a strata path component (or a dot entry, or a write or persist attempt not yet published) is never imported. */
function validUfsName(name: string): boolean {
  return !(escapingName(name) || name.includes('/') || name.includes('\\')) && strataTempOf(name) === undefined;
}
