// The job service's replicated state: jobs, their tasks and how far each got, and
// the replication targets of files. It changes only by journal entries (op 'job')
// applied in journal order on every master, so a new leader knows every job the
// old one had and carries on. Which worker runs a task right now is not journaled:
// after a failover unfinished tasks are simply handed out again (every task is
// idempotent).
import { arr, bool, int, num, obj, oneOf, opt, strMax, uint, type Infer } from '../../transport/schema.js';
import { packRecord, unpackRecord } from '../../transport/codec.js';
import { JOB_KINDS, type JobInfo, type JobKind, type JobStatus, type TaskInfo } from '../protocol/job.js';
import { StrataError } from '../protocol/envelope.js';

const path = strMax(4096);

const TaskFileRef = obj({ id: uint, path, length: uint, dst: opt(path) });
export type TaskFileRef = Infer<typeof TaskFileRef>;
const TaskResult = obj({ task: uint, ok: bool, bytes: uint, error: opt(strMax(4096)) });
export type TaskResult = Infer<typeof TaskResult>;

export const JobOptions = obj({
  replication: opt(uint),
  activeJobs: opt(uint),
  hosts: opt(arr(strMax(256), 1024)),
  excludedHosts: opt(arr(strMax(256), 1024)),
  writeType: opt(oneOf('MUST_CACHE', 'CACHE_THROUGH', 'THROUGH', 'ASYNC_THROUGH')),
});
export type JobOptions = Infer<typeof JobOptions>;

/** One schema for every job entry; `a` says which change it is and which fields it uses. */
export const JobEntry = obj({
  op: oneOf('job'),
  a: oneOf('create', 'progress', 'cancel', 'replication'),
  /** create */
  kind: opt(oneOf(...JOB_KINDS)),
  path: opt(path),
  dst: opt(path),
  user: opt(strMax(256)),
  opts: opt(JobOptions),
  tasks: opt(arr(arr(TaskFileRef, 1_000_000), 1_000_000)),
  req: opt(obj({ c: strMax(256), r: uint })),
  /** progress, cancel */
  id: opt(uint),
  results: opt(arr(TaskResult, 1_000_000)),
  reason: opt(strMax(4096)),
  /** replication: per file, min copies and max copies (-1: no limit); min 0 and max -1 forget the file. */
  files: opt(arr(obj({ id: uint, min: uint, max: int }), 10_000_000)),
  mtimeMs: num,
});
export type JobEntry = Infer<typeof JobEntry>;

export type TaskState = 'PENDING' | 'DONE' | 'FAILED' | 'CANCELED';

export interface Task {
  readonly id: number;
  readonly files: readonly TaskFileRef[];
  state: TaskState;
  bytes: number;
  attempts: number;
  error?: string;
}

export interface Job {
  readonly id: number;
  readonly kind: JobKind;
  readonly path: string;
  readonly dst: string | undefined;
  readonly user: string;
  readonly opts: JobOptions;
  readonly createdMs: number;
  status: JobStatus;
  endMs?: number;
  error?: string;
  readonly tasks: Task[];
  /** Tasks not yet DONE, FAILED or CANCELED. */
  open: number;
}

export interface Replication {
  min: number;
  max: number;
}

/** Finished jobs kept for `job ls`/`job stat` (strata.job.master.job.capacity); the oldest go first. */
export const DEFAULT_JOB_CAPACITY = 100_000;

export class JobState {
  private readonly jobs = new Map<number, Job>();
  private nextId = 1;
  /** Which job a client request created: a retried SubmitJob gets the same job. */
  private readonly byReq = new Map<string, number>();
  /** fs setReplication targets, by file id. */
  readonly replication = new Map<number, Replication>();
  private finished: number[] = [];

  constructor(private readonly capacity = DEFAULT_JOB_CAPACITY) {}

  get(id: number): Job | undefined {
    return this.jobs.get(id);
  }

  all(): Job[] {
    return [...this.jobs.values()];
  }

