// Passive caching (Alluxio's strata.user.file.passive.cache.enabled): when a block
// is streamed from a worker on another host, a worker on the client's own host is
// asked to keep a copy (W.CacheBlock), which it fetches from a holder by itself,
// so the next read on this host is local (short-circuit). The read never waits
// for it, and nothing is asked when no live worker runs on this host.
import type { Env } from '../env.js';
import type { BlockInfo, FileInfo, WorkerInfo } from '../protocol/master.js';
import type * as W from '../protocol/worker.js';
import type { Rpc } from '../rpc.js';
import type { Infer } from '../../transport/schema.js';

/** How long the client trusts its answer to "which live worker is on this host". */
const LOCAL_WORKER_REFRESH_MS = 10_000;

export class PassiveCache {
  private local: { id: string | undefined; at: number } | undefined;
  private asking: Promise<string | undefined> | undefined;

  constructor(
    private readonly env: Env,
    private readonly rpc: Rpc,
    private readonly listWorkers: () => Promise<WorkerInfo[]>,
    private readonly isLocal: (address: string) => boolean,
  ) {}

  /** `block` of `info` was just streamed from worker `from`: a worker on this host, if any other, gets a copy. */
  afterRemoteRead(info: FileInfo, block: BlockInfo, from: string): void {
    const fromAddress = block.locations.find((l) => l.workerId === from)?.address;
    if (fromAddress === undefined || this.isLocal(fromAddress)) return;
    void this.localWorker().then(
      (local) => {
        if (local === undefined || local === from || block.locations.some((l) => l.workerId === local)) return;
        const m: Infer<typeof W.CacheBlock> = { t: 'CacheBlock', path: info.path, blockId: block.id };
        // Best effort: a worker that cannot take it now is asked again after the next remote read.
        this.rpc.request(local, m, 'Ok').catch(() => undefined);
      },
      () => undefined,
    );
  }

  private localWorker(): Promise<string | undefined> {
    if (this.local && this.env.now() - this.local.at < LOCAL_WORKER_REFRESH_MS) return Promise.resolve(this.local.id);
    this.asking ??= this.listWorkers()
      .then((ws) => {
        const id = ws.find((w) => w.state === 'LIVE' && this.isLocal(w.address))?.id;
        this.local = { id, at: this.env.now() };
        return id;
      })
      .finally(() => (this.asking = undefined));
    return this.asking;
  }
}
