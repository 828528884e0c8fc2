// Snapshots: every node checkpoints every few entries and compacts its log, so a
// follower that was down or cut off for a while is too far behind for appends and
// gets InstallSnapshot in many small chunks; nodes crash during installs, and now
// and then every node restarts at once and recovers from snapshot plus log.
import { randomSchedule, runRaftSim } from '../raft-kv.js';
import type { Scenario } from '../scenario.js';

export const raftSnapshot: Scenario = {
  name: 'raft-snapshot',
  description: 'Raft snapshots: checkpoints and compaction, chunked InstallSnapshot to lagging followers, crashes during install, restart of all nodes',
  async run(ctx) {
    const { rng } = ctx;
    const faultMs = 5000;
    const schedule = randomSchedule(rng, faultMs, {
      nodes: 3,
      meanGapMs: 350,
      kinds: ['crash', 'crash', 'isolate', 'isolate', 'crash-leader', 'restart-all'],
      downMs: [300, 2000],
    });
    await runRaftSim(ctx, {
      nodes: 3,
      clients: 2,
      faultMs,
      schedule,
      thinkMs: [1, 15],
      checkpointEntries: rng.pick([5, 10, 20]),
      snapshotChunkBytes: rng.pick([16, 64, 256]),
      diskFaults: rng.chance(0.3),
    });
  },
};
