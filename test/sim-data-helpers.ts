// The CI sweep of the data-path scenarios: many seeds of one scenario, every
// failure reported with its replay command, and the figures each run logs
// ("key=value" on its summary line) summed so a test can check the sweep as a
// whole exercised what it claims to.
import { runScenario } from '../sim/scenario.js';

export interface Sweep {
  failures: string[];
  /** Sums of the numeric key=value pairs of every run's summary line. */
  totals: Map<string, number>;
  runs: number;
}

export async function sweep(name: string, first: number, count: number, summaryKey: string): Promise<Sweep> {
  const failures: string[] = [];
  const totals = new Map<string, number>();
  for (let seed = first; seed < first + count; seed++) {
    const r = await runScenario(name, seed, { logs: true });
    if (!r.ok) failures.push(`seed=${seed} ${r.reason}\n  replay: npx strata sim run --scenario ${name} --seed ${seed}`);
    const line = r.logs?.find((l) => l.includes(`scenario ${summaryKey}=`));
    for (const [, k, v] of line?.matchAll(/(\w+)=(\d+)/g) ?? []) totals.set(k!, (totals.get(k!) ?? 0) + Number(v));
  }
  return { failures, totals, runs: count };
}
