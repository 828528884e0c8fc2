// File contents a data-path checker can judge, and the sequential model of files
// whose whole contents are written, read, deleted and renamed.
//
// Every write in a scenario writes a new *version*: bytes that start with a header
// naming the version and continue with bytes drawn from the version's number, so
// any byte string a read returns either is exactly one version or is wrong (torn,
// mixed from two versions, shifted, stale block bytes under a new header). Which
// version a read may return is then a linearizability question over the model below.
import type { Model } from './linearizability.js';
import { Prng } from '../prng.js';

const MAGIC = 0x53545256; // "STRV"
export const VERSION_HEADER_BYTES = 8;

/** The bytes of version `v` of `length` (>= VERSION_HEADER_BYTES) bytes; the same arguments give the same bytes. */
export function versionBytes(v: number, length: number): Uint8Array {
  if (length < VERSION_HEADER_BYTES) throw new RangeError(`a version needs at least ${VERSION_HEADER_BYTES} bytes, not ${length}`);
  const out = new Uint8Array(length);
  const view = new DataView(out.buffer);
  view.setUint32(0, MAGIC);
  view.setUint32(4, v);
  const rng = new Prng((v * 2654435761) >>> 0);
  let i = VERSION_HEADER_BYTES;
  for (; i + 4 <= length; i += 4) view.setUint32(i, rng.int(2 ** 32));
  for (; i < length; i++) out[i] = rng.int(256);
  return out;
}

export type Identified = { ok: true; version: number } | { ok: false; reason: string };

/**
 * Which of the `known` versions `got` is, byte for byte; otherwise why it is none
 * (the reason names the first differing byte, which tells a torn read from a mix).
 */
export function identifyVersion(got: Uint8Array, known: ReadonlyMap<number, Uint8Array>): Identified {
  if (got.byteLength < VERSION_HEADER_BYTES) return { ok: false, reason: `${got.byteLength} bytes: shorter than any version` };
  const view = new DataView(got.buffer, got.byteOffset, got.byteLength);
  if (view.getUint32(0) !== MAGIC) return { ok: false, reason: `no version header (starts ${Buffer.from(got.subarray(0, 8)).toString('hex')})` };
  const v = view.getUint32(4);
  const want = known.get(v);
  if (!want) return { ok: false, reason: `header names version ${v}, which nobody wrote` };
  if (want.byteLength !== got.byteLength) return { ok: false, reason: `version ${v} has ${want.byteLength} bytes, the read returned ${got.byteLength}` };
  const n = got.byteLength;
  for (let i = 0; i < n; i++) {
    if (got[i] !== want[i]) {
      // Whose bytes are there instead, if another version's: a mix of versions rather than garbage.
      const here = Buffer.from(got.subarray(i, i + 8));
      const owner = [...known].find(([w, bytes]) => w !== v && Buffer.from(bytes.subarray(i, i + 8)).equals(here))?.[0];
      const from = owner === undefined ? '' : ` (the bytes there are version ${owner}'s)`;
      return { ok: false, reason: `version ${v}'s header but wrong bytes from offset ${i}${from}` };
    }
  }
  return { ok: true, version: v };
}

/**
 * A write with overwrite is three steps at the master, each atomic: the old file
 * is deleted ('clear'), an incomplete file is created ('create'), and it is
 * completed with the new version ('complete'). A scenario records one write as all
 * three, over the write's whole interval; their preconditions order them.
 */
export type FileInput =
  | { op: 'clear'; path: string; version: number }
  | { op: 'create'; path: string; version: number }
  | { op: 'complete'; path: string; version: number }
  | { op: 'read'; path: string }
  | { op: 'delete'; path: string }
  | { op: 'rename'; src: string; dst: string };

export interface FileOutput {
  /** 'OK' or the definite error code (NOT_FOUND, ALREADY_EXISTS). */
  code: string;
  /** read: the version returned. */
  version?: number;
}

/**
 * Path → version of the files that exist, sorted by path so equal maps share one
 * key; -v for version v created but not yet complete (reads of it fail, a rename of
 * it fails, it can be deleted or overwritten). `cleared`: versions whose write has
 * cleared its path but not yet created its file; a write's create needs its clear
 * first, which keeps a write's three steps in order.
 */
export interface FileState {
  readonly files: ReadonlyArray<readonly [string, number]>;
  readonly cleared: readonly number[];
}

function set(state: FileState, path: string, version: number | undefined): FileState {
  const rest = state.files.filter(([p]) => p !== path);
  if (version === undefined) return { ...state, files: rest };
  return { ...state, files: [...rest, [path, version] as const].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0)) };
}

function outcome(state: FileState, next: FileState, want: FileOutput, out: FileOutput | undefined): { ok: boolean; state: FileState } {
  if (out === undefined) return { ok: true, state: next };
  const ok = out.code === want.code && out.version === want.version;
  return { ok, state: ok ? next : state };
}

/**
 * Writes overwrite (create with overwrite: the old file is deleted, then the new
 * one created incomplete, then completed); reads return the current version or
 * NOT_FOUND; a rename onto an existing name fails with ALREADY_EXISTS.
 */
export const fileModel: Model<FileState, FileInput, FileOutput> = {
  init: () => ({ files: [], cleared: [] }),
  key: (s) => `${s.files.map(([p, v]) => `${p}=${v}`).join(';')}|${s.cleared.join(',')}`,
  describe: (i, o) => {
    const args = i.op === 'rename' ? `${i.src} -> ${i.dst}` : 'version' in i ? `${i.path}, v${i.version}` : i.path;
    return `${i.op}(${args}) = ${o ? o.code + (o.version !== undefined ? ` v${o.version}` : '') : '?'}`;
  },
  step(state, input, out) {
    const at = (p: string) => state.files.find(([q]) => q === p)?.[1];
    switch (input.op) {
      case 'clear': {
        const next = set(state, input.path, undefined);
        return outcome(state, { ...next, cleared: [...state.cleared, input.version].sort((a, b) => a - b) }, { code: 'OK' }, out);
      }
      case 'create': {
        // Only after its own clear, onto nothing; impossible otherwise, known outcome or not.
        if (!state.cleared.includes(input.version) || at(input.path) !== undefined) return { ok: false, state };
        const next = set(state, input.path, -input.version);
        return outcome(state, { ...next, cleared: state.cleared.filter((v) => v !== input.version) }, { code: 'OK' }, out);
      }
      case 'complete':
        return at(input.path) === -input.version ? outcome(state, set(state, input.path, input.version), { code: 'OK' }, out) : { ok: false, state };
      case 'read': {
        const v = at(input.path);
        // An incomplete file fails reads, which observe nothing and are not recorded.
        if (v !== undefined && v < 0) return { ok: false, state };
        return outcome(state, state, v === undefined ? { code: 'NOT_FOUND' } : { code: 'OK', version: v }, out);
      }
      case 'delete':
        return at(input.path) === undefined ? outcome(state, state, { code: 'NOT_FOUND' }, out) : outcome(state, set(state, input.path, undefined), { code: 'OK' }, out);
      case 'rename': {
        const v = at(input.src);
        if (v === undefined) return outcome(state, state, { code: 'NOT_FOUND' }, out);
        // Renaming a file still being written fails without a definite code (recorded as unknown).
        if (v < 0) return { ok: false, state };
        if (at(input.dst) !== undefined) return outcome(state, state, { code: 'ALREADY_EXISTS' }, out);
        return outcome(state, set(set(state, input.src, undefined), input.dst, v), { code: 'OK' }, out);
      }
    }
  },
};
