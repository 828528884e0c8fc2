// `strata fsadmin ufs --mode`: a UFS under maintenance is made read-only or
// unreachable for this process. Every UFS handed to an actor is wrapped, so the
// master (and workers) refuse operations on it with PERMISSION_DENIED while the
// mode lasts, without the actors knowing about modes.
import type { Disk, FileStat } from '../actors/env.js';
import { StrataError } from '../actors/protocol/envelope.js';

export const UFS_MODES = ['noAccess', 'readOnly', 'readWrite'] as const;
export type UfsMode = (typeof UFS_MODES)[number];

export function isUfsMode(v: string): v is UfsMode {
  return (UFS_MODES as readonly string[]).includes(v);
}

/** The modes of this process's UFSes, by root directory; readWrite is not stored. */
class UfsModes {
  private readonly modes = new Map<string, UfsMode>();

  set(root: string, mode: UfsMode): void {
    if (mode === 'readWrite') this.modes.delete(root);
    else this.modes.set(root, mode);
  }

  get(root: string): UfsMode {
    return this.modes.get(root) ?? 'readWrite';
  }

  entries(): Array<[string, UfsMode]> {
    return [...this.modes].sort((a, b) => (a[0] < b[0] ? -1 : 1));
  }

  private check(root: string, uri: string, write: boolean): void {
    const mode = this.get(root);
    if (mode === 'noAccess' || (write && mode === 'readOnly')) {
      throw new StrataError('PERMISSION_DENIED', `the UFS ${uri} is in ${mode} mode (strata fsadmin ufs --mode readWrite ${uri} lifts it)`);
    }
  }

  /** A view of `disk` (the UFS at `root`) that obeys the mode current at each call. */
  wrap(root: string, uri: string, disk: Disk): Disk {
    // Async, so a refusal is a rejected promise like any other disk failure.
    const read = async <T>(f: () => Promise<T>): Promise<T> => {
      this.check(root, uri, false);
      return f();
    };
    const write = async <T>(f: () => Promise<T>): Promise<T> => {
      this.check(root, uri, true);
      return f();
    };
    const openRead = disk.openRead?.bind(disk);
    return {
      // Workers stream a UFS file's blocks through one open file rather than a read (an open) per chunk.
      ...(openRead ? { openRead: (p: string) => read(() => openRead(p)) } : {}),
      stat: (p): Promise<FileStat | null> => read(() => disk.stat(p)),
      list: (d) => read(() => disk.list(d)),
      readFile: (p) => read(() => disk.readFile(p)),
      read: (p, o, n) => read(() => disk.read(p, o, n)),
      mkdir: (d) => write(() => disk.mkdir(d)),
      writeFile: (p, data) => write(() => disk.writeFile(p, data)),
      append: (p, data) => write(() => disk.append(p, data)),
      truncate: (p, n) => write(() => disk.truncate(p, n)),
      fsync: (p) => write(() => disk.fsync(p)),
      rename: (a, b) => write(() => disk.rename(a, b)),
      remove: (p) => write(() => disk.remove(p)),
    };
  }
}

/** One table per process: the modes set on it by `fsadmin ufs`. */
export const ufsModes = new UfsModes();
