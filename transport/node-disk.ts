// The real Disk: a directory tree on node:fs, with the same path rules as the
// simulated disk (relative '/'-separated paths, '' or '/' the root, '..' refused)
// plus the checks only a real file system needs: encoded separators, NUL bytes
// and symlinks that lead outside the root are refused, so a hostile path from a
// client can never reach another part of the machine.
import * as fs from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import * as nodePath from 'node:path';
import { pathToFileURL } from 'node:url';
import { DiskError, type Disk, type FileStat, type OpenFile } from '../actors/env.js';

type DiskCode = DiskError['code'];

const ERRNO: Record<string, DiskCode> = {
  ENOENT: 'ENOENT',
  EEXIST: 'EEXIST',
  ENOTEMPTY: 'EEXIST',
  ENOTDIR: 'ENOTDIR',
  EISDIR: 'EISDIR',
  ENOSPC: 'ENOSPC',
  EDQUOT: 'ENOSPC',
  EFBIG: 'ENOSPC',
  EACCES: 'EACCES',
  EPERM: 'EACCES',
  EROFS: 'EACCES',
  ELOOP: 'EACCES',
  EINVAL: 'EINVAL',
  ENAMETOOLONG: 'EINVAL',
  EIO: 'EIO',
};

function mapError(e: unknown, op: string, rel: string): DiskError {
  if (e instanceof DiskError) return e;
  const errno = (e as NodeJS.ErrnoException).code ?? '';
  const code = ERRNO[errno] ?? 'EIO';
  return new DiskError(code, `${op} ${rel || '/'}: ${errno || (e as Error).message}`);
}

/** Splits a disk path into safe segments, or throws. */
export function safeSegments(path: string): string[] {
  if (typeof path !== 'string') throw new DiskError('EINVAL', 'path is not a string');
  if (path.includes('\0')) throw new DiskError('EINVAL', `path contains a NUL byte: ${JSON.stringify(path)}`);
  if (path.includes('\\')) throw new DiskError('EINVAL', `path contains a backslash: ${JSON.stringify(path)}`);
  // Someone decoding the path later must not turn it into a separator or a '..'.
  if (/%(2f|5c|2e|00)/i.test(path)) throw new DiskError('EINVAL', `path contains an encoded separator or dot: ${JSON.stringify(path)}`);
  const out: string[] = [];
  for (const p of path.split('/')) {
    if (p === '' || p === '.') continue;
    if (p === '..') throw new DiskError('EINVAL', `path escapes the disk root: ${JSON.stringify(path)}`);
    out.push(p);
  }
  return out;
}

interface CachedHandle {
  handle: Promise<FileHandle>;
  lastUse: number;
  dirty: boolean;
}

export interface NodeDiskOptions {
  /** Open append handles kept; the least recently used is closed beyond this. */
  maxOpenHandles?: number;
  /** A cached handle unused this long is closed. */
  idleCloseMs?: number;
}

export class NodeDisk implements Disk {
  readonly root: string;
  private readonly realRoot: string;
  private readonly handles = new Map<string, CachedHandle>();
  private readonly queues = new Map<string, Promise<void>>();
  private readonly maxHandles: number;
  private readonly idleMs: number;
  private sweeper: NodeJS.Timeout | undefined;
  /** Files whose creation has not been made durable by a directory fsync. */
  private readonly unsyncedEntries = new Set<string>();
  /** Directory fsyncs running, and the one queued behind each (shared by whoever asks meanwhile). */
  private readonly dirSyncs = new Map<string, { running: Promise<void>; next?: Promise<void> }>();
  private closed = false;

  constructor(root: string, opts: NodeDiskOptions = {}) {
    this.root = nodePath.resolve(root);
    fs.mkdirSync(this.root, { recursive: true });
    this.realRoot = fs.realpathSync(this.root);
    this.maxHandles = opts.maxOpenHandles ?? 32;
    this.idleMs = opts.idleCloseMs ?? 5000;
  }

  get localUri(): string {
    return pathToFileURL(this.root).href;
  }

