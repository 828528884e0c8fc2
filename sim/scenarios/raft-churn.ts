// Reliable and unreliable churn with concurrent clients (MIT 6.5840 "churn"):
// nodes crash and restart, partitions come and go, the network may lose,
// duplicate and reorder; every acknowledged command must end up applied exactly
// once, at the position it was acknowledged with, in the same order everywhere.
import { randomSchedule, runRaftSim } from '../raft-kv.js';
import type { Scenario } from '../scenario.js';

export const raftChurn: Scenario = {
  name: 'raft-churn',
  description: 'Raft under crash/restart and partition churn with 3 concurrent clients; acknowledged commands applied exactly once in one order',
  async run(ctx) {
    const { rng } = ctx;
    const nodes = rng.pick([3, 5]);
    const faultMs = 5000;
    await runRaftSim(ctx, {
      nodes,
      clients: 3,
      faultMs,
      schedule: randomSchedule(rng, faultMs, { nodes, meanGapMs: 400, kinds: ['crash', 'crash', 'crash-leader', 'isolate', 'isolate-leader', 'split'] }),
      diskFaults: rng.chance(0.5),
      checkpointEntries: rng.pick([0, 50]),
    });
  },
};
