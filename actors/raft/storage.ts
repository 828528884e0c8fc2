// The Raft log on disk: what a RaftNode's Ready asks the driver to persist.
//
//   <dir>/log.<first index>      segments of entries, framed like the single-master
//                                journal (storage/journal.ts): the record's sequence
//                                number is the entry's Raft index and its payload is
//                                [u32 term high][u32 term low][u8 type][data]
//   <dir>/hardstate              term, vote and commit; replaced atomically
//   <dir>/snapshot.<index>       the latest snapshot; replaced atomically
//
// Unlike the journal, a Raft log is not append-only: a follower cuts a conflicting
// suffix before taking a new leader's entries. A cut truncates the segment holding
// the first cut entry at that record's offset (kept in memory per segment) and
// deletes every later segment, newest first, so a crash mid-cut leaves a shorter
// log, never one with a hole.
//
// Recovery reuses the journal's segment scan, so the same rules hold: a torn tail
// of the last segment is cut off with a warning, and a bad record anywhere else or
// an index gap stops the node with JournalCorruptError naming file and offset.
import type { Disk, Logger, NodeId } from '../env.js';
import { StrataError } from '../protocol/envelope.js';
import { crc32 } from '../../storage/crc32.js';
import { JournalCorruptError, RECORD_HEADER_BYTES, encodeRecords, scanSegment, segmentName } from '../../storage/journal.js';
import type { Entry, EntryType, HardState, Snapshot } from './types.js';

const SEGMENT_NAME = /^log\.(\d{16})$/;
const SNAPSHOT_NAME = /^snapshot\.(\d{16})$/;
const HARD_STATE = 'hardstate';
const TMP_SUFFIX = '.tmp';
const TWO_32 = 0x1_0000_0000;
const ENTRY_HEADER = 9;
const TYPES: readonly EntryType[] = ['normal', 'conf', 'noop'];
const SNAPSHOT_MAGIC = 0x5253_4e31; // "RSN1"
const HARD_MAGIC = 0x5248_5331; // "RHS1"
const READ_ATTEMPTS = 3;

export interface RaftStorageOptions {
  /** A new segment starts once the current one reaches this size. */
  segmentBytes?: number;
  /** Larger records on disk are treated as corruption. */
  maxRecordBytes?: number;
}

/** What a RaftNode is restored from (RaftOptions.restore). */
export interface RaftDiskState {
  readonly hardState?: HardState;
  readonly snapshot?: Snapshot;
  readonly entries: Entry[];
}

export interface RaftStorageStats {
  /** Entries acknowledged durable. */
  entries: number;
  /** Disk appends of entries, each followed by one fsync: fewer than `entries` when commits were grouped. */
  batches: number;
  fsyncs: number;
  hardStates: number;
  snapshots: number;
  truncations: number;
  segments: number;
}

interface Segment {
  readonly path: string;
  readonly start: number;
  /** Byte offset of each record: offsets[i] holds entry start + i. */
  offsets: number[];
  size: number;
}

function join(dir: string, name: string): string {
  const d = dir.replace(/\/+$/, '');
  return d === '' ? name : `${d}/${name}`;
}

function pad16(n: number): string {
  return String(n).padStart(16, '0');
}

function encodeEntryPayload(e: Entry): Uint8Array {
  const out = new Uint8Array(ENTRY_HEADER + e.data.byteLength);
  const v = new DataView(out.buffer);
  v.setUint32(0, Math.floor(e.term / TWO_32));
  v.setUint32(4, e.term % TWO_32);
  v.setUint8(8, TYPES.indexOf(e.type));
  out.set(e.data, ENTRY_HEADER);
  return out;
}

export function encodeHardState(hs: HardState): Uint8Array {
  const body = new TextEncoder().encode(JSON.stringify({ term: hs.term, vote: hs.vote, commit: hs.commit }));
  return seal(HARD_MAGIC, body);
}

/** [u32 magic][u32 length][body][u32 crc of all before]: a whole-file checksum for files replaced by rename. */
function seal(magic: number, body: Uint8Array): Uint8Array {
  const out = new Uint8Array(12 + body.byteLength);
  const v = new DataView(out.buffer);
  v.setUint32(0, magic);
  v.setUint32(4, body.byteLength);
  out.set(body, 8);
  v.setUint32(8 + body.byteLength, crc32(out.subarray(0, 8 + body.byteLength)));
  return out;
}

