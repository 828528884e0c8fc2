// The job master, hosted by the leading master: turns requests into journaled jobs,
// hands their tasks to the job workers (in the workers), journals what finished,
// retries a task whose worker was lost or failed on another, cancels, keeps files
// within their replication targets, and persists ASYNC_THROUGH files.
import type { Disk, Env, Timer } from '../env.js';
import { StrataError, isStrataError, type Envelope, type Message } from '../protocol/envelope.js';
import type { Infer } from '../../transport/schema.js';
import type * as J from '../protocol/job.js';
import { JOB_STATUSES } from '../protocol/job.js';
import type { JobRequest, TaskFile } from '../protocol/job.js';
import type { Rpc, Handler } from '../rpc.js';
import type { Inode, JournalEntry, Namespace } from '../master/namespace.js';
import type { WorkerRegistry } from '../master/workers.js';
import { READ, WRITE } from '../master/permissions.js';
import { JobState, type Job, type JobEntry, type Task, type TaskFileRef, type TaskResult } from './state.js';
import { copyTempPrefix } from './job-worker.js';
import { DEFAULT_PERSISTENCE, PersistScheduler, persistTempName, type PersistenceOptions } from './persistence.js';
import { JobMetrics } from './job-metrics.js';
import { removeEmptySources } from './move-sources.js';
import { DEFAULT_ACTIVE_TASKS, copiesOf, copyTarget, pickWorker, planTasks, validateRequest, workerAllowed, type PlanFile } from './plans.js';

/** What the job master needs of the master hosting it. */
export interface JobMasterHost {
  readonly env: Env;
  readonly rpc: Rpc;
  readonly ns: Namespace;
  /** Runs a namespace change exclusively (the master's lock, once no pipelined change is pending): publishing a persisted file must not interleave with other changes. */
  readonly exclusive: <T>(change: () => Promise<T>) => Promise<T>;
  workers(): WorkerRegistry;
  /** Leader, and caught up with everything earlier leaders committed. */
  serving(): boolean;
  /** Journals an entry and applies it (namespace or job state) on every master. */
  journal(entry: JournalEntry): Promise<unknown>;
  /** Resolves a path, loading metadata from the UFS on the way; with `deep`, everything below it too. */
  resolve(path: string, deep: boolean): Promise<Inode>;
  /** Throws PERMISSION_DENIED unless the request's caller may reach `n` and has `bits` on it. */
  access(r: Envelope, n: Inode, bits: number): void;
  /** Whether the request's caller is the superuser (or in the supergroup). */
  isSuper(r: Envelope): boolean;
  ufsOf(n: Inode): { uri: string; path: string };
  ufsDisk(uri: string): Disk;
  /** Deletes a file as the superuser (an attempt's leftover copy). */
  remove(path: string): Promise<void>;
  /** The user the master acts as (persist jobs, replication). */
  readonly superuser: string;
}

export interface JobMasterOptions {
  /** How often the job master hands out tasks and journals results (default 100 ms). */
  tickMs?: number;
  /** strata.job.worker.threadpool.size: tasks one worker runs at once. */
  workerSlots?: number;
  /** strata.job.master.task.timeout: a task with no answer this long is tried elsewhere. */
  taskTimeoutMs?: number;
  /** strata.job.master.task.max.attempts: tries of one task (lost workers included) before it fails. */
  maxAttempts?: number;
  /** strata.job.master.job.capacity: finished jobs kept. */
  jobCapacity?: number;
  /** strata.master.replication.check.interval */
  replicationCheckMs?: number;
  /** strata.master.persistence.* (Alluxio's names): when ASYNC_THROUGH files are persisted and retried. */
  persistence?: Partial<PersistenceOptions>;
}

type Req<S> = Envelope<Infer<S> & Message>;

interface Flight {
  readonly job: number;
  readonly task: number;
  readonly worker: string;
  /** running: on a worker; reporting: answered, its result on the way to the journal. */
  phase: 'running' | 'reporting';
  readonly generation: number;
}


/** Task ids waiting for a worker; those before `head` were handed out. */
interface TaskQueue {
  ids: number[];
  head: number;
}

const key = (job: number, task: number) => `${job}/${task}`;
/**
 * Errors another worker would only repeat. NOT_FOUND is not one: a worker that
 * restarted mid-copy answers it for its lost stream; a deleted source is caught
 * before each attempt.
 */
