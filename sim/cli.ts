// `strata sim list` and `strata sim run`, as functions the commander CLI wires
// up. Output is line-oriented and stable so CI logs can be grepped and a
// failing seed replayed with the printed command.
import { randomInt } from 'node:crypto';
import { findScenario, listScenarios, runScenarioObject, type ScenarioResult } from './scenario.js';

export function simList(): string {
  const scenarios = listScenarios();
  const width = Math.max(0, ...scenarios.map((s) => s.name.length));
  return scenarios.map((s) => `${s.name.padEnd(width)}  ${s.description}`).join('\n');
}

export interface SimRunOptions {
  scenario: string;
  seed?: number;
  /** An inclusive range 'A..B'. */
  seeds?: string;
  /** How many log lines of a failing run go to `diag`. */
  logLines?: number;
}

export function parseSeedRange(s: string): [number, number] {
  const m = /^\s*(\d+)\s*\.\.\s*(\d+)\s*$/.exec(s);
  if (!m) throw new Error(`--seeds wants a range like 1..100, not ${JSON.stringify(s)}`);
  const a = Number(m[1]);
  const b = Number(m[2]);
  if (!Number.isSafeInteger(a) || !Number.isSafeInteger(b) || a > b) throw new Error(`--seeds ${s}: the range must be A..B with A <= B`);
  return [a, b];
}

export function resultLine(r: ScenarioResult): string {
  return `seed=${r.seed} trace=${r.trace} result=${r.ok ? 'ok' : `FAIL ${r.reason ?? ''}`}`;
}

/**
 * Runs one seed or a sweep and returns the exit code: 0 all passed, 1 a seed
 * failed, 2 bad usage. `out` gets the result lines; `diag`, if given, gets the
 * tail of a failing run's log (keep it off stdout so the result lines stay exact).
 */
export async function simRun(opts: SimRunOptions, out: (line: string) => void, diag?: (line: string) => void): Promise<number> {
  const scenario = findScenario(opts.scenario);
  if (!scenario) {
    out(`unknown scenario ${JSON.stringify(opts.scenario)}; known: ${listScenarios().map((s) => s.name).join(', ')}`);
    return 2;
  }
  if (opts.seed !== undefined && opts.seeds !== undefined) {
    out('give either --seed or --seeds, not both');
    return 2;
  }
  const replay = (seed: number): string => `replay: npx strata sim run --scenario ${scenario.name} --seed ${seed}`;
  const report = (r: ScenarioResult): void => {
    if (diag && !r.ok && r.logs) for (const l of r.logs.slice(-(opts.logLines ?? 200))) diag(l);
  };
  if (opts.seeds === undefined) {
    if (opts.seed !== undefined && (!Number.isSafeInteger(opts.seed) || opts.seed < 0)) {
      out(`--seed must be a non-negative integer, not ${opts.seed}`);
      return 2;
    }
    const seed = opts.seed ?? randomInt(0, 2 ** 31);
    const r = await runScenarioObject(scenario, seed);
    report(r);
    out(resultLine(r));
    if (r.ok) return 0;
    out(replay(seed));
    return 1;
  }
  let range: [number, number];
  try {
    range = parseSeedRange(opts.seeds);
  } catch (e) {
    out((e as Error).message);
    return 2;
  }
  let passed = 0;
  let failed = 0;
  for (let seed = range[0]; seed <= range[1]; seed++) {
    const r = await runScenarioObject(scenario, seed);
    if (r.ok) passed++;
    else {
      failed++;
      report(r);
      out(resultLine(r));
      out(replay(seed));
    }
  }
  out(`scenario=${scenario.name} seeds=${range[0]}..${range[1]} passed=${passed} failed=${failed}`);
  return failed > 0 ? 1 : 0;
}
