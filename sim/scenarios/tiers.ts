// A worker with MEM, SSD and HDD tiers, far smaller than the data, under a random
// sequence of reads (every read type), writes, pins, unpins and frees from one
// client, checked against a model of what the worker was asked to do:
// - no tier directory ever holds more than its quota (checked every 2 ms);
// - a pinned block never leaves the worker;
// - a NO_CACHE read leaves none of the file's blocks behind;
// - eviction is LRU: each tier's eviction order is the order of last access, and a
//   block that leaves a tier was used no more recently than any block that stays.
import type { ReadType, StrataClient, WriteType } from '../../actors/client/client.js';
import { blockIdOf } from '../../actors/block-id.js';
import type { WorkerActor } from '../../actors/worker/worker.js';
import type { TierAlias } from '../../storage/tiered-store.js';
import type { Scenario, ScenarioContext } from '../scenario.js';
import { buildDataCluster, type DataCluster } from './data-cluster.js';
import { READ_TYPES } from './consistency.js';

const BLOCK = 32 * 1024;
const TIERS: readonly TierAlias[] = ['MEM', 'SSD', 'HDD'];

export const tiers: Scenario = {
  name: 'tiers',
  description: 'one MEM/SSD/HDD worker under random reads (all read types), writes, pins and frees: quotas hold, pinned blocks stay, NO_CACHE leaves nothing, eviction is LRU',
  network: 'quiet',
  async run(ctx) {
    const dc = await buildDataCluster(ctx, {
      workers: 1, clients: 1, files: 14, minFileBytes: 1, maxFileBytes: 4 * BLOCK, blockSize: BLOCK, workerCapacity: 0,
      chunkSize: 8 * 1024, diskFaults: false, heartbeatIntervalMs: 200,
      tiers: {
        levels: [
          { alias: 'MEM', dirs: [{ path: 'tiers/mem', quotaBytes: 3 * BLOCK, mediumType: 'MEM' }] },
          { alias: 'SSD', dirs: [{ path: 'tiers/ssd', quotaBytes: 5 * BLOCK, mediumType: 'SSD' }] },
          { alias: 'HDD', dirs: [{ path: 'tiers/hdd', quotaBytes: 8 * BLOCK, mediumType: 'HDD' }] },
        ],
        allocator: 'MaxFree',
        annotator: { kind: 'LRU' },
      },
    });
    await dc.waitForWorkers();
    await new TierModel(ctx, dc).run(160);
  },
};

class TierModel {
  /** Logical time of each block's last access, as the model counts them. */
  private readonly lastAccess = new Map<number, number>();
  private clock = 0;
  private readonly paths: string[];
  private readonly pinned = new Set<string>();
  private written = 0;
  private readonly stats = { reads: 0, noCache: 0, promoted: 0, evicted: 0, moved: 0, pins: 0 };

  constructor(
    private readonly ctx: ScenarioContext,
    private readonly dc: DataCluster,
  ) {
    this.paths = [...dc.files.keys()];
  }

  private get worker(): WorkerActor {
    return this.ctx.cluster.actor<WorkerActor>(this.dc.workers[0]!);
  }

  private get client(): StrataClient {
    return this.ctx.cluster.actor<StrataClient>(this.dc.clients[0]!);
  }

  private tierOf(): Map<number, TierAlias> {
    const out = new Map<number, TierAlias>();
    for (const t of TIERS) for (const id of this.worker.store.evictionOrder(t)) out.set(id, t);
    return out;
  }

  async run(ops: number): Promise<void> {
    const { ctx } = this;
    let done = false;
    let prevPinned = new Set<number>();
    const watch = (): void => {
      const store = this.worker.store;
      for (const d of store.dirUsage()) ctx.check(d.usedBytes <= d.quotaBytes, () => `${d.tier} dir ${d.path} holds ${d.usedBytes} bytes, its quota is ${d.quotaBytes}`);
      for (const b of prevPinned) ctx.check(store.has(b), () => `pinned block ${b} left the worker`);
      prevPinned = new Set(store.blockIds().filter((b) => store.isPinned(b)));
      if (!done) ctx.sim.schedule(2, 'scenario', 'watch', watch);
    };
    watch();
    for (let i = 0; i < ops; i++) await ctx.settle(this.step());
    done = true;
    const s = this.stats;
    ctx.log(`reads=${s.reads} noCache=${s.noCache} written=${this.written} pins=${s.pins} evicted=${s.evicted} movedDown=${s.moved}`);
    ctx.check(s.evicted > 0 && s.moved > 0, () => `evicted=${s.evicted} movedDown=${s.moved}: the workload did not exercise eviction through the tiers`);
  }

