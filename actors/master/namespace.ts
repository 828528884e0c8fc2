// The inode tree as a state machine: every change is a journal entry, and
// `apply` is the only way state changes, so replaying the journal rebuilds it.
// Inode ids are assigned in apply, which keeps them (and the block ids derived
// from them) identical after a restart.
import { arr, bool, bytes, int, num, obj, oneOf, opt, strMax, uint, type Infer } from '../../transport/schema.js';
import { StrataError } from '../protocol/envelope.js';
import { packRecord, unpackRecord } from '../../transport/codec.js';
import { joinPath, splitPath } from '../path.js';
import { HeapInodeStore, type Inode, type InodeStore } from '../../storage/metastore.js';
import { JobEntry } from '../job/state.js';
import { blockIdOf } from '../block-id.js';

export const ROOT_ID = 1;

const byName = (a: Inode, b: Inode): number => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0);

export type { Inode } from '../../storage/metastore.js';

/** Modes of what is found in a UFS (strata cannot read UFS owners yet): like a umask of 022. */
export const LOADED_DIR_MODE = 0o755;
export const LOADED_FILE_MODE = 0o644;

export interface MountInfo {
  readonly id: number;
  /** The mount point's inode. */
  readonly inode: number;
  readonly uri: string;
  readOnly: boolean;
  shared: boolean;
  options: Array<[string, string]>;
}

export const ROOT_MOUNT_ID = 1;

/**
 * An entry that no longer fits the state when its turn comes: the master that
 * proposed it checked it against a state that a concurrent leader's entry had
 * already changed. Every replica rejects it the same way, as a no-op; the
 * proposer gets the reason. Throwing instead would stop every master at once.
 */
export class RejectedEntry extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'RejectedEntry';
  }
}

const name = strMax(1024);
/** The client request an entry completes: a retry of it (after a lost reply or a failover) is answered, not redone. */
const req = opt(obj({ c: strMax(256), r: uint }));
/** Who created an inode; absent fields are inherited from the parent directory. */
const owner = opt(strMax(256));
const group = opt(strMax(256));
const mode = opt(uint);
const UfsChild = obj({ name, isDir: bool, length: uint, mtimeMs: num });

export const JournalEntry = {
  mkdir: obj({ op: oneOf('mkdir'), parent: uint, name, mtimeMs: num, owner, group, mode, req }),
  create: obj({ op: oneOf('create'), parent: uint, name, blockSize: uint, mtimeMs: num, owner, group, mode, req }),
  /** `ttl`: ms after the file's modification time when `ttlAction` happens; -1 removes it. */
  setAttr: obj({ op: oneOf('setAttr'), id: uint, owner, group, mode, pinned: opt(bool), ttl: opt(int), ttlAction: opt(oneOf('DELETE', 'FREE')), req }),
  /** `asyncPersist`: written ASYNC_THROUGH; the leader persists it later and journals `persisted`. */
  complete: obj({ op: oneOf('complete'), id: uint, length: uint, mtimeMs: num, persisted: opt(bool), asyncPersist: opt(bool), req }),
  persisted: obj({ op: oneOf('persisted'), id: uint, mtimeMs: num }),
  /** `ufsPath`, `fromUfs`/`toUfs`: the UFS side of the change, redone after a crash that cut it short. */
  /** `strataOnly`: removed from the namespace only; the UFS keeps it (and a later sync may bring it back). */
  delete: obj({ op: oneOf('delete'), id: uint, ufsUri: opt(strMax(4096)), ufsPath: opt(strMax(4096)), strataOnly: opt(bool), req }),
  /** `undo`: this rename reverses that request's (the UFS refused it), so its retry must run again. */
  rename: obj({ op: oneOf('rename'), id: uint, parent: uint, name, mtimeMs: num, ufsUri: opt(strMax(4096)), fromUfs: opt(strMax(4096)), toUfs: opt(strMax(4096)), req, undo: req }),
  mount: obj({ op: oneOf('mount'), parent: uint, name, uri: strMax(4096), readOnly: bool, shared: bool, options: arr(arr(strMax(4096), 2), 256), mtimeMs: num, owner, group, mode, req }),
  unmount: obj({ op: oneOf('unmount'), id: uint, req }),
  updateMount: obj({ op: oneOf('updateMount'), id: uint, readOnly: bool, shared: bool, options: arr(arr(strMax(4096), 2), 256), req }),
  /**
   * A directory brought in line with its UFS listing: `remove` names gone from the
   * UFS or changed there (a changed file comes back in `add` as a new inode, so its
   * blocks get new ids and stale cached copies can never be served for it).
   */
  sync: obj({ op: oneOf('sync'), dir: uint, remove: arr(name), add: arr(UfsChild), blockSize: uint }),
  /** Replaces the whole namespace with a backup's (only ever the first entry of a journal). */
  restore: obj({ op: oneOf('restore'), data: bytes }),
  /** `partial`: only some names were looked up (load type ALWAYS), so the directory is not marked loaded. */
  load: obj({ op: oneOf('load'), dir: uint, children: arr(UfsChild), blockSize: uint, partial: opt(bool) }),
  /** The job service's state (actors/job/state.ts): applied by the job master, not here. */
  job: JobEntry,
};
export type JournalEntry = { [K in keyof typeof JournalEntry]: Infer<(typeof JournalEntry)[K]> }[keyof typeof JournalEntry];
export type UfsChild = Infer<typeof UfsChild>;

