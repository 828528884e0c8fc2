// The raft-figure8-unreliable scenario must actually reach the Raft paper's
// Figure 8: leaders holding old-term entries that a majority stores but that are
// not committed (c) — a leader that committed by counting those replicas would be
// unsafe. The scenario also counts such entries later overwritten by a newer
// leader (d); that takes a rare schedule (2 of 80 seeds in one sweep, 0 of 100
// in another), so it is logged, not asserted. The counts come from the scenario's log.
import { describe, expect, it } from 'vitest';
import { runScenario } from '../sim/scenario.js';

async function figure8(seed: number): Promise<{ held: number; overwritten: number }> {
  const r = await runScenario('raft-figure8-unreliable', seed, { logs: true });
  expect(r.ok, r.reason).toBe(true);
  const line = (r.logs ?? []).find((l) => l.includes('figure8:'));
  const m = /figure8: (\d+) .*, (\d+) of them later overwritten/.exec(line ?? '');
  expect(m, 'the scenario logs its Figure 8 counts').not.toBeNull();
  return { held: Number(m![1]), overwritten: Number(m![2]) };
}

describe('raft-figure8-unreliable', () => {
  it('reaches situation (c) in most seeds', async () => {
    const counts = [];
    for (let seed = 1; seed <= 8; seed++) counts.push(await figure8(seed));
    expect(counts.filter((c) => c.held > 0).length).toBeGreaterThanOrEqual(6);
  }, 120_000);
});
