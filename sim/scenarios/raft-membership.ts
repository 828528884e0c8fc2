// Membership changes one server at a time: a group of 3 of 5 nodes grows and
// shrinks through add/remove under crashes and partitions. The core refuses a
// change until the leader has committed an entry of its term and no other change
// is pending; the safety checks hold across every configuration.
import { runRaftSim, type FaultEvent } from '../raft-kv.js';
import type { Scenario } from '../scenario.js';

export const raftMembership: Scenario = {
  name: 'raft-membership',
  description: 'Raft add/remove one server at a time under crashes and partitions, 3 to 5 voters',
  async run(ctx) {
    const { rng } = ctx;
    const faultMs = 6000;
    const schedule: FaultEvent[] = [];
    for (let t = rng.range(200, 500); t < faultMs; t += rng.range(150, 500)) {
      const r = rng.next();
      if (r < 0.45) schedule.push({ at: t, k: rng.chance(0.6) ? 'add' : 'remove', node: rng.int(5) });
      else if (r < 0.7) schedule.push({ at: t, k: 'crash', node: rng.int(5), downMs: rng.range(100, 1500) });
      else if (r < 0.85) schedule.push({ at: t, k: 'isolate', node: rng.int(5), ms: rng.range(100, 1500) });
      else schedule.push({ at: t, k: 'transfer', to: rng.int(5) });
    }
    await runRaftSim(ctx, {
      nodes: 5,
      initialVoters: 3,
      clients: 2,
      faultMs,
      schedule,
      checkpointEntries: rng.pick([0, 30]),
    });
  },
};
