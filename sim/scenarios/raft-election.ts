// Elections, after the MIT 6.5840 tests "initial election", "re-election" and
// "many elections": a leader must appear within a bound at start, and again
// within a bound each time the leader crashes or is cut off, with 3, 5 or 7 nodes.
import { runRaftSim, type FaultEvent } from '../raft-kv.js';
import type { Scenario } from '../scenario.js';

export const raftElection: Scenario = {
  name: 'raft-election',
  description: 'Raft elections: initial, re-election after leader crash/isolation, many elections with up to 7 nodes',
  network: 'quiet',
  async run(ctx) {
    const { rng } = ctx;
    const nodes = rng.pick([3, 5, 7, 7]);
    // One leader fault at a time, each healed before the next: a connected majority always remains.
    const schedule: FaultEvent[] = [];
    let t = rng.range(200, 600);
    for (let i = 0; i < 6; i++) {
      const ms = rng.range(300, 1200);
      schedule.push(rng.chance(0.5) ? { at: t, k: 'crash-leader', downMs: ms } : { at: t, k: 'isolate-leader', ms });
      t += ms + rng.range(1300, 1800);
    }
    await runRaftSim(ctx, {
      nodes,
      clients: 1,
      faultMs: t,
      schedule,
      thinkMs: [20, 80],
      initialElectionMs: 2000,
      // Election timeouts are 300-600 ms; a pre-vote round and a split vote or two fit.
      reelectionMs: 2500,
    });
  },
};
