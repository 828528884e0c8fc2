// Figure 8 (unreliable), after MIT 6.5840: leaders crash soon after taking
// proposals, so entries of old terms sit on some logs uncommitted, while the
// network drops, duplicates and holds messages for long, reordered delays. The
// Figure 8 rule (commit only by counting entries of the current term) is what
// keeps an old-term entry from being committed and then overwritten.
import { runRaftSim, type FaultEvent } from '../raft-kv.js';
import { QUIET_NETWORK } from '../network.js';
import type { Scenario } from '../scenario.js';

export const raftFigure8Unreliable: Scenario = {
  name: 'raft-figure8-unreliable',
  description: 'Raft Figure 8 on an unreliable network: long reordering, loss, duplication, leaders crashing right after proposals',
  network: (rng) => ({
    ...QUIET_NETWORK,
    baseDelayMs: [0.5, 3],
    jitterMs: 5,
    reorder: true,
    lossP: rng.range(0.01, 0.1),
    duplicateP: rng.range(0.01, 0.05),
    longTailP: rng.range(0.05, 0.2),
    longTailMs: rng.range(50, 400),
  }),
  async run(ctx) {
    const { rng } = ctx;
    const faultMs = 5000;
    const schedule: FaultEvent[] = [];
    for (let t = rng.range(100, 400); t < faultMs; t += rng.range(150, 700)) {
      if (rng.chance(0.6)) schedule.push({ at: t, k: 'crash-leader', downMs: rng.range(50, 1200) });
      else schedule.push({ at: t, k: 'crash', node: rng.int(5), downMs: rng.range(50, 1200) });
    }
    await runRaftSim(ctx, { nodes: 5, clients: 3, faultMs, schedule, thinkMs: [1, 20] });
  },
};
