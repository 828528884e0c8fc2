// ASYNC_THROUGH persistence on the job service: the leader's scheduler gives each
// file waiting to be persisted a persist job once it has waited the initial wait
// time, tries again after a growing interval when one fails, and gives up after
// the total wait (strata.master.persistence.*, Alluxio's names). A worker writes
// the file beside its target; the master publishes it if the file is still there.
import { StrataError } from '../protocol/envelope.js';
import type { TaskFile } from '../protocol/job.js';
import type { JobMasterHost } from './job-master.js';
import type { Job, TaskFileRef } from './state.js';

export interface PersistenceOptions {
  /** strata.master.persistence.checker.interval: how often the scheduler runs. */
  schedulerMs: number;
  /** strata.user.file.persistence.initial.wait.time: from completion to the first persist job. */
  initialWaitMs: number;
  /** strata.master.persistence.initial.interval: the wait after a failed persist job; doubles each time. */
  initialIntervalMs: number;
  /** strata.master.persistence.max.interval */
  maxIntervalMs: number;
  /** strata.master.persistence.max.total.wait.time */
  maxTotalWaitMs: number;
}

export const DEFAULT_PERSISTENCE: PersistenceOptions = { schedulerMs: 1000, initialWaitMs: 0, initialIntervalMs: 1000, maxIntervalMs: 3_600_000, maxTotalWaitMs: 86_400_000 };

/** What the scheduler needs of the job master. */
export interface PersistJobs {
  running(): Job[];
  /** Whether a job's finished task is on its way to the journal (its file may be gone because it was published). */
  reporting(jobId: number): boolean;
  createPersist(ref: TaskFileRef): Promise<unknown>;
  cancel(job: Job, reason: string): Promise<void>;
}

interface Backoff {
  firstMs: number;
  /** When the next persist job may start. */
  nextMs: number;
  /** The wait after the next failure. */
  intervalMs: number;
  /** A persist job was started and has not been judged yet. */
  launched: boolean;
  gaveUp: boolean;
}

export class PersistScheduler {
  private readonly backoff = new Map<number, Backoff>();

  constructor(
    private readonly host: JobMasterHost,
    private readonly o: PersistenceOptions,
    private readonly jobs: PersistJobs,
  ) {}

  /** One pass: cancels persist jobs of deleted files, starts jobs for files whose wait is over. */
  async schedule(now: number): Promise<void> {
    const p = this.o;
    const active = new Map<number, Job>();
    for (const j of this.jobs.running()) if (j.kind === 'persist') for (const t of j.tasks) for (const f of t.files) active.set(f.id, j);
    for (const [id, job] of active) if (!this.host.ns.get(id) && !this.jobs.reporting(job.id)) await this.cancelDeleted(job);
    for (const id of [...this.backoff.keys()]) if (!this.host.ns.toPersist.has(id)) this.backoff.delete(id);
    for (const id of [...this.host.ns.toPersist]) {
      if (active.has(id)) continue;
      const f = this.host.ns.get(id);
      if (!f) continue;
      let b = this.backoff.get(id);
      if (!b) {
        b = { firstMs: f.mtimeMs + p.initialWaitMs, nextMs: f.mtimeMs + p.initialWaitMs, intervalMs: p.initialIntervalMs, launched: false, gaveUp: false };
        this.backoff.set(id, b);
      }
      if (b.gaveUp) continue;
      if (b.launched) {
        // Its last persist job is over and the file is still not persisted: that job failed.
        b.launched = false;
        if (now - b.firstMs > p.maxTotalWaitMs) {
          b.gaveUp = true;
          this.host.env.log.log('error', `gave up persisting ${this.host.ns.pathOf(f)} after ${p.maxTotalWaitMs} ms (strata.master.persistence.max.total.wait.time)`);
          continue;
        }
        b.nextMs = now + b.intervalMs;
        b.intervalMs = Math.min(p.maxIntervalMs, b.intervalMs * 2);
      }
      if (b.nextMs > now) continue;
      b.launched = true;
      await this.jobs.createPersist({ id, path: this.host.ns.pathOf(f), length: f.length });
    }
  }

  /** A persist job whose file was deleted is canceled: its task stops and its copy is dropped. */
  async cancelDeleted(job: Job): Promise<void> {
    if (job.status !== 'RUNNING') return;
    await this.jobs.cancel(job, `${job.path} was deleted while it was being persisted`).catch((e: unknown) => this.host.env.log.log('warn', `could not cancel job ${job.id}: ${(e as Error).message}`));
  }

  /** Publishes a persisted copy if its file is still there, unchanged and at the same UFS path; else discards it. */
  publish(f: TaskFile, tmp: string, mtimeMs: number): Promise<void> {
    return this.host.exclusive(async () => {
      const n = this.host.ns.get(f.fileId);
      const where = n ? this.host.ufsOf(n) : undefined;
      const disk = this.host.ufsDisk(f.ufsMount);
      if (!n || where?.uri !== f.ufsMount || where.path !== f.ufsPath) {
        await disk.remove(tmp).catch(() => undefined);
        throw new StrataError('NOT_FOUND', `${f.path} was deleted or moved while it was being persisted`);
      }
      if (!n.persisted) {
        await disk.rename(tmp, f.ufsPath);
        const st = await disk.stat(f.ufsPath);
        await this.host.journal({ op: 'persisted', id: n.id, mtimeMs: st?.mtimeMs ?? mtimeMs });
      } else {
        await disk.remove(tmp).catch(() => undefined);
      }
    });
  }
}

/**
 * Where a worker writes a persisted file: beside its target, published by the
 * master. Named for the attempt (master, leadership, worker, try), so dropping the
 * copy of an attempt that was superseded never touches another's.
 */
export function persistTempName(f: TaskFile, master: string, generation: number, worker: string, attempt: number): string {
  return `${f.ufsPath}.strata-persist-${f.fileId}-${master}-${generation}-${worker}-${attempt}`;
}
