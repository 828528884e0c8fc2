// What the leading master tells a worker about the files of which it keeps
// blocks as the only copy (MUST_CACHE, ASYNC_THROUGH before persistence, files
// still being written): which are persisted now (their blocks may be evicted
// again), and which of those the worker asks to release may go — files deleted,
// and files never completed whose writer is gone. Alluxio's worker removes a dead
// session's uncommitted temp blocks; here the worker judges that the writer is
// gone (no write stream for the file for a while) and the master makes the
// judgement final: a file whose blocks were released can no longer be completed
// as written to workers only, so a client that was merely slow gets a clean error
// instead of an acknowledged file with no data.
import { StrataError } from '../protocol/envelope.js';

interface FileState {
  readonly isDir: boolean;
  readonly completed: boolean;
  readonly persisted: boolean;
}

export interface UnpersistedAnswer {
  /** Of the files asked about: persisted now. */
  persistedFiles: number[];
  /** Of the files the worker asked to release: deleted, or never completed. */
  releasedFiles: number[];
}

export class UnpersistedBlocks {
  /**
   * Incomplete files whose blocks a worker was allowed to release. Leader-local:
   * a new leader starts empty, and a worker asks again only after its own idle
   * bound, so a completion after a failover is the one case this cannot refuse.
   */
  private readonly released = new Set<number>();

  constructor(private readonly lookup: (id: number) => FileState | undefined) {}

  /** `unpersisted`: files the worker keeps only-copy blocks of; `release`: those it has had no write stream for in a long while. */
  answer(unpersisted: readonly number[], release: readonly number[]): UnpersistedAnswer {
    // Files since deleted need no refusal any more.
    for (const id of this.released) if (!this.lookup(id)) this.released.delete(id);
    const persistedFiles: number[] = [];
    for (const id of unpersisted) {
      const f = this.lookup(id);
      if (f && !f.isDir && f.persisted) persistedFiles.push(id);
    }
    const releasedFiles: number[] = [];
    for (const id of release) {
      const f = this.lookup(id);
      if (f && !f.isDir && f.completed) continue;
      // Complete and unpersisted is the only copy of acknowledged data: never released.
      if (f && !f.isDir) this.released.add(id);
      releasedFiles.push(id);
    }
    return { persistedFiles, releasedFiles };
  }

  /** Throws if the blocks of the file being completed (written to workers only) were released as abandoned. */
  checkCompletable(id: number, path: string): void {
    if (this.released.has(id)) {
      throw new StrataError('FAILED_PRECONDITION', `${path} cannot be completed: its writer went quiet for too long and the workers released its blocks as abandoned; write it again`);
    }
  }
}
