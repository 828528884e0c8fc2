// CI sweep of the tiers scenario: 120 seeds, about 40 s.
import { describe, expect, it } from 'vitest';
import { sweep } from './sim-data-helpers.js';

describe('tiers', () => {
  it('passes 120 seeds, with blocks moved down, evicted, pinned and NO_CACHE reads', async () => {
    const s = await sweep('tiers', 2001, 120, 'reads');
    expect(s.failures, s.failures.join('\n')).toEqual([]);
    for (const k of ['noCache', 'pins', 'evicted', 'movedDown']) expect(s.totals.get(k) ?? 0, k).toBeGreaterThan(s.runs);
  }, 300_000);
});
