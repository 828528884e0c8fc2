// A directory's listing record for the ROCKS metastore: every file child of one
// directory in a single record, column by column, sorted by name. Listing a
// directory from one record costs about what HEAP pays to walk its map; reading
// one record per child (decoding each) costs 15-25 times more.
//
// Only files are kept: a child directory's record carries its own edges, which a
// listing does not need but an Inode must hold, so those are read as inodes.
// The listing duplicates what the children's own records hold; it is derived
// state, rebuilt or dropped by the store's write-back (storage/metastore-rocks.ts).
import { packRecord, unpackRecord } from '../transport/codec.js';
import type { Inode } from './metastore.js';

const COMPLETED = 1;
const PERSISTED = 2;
const CHILDREN_LOADED = 4;
const PINNED = 8;

type Listing = [
  version: 1, names: string[], ids: number[], lengths: number[], mtimes: number[], blockSizes: number[], flags: number[],
  /** Owners and groups, each once, and per row the index of its own. */
  owners: string[], ownerOf: number[], groups: string[], groupOf: number[], modes: number[],
  /** Rows with a TTL or a mount id (rare for a file): [row, ttl ms or -1, ttl action, mount id]. */
  extras: Array<[number, number, 'DELETE' | 'FREE' | 0, number]>,
];

const byName = (a: Inode, b: Inode): number => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0);

/** Interns strings: their index in `list`. */
function interner(list: string[]): (s: string) => number {
  const at = new Map<string, number>();
  return (s) => {
    let i = at.get(s);
    if (i === undefined) {
      i = list.length;
      list.push(s);
      at.set(s, i);
    }
    return i;
  };
}

/** The listing record of these files (all children of one directory; directories are refused). */
export function encodeListing(files: readonly Inode[]): Uint8Array {
  const sorted = [...files].sort(byName);
  const n = sorted.length;
  const l: Listing = [1, new Array(n), new Array(n), new Array(n), new Array(n), new Array(n), new Array(n), [], new Array(n), [], new Array(n), new Array(n), []];
  const owner = interner(l[7]);
  const group = interner(l[9]);
  for (let i = 0; i < n; i++) {
    const f = sorted[i]!;
    if (f.isDir) throw new Error(`listing records hold files only; inode ${f.id} is a directory`);
    l[1][i] = f.name;
    l[2][i] = f.id;
    l[3][i] = f.length;
    l[4][i] = f.mtimeMs;
    l[5][i] = f.blockSize;
    l[6][i] = (f.completed ? COMPLETED : 0) | (f.persisted ? PERSISTED : 0) | (f.childrenLoaded ? CHILDREN_LOADED : 0) | (f.pinned ? PINNED : 0);
    l[8][i] = owner(f.owner);
    l[10][i] = group(f.group);
    l[11][i] = f.mode;
    if (f.ttl || f.mountId) l[12].push([i, f.ttl ? f.ttl.ms : -1, f.ttl ? f.ttl.action : 0, f.mountId ?? 0]);
  }
  return packRecord(l);
}

/**
 * The files of a listing record, sorted by name, as detached inodes of directory `parent`.
 * `keep(name, id)` filters rows before an object is made for them.
 */
export function decodeListing(bytes: Uint8Array, parent: number, keep: (name: string, id: number) => boolean): Inode[] {
  const [version, names, ids, lengths, mtimes, blockSizes, flags, owners, ownerOf, groups, groupOf, modes, extras] = unpackRecord(bytes) as Listing;
  if (version !== 1) throw new Error(`listing record of directory ${parent} has version ${version}, not 1`);
  const extraAt = new Map<number, Listing[12][number]>();
  for (const e of extras) extraAt.set(e[0], e);
  const out: Inode[] = [];
  for (let i = 0; i < names.length; i++) {
    const name = names[i]!;
    const id = ids[i]!;
    if (!keep(name, id)) continue;
    const fl = flags[i]!;
    const f: Inode = {
      id, parent, name, isDir: false, length: lengths[i]!, mtimeMs: mtimes[i]!, blockSize: blockSizes[i]!,
      completed: (fl & COMPLETED) !== 0, persisted: (fl & PERSISTED) !== 0, childrenLoaded: (fl & CHILDREN_LOADED) !== 0,
      children: undefined, owner: owners[ownerOf[i]!]!, group: groups[groupOf[i]!]!, mode: modes[i]!,
    };
    if (fl & PINNED) f.pinned = true;
    const e = extraAt.get(i);
    if (e) {
      if (e[1] >= 0) f.ttl = { ms: e[1], action: e[2] as 'DELETE' | 'FREE' };
      if (e[3]) f.mountId = e[3];
    }
    out.push(f);
  }
  return out;
}
