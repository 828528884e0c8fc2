// Temporary files strata leaves in the UFS (a write-through not yet published, a
// persist attempt) are removed by whoever gave up on them — unless a crash came
// first. Like Alluxio's UFS cleaner (which removes stale intermediate uploads older
// than an age), the leading master removes, when it lists a directory, the
// temporary files there older than a bound that no open write or pending persist
// owns: a write's file must still be incomplete, a persist attempt's file complete
// and not yet persisted. The age bound keeps it clear of anything in flight.
import type { Disk, Logger } from '../env.js';
import { strataTempOf, type StrataTemp } from '../ufs-temp.js';

interface FileState {
  readonly isDir: boolean;
  readonly completed: boolean;
  readonly persisted: boolean;
}

/** Whether the file `t` belongs to may still use it. */
export function tempOwned(t: StrataTemp, f: FileState | undefined): boolean {
  if (!f || f.isDir) return false;
  return t.kind === 'write' ? !f.completed : f.completed && !f.persisted;
}

export interface SweepContext {
  readonly disk: Disk;
  /** The directory's path on `disk` ('' for its root). */
  readonly dir: string;
  readonly now: number;
  /** strata.master.ufs.temp.file.max.age */
  readonly maxAgeMs: number;
  lookup(fileId: number): FileState | undefined;
  readonly log: Logger;
}

/** Removes the stale, unowned temporary files among `names` (a listing of the directory); returns how many went. */
export async function sweepTemps(c: SweepContext, names: readonly string[]): Promise<number> {
  let removed = 0;
  for (const name of names) {
    const t = strataTempOf(name);
    if (!t || tempOwned(t, c.lookup(t.fileId))) continue;
    const path = c.dir === '' ? name : `${c.dir}/${name}`;
    try {
      const st = await c.disk.stat(path);
      if (!st || st.isDir || c.now - st.mtimeMs < c.maxAgeMs) continue;
      await c.disk.remove(path);
      removed++;
      c.log.log('info', `removed ${path}: a ${t.kind === 'write' ? 'write' : 'persist attempt'} of file ${t.fileId} left in the UFS that nothing owns`);
    } catch (e) {
      // Left for the next listing; a failing UFS must not fail the listing that found it.
      c.log.log('warn', `could not remove the stale temporary file ${path}: ${(e as Error).message}`);
    }
  }
  return removed;
}
