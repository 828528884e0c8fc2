// The Raft consensus core (Ongaro & Ousterhout, "In Search of an Understandable
// Consensus Algorithm", and Ongaro's thesis for PreVote, CheckQuorum, ReadIndex,
// leadership transfer and single-server membership changes).
//
// It does no I/O and keeps no clock: a driver feeds it messages (`step`), time
// (`tick`) and requests (`propose`, `readIndex`, ...), then collects a `Ready` —
// what to persist, send and apply — and calls `advance()` when it has done that.
// Randomness comes only from the `random` function it is given, so a seeded source
// makes a whole cluster's run reproducible.
import type { NodeId } from '../env.js';
import type {
  RaftAppendEntries,
  RaftAppendEntriesReply,
  RaftHeartbeat,
  RaftHeartbeatReply,
  RaftInstallSnapshot,
  RaftInstallSnapshotReply,
  RaftMessage,
  RaftRequestVote,
  RaftRequestVoteReply,
} from '../protocol/raft.js';
import { emptySnapshot, RaftLog } from './log.js';
import { Progress, type ProgressState } from './progress.js';
import {
  RaftInvariantError,
  type ConfChange,
  type Entry,
  type EntryType,
  type HardState,
  type OutMessage,
  type ProposeResult,
  type RaftOptions,
  type ReadState,
  type Ready,
  type Role,
  type Snapshot,
  type SoftState,
} from './types.js';

const EMPTY = new Uint8Array(0);
const encoder = new TextEncoder();
const decoder = new TextDecoder();

export function encodeConfChange(c: ConfChange): Uint8Array {
  return encoder.encode(JSON.stringify({ type: c.type, node: c.node, voters: [...c.voters] }));
}

export function decodeConfChange(data: Uint8Array): ConfChange {
  const v = JSON.parse(decoder.decode(data)) as { type?: unknown; node?: unknown; voters?: unknown };
  if (
    (v.type !== 'add' && v.type !== 'remove') ||
    typeof v.node !== 'string' ||
    !Array.isArray(v.voters) ||
    !v.voters.every((x): x is string => typeof x === 'string')
  ) {
    throw new RaftInvariantError('malformed configuration change entry');
  }
  return { type: v.type, node: v.node, voters: v.voters };
}

export type ReadResult = { readonly ok: true } | { readonly ok: false; readonly reason: 'NOT_LEADER'; readonly lead: NodeId | null };

export interface ProgressStatus {
  readonly match: number;
  readonly next: number;
  readonly state: ProgressState;
  readonly recentActive: boolean;
}

export interface RaftStatus {
  readonly id: NodeId;
  readonly role: Role;
  readonly term: number;
  readonly vote: NodeId | null;
  readonly lead: NodeId | null;
  readonly commit: number;
  readonly applied: number;
  readonly firstIndex: number;
  readonly lastIndex: number;
  readonly voters: readonly NodeId[];
  readonly leadTransferee: NodeId | null;
  /** Only on a leader: each follower's replication state. */
  readonly progress: ReadonlyMap<NodeId, ProgressStatus>;
}

interface PendingRead {
  readonly ctx: string;
  readonly index: number;
  readonly round: number;
}

interface IncomingSnapshot {
  readonly index: number;
  readonly term: number;
  readonly voters: readonly NodeId[];
  readonly size: number;
  readonly chunks: Uint8Array[];
  received: number;
}

interface HandedOut {
  readonly lastIndex: number;
  readonly appliedTo: number;
  readonly snapshot: Snapshot | null;
}

export class RaftNode {
  readonly id: NodeId;
  private readonly electionTick: number;
  private readonly heartbeatTick: number;
  private readonly random: () => number;
  private readonly preVote: boolean;
  private readonly checkQuorum: boolean;
  private readonly leaseReads: boolean;
  private readonly maxEntries: number;
  private readonly maxBytes: number;
  private readonly maxInflight: number;
  private readonly chunkBytes: number;

  private term: number;
  private vote: NodeId | null;
  private lead: NodeId | null = null;
  private role: Role = 'follower';
  private readonly log: RaftLog;

  private voters: NodeId[];
  /** Configuration entries after the snapshot, in log order: the latest one rules, committed or not (thesis §4.1). */
  private confs: Array<{ index: number; voters: NodeId[] }> = [];

  private progress = new Map<NodeId, Progress>();
  private votes = new Map<NodeId, boolean>();
  private electionElapsed = 0;
  private heartbeatElapsed = 0;
  private randomizedTimeout = 0;
  private leadTransferee: NodeId | null = null;

  private msgs: OutMessage[] = [];
  private readStates: ReadState[] = [];
  private pendingReads: PendingRead[] = [];
  /** Reads that arrived before this leader committed an entry of its term (thesis §6.4). */
  private deferredReads: string[] = [];
  private readRound = 0;
  private readRoundNeeded = false;
  private bcastEntries = false;
  private bcastCommit = false;
  private incoming: IncomingSnapshot | null = null;

