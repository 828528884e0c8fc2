// What an operator's supervisor does for a single master in the scenarios: a
// master whose journal failed stops serving and must be restarted.
import { MASTER_ID, type MasterActor } from '../../actors/master/master.js';
import type { ScenarioContext } from '../scenario.js';

export function masterServing(ctx: ScenarioContext): boolean {
  return ctx.cluster.isUp(MASTER_ID) && !ctx.cluster.actor<MasterActor>(MASTER_ID).failed;
}

/** Restarts the master until it serves (bounded); returns whether it does. */
export async function healMaster(ctx: ScenarioContext, attempts = 5): Promise<boolean> {
  for (let i = 0; i < attempts && !masterServing(ctx); i++) {
    // A restart already under way is let finish first.
    if (ctx.cluster.state(MASTER_ID) === 'starting') {
      await ctx.run({ until: ctx.sim.now + 30_000, stopWhen: () => ctx.cluster.state(MASTER_ID) !== 'starting' });
      if (masterServing(ctx)) break;
    }
    if (ctx.cluster.isUp(MASTER_ID)) ctx.cluster.crash(MASTER_ID);
    if (ctx.cluster.state(MASTER_ID) === 'down') await ctx.settle(ctx.cluster.start(MASTER_ID).catch(() => undefined));
  }
  return masterServing(ctx);
}
