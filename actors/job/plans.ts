// Plans: what a job request becomes (its tasks, fixed when the job is created and
// journaled with it) and which worker may run each task (chosen when it is handed
// out, from the workers live at that moment).
import { StrataError } from '../protocol/envelope.js';
import type { JobRequest } from '../protocol/job.js';
import type { JobOptions, TaskFileRef } from './state.js';

/** A file the plan may include, as the namespace knows it. */
export interface PlanFile {
  id: number;
  path: string;
  length: number;
  completed: boolean;
  persisted: boolean;
}

/** Defaults, as Alluxio's distributedLoad/distributedCp: one file per task. */
export const DEFAULT_BATCH_SIZE = 1;
export const DEFAULT_ACTIVE_TASKS = 3000;

/** Tasks of a job: batches of files, and for a load with replication N each batch N times (batch-major). */
export function planTasks(req: JobRequest, files: readonly PlanFile[], dstOf: (f: PlanFile) => string | undefined): TaskFileRef[][] {
  const batch = Math.max(1, req.batchSize ?? DEFAULT_BATCH_SIZE);
  const chosen = files.filter((f) => {
    if (!f.completed) return false;
    // fs persist: only what the UFS does not hold yet.
    if (req.kind === 'persist') return !f.persisted;
    return true;
  });
  const refs = chosen.map((f): TaskFileRef => {
    const dst = dstOf(f);
    return { id: f.id, path: f.path, length: f.length, ...(dst !== undefined ? { dst } : {}) };
  });
  const replicas = copiesOf(req);
  const tasks: TaskFileRef[][] = [];
  for (let i = 0; i < refs.length; i += batch) {
    const b = refs.slice(i, i + batch);
    for (let k = 0; k < replicas; k++) tasks.push(b);
  }
  return tasks;
}

/** Tasks per batch: distributedLoad's --replication; every other plan runs each batch once. */
export function copiesOf(req: { kind: string; replication?: number | undefined }): number {
  return req.kind === 'load' ? Math.max(1, req.replication ?? 1) : 1;
}

/** Checks a request's shape beyond its schema: a clear error before anything is journaled. */
export function validateRequest(req: JobRequest): void {
  if ((req.kind === 'copy' || req.kind === 'move') && !req.dst) throw new StrataError('INVALID_ARGUMENT', `${req.kind} needs a destination`);
  if (req.kind === 'replicate' || req.kind === 'evict') throw new StrataError('INVALID_ARGUMENT', `${req.kind} jobs are started by the replication checker; use fs setReplication`);
  if (req.replication !== undefined && req.replication !== null && (req.replication < 1 || req.replication > 64)) throw new StrataError('INVALID_ARGUMENT', `--replication must be between 1 and 64, got ${req.replication}`);
  if (req.batchSize !== undefined && req.batchSize !== null && (req.batchSize < 1 || req.batchSize > 100_000)) throw new StrataError('INVALID_ARGUMENT', `--batch-size must be between 1 and 100000, got ${req.batchSize}`);
  if (req.activeJobs !== undefined && req.activeJobs !== null && req.activeJobs < 1) throw new StrataError('INVALID_ARGUMENT', `--active-jobs must be at least 1, got ${req.activeJobs}`);
}

export function hostOf(address: string): string {
  try {
    return new URL(address).hostname;
  } catch {
    return '';
  }
}

/** Whether a worker may run a job's tasks: --hosts names it (by id or host) if given, --excluded-hosts does not. */
export function workerAllowed(opts: JobOptions, worker: { id: string; address: string }): boolean {
  const names = [worker.id, hostOf(worker.address)];
  if (opts.hosts?.length && !opts.hosts.some((h) => names.includes(h))) return false;
  if (opts.excludedHosts?.some((h) => names.includes(h))) return false;
  return true;
}

/**
 * Picks the worker for a task: among the candidates, the one running the fewest
 * of this master's tasks; ties go round-robin from `turn` so load spreads evenly.
 */
export function pickWorker(candidates: readonly string[], busy: (w: string) => number, slots: number, turn: number): string | undefined {
  let best: string | undefined;
  let bestLoad = Number.POSITIVE_INFINITY;
  for (let i = 0; i < candidates.length; i++) {
    const w = candidates[(i + turn) % candidates.length]!;
    const load = busy(w);
    if (load < slots && load < bestLoad) {
      best = w;
      bestLoad = load;
    }
  }
  return best;
}

/** Where a copied file goes: `dst` for a single file, else `dst` plus its path below `src`. */
export function copyTarget(src: string, srcIsDir: boolean, dst: string, filePath: string): string {
  if (!srcIsDir) return dst;
  const rel = filePath.slice(src === '/' ? 1 : src.length + 1);
  return dst === '/' ? `/${rel}` : `${dst}/${rel}`;
}