export function checkEntry(v: unknown): string | null {
  if (typeof v !== 'object' || v === null) return 'entry is not an object';
  const op = (v as { op?: unknown }).op;
  const schema = typeof op === 'string' ? JournalEntry[op as keyof typeof JournalEntry] : undefined;
  if (!schema) return `unknown journal op ${JSON.stringify(op)}`;
  return schema.check(v, op as string);
}

/**
 * Completed client requests, per client, so a retried request gets the first
 * answer instead of being applied twice. Part of the replicated state: every
 * master applies the same entries, so every master answers a retry the same way.
 * Bounded: the oldest clients and, per client, the oldest requests are forgotten.
 */
export class Sessions {
  private readonly clients = new Map<string, Map<number, number>>();

  constructor(
    private readonly maxClients = 10_000,
    private readonly perClient = 1_000,
  ) {}

  record(client: string, rid: number, inodeId: number): void {
    let m = this.clients.get(client);
    if (m) this.clients.delete(client);
    else m = new Map();
    this.clients.set(client, m);
    m.set(rid, inodeId);
    if (m.size > this.perClient) m.delete(m.keys().next().value!);
    if (this.clients.size > this.maxClients) this.clients.delete(this.clients.keys().next().value!);
  }

  entries(): Array<[string, Array<[number, number]>]> {
    return [...this.clients].map(([c, m]) => [c, [...m]]);
  }

  load(entries: ReadonlyArray<readonly [string, ReadonlyArray<readonly [number, number]>]>): void {
    this.clients.clear();
    for (const [c, reqs] of entries) this.clients.set(c, new Map(reqs.map(([r, id]) => [r, id])));
  }

  forget(client: string, rid: number): void {
    this.clients.get(client)?.delete(rid);
  }

  /** The inode the request created or changed (0 when none), or undefined if it was never applied. */
  lookup(client: string, rid: number): number | undefined {
    return this.clients.get(client)?.get(rid);
  }
}

export class Namespace {
  private inodes: InodeStore;
  private nextId = ROOT_ID + 1;
  readonly sessions = new Sessions();
  private readonly mounts = new Map<number, MountInfo>();
  /** Ids of pinned files, sent to workers with every heartbeat reply. */
  readonly pinnedFiles = new Set<number>();
  /** Inodes with a TTL, for the master's TTL checker. */
  readonly ttlInodes = new Set<number>();
  /** ASYNC_THROUGH files not yet in the UFS: the leader's persistence scheduler works through them. */
  readonly toPersist = new Set<number>();
  private nextMountId = ROOT_MOUNT_ID + 1;

  /** `rootUfs`: the UFS mounted at '/', from configuration rather than the journal; `/` belongs to `rootOwner`. */
  constructor(rootUfs: string, rootOwner = 'strata', rootGroup = 'supergroup', store: InodeStore = new HeapInodeStore()) {
    this.inodes = store;
    this.inodes.put({
      id: ROOT_ID, parent: 0, name: '', isDir: true, length: 0, mtimeMs: 0, blockSize: 0,
      completed: true, persisted: true, children: new Map(), childrenLoaded: false, mountId: ROOT_MOUNT_ID,
      owner: rootOwner, group: rootGroup, mode: LOADED_DIR_MODE,
    });
    this.mounts.set(ROOT_MOUNT_ID, { id: ROOT_MOUNT_ID, inode: ROOT_ID, uri: rootUfs, readOnly: false, shared: false, options: [] });
  }

