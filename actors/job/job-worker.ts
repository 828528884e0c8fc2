// The job worker, hosted in each worker: runs the tasks the job master hands out.
// Load and replicate fill this worker's cache (from the UFS, or from a worker
// holding a file the UFS does not have); evict drops blocks here; persist writes
// a file's cached blocks to the UFS; copy and move go through a file system client
// acting as the job's user. Every task is idempotent, so running one twice (after
// a lost answer or a failover) leaves the same result.
import type { Env } from '../env.js';
import { StrataError, isStrataError, type Envelope } from '../protocol/envelope.js';
import type { Infer } from '../../transport/schema.js';
import type * as J from '../protocol/job.js';
import type { TaskFile } from '../protocol/job.js';
import type { Handler } from '../rpc.js';
import { StrataClient, type ClientOptions } from '../client/client.js';
import { blockIdOf } from '../block-id.js';

/** What a job worker needs of the worker hosting it. */
export interface JobWorkerHost {
  /** Reads a block from the UFS into this worker's cache (once, however many ask); the UFS file must match its fingerprint. */
  loadBlock(b: { blockId: number; ufsMount: string; ufsPath: string; fileOffset: number; blockLength: number; ufsLength: number; ufsMtimeMs: number }): Promise<void>;
  hasBlock(id: number): boolean;
  /** Caches a block read from another worker. */
  putBlock(id: number, data: Uint8Array): Promise<void>;
  dropBlock(id: number): Promise<void>;
  /** Writes a file's cached blocks to `ufsPath`, durably; stops (removing what it wrote) once `canceled` says so. */
  persistBlocks(m: { fileId: number; ufsMount: string; ufsPath: string; blocks: Array<{ id: number; length: number }> }, canceled: () => boolean): Promise<{ length: number; mtimeMs: number }>;
}

/** Where one attempt of a copy task writes before renaming into place: beside the target, named for the job, task and worker. */
export function copyTempName(dst: string, jobId: number, taskId: number, worker: string): string {
  return `${copyTempPrefix(dst, jobId)}${taskId}-${worker}`;
}

/** What every attempt's name for a target starts with: what the job master clears once the job is over. */
export function copyTempPrefix(dst: string, jobId: number): string {
  return `${dst}.strata-job-${jobId}-`;
}

type Req<S> = Envelope<Infer<S> & { t: string }>;
type ClientBase = Omit<ClientOptions, 'user' | 'groups' | 'writeType' | 'readType'>;

const blocksOf = (f: TaskFile) => Array.from({ length: f.blockSize > 0 ? Math.ceil(f.length / f.blockSize) : 0 }, (_, i) => ({
  id: blockIdOf(f.fileId, i), offset: i * f.blockSize, length: Math.min(f.blockSize, f.length - i * f.blockSize),
}));

/** Passive copies a worker makes at once; more requests meanwhile are dropped (the next remote read asks again). */
const MAX_PASSIVE_COPIES = 4;

export class JobWorker {
  private readonly running = new Map<string, { canceled: boolean; done: Promise<Infer<typeof J.TaskDone>> }>();
  /** One client per user the tasks act for (copy and move check that user's permissions). */
  private readonly clients = new Map<string, StrataClient>();
  /** Tasks this worker finished, for its metrics and tests. */
  readonly counters = { tasksDone: 0, tasksFailed: 0, tasksCanceled: 0, bytesLoaded: 0, blocksCachedPassively: 0 };
  /** Blocks being copied here for passive caching: one copy at a time each, and only a few at once. */
  private readonly caching = new Set<number>();

  constructor(
    private readonly env: Env,
    private readonly host: JobWorkerHost,
    private readonly clientBase: ClientBase,
  ) {}

  handlers(): Array<[string, Handler]> {
    return [
      ['RunTask', (r) => this.runTask(r as Req<typeof J.RunTask>)],
      ['CancelTask', (r) => this.cancelTask(r as Req<typeof J.CancelTask>)],
    ];
  }

  /** Takes the answers meant for this job worker's clients; false for anything else. */
  takes(envelope: Envelope): boolean {
    if (envelope.re === undefined) return false;
    for (const c of this.clients.values()) {
      if (c.expects(envelope)) {
        c.receive(envelope);
        return true;
      }
    }
    return false;
  }

  async stop(): Promise<void> {
    for (const r of this.running.values()) r.canceled = true;
    await Promise.all([...this.clients.values()].map((c) => c.stop()));
  }

