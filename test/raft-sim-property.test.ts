// fast-check drives the fault schedule of a Raft simulation: crashes, leader
// crashes, isolations, splits, restarts of every node, leadership transfers, at
// times it chooses. Safety is checked throughout the run and liveness after it;
// a failure shrinks to a minimal schedule, printed with the seed.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { runRaftSim, type FaultEvent } from '../sim/raft-kv.js';
import { runScenarioObject, type Scenario } from '../sim/scenario.js';

const NODES = 5;
const FAULT_MS = 4000;
const at = fc.integer({ min: 0, max: FAULT_MS - 1 });
const ms = fc.integer({ min: 20, max: 2000 });
const node = fc.nat(NODES - 1);
const event: fc.Arbitrary<FaultEvent> = fc.oneof(
  fc.record({ at, k: fc.constant('crash' as const), node, downMs: ms }),
  fc.record({ at, k: fc.constant('crash-leader' as const), downMs: ms }),
  fc.record({ at, k: fc.constant('isolate' as const), node, ms }),
  fc.record({ at, k: fc.constant('isolate-leader' as const), ms }),
  fc.record({ at, k: fc.constant('split' as const), ms }),
  fc.record({ at, k: fc.constant('restart-all' as const) }),
  fc.record({ at, k: fc.constant('transfer' as const), to: node }),
);

function scenario(schedule: readonly FaultEvent[]): Scenario {
  return {
    name: 'raft-fast-check',
    description: 'a Raft run under a fault schedule chosen by fast-check',
    async run(ctx) {
      await runRaftSim(ctx, { nodes: NODES, clients: 2, faultMs: FAULT_MS, schedule, checkpointEntries: 20, snapshotChunkBytes: 64 });
    },
  };
}

describe('Raft under fast-check fault schedules', () => {
  it('stays safe and live', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(event, { maxLength: 20 }), fc.nat(1_000_000), async (schedule, seed) => {
        const r = await runScenarioObject(scenario(schedule), seed);
        if (!r.ok) {
          // fast-check prints the shrunk (schedule, seed); this line says what broke.
          console.error(`raft-fast-check seed=${seed} ${r.reason}\n  schedule: ${JSON.stringify(schedule)}`);
        }
        expect(r.ok, r.reason).toBe(true);
      }),
      { numRuns: 60 },
    );
  }, 120_000);
});
