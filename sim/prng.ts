// A seeded PRNG for the simulator: sfc32 (small, fast, passes PractRand) with its
// state filled by splitmix32, so nearby seeds (1, 2, 3, ...) give unrelated streams.
// Forks are keyed by the parent's seed material and a label, never by how many
// numbers the parent has drawn: adding a draw in one place of a run does not
// reshuffle every other stream, which keeps seeds meaningful while code evolves.

function splitmix32(state: number): [number, number] {
  const s = (state + 0x9e3779b9) | 0;
  let z = s;
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
  return [s, (z ^ (z >>> 16)) >>> 0];
}

/** A 32-bit string hash (FNV-1a with a final avalanche), for fork labels. */
export function hashString32(s: string, basis = 0x811c9dc5): number {
  let h = basis | 0;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193);
  h = Math.imul(h ^ (h >>> 15), 0x2c1b3c6d);
  h = Math.imul(h ^ (h >>> 12), 0x297a2d39);
  return (h ^ (h >>> 15)) >>> 0;
}

export class Prng {
  private a = 0;
  private b = 0;
  private c = 0;
  private d = 0;
  /** Two words identifying this stream; forks derive theirs from it. */
  private readonly k0: number;
  private readonly k1: number;

  constructor(seed: number, salt = 0) {
    this.k0 = seed >>> 0;
    // Seeds above 2^32 still count: fold the high part in rather than dropping it.
    this.k1 = (salt ^ Math.floor(seed / 0x100000000)) >>> 0;
    let s = this.k0 ^ Math.imul(this.k1, 0x9e3779b1);
    let v: number;
    [s, v] = splitmix32(s);
    this.a = v | 0;
    [s, v] = splitmix32(s ^ this.k1);
    this.b = v | 0;
    [s, v] = splitmix32(s);
    this.c = v | 0;
    [s, v] = splitmix32(s);
    this.d = 1; // sfc32's counter
    this.a ^= v;
    for (let i = 0; i < 12; i++) this.u32();
  }

  /** Uniform 32-bit unsigned integer. */
  u32(): number {
    const t = (((this.a + this.b) | 0) + this.d) | 0;
    this.d = (this.d + 1) | 0;
    this.a = this.b ^ (this.b >>> 9);
    this.b = (this.c + (this.c << 3)) | 0;
    this.c = (this.c << 21) | (this.c >>> 11);
    this.c = (this.c + t) | 0;
    return t >>> 0;
  }

  /** Uniform in [0, 1). */
  next(): number {
    return this.u32() / 0x100000000;
  }

  /** Uniform integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.next() * n);
  }

  /** Uniform real in [lo, hi). */
  range(lo: number, hi: number): number {
    return lo + this.next() * (hi - lo);
  }

  /** Uniform integer in [lo, hi]. */
  intRange(lo: number, hi: number): number {
    return lo + this.int(hi - lo + 1);
  }

  chance(p: number): boolean {
    return p > 0 && this.next() < p;
  }

  pick<T>(items: readonly T[]): T {
    if (items.length === 0) throw new RangeError('pick from an empty array');
    return items[this.int(items.length)]!;
  }

  /** Exponentially distributed with the given mean (for tails and arrival gaps). */
  exp(mean: number): number {
    return -mean * Math.log(1 - this.next());
  }

  /** Fisher-Yates, in place. */
  shuffle<T>(items: T[]): T[] {
    for (let i = items.length - 1; i > 0; i--) {
      const j = this.int(i + 1);
      const x = items[i]!;
      items[i] = items[j]!;
      items[j] = x;
    }
    return items;
  }

  /** An independent stream determined by this stream's seed and `label` only. */
  fork(label: string): Prng {
    const h = hashString32(label, this.k1 ^ 0x811c9dc5);
    return new Prng((this.k0 ^ Math.imul(h, 0x27d4eb2f)) >>> 0, (Math.imul(this.k1, 0x165667b1) ^ h ^ 0x5bd1e995) >>> 0);
  }
}
