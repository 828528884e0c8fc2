// What an operator's supervisor does for the masters in the scenarios: a master
// whose journal failed stops serving and must be restarted.
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

/** Brings every master back (restarting failed ones, as a supervisor would) and, for a group, waits for a leader. */
export async function healMasters(ctx: ScenarioContext, masters: readonly string[]): Promise<boolean> {
  if (masters.length === 1 && masters[0] === MASTER_ID) return healMaster(ctx);
  const { cluster } = ctx;
  for (let round = 0; round < 5; round++) {
    for (const id of masters) {
      if (cluster.state(id) === 'starting') continue;
      if (cluster.isUp(id) && cluster.actor<MasterActor>(id).failed) cluster.crash(id);
      if (cluster.state(id) === 'down') await ctx.settle(cluster.start(id).catch(() => undefined));
    }
    const led = () => masters.some((id) => cluster.isUp(id) && cluster.actor<MasterActor>(id).raftStatus?.role === 'leader');
    await ctx.run({ until: ctx.sim.now + 5000, stopWhen: led });
    if (led()) return true;
  }
  return false;
}
