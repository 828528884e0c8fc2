// The blocks of a file a client streams through a worker: its bytes are cut at
// block boundaries and each block is written to the tiered store as a BlockWriter.
// When the client said how long the file is, every block's length is known
// before its first byte, so the bytes go to the block's file as they arrive and
// a block is committed (fsynced) while the next one streams in. Otherwise a
// block's pieces wait in memory until it is full or the file ends, and are
// written then; the pieces are never copied into one buffer either way.
import type { Logger } from '../env.js';
import { StrataError, isStrataError } from '../protocol/envelope.js';
import type { BlockWriter } from '../../storage/tiered-store.js';

export interface BlockSink {
  openWriter(blockId: number, length: number, opts: { unpersisted?: boolean }): Promise<BlockWriter>;
}

export interface WrittenBlocksOptions {
  store: BlockSink;
  /** Block ids of the file, by index. */
  blockId(index: number): number;
  blockSize: number;
  /** The file's length, when the client declared it. */
  length: number | undefined;
  /**
   * The blocks are the only copy (MUST_CACHE, ASYNC_THROUGH): they are stored
   * unpersisted, and a block that cannot be kept fails the write. Otherwise the
   * file is written through and a block that cannot be cached only costs the cache.
   */
  onlyCopy: boolean;
  /** Who is writing (for messages). */
  self: string;
  log: Logger;
  /** A block was committed to the store. */
  onStored?(blockId: number, bytes: number): void;
}

export class WrittenBlocks {
  /** Blocks committed to the store, in order. */
  readonly stored: number[] = [];
  private index = 0;
  /** Bytes of the current block so far. */
  private bytes = 0;
  /** The current block's writer, when its length was known at its start. */
  private writer: BlockWriter | undefined;
  /** The current block's pieces, when its length was not known at its start. */
  private pieces: Uint8Array[] = [];
  /** The current block is not being cached (written through and the cache refused it). */
  private skipping = false;
  /** The last full block being committed while the next one streams in. */
  private committing: Promise<void> = Promise.resolve();
  private failure: StrataError | undefined;
  private total = 0;

  constructor(private readonly opts: WrittenBlocksOptions) {
    if (!Number.isSafeInteger(opts.blockSize) || opts.blockSize <= 0) throw new StrataError('INTERNAL', `block size ${opts.blockSize}`);
  }

  /** Blocks begun so far (committed, being committed, or being written). */
  get begun(): number {
    return this.index + (this.bytes > 0 ? 1 : 0);
  }

  /** Adds the file's next bytes; rejects when a block that is the only copy cannot be kept. */
  async add(data: Uint8Array): Promise<void> {
    if (this.failure) throw this.failure;
    const declared = this.opts.length;
    if (declared !== undefined && this.total + data.byteLength > declared) {
      throw this.fail(new StrataError('INVALID_ARGUMENT', `the file was declared ${declared} bytes long, and ${this.total + data.byteLength} arrived`));
    }
    this.total += data.byteLength;
    let off = 0;
    while (off < data.byteLength) {
      const n = Math.min(this.opts.blockSize - this.bytes, data.byteLength - off);
      if (this.bytes === 0) await this.begin();
      await this.put(data.subarray(off, off + n));
      this.bytes += n;
      off += n;
      if (this.bytes === this.opts.blockSize) await this.end();
    }
    if (this.failure) throw this.failure;
  }

  /** Ends the last block and waits until every block is committed; rejects as `add` does. */
  async finish(): Promise<void> {
    if (this.failure) throw this.failure;
    const declared = this.opts.length;
    if (declared !== undefined && this.total !== declared) {
      throw this.fail(new StrataError('INVALID_ARGUMENT', `the file was declared ${declared} bytes long, and ${this.total} arrived`));
    }
    if (this.bytes > 0) await this.end();
    await this.committing;
    if (this.failure) throw this.failure;
  }

  /** Gives up the block being written (its space comes back) and waits for commits in progress. */
  async abandon(): Promise<void> {
    this.failure ??= new StrataError('FAILED_PRECONDITION', 'the write was given up');
    const w = this.writer;
    this.writer = undefined;
    this.pieces = [];
    await w?.abort();
    await this.committing;
  }

  private fail(e: StrataError): StrataError {
    this.failure ??= e;
    return this.failure;
  }

  private async begin(): Promise<void> {
    this.skipping = false;
    const declared = this.opts.length;
    if (declared === undefined) return;
    const length = Math.min(this.opts.blockSize, declared - this.index * this.opts.blockSize);
    try {
      const w = await this.opts.store.openWriter(this.opts.blockId(this.index), length, { unpersisted: this.opts.onlyCopy });
      // Given up while the space was being made: nobody else will abort this writer.
      if (this.failure) await w.abort();
      else this.writer = w;
    } catch (e) {
      this.skipping = true;
      this.refused(this.opts.blockId(this.index), e);
    }
  }

  private async put(piece: Uint8Array): Promise<void> {
    if (this.skipping || this.failure) return;
    if (!this.writer) {
      this.pieces.push(piece);
      return;
    }
    try {
      await this.writer.append(piece);
    } catch (e) {
      const w = this.writer;
      this.writer = undefined;
      await w.abort();
      this.skipping = true;
      this.refused(w.blockId, e);
    }
  }

  /** Closes the current block; one block is committed while the next streams in, a third waits. */
  private async end(): Promise<void> {
    const id = this.opts.blockId(this.index);
    const bytes = this.bytes;
    const writer = this.writer;
    const pieces = this.pieces;
    const skipped = this.skipping;
    this.index++;
    this.bytes = 0;
    this.writer = undefined;
    this.pieces = [];
    this.skipping = false;
    await this.committing;
    if (skipped || this.failure) {
      await writer?.abort();
      return;
    }
    this.committing = this.commit(id, bytes, writer, pieces);
  }

  private async commit(id: number, bytes: number, writer: BlockWriter | undefined, pieces: Uint8Array[]): Promise<void> {
    let w = writer;
    try {
      if (!w) {
        w = await this.opts.store.openWriter(id, bytes, { unpersisted: this.opts.onlyCopy });
        for (const p of pieces) await w.append(p);
      }
      await w.commit();
    } catch (e) {
      await w?.abort();
      this.refused(id, e);
      return;
    }
    this.stored.push(id);
    this.opts.onStored?.(id, bytes);
  }

  /** The store would not take a block: the write fails if it is the only copy, else only the cache misses it. */
  private refused(id: number, e: unknown): void {
    const message = e instanceof Error ? e.message : String(e);
    if (!this.opts.onlyCopy) {
      this.opts.log.log('warn', `block ${id} written through but not cached: ${message}`);
      return;
    }
    if (isStrataError(e, 'INVALID_ARGUMENT')) this.fail(e);
    else this.fail(new StrataError(isStrataError(e, 'UNAVAILABLE') ? 'UNAVAILABLE' : 'RESOURCE_EXHAUSTED', `${this.opts.self} cannot keep block ${id}: ${message}`));
  }
}
