// Where the master keeps its inodes (Alluxio's "metastore"). The namespace's
// state machine works on Inode objects through this interface; HEAP keeps them
// all in memory, ROCKS (storage/metastore-rocks.ts) in a key-value store behind
// a bounded cache. Both are a copy of journaled state: the journal (and its
// checkpoints) stays the source of truth.

export interface Inode {
  readonly id: number;
  parent: number;
  name: string;
  readonly isDir: boolean;
  length: number;
  mtimeMs: number;
  blockSize: number;
  completed: boolean;
  /** The inode exists in the UFS (strata knows the UFS holds it). */
  persisted: boolean;
  children: Map<string, number> | undefined;
  /** A directory's children have been listed from the UFS once (load type ONCE). */
  childrenLoaded: boolean;
  /** Set on a mount point: the id of the mount whose UFS root this directory is. */
  mountId?: number;
  /** Pinned files' blocks are never evicted from workers (fs pin). */
  pinned?: boolean;
  /** fs setTtl: `ms` after the modification time, the inode is deleted or its blocks freed. */
  ttl?: { ms: number; action: 'DELETE' | 'FREE' };
  owner: string;
  group: string;
  /** Permission bits, e.g. 0o755. */
  mode: number;
}

export type MetastoreType = 'HEAP' | 'ROCKS';

export interface InodeStore {
  readonly type: MetastoreType;
  get(id: number): Inode | undefined;
  /**
   * A directory's children, in any order, read from the store in as few reads as it
   * can, for listStatus. What had to be read is returned without being cached, so a
   * large listing does not push the working set out; such objects must not be changed.
   * Undefined when the state changed while the store was read: the caller lists again
   * from what is there now.
   */
  listChildren(dir: Inode): Promise<Inode[] | undefined>;
  /**
   * Resolves when the store can take more changes: a store that writes back
   * asynchronously makes writers wait here while its unwritten backlog is above its
   * high water mark. Rejects (UNAVAILABLE) when writing back fails.
   */
  writable(): Promise<void>;
  /**
   * Adds an inode, or records that one got from `get` was changed. Every change
   * must be followed by a put: a store that evicts or writes back relies on it.
   */
  put(n: Inode): void;
  remove(id: number): void;
  /**
   * Brackets one change of state: between `hold` and `release` nothing is evicted,
   * so an object got from `get` stays the one the store holds until the change is done.
   */
  hold(): void;
  release(): void;
  readonly size: number;
  /** Every inode in id order, without disturbing any cache (for checkpoints). */
  inOrder(): Iterable<Inode>;
  /** Replaces the whole content (a checkpoint restored). */
  replace(all: Iterable<Inode>): void;
  /** Writes everything not yet written; resolves when it is. */
  flush(): Promise<void>;
  close(): Promise<void>;
}

export class HeapInodeStore implements InodeStore {
  readonly type = 'HEAP';
  private readonly inodes = new Map<number, Inode>();

  get(id: number): Inode | undefined {
    return this.inodes.get(id);
  }

  put(n: Inode): void {
    this.inodes.set(n.id, n);
  }

  remove(id: number): void {
    this.inodes.delete(id);
  }

  async listChildren(dir: Inode): Promise<Inode[]> {
    return [...(dir.children?.values() ?? [])].map((id) => this.inodes.get(id)!);
  }

  async writable(): Promise<void> {}

  hold(): void {}

  release(): void {}

  get size(): number {
    return this.inodes.size;
  }

  inOrder(): Iterable<Inode> {
    return [...this.inodes.values()].sort((a, b) => a.id - b.id);
  }

  replace(all: Iterable<Inode>): void {
    this.inodes.clear();
    for (const n of all) this.inodes.set(n.id, n);
  }

  async flush(): Promise<void> {}

  async close(): Promise<void> {}
}