function unseal(buf: Uint8Array, magic: number): Uint8Array | string {
  if (buf.byteLength < 12) return `file too short (${buf.byteLength} bytes)`;
  const v = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  if (v.getUint32(0) !== magic) return 'bad magic number';
  const len = v.getUint32(4);
  if (len !== buf.byteLength - 12) return `length field ${len} does not match the file size ${buf.byteLength}`;
  if (crc32(buf.subarray(0, 8 + len)) !== v.getUint32(8 + len)) return 'checksum mismatch';
  return buf.subarray(8, 8 + len);
}

function encodeSnapshot(s: Snapshot): Uint8Array {
  const meta = new TextEncoder().encode(JSON.stringify({ index: s.meta.index, term: s.meta.term, voters: [...s.meta.voters] }));
  const body = new Uint8Array(4 + meta.byteLength + s.data.byteLength);
  new DataView(body.buffer).setUint32(0, meta.byteLength);
  body.set(meta, 4);
  body.set(s.data, 4 + meta.byteLength);
  return seal(SNAPSHOT_MAGIC, body);
}

function decodeSnapshot(body: Uint8Array): Snapshot | string {
  if (body.byteLength < 4) return 'snapshot body too short';
  const metaLen = new DataView(body.buffer, body.byteOffset, body.byteLength).getUint32(0);
  if (4 + metaLen > body.byteLength) return 'snapshot metadata length out of range';
  try {
    const m = JSON.parse(new TextDecoder().decode(body.subarray(4, 4 + metaLen))) as { index?: unknown; term?: unknown; voters?: unknown };
    if (typeof m.index !== 'number' || typeof m.term !== 'number' || !Array.isArray(m.voters) || !m.voters.every((x) => typeof x === 'string')) {
      return 'malformed snapshot metadata';
    }
    return { meta: { index: m.index, term: m.term, voters: m.voters as NodeId[] }, data: body.slice(4 + metaLen) };
  } catch {
    return 'unparseable snapshot metadata';
  }
}

function decodeHardState(body: Uint8Array): HardState | string {
  try {
    const h = JSON.parse(new TextDecoder().decode(body)) as { term?: unknown; vote?: unknown; commit?: unknown };
    if (typeof h.term !== 'number' || typeof h.commit !== 'number' || (h.vote !== null && typeof h.vote !== 'string')) return 'malformed hard state';
    return { term: h.term, vote: h.vote as NodeId | null, commit: h.commit };
  } catch {
    return 'unparseable hard state';
  }
}

/**
 * Reads a sealed file, re-reading when the check fails: a read can be corrupted in
 * transit while the disk holds good bytes (as the journal's segment scan assumes).
 */
async function readSealed<T>(disk: Disk, path: string, magic: number, decode: (body: Uint8Array) => T | string): Promise<T> {
  let why = '';
  for (let attempt = 0; attempt < READ_ATTEMPTS; attempt++) {
    const body = unseal(await disk.readFile(path), magic);
    if (typeof body === 'string') {
      why = body;
      continue;
    }
    const v = decode(body);
    if (typeof v !== 'string') return v;
    why = v;
  }
  // Written to a temporary name, synced, then renamed: a crash cannot leave it half-written.
  throw new JournalCorruptError(path, 0, why);
}

type Op =
  | { readonly k: 'append'; readonly entries: readonly Entry[]; readonly done: Array<{ resolve: () => void; reject: (e: unknown) => void }> }
  | { readonly k: 'other'; readonly run: () => Promise<void>; readonly resolve: () => void; readonly reject: (e: unknown) => void };

export class RaftStorage {
  private segments: Segment[];
  private snapIndex: number;
  private last: number;
  private queue: Op[] = [];
  private flushing = false;
  private failure: unknown = null;
  private closed = false;
  private readonly counters: RaftStorageStats;

  private constructor(
    private readonly disk: Disk,
    private readonly dir: string,
    private readonly log: Logger,
    private readonly segmentBytes: number,
    segments: Segment[],
    snapIndex: number,
    last: number,
  ) {
    this.segments = segments;
    this.snapIndex = snapIndex;
    this.last = last;
    this.counters = { entries: 0, batches: 0, fsyncs: 0, hardStates: 0, snapshots: 0, truncations: 0, segments: segments.length };
  }

