// The metadata hot path's shortcuts must judge exactly as the slow paths did:
// a clean path splits without the part-by-part checks, a schema names the
// failing field's path although it builds paths only on failure.
import { describe, expect, it } from 'vitest';
import { splitPath } from '../actors/path.js';
import { validate } from '../transport/codec.js';

describe('splitPath', () => {
  it('splits clean paths', () => {
    expect(splitPath('/')).toEqual([]);
    expect(splitPath('/a//b/c/')).toEqual(['a', 'b', 'c']);
    expect(splitPath('/bench/c/p0/w1/n17')).toEqual(['bench', 'c', 'p0', 'w1', 'n17']);
    // Dots and percents inside names are fine; only whole '.'/'..' parts and encoded separators are not.
    expect(splitPath('/a/.hidden/b..c/50%/x.txt')).toEqual(['a', '.hidden', 'b..c', '50%', 'x.txt']);
  });

  it.each([
    ['/a/./b', "may not contain '.' or '..'"],
    ['/a/../b', "may not contain '.' or '..'"],
    ['/a/..', "may not contain '.' or '..'"],
    ['/a/b\u0000c', 'invalid character'],
    ['/a\\b', 'invalid character'],
    ['/a/x%2Fy', 'encoded separator'],
    ['/a/x%5cy', 'encoded separator'],
    ['relative/path', 'must be absolute'],
  ])('refuses %j', (path, why) => {
    expect(() => splitPath(path)).toThrow(why);
  });
});

describe('schema errors name the failing field', () => {
  const info = {
    fileId: 1, path: '/a', name: 'a', isDir: false, length: 1, mtimeMs: 0, blockSize: 1, completed: true, persisted: false,
    ufsMount: 'file:///u', ufsPath: 'a', owner: 'o', group: 'g', mode: 0o644, pinned: false,
    blocks: [{ id: 1, offset: 0, length: 1, locations: [] }],
  };
  const envelope = (m: unknown) => ({ f: 'master-0', to: 'client-1', id: 0, re: 5, m });

  it('accepts a well-formed reply', () => {
    expect(validate(envelope({ t: 'FileInfoReply', info })).ok).toBe(true);
  });

  it('reports a nested object field and an array element by path', () => {
    const badField = validate(envelope({ t: 'FileInfoReply', info: { ...info, owner: 7 } }));
    expect(badField.ok).toBe(false);
    if (!badField.ok) expect(badField.error.message).toContain('FileInfoReply.info.owner: expected string');
    const badBlock = validate(envelope({ t: 'FileInfoReply', info: { ...info, blocks: [info.blocks[0], { ...info.blocks[0], length: -1 }] } }));
    expect(badBlock.ok).toBe(false);
    if (!badBlock.ok) expect(badBlock.error.message).toContain('FileInfoReply.info.blocks[1].length: expected non-negative integer');
  });

  it('reports a bad envelope field by path', () => {
    const r = validate({ f: 'x', to: 'y', id: 1, g: ['ok', 3], m: { t: 'GetStatus', path: '/a' } });
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.error.message).toContain('envelope.g[1]: expected string');
  });
});
