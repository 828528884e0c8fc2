// The namespace workload against 3 Raft masters on the ROCKS metastore (cache of
// 8 inodes) under partitions, crashes and disk faults: linearizable, seed after seed.
import { describe, expect, it } from 'vitest';
import { runScenario } from '../sim/scenario.js';

const SEEDS = 60;
const NAME = 'namespace-linearizable-rocks';

describe(NAME, () => {
  it(`passes ${SEEDS} seeds`, async () => {
    const failures: string[] = [];
    for (let seed = 2001; seed < 2001 + SEEDS; seed++) {
      const r = await runScenario(NAME, seed);
      if (!r.ok) failures.push(`seed=${seed} ${r.reason}\n  replay: npx strata sim run --scenario ${NAME} --seed ${seed}`);
    }
    expect(failures, failures.join('\n')).toEqual([]);
  }, 120_000);
});