  private prevHard: HardState;
  private prevSoft: SoftState;
  private handedOut: HandedOut | null = null;

  constructor(opts: RaftOptions) {
    if (opts.electionTick <= opts.heartbeatTick) throw new RaftInvariantError('electionTick must exceed heartbeatTick');
    if (opts.readOnly === 'lease' && !opts.checkQuorum) throw new RaftInvariantError('lease reads need checkQuorum');
    this.id = opts.id;
    this.electionTick = opts.electionTick;
    this.heartbeatTick = opts.heartbeatTick;
    this.random = opts.random;
    this.preVote = opts.preVote ?? false;
    this.checkQuorum = opts.checkQuorum ?? false;
    this.leaseReads = opts.readOnly === 'lease';
    this.maxEntries = opts.maxEntriesPerAppend ?? 256;
    this.maxBytes = opts.maxBytesPerAppend ?? 1 << 20;
    this.maxInflight = opts.maxInflight ?? 64;
    this.chunkBytes = opts.snapshotChunkBytes ?? 1 << 20;

    const restore = opts.restore ?? {};
    const snapshot = restore.snapshot ?? emptySnapshot(opts.voters);
    const hs = restore.hardState ?? { term: 0, vote: null, commit: 0 };
    this.log = new RaftLog(snapshot, restore.entries ?? [], hs.commit, opts.applied ?? snapshot.meta.index);
    this.term = hs.term;
    this.vote = hs.vote;
    this.voters = [...snapshot.meta.voters].sort();
    this.rescanConfs(this.log.firstIndex());
    this.resetRandomizedTimeout();
    this.prevHard = this.hardState();
    this.prevSoft = { lead: null, role: 'follower' };
  }

  // ---- inputs ---------------------------------------------------------------------------

  /** Advances logical time by one tick: followers count towards an election, leaders towards a heartbeat. */
  tick(): void {
    if (this.role === 'leader') this.tickLeader();
    else this.tickElection();
  }

  /** Starts an election now, as if the election timeout had passed. */
  campaign(): void {
    if (this.role === 'leader') return;
    this.startCampaign(this.preVote ? 'pre' : 'real', false);
  }

  propose(data: Uint8Array): ProposeResult {
    return this.proposeEntry('normal', data);
  }

  /** Adds or removes one voter. The leader must have committed an entry of its term, and no other change may be pending. */
  proposeConfChange(change: { type: 'add' | 'remove'; node: NodeId }): ProposeResult {
    if (this.role !== 'leader') return { ok: false, reason: 'NOT_LEADER', lead: this.lead };
    if (this.log.term(this.log.committed) !== this.term) return { ok: false, reason: 'NOT_READY', lead: this.id };
    if (this.lastConfIndex() > this.log.committed) return { ok: false, reason: 'CONF_CHANGE_PENDING', lead: this.id };
    const has = this.voters.includes(change.node);
    if ((change.type === 'add') === has) return { ok: false, reason: 'INVALID_CONF_CHANGE', lead: this.id };
    const voters = change.type === 'add' ? [...this.voters, change.node].sort() : this.voters.filter((v) => v !== change.node);
    if (voters.length === 0) return { ok: false, reason: 'INVALID_CONF_CHANGE', lead: this.id };
    return this.proposeEntry('conf', encodeConfChange({ type: change.type, node: change.node, voters }));
  }

  /**
   * Asks for a linearizable read. Once this leader confirms it still leads, a
   * ReadState with `ctx` names the commit index the read must wait to be applied.
   */
  readIndex(ctx: string): ReadResult {
    if (this.role !== 'leader') return { ok: false, reason: 'NOT_LEADER', lead: this.lead };
    if (this.log.term(this.log.committed) !== this.term) this.deferredReads.push(ctx);
    else this.registerRead(ctx);
    return { ok: true };
  }

  /** Hands leadership to `to` once its log is caught up; proposals are refused meanwhile. */
  transferLeadership(to: NodeId): boolean {
    if (this.role !== 'leader' || to === this.id || !this.voters.includes(to)) return false;
    if (this.leadTransferee === to) return true;
    this.leadTransferee = to;
    // The transfer is abandoned after an election timeout (thesis §3.10), counted from here.
    this.electionElapsed = 0;
    const pr = this.progress.get(to)!;
    if (pr.match === this.log.lastIndex()) this.send(to, { t: 'RaftTimeoutNow', term: this.term });
    else this.sendAppends(to, false);
    return true;
  }

  /**
   * The state machine has captured its state through `index` (at most the applied
   * index) in `data`: the log before it is dropped, and followers that need it get
   * `data` as a snapshot. The driver persists the snapshot itself.
   */
  compact(index: number, data: Uint8Array): void {
    if (index <= this.log.snapshot.meta.index) return;
    if (index > this.log.applied) throw new RaftInvariantError(`compact at ${index} beyond applied ${this.log.applied}`);
    const meta = { index, term: this.log.term(index)!, voters: this.configAt(index) };
    this.log.compact({ meta, data });
    this.confs = this.confs.filter((c) => c.index > index);
  }