  /**
   * Passive caching: copies one block that a client on this host just had streamed
   * from another host, reading it from a holder as the client's `user` (whose read
   * permission the master checks); the UFS is read only if every holder fails. Best effort: a block already
   * here, being copied, or with no holder left is skipped, and so is any request
   * beyond a few at once.
   */
  async cacheBlock(path: string, blockId: number, user: string): Promise<void> {
    if (this.host.hasBlock(blockId) || this.caching.has(blockId) || this.caching.size >= MAX_PASSIVE_COPIES) return;
    this.caching.add(blockId);
    try {
      const c = this.client(user);
      const info = await c.getStatus(path, true);
      const block = info.blocks.find((b) => b.id === blockId);
      if (!block || block.locations.length === 0 || block.locations.some((l) => l.workerId === this.env.self)) return;
      const data = new Uint8Array(block.length);
      let at = 0;
      await c.readRange(info, block.offset, block.length, (chunk) => {
        data.set(chunk, at);
        at += chunk.byteLength;
      });
      if (at !== block.length || this.host.hasBlock(blockId)) return;
      await this.host.putBlock(blockId, data);
      this.counters.blocksCachedPassively++;
    } finally {
      this.caching.delete(blockId);
    }
  }

  /** A client acting for `user`; copies keep their source's block size. */
  private client(user: string, blockSize = this.clientBase.blockSize): StrataClient {
    const k = `${user}/${blockSize}`;
    let c = this.clients.get(k);
    if (!c) {
      c = new StrataClient(this.env, { ...this.clientBase, user, blockSize, writeType: 'CACHE_THROUGH', readType: 'NO_CACHE' });
      this.clients.set(k, c);
    }
    return c;
  }

  /** Tasks name UFS paths to write: only a master may hand them out, never a client. */
  private fromMaster(r: Envelope): void {
    const masters = this.clientBase.masterIds ?? [this.clientBase.masterId];
    if (!masters.includes(r.f)) throw new StrataError('PERMISSION_DENIED', `only a master may run or cancel tasks on ${this.env.self}, not ${r.f}`);
  }

  private cancelTask(r: Req<typeof J.CancelTask>): void {
    this.fromMaster(r);
    const t = this.running.get(`${r.m.jobId}/${r.m.taskId}`);
    if (t) t.canceled = true;
  }

  /** A task already running here (the request came twice) is not started again: both get its answer. */
  private runTask(r: Req<typeof J.RunTask>): Promise<Infer<typeof J.TaskDone>> {
    this.fromMaster(r);
    const k = `${r.m.jobId}/${r.m.taskId}`;
    const running = this.running.get(k);
    if (running) return running.done;
    const flag = { canceled: false, done: Promise.resolve({ t: 'TaskDone', bytes: 0 } as Infer<typeof J.TaskDone>) };
    flag.done = this.execute(r.m, flag).finally(() => this.running.delete(k));
    this.running.set(k, flag);
    return flag.done;
  }

  private async execute(m: Infer<typeof J.RunTask>, flag: { canceled: boolean }): Promise<Infer<typeof J.TaskDone>> {
    const check = () => {
      if (flag.canceled) throw new StrataError('FAILED_PRECONDITION', `task ${m.taskId} of job ${m.jobId} was canceled`);
    };
    try {
      let bytes = 0;
      let mtimeMs: number | undefined;
      for (const f of m.files) {
        check();
        switch (m.kind) {
          case 'load':
          case 'replicate':
            await this.load(f, m.user, check);
            break;
          case 'evict':
            for (const b of blocksOf(f)) await this.host.dropBlock(b.id);
            break;
          case 'persist': {
            if (!m.persistTo) throw new StrataError('INVALID_ARGUMENT', 'a persist task needs persistTo');
            const done = await this.host.persistBlocks({ fileId: f.fileId, ufsMount: f.ufsMount, ufsPath: m.persistTo, blocks: blocksOf(f).map((b) => ({ id: b.id, length: b.length })) }, () => flag.canceled);
            mtimeMs = done.mtimeMs;
            break;
          }
          case 'copy':
          case 'move':
            await this.copy(f, m);
            break;
        }
        bytes += f.length;
      }
      this.counters.tasksDone++;
      return { t: 'TaskDone', bytes, ...(mtimeMs !== undefined ? { mtimeMs } : {}) };
    } catch (e) {
      if (flag.canceled) this.counters.tasksCanceled++;
      else this.counters.tasksFailed++;
      throw e;
    }
  }

