// The CI sweep of the `jobs` scenario: 50 seeds (about 12-20 s on a shared core), a
// distributedLoad and a distributedCp under worker crashes, leader failover and
// network faults each. A failing seed is reported with the command that replays it.
import { describe, expect, it } from 'vitest';
import { runScenario } from '../sim/scenario.js';

const SEEDS = 50;

describe('jobs scenario sweep', () => {
  it(`passes ${SEEDS} seeds`, async () => {
    const failures: string[] = [];
    const started = Date.now();
    let failovers = 0;
    // Offset from the determinism test's seeds, so the two cover different runs.
    for (let seed = 2001; seed < 2001 + SEEDS; seed++) {
      const r = await runScenario('jobs', seed, { logs: true });
      if (!r.ok) failures.push(`seed=${seed} ${r.reason}\n  replay: npx strata sim run --scenario jobs --seed ${seed}`);
      if (r.logs?.some((l) => /leader crashes [12]/.test(l))) failovers++;
    }
    process.stderr.write(`jobs sweep: ${SEEDS} seeds in ${Date.now() - started} ms, ${failovers} with a leader failover mid-job\n`);
    expect(failures, failures.join('\n')).toEqual([]);
    // The sweep must actually exercise failover, not only worker crashes.
    expect(failovers).toBeGreaterThan(SEEDS / 5);
  }, 180_000);
});