  step(from: NodeId, m: RaftMessage): void {
    if (from === this.id) return;
    if (m.term > this.term) {
      if (m.t === 'RaftRequestVote') {
        // Someone who hears from a live leader ignores campaigns, so a server that
        // was partitioned away (or removed) cannot depose it (thesis §4.2.3, §9.6).
        const inLease = this.lead !== null && this.electionElapsed < this.electionTick;
        if (inLease && !m.transfer && (this.checkQuorum || m.pre)) return;
        // A pre-vote never moves anyone's term: that is its whole point.
        if (!m.pre) this.becomeFollower(m.term, null);
      } else if (m.t === 'RaftRequestVoteReply' && m.pre && m.granted) {
        // Echoes the term we would campaign in, not a newer term.
      } else {
        const fromLeader = m.t === 'RaftAppendEntries' || m.t === 'RaftHeartbeat' || m.t === 'RaftInstallSnapshot';
        this.becomeFollower(m.term, fromLeader ? from : null);
      }
    } else if (m.term < this.term) {
      switch (m.t) {
        case 'RaftAppendEntries':
        case 'RaftHeartbeat':
        case 'RaftInstallSnapshot':
        case 'RaftTimeoutNow':
          // Tell a deposed leader the current term so it steps down.
          this.send(from, { t: 'RaftHeartbeatReply', term: this.term, round: 0 });
          break;
        case 'RaftRequestVote':
          this.send(from, { t: 'RaftRequestVoteReply', term: this.term, granted: false, pre: m.pre });
          break;
        default:
          break;
      }
      return;
    }

    if (m.t === 'RaftRequestVote') return this.handleVoteRequest(from, m);

    switch (this.role) {
      case 'leader':
        return this.stepLeader(from, m);
      case 'candidate':
      case 'precandidate':
        return this.stepCandidate(from, m);
      case 'follower':
        return this.stepFollower(from, m);
    }
  }

  // ---- output ---------------------------------------------------------------------------

  hasReady(): boolean {
    if (this.handedOut) return false;
    return (
      this.bcastEntries ||
      this.bcastCommit ||
      this.readRoundNeeded ||
      this.msgs.length > 0 ||
      this.readStates.length > 0 ||
      this.log.pendingSnapshot !== null ||
      this.log.stable < this.log.lastIndex() ||
      this.log.committed > this.log.applied ||
      !sameHard(this.prevHard, this.hardState()) ||
      this.prevSoft.lead !== this.lead ||
      this.prevSoft.role !== this.role
    );
  }

  /** Collects the work to do; the next `ready()` must wait for `advance()`. */
  ready(): Ready {
    if (this.handedOut) throw new RaftInvariantError('ready() called again before advance()');
    this.flush();
    const hs = this.hardState();
    const hardChanged = !sameHard(hs, this.prevHard);
    this.prevHard = hs;
    const softChanged = this.prevSoft.lead !== this.lead || this.prevSoft.role !== this.role;
    const soft: SoftState = { lead: this.lead, role: this.role };
    this.prevSoft = soft;
    const entries = this.log.unstable();
    const committedEntries = this.log.toApply();
    const snapshot = this.log.pendingSnapshot;
    const rd: Ready = {
      ...(softChanged ? { softState: soft } : {}),
      ...(hardChanged ? { hardState: hs } : {}),
      ...(snapshot ? { snapshot } : {}),
      entries,
      messages: this.msgs,
      committedEntries,
      readStates: this.readStates,
    };
    this.msgs = [];
    this.readStates = [];
    const last = entries.length > 0 ? entries[entries.length - 1]! : null;
    this.log.cutSinceReady = Infinity;
    this.handedOut = {
      lastIndex: last ? last.index : 0,
      appliedTo: committedEntries.length > 0 ? committedEntries[committedEntries.length - 1]!.index : 0,
      snapshot,
    };
    return rd;
  }

  /** The last Ready has been persisted, sent and applied. */
  advance(): void {
    const h = this.handedOut;
    if (!h) throw new RaftInvariantError('advance() without a ready()');
    this.handedOut = null;
    if (h.snapshot && this.log.pendingSnapshot === h.snapshot) this.log.pendingSnapshot = null;
    // Entries handed out may have been cut by a new leader meanwhile; their
    // replacements are still unstable and go out in the next Ready.
    const upTo = Math.min(h.lastIndex, this.log.cutSinceReady - 1, this.log.lastIndex());
    if (upTo > this.log.stable) {
      this.log.stable = upTo;
      // A leader counts itself only for what it has persisted, and its driver may
      // have sent the entries before persisting them: its own write can be the last
      // vote a quorum was waiting for.
      if (this.maybeCommit()) this.bcastCommit = true;
    }
    if (h.appliedTo > this.log.applied) this.log.applied = h.appliedTo;
  }