  private async step(): Promise<void> {
    const { ctx } = this;
    const rng = ctx.rng;
    const r = rng.next();
    const before = this.tierOf();
    const beforeAccess = new Map(this.lastAccess);
    const touched = new Set<number>();
    let freed = new Set<number>();
    if (r < 0.6) {
      const path = rng.pick(this.paths);
      const readType = rng.pick(READ_TYPES);
      const info = await this.client.getStatus(path);
      const ids = info.blocks.map((b) => b.id);
      const cachedBefore = new Set(ids.filter((b) => this.worker.store.has(b)));
      await this.client.readFile(path, readType);
      // The worker promotes after serving: let that finish within this step.
      if (readType === 'CACHE_PROMOTE') await this.pause(100);
      this.stats.reads++;
      for (const b of ids) {
        if (!this.worker.store.has(b)) continue;
        this.lastAccess.set(b, ++this.clock);
        touched.add(b);
      }
      if (readType === 'NO_CACHE') {
        this.stats.noCache++;
        const left = ids.filter((b) => !cachedBefore.has(b) && this.worker.store.has(b));
        ctx.check(left.length === 0, () => `NO_CACHE read of ${path} left blocks ${left.join(', ')} on the worker`);
      }
      if (readType === 'CACHE_PROMOTE') this.stats.promoted++;
    } else if (r < 0.75) {
      const path = `/data/w${this.written++}`;
      // Not MUST_CACHE: evicting its only copy loses it, which a random read would trip on;
      // not ASYNC_THROUGH: persisting reads blocks at times the model cannot know.
      const writeType = rng.pick<WriteType>(['CACHE_THROUGH', 'THROUGH']);
      const bytes = new Uint8Array(1 + rng.int(3 * BLOCK));
      const info = await this.client.writeFile(path, bytes, { writeType });
      this.paths.push(path);
      this.dc.files.set(path, bytes);
      for (let i = 0; i * BLOCK < bytes.byteLength; i++) {
        const b = blockIdOf(info.fileId, i);
        if (!this.worker.store.has(b)) continue;
        this.lastAccess.set(b, ++this.clock);
        touched.add(b);
      }
    } else if (r < 0.88) {
      // Pin or unpin a file, and let a heartbeat carry it to the worker. At most two
      // files are pinned, so the tiers keep room for everything else.
      const path = rng.pick(this.paths);
      const pin = !this.pinned.has(path) && this.pinned.size < 2;
      await this.client.setAttribute(path, { pinned: pin });
      if (pin) this.pinned.add(path);
      else this.pinned.delete(path);
      this.stats.pins++;
      await this.pause(500);
      const info = await this.client.getStatus(path);
      for (const b of info.blocks) {
        if (!this.worker.store.has(b.id)) continue;
        ctx.check(this.worker.store.isPinned(b.id) === pin, () => `block ${b.id} of ${path} is ${pin ? 'not ' : ''}pinned on the worker after ${pin ? 'pin' : 'unpin'}`);
      }
    } else {
      // Free an unpinned file (a pinned one would need force, which the model never uses).
      const path = rng.pick(this.paths.filter((p) => !this.pinned.has(p)));
      // After a heartbeat: the master frees only the blocks it knows the worker holds.
      await this.pause(500);
      const info = await this.client.getStatus(path);
      freed = new Set(info.blocks.map((b) => b.id));
      await this.client.free(path);
      await this.pause(500);
      for (const b of freed) ctx.check(!this.worker.store.has(b), () => `block ${b} of ${path} is still on the worker after fs free`);
    }
    this.checkLru(before, beforeAccess, touched, freed);
  }

  /**
   * Each tier's eviction order must be the order of last access; and a block that
   * left a tier during the step (moved down, or out of the worker) must have been
   * used no more recently than any unpinned block that stayed in that tier.
   */
  private checkLru(before: Map<number, TierAlias>, beforeAccess: Map<number, number>, touched: Set<number>, freed: Set<number>): void {
    const { ctx } = this;
    const store = this.worker.store;
    const after = this.tierOf();
    for (const t of TIERS) {
      const order = store.evictionOrder(t);
      for (let i = 1; i < order.length; i++) {
        const a = this.lastAccess.get(order[i - 1]!) ?? -1;
        const b = this.lastAccess.get(order[i]!) ?? -1;
        ctx.check(a <= b, () => `${t} would evict block ${order[i - 1]} (last used at ${a}) before block ${order[i]} (last used at ${b}): not LRU; order ${order.map((x) => `${x}@${this.lastAccess.get(x)}`).join(' ')}`);
      }
    }
    const level = (t: TierAlias | undefined) => (t === undefined ? TIERS.length : TIERS.indexOf(t));
    for (const [v, t] of before) {
      if (touched.has(v) || freed.has(v) || level(after.get(v)) <= level(t)) continue;
      if (after.has(v)) this.stats.moved++;
      else this.stats.evicted++;
      for (const [s, st] of before) {
        if (st !== t || after.get(s) !== t || touched.has(s) || store.isPinned(s)) continue;
        ctx.check((beforeAccess.get(s) ?? -1) >= (beforeAccess.get(v) ?? -1), () =>
          `block ${v} (last used at ${beforeAccess.get(v)}) left ${t} while block ${s} (last used at ${beforeAccess.get(s)}) stayed: not LRU`);
      }
    }
  }

  private pause(ms: number): Promise<void> {
    return new Promise((r) => this.ctx.sim.schedule(ms, 'scenario', 'pause', r));
  }
}
