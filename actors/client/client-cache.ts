// The client-side cache (after Alluxio's client local cache): fixed-size pages of
// files, kept in memory, least recently used out first. Pages are keyed by the
// file's version (id, length, modification time), so a file overwritten or changed
// in the UFS never serves old pages. A page being fetched is shared: readers and
// the prefetcher asking for it at once cause one fetch.

export interface ClientCacheOptions {
  /** strata.user.client.cache.size */
  maxBytes: number;
  /** strata.user.client.cache.page.size */
  pageBytes: number;
  /** strata.user.client.cache.prefetch.pages: pages read ahead of a sequential reader. */
  prefetchPages: number;
}

/** Which version of which file a page belongs to. */
export interface FileVersion {
  readonly fileId: number;
  readonly length: number;
  readonly mtimeMs: number;
}

export class ClientCache {
  private readonly pages = new Map<string, Uint8Array>();
  private readonly fetching = new Map<string, Promise<Uint8Array>>();
  private bytes = 0;
  readonly counters = { hits: 0, misses: 0, prefetched: 0, evicted: 0 };

  constructor(readonly opts: ClientCacheOptions) {
    if (!Number.isSafeInteger(opts.pageBytes) || opts.pageBytes <= 0) throw new RangeError(`client cache page size must be a positive whole number of bytes, got ${opts.pageBytes}`);
  }

  get usedBytes(): number {
    return this.bytes;
  }

  key(file: FileVersion, page: number): string {
    return `${file.fileId}:${file.length}:${file.mtimeMs}:${page}`;
  }

  /** A cached page (now the most recently used), or one being fetched, or undefined. */
  lookup(key: string): Uint8Array | Promise<Uint8Array> | undefined {
    const p = this.pages.get(key);
    if (p) {
      this.pages.delete(key);
      this.pages.set(key, p);
      this.counters.hits++;
      return p;
    }
    return this.fetching.get(key);
  }

  has(key: string): boolean {
    return this.pages.has(key) || this.fetching.has(key);
  }

  /** Registers a fetch of `key`; the page is kept once it arrives (if the fetch fails, nothing is kept). */
  fetch(key: string, page: Promise<Uint8Array>): Promise<Uint8Array> {
    this.counters.misses++;
    this.fetching.set(key, page);
    page.then(
      (data) => {
        if (this.fetching.get(key) === page) this.fetching.delete(key);
        this.put(key, data);
      },
      () => {
        if (this.fetching.get(key) === page) this.fetching.delete(key);
      },
    );
    return page;
  }

  private put(key: string, data: Uint8Array): void {
    if (data.byteLength > this.opts.maxBytes) return;
    const old = this.pages.get(key);
    if (old) this.bytes -= old.byteLength;
    this.pages.delete(key);
    this.pages.set(key, data);
    this.bytes += data.byteLength;
    for (const [k, p] of this.pages) {
      if (this.bytes <= this.opts.maxBytes) break;
      this.pages.delete(k);
      this.bytes -= p.byteLength;
      this.counters.evicted++;
    }
  }
}