const FINAL = new Set(['INVALID_ARGUMENT', 'PERMISSION_DENIED', 'ALREADY_EXISTS']);

export class JobMaster {
  readonly state: JobState;
  private readonly flights = new Map<string, Flight>();
  /** Per task: tries this leadership made, and workers that failed it. */
  private readonly tries = new Map<string, { attempts: number; failedOn: Set<string> }>();
  /** Per load batch (job/batch): workers holding or loading it, so replicas land on distinct workers. */
  private readonly claimed = new Map<string, Set<string>>();
  private readonly results = new Map<number, TaskResult[]>();
  private readonly flushing = new Set<number>();
  private readonly persistence: PersistScheduler;
  private readonly perWorker = new Map<string, number>();
  /** Copy and move jobs over whose attempts' leftover copies this leadership has cleared. */
  private readonly cleaned = new Set<number>();
  private readonly queues = new Map<number, TaskQueue>();
  /** Bumped when leadership is lost or gained: answers to an older generation's tasks are ignored. */
  private generation = 0;
  private wasServing = false;
  private turn = 0;
  private timer: Timer | undefined;
  private lastReplicationCheck = 0;
  /** The live workers as of the last tick: what a task finishing between ticks hands the next one to. */
  private live = new Map<string, { id: string; address: string }>();
  private lastPersistCheck = 0;
  private readonly o: Required<Omit<JobMasterOptions, 'persistence'>> & { persistence: PersistenceOptions };
  private readonly metrics: JobMetrics;

  constructor(
    private readonly host: JobMasterHost,
    opts: JobMasterOptions = {},
  ) {
    this.o = {
      tickMs: opts.tickMs ?? 100, workerSlots: opts.workerSlots ?? 10, taskTimeoutMs: opts.taskTimeoutMs ?? 600_000, maxAttempts: opts.maxAttempts ?? 5,
      jobCapacity: opts.jobCapacity ?? 100_000, replicationCheckMs: opts.replicationCheckMs ?? 60_000,
      persistence: { ...DEFAULT_PERSISTENCE, ...opts.persistence },
    };
    this.state = new JobState(this.o.jobCapacity);
    this.metrics = new JobMetrics(host.env);
    this.persistence = new PersistScheduler(host, this.o.persistence, {
      running: () => this.state.running(),
      reporting: (jobId) => [...this.flights.values()].some((f) => f.job === jobId && f.phase === 'reporting'),
      createPersist: (ref) => this.create({ kind: 'persist', path: ref.path }, this.host.superuser, [[ref]]),
      cancel: (job, reason) => this.cancel(job, reason),
    });
  }

  /** The job service's requests, for the master's handler table. */
  handlers(): Array<[string, Handler]> {
    return [
      ['SubmitJob', (r) => this.submit(r as Req<typeof J.SubmitJob>)],
      ['GetJob', (r) => this.getJob(r as Req<typeof J.GetJob>)],
      ['ListJobs', () => this.listJobs()],
      ['CancelJob', (r) => this.cancelRequest(r as Req<typeof J.CancelJob>)],
      ['SetReplication', (r) => this.setReplication(r as Req<typeof J.SetReplication>)],
      ['GetJobServiceReport', (r) => this.report(r as Req<typeof J.GetJobServiceReport>)],
    ];
  }

  start(): void {
    const tick = () => {
      this.tick();
      this.timer = this.host.env.setTimer(this.o.tickMs, tick);
    };
    this.timer = this.host.env.setTimer(this.o.tickMs, tick);
  }

  stop(): void {
    this.timer?.cancel();
  }

  apply(e: JobEntry): Job | undefined {
    // A retried submission applies to the job it already made: neither starts anything.
    const fresh = e.a === 'create' && !(e.req && this.state.jobOfRequest(e.req.c, e.req.r) !== undefined);
    const before = e.id !== undefined ? this.state.get(e.id)?.status : undefined;
    const job = this.state.apply(e);
    // Counted where the work is run: on the leader, not on followers applying the same entries.
    if (job && this.host.serving()) {
      if (fresh) this.metrics.started();
      if ((fresh || before === 'RUNNING') && job.status !== 'RUNNING') this.metrics.ended(job.status);
    }
    return job;
  }

  // ---- requests ----

