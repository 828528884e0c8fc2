// An in-memory Disk with fsync semantics: each file keeps the bytes last made
// durable by fsync beside its current bytes, so a crash can roll it back (or
// tear it) exactly as a real disk could. The simulator adds faults and latency
// on top through the `faults` hooks; tests use it plain.
import { DiskError, type Disk, type FileStat } from '../actors/env.js';

interface FileNode {
  data: Uint8Array;
  /** Length of the current data. Bytes are stored in `data` up to `len`; capacity may be larger. */
  len: number;
  durable: Uint8Array;
  mtimeMs: number;
}

export interface DiskFaults {
  /** Called before each operation; may throw a DiskError (e.g. EIO, ENOSPC). */
  beforeOp?(op: string, path: string): void;
  /** May return a corrupted copy of data read from the disk. */
  onRead?(path: string, data: Uint8Array): Uint8Array;
  /** On crash, chooses for a file with unsynced bytes how many of them survive (0 = all lost). */
  tornBytes?(path: string, unsynced: number): number;
}

export function normalize(path: string): string {
  const parts: string[] = [];
  for (const p of path.split('/')) {
    if (p === '' || p === '.') continue;
    if (p === '..') throw new DiskError('EINVAL', `path escapes the disk root: ${path}`);
    parts.push(p);
  }
  return parts.join('/');
}

function parentOf(p: string): string {
  const i = p.lastIndexOf('/');
  return i < 0 ? '' : p.slice(0, i);
}

export class MemDisk implements Disk {
  private readonly files = new Map<string, FileNode>();
  private readonly dirs = new Set<string>(['']);
  faults: DiskFaults = {};
  /** Bytes of current file data: the disk's fill level. */
  capacityBytes = Number.POSITIVE_INFINITY;

  /**
   * `shareReads`: read() returns a view of the file's bytes instead of a copy.
   * For a shared UFS, whose readers (workers caching blocks) never write into
   * what they read; it saves a copy of every block read through. Views stay
   * valid: bytes below a file's length are never overwritten in place (append
   * writes past it, and a shrinking truncate moves the file to a new buffer).
   */
  constructor(
    private readonly clock: () => number = () => 0,
    private readonly opts: { shareReads?: boolean } = {},
  ) {}

  private op(op: string, path: string): string {
    const p = normalize(path);
    this.faults.beforeOp?.(op, p);
    return p;
  }

  private file(p: string): FileNode {
    const f = this.files.get(p);
    if (!f) throw new DiskError(this.dirs.has(p) ? 'EISDIR' : 'ENOENT', `no such file: ${p}`);
    return f;
  }

  private mkdirs(p: string): void {
    while (p !== '' && !this.dirs.has(p)) {
      if (this.files.has(p)) throw new DiskError('ENOTDIR', `not a directory: ${p}`);
      this.dirs.add(p);
      p = parentOf(p);
    }
  }

  usedBytes(): number {
    let n = 0;
    for (const f of this.files.values()) n += f.len;
    return n;
  }

  private reserve(extra: number): void {
    if (extra > 0 && this.usedBytes() + extra > this.capacityBytes) throw new DiskError('ENOSPC', 'no space left on simulated disk');
  }

  async stat(path: string): Promise<FileStat | null> {
    const p = this.op('stat', path);
    const f = this.files.get(p);
    if (f) return { size: f.len, mtimeMs: f.mtimeMs, isDir: false };
    return this.dirs.has(p) ? { size: 0, mtimeMs: 0, isDir: true } : null;
  }

  async list(dir: string): Promise<string[]> {
    const p = this.op('list', dir);
    if (!this.dirs.has(p)) throw new DiskError(this.files.has(p) ? 'ENOTDIR' : 'ENOENT', `no such directory: ${p}`);
    const prefix = p === '' ? '' : p + '/';
    const names = new Set<string>();
    for (const k of [...this.files.keys(), ...this.dirs]) {
      if (k !== '' && k.startsWith(prefix) && k !== p) {
        const rest = k.slice(prefix.length);
        if (!rest.includes('/')) names.add(rest);
      }
    }
    return [...names].sort();
  }

  async mkdir(dir: string): Promise<void> {
    this.mkdirs(this.op('mkdir', dir));
  }

  async readFile(path: string): Promise<Uint8Array> {
    const p = this.op('read', path);
    const f = this.file(p);
    const out = f.data.slice(0, f.len);
    return this.faults.onRead ? this.faults.onRead(p, out) : out;
  }

  async read(path: string, offset: number, length: number): Promise<Uint8Array> {
    const p = this.op('read', path);
    const f = this.file(p);
    const start = Math.min(offset, f.len);
    const end = Math.min(f.len, offset + length);
    // A fault hook may corrupt what it is given in place: it always gets a copy.
    const out = this.opts.shareReads && !this.faults.onRead ? f.data.subarray(start, end) : f.data.slice(start, end);
    return this.faults.onRead ? this.faults.onRead(p, out) : out;
  }