  /** Absolute path for a disk path; synchronous so callers can queue in call order. */
  private locate(path: string, op: string): { abs: string; rel: string } {
    if (this.closed) throw new DiskError('EIO', `${op} ${path}: disk is closed`);
    const segs = safeSegments(path);
    const rel = segs.join('/');
    return { abs: segs.length === 0 ? this.root : nodePath.join(this.root, ...segs), rel };
  }

  /**
   * Runs operations on one path in the order they were called, as the simulated
   * disk does: an append issued before a read is visible to that read.
   */
  private serial<T>(rels: string[], fn: () => Promise<T>): Promise<T> {
    const prev = Promise.all(rels.map((r) => this.queues.get(r)));
    const run = prev.then(fn);
    const tail = run.then(
      () => {},
      () => {},
    );
    for (const r of rels) this.queues.set(r, tail);
    void tail.then(() => {
      for (const r of rels) if (this.queues.get(r) === tail) this.queues.delete(r);
    });
    return run;
  }

  /** locate + queue + containment check: the shape of every single-path operation. */
  private op<T>(path: string, op: string, fn: (abs: string, rel: string) => Promise<T>): Promise<T> {
    return this.queued(path, op, async (abs, rel) => {
      await this.checkInside(abs, rel);
      return fn(abs, rel);
    });
  }

  /** locate + queue, for the operations that check containment their own way. */
  private queued<T>(path: string, op: string, fn: (abs: string, rel: string) => Promise<T>): Promise<T> {
    let loc: { abs: string; rel: string };
    try {
      loc = this.locate(path, op);
    } catch (e) {
      return Promise.reject(e);
    }
    const { abs, rel } = loc;
    return this.serial([rel], () => fn(abs, rel));
  }

  /** Follows symlinks along the existing part of `abs`; refuses if they lead outside. */
  private async checkInside(abs: string, rel: string): Promise<void> {
    let probe = abs;
    for (;;) {
      try {
        const real = await fs.promises.realpath(probe);
        if (real !== this.realRoot && !real.startsWith(this.realRoot + nodePath.sep)) {
          throw new DiskError('EACCES', `path leads outside the disk root: ${rel}`);
        }
        return;
      } catch (e) {
        if (e instanceof DiskError) throw e;
        const code = (e as NodeJS.ErrnoException).code;
        if (code !== 'ENOENT' && code !== 'ENOTDIR') throw mapError(e, 'resolve', rel);
        // A dangling symlink must not be created through either.
        try {
          const l = await fs.promises.lstat(probe);
          if (l.isSymbolicLink()) throw new DiskError('EACCES', `path goes through a dangling symlink: ${rel}`);
        } catch (le) {
          if (le instanceof DiskError) throw le;
        }
        const parent = nodePath.dirname(probe);
        if (parent === probe || probe === this.root) return;
        probe = parent;
      }
    }
  }

  stat(path: string): Promise<FileStat | null> {
    return this.op(path, 'stat', async (abs, rel) => {
      try {
        const s = await fs.promises.stat(abs);
        return { size: s.size, mtimeMs: s.mtimeMs, isDir: s.isDirectory() };
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code;
        if (code === 'ENOENT' || code === 'ENOTDIR') return null;
        throw mapError(e, 'stat', rel);
      }
    });
  }

  list(dir: string): Promise<string[]> {
    return this.op(dir, 'list', async (abs, rel) => {
      try {
        return (await fs.promises.readdir(abs)).sort();
      } catch (e) {
        throw mapError(e, 'list', rel);
      }
    });
  }

  mkdir(dir: string): Promise<void> {
    // A new directory is checked through its parent: one realpath, where checking
    // the missing name itself costs a failed realpath, an lstat and the parent's
    // realpath. Only a name that already existed (perhaps a symlink) is checked whole.
    return this.queued(dir, 'mkdir', async (abs, rel) => {
      await this.checkInside(rel === '' ? abs : nodePath.dirname(abs), rel);
      try {
        const first = await fs.promises.mkdir(abs, { recursive: true });
        if (first) await this.syncDir(nodePath.dirname(first));
        else await this.checkInside(abs, rel);
      } catch (e) {
        if (e instanceof DiskError) throw e;
        if ((e as NodeJS.ErrnoException).code === 'EEXIST') throw new DiskError('ENOTDIR', `mkdir ${rel}: a file is in the way`);
        throw mapError(e, 'mkdir', rel);
      }
    });
  }