  private async submit(r: Req<typeof J.SubmitJob>): Promise<Infer<typeof J.JobSubmitted>> {
    const req = r.m.job;
    validateRequest(req);
    const prior = r.m.rid != null ? this.state.jobOfRequest(r.f, r.m.rid) : undefined;
    if (prior !== undefined) return { t: 'JobSubmitted', jobId: prior };
    const top = await this.host.resolve(req.path, true);
    this.host.access(r, top, READ);
    let dstOf: (f: PlanFile) => string | undefined = () => undefined;
    if (req.kind === 'copy' || req.kind === 'move') dstOf = await this.copyPlan(r, req, top);
    if (req.kind === 'move' && top.parent) this.host.access(r, this.host.ns.get(top.parent)!, WRITE);
    const files = this.host.ns.fileIdsUnder(top).map((id) => this.host.ns.get(id)!).map((n): PlanFile => ({ id: n.id, path: this.host.ns.pathOf(n), length: n.length, completed: n.completed, persisted: n.persisted }));
    for (const f of files) if (req.kind === 'load' && !f.persisted && !this.held(f.id)) throw new StrataError('FAILED_PRECONDITION', `${f.path} is not persisted and no worker holds it: there is nothing to load it from`);
    const tasks = planTasks(req, files, dstOf);
    const job = await this.create(req, r.u ?? 'anonymous', tasks, r.m.rid != null ? { c: r.f, r: r.m.rid } : undefined);
    return { t: 'JobSubmitted', jobId: job.id };
  }

  /** Checks a copy's destination and returns where each file goes. */
  private async copyPlan(r: Envelope, req: JobRequest, top: Inode): Promise<(f: PlanFile) => string> {
    let dst = req.dst!;
    const existing = await this.host.resolve(dst, false).catch((e: unknown) => {
      if (isStrataError(e, 'NOT_FOUND')) return undefined;
      throw e;
    });
    if (existing?.isDir) dst = dst === '/' ? `/${top.name}` : `${dst}/${top.name}`;
    else if (existing) throw new StrataError('ALREADY_EXISTS', `${req.dst} already exists`);
    if (existing?.isDir) {
      this.host.access(r, existing, WRITE);
      if (this.host.ns.lookup(dst)) throw new StrataError('ALREADY_EXISTS', `${dst} already exists`);
    }
    const src = this.host.ns.pathOf(top);
    if (top.isDir && (dst === src || dst.startsWith(src === '/' ? '/' : `${src}/`))) throw new StrataError('INVALID_ARGUMENT', `cannot ${req.kind} ${src} into itself (${dst})`);
    return (f) => copyTarget(src, top.isDir, dst, f.path);
  }

  private async create(req: JobRequest, user: string, tasks: TaskFileRef[][], rq?: { c: string; r: number }): Promise<Job> {
    const opts = {
      ...(req.replication != null ? { replication: req.replication } : {}), ...(req.activeJobs != null ? { activeJobs: req.activeJobs } : {}),
      ...(req.hosts?.length ? { hosts: req.hosts } : {}), ...(req.excludedHosts?.length ? { excludedHosts: req.excludedHosts } : {}), ...(req.writeType ? { writeType: req.writeType } : {}),
    };
    const entry: JobEntry = {
      op: 'job', a: 'create', kind: req.kind, path: req.path, ...(req.dst ? { dst: req.dst } : {}), user, opts, tasks, mtimeMs: this.host.env.now(), ...(rq ? { req: rq } : {}),
    };
    const job = (await this.host.journal(entry)) as Job | undefined;
    if (!job) throw new StrataError('INTERNAL', 'the job entry applied without a job');
    this.host.env.log.log('info', `job ${job.id}: ${req.kind} ${req.path}${req.dst ? ` to ${req.dst}` : ''}, ${tasks.length} tasks`);
    return job;
  }

  private getJob(r: Req<typeof J.GetJob>): Infer<typeof J.JobInfoReply> {
    const job = this.state.get(r.m.jobId);
    if (!job) throw new StrataError('NOT_FOUND', `no job ${r.m.jobId}`);
    return { t: 'JobInfoReply', job: this.state.info(job, r.m.verbose, this.runningOf(job.id)) };
  }

  private listJobs(): Infer<typeof J.JobListReply> {
    return { t: 'JobListReply', jobs: this.state.all().map((j) => this.state.info(j, false)) };
  }

