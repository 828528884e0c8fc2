// A directory's listing record gives back exactly the files it was made of,
// sorted by name, whatever their attributes.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { Inode } from '../storage/metastore.js';
import { decodeListing, encodeListing } from '../storage/metastore-listing.js';
import { encodeInode } from '../storage/metastore-rocks.js';

const file = (id: number): fc.Arbitrary<Inode> =>
  fc.record({
    name: fc.string({ minLength: 1, maxLength: 12 }), length: fc.maxSafeNat(), mtimeMs: fc.double({ noNaN: true, noDefaultInfinity: true }),
    blockSize: fc.maxSafeNat(), completed: fc.boolean(), persisted: fc.boolean(), childrenLoaded: fc.boolean(),
    owner: fc.constantFrom('strata', 'alice', 'bob', ''), group: fc.constantFrom('supergroup', 'staff'), mode: fc.nat(0o7777),
    pinned: fc.option(fc.constant(true), { nil: undefined }), mountId: fc.option(fc.integer({ min: 1, max: 2 ** 31 }), { nil: undefined }),
    ttl: fc.option(fc.record({ ms: fc.maxSafeNat(), action: fc.constantFrom('DELETE' as const, 'FREE' as const) }), { nil: undefined }),
  }).map((r) => {
    const f: Inode = { id, parent: 7, isDir: false, children: undefined, ...r };
    for (const k of ['pinned', 'mountId', 'ttl'] as const) if (f[k] === undefined) delete f[k];
    return f;
  });

const files = fc.uniqueArray(fc.integer({ min: 2, max: 2 ** 40 }), { maxLength: 40 }).chain((ids) => fc.tuple(...ids.map(file))).map((fs) => {
  // Names are unique within a directory.
  const seen = new Set<string>();
  return fs.filter((f) => !seen.has(f.name) && seen.add(f.name));
});

describe('listing records', () => {
  it('decode to the files they were encoded from, sorted by name', () => {
    fc.assert(
      fc.property(files, (fs) => {
        const back = decodeListing(encodeListing(fs), 7, () => true);
        const sorted = [...fs].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
        expect(back.map(encodeInode)).toEqual(sorted.map(encodeInode));
        expect(back.map((f) => f.id)).toEqual(sorted.map((f) => f.id));
      }),
      { numRuns: 300 },
    );
  });

  it('make objects only for the rows kept', () => {
    const fs = [3, 4, 5].map((id): Inode => ({ id, parent: 7, name: `f${id}`, isDir: false, length: id, mtimeMs: 0, blockSize: 1, completed: true, persisted: false, childrenLoaded: false, children: undefined, owner: 'o', group: 'g', mode: 0o644 }));
    expect(decodeListing(encodeListing(fs), 7, (name, id) => name !== 'f4' && id !== 5).map((f) => f.id)).toEqual([3]);
  });

  it('refuse directories', () => {
    const dir: Inode = { id: 3, parent: 7, name: 'd', isDir: true, length: 0, mtimeMs: 0, blockSize: 0, completed: true, persisted: true, childrenLoaded: true, children: new Map(), owner: 'o', group: 'g', mode: 0o755 };
    expect(() => encodeListing([dir])).toThrow(/files only/);
  });
});
