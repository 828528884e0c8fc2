// Short-circuit reads in simulation: client-0 shares worker-0's machine (the
// consistency-sc scenario), borrows block files under leases and reads them
// through its own disk, while workers crash, blocks move and files are rewritten.
// Every read must still return one whole version.
import { describe, expect, it } from 'vitest';
import { runScenario } from '../sim/scenario.js';
import { sweep } from './sim-data-helpers.js';

describe('consistency-sc', () => {
  it('passes 25 seeds with short-circuit reads happening, and a seed replays to the same trace', async () => {
    const s = await sweep('consistency-sc', 5001, 25, 'operations');
    expect(s.failures, s.failures.join('\n')).toEqual([]);
    expect(s.totals.get('shortCircuitBytes') ?? 0).toBeGreaterThan(100_000);
    expect(s.totals.get('passiveCopies') ?? 0).toBeGreaterThan(0);
    expect(s.totals.get('readOk')).toBeGreaterThan(600);
    const [a, b] = [await runScenario('consistency-sc', 5003), await runScenario('consistency-sc', 5003)];
    expect(a.trace).toBe(b.trace);
  }, 300_000);
});