  private async cancelRequest(r: Req<typeof J.CancelJob>): Promise<Message> {
    const job = this.state.get(r.m.jobId);
    if (!job) throw new StrataError('NOT_FOUND', `no job ${r.m.jobId}`);
    const who = r.u ?? 'anonymous';
    if (who !== job.user && !this.host.isSuper(r)) throw new StrataError('PERMISSION_DENIED', `only ${job.user} (who started job ${job.id}) or the superuser may cancel it`);
    if (job.status !== 'RUNNING') return { t: 'Ok' };
    await this.cancel(job, `canceled by ${who}`);
    return { t: 'Ok' };
  }

  private async cancel(job: Job, reason: string): Promise<void> {
    await this.host.journal({ op: 'job', a: 'cancel', id: job.id, reason, mtimeMs: this.host.env.now() });
    // The tasks still running are told to stop; whatever they answer is ignored.
    for (const [k, f] of [...this.flights]) {
      if (f.job !== job.id) continue;
      this.host.rpc.send(f.worker, { t: 'CancelTask', jobId: f.job, taskId: f.task } satisfies Infer<typeof J.CancelTask>);
      this.land(k);
    }
    this.results.delete(job.id);
  }

  private async setReplication(r: Req<typeof J.SetReplication>): Promise<Message> {
    const min = r.m.min ?? 0;
    const max = r.m.max ?? -1;
    if (max >= 0 && min > max) throw new StrataError('INVALID_ARGUMENT', `--min ${min} is more than --max ${max}`);
    if (min > 64) throw new StrataError('INVALID_ARGUMENT', `--min must be at most 64, got ${min}`);
    const top = await this.host.resolve(r.m.path, r.m.recursive);
    if (top.isDir && !r.m.recursive) throw new StrataError('INVALID_ARGUMENT', `${r.m.path} is a directory (use -R)`);
    const files = this.host.ns.fileIdsUnder(top).map((id) => this.host.ns.get(id)!);
    for (const f of files) this.host.access(r, f, WRITE);
    await this.host.journal({ op: 'job', a: 'replication', files: files.map((f) => ({ id: f.id, min, max })), mtimeMs: this.host.env.now() });
    // Checked at the next tick rather than a whole interval later.
    this.lastReplicationCheck = 0;
    return { t: 'Ok' };
  }

  /** The leader's view for `fsadmin report jobservice`: jobs by status, tasks per job worker, the newest jobs and failures. */
  private report(r: Req<typeof J.GetJobServiceReport>): Infer<typeof J.JobServiceReport> {
    const all = this.state.all();
    const statuses = JOB_STATUSES.map((status) => ({ status, count: all.filter((j) => j.status === status).length }));
    const running = new Map<string, number>();
    for (const f of this.flights.values()) if (f.phase === 'running') running.set(f.worker, (running.get(f.worker) ?? 0) + 1);
    const workers = this.host.workers().infos().filter((w) => w.state === 'LIVE').sort((a, b) => (a.id < b.id ? -1 : 1))
      .map((w) => ({ id: w.id, address: w.address, running: running.get(w.id) ?? 0, slots: this.o.workerSlots }));
    const newest = all.sort((a, b) => b.id - a.id);
    const n = Math.min(r.m.recent, 10_000);
    return {
      t: 'JobServiceReport', master: this.host.env.self, statuses, workers,
      recent: newest.slice(0, n).map((j) => this.state.info(j, false)),
      failures: newest.filter((j) => j.status === 'FAILED').slice(0, n).map((j) => this.state.info(j, false)),
    };
  }

  private runningOf(jobId: number): Map<number, string> {
    const m = new Map<number, string>();
    for (const f of this.flights.values()) if (f.job === jobId) m.set(f.task, f.worker);
    return m;
  }

  // ---- scheduling ----

