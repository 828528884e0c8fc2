import { describe, expect, it } from 'vitest';
import type { Actor, Env } from '../actors/env.js';
import type { Envelope } from '../actors/protocol/envelope.js';
import { parseSeedRange, resultLine, simList, simRun } from '../sim/cli.js';
import { SIM_EPOCH_MS } from '../sim/env.js';
import { createSimBed, listScenarios, runScenario, runScenarioObject, type Scenario } from '../sim/scenario.js';

class Faulty implements Actor {
  constructor(
    private readonly env: Env,
    private readonly how: 'timer' | 'receive' | 'async' | 'start' | 'none',
  ) {}
  async start(): Promise<void> {
    if (this.how === 'start') throw new Error('cannot open journal');
    if (this.how === 'timer') this.env.setTimer(10, () => {
      throw new RangeError('timer bug');
    });
    if (this.how === 'receive') this.env.send(this.env.self, { f: this.env.self, to: this.env.self, id: 0, m: { t: 'Ok' } });
    if (this.how === 'async') this.env.setTimer(10, () => void Promise.reject(new Error('floating promise')));
  }
  receive(_e: Envelope): void {
    throw new TypeError('receive bug');
  }
  async stop(): Promise<void> {}
}

function faulty(how: 'timer' | 'receive' | 'async' | 'start'): Scenario {
  return {
    name: 'faulty-' + how,
    description: 'test',
    network: 'quiet',
    async run(ctx) {
      ctx.cluster.addNode('x', (env) => new Faulty(env, how));
      await ctx.settle(ctx.cluster.start('x'));
      await ctx.run({ for: 1000 });
    },
  };
}

describe('runScenario', () => {
  it('passes ping and reports its numbers', async () => {
    const r = await runScenario('ping', 11);
    expect(r.ok).toBe(true);
    expect(r.reason).toBeUndefined();
    expect(r.trace).toMatch(/^[0-9a-f]{16}$/);
    expect(r.events).toBeGreaterThan(1000);
    expect(r.simMs).toBeGreaterThan(10_000);
    expect(r.logs).toBeUndefined();
  });

  it.each([
    ['timer', /x threw in a timer: RangeError: timer bug/],
    ['receive', /x threw in receive\(Ok\): TypeError: receive bug/],
    ['start', /x threw in start\(\): Error: cannot open journal/],
    ['async', /unhandled rejection: Error: floating promise/],
  ] as const)('turns an exception (%s) into ok=false with a reason and logs', async (how, re) => {
    const r = await runScenarioObject(faulty(how), 1);
    expect(r.ok).toBe(false);
    expect(r.reason).toMatch(re);
    expect(r.reason).not.toContain('\n');
    expect(r.logs!.join('\n')).toContain('FAIL');
  });

  it('reports checker failures from ctx.fail and a livelock budget', async () => {
    const failing: Scenario = {
      name: 'f',
      description: 'd',
      async run(ctx) {
        await ctx.run({ for: 100 });
        ctx.check(1 + 1 === 3, 'arithmetic is broken');
      },
    };
    expect((await runScenarioObject(failing, 4)).reason).toBe('arithmetic is broken');
    const spinning: Scenario = {
      name: 's',
      description: 'd',
      network: 'quiet',
      async run(ctx) {
        const spin = (): void => void ctx.sim.schedule(0, 'internal', 'spin', spin);
        spin();
        await ctx.run({ for: 10 });
      },
    };
    const r = await runScenarioObject(spinning, 4, { maxEvents: 5000 });
    expect(r.ok).toBe(false);
    expect(r.reason).toMatch(/event budget/);
  });

  it('rejects an unknown scenario name', async () => {
    await expect(runScenario('nope', 1)).rejects.toThrow(/unknown scenario "nope"; known: .*\bping\b/);
  });
});

describe('node clocks', () => {
  it('are skewed per node while timers run on virtual time', async () => {
    const bed = createSimBed(1, { network: 'quiet', cluster: { maxSkewMs: 1000 } });
    bed.cluster.addNode('a', (env) => new Faulty(env, 'none'));
    bed.cluster.addNode('b', (env) => new Faulty(env, 'none'), { skewMs: -250 });
    await bed.sim.settle(Promise.all([bed.cluster.start('a'), bed.cluster.start('b')]));
    const a = bed.cluster.env('a');
    const b = bed.cluster.env('b');
    expect(a.now() - SIM_EPOCH_MS).not.toBe(0);
    expect(b.now()).toBe(Math.floor(SIM_EPOCH_MS + bed.sim.now - 250));
    expect(Number.isInteger(a.now())).toBe(true);
    const t0 = bed.sim.now;
    let firedAt = -1;
    b.setTimer(100, () => (firedAt = bed.sim.now));
    await bed.sim.run();
    expect(firedAt - t0).toBe(100);
  });
});

describe('sim CLI', () => {
  it('lists scenarios with their descriptions', () => {
    const lines = simList().split('\n');
    expect(lines).toHaveLength(listScenarios().length);
    expect(lines.some((l) => /^ping\s+echo actors/.test(l))).toBe(true);
  });

  it('prints exactly one result line for a passing seed', async () => {
    const out: string[] = [];
    expect(await simRun({ scenario: 'ping', seed: 3 }, (l) => out.push(l))).toBe(0);
    expect(out).toHaveLength(1);
    expect(out[0]).toMatch(/^seed=3 trace=[0-9a-f]{16} result=ok$/);
  });

  it('sweeps a range and prints a summary', async () => {
    const out: string[] = [];
    expect(await simRun({ scenario: 'ping', seeds: '5..7' }, (l) => out.push(l))).toBe(0);
    expect(out).toEqual(['scenario=ping seeds=5..7 passed=3 failed=0']);
  });

  it('formats a failure with its reason', () => {
    expect(resultLine({ seed: 9, trace: '0123456789abcdef', ok: false, reason: 'x broke', events: 1, simMs: 1, wallMs: 1 })).toBe(
      'seed=9 trace=0123456789abcdef result=FAIL x broke',
    );
  });

  it('rejects bad usage with exit code 2', async () => {
    const out: string[] = [];
    expect(await simRun({ scenario: 'nope' }, (l) => out.push(l))).toBe(2);
    expect(await simRun({ scenario: 'ping', seeds: '9..3' }, (l) => out.push(l))).toBe(2);
    expect(await simRun({ scenario: 'ping', seed: 1, seeds: '1..2' }, (l) => out.push(l))).toBe(2);
    expect(() => parseSeedRange('abc')).toThrow(/1\.\.100/);
    expect(parseSeedRange(' 3..10 ')).toEqual([3, 10]);
  });
});
