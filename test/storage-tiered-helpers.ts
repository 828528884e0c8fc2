// Shared fixtures for the tiered store tests: MemDisks behind a wrapper that
// checks, at every write, that no block directory holds more block bytes than its
// quota — the invariant must hold at every instant, not only between operations.
import type { Disk, FileStat, Logger, LogLevel } from '../actors/env.js';
import { MemDisk } from '../sim/disk.js';
import type { AllocatorKind } from '../storage/allocator.js';
import type { AnnotatorSpec } from '../storage/annotator.js';
import { TieredBlockStore, type TierAlias, type TieredStoreEvent } from '../storage/tiered-store.js';

function norm(p: string): string {
  return p.split('/').filter((s) => s !== '' && s !== '.').join('/');
}

/**
 * Forwards to a MemDisk, tracking file sizes itself so it can check quotas
 * synchronously. Metadata files (*.meta) do not count, as in Alluxio, where a
 * quota is for block bytes.
 */
export class WatchedDisk implements Disk {
  readonly inner: MemDisk;
  private readonly sizes = new Map<string, number>();
  readonly quotas = new Map<string, number>();
  violations: string[] = [];
  /** Extra microtask hops per operation (and more for reads), so concurrent operations interleave. */
  hops = 0;
  readHops = 0;

  constructor(inner = new MemDisk()) {
    this.inner = inner;
  }

  /** Re-reads sizes from the inner disk (after a crash rolled files back). */
  async resync(): Promise<void> {
    this.sizes.clear();
    const walk = async (dir: string): Promise<void> => {
      for (const name of await this.inner.list(dir)) {
        const p = dir === '' ? name : `${dir}/${name}`;
        const st = await this.inner.stat(p);
        if (st?.isDir) await walk(p);
        else if (st) this.sizes.set(p, st.size);
      }
    };
    await walk('');
  }

  blockBytesUnder(dir: string): number {
    const d = norm(dir);
    let n = 0;
    for (const [p, s] of this.sizes) if ((d === '' || p.startsWith(d + '/')) && !p.endsWith('.meta')) n += s;
    return n;
  }

  private check(): void {
    for (const [dir, quota] of this.quotas) {
      const used = this.blockBytesUnder(dir);
      if (used > quota) this.violations.push(`${dir}: ${used} > ${quota}`);
    }
  }

  private async hop(n = this.hops): Promise<void> {
    for (let i = 0; i < n; i++) await Promise.resolve();
  }

  async stat(path: string): Promise<FileStat | null> {
    await this.hop();
    return this.inner.stat(path);
  }
  async list(dir: string): Promise<string[]> {
    await this.hop();
    return this.inner.list(dir);
  }
  async mkdir(dir: string): Promise<void> {
    return this.inner.mkdir(dir);
  }
  async readFile(path: string): Promise<Uint8Array> {
    await this.hop(this.hops + this.readHops);
    return this.inner.readFile(path);
  }
  async read(path: string, offset: number, length: number): Promise<Uint8Array> {
    return this.inner.read(path, offset, length);
  }
  async writeFile(path: string, data: Uint8Array): Promise<void> {
    await this.hop();
    await this.inner.writeFile(path, data);
    this.sizes.set(norm(path), data.byteLength);
    this.check();
  }
  async append(path: string, data: Uint8Array): Promise<void> {
    await this.hop();
    await this.inner.append(path, data);
    this.sizes.set(norm(path), (this.sizes.get(norm(path)) ?? 0) + data.byteLength);
    this.check();
  }
  async truncate(): Promise<void> {
    throw new Error('the tiered store does not truncate');
  }
  async fsync(path: string): Promise<void> {
    await this.hop();
    return this.inner.fsync(path);
  }
  async rename(from: string, to: string): Promise<void> {
    await this.hop();
    await this.inner.rename(from, to);
    const s = this.sizes.get(norm(from));
    if (s === undefined) throw new Error(`WatchedDisk: rename of an untracked path ${from}`);
    this.sizes.delete(norm(from));
    this.sizes.set(norm(to), s);
    this.check();
  }
  async remove(path: string): Promise<void> {
    await this.hop();
    await this.inner.remove(path);
    const p = norm(path);
    for (const k of [...this.sizes.keys()]) if (k === p || p === '' || k.startsWith(p + '/')) this.sizes.delete(k);
  }
}

export interface Layout {
  alias: TierAlias;
  quotas: number[];
}

export interface Fixture {
  disks: WatchedDisk[][];
  events: TieredStoreEvent[];
  logs: Array<{ level: LogLevel; msg: string; fields?: Record<string, unknown> }>;
  open(): Promise<TieredBlockStore>;
}

/** One WatchedDisk per directory, reused across `open` calls so tests can restart the store. */
export function fixture(
  layout: Layout[],
  opts: {
    allocator?: AllocatorKind;
    annotator?: AnnotatorSpec;
    pathOf?: (alias: TierAlias, dir: number) => string;
    onEvent?: (e: TieredStoreEvent) => void;
    recoverUnpersisted?: boolean;
  } = {},
): Fixture {
  const pathOf = opts.pathOf ?? ((alias, i) => `worker/${alias.toLowerCase()}${i}`);
  const disks = layout.map((l) =>
    l.quotas.map((q, i) => {
      const d = new WatchedDisk();
      d.quotas.set(pathOf(l.alias, i), q);
      return d;
    }),
  );
  const events: TieredStoreEvent[] = [];
  const logs: Fixture['logs'] = [];
  const log: Logger = { log: (level, msg, fields) => logs.push({ level, msg, ...(fields ? { fields } : {}) }) };
  let now = 1000;
  return {
    disks,
    events,
    logs,
    open: () =>
      TieredBlockStore.open({
        levels: layout.map((l, li) => ({
          alias: l.alias,
          dirs: l.quotas.map((q, i) => ({ disk: disks[li]![i]!, path: pathOf(l.alias, i), quotaBytes: q })),
        })),
        ...(opts.allocator ? { allocator: opts.allocator } : {}),
        ...(opts.annotator ? { annotator: opts.annotator } : {}),
        ...(opts.recoverUnpersisted ? { recoverUnpersisted: true } : {}),
        clock: () => now++,
        log,
        onEvent: (e) => {
          events.push(e);
          opts.onEvent?.(e);
        },
      }),
  };
}

/** `n` bytes that identify the block, so a block served from the wrong file shows. */
export function bytes(id: number, n: number): Uint8Array {
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) out[i] = (id * 31 + i * 7 + 1) & 0xff;
  return out;
}

export function allViolations(f: Fixture): string[] {
  return f.disks.flat().flatMap((d) => d.violations);
}

export const THREE_TIERS: Layout[] = [
  { alias: 'MEM', quotas: [30] },
  { alias: 'SSD', quotas: [30] },
  { alias: 'HDD', quotas: [30] },
];