  private tick(): void {
    const serving = this.host.serving();
    if (serving !== this.wasServing) {
      // A new leadership starts from the journaled state alone.
      this.generation++;
      this.flights.clear();
      this.tries.clear();
      this.claimed.clear();
      this.results.clear();
      this.perWorker.clear();
      this.cleaned.clear();
      this.queues.clear();
      this.wasServing = serving;
    }
    if (!serving) return;
    const now = this.host.env.now();
    const running = this.state.running();
    // An idle job master (most ticks) does not even list the workers.
    const live = running.length > 0 || this.flights.size > 0 ? new Map(this.host.workers().infos().filter((w) => w.state === 'LIVE').map((w) => [w.id, w])) : this.live;
    this.live = live;
    // A task on a worker that is gone is tried on another.
    for (const [k, f] of [...this.flights]) {
      if (f.phase === 'running' && !live.has(f.worker)) {
        this.host.env.log.log('warn', `job ${f.job} task ${f.task}: ${f.worker} was lost; trying another worker`);
        this.retry(k, f, new StrataError('UNAVAILABLE', `${f.worker} was lost`));
      }
    }
    if (now - this.lastPersistCheck >= this.o.persistence.schedulerMs) {
      this.lastPersistCheck = now;
      void this.persistence.schedule(now).catch((e: unknown) => this.host.env.log.log('warn', `persistence scheduler: ${(e as Error).message}`));
    }
    if (now - this.lastReplicationCheck >= this.o.replicationCheckMs) {
      this.lastReplicationCheck = now;
      void this.checkReplication().catch((e: unknown) => this.host.env.log.log('warn', `replication checker: ${(e as Error).message}`));
    }
    for (const id of [...this.queues.keys()]) if (this.state.get(id)?.status !== 'RUNNING') this.forget(id);
    for (const job of running) this.dispatch(job, live);
    for (const jobId of [...this.results.keys()]) this.flush(jobId);
    for (const job of this.state.all()) {
      if ((job.kind !== 'copy' && job.kind !== 'move') || job.status === 'RUNNING' || this.cleaned.has(job.id)) continue;
      this.cleaned.add(job.id);
      void this.clearCopies(job);
    }
  }

  /**
   * Removes what attempts of a copy or move job left beside its targets (an
   * attempt that crashed, or lost the race to rename). Run before the job's last
   * tasks are journaled, and once per leadership for every job already over.
   */
  private async clearCopies(job: Job): Promise<void> {
    const byParent = new Map<string, Set<string>>();
    for (const t of job.tasks) {
      for (const f of t.files) {
        if (f.dst === undefined) continue;
        const cut = f.dst.lastIndexOf('/');
        const parent = f.dst.slice(0, cut) || '/';
        if (!byParent.has(parent)) byParent.set(parent, new Set());
        byParent.get(parent)!.add(copyTempPrefix(f.dst, job.id).slice(cut + 1));
      }
    }
    const marker = copyTempPrefix('', job.id);
    for (const [parent, prefixes] of byParent) {
      const dir = this.host.ns.lookup(parent);
      if (!dir?.children) continue;
      for (const name of [...dir.children.keys()]) {
        const at = name.indexOf(marker);
        if (at < 0 || !prefixes.has(name.slice(0, at + marker.length))) continue;
        const path = parent === '/' ? `/${name}` : `${parent}/${name}`;
        await this.host.remove(path).catch((e: unknown) => this.host.env.log.log('warn', `could not remove ${path}, left by job ${job.id}: ${(e as Error).message}`));
      }
    }
  }

  private dispatch(job: Job, live: Map<string, { id: string; address: string }>): void {
    let inFlight = 0;
    for (const f of this.flights.values()) if (f.job === job.id) inFlight++;
    const limit = job.opts.activeJobs ?? DEFAULT_ACTIVE_TASKS;
    const allowed = [...live.values()].filter((w) => workerAllowed(job.opts, w)).map((w) => w.id);
    const queue = this.queue(job);
    // Tasks that cannot be placed yet go to the back of the queue; each is looked at once per call.
    for (let left = queue.ids.length - queue.head; left > 0 && queue.head < queue.ids.length; left--) {
      // Every worker that may run this job is full: the rest waits for a slot.
      if (inFlight >= limit || allowed.every((w) => (this.perWorker.get(w) ?? 0) >= this.o.workerSlots)) break;
      const task = job.tasks[queue.ids[queue.head++]!];
      if (!task || task.state !== 'PENDING' || this.flights.has(key(job.id, task.id))) continue;
      const choice = this.chooseWorker(job, task, allowed);
      if (choice === 'done') {
        this.record(job.id, { task: task.id, ok: true, bytes: task.files.reduce((n, f) => n + f.length, 0) });
      } else if (choice === undefined) {
        queue.ids.push(task.id);
      } else {
        this.run(job, task, choice);
        inFlight++;
      }
    }
    // What was handed out is dropped now and then, not on every call (that would copy the whole queue each time).
    if (queue.head > 1024 && queue.head * 2 > queue.ids.length) {
      queue.ids = queue.ids.slice(queue.head);
      queue.head = 0;
    }
  }