  /** Brings every block of a file into this worker's cache. */
  private async load(f: TaskFile, user: string, check: () => void): Promise<void> {
    const blocks = blocksOf(f);
    if (blocks.every((b) => this.host.hasBlock(b.id))) return;
    if (f.persisted) {
      for (const b of blocks) {
        check();
        if (this.host.hasBlock(b.id)) continue;
        await this.host.loadBlock({ blockId: b.id, ufsMount: f.ufsMount, ufsPath: f.ufsPath, fileOffset: b.offset, blockLength: b.length, ufsLength: f.length, ufsMtimeMs: f.mtimeMs });
        this.counters.bytesLoaded += b.length;
      }
    } else {
      // Only workers hold it: read it from one of them and cache it here.
      const data = await this.client(user).readFile(f.path);
      if (data.byteLength !== f.length) throw new StrataError('FAILED_PRECONDITION', `${f.path} changed while it was being replicated`);
      for (const b of blocks) {
        check();
        await this.host.putBlock(b.id, data.subarray(b.offset, b.offset + b.length));
        this.counters.bytesLoaded += b.length;
      }
    }
    const missing = blocks.find((b) => !this.host.hasBlock(b.id));
    if (missing) throw new StrataError('RESOURCE_EXHAUSTED', `block ${missing.id} of ${f.path} does not fit in ${this.env.self}'s cache`);
  }

  /**
   * Copies a file to its target. The copy is written beside the target under a
   * name of this task and this worker, then renamed into place: another attempt
   * of the task (one that timed out but still runs elsewhere) writes its own
   * name, so two attempts never write one file; the first rename wins and the
   * loser drops its copy. A target already complete with the source's length is
   * an earlier attempt's (the plan refused existing targets). A move then
   * deletes the source.
   */
  private async copy(f: TaskFile, m: Infer<typeof J.RunTask>): Promise<void> {
    const c = this.client(m.user, f.blockSize || this.clientBase.blockSize);
    const dst = f.dst;
    if (!dst) throw new StrataError('INVALID_ARGUMENT', `no destination for ${f.path}`);
    const copied = async () => {
      const d = await c.getStatus(dst).catch((e: unknown) => {
        if (isStrataError(e, 'NOT_FOUND')) return undefined;
        throw e;
      });
      if (d && !(d.completed && d.length === f.length)) throw new StrataError('ALREADY_EXISTS', `${dst} exists and is not a copy of ${f.path}`);
      return d !== undefined;
    };
    if (!(await copied())) {
      const tmp = copyTempName(dst, m.jobId, m.taskId, this.env.self);
      const data = await c.readFile(f.path);
      try {
        await c.writeFile(tmp, data, { overwrite: true, writeType: m.writeType ?? 'CACHE_THROUGH' });
      } catch (e) {
        await this.discard(c, tmp);
        throw e;
      }
      try {
        await c.rename(tmp, dst);
      } catch (e) {
        if (!isStrataError(e, 'ALREADY_EXISTS')) throw e;
        // Another attempt got there first; its copy stands if it is whole.
        await c.delete(tmp);
        await copied();
      }
    }
    if (m.kind === 'move') {
      await c.delete(f.path).catch((e: unknown) => {
        // Already deleted by an earlier run of this task.
        if (!isStrataError(e, 'NOT_FOUND')) throw e;
      });
    }
  }

  /**
   * Drops a failed attempt's copy from the namespace and from the UFS: if the job
   * master cleared the name while this attempt was still writing, the bytes already
   * in the UFS belong to no file. The name is this worker's own for this task, so
   * nothing else can be at that UFS path.
   */
  private async discard(c: StrataClient, tmp: string): Promise<void> {
    try {
      await c.delete(tmp).catch((e: unknown) => {
        if (!isStrataError(e, 'NOT_FOUND')) throw e;
      });
      const cut = tmp.lastIndexOf('/');
      const dir = await c.getStatus(tmp.slice(0, cut) || '/');
      const name = tmp.slice(cut + 1);
      await this.env.openUfs(dir.ufsMount).remove(dir.ufsPath === '' ? name : `${dir.ufsPath}/${name}`);
    } catch (e) {
      this.env.log.log('warn', `could not remove ${tmp}, left by a failed copy: ${(e as Error).message}`);
    }
  }
}