  /** Where inodes are kept (the metastore). */
  get store(): InodeStore {
    return this.inodes;
  }

  /**
   * Moves the namespace into another metastore. Only before anything is applied:
   * the master opens its metastore asynchronously, after the namespace exists.
   */
  useStore(store: InodeStore): void {
    if (this.inodes.size !== 1 || store.size !== 0) throw new Error('a namespace changes metastore only while it holds just the root, into an empty one');
    store.put(this.root());
    this.inodes = store;
  }

  mountTable(): MountInfo[] {
    return [...this.mounts.values()].sort((a, b) => a.id - b.id);
  }

  /** The mount an inode lives in: the nearest mount point at or above it. */
  mountOf(inode: Inode): MountInfo {
    let cur: Inode | undefined = inode;
    while (cur && cur.mountId === undefined) cur = this.inodes.get(cur.parent);
    return this.mounts.get(cur?.mountId ?? ROOT_MOUNT_ID)!;
  }

  /** Where an inode lives in the UFS: its mount, and its path relative to the mount's root. */
  ufsLocation(inode: Inode): { mount: MountInfo; path: string } {
    const parts: string[] = [];
    let cur: Inode | undefined = inode;
    while (cur && cur.mountId === undefined) {
      parts.push(cur.name);
      cur = this.inodes.get(cur.parent);
    }
    return { mount: this.mounts.get(cur?.mountId ?? ROOT_MOUNT_ID)!, path: parts.reverse().join('/') };
  }

  /** True when a mount point sits strictly below `dir`. */
  containsMountPoint(dir: Inode): boolean {
    for (const m of this.mounts.values()) {
      if (m.inode === dir.id) continue;
      const mp = this.inodes.get(m.inode);
      if (mp && this.isAncestor(dir, mp)) return true;
    }
    return false;
  }

  get size(): number {
    return this.inodes.size;
  }

  /** Entries applied so far (and restores): tells a read that awaited whether anything changed meanwhile. */
  private changes = 0;

  get(id: number): Inode | undefined {
    return this.inodes.get(id);
  }

  root(): Inode {
    return this.inodes.get(ROOT_ID)!;
  }

  child(dir: Inode, childName: string): Inode | undefined {
    const id = dir.children?.get(childName);
    return id === undefined ? undefined : this.inodes.get(id);
  }

  children(dir: Inode): Inode[] {
    return [...(dir.children?.values() ?? [])].map((id) => this.inodes.get(id)!).sort(byName);
  }

  /**
   * A directory's children as `children` gives them, read from the metastore in as
   * few reads as it can; for reading only (what was not in memory comes back as a
   * detached copy).
   */
  async listChildren(dir: Inode): Promise<Inode[]> {
    const at = this.changes;
    const kids = await this.inodes.listChildren(dir);
    if (kids && this.changes === at) return kids.sort(byName);
    // Changed while the store was read: what was read may be stale, so list what is there now.
    const now = this.inodes.get(dir.id);
    return now ? this.children(now) : [];
  }

  pathOf(inode: Inode): string {
    const parts: string[] = [];
    let cur: Inode | undefined = inode;
    while (cur && cur.id !== ROOT_ID) {
      parts.push(cur.name);
      cur = this.inodes.get(cur.parent);
    }
    return '/' + parts.reverse().join('/');
  }

  /** Walks the tree without loading anything; undefined where a component is missing. */
  lookup(path: string): Inode | undefined {
    let cur: Inode | undefined = this.root();
    for (const part of splitPath(path)) {
      if (!cur.isDir) return undefined;
      cur = this.child(cur, part);
      if (!cur) return undefined;
    }
    return cur;
  }

