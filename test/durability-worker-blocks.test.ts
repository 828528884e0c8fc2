// Blocks a worker keeps as the only copy of their data (MUST_CACHE, ASYNC_THROUGH
// before persistence, files being written) must never be evicted, but must not
// hold its tiers for good either:
// - after a restart, blocks that were stored written through are evictable at once,
//   and the master's answer about the rest comes with the registration, before any
//   heartbeat (durability seeds 79 and 111: a worker restarted with a MEM tier full
//   of written-through blocks refused every MUST_CACHE write until its first heartbeat);
// - blocks of a write whose writer is gone (never completed) are released once the
//   worker has had no write stream for the file for 2 × its RPC timeout, not before,
//   and the file can then no longer be completed.
import { describe, expect, it } from 'vitest';
import type { StrataClient, WriteType } from '../actors/client/client.js';
import { isStrataError, type Message } from '../actors/protocol/envelope.js';
import type { WorkerActor } from '../actors/worker/worker.js';
import { fileOfBlock } from '../actors/block-id.js';
import { runScenarioObject, type ScenarioContext } from '../sim/scenario.js';
import { buildDataCluster, type DataCluster, type DataClusterSpec } from '../sim/scenarios/data-cluster.js';
import { RawClient } from './helpers/raw-client.js';

const BLOCK = 1024;
/** The workers' RPC timeout in buildDataCluster: abandoned blocks go after twice this. */
const WORKER_RPC_TIMEOUT_MS = 2000;

interface Bed {
  ctx: ScenarioContext;
  dc: DataCluster;
  worker(): WorkerActor;
  write(path: string, writeType: WriteType, length?: number): Promise<void>;
  /** A clean error code, or 'ok'. */
  attempt(p: Promise<unknown>): Promise<string>;
  raw(): RawClient;
}

/** One master, one worker with a MEM tier of four blocks, one client and a raw client; quiet network, no disk faults. */
async function withBed(spec: Partial<DataClusterSpec>, body: (b: Bed) => Promise<void>): Promise<void> {
  const r = await runScenarioObject({
    name: 'durability-worker-blocks',
    description: 'unit bed',
    network: 'quiet',
    async run(ctx) {
      const dc = await buildDataCluster(ctx, {
        workers: 1, clients: 1, files: 0, maxFileBytes: 0, blockSize: BLOCK, workerCapacity: 4 * BLOCK, chunkSize: 256, diskFaults: false, ...spec,
      });
      ctx.cluster.addNode('raw', (env) => new RawClient(env, 1000));
      await ctx.settle(ctx.cluster.start('raw'));
      await dc.waitForWorkers();
      const attempt = (p: Promise<unknown>): Promise<string> => ctx.settle(p.then(() => 'ok', (e: unknown) => (isStrataError(e) ? e.code : Promise.reject(e))));
      await body({
        ctx,
        dc,
        worker: () => ctx.cluster.actor<WorkerActor>(dc.workers[0]!),
        write: async (path, writeType, length = BLOCK) => {
          const client = ctx.cluster.actor<StrataClient>(dc.clients[0]!);
          await ctx.settle(client.writeFile(path, new Uint8Array(length).fill(7), { writeType }));
        },
        attempt,
        raw: () => ctx.cluster.actor<RawClient>('raw'),
      });
    },
  }, 1, { logs: true });
  expect(r.ok, `${r.reason}\n${(r.logs ?? []).slice(-40).join('\n')}`).toBe(true);
}