  running(): Job[] {
    return this.all().filter((j) => j.status === 'RUNNING');
  }

  jobOfRequest(client: string, rid: number): number | undefined {
    return this.byReq.get(`${client}/${rid}`);
  }

  /** Applies one committed entry; returns the job it created or changed. Deterministic: it reads nothing but the entry and the state. */
  apply(e: JobEntry): Job | undefined {
    switch (e.a) {
      case 'create': {
        if (e.req) {
          const prior = this.byReq.get(`${e.req.c}/${e.req.r}`);
          if (prior !== undefined) return this.jobs.get(prior);
        }
        const id = this.nextId++;
        const tasks: Task[] = (e.tasks ?? []).map((files, i) => ({ id: i, files, state: 'PENDING', bytes: 0, attempts: 0 }));
        const job: Job = {
          id, kind: e.kind ?? 'load', path: e.path ?? '/', dst: e.dst ?? undefined, user: e.user ?? 'anonymous', opts: e.opts ?? {},
          createdMs: e.mtimeMs, status: 'RUNNING', tasks, open: tasks.length,
        };
        this.jobs.set(id, job);
        if (e.req) this.byReq.set(`${e.req.c}/${e.req.r}`, id);
        this.settle(job, e.mtimeMs);
        return job;
      }
      case 'progress': {
        const job = this.jobs.get(e.id ?? -1);
        if (!job || job.status !== 'RUNNING') return job;
        for (const r of e.results ?? []) {
          const t = job.tasks[r.task];
          if (!t || t.state !== 'PENDING') continue;
          t.attempts++;
          if (r.ok) {
            t.state = 'DONE';
            t.bytes = r.bytes;
          } else {
            t.state = 'FAILED';
            t.error = r.error ?? 'failed';
            job.error ??= `task ${t.id} (${t.files[0]?.path ?? 'no file'}): ${t.error}`;
          }
          job.open--;
        }
        this.settle(job, e.mtimeMs);
        return job;
      }
      case 'cancel': {
        const job = this.jobs.get(e.id ?? -1);
        if (!job || job.status !== 'RUNNING') return job;
        for (const t of job.tasks) if (t.state === 'PENDING') t.state = 'CANCELED';
        job.open = 0;
        job.status = 'CANCELED';
        job.endMs = e.mtimeMs;
        if (e.reason) job.error = e.reason;
        this.retire(job);
        return job;
      }
      case 'replication': {
        for (const f of e.files ?? []) {
          if (f.min === 0 && f.max < 0) this.replication.delete(f.id);
          else this.replication.set(f.id, { min: f.min, max: f.max });
        }
        return undefined;
      }
    }
  }

  /** A job whose every task is done or failed is over. */
  private settle(job: Job, now: number): void {
    if (job.open > 0) return;
    job.status = job.tasks.some((t) => t.state === 'FAILED') ? 'FAILED' : 'COMPLETED';
    job.endMs = now;
    this.retire(job);
  }

  private retire(job: Job): void {
    this.finished.push(job.id);
    while (this.finished.length > this.capacity) {
      const old = this.finished.shift()!;
      this.jobs.delete(old);
    }
  }

  /** What `job stat` shows; `running` names the worker of each task in flight (leader only). */
  info(job: Job, verbose: boolean, running?: ReadonlyMap<number, string>): JobInfo {
    let filesTotal = 0;
    let filesDone = 0;
    let bytesTotal = 0;
    let bytesDone = 0;
    let tasksDone = 0;
    let tasksFailed = 0;
    for (const t of job.tasks) {
      filesTotal += t.files.length;
      for (const f of t.files) bytesTotal += f.length;
      if (t.state === 'DONE') {
        tasksDone++;
        filesDone += t.files.length;
        bytesDone += t.bytes;
      }
      if (t.state === 'FAILED') tasksFailed++;
    }
    const tasks = verbose
      ? job.tasks.map((t): TaskInfo => {
          const worker = running?.get(t.id);
          return {
            id: t.id, files: t.files.map((f) => f.path), state: t.state === 'PENDING' && worker ? 'RUNNING' : t.state, attempts: t.attempts, bytes: t.bytes,
            ...(worker ? { worker } : {}), ...(t.error ? { error: t.error } : {}),
          };
        })
      : undefined;
    return {
      id: job.id, kind: job.kind, path: job.path, ...(job.dst !== undefined ? { dst: job.dst } : {}), user: job.user, status: job.status,
      createdMs: job.createdMs, ...(job.endMs !== undefined ? { endMs: job.endMs } : {}), ...(job.error ? { error: job.error } : {}),
      filesTotal, filesDone, bytesTotal, bytesDone, tasksTotal: job.tasks.length, tasksDone, tasksFailed, ...(tasks ? { tasks } : {}),
    };
  }