  // ---- introspection (drivers, tests, checkers) -----------------------------------------

  status(): RaftStatus {
    const progress = new Map<NodeId, ProgressStatus>();
    for (const [id, pr] of this.progress) {
      progress.set(id, { match: pr.match, next: pr.next, state: pr.state, recentActive: pr.recentActive });
    }
    return {
      id: this.id,
      role: this.role,
      term: this.term,
      vote: this.vote,
      lead: this.lead,
      commit: this.log.committed,
      applied: this.log.applied,
      firstIndex: this.log.firstIndex(),
      lastIndex: this.log.lastIndex(),
      voters: [...this.voters],
      leadTransferee: this.leadTransferee,
      progress,
    };
  }

  /** The term of the entry at `index`, undefined when compacted or absent. */
  termAt(index: number): number | undefined {
    return this.log.term(index);
  }

  entryAt(index: number): Entry | undefined {
    return this.log.entry(index);
  }

  snapshotMeta(): Snapshot['meta'] {
    return this.log.snapshot.meta;
  }

  // ---- roles ----------------------------------------------------------------------------

  private reset(term: number): void {
    if (term !== this.term) {
      this.term = term;
      this.vote = null;
    }
    this.lead = null;
    this.electionElapsed = 0;
    this.heartbeatElapsed = 0;
    this.resetRandomizedTimeout();
    this.leadTransferee = null;
    this.votes.clear();
    this.progress.clear();
    this.pendingReads = [];
    this.deferredReads = [];
    this.readRoundNeeded = false;
    this.bcastEntries = false;
    this.bcastCommit = false;
  }

  private becomeFollower(term: number, lead: NodeId | null): void {
    this.reset(term);
    this.role = 'follower';
    this.lead = lead;
  }

  private becomeLeader(): void {
    this.reset(this.term);
    this.role = 'leader';
    this.lead = this.id;
    this.syncProgress();
    // A leader cannot know which earlier entries are committed until it commits one
    // of its own term (§5.4.2), so it appends a no-op at once.
    this.log.append({ term: this.term, index: this.log.lastIndex() + 1, type: 'noop', data: EMPTY });
    this.bcastEntries = true;
    this.maybeCommit();
  }

  private startCampaign(kind: 'pre' | 'real', transfer: boolean): void {
    if (!this.promotable()) return;
    let voteTerm: number;
    if (kind === 'pre') {
      // Term, vote and leader stay as they were: a pre-candidate only asks.
      const term = this.term;
      this.reset(term);
      this.role = 'precandidate';
      voteTerm = term + 1;
    } else {
      this.reset(this.term + 1);
      this.role = 'candidate';
      this.vote = this.id;
      voteTerm = this.term;
    }
    this.votes.set(this.id, true);
    if (this.tally().won) {
      if (kind === 'pre') this.startCampaign('real', false);
      else this.becomeLeader();
      return;
    }
    const lastIndex = this.log.lastIndex();
    const lastTerm = this.log.lastTerm();
    for (const v of this.voters) {
      if (v === this.id) continue;
      this.send(v, { t: 'RaftRequestVote', term: voteTerm, lastIndex, lastTerm, pre: kind === 'pre', transfer });
    }
  }

  private tally(): { won: boolean; lost: boolean } {
    let granted = 0;
    let refused = 0;
    for (const v of this.voters) {
      const g = this.votes.get(v);
      if (g === true) granted++;
      else if (g === false) refused++;
    }
    const q = this.quorum();
    return { won: granted >= q, lost: this.voters.length - refused < q };
  }

  // ---- ticks ----------------------------------------------------------------------------

  private tickElection(): void {
    this.electionElapsed++;
    if (this.promotable() && this.electionElapsed >= this.randomizedTimeout) {
      this.electionElapsed = 0;
      this.startCampaign(this.preVote ? 'pre' : 'real', false);
    }
  }

  private tickLeader(): void {
    this.heartbeatElapsed++;
    this.electionElapsed++;
    if (this.electionElapsed >= this.electionTick) {
      this.electionElapsed = 0;
      if (this.checkQuorum) {
        if (!this.quorumActive()) {
          this.becomeFollower(this.term, null);
          return;
        }
        for (const pr of this.progress.values()) pr.recentActive = false;
      }
      this.leadTransferee = null;
    }
    if (this.heartbeatElapsed >= this.heartbeatTick) {
      this.heartbeatElapsed = 0;
      // Pipelined appends are not resent by themselves: a follower whose match has
      // not moved for a whole heartbeat interval probably lost one, so probe it again.
      const last = this.log.lastIndex();
      for (const pr of this.progress.values()) {
        if (pr.state === 'replicate' && pr.match < last && pr.match === pr.matchAtLastBeat) pr.becomeProbe();
        pr.matchAtLastBeat = pr.match;
      }
      this.broadcastHeartbeat();
    }
  }

  private resetRandomizedTimeout(): void {
    this.randomizedTimeout = this.electionTick + Math.floor(this.random() * this.electionTick);
  }