describe('a restarted worker and the blocks it keeps as the only copy', () => {
  it('takes a MUST_CACHE write at once when its tier is full of blocks it stored written through', async () => {
    // Heartbeats a minute apart: nothing but the restart itself may settle what is evictable.
    await withBed({ heartbeatIntervalMs: 60_000, master: { workerTimeoutMs: 600_000 } }, async ({ ctx, dc, worker, write, attempt }) => {
      for (let i = 0; i < 4; i++) await write(`/t/f${i}`, 'CACHE_THROUGH');
      expect(worker().store.blockIds()).toHaveLength(4);
      expect(worker().store.unpersistedBlockIds()).toEqual([]);
      await restart(ctx, dc);
      expect(worker().store.blockIds()).toHaveLength(4);
      expect(worker().store.unpersistedBlockIds()).toEqual([]);
      const client = ctx.cluster.actor<StrataClient>(dc.clients[0]!);
      expect(await attempt(client.writeFile('/m/new', new Uint8Array(BLOCK).fill(9), { writeType: 'MUST_CACHE' }))).toBe('ok');
    });
  });

  it('learns with its registration which of its recovered only-copy blocks were persisted meanwhile', async () => {
    const spec: Partial<DataClusterSpec> = {
      heartbeatIntervalMs: 60_000,
      master: { workerTimeoutMs: 600_000, persistCheckIntervalMs: 200, jobs: { persistence: { initialWaitMs: 0 } } },
    };
    await withBed(spec, async ({ ctx, dc, worker, write, attempt }) => {
      const client = ctx.cluster.actor<StrataClient>(dc.clients[0]!);
      for (let i = 0; i < 4; i++) await write(`/a/f${i}`, 'ASYNC_THROUGH');
      const persisted = async (): Promise<boolean> => (await Promise.all([0, 1, 2, 3].map((i) => client.getStatus(`/a/f${i}`)))).every((s) => s.persisted);
      let all = false;
      for (let t = 0; t < 40 && !all; t++) {
        await ctx.run({ until: ctx.sim.now + 500 });
        all = await ctx.settle(persisted());
      }
      expect(all).toBe(true);
      // No heartbeat since: the worker still counts them as its only copy.
      expect(worker().store.unpersistedBlockIds()).toHaveLength(4);
      await restart(ctx, dc);
      expect(worker().store.blockIds()).toHaveLength(4);
      expect(worker().store.unpersistedBlockIds()).toEqual([]);
      expect(await attempt(client.writeFile('/m/new', new Uint8Array(BLOCK).fill(9), { writeType: 'MUST_CACHE' }))).toBe('ok');
    });
  });
});

/** Crashes and restarts the worker, and gives it time to register (the master may still count it live meanwhile). */
async function restart(ctx: ScenarioContext, dc: DataCluster): Promise<void> {
  ctx.cluster.crash(dc.workers[0]!);
  await ctx.settle(ctx.cluster.start(dc.workers[0]!));
  await ctx.run({ until: ctx.sim.now + 1000 });
}

/** A writer speaking the raw protocol: creates a file, streams chunks to the worker, and may stop anywhere. */
class RawWriter {
  fileId = 0;
  stream = 0;
  private seq = 0;
  constructor(
    private readonly b: Bed,
    readonly path: string,
  ) {}

  private call(to: 'master' | 'worker', m: Message & Record<string, unknown>, expect: string): Promise<Message> {
    const rpc = this.b.raw().rpc;
    return to === 'master' ? this.b.raw().call(m, expect) : rpc.request(this.b.dc.workers[0]!, m, expect);
  }

  async open(): Promise<void> {
    const created = (await this.b.ctx.settle(this.call('master', { t: 'CreateFile', path: this.path, overwrite: false }, 'FileInfoReply'))) as unknown as { info: { fileId: number } };
    this.fileId = created.info.fileId;
    const ready = (await this.b.ctx.settle(this.call('worker', { t: 'WriteOpen', fileId: this.fileId, cache: true, ufs: false }, 'WriteReady'))) as unknown as { stream: number };
    this.stream = ready.stream;
  }

  /** Acknowledged, and a block it filled stored (the worker stores it while the next chunks stream in). */
  async chunk(bytes: number): Promise<void> {
    await this.b.ctx.settle(this.call('worker', { t: 'WriteChunk', stream: this.stream, seq: this.seq++, data: new Uint8Array(bytes).fill(3) }, 'WriteAck'));
    await this.b.ctx.run({ until: this.b.ctx.sim.now + 50 });
  }

  async close(): Promise<void> {
    await this.b.ctx.settle(this.call('worker', { t: 'WriteClose', stream: this.stream, chunks: this.seq, abort: false }, 'WriteDone'));
  }

