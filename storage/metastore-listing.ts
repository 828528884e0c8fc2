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

// Numbers travel as the bytes of typed arrays: parsing thousands of msgpack numbers
// cost more than the rest of a listing. The byte order is this machine's, which is
// enough: the store is emptied on every start, so no other machine reads it. A
// column whose rows all hold one value (block size, owner, mode, often) is that value.
type Column = Uint8Array | number;
type Listing = [
  version: 1, names: string[], ids: Column, lengths: Column, mtimes: Column, blockSizes: Column, flags: Column,
  /** Owners and groups, each once, and per row the index of its own. */
  owners: string[], ownerOf: Column, groups: string[], groupOf: Column, modes: Column,
  /** Rows with a TTL or a mount id (rare for a file): [row, ttl ms or -1, ttl action, mount id]. */
  extras: Array<[number, number, 'DELETE' | 'FREE' | 0, number]>,
];

function column(a: Float64Array | Uint32Array | Uint8Array): Column {
  const bytes = new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
  if (a.length === 0) return bytes;
  const first = a[0]!;
  // -0 is not 0 here: the record gives back what it was given.
  for (let i = 1; i < a.length; i++) if (a[i] !== first || (first === 0 && 1 / a[i]! !== 1 / first)) return bytes;
  return first;
}

/** A column's values: a typed array over a copy of its bytes (the decoder may hand out an unaligned view), or its one value. */
function values<T extends Float64Array | Uint32Array | Uint8Array>(c: Column, make: (buffer: ArrayBuffer) => T): T | number {
  return typeof c === 'number' ? c : make(new Uint8Array(c).buffer);
}

const at = (c: ArrayLike<number> | number, i: number): number => (typeof c === 'number' ? c : c[i]!);

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
  const names: string[] = new Array(n);
  const [ids, lengths, mtimes, blockSizes] = [new Float64Array(n), new Float64Array(n), new Float64Array(n), new Float64Array(n)];
  const flags = new Uint8Array(n);
  const [ownerOf, groupOf] = [new Uint32Array(n), new Uint32Array(n)];
  const modes = new Uint32Array(n);
  const owners: string[] = [];
  const groups: string[] = [];
  const extras: Listing[12] = [];
  const owner = interner(owners);
  const group = interner(groups);
  for (let i = 0; i < n; i++) {
    const f = sorted[i]!;
    if (f.isDir) throw new Error(`listing records hold files only; inode ${f.id} is a directory`);
    names[i] = f.name;
    ids[i] = f.id;
    lengths[i] = f.length;
    mtimes[i] = f.mtimeMs;
    blockSizes[i] = f.blockSize;
    flags[i] = (f.completed ? COMPLETED : 0) | (f.persisted ? PERSISTED : 0) | (f.childrenLoaded ? CHILDREN_LOADED : 0) | (f.pinned ? PINNED : 0);
    ownerOf[i] = owner(f.owner);
    groupOf[i] = group(f.group);
    modes[i] = f.mode;
    if (f.ttl || f.mountId) extras.push([i, f.ttl ? f.ttl.ms : -1, f.ttl ? f.ttl.action : 0, f.mountId ?? 0]);
  }
  const l: Listing = [
    1, names, column(ids), column(lengths), column(mtimes), column(blockSizes), column(flags), owners, column(ownerOf), groups, column(groupOf), column(modes), extras,
  ];
  return packRecord(l);
}

/**
 * The files of a listing record, sorted by name, as detached inodes of directory `parent`.
 * `keep(name, id)` filters rows before an object is made for them.
 */
export function decodeListing(bytes: Uint8Array, parent: number, keep: (name: string, id: number) => boolean): Inode[] {
  const l = unpackRecord(bytes) as Listing;
  if (l[0] !== 1) throw new Error(`listing record of directory ${parent} has version ${l[0]}, not 1`);
  const [names, owners, groups, extras] = [l[1], l[7], l[9], l[12]];
  const f64 = (b: ArrayBuffer) => new Float64Array(b);
  const u32 = (b: ArrayBuffer) => new Uint32Array(b);
  const [ids, lengths, mtimes, blockSizes] = [values(l[2], f64), values(l[3], f64), values(l[4], f64), values(l[5], f64)];
  const [ownerOf, groupOf, modes] = [values(l[8], u32), values(l[10], u32), values(l[11], u32)];
  const flags = values(l[6], (b) => new Uint8Array(b));
  const extraAt = new Map<number, Listing[12][number]>();
  for (const e of extras) extraAt.set(e[0], e);
  const out: Inode[] = [];
  for (let i = 0; i < names.length; i++) {
    const name = names[i]!;
    const id = at(ids, i);
    if (!keep(name, id)) continue;
    const fl = at(flags, i);
    const f: Inode = {
      id, parent, name, isDir: false, length: at(lengths, i), mtimeMs: at(mtimes, i), blockSize: at(blockSizes, i),
      completed: (fl & COMPLETED) !== 0, persisted: (fl & PERSISTED) !== 0, childrenLoaded: (fl & CHILDREN_LOADED) !== 0,
      children: undefined, owner: owners[at(ownerOf, i)]!, group: groups[at(groupOf, i)]!, mode: at(modes, i),
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