  // ---- votes ----------------------------------------------------------------------------

  private handleVoteRequest(from: NodeId, m: RaftRequestVote): void {
    const canVote =
      this.vote === from || (this.vote === null && this.lead === null) || (m.pre && m.term > this.term);
    if (canVote && this.log.isUpToDate(m.lastIndex, m.lastTerm)) {
      this.send(from, { t: 'RaftRequestVoteReply', term: m.term, granted: true, pre: m.pre });
      if (!m.pre) {
        this.vote = from;
        // Granting a vote restarts the timer, so the voter does not compete with the candidate it just backed.
        this.electionElapsed = 0;
      }
    } else {
      this.send(from, { t: 'RaftRequestVoteReply', term: this.term, granted: false, pre: m.pre });
    }
  }

  private stepCandidate(from: NodeId, m: RaftMessage): void {
    switch (m.t) {
      case 'RaftAppendEntries':
      case 'RaftHeartbeat':
      case 'RaftInstallSnapshot':
        this.becomeFollower(this.term, from);
        return this.stepFollower(from, m);
      case 'RaftRequestVoteReply':
        return this.handleVoteReply(from, m);
      default:
        return;
    }
  }

  private handleVoteReply(from: NodeId, m: RaftRequestVoteReply): void {
    const pre = this.role === 'precandidate';
    if (m.pre !== pre) return;
    if (pre && m.granted && m.term !== this.term + 1) return;
    this.votes.set(from, m.granted);
    const { won, lost } = this.tally();
    if (won) {
      if (pre) this.startCampaign('real', false);
      else this.becomeLeader();
    } else if (lost) {
      this.becomeFollower(this.term, null);
    }
  }

  // ---- follower -------------------------------------------------------------------------

  private stepFollower(from: NodeId, m: RaftMessage): void {
    switch (m.t) {
      case 'RaftAppendEntries':
        this.heardFromLeader(from);
        return this.handleAppend(from, m);
      case 'RaftHeartbeat':
        this.heardFromLeader(from);
        return this.handleHeartbeat(from, m);
      case 'RaftInstallSnapshot':
        this.heardFromLeader(from);
        return this.handleSnapshotChunk(from, m);
      case 'RaftTimeoutNow':
        // Leadership transfer: skip the pre-vote and the wait (thesis §3.10).
        return this.startCampaign('real', true);
      default:
        return;
    }
  }

  private heardFromLeader(from: NodeId): void {
    this.lead = from;
    this.electionElapsed = 0;
  }

  private handleAppend(from: NodeId, m: RaftAppendEntries): void {
    const log = this.log;
    if (m.prevIndex < log.committed) {
      // Everything up to our commit index matches the leader's log already.
      return this.send(from, { t: 'RaftAppendEntriesReply', term: this.term, success: true, index: log.committed, hintIndex: 0, hintTerm: 0 });
    }
    if (!log.matchTerm(m.prevIndex, m.prevTerm)) {
      // Any of our entries at or below prevIndex with a term above prevTerm cannot
      // match the leader's, whose terms there are at most prevTerm: skip them all.
      let hint = Math.min(m.prevIndex, log.lastIndex());
      while (hint > log.snapshot.meta.index && log.term(hint)! > m.prevTerm) hint--;
      return this.send(from, {
        t: 'RaftAppendEntriesReply',
        term: this.term,
        success: false,
        index: m.prevIndex,
        hintIndex: hint,
        hintTerm: log.term(hint) ?? 0,
      });
    }
    const oldLast = log.lastIndex();
    const cut = log.appendFromLeader(m.entries);
    const from_ = Math.min(cut ?? Infinity, oldLast + 1);
    if (from_ <= log.lastIndex() || cut !== null) this.rescanConfs(from_);
    const lastNew = m.prevIndex + m.entries.length;
    log.commitTo(Math.min(m.commit, lastNew));
    this.send(from, { t: 'RaftAppendEntriesReply', term: this.term, success: true, index: lastNew, hintIndex: 0, hintTerm: 0 });
  }

  private handleHeartbeat(from: NodeId, m: RaftHeartbeat): void {
    this.log.commitTo(Math.min(m.commit, this.log.lastIndex()));
    this.send(from, { t: 'RaftHeartbeatReply', term: this.term, round: m.round });
  }