  complete(length: number): Promise<string> {
    return this.b.attempt(this.call('master', { t: 'CompleteFile', path: this.path, length, fileId: this.fileId, persisted: false }, 'FileInfoReply'));
  }

  blocks(): number[] {
    return this.b.worker().store.blockIds().filter((id) => fileOfBlock(id) === this.fileId);
  }
}

describe('blocks of abandoned writes', () => {
  const spec: Partial<DataClusterSpec> = { heartbeatIntervalMs: 300 };

  it('are released 2 × the RPC timeout after the last write activity, not before, and the file can no longer be completed', async () => {
    await withBed(spec, async (b) => {
      const w = new RawWriter(b, '/m/abandoned');
      await w.open();
      await w.chunk(BLOCK);
      await w.chunk(BLOCK / 2);
      // Closed (both blocks stored) and then the writer vanishes before completing the file.
      await w.close();
      const closedAt = b.ctx.sim.now;
      expect(w.blocks()).toHaveLength(2);
      expect(b.worker().store.unpersistedBlockIds()).toEqual(w.blocks());
      await b.ctx.run({ until: closedAt + 2 * WORKER_RPC_TIMEOUT_MS - 200 });
      expect(w.blocks()).toHaveLength(2);
      await b.ctx.run({ until: closedAt + 2 * WORKER_RPC_TIMEOUT_MS + 3 * 300 });
      expect(w.blocks()).toEqual([]);
      expect(b.worker().store.unpersistedBlockIds()).toEqual([]);
      // A writer that was only slow learns its write failed; it is never acknowledged without its data.
      expect(await w.complete(BLOCK + BLOCK / 2)).toBe('FAILED_PRECONDITION');
    });
  });

  it('survive as long as their writer keeps streaming, however long the write takes', async () => {
    await withBed(spec, async (b) => {
      const w = new RawWriter(b, '/m/slow');
      await w.open();
      for (let i = 0; i < 4; i++) {
        // Under the worker's idle timeout between chunks, well past 2 × it in all.
        if (i > 0) await b.ctx.run({ until: b.ctx.sim.now + 1500 });
        await w.chunk(BLOCK);
        expect(w.blocks()).toHaveLength(i + 1);
      }
      await b.ctx.run({ until: b.ctx.sim.now + 1500 });
      await w.close();
      expect(await w.complete(4 * BLOCK)).toBe('ok');
      // Complete: the only copy of acknowledged data, kept for good.
      await b.ctx.run({ until: b.ctx.sim.now + 4 * WORKER_RPC_TIMEOUT_MS });
      expect(w.blocks()).toHaveLength(4);
    });
  });

  it('recovered by a worker restarted mid-write are released 2 × the RPC timeout after it started, not before', async () => {
    await withBed(spec, async (b) => {
      const w = new RawWriter(b, '/m/cut');
      await w.open();
      await w.chunk(BLOCK);
      expect(w.blocks()).toHaveLength(1);
      await restart(b.ctx, b.dc);
      const startedAt = b.ctx.sim.now - 1000;
      expect(w.blocks()).toHaveLength(1);
      await b.ctx.run({ until: startedAt + 2 * WORKER_RPC_TIMEOUT_MS - 200 });
      expect(w.blocks()).toHaveLength(1);
      await b.ctx.run({ until: startedAt + 2 * WORKER_RPC_TIMEOUT_MS + 3 * 300 });
      expect(w.blocks()).toEqual([]);
    });
  });

  it('of a deleted file are released too, while complete unpersisted files keep theirs', async () => {
    await withBed({ ...spec, heartbeatIntervalMs: 300 }, async (b) => {
      await b.write('/m/kept', 'MUST_CACHE');
      const w = new RawWriter(b, '/m/deleted');
      await w.open();
      await w.chunk(BLOCK);
      await w.close();
      expect(await b.attempt(b.raw().call({ t: 'Delete', path: '/m/deleted', recursive: false }, 'Ok'))).toBe('ok');
      await b.ctx.run({ until: b.ctx.sim.now + 3 * WORKER_RPC_TIMEOUT_MS });
      expect(w.blocks()).toEqual([]);
      expect(b.worker().store.unpersistedBlockIds()).toHaveLength(1);
    });
  });
});
