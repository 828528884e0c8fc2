// A handle on one version of a file (StrataClient.openFile): positioned reads,
// seeks and sequential reads, each fetching only the byte range it needs. With
// the client cache, bytes come in pages; a reader that reads sequentially gets
// the next pages fetched while it consumes the current ones.
import { StrataError, isStrataError } from '../protocol/envelope.js';
import type { ClientCache } from './client-cache.js';
import type { FileInfo, ReadType, Sink } from './client.js';

/** What a reader needs from the client: ranges of a file, and its status again when holders moved. */
export interface RangeSource {
  readRange(info: FileInfo, offset: number, length: number, sink: Sink, readType: ReadType): Promise<void>;
  getStatus(path: string, forRead: boolean): Promise<FileInfo>;
}

export class FileReader {
  private pos = 0;
  /** Where the last read ended: a read starting there is sequential and triggers prefetch. */
  private lastEnd = -1;
  private closed = false;

  constructor(
    private readonly source: RangeSource,
    private info: FileInfo,
    readonly readType: ReadType,
    private readonly cache: ClientCache | undefined,
  ) {}

  get path(): string {
    return this.info.path;
  }

  get length(): number {
    return this.info.length;
  }

  /** Where the next sequential read starts. */
  get position(): number {
    return this.pos;
  }

  /** Moves the position of sequential reads; anywhere from 0 to the length. */
  seek(position: number): void {
    this.check();
    if (!Number.isSafeInteger(position) || position < 0 || position > this.info.length) {
      throw new StrataError('INVALID_ARGUMENT', `cannot seek to ${position} in ${this.info.path} of ${this.info.length} bytes`);
    }
    this.pos = position;
  }

  /**
   * Reads up to `length` bytes (or into `buffer`, up to its size): from `position`
   * when given (a positioned read, which leaves the position alone), else from the
   * position, which moves past what was read. Fewer bytes only at the end of the
   * file; none there. Returns the bytes, or with a buffer how many were read.
   */
  read(length: number, position?: number): Promise<Uint8Array>;
  read(buffer: Uint8Array, position?: number): Promise<number>;
  async read(target: number | Uint8Array, position?: number): Promise<Uint8Array | number> {
    this.check();
    const want = typeof target === 'number' ? target : target.byteLength;
    if (!Number.isSafeInteger(want) || want < 0) throw new StrataError('INVALID_ARGUMENT', `cannot read ${want} bytes`);
    const at = position ?? this.pos;
    if (!Number.isSafeInteger(at) || at < 0 || at > this.info.length) {
      throw new StrataError('INVALID_ARGUMENT', `cannot read at ${at} in ${this.info.path} of ${this.info.length} bytes`);
    }
    const n = Math.min(want, this.info.length - at);
    const out = typeof target === 'number' ? new Uint8Array(n) : target;
    if (n > 0) await this.fill(out, at, n);
    if (position === undefined) this.pos = at + n;
    return typeof target === 'number' ? out : n;
  }

  /** Drops the handle; reads afterwards fail. Fetches in flight finish into the cache. */
  close(): void {
    this.closed = true;
  }

  private check(): void {
    if (this.closed) throw new StrataError('FAILED_PRECONDITION', `the reader of ${this.info.path} is closed`);
  }

  private async fill(out: Uint8Array, at: number, n: number): Promise<void> {
    const sequential = at === this.lastEnd;
    this.lastEnd = at + n;
    if (!this.cache) {
      await this.fetchInto(out, at, n);
      return;
    }
    const page = this.cache.opts.pageBytes;
    const first = Math.floor(at / page);
    const last = Math.floor((at + n - 1) / page);
    const pages = this.pages(first, last);
    if (sequential || at === 0) this.prefetch(last + 1);
    for (let p = first; p <= last; p++) {
      const data = await pages[p - first]!;
      const pageStart = p * page;
      const from = Math.max(at, pageStart);
      const to = Math.min(at + n, pageStart + data.byteLength);
      out.set(data.subarray(from - pageStart, to - pageStart), from - at);
    }
  }

  /** Pages first..last from the cache, fetching each run of missing pages with one range read. */
  private pages(first: number, last: number): Array<Uint8Array | Promise<Uint8Array>> {
    const cache = this.cache!;
    const out: Array<Uint8Array | Promise<Uint8Array>> = [];
    let runStart = -1;
    const flush = (end: number): void => {
      if (runStart < 0) return;
      out.push(...this.fetchPages(runStart, end));
      runStart = -1;
    };
    for (let p = first; p <= last; p++) {
      const hit = cache.lookup(cache.key(this.info, p));
      if (hit) {
        flush(p - 1);
        out.push(hit);
      } else if (runStart < 0) {
        runStart = p;
      }
    }
    flush(last);
    return out;
  }

  /** Fetches pages first..last as one range and registers each page with the cache. */
  private fetchPages(first: number, last: number): Array<Promise<Uint8Array>> {
    const cache = this.cache!;
    const page = cache.opts.pageBytes;
    const start = first * page;
    const end = Math.min(this.info.length, (last + 1) * page);
    const run = (async () => {
      const buf = new Uint8Array(end - start);
      await this.fetchInto(buf, start, end - start);
      return buf;
    })();
    const out: Array<Promise<Uint8Array>> = [];
    for (let p = first; p <= last; p++) {
      const from = p * page - start;
      out.push(cache.fetch(cache.key(this.info, p), run.then((b) => b.subarray(from, Math.min(b.byteLength, from + page)))));
    }
    return out;
  }

  /** Starts fetching the pages after a sequential reader's, unless cached or on their way. */
  private prefetch(from: number): void {
    const cache = this.cache!;
    const lastPage = Math.ceil(this.info.length / cache.opts.pageBytes) - 1;
    const to = Math.min(lastPage, from + cache.opts.prefetchPages - 1);
    let runStart = -1;
    for (let p = from; p <= to + 1; p++) {
      const missing = p <= to && !cache.has(cache.key(this.info, p));
      if (missing && runStart < 0) runStart = p;
      if (!missing && runStart >= 0) {
        cache.counters.prefetched += p - runStart;
        // A failed prefetch costs nothing: the reader fetches the page itself when it gets there.
        for (const f of this.fetchPages(runStart, p - 1)) f.catch(() => undefined);
        runStart = -1;
      }
    }
  }

  /** Reads [at, at + n) into `out`; once, if the holders the status named are gone, with a fresh status. */
  private async fetchInto(out: Uint8Array, at: number, n: number): Promise<void> {
    for (let attempt = 0; ; attempt++) {
      let off = 0;
      try {
        await this.source.readRange(this.info, at, n, (chunk) => {
          out.set(chunk, off);
          off += chunk.byteLength;
        }, this.readType);
        if (off !== n) throw new StrataError('INTERNAL', `read ${off} bytes of ${this.info.path} at ${at}, expected ${n}`);
        return;
      } catch (e) {
        if (attempt > 0 || !isStrataError(e, 'UNAVAILABLE')) throw e;
        const fresh = await this.source.getStatus(this.info.path, true);
        // Another version of the file now: this handle's bytes are gone.
        if (fresh.fileId !== this.info.fileId || fresh.length !== this.info.length || fresh.mtimeMs !== this.info.mtimeMs) throw e;
        this.info = fresh;
      }
    }
  }
}