  readFile(path: string): Promise<Uint8Array> {
    return this.op(path, 'read', (abs, rel) => this.readRange(abs, rel, 0, Number.MAX_SAFE_INTEGER));
  }

  read(path: string, offset: number, length: number): Promise<Uint8Array> {
    return this.op(path, 'read', async (abs, rel) => {
      if (!Number.isSafeInteger(offset) || offset < 0 || !Number.isSafeInteger(length) || length < 0) {
        throw new DiskError('EINVAL', `read ${rel}: bad range ${offset}+${length}`);
      }
      return this.readRange(abs, rel, offset, length);
    });
  }

  /**
   * One allocation and as few read calls as the kernel allows: fs.readFile reads in
   * 512 KiB steps, which makes a 64 MiB block cost over a hundred round trips.
   */
  private async readRange(abs: string, rel: string, offset: number, length: number): Promise<Uint8Array> {
    let fh: FileHandle | undefined;
    try {
      fh = await open(abs, 'r');
      return await readAt(fh, offset, length, (await fh.stat()).size);
    } catch (e) {
      throw mapError(e, 'read', rel);
    } finally {
      await fh?.close().catch(() => {});
    }
  }

  openRead(path: string): Promise<OpenFile> {
    return this.op(path, 'open', async (abs, rel) => {
      let fh: FileHandle;
      let size: number;
      try {
        fh = await open(abs, 'r');
        size = (await fh.stat()).size;
      } catch (e) {
        throw mapError(e, 'open', rel);
      }
      return {
        read: async (offset, length) => {
          if (!Number.isSafeInteger(offset) || offset < 0 || !Number.isSafeInteger(length) || length < 0) {
            throw new DiskError('EINVAL', `read ${rel}: bad range ${offset}+${length}`);
          }
          try {
            return await readAt(fh, offset, length, size);
          } catch (e) {
            throw mapError(e, 'read', rel);
          }
        },
        close: () => fh.close().catch(() => {}),
      };
    });
  }

  writeFile(path: string, data: Uint8Array): Promise<void> {
    return this.op(path, 'write', async (abs, rel) => {
      await this.dropHandle(rel);
      try {
        await this.ensureParent(abs, rel);
        const existed = await exists(abs);
        await fs.promises.writeFile(abs, data);
        if (!existed) this.unsyncedEntries.add(rel);
      } catch (e) {
        throw mapError(e, 'write', rel);
      }
    });
  }

  append(path: string, data: Uint8Array): Promise<void> {
    return this.queued(path, 'append', async (abs, rel) => {
      // A cached handle was checked when it was opened; skipping the check keeps a
      // journal's stream of small appends to one write syscall each.
      let h = this.handles.get(rel);
      if (!h) {
        await this.checkInside(abs, rel);
        h = this.openAppendHandle(abs, rel);
      } else {
        this.touch(rel, h);
      }
      try {
        const fh = await h.handle;
        let done = 0;
        while (done < data.byteLength) {
          const { bytesWritten } = await fh.write(data, done, data.byteLength - done);
          done += bytesWritten;
        }
        h.dirty = true;
        h.lastUse = Date.now();
      } catch (e) {
        // A failed handle (e.g. the file was removed underneath) is not reused.
        if (this.handles.get(rel) === h) await this.dropHandle(rel);
        throw mapError(e, 'append', rel);
      }
    });
  }

  truncate(path: string, size: number): Promise<void> {
    return this.op(path, 'truncate', async (abs, rel) => {
      const h = this.handles.get(rel);
      try {
        if (h) {
          await (await h.handle).truncate(size);
        } else {
          const st = await fs.promises.stat(abs);
          if (st.isDirectory()) throw new DiskError('EISDIR', `truncate ${rel}: is a directory`);
          await fs.promises.truncate(abs, size);
        }
      } catch (e) {
        throw mapError(e, 'truncate', rel);
      }
    });
  }