  /**
   * Opens (creating if needed) the Raft log in `dir`, repairs what a crash can leave
   * (a torn tail, leftover temporary files, segments a finished snapshot covers) and
   * returns what the core restarts from. Rejects with JournalCorruptError otherwise.
   */
  static async open(disk: Disk, dir: string, log: Logger, opts: RaftStorageOptions = {}): Promise<{ storage: RaftStorage; state: RaftDiskState }> {
    const segmentBytes = opts.segmentBytes ?? 8 * 1024 * 1024;
    const maxRecordBytes = opts.maxRecordBytes ?? 64 * 1024 * 1024;
    await disk.mkdir(dir);
    const names = await disk.list(dir);
    const segs: Array<{ path: string; start: number }> = [];
    const snaps: Array<{ path: string; index: number }> = [];
    let hasHard = false;
    for (const name of names) {
      const path = join(dir, name);
      let m: RegExpExecArray | null;
      if (name.endsWith(TMP_SUFFIX)) {
        // A replacement that crashed before its rename: the previous file still stands.
        await disk.remove(path);
      } else if ((m = SEGMENT_NAME.exec(name))) segs.push({ path, start: Number(m[1]) });
      else if ((m = SNAPSHOT_NAME.exec(name))) snaps.push({ path, index: Number(m[1]) });
      else if (name === HARD_STATE) hasHard = true;
      else log.log('warn', 'raft storage: ignoring unexpected file', { file: path });
    }
    segs.sort((a, b) => a.start - b.start);
    snaps.sort((a, b) => a.index - b.index);

    let snapshot: Snapshot | undefined;
    if (snaps.length > 0) {
      const newest = snaps[snaps.length - 1]!;
      snapshot = await readSealed(disk, newest.path, SNAPSHOT_MAGIC, decodeSnapshot);
      if (snapshot.meta.index !== newest.index) throw new JournalCorruptError(newest.path, 0, `snapshot says index ${snapshot.meta.index}, its name ${newest.index}`);
      // Older ones are leftovers of a crash between a rename and the cleanup after it.
      for (const s of snaps.slice(0, -1)) await disk.remove(s.path);
    }
    const hardState = hasHard ? await readSealed(disk, join(dir, HARD_STATE), HARD_MAGIC, decodeHardState) : undefined;

    // Scan every segment: the records must run on without a gap across segment boundaries.
    const segments: Segment[] = [];
    let entries: Entry[] = [];
    let expected = segs.length > 0 ? segs[0]!.start : 0;
    for (let i = 0; i < segs.length; i++) {
      const s = segs[i]!;
      const isLast = i === segs.length - 1;
      if (s.start !== expected) {
        throw new JournalCorruptError(s.path, 0, `index ${s.start > expected ? 'gap' : 'regression'}: segment name says it starts at ${s.start}, expected ${expected}`);
      }
      const scan = await scanSegment(disk, s.path, s.start, isLast, maxRecordBytes, log);
      const offsets: number[] = [];
      let off = 0;
      for (const r of scan.entries) {
        offsets.push(off);
        if (r.payload.byteLength < ENTRY_HEADER || r.payload[8]! >= TYPES.length) {
          throw new JournalCorruptError(s.path, off, `record of entry ${r.seq} has a malformed payload`);
        }
        const v = new DataView(r.payload.buffer, r.payload.byteOffset, r.payload.byteLength);
        entries.push({
          index: r.seq,
          term: v.getUint32(0) * TWO_32 + v.getUint32(4),
          type: TYPES[r.payload[8]!]!,
          data: r.payload.slice(ENTRY_HEADER),
        });
        off += RECORD_HEADER_BYTES + r.payload.byteLength;
      }
      let size = scan.fileSize;
      if (scan.tornAt !== undefined) {
        log.log('warn', 'raft storage: truncating torn tail left by a crash', { file: s.path, offset: scan.tornAt, droppedBytes: scan.fileSize - scan.tornAt, reason: scan.tornReason });
        await disk.truncate(s.path, scan.tornAt);
        await disk.fsync(s.path);
        size = scan.tornAt;
      }
      segments.push({ path: s.path, start: s.start, offsets, size });
      expected = s.start + offsets.length;
    }

    // Reconcile the log with the snapshot.
    const snapIndex = snapshot?.meta.index ?? 0;
    if (snapshot && segments.length > 0) {
      const first = segments[0]!.start;
      const atSnap = entries.find((e) => e.index === snapIndex);
      const lastIdx = expected - 1;
      if (first > snapIndex + 1 && lastIdx >= first) {
        throw new JournalCorruptError(segments[0]!.path, 0, `entries ${snapIndex + 1}..${first - 1} are missing between the snapshot at ${snapIndex} and the first segment`);
      }
      if (atSnap !== undefined && atSnap.term !== snapshot.meta.term) {
        // A leader's snapshot replaced this log and the crash came before the old
        // segments were deleted: they belong to another history.
        log.log('warn', 'raft storage: dropping a log that the snapshot replaced', { snapshot: snapIndex, term: snapshot.meta.term });
        for (const s of [...segments].reverse()) await disk.remove(s.path);
        segments.length = 0;
        entries = [];
      }
    }
    // Segments wholly covered by the snapshot are what a compaction had yet to delete.
    while (segments.length > 0) {
      const s = segments[0]!;
      const end = segments.length > 1 ? segments[1]!.start - 1 : s.start + s.offsets.length - 1;
      if (end > snapIndex) break;
      if (segments.length === 1 && s.offsets.length > 0 && end === snapIndex) break;
      await disk.remove(s.path);
      segments.shift();
    }
    entries = entries.filter((e) => e.index > snapIndex);
    const last = entries.length > 0 ? entries[entries.length - 1]!.index : snapIndex;
    if (hardState && hardState.commit > last) {
      throw new JournalCorruptError(join(dir, HARD_STATE), 0, `hard state commit ${hardState.commit} is past the last entry ${last} on disk`);
    }
    const storage = new RaftStorage(disk, dir, log, segmentBytes, segments, snapIndex, last);
    return {
      storage,
      state: { ...(hardState ? { hardState } : {}), ...(snapshot ? { snapshot } : {}), entries },
    };
  }