  /** Applies one committed entry. Throws only on an entry that cannot follow the current state. */
  apply(e: JournalEntry): Inode | RejectedEntry | undefined {
    if (e.op === 'job') throw new StrataError('INTERNAL', 'a job entry reached the namespace; the job master applies those');
    let inode: Inode | undefined;
    this.changes++;
    // Objects got from the store stay the store's own until the change is done.
    this.inodes.hold();
    try {
      inode = this.applyChange(e);
    } catch (err) {
      if (err instanceof RejectedEntry) return err;
      throw err;
    } finally {
      this.inodes.release();
    }
    if (e.op !== 'load' && e.op !== 'restore' && e.op !== 'sync' && e.op !== 'persisted' && e.req) this.sessions.record(e.req.c, e.req.r, inode?.id ?? 0);
    if (e.op === 'rename' && e.undo) this.sessions.forget(e.undo.c, e.undo.r);
    return inode;
  }

  private applyChange(e: JournalEntry): Inode | undefined {
    switch (e.op) {
      case 'mkdir':
        return this.own(this.add(e.parent, e.name, true, 0, 0, e.mtimeMs, true, true, true), e);
      case 'create':
        return this.own(this.add(e.parent, e.name, false, 0, e.blockSize, e.mtimeMs, false, false, false), e);
      case 'setAttr': {
        const n = this.inodes.get(e.id);
        if (!n) throw new RejectedEntry(`journal sets attributes of unknown inode ${e.id}`);
        if (e.ttl != null) {
          if (e.ttl < 0) {
            delete n.ttl;
            this.ttlInodes.delete(n.id);
          } else {
            n.ttl = { ms: e.ttl, action: e.ttlAction ?? 'DELETE' };
            this.ttlInodes.add(n.id);
          }
        }
        if (e.pinned != null) {
          n.pinned = e.pinned;
          if (e.pinned) this.pinnedFiles.add(n.id);
          else this.pinnedFiles.delete(n.id);
        }
        return this.own(n, e);
      }
      case 'complete': {
        const f = this.file(e.id);
        f.length = e.length;
        f.mtimeMs = e.mtimeMs;
        f.completed = true;
        f.persisted = e.persisted !== false;
        if (e.asyncPersist && !f.persisted) this.toPersist.add(f.id);
        this.inodes.put(f);
        return f;
      }
      case 'delete': {
        const n = this.inodes.get(e.id);
        if (!n || n.id === ROOT_ID) throw new RejectedEntry(`journal deletes unknown inode ${e.id}`);
        this.remove(n);
        return n;
      }
      case 'rename': {
        const n = this.inodes.get(e.id);
        const to = this.inodes.get(e.parent);
        if (!n || n.id === ROOT_ID || !to || !to.isDir || to.children!.has(e.name)) {
          throw new RejectedEntry(`journal renames inode ${e.id} to an impossible place (${e.parent}/${e.name})`);
        }
        const from = this.inodes.get(n.parent);
        if (from?.children?.delete(n.name)) this.inodes.put(from);
        n.parent = to.id;
        n.name = e.name;
        this.inodes.put(n);
        // As in POSIX, a rename leaves the file's own modification time alone (the
        // UFS keeps it too, and reads compare the two); `e.mtimeMs` dates the change.
        to.mtimeMs = e.mtimeMs;
        to.children!.set(e.name, n.id);
        this.inodes.put(to);
        return n;
      }
      case 'mount': {
        const dir = this.own(this.add(e.parent, e.name, true, 0, 0, e.mtimeMs, true, true, false), e);
        const id = this.nextMountId++;
        dir.mountId = id;
        this.inodes.put(dir);
        this.mounts.set(id, { id, inode: dir.id, uri: e.uri, readOnly: e.readOnly, shared: e.shared, options: e.options as Array<[string, string]> });
        return dir;
      }
      case 'unmount': {
        const dir = this.inodes.get(e.id);
        if (!dir || dir.mountId === undefined || dir.mountId === ROOT_MOUNT_ID) throw new RejectedEntry(`journal unmounts ${e.id}, which is not a mount point`);
        this.mounts.delete(dir.mountId);
        this.remove(dir);
        return dir;
      }
      case 'updateMount': {
        const dir = this.inodes.get(e.id);
        const m = dir?.mountId === undefined ? undefined : this.mounts.get(dir.mountId);
        if (!dir || !m) throw new RejectedEntry(`journal updates mount ${e.id}, which is not a mount point`);
        m.readOnly = e.readOnly;
        m.shared = e.shared;
        m.options = e.options as Array<[string, string]>;
        return dir;
      }
      case 'persisted': {
        const f = this.file(e.id);
        f.persisted = true;
        f.mtimeMs = e.mtimeMs;
        this.toPersist.delete(f.id);
        this.inodes.put(f);
        return f;
      }
      case 'restore':
        this.restore(e.data);
        return this.root();
      case 'sync': {
        const dir = this.inodes.get(e.dir);
        if (!dir || !dir.isDir) throw new RejectedEntry(`journal syncs unknown directory ${e.dir}`);
        for (const n of e.remove) {
          const child = this.child(dir, n);
          // A mount point, or anything holding one, is strata's own and stays.
          if (child && child.mountId === undefined && !(child.isDir && this.containsMountPoint(child))) this.remove(child);
        }
        for (const c of e.add) {
          if (dir.children!.has(c.name)) continue;
          this.shareLoaded(this.add(dir.id, c.name, c.isDir, c.length, c.isDir ? 0 : e.blockSize, c.mtimeMs, true, true, false));
        }
        dir.childrenLoaded = true;
        this.inodes.put(dir);
        return dir;
      }
      case 'load': {
        const dir = this.inodes.get(e.dir);
        if (!dir || !dir.isDir) throw new RejectedEntry(`journal loads into unknown directory ${e.dir}`);
        for (const c of e.children) {
          if (dir.children!.has(c.name)) continue;
          this.shareLoaded(this.add(dir.id, c.name, c.isDir, c.length, c.isDir ? 0 : e.blockSize, c.mtimeMs, true, true, false));
        }
        if (!e.partial) dir.childrenLoaded = true;
        this.inodes.put(dir);
        return dir;
      }
    }
  }