  private handleSnapshotChunk(from: NodeId, m: RaftInstallSnapshot): void {
    const log = this.log;
    const reply = (index: number, nextOffset: number, done: boolean): void =>
      this.send(from, { t: 'RaftInstallSnapshotReply', term: this.term, index, nextOffset, done });
    if (m.index <= log.committed) {
      this.incoming = null;
      return reply(log.committed, m.size, true);
    }
    let inc = this.incoming;
    const same = inc !== null && inc.index === m.index && inc.term === m.snapTerm && inc.size === m.size;
    if (m.offset === 0) {
      inc = { index: m.index, term: m.snapTerm, voters: [...m.voters], size: m.size, chunks: [], received: 0 };
      this.incoming = inc;
    } else if (!same || inc!.received !== m.offset) {
      return reply(m.index, same ? inc!.received : 0, false);
    }
    inc = inc!;
    if (inc.received + m.data.length > inc.size) {
      this.incoming = null;
      return reply(m.index, 0, false);
    }
    inc.chunks.push(m.data.slice());
    inc.received += m.data.length;
    if (!m.done) return reply(m.index, inc.received, false);
    this.incoming = null;
    if (inc.received !== inc.size) return reply(m.index, 0, false);
    const data = new Uint8Array(inc.size);
    let off = 0;
    for (const c of inc.chunks) {
      data.set(c, off);
      off += c.length;
    }
    this.installSnapshot({ meta: { index: inc.index, term: inc.term, voters: inc.voters }, data });
    reply(log.committed, inc.size, true);
  }

  private installSnapshot(snap: Snapshot): void {
    const { index, term } = snap.meta;
    if (this.log.matchTerm(index, term)) {
      // We hold the snapshot's last entry, hence the whole prefix (Log Matching): keep the log.
      this.log.commitTo(index);
      return;
    }
    this.log.restore(snap);
    this.confs = [];
    this.voters = [...snap.meta.voters].sort();
  }

  // ---- leader ---------------------------------------------------------------------------

  private stepLeader(from: NodeId, m: RaftMessage): void {
    const pr = this.progress.get(from);
    if (!pr) return;
    switch (m.t) {
      case 'RaftAppendEntriesReply':
        pr.recentActive = true;
        return this.handleAppendReply(from, pr, m);
      case 'RaftHeartbeatReply':
        pr.recentActive = true;
        return this.handleHeartbeatReply(from, pr, m);
      case 'RaftInstallSnapshotReply':
        pr.recentActive = true;
        return this.handleSnapshotReply(from, pr, m);
      default:
        return;
    }
  }

  private handleAppendReply(from: NodeId, pr: Progress, m: RaftAppendEntriesReply): void {
    if (!m.success) {
      if (pr.state === 'snapshot') return;
      if (pr.state === 'replicate' && m.index <= pr.match) return;
      if (pr.state === 'probe' && m.index !== pr.next - 1) return;
      // Mirror of the follower's hint: our entries above the hint whose term exceeds
      // hintTerm cannot match the follower's either.
      let j = Math.min(m.hintIndex, this.log.lastIndex());
      while (j > this.log.snapshot.meta.index && this.log.term(j)! > m.hintTerm) j--;
      if (pr.state === 'replicate') pr.becomeProbe();
      pr.next = Math.max(pr.match + 1, Math.min(j + 1, m.index));
      pr.probeSent = false;
      this.sendAppends(from, false);
      return;
    }
    const updated = pr.maybeUpdate(m.index);
    if (pr.state === 'probe') pr.becomeReplicate();
    else if (pr.state === 'snapshot' && pr.match >= pr.snapIndex) {
      pr.becomeProbe();
      pr.becomeReplicate();
    }
    if (updated && this.maybeCommit()) this.bcastCommit = true;
    if (this.leadTransferee === from && pr.match === this.log.lastIndex()) {
      this.send(from, { t: 'RaftTimeoutNow', term: this.term });
    }
    this.sendAppends(from, false);
  }

  private handleHeartbeatReply(from: NodeId, pr: Progress, m: RaftHeartbeatReply): void {
    pr.probeSent = false;
    if (m.round > pr.ackedRound) pr.ackedRound = m.round;
    if (pr.match < this.log.lastIndex()) this.sendAppends(from, false);
    this.releaseReads();
  }

  private handleSnapshotReply(from: NodeId, pr: Progress, m: RaftInstallSnapshotReply): void {
    if (m.done) {
      pr.maybeUpdate(m.index);
      if (pr.state === 'snapshot') {
        pr.becomeProbe();
        pr.becomeReplicate();
      }
      if (this.maybeCommit()) this.bcastCommit = true;
      this.sendAppends(from, false);
      return;
    }
    if (pr.state !== 'snapshot' || m.index !== pr.snapIndex) return;
    if (pr.snapIndex !== this.log.snapshot.meta.index) {
      // Compacted again meanwhile: send the newer snapshot from its start.
      pr.becomeSnapshot(this.log.snapshot.meta.index);
      return this.sendSnapshotChunk(from, pr);
    }
    // A repeated answer is the echo of a duplicate chunk: resending on it would
    // multiply the chunks in flight.
    if (m.nextOffset === pr.snapOffset) return;
    pr.snapOffset = Math.min(m.nextOffset, this.log.snapshot.data.length);
    this.sendSnapshotChunk(from, pr);
  }