  /** The last index held durably or queued (the snapshot's when the log is empty). */
  get lastIndex(): number {
    return this.last;
  }

  stats(): RaftStorageStats {
    return { ...this.counters, segments: this.segments.length };
  }

  /**
   * Appends entries, first cutting off any stored entries at or after
   * entries[0].index (a conflicting suffix). Resolves once they are durable.
   * Appends queued while a write is in flight go to disk together and share the
   * next fsync. After a failure every later call is refused: what reached the disk
   * is unknown, so the node must restart and recover.
   */
  append(entries: readonly Entry[]): Promise<void> {
    if (entries.length === 0) return Promise.resolve();
    const first = entries[0]!.index;
    if (first > this.last + 1) return Promise.reject(new StrataError('INTERNAL', `raft append at ${first} would leave a gap after ${this.last}`));
    this.last = entries[entries.length - 1]!.index;
    return new Promise<void>((resolve, reject) => {
      const tail = this.queue[this.queue.length - 1];
      // Only a contiguous continuation may join a batch; a cut must go to disk in order.
      if (tail && tail.k === 'append' && tail.entries[tail.entries.length - 1]!.index + 1 === first) {
        this.queue[this.queue.length - 1] = { k: 'append', entries: [...tail.entries, ...entries], done: [...tail.done, { resolve, reject }] };
      } else {
        this.queue.push({ k: 'append', entries, done: [{ resolve, reject }] });
      }
      this.kick();
    });
  }

  /** Replaces the hard state atomically and durably. */
  setHardState(hs: HardState): Promise<void> {
    return this.enqueue(async () => {
      await this.replaceFile(HARD_STATE, encodeHardState(hs));
      this.counters.hardStates++;
    });
  }

  /**
   * Stores a snapshot atomically and durably and deletes older ones. With
   * `replacesLog` (a leader's snapshot installed on a follower) every stored entry
   * goes too and the log restarts after the snapshot; otherwise (a local
   * checkpoint) the entries after it stay and segments it fully covers are deleted.
   */
  saveSnapshot(snap: Snapshot, replacesLog: boolean): Promise<void> {
    if (replacesLog) this.last = snap.meta.index;
    return this.enqueue(async () => {
      if (snap.meta.index <= this.snapIndex && !replacesLog) return;
      const prev = this.snapIndex;
      await this.replaceFile(`snapshot.${pad16(snap.meta.index)}`, encodeSnapshot(snap));
      this.counters.snapshots++;
      this.snapIndex = snap.meta.index;
      if (prev !== snap.meta.index && prev > 0) await this.disk.remove(join(this.dir, `snapshot.${pad16(prev)}`));
      if (replacesLog) {
        for (const s of [...this.segments].reverse()) await this.disk.remove(s.path);
        this.segments = [];
      } else {
        await this.dropCovered();
      }
    });
  }

