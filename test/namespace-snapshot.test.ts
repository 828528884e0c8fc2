// A namespace restored from its snapshot is the same namespace: same tree, ids,
// mounts and sessions, and it goes on applying entries the same way.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Namespace, ROOT_ID, type JournalEntry } from '../actors/master/namespace.js';

function listing(ns: Namespace): string[] {
  const out: string[] = [];
  const walk = (id: number) => {
    const n = ns.get(id)!;
    out.push(`${ns.pathOf(n)}#${n.id}:${n.isDir ? 'd' : 'f'}:${n.length}:${n.completed}:${ns.mountOf(n).uri}`);
    for (const c of ns.children(n)) walk(c.id);
  };
  walk(ROOT_ID);
  return out;
}

/** Picks a valid next entry for the current state from a few random numbers. */
function nextEntry(ns: Namespace, [kind, a, b]: [number, number, number]): JournalEntry | undefined {
  const all = listing(ns).map((l) => Number(l.split('#')[1]!.split(':')[0]));
  const dirs = all.filter((id) => ns.get(id)!.isDir);
  const pick = (ids: number[], x: number) => ids[x % ids.length]!;
  const name = `n${b % 7}`;
  switch (kind % 6) {
    case 0: {
      const parent = pick(dirs, a);
      return ns.child(ns.get(parent)!, name) ? undefined : { op: 'mkdir', parent, name, mtimeMs: a, req: { c: 'c', r: a } };
    }
    case 1: {
      const parent = pick(dirs, a);
      return ns.child(ns.get(parent)!, name) ? undefined : { op: 'create', parent, name, blockSize: 64, mtimeMs: b };
    }
    case 2: {
      const files = all.filter((id) => !ns.get(id)!.isDir && !ns.get(id)!.completed);
      return files.length ? { op: 'complete', id: pick(files, a), length: b, mtimeMs: a } : undefined;
    }
    case 3: {
      const victims = all.filter((id) => id !== ROOT_ID && ns.get(id)!.mountId === undefined);
      return victims.length ? { op: 'delete', id: pick(victims, a) } : undefined;
    }
    case 4: {
      const parent = pick(dirs, a);
      return ns.child(ns.get(parent)!, name) ? undefined : { op: 'mount', parent, name, uri: `sim://m${a}`, readOnly: b % 2 === 0, shared: false, options: [['k', String(b)]], mtimeMs: 0 };
    }
    default: {
      const dir = pick(dirs, a);
      return ns.get(dir)!.childrenLoaded ? undefined : { op: 'load', dir, children: [{ name: `u${b % 5}`, isDir: b % 2 === 0, length: b, mtimeMs: 1 }], blockSize: 32 };
    }
  }
}

describe('namespace snapshot', () => {
  it('restores to an equal namespace that applies further entries identically', () => {
    const step = fc.tuple(fc.nat(), fc.nat(), fc.nat());
    fc.assert(
      fc.property(fc.array(step, { maxLength: 60 }), fc.array(step, { maxLength: 20 }), (before, after) => {
        const a = new Namespace('sim://root');
        for (const s of before) {
          const e = nextEntry(a, s);
          if (e) a.apply(e);
        }
        const b = new Namespace('sim://root');
        b.restore(a.snapshot());
        expect(listing(b)).toEqual(listing(a));
        expect(b.snapshot()).toEqual(a.snapshot());
        for (const s of after) {
          const e = nextEntry(a, s);
          if (!e) continue;
          expect(b.apply(e)?.id).toBe(a.apply(e)?.id);
        }
        expect(listing(b)).toEqual(listing(a));
        expect(b.sessions.entries()).toEqual(a.sessions.entries());
        // The root UFS is configuration: a restore keeps the one configured now.
        const c = new Namespace('sim://moved');
        c.restore(a.snapshot());
        expect(c.mountTable()[0]!.uri).toBe('sim://moved');
      }),
      { numRuns: 200 },
    );
  });
});