  fsync(path: string): Promise<void> {
    return this.queued(path, 'fsync', async (abs, rel) => {
      // As for append, a cached handle was checked when it was opened: checking
      // again cost a journal's every fsync a realpath (one more thread-pool trip
      // and a readlink per path component) before the sync could start.
      if (!this.handles.has(rel)) await this.checkInside(abs, rel);
      try {
        const h = this.handles.get(rel);
        if (h) {
          await (await h.handle).sync();
          h.dirty = false;
          h.lastUse = Date.now();
        } else {
          const fh = await open(abs, 'r+');
          try {
            await fh.sync();
          } finally {
            await fh.close();
          }
        }
        if (this.unsyncedEntries.delete(rel)) await this.syncDir(nodePath.dirname(abs));
      } catch (e) {
        throw mapError(e, 'fsync', rel);
      }
    });
  }

  rename(from: string, to: string): Promise<void> {
    let a: { abs: string; rel: string };
    let b: { abs: string; rel: string };
    try {
      a = this.locate(from, 'rename');
      b = this.locate(to, 'rename');
    } catch (e) {
      return Promise.reject(e);
    }
    return this.serial([a.rel, b.rel], async () => {
      await this.checkInside(a.abs, a.rel);
      await this.checkInside(b.abs, b.rel);
      await this.dropHandlesUnder(a.rel);
      await this.dropHandlesUnder(b.rel);
      try {
        await this.ensureParent(b.abs, b.rel);
        await fs.promises.rename(a.abs, b.abs);
        await this.syncDir(nodePath.dirname(b.abs));
        if (nodePath.dirname(a.abs) !== nodePath.dirname(b.abs)) await this.syncDir(nodePath.dirname(a.abs));
        if (this.unsyncedEntries.delete(a.rel)) this.unsyncedEntries.add(b.rel);
      } catch (e) {
        throw mapError(e, 'rename', `${a.rel} -> ${b.rel}`);
      }
    });
  }

  remove(path: string): Promise<void> {
    return this.op(path, 'remove', async (abs, rel) => {
      await this.dropHandlesUnder(rel);
      try {
        if (rel === '') {
          for (const name of await fs.promises.readdir(abs)) await fs.promises.rm(nodePath.join(abs, name), { recursive: true, force: true });
          await this.syncDir(abs);
          return;
        }
        // rm on a symlink removes the link itself, never what it points to.
        await fs.promises.rm(abs, { recursive: true, force: true });
        await this.syncDir(nodePath.dirname(abs));
      } catch (e) {
        throw mapError(e, 'remove', rel);
      }
    });
  }

  /** Syncs and closes every cached handle. The disk refuses operations afterwards. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const rel of [...this.handles.keys()]) await this.serial([rel], () => this.dropHandle(rel, true));
    await Promise.all([...this.queues.values()]);
    if (this.sweeper) clearInterval(this.sweeper);
  }

  /** Open cached append handles (for tests). */
  openHandles(): number {
    return this.handles.size;
  }

  private touch(rel: string, h: CachedHandle): void {
    // Most recently used moves to the end of the map's order.
    this.handles.delete(rel);
    this.handles.set(rel, h);
  }

  private openAppendHandle(abs: string, rel: string): CachedHandle {
    const entry: CachedHandle = {
      handle: (async () => {
        await this.ensureParent(abs, rel);
        const existed = await exists(abs);
        const fh = await open(abs, 'a');
        if (!existed) this.unsyncedEntries.add(rel);
        return fh;
      })(),
      lastUse: Date.now(),
      dirty: false,
    };
    entry.handle.catch(() => {});
    this.handles.set(rel, entry);
    this.evictHandles();
    this.startSweeper();
    return entry;
  }

  private evictHandles(): void {
    while (this.handles.size > this.maxHandles) {
      const oldest = this.handles.keys().next().value as string;
      const h = this.handles.get(oldest)!;
      this.handles.delete(oldest);
      // Behind any operation already queued on that file, which may still be using it.
      void this.serial([oldest], () => this.closeHandle(h, false));
    }
  }

