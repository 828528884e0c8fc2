// CI sweep of the durability scenario: 60 seeds, about 45 s.
import { describe, expect, it } from 'vitest';
import { runScenario } from '../sim/scenario.js';
import { sweep } from './sim-data-helpers.js';

describe('durability', () => {
  it('passes 60 seeds, each with acknowledged writes of every type', async () => {
    const s = await sweep('durability', 2001, 60, 'written');
    expect(s.failures, s.failures.join('\n')).toEqual([]);
    // Every seed acknowledges at least 3 of 6 ASYNC_THROUGH and 2 of 4 MUST_CACHE writes, or fails.
    expect(s.totals.get('ASYNC_THROUGH')).toBeGreaterThanOrEqual(3 * s.runs);
    expect(s.totals.get('MUST_CACHE')).toBeGreaterThanOrEqual(2 * s.runs);
    expect((s.totals.get('THROUGH') ?? 0) + (s.totals.get('CACHE_THROUGH') ?? 0)).toBeGreaterThan(5 * s.runs);
  }, 300_000);

  it('passes the seeds where restarted workers held their MEM tier with recovered written-through blocks (79, 111)', async () => {
    for (const seed of [79, 111]) {
      const r = await runScenario('durability', seed);
      expect(r.ok, `seed=${seed} ${r.reason}`).toBe(true);
    }
  }, 60_000);
});