  private proposeEntry(type: EntryType, data: Uint8Array): ProposeResult {
    if (this.role !== 'leader') return { ok: false, reason: 'NOT_LEADER', lead: this.lead };
    if (this.leadTransferee !== null) return { ok: false, reason: 'TRANSFERRING', lead: this.id };
    const e: Entry = { term: this.term, index: this.log.lastIndex() + 1, type, data };
    this.log.append(e);
    if (type === 'conf') this.addConf(e.index, decodeConfChange(data).voters);
    this.bcastEntries = true;
    this.maybeCommit();
    return { ok: true, index: e.index, term: e.term };
  }

  /** Advances the commit index to what a quorum holds, counting only entries of this term (§5.4.2, Figure 8). */
  private maybeCommit(): boolean {
    if (this.role !== 'leader') return false;
    const matches = this.voters
      .map((v) => (v === this.id ? this.log.stable : (this.progress.get(v)?.match ?? 0)))
      .sort((a, b) => b - a);
    const n = matches[this.quorum() - 1]!;
    if (n <= this.log.committed || this.log.term(n) !== this.term) return false;
    const firstOfTerm = this.log.term(this.log.committed) !== this.term;
    this.log.commitTo(n);
    if (firstOfTerm) {
      const deferred = this.deferredReads;
      this.deferredReads = [];
      for (const ctx of deferred) this.registerRead(ctx);
    }
    if (this.progress.size >= this.voters.length && this.lastConfIndex() <= this.log.committed) this.syncProgress();
    // A leader that removed itself leads until that change commits, then steps aside (thesis §4.2.2).
    if (!this.voters.includes(this.id) && this.lastConfIndex() <= this.log.committed) {
      this.broadcastAppends(true);
      this.becomeFollower(this.term, null);
    }
    return true;
  }

  private quorumActive(): boolean {
    let active = 0;
    for (const v of this.voters) {
      if (v === this.id || this.progress.get(v)?.recentActive) active++;
    }
    return active >= this.quorum();
  }

  private registerRead(ctx: string): void {
    const onlyMe = this.voters.length === 1 && this.voters[0] === this.id;
    if (onlyMe || this.leaseReads) {
      this.readStates.push({ ctx, index: this.log.committed });
      return;
    }
    this.pendingReads.push({ ctx, index: this.log.committed, round: this.readRound + 1 });
    this.readRoundNeeded = true;
  }

  private releaseReads(): void {
    while (this.pendingReads.length > 0) {
      const r = this.pendingReads[0]!;
      let acks = 0;
      for (const v of this.voters) {
        if (v === this.id || (this.progress.get(v)?.ackedRound ?? 0) >= r.round) acks++;
      }
      if (acks < this.quorum()) return;
      this.pendingReads.shift();
      this.readStates.push({ ctx: r.ctx, index: r.index });
    }
  }

  /** Sends what was batched since the last Ready: one append per follower for many proposals. */
  private flush(): void {
    const leader = this.role === 'leader';
    if (leader && (this.bcastEntries || this.bcastCommit)) this.broadcastAppends(this.bcastCommit);
    this.bcastEntries = false;
    this.bcastCommit = false;
    if (this.readRoundNeeded) {
      this.readRoundNeeded = false;
      if (!leader) return;
      this.readRound++;
      this.heartbeatReadRound();
    }
  }

  /**
   * A read round needs the acks of a quorum, not of every follower: its heartbeat
   * goes to as few followers as make a quorum with this leader, those that
   * answered the latest rounds first (ties by id, so a run is reproducible). The
   * others still hear every periodic heartbeat, and a round that finds no quorum
   * in time is sent to all (widenReadRound). Under a read-heavy load this spares a
   * follower a wake-up, and the leader a send and a receive, per round.
   */
  private heartbeatReadRound(): void {
    const followers = this.voters.filter((v) => v !== this.id && this.progress.has(v));
    const need = this.quorum() - 1;
    if (followers.length <= need) {
      this.broadcastHeartbeat();
      return;
    }
    const acked = (v: NodeId): number => this.progress.get(v)!.ackedRound;
    followers.sort((a, b) => acked(b) - acked(a) || (a < b ? -1 : 1));
    for (const id of followers.slice(0, need)) this.heartbeat(id, this.progress.get(id)!);
  }

  /** Sends the latest read round to every follower: the ones it went to did not answer in time. */
  widenReadRound(): void {
    if (this.role !== 'leader' || this.pendingReads.length === 0) return;
    this.broadcastHeartbeat();
  }

  private broadcastAppends(allowEmpty: boolean): void {
    for (const id of this.progress.keys()) this.sendAppends(id, allowEmpty);
  }

  private broadcastHeartbeat(): void {
    for (const [id, pr] of this.progress) {
      if (pr.state === 'snapshot') this.sendSnapshotChunk(id, pr);
      this.heartbeat(id, pr);
    }
  }

  private heartbeat(id: NodeId, pr: Progress): void {
    this.send(id, { t: 'RaftHeartbeat', term: this.term, commit: Math.min(pr.match, this.log.committed), round: this.readRound });
  }