  snapshot(): Uint8Array {
    const jobs = [...this.jobs.values()].sort((a, b) => a.id - b.id).map((j) => ({
      id: j.id, kind: j.kind, path: j.path, dst: j.dst ?? null, user: j.user, opts: j.opts, createdMs: j.createdMs, status: j.status, endMs: j.endMs ?? null, error: j.error ?? null,
      tasks: j.tasks.map((t) => [t.state, t.bytes, t.attempts, t.error ?? null, t.files]),
    }));
    return packRecord({ v: 1, nextId: this.nextId, jobs, byReq: [...this.byReq], replication: [...this.replication].map(([id, r]) => [id, r.min, r.max]), finished: this.finished });
  }

  restore(bytes: Uint8Array): void {
    const s = unpackRecord(bytes) as {
      v: number; nextId: number; byReq: Array<[string, number]>; replication: Array<[number, number, number]>; finished: number[];
      jobs: Array<{ id: number; kind: JobKind; path: string; dst: string | null; user: string; opts: JobOptions; createdMs: number; status: JobStatus; endMs: number | null; error: string | null; tasks: Array<[TaskState, number, number, string | null, TaskFileRef[]]> }>;
    };
    if (s.v !== 1) throw new StrataError('INTERNAL', `job state snapshot version ${s.v} is not supported`);
    this.jobs.clear();
    for (const j of s.jobs) {
      const tasks: Task[] = j.tasks.map(([state, bytes, attempts, error, files], id) => ({ id, files, state, bytes, attempts, ...(error !== null ? { error } : {}) }));
      this.jobs.set(j.id, {
        id: j.id, kind: j.kind, path: j.path, dst: j.dst ?? undefined, user: j.user, opts: j.opts, createdMs: j.createdMs, status: j.status,
        ...(j.endMs !== null ? { endMs: j.endMs } : {}), ...(j.error !== null ? { error: j.error } : {}), tasks, open: tasks.filter((t) => t.state === 'PENDING').length,
      });
    }
    this.nextId = s.nextId;
    this.byReq.clear();
    for (const [k, v] of s.byReq) this.byReq.set(k, v);
    this.replication.clear();
    for (const [id, min, max] of s.replication) this.replication.set(id, { min, max });
    this.finished = [...s.finished];
  }
}

/** The master's Raft checkpoint: the namespace's snapshot and the job state's, side by side. */
export function packMasterSnapshot(namespace: Uint8Array, jobs: Uint8Array): Uint8Array {
  return packRecord({ kind: 'strata-master', v: 1, namespace, jobs });
}

/** Splits a checkpoint; one taken before the job service existed is the namespace alone. */
export function unpackMasterSnapshot(bytes: Uint8Array): { namespace: Uint8Array; jobs: Uint8Array | undefined } {
  let v: { kind?: unknown; namespace?: unknown; jobs?: unknown };
  try {
    v = unpackRecord(bytes) as typeof v;
  } catch {
    return { namespace: bytes, jobs: undefined };
  }
  if (v && v.kind === 'strata-master' && v.namespace instanceof Uint8Array && v.jobs instanceof Uint8Array) return { namespace: v.namespace, jobs: v.jobs };
  return { namespace: bytes, jobs: undefined };
}
