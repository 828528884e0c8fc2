// A block being read through from the UFS, served as it arrives: the readers of
// a cache miss stream the bytes already read while the rest of the block (up to
// 64 MiB) is still being read, instead of waiting for all of it.

export class BlockFill {
  readonly data: Uint8Array;
  private filled = 0;
  private failure: { error: unknown } | undefined;
  private waiters: Array<{ upTo: number; wake: () => void }> = [];
  /** The whole block, once read and checked; rejects when either fails. */
  readonly done: Promise<Uint8Array>;

  /** `fill` appends the block's bytes in order, and resolves once they are all there and good. */
  constructor(length: number, fill: (append: (piece: Uint8Array) => void) => Promise<void>) {
    this.data = new Uint8Array(length);
    this.done = fill((piece) => this.append(piece)).then(
      () => {
        if (this.filled !== this.data.byteLength) throw new Error(`read ${this.filled} of the block's ${this.data.byteLength} bytes`);
        this.wakeAll();
        return this.data;
      },
      (error: unknown) => {
        this.failure = { error };
        this.wakeAll();
        throw error;
      },
    );
    // Readers see the failure through read(); nobody may be listening here.
    this.done.catch(() => undefined);
  }

  get length(): number {
    return this.data.byteLength;
  }

  /** Bytes [from, to) of the block: at once when they are there, else when they arrive. */
  read(from: number, to: number): Uint8Array | Promise<Uint8Array> {
    if (this.failure) return Promise.reject(this.failure.error);
    if (this.filled >= to) return this.data.subarray(from, to);
    return new Promise<Uint8Array>((resolve, reject) => {
      const wake = (): void => {
        if (this.failure) reject(this.failure.error);
        else if (this.filled >= to) resolve(this.data.subarray(from, to));
        else this.waiters.push({ upTo: to, wake });
      };
      this.waiters.push({ upTo: to, wake });
    });
  }

  private append(piece: Uint8Array): void {
    if (this.filled + piece.byteLength > this.data.byteLength) throw new Error(`more than the block's ${this.data.byteLength} bytes`);
    this.data.set(piece, this.filled);
    this.filled += piece.byteLength;
    const due = this.waiters.filter((w) => w.upTo <= this.filled);
    if (due.length === 0) return;
    this.waiters = this.waiters.filter((w) => w.upTo > this.filled);
    for (const w of due) w.wake();
  }

  private wakeAll(): void {
    const all = this.waiters;
    this.waiters = [];
    for (const w of all) w.wake();
  }
}
