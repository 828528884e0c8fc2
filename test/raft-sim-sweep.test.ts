// The CI sweep of the Raft scenarios: 200 seeds of each of the five, 1,000 Raft
// seeds in all (the determinism test adds 20 more of each, run twice). A failing
// seed is reported with the command that replays it.
import { describe, expect, it } from 'vitest';
import { runScenario } from '../sim/scenario.js';

const SEEDS = 200;
const SCENARIOS = ['raft-election', 'raft-figure8-unreliable', 'raft-churn', 'raft-snapshot', 'raft-membership'];

describe.each(SCENARIOS.map((s) => [s]))('%s', (name) => {
  it(`passes ${SEEDS} seeds`, async () => {
    const failures: string[] = [];
    // Offset from the determinism test's seeds 1..20, so the two cover different runs.
    for (let seed = 1001; seed < 1001 + SEEDS; seed++) {
      const r = await runScenario(name, seed);
      if (!r.ok) failures.push(`seed=${seed} ${r.reason}\n  replay: npx strata sim run --scenario ${name} --seed ${seed}`);
    }
    expect(failures, failures.join('\n')).toEqual([]);
  }, 120_000);
});