  private startSweeper(): void {
    if (this.sweeper || this.idleMs <= 0) return;
    this.sweeper = setInterval(() => {
      const now = Date.now();
      for (const [rel, h] of this.handles) {
        if (now - h.lastUse < this.idleMs) continue;
        this.handles.delete(rel);
        void this.serial([rel], () => this.closeHandle(h, false));
      }
      if (this.handles.size === 0 && this.sweeper) {
        clearInterval(this.sweeper);
        this.sweeper = undefined;
      }
    }, Math.max(100, Math.floor(this.idleMs / 2)));
    this.sweeper.unref();
  }

  /**
   * Closes a cached handle. Unsynced data stays in the page cache, exactly as if
   * the handle had stayed open, so durability still needs an fsync by path;
   * `sync` is for shutdown, where syncing is the polite thing to do.
   */
  private async dropHandle(rel: string, sync = false): Promise<void> {
    const h = this.handles.get(rel);
    if (!h) return;
    this.handles.delete(rel);
    await this.closeHandle(h, sync);
  }

  private async closeHandle(h: CachedHandle, sync: boolean): Promise<void> {
    try {
      const fh = await h.handle;
      if (sync && h.dirty) await fh.sync();
      await fh.close();
    } catch {
      // Opening or syncing failed; the operation that needed it already reported it.
    }
  }

  private async dropHandlesUnder(rel: string): Promise<void> {
    for (const k of [...this.handles.keys()]) if (rel === '' || k === rel || k.startsWith(rel + '/')) await this.dropHandle(k);
  }

  private async ensureParent(abs: string, rel: string): Promise<void> {
    const parent = nodePath.dirname(abs);
    if (parent === this.root) return;
    try {
      const first = await fs.promises.mkdir(parent, { recursive: true });
      if (first) await this.syncDir(nodePath.dirname(first));
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'EEXIST' || code === 'ENOTDIR') throw new DiskError('ENOTDIR', `${rel}: a parent is not a directory`);
      throw e;
    }
  }

  /**
   * Makes a directory's entries durable. Calls that arrive while one fsync of the
   * directory runs share the next one (group commit): it starts after every
   * change they made, so it covers them all, and many creates in one directory
   * cost a few directory fsyncs instead of one each.
   */
  private syncDir(dir: string): Promise<void> {
    const s = this.dirSyncs.get(dir);
    if (!s) return this.startDirSync(dir, Promise.resolve());
    s.next ??= this.startDirSync(dir, s.running);
    return s.next;
  }

  private startDirSync(dir: string, after: Promise<void>): Promise<void> {
    const running = after.then(async () => {
      const s = this.dirSyncs.get(dir);
      if (s && s.next === running) this.dirSyncs.set(dir, { running });
      let fh: FileHandle | undefined;
      try {
        fh = await open(dir, 'r');
        await fh.sync();
      } catch {
        // Some file systems refuse fsync on directories; the data fsync still holds.
      } finally {
        await fh?.close().catch(() => {});
        if (this.dirSyncs.get(dir)?.running === running && this.dirSyncs.get(dir)?.next === undefined) this.dirSyncs.delete(dir);
      }
    });
    if (!this.dirSyncs.has(dir)) this.dirSyncs.set(dir, { running });
    return running;
  }
}

async function exists(abs: string): Promise<boolean> {
  try {
    await fs.promises.lstat(abs);
    return true;
  } catch {
    return false;
  }
}

/** Up to `length` bytes at `offset` of a file of `size` bytes, in one allocation and as few reads as the kernel allows. */
async function readAt(fh: FileHandle, offset: number, length: number, size: number): Promise<Uint8Array> {
  const n = Math.max(0, Math.min(length, size - offset));
  const buf = Buffer.allocUnsafe(n);
  let got = 0;
  while (got < n) {
    const { bytesRead } = await fh.read(buf, got, n - got, offset + got);
    if (bytesRead === 0) break;
    got += bytesRead;
  }
  return new Uint8Array(buf.buffer, buf.byteOffset, got);
}
