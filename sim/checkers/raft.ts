// The Raft paper's safety properties (Figure 3), checked against live cores: the
// core tests (test/raft-helpers.ts) and the Raft scenarios share this one copy.
//
// - Election Safety: at most one leader per term.
// - Leader Append-Only: a leader never overwrites or deletes entries in its log.
// - Log Matching: two logs with an entry of the same index and term agree on every
//   entry up to it.
// - Leader Completeness: an entry committed in a term is in the log of every
//   leader of a later term.
// - State Machine Safety: no two nodes apply different entries at one index.
//
// The cheap checks (election, append-only, applied entries) run on every
// observation; the pairwise log comparison is for a periodic sweep.
import type { NodeId } from '../../actors/env.js';
import type { Entry, RaftStatus } from '../../actors/raft/index.js';

/** What the checker reads from a node: RaftNode satisfies it. */
export interface RaftView {
  readonly id: NodeId;
  status(): Pick<RaftStatus, 'role' | 'term' | 'firstIndex' | 'lastIndex'>;
  termAt(index: number): number | undefined;
  entryAt(index: number): Entry | undefined;
}

export class RaftSafetyError extends Error {
  constructor(
    readonly property: 'election safety' | 'leader append-only' | 'log matching' | 'leader completeness' | 'state machine safety',
    detail: string,
  ) {
    super(`${property} violated: ${detail}`);
    this.name = 'RaftSafetyError';
  }
}

interface AppliedRecord {
  readonly term: number;
  readonly type: Entry['type'];
  readonly data: Uint8Array;
  readonly by: NodeId;
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.byteLength !== b.byteLength) return false;
  for (let i = 0; i < a.byteLength; i++) if (a[i] !== b[i]) return false;
  return true;
}

export class RaftChecker {
  /** term → the leader seen in it. */
  readonly leaders = new Map<number, NodeId>();
  /** index → the entry some node applied there. */
  readonly appliedAt = new Map<number, AppliedRecord>();
  /** index → the lowest term of a node that applied it: the entry was committed by then. */
  readonly committedBy = new Map<number, number>();
  /** `${id}@${term}` → the tail of that leader's log when last seen. */
  private readonly leaderTails = new Map<string, { last: number; term: number }>();
  checks = 0;

  /** Election Safety and Leader Append-Only, for a node that may be leading. */
  observe(v: RaftView): void {
    const st = v.status();
    if (st.role !== 'leader') return;
    const prev = this.leaders.get(st.term);
    if (prev !== undefined && prev !== v.id) throw new RaftSafetyError('election safety', `${prev} and ${v.id} both lead term ${st.term}`);
    this.leaders.set(st.term, v.id);
    const key = `${v.id}@${st.term}`;
    const tail = this.leaderTails.get(key);
    if (tail !== undefined) {
      if (st.lastIndex < tail.last) throw new RaftSafetyError('leader append-only', `${v.id} (term ${st.term}) shrank its log from ${tail.last} to ${st.lastIndex}`);
      const t = v.termAt(tail.last);
      if (t !== undefined && t !== tail.term) {
        throw new RaftSafetyError('leader append-only', `${v.id} (term ${st.term}) rewrote entry ${tail.last}: term ${tail.term} became ${t}`);
      }
    }
    this.leaderTails.set(key, { last: st.lastIndex, term: v.termAt(st.lastIndex) ?? 0 });
  }

  /** State Machine Safety: `v` (now in `term`) applied `e`. */
  applied(v: RaftView, e: Entry, term = v.status().term): void {
    const seen = this.appliedAt.get(e.index);
    if (seen === undefined) {
      this.appliedAt.set(e.index, { term: e.term, type: e.type, data: e.data.slice(), by: v.id });
    } else if (seen.term !== e.term || seen.type !== e.type || !sameBytes(seen.data, e.data)) {
      throw new RaftSafetyError('state machine safety', `${v.id} applied ${e.type} entry ${e.index}@${e.term} where ${seen.by} applied ${seen.type} entry @${seen.term}`);
    }
    const by = this.committedBy.get(e.index);
    if (by === undefined || term < by) this.committedBy.set(e.index, term);
  }

  /** Log Matching between every pair, and Leader Completeness for every leader. */
  checkLogs(views: readonly RaftView[]): void {
    this.checks++;
    const st = views.map((v) => v.status());
    for (let a = 0; a < views.length; a++) {
      for (let b = a + 1; b < views.length; b++) {
        const x = views[a]!;
        const y = views[b]!;
        const lo = Math.max(st[a]!.firstIndex, st[b]!.firstIndex);
        const hi = Math.min(st[a]!.lastIndex, st[b]!.lastIndex);
        let agree = -1;
        for (let i = hi; i >= lo; i--) {
          if (x.termAt(i) === y.termAt(i)) {
            agree = i;
            break;
          }
        }
        for (let i = agree; i >= lo; i--) {
          const ex = x.entryAt(i)!;
          const ey = y.entryAt(i)!;
          if (ex.term !== ey.term || ex.type !== ey.type || !sameBytes(ex.data, ey.data)) {
            throw new RaftSafetyError('log matching', `${x.id} and ${y.id} agree at ${agree} but differ at ${i} (${ex.term} vs ${ey.term})`);
          }
        }
      }
    }
    for (let k = 0; k < views.length; k++) {
      const s = st[k]!;
      if (s.role !== 'leader') continue;
      const v = views[k]!;
      for (const [i, rec] of this.appliedAt) {
        // Only an entry surely committed in an earlier term must be in this leader's log.
        if (this.committedBy.get(i)! >= s.term || i < s.firstIndex) continue;
        const t = v.termAt(i);
        if (t !== rec.term) throw new RaftSafetyError('leader completeness', `${v.id} leads term ${s.term} with ${t === undefined ? 'no entry' : `term ${t}`} at ${i}, committed as term ${rec.term}`);
      }
    }
  }
}