  /** Drops what this leadership kept in memory for a job that is over. */
  private forget(jobId: number): void {
    this.queues.delete(jobId);
    const prefix = `${jobId}/`;
    for (const k of [...this.tries.keys()]) if (k.startsWith(prefix)) this.tries.delete(k);
    for (const k of [...this.claimed.keys()]) if (k.startsWith(prefix)) this.claimed.delete(k);
  }

  /**
   * A job's tasks waiting for a worker, in order: built from the journaled state
   * when this leadership first dispatches the job, so handing out the next task
   * never rescans the finished ones.
   */
  private queue(job: Job): TaskQueue {
    let q = this.queues.get(job.id);
    if (!q) {
      q = { ids: job.tasks.filter((t) => t.state === 'PENDING' && !this.flights.has(key(job.id, t.id))).map((t) => t.id), head: 0 };
      this.queues.set(job.id, q);
    }
    return q;
  }

  /** The worker for a task now; 'done' when nothing is left to do (the copies it would make exist). */
  private chooseWorker(job: Job, task: Task, allowed: readonly string[]): string | 'done' | undefined {
    const failedOn = this.tries.get(key(job.id, task.id))?.failedOn;
    let candidates = allowed.filter((w) => !failedOn?.has(w));
    // Every allowed worker failed it once: any of them may try again.
    if (candidates.length === 0) candidates = [...allowed];
    const slots = (x: string) => this.perWorker.get(x) ?? 0;
    const holds = (w: string) => task.files.every((f) => this.holds(f.id, w));
    switch (job.kind) {
      case 'load': {
        // Replicas of one batch go to distinct workers; a batch with enough copies (held or loading) is done.
        const claimed = this.claimed.get(this.batchKey(job, task.id));
        const have = allowed.filter((w) => holds(w) || claimed?.has(w)).length;
        if (have >= copiesOf({ kind: 'load', replication: job.opts.replication }) || (allowed.length > 0 && have >= allowed.length)) return 'done';
        return pickWorker(candidates.filter((w) => !holds(w) && !claimed?.has(w)), slots, this.o.workerSlots, this.turn++);
      }
      case 'replicate': {
        const missing = candidates.filter((w) => !holds(w));
        if (missing.length === 0) return 'done';
        return pickWorker(missing.filter((w) => !this.busyWith(job.id, w)), slots, this.o.workerSlots, this.turn++);
      }
      case 'evict': {
        const holders = allowed.filter(holds);
        if (holders.length === 0) return 'done';
        return pickWorker(holders.filter((w) => !this.busyWith(job.id, w)), slots, this.o.workerSlots, this.turn++);
      }
      case 'persist': {
        // Persisting reads the cached blocks: a worker holding all of them, if any.
        const holders = candidates.filter(holds);
        return pickWorker(holders.length > 0 ? holders : candidates, slots, this.o.workerSlots, this.turn++);
      }
      default:
        return pickWorker(candidates, slots, this.o.workerSlots, this.turn++);
    }
  }

  private batchKey(job: Job, taskId: number): string {
    return `${job.id}/${Math.floor(taskId / copiesOf({ kind: job.kind, replication: job.opts.replication }))}`;
  }

  private busyWith(jobId: number, worker: string): boolean {
    for (const f of this.flights.values()) if (f.job === jobId && f.worker === worker) return true;
    return false;
  }

  /** Whether a worker holds every block of a file (as its heartbeats report). */
  private holds(fileId: number, worker: string): boolean {
    const f = this.host.ns.get(fileId);
    if (!f) return false;
    return this.host.ns.blockIds(f).every((b) => this.host.workers().locationsOf(b).some((l) => l.workerId === worker));
  }

  /** Whether some live worker holds every block of a file. */
  private held(fileId: number): boolean {
    return this.copies(fileId) > 0;
  }

  /** Live copies of a file: the fewest holders of any of its blocks. */
  private copies(fileId: number): number {
    const f = this.host.ns.get(fileId);
    if (!f) return 0;
    const blocks = this.host.ns.blockIds(f);
    if (blocks.length === 0) return 0;
    return Math.min(...blocks.map((b) => this.host.workers().locationsOf(b).length));
  }

