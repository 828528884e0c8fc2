// CI sweep of the consistency scenario: 120 seeds (the determinism test adds 1..20,
// twice), offset so the two cover different runs. About a minute.
import { describe, expect, it } from 'vitest';
import { READ_TYPES, WRITE_TYPES } from '../sim/scenarios/consistency.js';
import { sweep } from './sim-data-helpers.js';

describe('consistency', () => {
  it('passes 120 seeds, with every write and read type acknowledged and judged', async () => {
    const s = await sweep('consistency', 2001, 120, 'operations');
    expect(s.failures, s.failures.join('\n')).toEqual([]);
    for (const t of [...WRITE_TYPES, ...READ_TYPES]) expect(s.totals.get(t) ?? 0, `${t} across the sweep`).toBeGreaterThan(100);
    expect(s.totals.get('readOk')).toBeGreaterThan(3000);
  }, 300_000);
});
