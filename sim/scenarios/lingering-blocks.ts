// Blocks a worker keeps as the only copy of their data (never evicted) must not
// outlive their file: once the cluster has been quiet for longer than a worker's
// bound for abandoned writes (2 × its RPC timeout without a write stream for the
// file), every such block on a live worker belongs to a file that exists and is
// complete. Deleted, replaced and never-completed files' blocks are gone.
import type { FileInfo, StrataClient } from '../../actors/client/client.js';
import { fileOfBlock } from '../../actors/block-id.js';
import { isStrataError } from '../../actors/protocol/envelope.js';
import type { WorkerActor } from '../../actors/worker/worker.js';
import type { ScenarioContext } from '../scenario.js';
import type { DataCluster } from './data-cluster.js';

/** `paths`: every path the workload may have left a file at. Faults must be off. */
export async function checkNoLingeringBlocks(ctx: ScenarioContext, dc: DataCluster, paths: readonly string[], quietMs: number): Promise<void> {
  await ctx.run({ until: ctx.sim.now + quietMs });
  const client = ctx.cluster.actor<StrataClient>(dc.clients[0]!);
  const status = async (p: string): Promise<FileInfo | null> => {
    for (let attempt = 1; ; attempt++) {
      try {
        return await ctx.settle(client.getStatus(p));
      } catch (e) {
        if (isStrataError(e, 'NOT_FOUND')) return null;
        ctx.check(attempt < 5, () => `getStatus ${p} failed 5 times on a quiet network: ${(e as Error).message}`);
      }
    }
  };
  const complete = new Set<number>();
  for (const p of paths) {
    const info = await status(p);
    if (info?.completed) complete.add(info.fileId);
  }
  let kept = 0;
  for (const w of dc.workers) {
    if (!ctx.cluster.isUp(w)) continue;
    const only = ctx.cluster.actor<WorkerActor>(w).store.unpersistedBlockIds();
    kept += only.length;
    const lingering = only.filter((b) => !complete.has(fileOfBlock(b)));
    ctx.check(lingering.length === 0, () => `${w} still keeps ${lingering.length} only-copy blocks of deleted or never-completed files after ${quietMs} ms of quiet: ${lingering.slice(0, 8).join(', ')}`);
  }
  ctx.log(`onlyCopyBlocks=${kept} (all of complete files)`);
}