  /** Waits for every queued operation, then refuses new ones. */
  async close(): Promise<void> {
    if (this.closed) return;
    await this.enqueue(async () => undefined).catch(() => undefined);
    this.closed = true;
  }

  private enqueue(run: () => Promise<void>): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.queue.push({ k: 'other', run, resolve, reject });
      this.kick();
    });
  }

  private kick(): void {
    if (!this.flushing) void this.flushLoop();
  }

  private async flushLoop(): Promise<void> {
    this.flushing = true;
    try {
      while (this.queue.length > 0) {
        const op = this.queue.shift()!;
        const fail = (e: unknown): void => (op.k === 'append' ? op.done.forEach((d) => d.reject(e)) : op.reject(e));
        if (this.closed) {
          fail(new StrataError('FAILED_PRECONDITION', 'raft storage is closed'));
          continue;
        }
        if (this.failure !== null) {
          fail(new StrataError('UNAVAILABLE', `raft storage failed after a disk error: ${describe(this.failure)}`));
          continue;
        }
        try {
          if (op.k === 'append') {
            await this.writeEntries(op.entries);
            this.counters.entries += op.entries.length;
            for (const d of op.done) d.resolve();
          } else {
            await op.run();
            op.resolve();
          }
        } catch (e) {
          this.failure = e;
          this.log.log('error', 'raft storage: disk operation failed; refusing further writes', { error: describe(e) });
          fail(e);
        }
      }
    } finally {
      this.flushing = false;
    }
  }

  private async writeEntries(entries: readonly Entry[]): Promise<void> {
    const first = entries[0]!.index;
    await this.cutFrom(first);
    let seg = this.segments[this.segments.length - 1];
    if (seg === undefined || seg.size >= this.segmentBytes) {
      // Created and synced empty, so the name recovery checks the records against exists before any record.
      seg = { path: join(this.dir, segmentName(first)), start: first, offsets: [], size: 0 };
      await this.disk.writeFile(seg.path, new Uint8Array(0));
      await this.disk.fsync(seg.path);
      this.counters.fsyncs++;
      this.segments.push(seg);
    }
    const bytes = encodeRecords(first, entries.map(encodeEntryPayload));
    let off = seg.size;
    for (const e of entries) {
      seg.offsets.push(off);
      off += RECORD_HEADER_BYTES + ENTRY_HEADER + e.data.byteLength;
    }
    await this.disk.append(seg.path, bytes);
    seg.size += bytes.byteLength;
    await this.disk.fsync(seg.path);
    this.counters.fsyncs++;
    this.counters.batches++;
  }

  /** Removes the stored entries from `index` on. */
  private async cutFrom(index: number): Promise<void> {
    let cut = false;
    while (this.segments.length > 0) {
      const seg = this.segments[this.segments.length - 1]!;
      const end = seg.start + seg.offsets.length;
      if (index >= end) break;
      cut = true;
      if (index <= seg.start) {
        await this.disk.remove(seg.path);
        this.segments.pop();
        continue;
      }
      const at = seg.offsets[index - seg.start]!;
      await this.disk.truncate(seg.path, at);
      // Synced before anything is appended after it, or a crash could bring back the cut records.
      await this.disk.fsync(seg.path);
      this.counters.fsyncs++;
      seg.offsets.length = index - seg.start;
      seg.size = at;
      break;
    }
    if (cut) this.counters.truncations++;
  }

  private async dropCovered(): Promise<void> {
    // The last segment stays even when covered: it is where the next append goes.
    while (this.segments.length > 1 && this.segments[1]!.start - 1 <= this.snapIndex) {
      await this.disk.remove(this.segments[0]!.path);
      this.segments.shift();
    }
  }

  private async replaceFile(name: string, data: Uint8Array): Promise<void> {
    const tmp = join(this.dir, name + TMP_SUFFIX);
    await this.disk.writeFile(tmp, data);
    await this.disk.fsync(tmp);
    this.counters.fsyncs++;
    await this.disk.rename(tmp, join(this.dir, name));
  }
}

function describe(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
