import { describe, expect, it } from 'vitest';
import { SimFailure, Simulation } from '../sim/simulation.js';

describe('Simulation', () => {
  it('fires events in (time, seq) order and advances the clock', async () => {
    const sim = new Simulation();
    const order: string[] = [];
    sim.schedule(10, 'internal', 'b', () => order.push(`b@${sim.now}`));
    sim.schedule(5, 'internal', 'a', () => order.push(`a@${sim.now}`));
    sim.schedule(10, 'internal', 'c', () => order.push(`c@${sim.now}`));
    const out = await sim.run();
    expect(order).toEqual(['a@5', 'b@10', 'c@10']);
    expect(out).toEqual({ reason: 'idle', events: 3 });
  });

  it('lets every promise continuation settle before the next event', async () => {
    const sim = new Simulation();
    let depth = 0;
    const seen: number[] = [];
    sim.schedule(1, 'internal', 'chain', () => {
      void (async () => {
        for (let i = 0; i < 500; i++) {
          await Promise.resolve();
          depth++;
        }
        await new Promise<void>((r) => queueMicrotask(r));
        depth++;
      })();
    });
    sim.schedule(1, 'internal', 'observe', () => seen.push(depth));
    await sim.run();
    expect(seen).toEqual([501]);
  });

  it('cancels, stops at until / stopWhen / maxEvents, and resumes', async () => {
    const sim = new Simulation();
    let fired = 0;
    const h = sim.schedule(3, 'internal', 'x', () => fired++);
    h.cancel();
    for (let t = 10; t <= 100; t += 10) sim.schedule(t, 'internal', 'tick', () => fired++);
    expect(await sim.run({ until: 35 })).toEqual({ reason: 'until', events: 3 });
    expect(sim.now).toBe(35);
    expect(await sim.run({ stopWhen: () => fired >= 5 })).toEqual({ reason: 'stopWhen', events: 2 });
    expect(await sim.run({ maxEvents: 2 })).toEqual({ reason: 'maxEvents', events: 2 });
    expect(await sim.run({ for: 1000 })).toEqual({ reason: 'idle', events: 3 });
    expect(fired).toBe(10);
    expect(sim.now).toBe(1070);
  });

  it('drops many cancelled events without losing live ones', async () => {
    const sim = new Simulation();
    let fired = 0;
    const handles = [];
    for (let i = 0; i < 20_000; i++) handles.push(sim.schedule(i, 'timer', 't', () => fired++));
    for (let i = 0; i < 20_000; i++) if (i % 10 !== 0) handles[i]!.cancel();
    expect(sim.pending).toBeLessThan(20_000);
    await sim.run();
    expect(fired).toBe(2000);
  });

  it('turns an exception in an event into the run failure', async () => {
    const sim = new Simulation();
    sim.schedule(1, 'internal', 'boom', () => {
      throw new TypeError('bad thing');
    });
    sim.schedule(2, 'internal', 'after', () => {
      throw new Error('never reached');
    });
    await expect(sim.run()).rejects.toBeInstanceOf(SimFailure);
    expect(sim.failure?.reason).toBe('TypeError: bad thing');
    expect(sim.now).toBe(1);
  });

  it('settles a promise by running, and detects a deadlock', async () => {
    const sim = new Simulation();
    const p = new Promise<string>((resolve) => sim.schedule(50, 'internal', 'r', () => resolve('done')));
    await expect(sim.settle(p)).resolves.toBe('done');
    expect(sim.now).toBe(50);
    await expect(sim.settle(new Promise(() => undefined))).rejects.toThrow(/deadlock/);
    sim.schedule(1000, 'internal', 'late', () => undefined);
    await expect(sim.settle(new Promise(() => undefined), { timeoutMs: 10 })).rejects.toThrow(/timed out/);
  });

  it('hashes the trace: equal runs agree, different runs differ', async () => {
    const go = async (delays: number[]): Promise<string> => {
      const sim = new Simulation();
      for (const d of delays) sim.schedule(d, 'timer', 'n' + d, () => sim.traceFault('x', 'y', d));
      await sim.run();
      return sim.trace.hex();
    };
    expect(await go([1, 2, 3])).toBe(await go([1, 2, 3]));
    expect(await go([1, 2, 3])).not.toBe(await go([1, 2, 4]));
    expect(await go([1, 2, 3])).toMatch(/^[0-9a-f]{16}$/);
  });
});