  async writeFile(path: string, data: Uint8Array): Promise<void> {
    const p = this.op('write', path);
    if (this.dirs.has(p)) throw new DiskError('EISDIR', `is a directory: ${p}`);
    const old = this.files.get(p);
    this.reserve(data.byteLength - (old?.len ?? 0));
    this.mkdirs(parentOf(p));
    const copy = data.slice();
    this.files.set(p, { data: copy, len: copy.byteLength, durable: old?.durable ?? new Uint8Array(0), mtimeMs: this.clock() });
  }

  async append(path: string, data: Uint8Array): Promise<void> {
    const p = this.op('append', path);
    if (this.dirs.has(p)) throw new DiskError('EISDIR', `is a directory: ${p}`);
    this.reserve(data.byteLength);
    let f = this.files.get(p);
    if (!f) {
      this.mkdirs(parentOf(p));
      f = { data: new Uint8Array(Math.max(64, data.byteLength)), len: 0, durable: new Uint8Array(0), mtimeMs: 0 };
      this.files.set(p, f);
    }
    if (f.len + data.byteLength > f.data.byteLength) {
      const grown = new Uint8Array(Math.max(f.len + data.byteLength, f.data.byteLength * 2));
      grown.set(f.data.subarray(0, f.len));
      f.data = grown;
    }
    f.data.set(data, f.len);
    f.len += data.byteLength;
    f.mtimeMs = this.clock();
  }

  async truncate(path: string, size: number): Promise<void> {
    const p = this.op('truncate', path);
    const f = this.file(p);
    // `durable` may be a view of `data`; detach it before later appends overwrite the shared bytes.
    if (f.durable.buffer === f.data.buffer) f.durable = f.durable.slice();
    // Shrinking moves the kept bytes to a new buffer, so later appends cannot overwrite bytes a view still shows.
    if (size < f.len) {
      f.data = f.data.slice(0, size);
      f.len = size;
    } else if (size > f.len) {
      const grown = new Uint8Array(size);
      grown.set(f.data.subarray(0, f.len));
      f.data = grown;
      f.len = size;
    }
    f.mtimeMs = this.clock();
  }

  async fsync(path: string): Promise<void> {
    const p = this.op('fsync', path);
    const f = this.file(p);
    // A view, not a copy: appends only write past `len`, and truncate detaches it first.
    f.durable = f.data.subarray(0, f.len);
  }

  async rename(from: string, to: string): Promise<void> {
    const a = this.op('rename', from);
    const b = normalize(to);
    const f = this.files.get(a);
    if (f) {
      this.mkdirs(parentOf(b));
      this.files.delete(a);
      this.files.set(b, f);
      return;
    }
    if (!this.dirs.has(a)) throw new DiskError('ENOENT', `no such file: ${a}`);
    const moves: Array<[string, string]> = [];
    for (const k of this.files.keys()) if (k.startsWith(a + '/')) moves.push([k, b + k.slice(a.length)]);
    for (const [k, n] of moves) {
      this.files.set(n, this.files.get(k)!);
      this.files.delete(k);
    }
    for (const d of [...this.dirs]) if (d === a || d.startsWith(a + '/')) {
      this.dirs.delete(d);
      this.dirs.add(b + d.slice(a.length));
    }
    this.mkdirs(parentOf(b));
  }

  async remove(path: string): Promise<void> {
    const p = this.op('remove', path);
    this.files.delete(p);
    if (p === '') {
      this.files.clear();
      this.dirs.clear();
      this.dirs.add('');
      return;
    }
    for (const k of [...this.files.keys()]) if (k.startsWith(p + '/')) this.files.delete(k);
    for (const d of [...this.dirs]) if (d === p || d.startsWith(p + '/')) this.dirs.delete(d);
  }

  /**
   * A power loss: every file falls back to its durable bytes plus, where the
   * fault model says so, a prefix of what was written since (a torn write).
   */
  crash(): void {
    for (const [p, f] of this.files) {
      const durable = f.durable;
      const current = f.data.subarray(0, f.len);
      let keep = 0;
      const extendsDurable = current.byteLength > durable.byteLength && prefixEqual(current, durable);
      if (extendsDurable && this.faults.tornBytes) keep = this.faults.tornBytes(p, current.byteLength - durable.byteLength);
      const next = new Uint8Array(durable.byteLength + keep);
      next.set(durable);
      if (keep > 0) next.set(current.subarray(durable.byteLength, durable.byteLength + keep), durable.byteLength);
      f.data = next;
      f.len = next.byteLength;
    }
  }
}

function prefixEqual(a: Uint8Array, prefix: Uint8Array): boolean {
  if (prefix.byteLength > a.byteLength) return false;
  return Buffer.compare(Buffer.from(a.buffer, a.byteOffset, prefix.byteLength), Buffer.from(prefix.buffer, prefix.byteOffset, prefix.byteLength)) === 0;
}
