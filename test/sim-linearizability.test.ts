// The linearizability checker, on hand-made histories and on histories
// generated from a sequential run (which must always pass).
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { checkLinearizable, type Operation } from '../sim/checkers/linearizability.js';
import { namespaceModel, type NsInput, type NsOutput, type NsState } from '../sim/checkers/namespace-model.js';

type Op = Operation<NsInput, NsOutput>;
const op = (client: string, input: NsInput, call: number, ret: number | undefined, output?: NsOutput): Op => ({
  client, input, call, ...(ret !== undefined ? { ret } : {}), ...(output ? { output } : {}),
});
const OK = { code: 'OK' };
const NF = { code: 'NOT_FOUND' };
const FILE = { code: 'OK', value: 'exists' };

describe('linearizability checker', () => {
  it('accepts a sequential history and rejects a read that misses a completed create', () => {
    const good = [op('c1', { op: 'create', path: '/t/a' }, 0, 1, OK), op('c2', { op: 'getStatus', path: '/t/a' }, 2, 3, FILE)];
    expect(checkLinearizable(namespaceModel, good).ok).toBe(true);
    const bad = [op('c1', { op: 'create', path: '/t/a' }, 0, 1, OK), op('c2', { op: 'getStatus', path: '/t/a' }, 2, 3, NF)];
    const r = checkLinearizable(namespaceModel, bad);
    expect(r.ok).toBe(false);
    if (r.ok === false) expect(r.reason).toMatch(/cannot be placed/);
  });

  it('lets a concurrent create fall between two reads, but not a read go back in time', () => {
    const h = [
      op('c1', { op: 'create', path: '/t/a' }, 0, 10, OK),
      op('c2', { op: 'getStatus', path: '/t/a' }, 1, 2, NF),
      op('c2', { op: 'getStatus', path: '/t/a' }, 3, 4, FILE),
    ];
    expect(checkLinearizable(namespaceModel, h).ok).toBe(true);
    const back = [
      op('c1', { op: 'create', path: '/t/a' }, 0, 10, OK),
      op('c2', { op: 'getStatus', path: '/t/a' }, 1, 2, FILE),
      op('c2', { op: 'getStatus', path: '/t/a' }, 3, 4, NF),
    ];
    expect(checkLinearizable(namespaceModel, back).ok).toBe(false);
  });

  it('treats an operation with an unknown outcome as possibly applied, at any later time, or never', () => {
    const applied = [op('c1', { op: 'create', path: '/t/a' }, 0, undefined), op('c2', { op: 'getStatus', path: '/t/a' }, 5, 6, FILE)];
    expect(checkLinearizable(namespaceModel, applied).ok).toBe(true);
    const never = [op('c1', { op: 'create', path: '/t/a' }, 0, undefined), op('c2', { op: 'getStatus', path: '/t/a' }, 5, 6, NF)];
    expect(checkLinearizable(namespaceModel, never).ok).toBe(true);
    const late = [
      op('c1', { op: 'create', path: '/t/a' }, 0, undefined),
      op('c2', { op: 'getStatus', path: '/t/a' }, 5, 6, NF),
      op('c2', { op: 'getStatus', path: '/t/a' }, 7, 8, FILE),
    ];
    expect(checkLinearizable(namespaceModel, late).ok).toBe(true);
    const flicker = [
      op('c1', { op: 'create', path: '/t/a' }, 0, undefined),
      op('c2', { op: 'getStatus', path: '/t/a' }, 5, 6, FILE),
      op('c2', { op: 'getStatus', path: '/t/a' }, 7, 8, NF),
    ];
    expect(checkLinearizable(namespaceModel, flicker).ok).toBe(false);
  });

  it('an unknown outcome bounded in time may still be "never happened", but cannot happen after its bound', () => {
    const lost: Op[] = [
      { client: 'c1', input: { op: 'create', path: '/t/a' }, call: 0, ret: 10 },
      op('c2', { op: 'getStatus', path: '/t/a' }, 20, 21, NF),
    ];
    expect(checkLinearizable(namespaceModel, lost).ok).toBe(true);
    const tooLate: Op[] = [
      { client: 'c1', input: { op: 'create', path: '/t/a' }, call: 0, ret: 10 },
      op('c2', { op: 'getStatus', path: '/t/a' }, 20, 21, NF),
      op('c2', { op: 'getStatus', path: '/t/a' }, 30, 31, FILE),
    ];
    expect(checkLinearizable(namespaceModel, tooLate).ok).toBe(false);
  });

  it('checks rename and listStatus against each other', () => {
    const h = [
      op('c1', { op: 'create', path: '/t/a' }, 0, 1, OK),
      op('c1', { op: 'rename', src: '/t/a', dst: '/t/b' }, 2, 3, OK),
      op('c2', { op: 'listStatus', dir: '/t' }, 4, 5, { code: 'OK', value: 'b' }),
      op('c2', { op: 'rename', src: '/t/a', dst: '/t/c' }, 6, 7, NF),
    ];
    expect(checkLinearizable(namespaceModel, h).ok).toBe(true);
    const both = [...h.slice(0, 2), op('c2', { op: 'listStatus', dir: '/t' }, 4, 5, { code: 'OK', value: 'a,b' })];
    expect(checkLinearizable(namespaceModel, both).ok).toBe(false);
  });

  it('accepts every history produced by a sequential run with overlapping intervals', () => {
    const paths = ['/t/a', '/t/b', '/t/c'];
    const input: fc.Arbitrary<NsInput> = fc.oneof(
      fc.record({ op: fc.constant('create' as const), path: fc.constantFrom(...paths) }),
      fc.record({ op: fc.constant('delete' as const), path: fc.constantFrom(...paths) }),
      fc.record({ op: fc.constant('rename' as const), src: fc.constantFrom(...paths), dst: fc.constantFrom(...paths) }),
      fc.record({ op: fc.constant('getStatus' as const), path: fc.constantFrom(...paths) }),
      fc.constant({ op: 'listStatus' as const, dir: '/t' }),
    );
    const step = fc.record({ input, before: fc.nat({ max: 30 }), after: fc.nat({ max: 30 }), client: fc.constantFrom('c1', 'c2', 'c3', 'c4'), lost: fc.boolean() });
    fc.assert(
      fc.property(fc.array(step, { maxLength: 40 }), (steps) => {
        // Each operation takes effect at point 10*i; its call and return straddle that point.
        let state: NsState = namespaceModel.init();
        const history: Op[] = steps.map((s, i) => {
          const at = 10 * i;
          const want = expectedOutput(state, s.input);
          state = namespaceModel.step(state, s.input, undefined).state;
          return op(s.client, s.input, at - s.before, s.lost && s.input.op !== 'getStatus' ? undefined : at + s.after, want);
        });
        const r = checkLinearizable(namespaceModel, history);
        expect(r.ok).toBe(true);
      }),
      { numRuns: 300 },
    );
  });
});

function expectedOutput(state: NsState, input: NsInput): NsOutput {
  for (const candidate of [{ code: 'OK' }, { code: 'OK', value: 'exists' }, { code: 'NOT_FOUND' }, { code: 'ALREADY_EXISTS' }]) {
    if (input.op === 'listStatus') break;
    if (namespaceModel.step(state, input, candidate).ok) return candidate;
  }
  const names = state.filter((p) => p.startsWith('/t/')).map((p) => p.slice(3));
  return { code: 'OK', value: names.join(',') };
}
