// Every registered scenario, many seeds, twice each: the same seed must replay
// the same trace, and different seeds must explore different runs. Iterates the
// registry, so scenarios added later are covered without touching this file.
import { describe, expect, it } from 'vitest';
import { listScenarios, runScenario } from '../sim/scenario.js';

const SEEDS = Array.from({ length: 20 }, (_, i) => i + 1);

describe.each(listScenarios().map((s) => [s.name]))('scenario %s', (name) => {
  it('replays each seed with the same trace hash; seeds differ', async () => {
    const traces = new Set<string>();
    for (const seed of SEEDS) {
      const a = await runScenario(name, seed);
      const b = await runScenario(name, seed);
      expect({ seed, trace: b.trace, events: b.events, ok: b.ok, simMs: b.simMs }).toEqual({ seed, trace: a.trace, events: a.events, ok: a.ok, simMs: a.simMs });
      traces.add(a.trace);
    }
    expect(traces.size).toBe(SEEDS.length);
  }, 60_000);
});
