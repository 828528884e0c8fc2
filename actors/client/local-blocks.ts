// Short-circuit reads (Alluxio's local block reader): a client on a worker's host
// borrows a cached block's file under a lease and reads it directly. A borrowed
// file stays open while it is being used, so a run of positioned reads on one
// block costs one request to the worker, not one per read; it is given back after
// a short idle time, and always well before the worker would take the lease back.
import type { Disk, Env, OpenFile, Timer } from '../env.js';
import { isStrataError } from '../protocol/envelope.js';
import type * as W from '../protocol/worker.js';
import type { Rpc } from '../rpc.js';
import type { Infer } from '../../transport/schema.js';

/** How long a borrowed block file may sit unused before it is given back. */
const IDLE_MS = 1000;

interface Borrowed {
  readonly worker: string;
  readonly lease: number;
  readonly length: number;
  readonly file: OpenFile | undefined;
  readonly disk: Disk;
  readonly path: string;
  /** Given back by then, whatever the use: the worker's lease must not run out under a reader. */
  readonly returnBy: number;
  lastUsed: number;
  readers: number;
  /** Given back while a read was in flight: released when the last one ends. */
  closing: boolean;
  timer: Timer;
}

export class LocalBlocks {
  private readonly borrowed = new Map<string, Borrowed>();
  private readonly opening = new Map<string, Promise<Borrowed | undefined>>();
  /** Workers that are not on this host, or cannot lend their files: streamed from from now on. */
  private readonly refused = new Set<string>();

  constructor(
    private readonly env: Env,
    private readonly rpc: Rpc,
  ) {}

  /** Whether trying is worthwhile: a host to match and a worker that has not refused. */
  usable(worker: string): boolean {
    return !!this.env.hostName && !!this.env.openLocal && !this.refused.has(worker);
  }

  /**
   * Bytes [from, from + length) of a block the worker holds, read from its file;
   * undefined when that cannot be done (the caller streams instead). Throws when
   * the worker cannot be reached at all.
   */
  async read(worker: string, blockId: number, blockLength: number, from: number, length: number, promote: boolean): Promise<Uint8Array | undefined> {
    const key = `${worker}:${blockId}`;
    let b = this.borrowed.get(key);
    if (b && (this.env.now() >= b.returnBy || promote)) {
      this.giveBack(key, b);
      b = undefined;
    }
    if (!b) {
      let p = this.opening.get(key);
      if (!p) {
        p = this.borrow(key, worker, blockId, promote);
        this.opening.set(key, p);
        const clear = (): void => void this.opening.delete(key);
        p.then(clear, clear);
      }
      b = await p;
    }
    if (!b || b.length !== blockLength) return undefined;
    b.readers++;
    let data: Uint8Array | undefined;
    try {
      data = await (b.file ? b.file.read(from, length) : b.disk.read(b.path, from, length));
    } catch {
      data = undefined;
    } finally {
      b.readers--;
      b.lastUsed = this.env.now();
      if (b.closing && b.readers === 0) this.release(b);
    }
    if (!data || data.byteLength !== length) {
      // A file that cannot be read as promised is not used again.
      this.giveBack(key, b);
      return undefined;
    }
    return data;
  }

  /** Gives every borrowed file back (the client is stopping). */
  closeAll(): void {
    for (const [key, b] of [...this.borrowed]) this.giveBack(key, b);
  }

  private async borrow(key: string, worker: string, blockId: number, promote: boolean): Promise<Borrowed | undefined> {
    let lb: Infer<typeof W.LocalBlock>;
    try {
      lb = await this.rpc.request(worker, { t: 'OpenLocalBlock', blockId, host: this.env.hostName!, ...(promote ? { promote } : {}) } satisfies Infer<typeof W.OpenLocalBlock>, 'LocalBlock');
    } catch (e) {
      if (isStrataError(e, 'FAILED_PRECONDITION')) this.refused.add(worker);
      // A worker that cannot be reached would not stream either: the caller moves on to another.
      if (isStrataError(e, 'UNAVAILABLE') || isStrataError(e, 'DEADLINE_EXCEEDED')) throw e;
      return undefined;
    }
    const grantedAt = this.env.now();
    const disk = this.env.openLocal?.(lb.dirUri);
    const file = disk?.openRead ? await disk.openRead(lb.path).catch(() => undefined) : undefined;
    if (!disk || (disk.openRead && !file)) {
      if (!disk) this.refused.add(worker);
      this.rpc.send(worker, { t: 'CloseLocalBlock', lease: lb.lease } satisfies Infer<typeof W.CloseLocalBlock>);
      return undefined;
    }
    const b: Borrowed = {
      worker, lease: lb.lease, length: lb.length, file, disk, path: lb.path, returnBy: grantedAt + lb.leaseMs / 2, lastUsed: grantedAt, readers: 0, closing: false,
      timer: this.env.setTimer(IDLE_MS, () => this.sweep(key, b)),
    };
    this.borrowed.set(key, b);
    return b;
  }

  private sweep(key: string, b: Borrowed): void {
    if (this.borrowed.get(key) !== b) return;
    const now = this.env.now();
    if (b.readers === 0 && (now - b.lastUsed >= IDLE_MS || now >= b.returnBy)) {
      this.giveBack(key, b);
      return;
    }
    b.timer = this.env.setTimer(Math.max(1, Math.min(IDLE_MS - (now - b.lastUsed), b.returnBy - now)), () => this.sweep(key, b));
  }

  private giveBack(key: string, b: Borrowed): void {
    if (this.borrowed.get(key) === b) this.borrowed.delete(key);
    b.timer.cancel();
    if (b.readers === 0) this.release(b);
    else b.closing = true;
  }

  private release(b: Borrowed): void {
    if (b.closing && b.readers > 0) return;
    b.closing = false;
    b.readers = -1;
    void b.file?.close();
    this.rpc.send(b.worker, { t: 'CloseLocalBlock', lease: b.lease } satisfies Infer<typeof W.CloseLocalBlock>);
  }
}
