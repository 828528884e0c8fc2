// After a move job: the source directories its files left, now empty, go too (as
// `mv` leaves no source behind). Only directories a moved file passed through are
// looked at, deepest first, and only an empty one is removed, so a file written
// into the source meanwhile, or an empty directory that was never moved, stays.
import type { Namespace } from '../master/namespace.js';
import type { Job } from './state.js';

export interface SourceHost {
  readonly ns: Namespace;
  /** Deletes a path (not recursively) as the superuser. */
  remove(path: string): Promise<void>;
  readonly env: { readonly log: { log(level: 'warn', msg: string): void } };
}

/** The directories from each file's parent up to the move's source (inclusive), deepest first. */
export function sourceDirs(job: Pick<Job, 'path' | 'tasks'>): string[] {
  const top = job.path.length > 1 ? job.path.replace(/\/+$/, '') : job.path;
  const dirs = new Set<string>();
  for (const t of job.tasks) {
    for (const f of t.files) {
      let p = f.path;
      for (;;) {
        const cut = p.lastIndexOf('/');
        if (cut <= 0) break;
        p = p.slice(0, cut);
        if (p !== top && !p.startsWith(`${top}/`)) break;
        dirs.add(p);
        if (p === top) break;
      }
    }
  }
  return [...dirs].sort((a, b) => b.split('/').length - a.split('/').length || (a < b ? -1 : 1));
}

export async function removeEmptySources(host: SourceHost, job: Pick<Job, 'id' | 'path' | 'tasks'>): Promise<void> {
  for (const dir of sourceDirs(job)) {
    const n = host.ns.lookup(dir);
    if (!n?.isDir || (n.children?.size ?? 0) > 0) continue;
    await host.remove(dir).catch((e: unknown) => host.env.log.log('warn', `job ${job.id}: could not remove the empty source directory ${dir}: ${(e as Error).message}`));
  }
}