  /**
   * A shared mount (`fs mount --shared`), as Alluxio's: what is loaded from its UFS
   * gives other users the access its owner has (mode 644 becomes 646).
   */
  private shareLoaded(n: Inode): void {
    if (!this.mountOf(n).shared) return;
    n.mode |= (n.mode >> 6) & 0o7;
    this.inodes.put(n);
  }

  private own(n: Inode, e: { owner?: string | undefined; group?: string | undefined; mode?: number | undefined }): Inode {
    if (e.owner !== undefined && e.owner !== null) n.owner = e.owner;
    if (e.group !== undefined && e.group !== null) n.group = e.group;
    if (e.mode !== undefined && e.mode !== null) n.mode = e.mode & 0o777;
    this.inodes.put(n);
    return n;
  }

  private file(id: number): Inode {
    const f = this.inodes.get(id);
    if (!f || f.isDir) throw new RejectedEntry(`journal completes unknown file ${id}`);
    return f;
  }

  private add(parentId: number, childName: string, isDir: boolean, length: number, blockSize: number, mtimeMs: number, completed: boolean, persisted: boolean, childrenLoaded: boolean): Inode {
    const parent = this.inodes.get(parentId);
    if (!parent || !parent.isDir) throw new RejectedEntry(`journal adds ${childName} under unknown directory ${parentId}`);
    if (parent.children!.has(childName)) throw new RejectedEntry(`journal adds ${childName} twice under ${parentId}`);
    const inode: Inode = {
      id: this.nextId++, parent: parentId, name: childName, isDir, length, mtimeMs, blockSize, completed, persisted,
      // Inherited until the entry says otherwise (what the UFS holds has no strata owner).
      owner: parent.owner, group: parent.group, mode: isDir ? LOADED_DIR_MODE : LOADED_FILE_MODE,
      children: isDir ? new Map() : undefined,
      // A directory strata creates is empty in the UFS too: nothing to load. One found in the UFS is loaded on first access.
      childrenLoaded,
    };
    parent.children!.set(childName, inode.id);
    this.inodes.put(parent);
    this.inodes.put(inode);
    return inode;
  }

  private remove(n: Inode): void {
    // The subtree goes as a whole: only its top's parent changes.
    const drop = (x: Inode): void => {
      this.pinnedFiles.delete(x.id);
      this.ttlInodes.delete(x.id);
      this.toPersist.delete(x.id);
      if (x.children) for (const id of [...x.children.values()]) drop(this.inodes.get(id)!);
      this.inodes.remove(x.id);
    };
    drop(n);
    const parent = this.inodes.get(n.parent);
    if (parent?.children?.delete(n.name)) this.inodes.put(parent);
  }

