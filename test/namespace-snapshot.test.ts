// A namespace restored from its snapshot is the same namespace: same tree, ids,
// mounts and sessions, and it goes on applying entries the same way.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Namespace } from '../actors/master/namespace.js';
import { listing, nextEntry, applyToBoth } from './helpers/namespace-entries.js';
import { METASTORES, memStore } from './helpers/metastores.js';

describe.each(METASTORES)('namespace snapshot (%s metastore)', (metastore) => {
  const fresh = (rootUfs: string) => new Namespace(rootUfs, 'strata', 'supergroup', memStore(metastore));
  it('restores to an equal namespace that applies further entries identically', () => {
    const step = fc.tuple(fc.nat(), fc.nat(), fc.nat());
    fc.assert(
      fc.property(fc.array(step, { maxLength: 60 }), fc.array(step, { maxLength: 20 }), (before, after) => {
        const a = fresh('sim://root');
        for (const s of before) {
          const e = nextEntry(a, s);
          if (e) a.apply(e);
        }
        const b = fresh('sim://root');
        b.restore(a.snapshot());
        expect(listing(b)).toEqual(listing(a));
        expect(b.snapshot()).toEqual(a.snapshot());
        for (const s of after) applyToBoth(a, b, s);
        expect(listing(b)).toEqual(listing(a));
        expect(b.sessions.entries()).toEqual(a.sessions.entries());
        // The root UFS is configuration: a restore keeps the one configured now.
        const c = fresh('sim://moved');
        c.restore(a.snapshot());
        expect(c.mountTable()[0]!.uri).toBe('sim://moved');
      }),
      { numRuns: 200 },
    );
  });
});
