// Random but always valid journal entries for a namespace, and a listing to compare namespaces by.
import { expect } from 'vitest';
import { type Inode, type Namespace, ROOT_ID, type JournalEntry, RejectedEntry } from '../../actors/master/namespace.js';

/** The inode an entry made; throws (failing the test) if the namespace rejected the entry or made nothing. */
export function made(r: Inode | RejectedEntry | undefined): Inode {
  if (r === undefined || r instanceof RejectedEntry) throw new Error(`expected an inode, got ${r === undefined ? 'nothing' : r.message}`);
  return r;
}

/** The id of the inode an applied entry yields; undefined for a rejection or no inode, so namespaces compare by it. */
function appliedId(r: Inode | RejectedEntry | undefined): number | undefined {
  return r instanceof RejectedEntry ? undefined : r?.id;
}

/** Draws the next entry from `model`'s state and applies it to `other`, then to `model`: both must yield the same inode. */
export function applyToBoth(model: Namespace, other: Namespace, step: [number, number, number]): void {
  const e = nextEntry(model, step);
  if (e) expect(appliedId(other.apply(e))).toBe(appliedId(model.apply(e)));
}

export function listing(ns: Namespace): string[] {
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
export function nextEntry(ns: Namespace, [kind, a, b]: [number, number, number]): JournalEntry | undefined {
  const all = listing(ns).map((l) => Number(l.split('#')[1]!.split(':')[0]));
  const dirs = all.filter((id) => ns.get(id)!.isDir);
  const pick = (ids: number[], x: number) => ids[x % ids.length]!;
  const name = `n${b % 7}`;
  switch (kind % 9) {
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
    case 6: {
      const movable = all.filter((id) => id !== ROOT_ID && ns.get(id)!.mountId === undefined);
      if (!movable.length) return undefined;
      const n = ns.get(pick(movable, a))!;
      const to = ns.get(pick(dirs, b))!;
      if (ns.isAncestor(n, to) || ns.child(to, name) || ns.mountOf(n) !== ns.mountOf(to)) return undefined;
      return { op: 'rename', id: n.id, parent: to.id, name, mtimeMs: a, req: { c: 'r', r: b } };
    }
    case 7:
      return { op: 'setAttr', id: pick(all, a), pinned: b % 2 === 0, ttl: b % 3 === 0 ? -1 : b, ttlAction: b % 5 === 0 ? 'FREE' : 'DELETE', mode: b & 0o777, owner: `u${a % 3}` };
    case 8: {
      const dir = ns.get(pick(dirs, a))!;
      const names = ns.children(dir).map((c) => c.name);
      return { op: 'sync', dir: dir.id, remove: names.length ? [names[b % names.length]!] : [], add: [{ name: `s${b % 4}`, isDir: b % 3 === 0, length: a % 100, mtimeMs: 2 }], blockSize: 16 };
    }
    default: {
      const dir = pick(dirs, a);
      // A partial load (load type ALWAYS) adds a name without marking the directory loaded.
      const partial = b % 3 === 0;
      return ns.get(dir)!.childrenLoaded && !partial ? undefined : { op: 'load', dir, children: [{ name: `u${b % 5}`, isDir: b % 2 === 0, length: b, mtimeMs: 1 }], blockSize: 32, ...(partial ? { partial } : {}) };
    }
  }
}

