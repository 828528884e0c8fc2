// The raft-figure8-unreliable scenario must actually reach the Raft paper's
// Figure 8: leaders holding old-term entries that a majority stores but that are
// not committed (c), and, in some seeds, such an entry later overwritten by a
// leader of a newer term (d) — safe only because a leader commits by counting
// replicas of its own term's entries alone. The counts come from the scenario's log.
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

  it('reaches situation (d) in a seed found by a sweep (2 of 80 seeds), and stays safe', async () => {
    const c = await figure8(60);
    expect(c.overwritten).toBeGreaterThan(0);
  }, 60_000);
});