  private taskFile(ref: TaskFileRef): TaskFile {
    const n = this.host.ns.get(ref.id);
    if (!n || n.isDir) throw new StrataError('NOT_FOUND', `${ref.path} no longer exists`);
    const u = this.host.ufsOf(n);
    return {
      path: this.host.ns.pathOf(n), fileId: n.id, length: n.length, blockSize: n.blockSize, persisted: n.persisted, ufsMount: u.uri, ufsPath: u.path, mtimeMs: n.mtimeMs,
      ...(ref.dst !== undefined ? { dst: ref.dst } : {}),
    };
  }

  private run(job: Job, task: Task, worker: string): void {
    const k = key(job.id, task.id);
    const flight: Flight = { job: job.id, task: task.id, worker, phase: 'running', generation: this.generation };
    let files: TaskFile[];
    try {
      files = task.files.map((f) => this.taskFile(f));
    } catch (e) {
      if (job.kind === 'persist') {
        void this.persistence.cancelDeleted(job);
        return;
      }
      // A file deleted since the plan: a copy has lost its source (a move too, unless
      // an earlier run of this task moved it); a load or persist has nothing left to do.
      const moved = job.kind === 'move' && task.files.every((f) => f.dst !== undefined && this.host.ns.lookup(f.dst)?.completed === true);
      const gone = (job.kind === 'copy' || job.kind === 'move') && !moved;
      this.record(job.id, gone ? { task: task.id, ok: false, bytes: 0, error: (e as Error).message } : { task: task.id, ok: true, bytes: 0 });
      return;
    }
    this.flights.set(k, flight);
    if (job.kind === 'load') {
      const b = this.batchKey(job, task.id);
      if (!this.claimed.has(b)) this.claimed.set(b, new Set());
      this.claimed.get(b)!.add(worker);
    }
    this.perWorker.set(worker, (this.perWorker.get(worker) ?? 0) + 1);
    this.metrics.taskRun();
    const persistTo = job.kind === 'persist' ? persistTempName(files[0]!, this.host.env.self, this.generation, worker, this.tries.get(k)?.attempts ?? 0) : undefined;
    const m: Infer<typeof J.RunTask> = {
      t: 'RunTask', jobId: job.id, taskId: task.id, kind: job.kind, user: job.user, files,
      ...(job.opts.writeType ? { writeType: job.opts.writeType } : {}), ...(persistTo ? { persistTo } : {}),
    };
    this.host.rpc
      .request<Infer<typeof J.TaskDone>>(worker, m, 'TaskDone', this.o.taskTimeoutMs)
      .then(async (done) => {
        if (!this.current(k, flight)) {
          // Canceled (or superseded) while the worker wrote: its finished copy belongs to no one.
          if (persistTo) await this.host.ufsDisk(files[0]!.ufsMount).remove(persistTo).catch(() => undefined);
          return;
        }
        if (job.kind === 'persist') await this.persistence.publish(files[0]!, persistTo!, done.mtimeMs ?? 0);
        if (!this.current(k, flight)) return;
        flight.phase = 'reporting';
        this.release(worker);
        // The worker now holds (or no longer holds) the files' blocks: known before its next heartbeat says so.
        const blocks = files.flatMap((f) => this.host.ns.get(f.fileId) ? this.host.ns.blockIds(this.host.ns.get(f.fileId)!) : []);
        if (job.kind === 'load' || job.kind === 'replicate') this.host.workers().report(worker, blocks, []);
        else if (job.kind === 'evict') this.host.workers().report(worker, [], blocks);
        this.record(job.id, { task: task.id, ok: true, bytes: done.bytes });
        // The freed slot takes the next task now rather than at the next tick.
        const now = this.state.get(job.id);
        if (now?.status === 'RUNNING') this.dispatch(now, this.live);
      })
      .catch((e: unknown) => {
        if (!this.current(k, flight)) return;
        if (job.kind === 'persist' && !this.host.ns.get(files[0]!.fileId)) {
          void this.persistence.cancelDeleted(job);
          return;
        }
        this.retry(k, flight, isStrataError(e) ? e : new StrataError('INTERNAL', String(e)));
      });
  }

  private current(k: string, f: Flight): boolean {
    return this.flights.get(k) === f && f.generation === this.generation;
  }

  private release(worker: string): void {
    this.perWorker.set(worker, Math.max(0, (this.perWorker.get(worker) ?? 1) - 1));
  }

