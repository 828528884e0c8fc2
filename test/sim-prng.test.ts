import { describe, expect, it } from 'vitest';
import { Prng } from '../sim/prng.js';
import { EventQueue } from '../sim/queue.js';

const draw = (p: Prng, n = 50): number[] => Array.from({ length: n }, () => p.u32());

describe('Prng', () => {
  it('replays the same stream for the same seed', () => {
    expect(draw(new Prng(42))).toEqual(draw(new Prng(42)));
  });

  it('gives unrelated streams for nearby seeds', () => {
    const a = draw(new Prng(1));
    const b = draw(new Prng(2));
    expect(a.filter((x, i) => x === b[i])).toHaveLength(0);
  });

  it('forks by label, independent of what the parent has drawn', () => {
    const p = new Prng(7);
    const before = draw(p.fork('net'));
    draw(p, 1000);
    expect(draw(p.fork('net'))).toEqual(before);
    expect(draw(p.fork('disk'))).not.toEqual(before);
    expect(draw(new Prng(8).fork('net'))).not.toEqual(before);
  });

  it('keeps int, range, chance and pick within bounds and roughly uniform', () => {
    const p = new Prng(3);
    const counts = new Array<number>(10).fill(0);
    let outside = 0;
    for (let i = 0; i < 100_000; i++) {
      const v = p.int(10);
      if (v < 0 || v >= 10 || !Number.isInteger(v)) outside++;
      else counts[v]!++;
    }
    expect(outside).toBe(0);
    for (const c of counts) expect(Math.abs(c - 10_000)).toBeLessThan(600);
    for (let i = 0; i < 10_000; i++) {
      const r = p.range(-2, 3);
      const x = p.next();
      if (!(r >= -2 && r < 3) || !(x >= 0 && x < 1)) outside++;
    }
    expect(outside).toBe(0);
    let hits = 0;
    for (let i = 0; i < 100_000; i++) if (p.chance(0.25)) hits++;
    expect(Math.abs(hits - 25_000)).toBeLessThan(800);
    expect(p.chance(0)).toBe(false);
    expect(['a', 'b', 'c']).toContain(p.pick(['a', 'b', 'c']));
    expect(() => p.pick([])).toThrow(RangeError);
  });

  it('handles seeds above 2^32 distinctly', () => {
    expect(draw(new Prng(2 ** 32 + 5))).not.toEqual(draw(new Prng(5)));
  });
});

describe('EventQueue', () => {
  it('pops by time, then by sequence', () => {
    const q = new EventQueue<{ time: number; seq: number }>();
    const p = new Prng(9);
    const items = Array.from({ length: 2000 }, (_, seq) => ({ time: p.int(50), seq }));
    for (const it of items) q.push(it);
    const out: Array<{ time: number; seq: number }> = [];
    for (let e = q.pop(); e; e = q.pop()) out.push(e);
    const sorted = [...items].sort((a, b) => a.time - b.time || a.seq - b.seq);
    expect(out).toEqual(sorted);
  });

  it('filters and keeps heap order', () => {
    const q = new EventQueue<{ time: number; seq: number }>();
    for (let i = 0; i < 500; i++) q.push({ time: (i * 7919) % 101, seq: i });
    q.filter((e) => e.seq % 3 !== 0);
    let last = { time: -1, seq: -1 };
    let n = 0;
    for (let e = q.pop(); e; e = q.pop()) {
      expect(e.seq % 3).not.toBe(0);
      expect(e.time > last.time || (e.time === last.time && e.seq > last.seq)).toBe(true);
      last = e;
      n++;
    }
    expect(n).toBe(500 - 167);
  });
});
