// The data-path checkers judge real runs only if they can tell good from bad:
// torn, mixed and unknown bytes are named, and the file model with the
// linearizability search rejects stale reads while accepting concurrent and
// possibly-lost writes.
import { describe, expect, it } from 'vitest';
import { checkLinearizable, type Operation } from '../sim/checkers/linearizability.js';
import { fileModel, identifyVersion, versionBytes, type FileInput, type FileOutput } from '../sim/checkers/file-versions.js';

describe('identifyVersion', () => {
  const v1 = versionBytes(1, 5000);
  const v2 = versionBytes(2, 5000);
  const known = new Map([[1, v1], [2, v2]]);

  it('names the version of exact bytes', () => {
    expect(identifyVersion(v2.slice(), known)).toEqual({ ok: true, version: 2 });
  });

  it('rejects torn, mixed and unknown bytes, saying which', () => {
    expect(identifyVersion(v1.subarray(0, 4000), known)).toMatchObject({ ok: false, reason: expect.stringMatching(/version 1 has 5000 bytes, the read returned 4000/) });
    const mixed = Buffer.concat([v1.subarray(0, 2048), v2.subarray(2048)]);
    expect(identifyVersion(mixed, known)).toMatchObject({ ok: false, reason: expect.stringMatching(/wrong bytes from offset 2048 \(the bytes there are version 2's\)/) });
    expect(identifyVersion(versionBytes(9, 100), known)).toMatchObject({ ok: false, reason: expect.stringMatching(/version 9, which nobody wrote/) });
    expect(identifyVersion(new Uint8Array(3), known)).toMatchObject({ ok: false });
  });
});

type Op = Operation<FileInput, FileOutput>;
const write = (path: string, version: number, call: number, ret?: number): Op[] =>
  (['clear', 'create', 'complete'] as const).map((op) => ({ client: `w${version}`, input: { op, path, version }, call, ...(ret !== undefined ? { ret, output: { code: 'OK' } } : {}) }));
const read = (path: string, call: number, ret: number, version?: number): Op => ({
  client: `r${call}`, input: { op: 'read', path }, call, ret, output: version === undefined ? { code: 'NOT_FOUND' } : { code: 'OK', version },
});
const ok = (h: Op[]) => checkLinearizable(fileModel, h).ok;

describe('the file model', () => {
  it('accepts the latest version and rejects a stale one or a missing file', () => {
    const h = [...write('/a', 1, 0, 10), ...write('/a', 2, 20, 30)];
    expect(ok([...h, read('/a', 40, 50, 2)])).toBe(true);
    expect(ok([...h, read('/a', 40, 50, 1)])).toBe(false);
    expect(ok([...h, read('/a', 40, 50)])).toBe(false);
  });

  it('accepts either version, or the gap of an overwrite, during a concurrent write', () => {
    const h = write('/a', 1, 0, 10);
    for (const r of [read('/a', 20, 21, 1), read('/a', 20, 21, 2), read('/a', 20, 21)]) expect(ok([...h, ...write('/a', 2, 15, 30), r])).toBe(true);
  });

  it('a write whose outcome is unknown may have happened or not, but not both', () => {
    const h = [...write('/a', 1, 0, 10), ...write('/a', 2, 15)];
    expect(ok([...h, read('/a', 40, 50, 2)])).toBe(true);
    expect(ok([...h, read('/a', 40, 50, 1)])).toBe(true);
    expect(ok([...h, read('/a', 40, 50, 2), read('/a', 60, 70, 1)])).toBe(false);
  });

  it('rename moves the version; the old name is gone', () => {
    const h: Op[] = [...write('/a', 1, 0, 10), { client: 'm', input: { op: 'rename', src: '/a', dst: '/b' }, call: 20, ret: 30, output: { code: 'OK' } }];
    expect(ok([...h, read('/b', 40, 50, 1), read('/a', 40, 50)])).toBe(true);
    expect(ok([...h, read('/a', 40, 50, 1)])).toBe(false);
  });
});