  /** Sends appends to `to` until it is caught up or its window is full. */
  private sendAppends(to: NodeId, allowEmpty: boolean): void {
    const pr = this.progress.get(to);
    if (!pr) return;
    let first = true;
    while (!pr.isPaused(this.maxInflight)) {
      const prevIndex = pr.next - 1;
      const prevTerm = this.log.term(prevIndex);
      if (prevTerm === undefined) {
        if (prevIndex < this.log.snapshot.meta.index) {
          pr.becomeSnapshot(this.log.snapshot.meta.index);
          this.sendSnapshotChunk(to, pr);
        }
        return;
      }
      const entries = pr.next <= this.log.lastIndex() ? this.log.slice(pr.next, this.log.lastIndex(), this.maxEntries, this.maxBytes) : [];
      if (entries.length === 0 && !(first && (allowEmpty || pr.state === 'probe'))) return;
      first = false;
      this.send(to, { t: 'RaftAppendEntries', term: this.term, prevIndex, prevTerm, entries, commit: this.log.committed });
      pr.sent(entries.length > 0 ? entries[entries.length - 1]!.index : undefined);
      if (entries.length === 0) return;
    }
  }

  private sendSnapshotChunk(to: NodeId, pr: Progress): void {
    const snap = this.log.snapshot;
    // Compacted again since this follower's install began: the chunks sent from now
    // on are of the newer snapshot, so the progress must name it, or the follower's
    // answers (which name the newer one) would all be ignored as stale.
    if (pr.snapIndex !== snap.meta.index) pr.becomeSnapshot(snap.meta.index);
    const off = pr.snapOffset;
    const data = snap.data.subarray(off, off + this.chunkBytes);
    this.send(to, {
      t: 'RaftInstallSnapshot',
      term: this.term,
      index: snap.meta.index,
      snapTerm: snap.meta.term,
      voters: [...snap.meta.voters],
      size: snap.data.length,
      offset: off,
      data,
      done: off + data.length >= snap.data.length,
    });
  }

  // ---- configuration --------------------------------------------------------------------

  private quorum(): number {
    return Math.floor(this.voters.length / 2) + 1;
  }

  private promotable(): boolean {
    if (this.voters.includes(this.id)) return true;
    // A server removed by a change that is not committed yet may be the only one
    // holding that change (so no one else can win a vote); it keeps campaigning,
    // without counting its own vote, until the change commits (thesis §4.2.2).
    const n = this.confs.length;
    if (n === 0 || this.lastConfIndex() <= this.log.committed) return false;
    const previous = n > 1 ? this.confs[n - 2]!.voters : this.log.snapshot.meta.voters;
    return previous.includes(this.id);
  }

  private lastConfIndex(): number {
    return this.confs.length > 0 ? this.confs[this.confs.length - 1]!.index : this.log.snapshot.meta.index;
  }

  private configAt(index: number): NodeId[] {
    let voters = [...this.log.snapshot.meta.voters];
    for (const c of this.confs) if (c.index <= index) voters = c.voters;
    return [...voters];
  }

  private addConf(index: number, voters: readonly NodeId[]): void {
    this.confs.push({ index, voters: [...voters].sort() });
    this.applyConf();
  }

  /** Rebuilds the configuration after the log changed from `from` on (an append or a cut). */
  private rescanConfs(from: number): void {
    this.confs = this.confs.filter((c) => c.index < from);
    for (let i = Math.max(from, this.log.firstIndex()); i <= this.log.lastIndex(); i++) {
      const e = this.log.entry(i)!;
      if (e.type === 'conf') this.confs.push({ index: i, voters: [...decodeConfChange(e.data).voters].sort() });
    }
    this.applyConf();
  }

  private applyConf(): void {
    this.voters = this.confs.length > 0 ? [...this.confs[this.confs.length - 1]!.voters] : [...this.log.snapshot.meta.voters].sort();
    if (this.role === 'leader') {
      this.syncProgress();
      // A removed voter may have been the one holding commit back.
      if (this.maybeCommit()) this.bcastCommit = true;
    }
  }

  private syncProgress(): void {
    for (const v of this.voters) {
      if (v !== this.id && !this.progress.has(v)) this.progress.set(v, new Progress(this.log.lastIndex() + 1));
    }
    // A removed server keeps getting entries until its removal commits, so it
    // learns it is out and stops campaigning; it no longer counts in any quorum.
    if (this.lastConfIndex() <= this.log.committed) {
      for (const id of [...this.progress.keys()]) if (!this.voters.includes(id)) this.progress.delete(id);
    }
    if (this.leadTransferee !== null && !this.voters.includes(this.leadTransferee)) this.leadTransferee = null;
  }

  private hardState(): HardState {
    return { term: this.term, vote: this.vote, commit: this.log.committed };
  }

  private send(to: NodeId, m: RaftMessage): void {
    this.msgs.push({ to, m });
  }
}

function sameHard(a: HardState, b: HardState): boolean {
  return a.term === b.term && a.vote === b.vote && a.commit === b.commit;
}
