// The sequential specification of the namespace operations a linearizability
// check covers: create, delete, rename, getStatus and listStatus of entries in one
// directory. Outputs are what a client observed: a status code and, for the
// reads, what they returned.
import type { Model } from './linearizability.js';

export type NsInput =
  | { op: 'create'; path: string }
  | { op: 'delete'; path: string }
  | { op: 'rename'; src: string; dst: string }
  | { op: 'getStatus'; path: string }
  | { op: 'listStatus'; dir: string };

export interface NsOutput {
  /** 'OK' or the error code returned. */
  code: string;
  /** listStatus: the sorted names; getStatus: 'exists'. */
  value?: string;
}

/** The set of existing file paths, kept sorted so equal sets share one key. */
export type NsState = readonly string[];

function parentOf(p: string): string {
  return p.slice(0, p.lastIndexOf('/')) || '/';
}

function expect(state: NsState, next: NsState, want: NsOutput, out: NsOutput | undefined): { ok: boolean; state: NsState } {
  if (out === undefined) return { ok: true, state: next };
  const ok = out.code === want.code && (want.value === undefined || out.value === want.value);
  return { ok, state: ok ? next : state };
}

export const namespaceModel: Model<NsState, NsInput, NsOutput> = {
  init: () => [],
  key: (s) => s.join('\n'),
  describe: (i, o) => `${i.op}(${'path' in i ? i.path : 'dir' in i ? i.dir : `${i.src} -> ${i.dst}`}) = ${o ? o.code + (o.value !== undefined ? ` ${o.value}` : '') : '?'}`,
  step(state, input, out) {
    const has = (p: string) => state.includes(p);
    switch (input.op) {
      case 'create':
        return has(input.path)
          ? expect(state, state, { code: 'ALREADY_EXISTS' }, out)
          : expect(state, [...state, input.path].sort(), { code: 'OK' }, out);
      case 'delete':
        return has(input.path)
          ? expect(state, state.filter((p) => p !== input.path), { code: 'OK' }, out)
          : expect(state, state, { code: 'NOT_FOUND' }, out);
      case 'rename':
        if (!has(input.src)) return expect(state, state, { code: 'NOT_FOUND' }, out);
        if (has(input.dst)) return expect(state, state, { code: 'ALREADY_EXISTS' }, out);
        return expect(state, [...state.filter((p) => p !== input.src), input.dst].sort(), { code: 'OK' }, out);
      case 'getStatus':
        return has(input.path) ? expect(state, state, { code: 'OK', value: 'exists' }, out) : expect(state, state, { code: 'NOT_FOUND' }, out);
      case 'listStatus': {
        const names = state.filter((p) => parentOf(p) === input.dir).map((p) => p.slice(p.lastIndexOf('/') + 1));
        return expect(state, state, { code: 'OK', value: names.join(',') }, out);
      }
    }
  },
};