  /** True when `a` is `b` or one of its ancestors. */
  isAncestor(a: Inode, b: Inode): boolean {
    for (let cur: Inode | undefined = b; cur; cur = cur.id === ROOT_ID ? undefined : this.inodes.get(cur.parent)) if (cur.id === a.id) return true;
    return false;
  }

  /**
   * The whole state, for a checkpoint: inodes in id order, the mount table, the
   * id counters and the sessions. `restore` of these bytes gives an equal namespace.
   */
  snapshot(): Uint8Array {
    const inodes: unknown[] = [];
    for (const n of this.inodes.inOrder()) inodes.push([n.id, n.parent, n.name, n.isDir, n.length, n.mtimeMs, n.blockSize, n.completed, n.persisted, n.childrenLoaded, n.mountId ?? 0, n.owner, n.group, n.mode, n.pinned ? 1 : 0, n.ttl ? [n.ttl.ms, n.ttl.action] : 0]);
    const mounts = this.mountTable().map((m) => [m.id, m.inode, m.uri, m.readOnly, m.shared, m.options]);
    return packRecord({ v: 1, nextId: this.nextId, nextMountId: this.nextMountId, inodes, mounts, sessions: this.sessions.entries(), toPersist: [...this.toPersist] });
  }

  restore(bytes: Uint8Array): void {
    const s = unpackRecord(bytes) as {
      v: number; nextId: number; nextMountId: number;
      inodes: Array<[number, number, string, boolean, number, number, number, boolean, boolean, boolean, number, string, string, number, number, 0 | [number, 'DELETE' | 'FREE']]>;
      mounts: Array<[number, number, string, boolean, boolean, Array<[string, string]>]>;
      sessions: Array<[string, Array<[number, number]>]>;
      toPersist?: number[];
    };
    if (s.v !== 1) throw new StrataError('INTERNAL', `namespace snapshot version ${s.v} is not supported`);
    const all = new Map<number, Inode>();
    this.pinnedFiles.clear();
    this.ttlInodes.clear();
    for (const [id, parent, name, isDir, length, mtimeMs, blockSize, completed, persisted, childrenLoaded, mountId, owner, group, mode, pinned, ttl] of s.inodes) {
      if (pinned) this.pinnedFiles.add(id);
      if (ttl) this.ttlInodes.add(id);
      all.set(id, {
        id, parent, name, isDir, length, mtimeMs, blockSize, completed, persisted, childrenLoaded, owner, group, mode, ...(pinned ? { pinned: true } : {}), ...(ttl ? { ttl: { ms: ttl[0], action: ttl[1] } } : {}),
        children: isDir ? new Map() : undefined, ...(mountId ? { mountId } : {}),
      });
    }
    for (const n of all.values()) if (n.id !== ROOT_ID) all.get(n.parent)!.children!.set(n.name, n.id);
    this.changes++;
    this.inodes.replace(all.values());
    // The root UFS comes from configuration, not from history: keep the configured one.
    const rootUri = this.mounts.get(ROOT_MOUNT_ID)!.uri;
    this.mounts.clear();
    for (const [id, inode, uri, readOnly, shared, options] of s.mounts) this.mounts.set(id, { id, inode, uri: id === ROOT_MOUNT_ID ? rootUri : uri, readOnly, shared, options });
    this.nextId = s.nextId;
    this.nextMountId = s.nextMountId;
    this.sessions.load(s.sessions);
    this.toPersist.clear();
    for (const id of s.toPersist ?? []) this.toPersist.add(id);
  }

  /** Every file id under (and including) an inode: what a delete drops. */
  fileIdsUnder(n: Inode): number[] {
    if (!n.isDir) return [n.id];
    const out: number[] = [];
    for (const c of this.children(n)) out.push(...this.fileIdsUnder(c));
    return out;
  }

  /** The blocks of every file under (and including) an inode: what its holders drop when it goes. */
  blockIdsUnder(n: Inode): number[] {
    return this.fileIdsUnder(n).flatMap((id) => this.blockIds(this.get(id)!));
  }

  blockIds(f: Inode): number[] {
    if (f.isDir || f.blockSize === 0) return [];
    const n = Math.ceil(f.length / f.blockSize);
    return Array.from({ length: n }, (_, i) => blockIdOf(f.id, i));
  }

  pathJoin(dir: Inode, childName: string): string {
    return joinPath(this.pathOf(dir), childName);
  }
}
