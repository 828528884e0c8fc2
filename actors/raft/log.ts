// The core's view of the replicated log: the latest snapshot, the entries after it,
// and three cursors. `stable` is the last index the driver has persisted, so the
// entries after it are what the next Ready asks it to write; `committed` and
// `applied` are Raft's. The whole log after the snapshot is kept in memory: the
// master compacts at a checkpoint period, which bounds it.
import type { NodeId } from '../env.js';
import { RaftInvariantError, type Entry, type Snapshot } from './types.js';

export class RaftLog {
  snapshot: Snapshot;
  /** entries[i].index === snapshot.meta.index + 1 + i */
  private entries: Entry[] = [];
  stable: number;
  committed: number;
  applied: number;
  /** The lowest index cut off since the last Ready was handed out. */
  cutSinceReady = Infinity;
  /** A snapshot received from a leader that the driver has not persisted yet. */
  pendingSnapshot: Snapshot | null = null;

  constructor(snapshot: Snapshot, entries: readonly Entry[], committed: number, applied: number) {
    this.snapshot = snapshot;
    const first = snapshot.meta.index + 1;
    for (const e of entries) {
      if (e.index < first) continue;
      if (e.index !== first + this.entries.length) {
        throw new RaftInvariantError(`restored log has a gap: expected index ${first + this.entries.length}, got ${e.index}`);
      }
      this.entries.push(e);
    }
    this.stable = this.lastIndex();
    this.committed = Math.max(committed, snapshot.meta.index);
    if (this.committed > this.lastIndex()) {
      throw new RaftInvariantError(`restored commit ${this.committed} is past the last entry ${this.lastIndex()}`);
    }
    this.applied = Math.min(Math.max(applied, snapshot.meta.index), this.committed);
  }

  /** The first index still held as an entry (the one after the snapshot). */
  firstIndex(): number {
    return this.snapshot.meta.index + 1;
  }

  lastIndex(): number {
    return this.snapshot.meta.index + this.entries.length;
  }

  lastTerm(): number {
    return this.term(this.lastIndex())!;
  }

  /** The term at `index`, or undefined when it is compacted away or beyond the end. */
  term(index: number): number | undefined {
    const snap = this.snapshot.meta;
    if (index === snap.index) return snap.term;
    if (index < snap.index || index > this.lastIndex()) return undefined;
    return this.entries[index - snap.index - 1]!.term;
  }

  entry(index: number): Entry | undefined {
    const i = index - this.snapshot.meta.index - 1;
    return i >= 0 && i < this.entries.length ? this.entries[i] : undefined;
  }

  /** Entries in [lo, hi], capped by count and (after the first) bytes. */
  slice(lo: number, hi: number, maxCount = Infinity, maxBytes = Infinity): Entry[] {
    const off = this.snapshot.meta.index + 1;
    if (lo < off) throw new RaftInvariantError(`slice from ${lo} reaches into the snapshot (first index ${off})`);
    const out: Entry[] = [];
    let bytes = 0;
    for (let i = lo; i <= Math.min(hi, this.lastIndex()) && out.length < maxCount; i++) {
      const e = this.entries[i - off]!;
      bytes += e.data.length;
      if (out.length > 0 && bytes > maxBytes) break;
      out.push(e);
    }
    return out;
  }

  matchTerm(index: number, term: number): boolean {
    return this.term(index) === term;
  }

  /** True when a log ending at (lastIndex, lastTerm) is at least as up to date as this one (§5.4.1). */
  isUpToDate(lastIndex: number, lastTerm: number): boolean {
    const mine = this.lastTerm();
    return lastTerm > mine || (lastTerm === mine && lastIndex >= this.lastIndex());
  }

  append(e: Entry): void {
    if (e.index !== this.lastIndex() + 1) throw new RaftInvariantError(`append at ${e.index} after last index ${this.lastIndex()}`);
    this.entries.push(e);
  }

  /**
   * Appends a leader's entries that follow prevIndex (already matched), cutting off
   * this log at the first conflict. Returns the first index that was cut, if any.
   */
  appendFromLeader(ents: readonly Entry[]): number | null {
    let cut: number | null = null;
    for (const e of ents) {
      if (e.index <= this.snapshot.meta.index) continue;
      const t = this.term(e.index);
      if (t === e.term) continue;
      if (t !== undefined) {
        if (e.index <= this.committed) {
          throw new RaftInvariantError(`leader entry ${e.index}@${e.term} conflicts with committed entry @${t}`);
        }
        this.truncateFrom(e.index);
        cut ??= e.index;
      }
      this.append(e);
    }
    return cut;
  }

  truncateFrom(index: number): void {
    this.entries.length = index - this.snapshot.meta.index - 1;
    if (this.stable >= index) this.stable = index - 1;
    this.cutSinceReady = Math.min(this.cutSinceReady, index);
  }

  /** Entries the driver has not persisted yet. */
  unstable(): Entry[] {
    return this.entries.slice(this.stable - this.snapshot.meta.index);
  }

  /** Committed entries not yet handed out for application. */
  toApply(): Entry[] {
    if (this.committed <= this.applied) return [];
    return this.slice(this.applied + 1, this.committed);
  }

  commitTo(index: number): void {
    if (index > this.lastIndex()) throw new RaftInvariantError(`commit ${index} past last index ${this.lastIndex()}`);
    if (index > this.committed) this.committed = index;
  }

  /** Drops the entries up to `snap.meta.index`, which the state machine has captured in `snap`. */
  compact(snap: Snapshot): void {
    const drop = snap.meta.index - this.snapshot.meta.index;
    this.entries = this.entries.slice(drop);
    this.snapshot = snap;
  }

  /** Replaces the whole log by a leader's snapshot. */
  restore(snap: Snapshot): void {
    this.entries = [];
    this.snapshot = snap;
    this.committed = snap.meta.index;
    this.applied = snap.meta.index;
    this.stable = snap.meta.index;
    this.cutSinceReady = Math.min(this.cutSinceReady, snap.meta.index + 1);
    this.pendingSnapshot = snap;
  }
}

/** The snapshot an empty log starts from. */
export function emptySnapshot(voters: readonly NodeId[]): Snapshot {
  return { meta: { index: 0, term: 0, voters: [...voters] }, data: new Uint8Array(0) };
}