  /** Ends a flight without a result: the task goes back to the queue. */
  private land(k: string): void {
    const f = this.flights.get(k);
    if (!f) return;
    this.flights.delete(k);
    if (f.phase === 'running') this.release(f.worker);
    this.queues.get(f.job)?.ids.push(f.task);
  }

  private retry(k: string, f: Flight, e: StrataError): void {
    const t = this.tries.get(k) ?? { attempts: 0, failedOn: new Set<string>() };
    this.tries.set(k, t);
    t.attempts++;
    t.failedOn.add(f.worker);
    const job = this.state.get(f.job);
    if (job) this.claimed.get(this.batchKey(job, f.task))?.delete(f.worker);
    this.land(k);
    if (FINAL.has(e.code) || t.attempts >= this.o.maxAttempts) {
      this.flights.set(k, { ...f, phase: 'reporting' });
      this.record(f.job, { task: f.task, ok: false, bytes: 0, error: `${e.code}: ${e.message}` });
    } else {
      this.metrics.taskRetried();
      this.host.env.log.log('info', `job ${f.job} task ${f.task} failed on ${f.worker} (attempt ${t.attempts}): ${e.message}`);
    }
  }

  private record(jobId: number, r: TaskResult): void {
    const k = key(jobId, r.task);
    if (!this.flights.has(k)) this.flights.set(k, { job: jobId, task: r.task, worker: '', phase: 'reporting', generation: this.generation });
    if (!r.ok) this.metrics.taskFailed();
    let list = this.results.get(jobId);
    if (!list) this.results.set(jobId, (list = []));
    list.push(r);
  }

  /** Journals a job's finished tasks in one entry; until it applies they count as in flight. */
  private flush(jobId: number): void {
    if (this.flushing.has(jobId)) return;
    const results = this.results.get(jobId);
    if (!results?.length) return;
    this.results.delete(jobId);
    this.flushing.add(jobId);
    const generation = this.generation;
    const job = this.state.get(jobId);
    // A copy's last results end the job: its leftovers go first, so a finished job leaves only its targets.
    const last = job !== undefined && (job.kind === 'copy' || job.kind === 'move') && job.open <= results.length;
    // A move whose every file moved leaves no empty source directories behind.
    const moved = last && job.kind === 'move' && results.every((r) => r.ok) && job.tasks.every((t) => t.state !== 'FAILED');
    void (last ? this.clearCopies(job).then(() => (moved ? removeEmptySources(this.host, job) : undefined)) : Promise.resolve())
      .then(() => this.host.journal({ op: 'job', a: 'progress', id: jobId, results, mtimeMs: this.host.env.now() }))
      .then(
        () => true,
        (e: unknown) => {
          this.host.env.log.log('warn', `journaling progress of job ${jobId} failed (its tasks will run again): ${(e as Error).message}`);
          return false;
        },
      )
      .then((journaled) => {
        this.flushing.delete(jobId);
        if (generation !== this.generation) return;
        for (const r of results) {
          this.flights.delete(key(jobId, r.task));
          if (!journaled) this.queues.get(jobId)?.ids.push(r.task);
        }
      });
  }

  // ---- replication ----

  /** Files under their minimum get a replicate job, over their maximum an evict job; deleted files are forgotten. */
  private async checkReplication(): Promise<void> {
    const busy = new Set<number>();
    for (const j of this.state.running()) if (j.kind === 'replicate' || j.kind === 'evict') for (const t of j.tasks) for (const f of t.files) busy.add(f.id);
    const gone: number[] = [];
    for (const [id, target] of [...this.state.replication]) {
      const f = this.host.ns.get(id);
      if (!f) {
        gone.push(id);
        continue;
      }
      if (!f.completed || f.length === 0 || busy.has(id)) continue;
      const have = this.copies(id);
      const ref: TaskFileRef = { id, path: this.host.ns.pathOf(f), length: f.length };
      if (have < target.min && (f.persisted || have > 0)) {
        await this.create({ kind: 'replicate', path: ref.path }, this.host.superuser, Array.from({ length: target.min - have }, () => [ref]));
      } else if (target.max >= 0 && have > target.max) {
        await this.create({ kind: 'evict', path: ref.path }, this.host.superuser, Array.from({ length: have - target.max }, () => [ref]));
      }
    }
    if (gone.length > 0) await this.host.journal({ op: 'job', a: 'replication', files: gone.map((id) => ({ id, min: 0, max: -1 })), mtimeMs: this.host.env.now() });
  }
}
